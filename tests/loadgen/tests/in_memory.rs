//! The load generator's client ([`Conn`]) against a PPTP server built from the same crates,
//! in memory on a virtual clock: the server answers Start-Control-Connection-Request and
//! Outgoing-Call-Request as a PAC (RFC 2637 §3.1.2, §3.2.4.1), runs enhanced GRE (§4) and a PPP
//! engine per call that authenticates with MS-CHAPv2, requires MPPE-128, assigns an address
//! from a pool and answers ICMP echo requests (the LAN).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dialgate_loadgen::client::{Conn, ConnEvent, Failure, Settings, Stage};
use dialgate_loadgen::server::{self, RangePool, ServerConn, ServerEvent, ServerSettings};
use dialgate_ppp::Config;
use dialgate_ppp::auth::LocalUsers;
use dialgate_ppp::config::RandomSource;
use dialgate_ppp::ncp::{IpcpClientConfig, IpcpServerConfig, MppeKeyLength};
use dialgate_pptp::control::ControlConfig;
use dialgate_pptp::gre::GreConfig;
use dialgate_wire::gre;

const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 1);
const LAN_HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 50, 9);

fn random(seed: u64) -> RandomSource {
    let state = Mutex::new(seed);
    Arc::new(move |buf: &mut [u8]| {
        let mut s = state.lock().unwrap();
        for b in buf.iter_mut() {
            *b = (dialgate_loadgen::client::splitmix(&mut s) >> 56) as u8;
        }
    })
}

fn pool(n: u8) -> Arc<RangePool> {
    Arc::new(RangePool::new(
        Ipv4Addr::new(192, 168, 50, 100),
        u32::from(n),
    ))
}

/// How the test server misbehaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Quirk {
    #[default]
    None,
    RefuseStart,
    RefuseCalls,
    Silent,
    Mppe40Only,
    NoEchoReplies,
}

struct Server {
    conn: ServerConn,
    quirk: Quirk,
    claimed: HashSet<u16>,
    calls_up: usize,
    cleared: usize,
    stopped: bool,
}

impl Server {
    fn new(quirk: Quirk, pool: Arc<RangePool>, now: Instant) -> Self {
        let mut users = LocalUsers::new();
        users.add_password("load1", "secret").unwrap();
        users.add_password("load2", "secret").unwrap();
        let mut ppp = Config::default()
            .with_authenticator(Arc::new(users), "server")
            .with_random(random(7))
            .with_ipcp_server(
                IpcpServerConfig {
                    local: SERVER_ADDR,
                    dns: [None, None],
                    nbns: [None, None],
                },
                pool,
            );
        if quirk == Quirk::Mppe40Only {
            ppp.allow_weak_mppe_40 = true;
            ppp.mppe_key_lengths = Some(vec![MppeKeyLength::Bits40]);
        }
        let settings = ServerSettings {
            ppp,
            control: ControlConfig::default(),
            gre: GreConfig::default(),
            quirk: match quirk {
                Quirk::RefuseStart => server::Quirk::RefuseStart,
                Quirk::RefuseCalls => server::Quirk::RefuseCalls,
                Quirk::NoEchoReplies => server::Quirk::NoEchoReplies,
                _ => server::Quirk::None,
            },
        };
        Self {
            conn: ServerConn::new(Arc::new(settings), 3, now),
            quirk,
            claimed: HashSet::new(),
            calls_up: 0,
            cleared: 0,
            stopped: false,
        }
    }

    fn events(&mut self, now: Instant) {
        if self.conn.wants_accept() {
            let claimed = &mut self.claimed;
            self.conn.accept_calls(now, |id| claimed.insert(id));
        }
        while let Some(id) = self.conn.poll_released() {
            self.claimed.remove(&id);
        }
        while let Some(e) = self.conn.poll_event() {
            match e {
                ServerEvent::CallUp => self.calls_up += 1,
                ServerEvent::CallDown => self.cleared += 1,
                ServerEvent::Stopped => self.stopped = true,
            }
        }
    }

    /// A GRE packet from the client.
    fn gre_in(&mut self, now: Instant, packet: &mut [u8]) {
        let p = gre::Packet::new_checked(&packet[..]).unwrap();
        let (key, seq, ack, hl, pl) = (
            p.call_id(),
            p.sequence(),
            p.ack(),
            p.header_len(),
            usize::from(p.payload_len()),
        );
        self.conn
            .handle_gre(now, key, seq, ack, &mut packet[hl..hl + pl]);
    }

    fn flush(&mut self, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 4096];
        while let Some(range) = self.conn.poll_gre_transmit(now, &mut buf) {
            out.push(buf[range].to_vec());
        }
        out
    }
}

fn settings(calls: u16, password: &str) -> Settings {
    let ppp = Config::default()
        .with_random(random(99))
        .with_ipcp_client(IpcpClientConfig::default());
    Settings {
        calls_per_connection: calls,
        user: "load{n}".into(),
        password: password.into(),
        user_count: 2,
        ppp,
        control: ControlConfig {
            setup_timeout: Duration::from_secs(20),
            reply_timeout: Duration::from_secs(20),
            ..ControlConfig::default()
        },
        gre: GreConfig::default(),
        pings: 3,
        ping_target: Some(LAN_HOST),
        setup_timeout: Duration::from_secs(20),
        hold: Some(Duration::from_secs(5)),
        close_timeout: Duration::from_secs(3),
    }
}

/// The client and server joined by an in-memory TCP stream and GRE path.
struct Lab {
    client: Conn,
    server: Server,
    now: Instant,
    start: Instant,
    events: Vec<(Duration, ConnEvent)>,
    claimed: HashSet<u16>,
    /// Call IDs `claim` refuses once (another connection "has" them).
    taken: HashSet<u16>,
    gre_packets: usize,
    /// Deliver the server's GRE before its TCP bytes (the two travel on different sockets).
    gre_first: bool,
}

impl Lab {
    fn new(settings: Settings, quirk: Quirk, pool: Arc<RangePool>) -> Self {
        let now = Instant::now();
        let mut client = Conn::new(Arc::new(settings), 0, 42, now);
        client.connected(now);
        Self {
            client,
            server: Server::new(quirk, pool, now),
            now,
            start: now,
            events: Vec::new(),
            claimed: HashSet::new(),
            taken: HashSet::new(),
            gre_packets: 0,
            gre_first: false,
        }
    }

    /// Move everything that can move at `now`; true if anything did.
    fn shuttle(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        if self.client.wants_calls() {
            let (claimed, taken) = (&mut self.claimed, &mut self.taken);
            self.client.place_calls(now, |id| {
                if taken.remove(&id) {
                    return false;
                }
                claimed.insert(id)
            });
            moved = true;
        }
        while let Some(id) = self.client.poll_released() {
            assert!(
                self.claimed.remove(&id),
                "released {id} that was not claimed"
            );
        }
        let mut tcp = Vec::new();
        if self.client.poll_tcp_transmit(&mut tcp) && self.server.quirk != Quirk::Silent {
            self.server.conn.handle_tcp(now, &tcp);
            moved = true;
        }
        self.server.events(now);
        let mut tcp = Vec::new();
        if self.server.conn.poll_tcp_transmit(&mut tcp) {
            if self.gre_first {
                for packet in self.server.flush(now) {
                    self.deliver_to_client(now, packet);
                }
            }
            self.client.handle_tcp(now, &tcp);
            moved = true;
        }
        let mut buf = vec![0u8; 4096];
        let mut to_client = Vec::new();
        while let Some(range) = self.client.poll_gre_transmit(now, &mut buf) {
            self.gre_packets += 1;
            let mut packet = buf[range].to_vec();
            self.server.gre_in(now, &mut packet);
            moved = true;
        }
        to_client.extend(self.server.flush(now));
        for packet in to_client {
            self.deliver_to_client(now, packet);
            moved = true;
        }
        while let Some(e) = self.client.poll_event() {
            self.events.push((now - self.start, e));
        }
        moved
    }

    fn deliver_to_client(&mut self, now: Instant, mut packet: Vec<u8>) {
        let p = gre::Packet::new_checked(&packet[..]).unwrap();
        let (key, seq, ack, hl, pl) = (
            p.call_id(),
            p.sequence(),
            p.ack(),
            p.header_len(),
            usize::from(p.payload_len()),
        );
        self.client
            .handle_gre(now, key, seq, ack, &mut packet[hl..hl + pl]);
    }

    /// Run until `done` or the virtual clock passes `limit`.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Lab) -> bool) -> bool {
        loop {
            while self.shuttle() {}
            if done(self) {
                return true;
            }
            let next = [self.client.poll_timeout(), self.server.conn.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else {
                return false;
            };
            if next - self.start > limit {
                return false;
            }
            self.now = self.now.max(next);
            self.client.handle_timeout(self.now);
            self.server.conn.handle_timeout(self.now);
        }
    }

    fn ups(&self) -> usize {
        self.count(|e| matches!(e, ConnEvent::SessionUp { .. }))
    }

    fn count(&self, f: impl Fn(&ConnEvent) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| f(e)).count()
    }

    fn failures(&self) -> Vec<Failure> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                ConnEvent::SessionFailed { failure, .. } => Some(*failure),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn rfc2637_one_call_sets_up_mschapv2_mppe_ipcp_passes_echo_holds_and_closes() {
    let mut lab = Lab::new(settings(1, "secret"), Quirk::None, pool(4));
    assert!(
        lab.run_until(Duration::from_secs(30), |l| l.ups() == 1),
        "{:?}",
        lab.events
    );
    // Everything happens without a retransmission: the setup takes no virtual time beyond
    // the GRE acknowledgment delay.
    let (at, _) = lab
        .events
        .iter()
        .find(|(_, e)| matches!(e, ConnEvent::SessionUp { .. }))
        .unwrap();
    assert!(*at < Duration::from_secs(1), "setup took {at:?}");
    assert_eq!(lab.count(|e| *e == ConnEvent::ControlUp), 1);
    assert_eq!(lab.count(|e| *e == ConnEvent::EchoSent), 3);
    assert_eq!(lab.count(|e| *e == ConnEvent::EchoAnswered), 3);
    assert_eq!(lab.server.conn.calls(), 1);
    let id = *lab.server.claimed.iter().next().unwrap();
    let engine = lab.server.conn.engine(id).unwrap();
    assert!(engine.mppe().is_some(), "MPPE is on at the server");
    assert_eq!(engine.counters().rx_datagrams, 3);
    // The hold time ends the session politely: LCP Terminate, Call-Clear-Request,
    // Stop-Control-Connection-Request.
    assert!(lab.run_until(Duration::from_secs(30), |l| l.client.is_done()));
    assert!(lab.events.iter().any(|(at, e)| *e
        == ConnEvent::SessionDown {
            index: 0,
            lost: None
        }
        && *at >= Duration::from_secs(5)));
    assert_eq!(lab.server.cleared, 1, "the server saw the call cleared");
    assert!(lab.server.stopped, "and the control connection stopped");
    assert!(lab.claimed.is_empty(), "every Call ID released");
    assert!(lab.server.claimed.is_empty(), "at both ends");
    assert!(lab.failures().is_empty());
}

#[test]
fn gre_before_the_outgoing_call_reply_is_kept_not_lost() {
    // The server sends its first LCP Configure-Request right behind the Outgoing-Call-Reply;
    // the GRE socket may hand it over before the TCP socket has the reply.
    for calls in [1, 3] {
        let mut lab = Lab::new(settings(calls, "secret"), Quirk::None, pool(4));
        lab.gre_first = true;
        assert!(lab.run_until(Duration::from_secs(30), |l| l.ups() == usize::from(calls)));
        let last_up = lab
            .events
            .iter()
            .filter(|(_, e)| matches!(e, ConnEvent::SessionUp { .. }))
            .map(|(at, _)| *at)
            .max()
            .unwrap();
        assert!(
            last_up < Duration::from_secs(1),
            "no LCP retransmission was needed: {last_up:?}"
        );
    }
}

#[test]
fn rfc2637_many_calls_on_one_control_connection() {
    let mut lab = Lab::new(settings(6, "secret"), Quirk::None, pool(8));
    assert!(
        lab.run_until(Duration::from_secs(30), |l| l.ups() == 6),
        "{:?}",
        lab.events
    );
    assert_eq!(lab.count(|e| *e == ConnEvent::ControlUp), 1);
    assert_eq!(lab.count(|e| *e == ConnEvent::EchoAnswered), 18);
    let indexes: HashSet<u64> = lab
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            ConnEvent::SessionUp { index, .. } => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(indexes, (0..6).collect());
    assert_eq!(lab.claimed.len(), 6);
    assert!(lab.run_until(Duration::from_secs(30), |l| l.client.is_done()));
    assert_eq!((lab.server.calls_up, lab.server.cleared), (6, 6));
    assert!(lab.claimed.is_empty());
}

#[test]
fn a_call_id_taken_on_the_same_source_is_cleared_and_replaced() {
    let mut lab = Lab::new(settings(1, "secret"), Quirk::None, pool(4));
    // Find out which Call ID the connection will pick first: place once in a scratch lab.
    let mut probe = Lab::new(settings(1, "secret"), Quirk::None, pool(4));
    probe.run_until(Duration::from_secs(5), |l| !l.claimed.is_empty());
    let first = *probe.claimed.iter().next().unwrap();
    lab.taken.insert(first);
    assert!(
        lab.run_until(Duration::from_secs(30), |l| l.ups() == 1),
        "{:?}",
        lab.events
    );
    assert_eq!(lab.count(|e| *e == ConnEvent::CallIdCollision), 1);
    assert!(!lab.claimed.contains(&first));
    assert!(lab.run_until(Duration::from_secs(30), |l| l.client.is_done()));
    assert!(lab.claimed.is_empty());
}

#[test]
fn rfc2759_wrong_password_is_auth_failed() {
    let mut lab = Lab::new(settings(1, "wrong"), Quirk::None, pool(4));
    assert!(lab.run_until(Duration::from_secs(60), |l| l.client.is_done()));
    assert_eq!(lab.failures(), [Failure::AuthFailed]);
    assert_eq!(lab.ups(), 0);
    assert!(lab.claimed.is_empty());
}

#[test]
fn rfc2637_2_2_refused_start_is_control_rejected() {
    let mut lab = Lab::new(settings(2, "secret"), Quirk::RefuseStart, pool(4));
    assert!(lab.run_until(Duration::from_secs(60), |l| l.client.is_done()));
    assert_eq!(
        lab.failures(),
        [Failure::ControlRejected, Failure::ControlRejected]
    );
}

#[test]
fn rfc2637_2_8_busy_is_call_rejected() {
    let mut lab = Lab::new(settings(1, "secret"), Quirk::RefuseCalls, pool(4));
    assert!(lab.run_until(Duration::from_secs(60), |l| l.client.is_done()));
    assert_eq!(lab.failures(), [Failure::CallRejected]);
    assert!(lab.claimed.is_empty());
}

#[test]
fn a_silent_server_times_out_in_the_control_stage() {
    let mut lab = Lab::new(settings(1, "secret"), Quirk::Silent, pool(4));
    assert!(lab.run_until(Duration::from_secs(60), |l| l.client.is_done()));
    assert_eq!(lab.failures(), [Failure::Timeout(Stage::Control)]);
}

#[test]
fn rfc3078_mppe_128_refused_is_ccp_failed() {
    let mut lab = Lab::new(settings(1, "secret"), Quirk::Mppe40Only, pool(4));
    assert!(lab.run_until(Duration::from_secs(60), |l| l.client.is_done()));
    assert_eq!(lab.failures(), [Failure::CcpFailed]);
}

#[test]
fn rfc1332_empty_pool_is_ipcp_failed() {
    // The engines give up on IPCP after their Configure retries (about 30 s).
    let mut s = settings(1, "secret");
    s.setup_timeout = Duration::from_secs(120);
    let mut lab = Lab::new(s, Quirk::None, pool(0));
    assert!(lab.run_until(Duration::from_secs(120), |l| l.client.is_done()));
    assert_eq!(lab.failures(), [Failure::IpcpFailed]);
}

#[test]
fn unanswered_echoes_are_traffic_failed() {
    let mut lab = Lab::new(settings(1, "secret"), Quirk::NoEchoReplies, pool(4));
    assert!(lab.run_until(Duration::from_secs(60), |l| l.client.is_done()));
    assert_eq!(lab.failures(), [Failure::TrafficFailed]);
    assert_eq!(lab.count(|e| *e == ConnEvent::EchoSent), 3);
    assert_eq!(lab.count(|e| *e == ConnEvent::EchoAnswered), 0);
    assert_eq!(
        lab.server.cleared, 1,
        "the failed session's call was cleared"
    );
}

#[test]
fn shutdown_closes_sessions_up_and_aborts_those_setting_up() {
    let mut s = settings(2, "secret");
    s.hold = None;
    let mut lab = Lab::new(s, Quirk::None, pool(4));
    assert!(lab.run_until(Duration::from_secs(30), |l| l.ups() == 2));
    // Nothing ends a session without a hold time.
    assert!(!lab.run_until(Duration::from_secs(100), |l| l.client.is_done()));
    lab.client.shutdown(lab.now);
    assert!(lab.run_until(Duration::from_secs(200), |l| l.client.is_done()));
    assert_eq!(
        lab.count(|e| matches!(e, ConnEvent::SessionDown { lost: None, .. })),
        2
    );
    assert!(lab.server.stopped);

    // Shut down in the middle of the setup: those sessions are aborted.
    let mut lab = Lab::new(settings(1, "secret"), Quirk::Silent, pool(4));
    lab.run_until(Duration::from_secs(1), |_| false);
    lab.client.shutdown(lab.now);
    assert!(lab.run_until(Duration::from_secs(10), |l| l.client.is_done()));
    assert_eq!(lab.failures(), [Failure::Aborted]);
}

#[test]
fn user_names_follow_the_pattern() {
    let mut s = settings(1, "x");
    assert_eq!(s.user_name(0), "load1");
    assert_eq!(s.user_name(3), "load2");
    s.user_count = 0;
    assert_eq!(s.user_name(41), "load42");
    s.user = "fixed".into();
    assert_eq!(s.user_name(41), "fixed");
}
