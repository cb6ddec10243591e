//! Two dialgate PPP engines negotiating over a pty pair: the main job until `routerd` exists.
//!
//! The "server" end (the pty's master) authenticates the caller with MS-CHAPv2, requires
//! MPPE-128 and hands it an address from a pool; the "client" end (the pty's slave, in raw
//! mode, as a modem line would be) dials in. Both run the real async-HDLC framing of RFC 1662
//! over the tty. Once IPCP is up, the client sends ICMP echo requests through the encrypted
//! link, the server answers them, and each side prints what it negotiated. Exit status 0 means
//! every echo came back.
//!
//! Options: `--pings N` (default 5), `--timeout SECONDS` (default 20), `--verbose`.

use std::io::{self, Write as _};
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use dialgate_ppp::auth::{Credentials, LocalUsers};
use dialgate_ppp::config::{AuthenticatorRole, IpcpRole, PeerRole, RandomSource};
use dialgate_ppp::ncp::{AddressPool, IpcpClientConfig, IpcpServerConfig};
use dialgate_ppp::{Config, Engine, Event, NetworkParams, Protocol};
use dialgate_wire::hdlc::{Decoder, Encoder};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::pty::openpty;
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);
const DNS: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 53);

/// Command-line options.
#[derive(Debug, Clone, Copy)]
struct Options {
    pings: u16,
    timeout: Duration,
    verbose: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut opts = Options {
        pings: 5,
        timeout: Duration::from_secs(20),
        verbose: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--pings" => {
                let v = args.next().ok_or("--pings needs a number")?;
                opts.pings = v.parse().map_err(|e| format!("--pings {v}: {e}"))?;
            }
            "--timeout" => {
                let v = args.next().ok_or("--timeout needs a number of seconds")?;
                let secs: u64 = v.parse().map_err(|e| format!("--timeout {v}: {e}"))?;
                opts.timeout = Duration::from_secs(secs);
            }
            "--verbose" | "-v" => opts.verbose = true,
            "--help" | "-h" => {
                return Err(
                    "usage: dialgate-ppp-demo [--pings N] [--timeout SECONDS] [--verbose]".into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(opts)
}

/// A pool of consecutive addresses, handed out in order.
#[derive(Debug)]
struct RangePool {
    free: Mutex<Vec<Ipv4Addr>>,
}

impl RangePool {
    fn new(first: Ipv4Addr, count: u8) -> Self {
        let base = u32::from(first);
        let free = (0..u32::from(count))
            .rev()
            .map(|i| Ipv4Addr::from(base + i));
        Self {
            free: Mutex::new(free.collect()),
        }
    }
}

impl AddressPool for RangePool {
    fn allocate(&self, _user: &str, _hint: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        self.free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
    }

    fn release(&self, addr: Ipv4Addr) {
        self.free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(addr);
    }
}

/// The OS's CSPRNG: challenges must be unpredictable.
fn os_random() -> RandomSource {
    Arc::new(|buf: &mut [u8]| {
        if let Err(e) = getrandom::fill(buf) {
            // Without randomness no challenge is safe: refuse to continue.
            eprintln!("fatal: the OS random source failed: {e}");
            std::process::abort();
        }
    })
}

fn seed() -> Result<u64, getrandom::Error> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn server_config() -> Result<Config, String> {
    let mut users = LocalUsers::new();
    users
        .add_password(USER, PASSWORD)
        .map_err(|e| format!("local user: {e}"))?;
    let settings = dialgate_ppp::auth::AuthenticatorConfig {
        name: "dialgate".into(),
        ..Default::default()
    };
    Ok(Config {
        authenticator: Some(AuthenticatorRole {
            backend: Arc::new(users),
            settings,
        }),
        random: Some(os_random()),
        ipcp: Some(IpcpRole::Server {
            config: IpcpServerConfig {
                local: SERVER_ADDR,
                dns: [Some(DNS), None],
                nbns: [None, None],
            },
            pool: Arc::new(RangePool::new(Ipv4Addr::new(192, 168, 77, 100), 16)),
        }),
        seed: seed().map_err(|e| format!("random seed: {e}"))?,
        ..Config::default()
    })
}

fn client_config() -> Result<Config, String> {
    let credentials =
        Credentials::new(USER, PASSWORD).map_err(|e| format!("client credentials: {e}"))?;
    Ok(Config {
        peer: Some(PeerRole {
            credentials,
            settings: Default::default(),
        }),
        random: Some(os_random()),
        ipcp: Some(IpcpRole::Client(IpcpClientConfig {
            address: None,
            request_dns: true,
            request_nbns: false,
        })),
        seed: seed().map_err(|e| format!("random seed: {e}"))?,
        ..Config::default()
    })
}

/// Which end of the demo a thread runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Server,
    Client,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

/// What one end saw, for the summary.
#[derive(Debug, Default)]
struct Report {
    lines: Vec<String>,
    echo_sent: u16,
    echo_answered: u16,
    down_reason: Option<String>,
}

/// The IPv4 header checksum / ICMP checksum (RFC 1071).
fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = match *chunk {
            [hi, lo] => u16::from_be_bytes([hi, lo]),
            [hi] => u16::from_be_bytes([hi, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 ICMP echo request or reply with a 56-byte payload, like `ping`'s.
fn icmp_echo(src: Ipv4Addr, dst: Ipv4Addr, reply: bool, seq: u16) -> Vec<u8> {
    let mut icmp = vec![if reply { 0 } else { 8 }, 0, 0, 0, 0x44, 0x47];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend((0..56u8).map(|i| i.wrapping_add(0x10)));
    let sum = inet_checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let total = 20 + icmp.len();
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 1, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let sum = inet_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(&icmp);
    ip
}

/// A parsed ICMP echo: (is_reply, source, destination, sequence).
fn parse_icmp_echo(ip: &[u8]) -> Option<(bool, Ipv4Addr, Ipv4Addr, u16)> {
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    if ip.first()? >> 4 != 4 || ip.get(9)? != &1 || inet_checksum(ip.get(..ihl)?) != 0 {
        return None;
    }
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(12..16)?).ok()?);
    let dst = Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(16..20)?).ok()?);
    let icmp = ip.get(ihl..)?;
    if inet_checksum(icmp) != 0 {
        return None;
    }
    let reply = match icmp.first()? {
        0 => true,
        8 => false,
        _ => return None,
    };
    let seq = u16::from_be_bytes([*icmp.get(6)?, *icmp.get(7)?]);
    Some((reply, src, dst, seq))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One end: the engine, RFC 1662 framing and the tty.
struct End {
    role: Role,
    fd: OwnedFd,
    engine: Engine,
    decoder: Decoder,
    encoder: Encoder,
    wire: Vec<u8>,
    frame: Vec<u8>,
    out: Vec<u8>,
    verbose: bool,
    report: Report,
    local: Option<Ipv4Addr>,
    peer: Option<Ipv4Addr>,
}

impl End {
    fn new(role: Role, fd: OwnedFd, config: Config, now: Instant, verbose: bool) -> Self {
        Self {
            role,
            fd,
            engine: Engine::new(config, now),
            decoder: Decoder::new(4096),
            encoder: Encoder::new(),
            wire: Vec::with_capacity(8192),
            frame: Vec::with_capacity(2048),
            out: vec![0; 2048],
            verbose,
            report: Report::default(),
            local: None,
            peer: None,
        }
    }

    fn log(&mut self, line: String) {
        if self.verbose {
            eprintln!("[{}] {line}", self.role.name());
        }
        self.report.lines.push(line);
    }

    /// Frame `ppp` with HDLC (the negotiated ACCM) and write it to the tty.
    fn write_frame(&mut self, ppp: &[u8]) -> io::Result<()> {
        if self.verbose {
            eprintln!("[{}] tx {}", self.role.name(), hex(ppp));
        }
        let params = self.engine.link_params();
        let encoder = self.encoder.with_accm(params.tx_accm);
        self.wire.clear();
        encoder.encode(ppp, &mut self.wire);
        let mut rest = self.wire.as_slice();
        while !rest.is_empty() {
            match nix::unistd::write(self.fd.as_fd(), rest) {
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn flush_control(&mut self) -> io::Result<()> {
        let mut buf = std::mem::take(&mut self.frame);
        while self.engine.poll_transmit(&mut buf) {
            self.write_frame(&buf)?;
        }
        self.frame = buf;
        Ok(())
    }

    fn send_ip(&mut self, now: Instant, packet: &[u8]) -> io::Result<bool> {
        let mut out = std::mem::take(&mut self.out);
        let sent = match self
            .engine
            .send_datagram(now, Protocol::IPV4, packet, &mut out)
        {
            Ok(n) => {
                self.write_frame(out.get(..n).unwrap_or_default())?;
                true
            }
            Err(e) => {
                self.log(format!("could not send a datagram: {e}"));
                false
            }
        };
        self.out = out;
        Ok(sent)
    }

    /// Handle events; returns false once the link is down.
    fn drain_events(&mut self, now: Instant, pings: u16) -> io::Result<bool> {
        while let Some(event) = self.engine.poll_event() {
            match event {
                Event::PhaseChanged { from, to } => self.log(format!("phase {from:?} -> {to:?}")),
                Event::LinkUp => {
                    let p = self.engine.link_params();
                    self.log(format!(
                        "LCP up: MRU {} (peer {}), ACCM tx {:#010x} rx {:#010x}, PFC {}, ACFC {}",
                        p.rx_mru, p.tx_mru, p.tx_accm, p.rx_accm, p.tx_pfc, p.tx_acfc
                    ));
                }
                Event::Authenticated { user } => {
                    let method = match self.engine.auth().and_then(|a| a.result()) {
                        Some(Ok(done)) => done
                            .peer
                            .as_ref()
                            .or(done.us.as_ref())
                            .map_or_else(|| "?".into(), |s| format!("{:?}", s.method)),
                        _ => "?".into(),
                    };
                    self.log(format!("authenticated user {user:?} ({method})"));
                }
                Event::NetworkUp { protocol, params } => match params {
                    NetworkParams::Ipcp(ip) => {
                        self.local = Some(ip.local);
                        self.peer = ip.peer;
                        let peer = ip.peer.map_or_else(|| "-".into(), |a| a.to_string());
                        self.log(format!(
                            "IPCP up: local {} peer {peer}, DNS {:?}",
                            ip.local, ip.dns
                        ));
                        if self.role == Role::Client {
                            self.start_pings(now, pings)?;
                        }
                    }
                    NetworkParams::Ccp(ccp) => match ccp.mppe() {
                        Some(m) => self.log(format!(
                            "CCP up: MPPE {:?}, {}",
                            m.key_length,
                            if m.stateless { "stateless" } else { "stateful" }
                        )),
                        None => self.log(format!("CCP up without common MPPE: {ccp:?}")),
                    },
                    other => self.log(format!("{protocol} up: {other:?}")),
                },
                Event::NetworkDown { protocol } => self.log(format!("{protocol} down")),
                Event::LinkDown { reason } => {
                    self.log(format!("link down: {reason}"));
                    self.report.down_reason = Some(reason.to_string());
                    return Ok(false);
                }
                other => self.log(format!("{other:?}")),
            }
        }
        Ok(true)
    }

    fn start_pings(&mut self, now: Instant, pings: u16) -> io::Result<()> {
        let (Some(local), Some(peer)) = (self.local, self.peer) else {
            self.log("IPCP gave no peer address: nothing to ping".into());
            return Ok(());
        };
        for seq in 1..=pings {
            let packet = icmp_echo(local, peer, false, seq);
            if self.send_ip(now, &packet)? {
                self.report.echo_sent += 1;
            }
        }
        Ok(())
    }

    fn on_datagram(
        &mut self,
        now: Instant,
        protocol: Protocol,
        payload: Vec<u8>,
    ) -> io::Result<()> {
        if protocol != Protocol::IPV4 {
            self.log(format!("{protocol} datagram of {} bytes", payload.len()));
            return Ok(());
        }
        match parse_icmp_echo(&payload) {
            Some((false, src, dst, seq)) => {
                self.log(format!("echo request {seq} from {src}, answering"));
                let reply = icmp_echo(dst, src, true, seq);
                self.send_ip(now, &reply)?;
            }
            Some((true, src, _, seq)) => {
                self.log(format!("echo reply {seq} from {src}"));
                self.report.echo_answered += 1;
            }
            None => self.log(format!("IPv4 datagram of {} bytes", payload.len())),
        }
        Ok(())
    }

    /// Run until the link is down or `deadline`.
    fn run(mut self, opts: Options) -> io::Result<Report> {
        let start = Instant::now();
        let deadline = start + opts.timeout;
        self.engine.open(start);
        self.engine.lower_up(start);
        let mut rx = vec![0u8; 4096];
        let mut closing = false;
        loop {
            let now = Instant::now();
            self.flush_control()?;
            if !self.drain_events(now, opts.pings)? {
                self.flush_control()?;
                break;
            }
            if self.role == Role::Client
                && !closing
                && self.report.echo_sent > 0
                && self.report.echo_answered == self.report.echo_sent
            {
                closing = true;
                self.log("all echoes answered: closing the link".into());
                self.engine.close(now, dialgate_ppp::DownReason::AdminClose);
                continue;
            }
            if now >= deadline {
                self.log("timed out".into());
                self.report.down_reason = Some("demo timeout".into());
                break;
            }
            let wake = self.engine.poll_timeout().unwrap_or(deadline).min(deadline);
            let wait = wake.saturating_duration_since(now);
            let ms = u16::try_from(wait.as_millis().min(1000)).unwrap_or(1000);
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            let ready = match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => 0,
                Err(e) => return Err(e.into()),
            };
            let now = Instant::now();
            if ready > 0 {
                let n = match nix::unistd::read(&self.fd, &mut rx) {
                    Ok(n) => n,
                    Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => 0,
                    // The other end closed the pty: the line dropped.
                    Err(nix::errno::Errno::EIO) => {
                        self.engine.lower_down(now);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                if n == 0 {
                    self.engine.lower_down(now);
                    continue;
                }
                // One frame at a time: the receive ACCM changes when LCP opens, possibly
                // between two frames of the same read (RFC 1662 §7.1).
                let mut input = rx.get(..n).unwrap_or_default();
                loop {
                    self.decoder.set_accm(self.engine.link_params().rx_accm);
                    let Some(frame) = self.decoder.decode(&mut input) else {
                        break;
                    };
                    if self.verbose {
                        eprintln!("[{}] rx {}", self.role.name(), hex(frame));
                    }
                    // Decrypted in place in the decoder's buffer: no copy on the data path.
                    let got = self
                        .engine
                        .handle_frame(now, frame)
                        .map(|d| (d.protocol, d.payload.to_vec()));
                    if let Some((protocol, payload)) = got {
                        self.on_datagram(now, protocol, payload)?;
                    }
                    self.flush_control()?;
                }
            }
            if self.engine.poll_timeout().is_some_and(|t| t <= now) {
                self.engine.handle_timeout(now);
            }
        }
        let c = self.engine.counters();
        self.log(format!(
            "counters: {} frames / {} bytes in, {} frames / {} bytes out, {} datagrams in, {} out, {} dropped",
            c.rx_frames,
            c.rx_bytes,
            c.tx_frames,
            c.tx_bytes,
            c.rx_datagrams,
            c.tx_datagrams,
            c.drop_bad_frame
                + c.drop_bad_protocol
                + c.drop_wrong_phase
                + c.drop_ncp_not_open
                + c.drop_unencrypted
                + c.drop_decrypt
        ));
        Ok(self.report)
    }
}

fn run(opts: Options) -> Result<bool, String> {
    let pty = openpty(None, None).map_err(|e| format!("openpty: {e}"))?;
    for fd in [&pty.master, &pty.slave] {
        let mut t = tcgetattr(fd).map_err(|e| format!("tcgetattr: {e}"))?;
        cfmakeraw(&mut t);
        tcsetattr(fd, SetArg::TCSANOW, &t).map_err(|e| format!("tcsetattr: {e}"))?;
    }
    let now = Instant::now();
    let server = End::new(
        Role::Server,
        pty.master,
        server_config()?,
        now,
        opts.verbose,
    );
    let client = End::new(Role::Client, pty.slave, client_config()?, now, opts.verbose);
    let s = thread::spawn(move || server.run(opts));
    let c = thread::spawn(move || client.run(opts));
    let client = c
        .join()
        .map_err(|_| "client thread panicked".to_string())?
        .map_err(|e| format!("client I/O: {e}"))?;
    let server = s
        .join()
        .map_err(|_| "server thread panicked".to_string())?
        .map_err(|e| format!("server I/O: {e}"))?;

    let mut stdout = io::stdout().lock();
    let mut print = |who: &str, r: &Report| -> io::Result<()> {
        writeln!(stdout, "== {who}")?;
        for line in &r.lines {
            writeln!(stdout, "   {line}")?;
        }
        Ok(())
    };
    print("server (pty master, authenticator, address pool)", &server)
        .and_then(|()| print("client (pty slave, dials in)", &client))
        .map_err(|e| format!("stdout: {e}"))?;
    let ok = opts.pings > 0 && client.echo_answered == opts.pings;
    writeln!(
        stdout,
        "== result: {} of {} echo requests answered through the encrypted link: {}",
        client.echo_answered,
        opts.pings,
        if ok { "OK" } else { "FAILED" }
    )
    .map_err(|e| format!("stdout: {e}"))?;
    Ok(ok)
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("dialgate-ppp-demo: {e}");
            ExitCode::FAILURE
        }
    }
}
