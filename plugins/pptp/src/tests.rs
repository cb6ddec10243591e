//! The plugin driven in-process on a fake host: Call ID clashes between control connections
//! from one address, and GRE classification between two pptp instances (links) of one
//! process.
//!
//! The registry of calls is process-wide and tests run in parallel, so every test uses
//! peer addresses of its own (198.18.0.0/15, RFC 2544).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use dialgate_plugin_host::{HostServices, host_box};
use dialgate_plugin_sdk::{
    HandleId, HostError, HostHandle, IpAddress, LinkId, LinkInfo, LogLevel, Plugin, SocketAddress,
    Timestamp,
};
use dialgate_pptp::control::{
    CallDownReason, ControlConfig, ControlConnection, Event, OutgoingCallParams, Role,
};
use dialgate_wire::gre as gre_wire;
use dialgate_wire::pptp::{GeneralError, OutgoingCallResult};

use super::Pptp;
use super::registry::Registry;

/// What the fake host saw: bytes written per handle, frames delivered per link.
#[derive(Default)]
struct Seen {
    next_handle: AtomicU64,
    written: Mutex<HashMap<HandleId, Vec<u8>>>,
    delivered: Mutex<HashMap<LinkId, usize>>,
}

struct FakeHost(Arc<Seen>);

impl HostServices for FakeHost {
    fn now(&self) -> Timestamp {
        Timestamp::ZERO
    }
    fn log(&self, _level: LogLevel, _message: &str) {}
    fn tcp_listen(&self, _addr: SocketAddress) -> Result<HandleId, HostError> {
        Ok(HandleId(self.0.next_handle.fetch_add(1, Ordering::Relaxed)))
    }
    fn open_raw_ip(&self, _protocol: u8, _bind: Option<IpAddress>) -> Result<HandleId, HostError> {
        Ok(HandleId(self.0.next_handle.fetch_add(1, Ordering::Relaxed)))
    }
    fn write(&self, handle: HandleId, bytes: &[u8]) -> Result<(), HostError> {
        let mut w = self.0.written.lock().unwrap();
        w.entry(handle).or_default().extend_from_slice(bytes);
        Ok(())
    }
    fn send_to(&self, _handle: HandleId, _dst: IpAddress, _bytes: &[u8]) -> Result<(), HostError> {
        Ok(())
    }
    fn link_up(&self, _link: LinkId, _info: LinkInfo<'_>) -> Result<(), HostError> {
        Ok(())
    }
    fn deliver_frame(&self, link: LinkId, _frame: &[u8]) -> Result<(), HostError> {
        *self.0.delivered.lock().unwrap().entry(link).or_default() += 1;
        Ok(())
    }
}

/// One answering pptp instance on a fake host.
struct Server {
    plugin: Pptp,
    seen: Arc<Seen>,
    next_conn: u64,
}

/// The seed every control connection of these tests starts from: equal seeds choose equal
/// Call IDs, which is how a clash is made on purpose.
const SEED: u64 = 0x5eed;

impl Server {
    fn new() -> Self {
        let seen = Arc::new(Seen {
            next_handle: AtomicU64::new(1),
            ..Seen::default()
        });
        let host = HostHandle::new(host_box(FakeHost(seen.clone())));
        let mut plugin = Pptp::new("listen = [\"192.0.2.1:1723\"]", host).unwrap();
        plugin.start(Timestamp::ZERO).unwrap();
        Server {
            plugin,
            seen,
            next_conn: 1000,
        }
    }

    /// A control connection from `peer` whose Call IDs start where [`SEED`] puts them, with
    /// its client end established.
    fn connect(&mut self, peer: SocketAddrV4) -> Client {
        self.next_conn += 1;
        let handle = HandleId(self.next_conn);
        let peer = SocketAddr::V4(peer);
        self.plugin
            .on_tcp_accepted(Timestamp::ZERO, HandleId(0), handle, peer.into())
            .unwrap();
        let now = self.plugin.clock.instant(Timestamp::ZERO);
        let config = self.plugin.control_config(peer, SEED);
        let conn = self.plugin.conns.get_mut(&handle).unwrap();
        // Not started yet (it waits for the peer's Start-Control-Connection-Request): a
        // fresh connection with a known seed is the same connection.
        conn.cc = Some(ControlConnection::new(Role::Responder, config, now));
        let mut client = Client {
            handle,
            cc: ControlConnection::new(
                Role::Initiator,
                ControlConfig {
                    seed: self.next_conn,
                    ..ControlConfig::default()
                },
                Instant::now(),
            ),
            events: Vec::new(),
        };
        self.pump(&mut client);
        client
    }

    /// Moves bytes between the plugin and `client` until both are quiet.
    fn pump(&mut self, client: &mut Client) {
        for _ in 0..100 {
            let mut moved = false;
            let mut buf = Vec::new();
            if client.cc.poll_transmit(&mut buf) {
                self.plugin
                    .on_data(Timestamp::ZERO, client.handle, &buf)
                    .unwrap();
                moved = true;
            }
            let out = self
                .seen
                .written
                .lock()
                .unwrap()
                .remove(&client.handle)
                .unwrap_or_default();
            if !out.is_empty() {
                client.cc.handle_bytes(Instant::now(), &out);
                moved = true;
            }
            while let Some(e) = client.cc.poll_event() {
                client.events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("never quiet");
    }

    /// The client asks for a call (Outgoing-Call-Request): `Ok(our Call ID)` from the
    /// Outgoing-Call-Reply, or `Err` with the reply's error code.
    fn call(&mut self, client: &mut Client) -> Result<u16, GeneralError> {
        client.events.clear();
        client
            .cc
            .place_outgoing_call(Instant::now(), &OutgoingCallParams::default())
            .unwrap();
        self.pump(client);
        for e in &client.events {
            match e {
                Event::CallUp(info) => return Ok(info.peer_call_id),
                Event::CallDown {
                    reason:
                        CallDownReason::OutgoingRefused {
                            result: OutgoingCallResult::GeneralError,
                            error,
                            ..
                        },
                    ..
                } => return Err(*error),
                _ => {}
            }
        }
        panic!("no answer to the call: {:?}", client.events);
    }
}

struct Client {
    handle: HandleId,
    cc: ControlConnection,
    events: Vec<Event>,
}

/// An IPv4 datagram from `src` carrying a GRE data packet for `call`.
fn gre_from(src: Ipv4Addr, call: u16) -> Vec<u8> {
    let frame = [0xFF, 0x03, 0xC0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0];
    let repr = gre_wire::Repr::data(call, 1, None, &frame);
    let mut gre = vec![0; repr.buffer_len()];
    repr.emit(&mut gre).unwrap();
    let total = u16::try_from(20 + gre.len()).unwrap();
    let mut d = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 47, 0, 0];
    d[2..4].copy_from_slice(&total.to_be_bytes());
    d.extend_from_slice(&src.octets());
    d.extend_from_slice(&[192, 0, 2, 1]);
    d.extend_from_slice(&gre);
    d
}

fn peer(addr: Ipv4Addr, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(addr, port)
}

#[test]
fn a_clashing_call_id_from_the_same_address_is_renumbered_rfc2637_4_1() {
    let p = Ipv4Addr::new(198, 18, 1, 1);
    let mut s = Server::new();
    let mut one = s.connect(peer(p, 5001));
    let mut two = s.connect(peer(p, 5002));
    let first = s.call(&mut one).expect("the first call is accepted");
    // Same seed: the second connection chooses the same Call ID, which GRE from this
    // address could not tell apart; the call gets the next free one instead of a refusal.
    let second = s.call(&mut two).expect("the clashing call is accepted");
    assert_ne!(first, second);
    assert_eq!(second, first.wrapping_add(1));
    let c = s.plugin.counters();
    assert_eq!((c.call_ids_renumbered, c.calls_refused), (1, 0), "{c}");
    assert_eq!(s.plugin.call_count(), 2);
    // Each call gets its own GRE.
    for id in [first, second] {
        s.plugin
            .on_data(Timestamp::ZERO, s.plugin.gre.unwrap(), &gre_from(p, id))
            .unwrap();
    }
    let delivered = s.seen.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert!(delivered.values().all(|&n| n == 1), "{delivered:?}");
    // From another address the same ID does not clash.
    let mut other = s.connect(peer(Ipv4Addr::new(198, 18, 1, 2), 5001));
    assert_eq!(s.call(&mut other), Ok(first));
}

#[test]
fn no_free_call_id_within_the_tries_refuses_with_no_resource_rfc2637_2_8() {
    let p = Ipv4Addr::new(198, 18, 2, 1);
    let mut s = Server::new();
    let mut one = s.connect(peer(p, 5001));
    let first = s.call(&mut one).unwrap();
    // Another holder (another link) has the next CALL_ID_TRIES IDs for this address.
    let other = Registry::new();
    for i in 1..=super::CALL_ID_TRIES {
        assert!(other.claim(p, first.wrapping_add(i)));
    }
    let mut two = s.connect(peer(p, 5002));
    assert_eq!(s.call(&mut two), Err(GeneralError::NoResource));
    let c = s.plugin.counters();
    assert_eq!((c.call_ids_renumbered, c.calls_refused), (0, 1), "{c}");
    // The last of them freed: a connection that clashes again gets exactly that one.
    let last = first.wrapping_add(super::CALL_ID_TRIES);
    other.release(p, last);
    let mut three = s.connect(peer(p, 5003));
    assert_eq!(s.call(&mut three), Ok(last));
    assert_eq!(s.plugin.counters().call_ids_renumbered, 1);
}

#[test]
fn gre_of_another_pptp_link_is_ignored_not_counted_as_hostile_rfc2637_4_1() {
    let p = Ipv4Addr::new(198, 18, 3, 1);
    let q = Ipv4Addr::new(198, 18, 3, 2);
    let attacker = Ipv4Addr::new(198, 18, 3, 66);
    // Two links (instances) of one routerd, a call each, from different peers.
    let mut a = Server::new();
    let mut b = Server::new();
    let mut ca = a.connect(peer(p, 5001));
    let mut cb = b.connect(peer(q, 5001));
    let id_a = a.call(&mut ca).unwrap();
    let id_b = b.call(&mut cb).unwrap();
    // The kernel gives every GRE datagram to both raw sockets.
    for (src, call) in [(p, id_a), (q, id_b)] {
        let d = gre_from(src, call);
        a.plugin
            .on_data(Timestamp::ZERO, a.plugin.gre.unwrap(), &d)
            .unwrap();
        b.plugin
            .on_data(Timestamp::ZERO, b.plugin.gre.unwrap(), &d)
            .unwrap();
    }
    for s in [&a, &b] {
        let c = s.plugin.counters();
        assert_eq!(c.rx_frames, 1, "{c}");
        assert_eq!(c.gre_other_link, 1, "{c}");
        assert_eq!((c.gre_unknown_call, c.gre_spoofed_source), (0, 0), "{c}");
    }
    // Still hostile: our Call ID from a stranger (spoofed), an unknown Call ID from our
    // peer, and the other link's Call ID from an address that is not its peer.
    let gre = a.plugin.gre.unwrap();
    for d in [
        gre_from(attacker, id_a),
        gre_from(p, id_a ^ 0x5a5a),
        gre_from(attacker, id_b ^ 0x0101),
    ] {
        a.plugin.on_data(Timestamp::ZERO, gre, &d).unwrap();
    }
    let c = a.plugin.counters();
    assert_eq!(c.gre_spoofed_source, 1, "{c}");
    assert_eq!(c.gre_unknown_call, 2, "{c}");
    assert_eq!(c.gre_other_link, 1, "{c}");
    // Once b is gone, its peer's GRE is no longer another link's.
    drop(b);
    a.plugin
        .on_data(Timestamp::ZERO, gre, &gre_from(q, id_b))
        .unwrap();
    let c = a.plugin.counters();
    assert_eq!(c.gre_other_link, 1, "{c}");
    assert_eq!(c.gre_unknown_call + c.gre_spoofed_source, 4, "{c}");
}

/// The raw GRE socket is bound only where that cannot lose GRE: one specific IPv4 listen
/// address (RFC 2637 §4.1: GRE runs between the control connection's two addresses).
#[test]
fn gre_socket_is_bound_to_the_one_specific_listen_address_rfc2637_4_1() {
    use super::config::Mode;
    let answer = |addrs: &[&str]| Mode::Answer {
        listen: addrs.iter().map(|a| a.parse().unwrap()).collect(),
    };
    let bound = |m: &Mode| super::gre_bind_address(m).map(|ip| ip.to_string());
    assert_eq!(
        bound(&answer(&["192.0.2.1:1723"])).as_deref(),
        Some("192.0.2.1")
    );
    // Two ports on one address: still one address.
    assert_eq!(
        bound(&answer(&["192.0.2.1:1723", "192.0.2.1:1724"])).as_deref(),
        Some("192.0.2.1")
    );
    assert_eq!(bound(&answer(&["0.0.0.0:1723"])), None);
    assert_eq!(
        bound(&answer(&["192.0.2.1:1723", "198.51.100.1:1723"])),
        None
    );
    assert_eq!(bound(&answer(&["[2001:db8::1]:1723"])), None);
    assert_eq!(
        bound(&Mode::Dial {
            target: "192.0.2.1:1723".parse().unwrap(),
            call_type: super::config::CallType::Outgoing,
        }),
        None
    );
}
