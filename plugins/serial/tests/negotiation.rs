//! A whole PPP session over a pty through the serial plugin: a server `dialgate_ppp::Engine`
//! (MS-CHAPv2, MPPE-128 required, IPCP with an address pool, as in core/ppp-demo) runs on top
//! of the plugin's `deliver_frame` / `send_frame` on the pty's slave, behind the SDK's ABI
//! objects, while a plain client engine frames its own HDLC on the master. Both ACCMs change
//! to 0 when LCP opens, so encrypted data (random octets, control characters included) only
//! gets through if the plugin applies the negotiated ACCMs in both directions.

mod support;

use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use dialgate_plugin_host::PluginInstance;
use dialgate_plugin_host::abi::{LinkId, LinkParams, LogLevel, Timestamp};
use dialgate_ppp::auth::{AuthenticatorConfig, Credentials, LocalUsers};
use dialgate_ppp::config::{AuthenticatorRole, IpcpRole, PeerRole, RandomSource};
use dialgate_ppp::ncp::{AddressPool, IpcpClientConfig, IpcpServerConfig, MppeKeyLength};
use dialgate_ppp::{Config, Engine, Event as PppEvent, NetworkParams, Protocol};
use dialgate_wire::hdlc::{Decoder, Encoder};
use nix::errno::Errno;
use support::{Event, Pty, PtyHost, answer_config, readable, write_all};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);
const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 100);
/// How long the whole session may take.
const DEADLINE: Duration = Duration::from_secs(30);

/// A deterministic test RNG (xorshift64*): challenges need not be secret here.
fn test_random(seed: u64) -> RandomSource {
    let state = Mutex::new(seed | 1);
    Arc::new(move |buf: &mut [u8]| {
        let mut s = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for b in buf {
            *s ^= *s >> 12;
            *s ^= *s << 25;
            *s ^= *s >> 27;
            *b = (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
        }
    })
}

/// A pool of one address.
#[derive(Debug)]
struct OnePool(Mutex<Option<Ipv4Addr>>);

impl AddressPool for OnePool {
    fn allocate(&self, _user: &str, _hint: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        self.0.lock().ok()?.take()
    }
    fn release(&self, addr: Ipv4Addr) {
        if let Ok(mut a) = self.0.lock() {
            *a = Some(addr);
        }
    }
}

fn server_config() -> Config {
    let mut users = LocalUsers::new();
    users.add_password(USER, PASSWORD).expect("local user");
    Config {
        authenticator: Some(AuthenticatorRole {
            backend: Arc::new(users),
            settings: AuthenticatorConfig {
                name: "dialgate".into(),
                ..Default::default()
            },
        }),
        random: Some(test_random(0x05E4_07E4)),
        ipcp: Some(IpcpRole::Server {
            config: IpcpServerConfig {
                local: SERVER_ADDR,
                dns: [None, None],
                nbns: [None, None],
            },
            pool: Arc::new(OnePool(Mutex::new(Some(CLIENT_ADDR)))),
        }),
        seed: 1,
        ..Config::default()
    }
}

fn client_config() -> Config {
    Config {
        peer: Some(PeerRole {
            credentials: Credentials::new(USER, PASSWORD).expect("credentials"),
            settings: Default::default(),
        }),
        random: Some(test_random(0x00C1_1E47)),
        ipcp: Some(IpcpRole::Client(IpcpClientConfig {
            address: None,
            request_dns: false,
            request_nbns: false,
        })),
        seed: 2,
        ..Config::default()
    }
}

/// A datagram whose octets include every control character, flag and escape.
fn datagram(src: Ipv4Addr, dst: Ipv4Addr, fill: u8) -> Vec<u8> {
    let body: Vec<u8> = (0..=255u8).map(|i| i ^ fill).collect();
    let total = u16::try_from(20 + body.len()).expect("small");
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    ip.extend_from_slice(&body);
    ip
}

/// What the client saw.
#[derive(Debug, Default)]
struct ClientReport {
    address: Option<Ipv4Addr>,
    mppe: Option<MppeKeyLength>,
    reply: Option<Vec<u8>>,
    log: Vec<String>,
}

/// The client: a plain engine with its own RFC 1662 framing on the pty master, decoding one
/// frame at a time with the receive ACCM in force (as core/ppp-demo does).
fn run_client(master: &OwnedFd) -> ClientReport {
    let start = Instant::now();
    let mut engine = Engine::new(client_config(), start);
    engine.open(start);
    engine.lower_up(start);
    let mut decoder = Decoder::new(4096);
    let mut report = ClientReport::default();
    let mut frame = Vec::with_capacity(2048);
    let mut wire = Vec::with_capacity(8192);
    let mut out = vec![0u8; 2048];
    let mut rx = vec![0u8; 4096];
    let mut sent = false;
    let mut ipcp_up = false;
    let send = |engine: &Engine, frame: &[u8], wire: &mut Vec<u8>| {
        wire.clear();
        Encoder::new()
            .with_accm(engine.link_params().tx_accm)
            .encode(frame, wire);
        write_all(master.as_fd(), wire);
    };
    while start.elapsed() < DEADLINE && report.reply.is_none() {
        let now = Instant::now();
        while engine.poll_transmit(&mut frame) {
            send(&engine, &frame, &mut wire);
        }
        while let Some(event) = engine.poll_event() {
            report.log.push(format!("{event:?}"));
            match event {
                PppEvent::NetworkUp {
                    params: NetworkParams::Ipcp(ip),
                    ..
                } => {
                    report.address = Some(ip.local);
                    ipcp_up = true;
                }
                PppEvent::NetworkUp {
                    params: NetworkParams::Ccp(ccp),
                    ..
                } => report.mppe = ccp.mppe().map(|m| m.key_length),
                PppEvent::LinkDown { reason } => panic!("client link down: {reason}"),
                _ => {}
            }
        }
        if ipcp_up && !sent {
            let ping = datagram(CLIENT_ADDR, SERVER_ADDR, 0x00);
            if let Ok(n) = engine.send_datagram(now, Protocol::IPV4, &ping, &mut out) {
                send(&engine, out.get(..n).expect("frame length"), &mut wire);
                sent = true;
            }
        }
        if readable(master.as_fd(), Duration::from_millis(10)) {
            let n = match nix::unistd::read(master, &mut rx) {
                Ok(n) => n,
                Err(Errno::EAGAIN | Errno::EINTR) => 0,
                Err(e) => panic!("client read: {e}"),
            };
            let mut input = rx.get(..n).unwrap_or_default();
            let now = Instant::now();
            loop {
                decoder.set_accm(engine.link_params().rx_accm);
                let Some(f) = decoder.decode(&mut input) else {
                    break;
                };
                if let Some(d) = engine.handle_frame(now, f) {
                    report.reply = Some(d.payload.to_vec());
                }
                while engine.poll_transmit(&mut frame) {
                    send(&engine, &frame, &mut wire);
                }
            }
        }
        let now = Instant::now();
        if engine.poll_timeout().is_some_and(|t| t <= now) {
            engine.handle_timeout(now);
        }
    }
    report
}

/// The server's side: the engine on top of the plugin, driven like routerd will drive it.
struct Server {
    engine: Engine,
    params: Option<LinkParams>,
    ping: Option<Vec<u8>>,
    encrypted_frames: usize,
    replied: bool,
    log: Vec<String>,
}

impl Server {
    /// Runs the frames the plugin delivered through the engine (answering the client's
    /// datagram once), until the plugin delivers no more.
    fn process(&mut self, host: &PtyHost, plugin: &mut PluginInstance, link: LinkId) {
        loop {
            let delivered = support::frames(&host.take_quiet());
            if delivered.is_empty() {
                return;
            }
            let now = Instant::now();
            for (l, mut frame) in delivered {
                assert_eq!(l, link);
                let body = frame.strip_prefix(&[0xFF, 0x03]).unwrap_or(&frame);
                if body.first() == Some(&0xFD) || body.starts_with(&[0x00, 0xFD]) {
                    self.encrypted_frames += 1;
                }
                if let Some(d) = self.engine.handle_frame(now, &mut frame) {
                    assert_eq!(d.protocol, Protocol::IPV4);
                    self.ping = Some(d.payload.to_vec());
                }
            }
            if self.ping.is_some() && !self.replied {
                let reply = datagram(SERVER_ADDR, CLIENT_ADDR, 0xA5);
                let mut out = vec![0u8; 2048];
                let n = self
                    .engine
                    .send_datagram(now, Protocol::IPV4, &reply, &mut out)
                    .expect("send the reply");
                plugin
                    .send_frame(host.clock(), link, out.get(..n).expect("frame"))
                    .expect("send_frame");
                self.replied = true;
            }
            self.flush(plugin, link, host.clock());
        }
    }

    /// Hands the engine's frames to the plugin and the negotiated ACCMs too, after the
    /// engine processed what the plugin delivered (before timers fire).
    fn flush(&mut self, plugin: &mut PluginInstance, link: LinkId, now: Timestamp) {
        let mut buf = Vec::with_capacity(2048);
        while self.engine.poll_transmit(&mut buf) {
            plugin.send_frame(now, link, &buf).expect("send_frame");
        }
        let p = self.engine.link_params();
        let params = LinkParams {
            tx_accm: p.tx_accm,
            rx_accm: p.rx_accm,
        };
        if self.params != Some(params) {
            self.params = Some(params);
            plugin
                .set_link_params(now, link, params)
                .expect("set_link_params");
        }
        while let Some(event) = self.engine.poll_event() {
            self.log.push(format!("{event:?}"));
            if let PppEvent::LinkDown { reason } = event {
                panic!("server link down: {reason}; {:?}", self.log);
            }
        }
    }
}

#[test]
fn mschapv2_mppe128_ipcp_session_over_the_plugin_rfc1662_rfc2759_rfc3078() {
    let pty = Pty::new();
    let host = PtyHost::new();
    let serial = host.serial(&answer_config(&pty.path));
    // Behind the SDK's shield and the ABI's trait objects, as a loaded plugin is.
    let mut plugin =
        PluginInstance::from_box("serial", dialgate_plugin_sdk::into_plugin_box(serial));
    plugin.start(host.clock()).expect("start");
    let link = host
        .take_quiet()
        .into_iter()
        .find_map(|e| match e {
            Event::LinkUp { link, .. } => Some(link),
            _ => None,
        })
        .expect("link up at open");

    let Pty { master, slave, .. } = pty;
    let client = thread::spawn(move || {
        let report = run_client(&master);
        (report, master)
    });

    let start = Instant::now();
    let mut server = Server {
        engine: Engine::new(server_config(), start),
        params: None,
        ping: None,
        encrypted_frames: 0,
        replied: false,
        log: Vec::new(),
    };
    server.engine.open(start);
    server.engine.lower_up(start);
    while !client.is_finished() {
        assert!(start.elapsed() < DEADLINE, "timed out: {:?}", server.log);
        server.flush(&mut plugin, link, host.clock());
        for input in host.read_ready(Duration::from_millis(10)) {
            match input {
                support::Input::Data(h, bytes) => {
                    plugin.on_data(host.clock(), h, &bytes).expect("on_data");
                }
                support::Input::Closed(h, reason) => panic!("{h:?} closed: {reason:?}"),
            }
            // Every frame the plugin delivered goes through the engine, then the engine's
            // answers and link parameters go back to the plugin (which may then deliver the
            // frames it held) before timers fire, as routerd does.
            server.process(&host, &mut plugin, link);
        }
        support::fire_timers(&host, &mut plugin);
        server.process(&host, &mut plugin, link);
        let now = Instant::now();
        if server.engine.poll_timeout().is_some_and(|t| t <= now) {
            server.engine.handle_timeout(now);
        }
    }
    let (report, master) = client.join().expect("client thread");

    assert_eq!(
        server.ping.as_deref(),
        Some(datagram(CLIENT_ADDR, SERVER_ADDR, 0x00).as_slice()),
        "{:?}",
        server.log
    );
    assert_eq!(
        report.reply.as_deref(),
        Some(datagram(SERVER_ADDR, CLIENT_ADDR, 0xA5).as_slice()),
        "{:?}",
        report.log
    );
    assert_eq!(report.address, Some(CLIENT_ADDR));
    assert_eq!(report.mppe, Some(MppeKeyLength::Bits128));
    assert_eq!(
        server.engine.mppe().map(|m| m.key_length),
        Some(MppeKeyLength::Bits128)
    );
    assert!(
        server.encrypted_frames >= 1,
        "the datagram crossed encrypted"
    );
    // LCP negotiated ACCM 0 both ways, and the plugin was told.
    assert_eq!(
        server.params,
        Some(LinkParams {
            tx_accm: 0,
            rx_accm: 0
        })
    );

    plugin.stop(host.clock()).expect("stop");
    let stopped = host
        .take()
        .into_iter()
        .find_map(|e| match e {
            Event::Log(LogLevel::Info, m) if m.starts_with("port p0: stopped;") => Some(m),
            _ => None,
        })
        .expect("the counters are logged at stop");
    for clean in [
        " rx_bad_fcs=0 ",
        " rx_aborts=0 ",
        " rx_overruns=0 ",
        " rx_refused=0 ",
        " tx_busy=0 ",
    ] {
        assert!(stopped.contains(clean), "{clean} in {stopped}");
    }
    drop((master, slave));
}
