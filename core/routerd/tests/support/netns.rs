//! Network namespaces for the root end-to-end tests: a [`Lab`] of uniquely named namespaces
//! (deleted on drop, with the processes started in them), veth pairs, ICMP and ICMPv6 pingers
//! that run inside a namespace, and routerd processes with their logs. Tests using them start
//! with `dialgate_test_support::require_root` (no silent skip without root).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use dialgate_routerd::api::{SessionInfo, SessionState, Traffic};

use super::{Child, binary, routerctl};

/// Runs `ip ARGS...` and fails the test with its error output if it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Network namespaces, one per role, and the processes running in them; dropping it kills
/// the processes and deletes the namespaces (with their interfaces).
#[derive(Debug)]
pub struct Lab {
    roles: Vec<String>,
    namespaces: Vec<String>,
    /// Processes started in the namespaces, stopped (SIGTERM, then SIGKILL) on drop.
    pub processes: Vec<Child>,
}

impl Lab {
    /// Creates one namespace per role, named `dg<tag>-<role>-<pid>-<n>`, loopback up.
    pub fn new(tag: &str, roles: &[&str]) -> Lab {
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut lab = Lab {
            roles: Vec::new(),
            namespaces: Vec::new(),
            processes: Vec::new(),
        };
        for role in roles {
            let name = format!("dg{tag}-{role}-{id}");
            ip(&["netns", "add", &name]);
            lab.roles.push((*role).to_owned());
            lab.namespaces.push(name.clone());
            ip(&["-n", &name, "link", "set", "lo", "up"]);
        }
        lab
    }

    /// The namespace of `role`.
    pub fn ns(&self, role: &str) -> &str {
        let i = self
            .roles
            .iter()
            .position(|r| r == role)
            .unwrap_or_else(|| panic!("no namespace for role {role}"));
        &self.namespaces[i]
    }

    /// A veth pair between two namespaces: `a_if` in `a`'s with `a_addr` (CIDR), `b_if` in
    /// `b`'s with `b_addr`, both up.
    pub fn veth(
        &self,
        (a, a_if, a_addr): (&str, &str, &str),
        (b, b_if, b_addr): (&str, &str, &str),
    ) {
        ip(&["link", "add", a_if, "type", "veth", "peer", "name", b_if]);
        for (role, ifname, addr) in [(a, a_if, a_addr), (b, b_if, b_addr)] {
            let ns = self.ns(role).to_owned();
            ip(&["link", "set", ifname, "netns", &ns]);
            ip(&["-n", &ns, "addr", "add", addr, "dev", ifname]);
            ip(&["-n", &ns, "link", "set", ifname, "up"]);
        }
    }

    /// `ip netns exec <ns of role> PROGRAM`, ready for arguments.
    pub fn command(&self, role: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.ns(role)]).arg(program);
        cmd
    }

    /// Starts routerd in `role`'s namespace with `config`, its log (RUST_LOG=info) to `log`.
    pub fn start_routerd(&mut self, role: &str, config: &Path, log: &Path) {
        let log = std::fs::File::create(log).unwrap();
        let child = self
            .command(role, binary("routerd"))
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting routerd");
        self.processes.push(Child(Some(child)));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for mut p in self.processes.drain(..) {
            let _ = p.terminate(Duration::from_secs(5));
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Sends `count` ICMP echo requests (56 data octets) from `src` to `dst` inside network
/// namespace `ns` and counts the replies (RFC 792), in a thread that enters the namespace.
pub fn ping_in(ns: &str, src: Ipv4Addr, dst: Ipv4Addr, count: u16) -> u16 {
    ping(ns, src, dst, count)
}

/// Sends ICMPv6 echo requests (RFC 4443 §4.1) from `src` to `dst` inside network namespace
/// `ns` and counts the replies; the kernel fills in the checksum of raw ICMPv6 sockets.
pub fn ping6_in(ns: &str, src: Ipv6Addr, dst: Ipv6Addr, count: u16) -> u16 {
    ping(ns, src, dst, count)
}

/// What pinging over IPv4 and over IPv6 differ in.
trait EchoFamily: Copy + PartialEq + std::fmt::Display + Send + 'static {
    /// `sockaddr_in` or `sockaddr_in6`.
    type SockAddr: Copy;
    const DOMAIN: libc::c_int;
    const PROTOCOL: libc::c_int;
    /// Echo Request and Echo Reply types (RFC 792; RFC 4443 §4.1, §4.2).
    const REQUEST: u8;
    const REPLY: u8;
    /// Our identifier in the requests.
    const IDENT: u16;
    fn sockaddr(self) -> Self::SockAddr;
    fn from_sockaddr(sa: &Self::SockAddr) -> Self;
    fn unspecified() -> Self;
    /// The ICMP message in a received datagram (raw IPv4 sockets deliver the IP header).
    fn icmp(datagram: &[u8]) -> Option<&[u8]>;
    /// Fills in the checksum of `icmp` where the kernel does not.
    fn checksum(icmp: &mut [u8]);
}

impl EchoFamily for Ipv4Addr {
    type SockAddr = libc::sockaddr_in;
    const DOMAIN: libc::c_int = libc::AF_INET;
    const PROTOCOL: libc::c_int = libc::IPPROTO_ICMP;
    const REQUEST: u8 = 8;
    const REPLY: u8 = 0;
    const IDENT: u16 = 0x4447;
    fn sockaddr(self) -> libc::sockaddr_in {
        libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(self.octets()),
            },
            sin_zero: [0; 8],
        }
    }
    fn from_sockaddr(sa: &libc::sockaddr_in) -> Self {
        Ipv4Addr::from(sa.sin_addr.s_addr.to_ne_bytes())
    }
    fn unspecified() -> Self {
        Ipv4Addr::UNSPECIFIED
    }
    fn icmp(datagram: &[u8]) -> Option<&[u8]> {
        let ihl = usize::from(datagram.first()? & 0x0f) * 4;
        datagram.get(ihl..)
    }
    fn checksum(icmp: &mut [u8]) {
        let sum = checksum(icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    }
}

impl EchoFamily for Ipv6Addr {
    type SockAddr = libc::sockaddr_in6;
    const DOMAIN: libc::c_int = libc::AF_INET6;
    const PROTOCOL: libc::c_int = libc::IPPROTO_ICMPV6;
    const REQUEST: u8 = 128;
    const REPLY: u8 = 129;
    const IDENT: u16 = 0x4436;
    fn sockaddr(self) -> libc::sockaddr_in6 {
        libc::sockaddr_in6 {
            sin6_family: libc::AF_INET6 as libc::sa_family_t,
            sin6_port: 0,
            sin6_flowinfo: 0,
            sin6_addr: libc::in6_addr {
                s6_addr: self.octets(),
            },
            sin6_scope_id: 0,
        }
    }
    fn from_sockaddr(sa: &libc::sockaddr_in6) -> Self {
        Ipv6Addr::from(sa.sin6_addr.s6_addr)
    }
    fn unspecified() -> Self {
        Ipv6Addr::UNSPECIFIED
    }
    fn icmp(datagram: &[u8]) -> Option<&[u8]> {
        Some(datagram)
    }
    fn checksum(_icmp: &mut [u8]) {}
}

/// Sends `count` echo requests (56 data octets) from `src` to `dst` over a raw socket of a
/// thread that enters network namespace `ns`; waits up to 3 s for each reply; counts them.
fn ping<A: EchoFamily>(ns: &str, src: A, dst: A, count: u16) -> u16 {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: setns on a namespace file this thread opened; only this thread moves.
        let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}");
        // SAFETY: a plain socket(2) call.
        let fd = unsafe { libc::socket(A::DOMAIN, libc::SOCK_RAW, A::PROTOCOL) };
        assert!(fd >= 0, "raw ICMP socket");
        let len = std::mem::size_of::<A::SockAddr>() as libc::socklen_t;
        let local = src.sockaddr();
        // SAFETY: binds fd to a socket address that lives on the stack for the call.
        let r = unsafe { libc::bind(fd, (&local as *const A::SockAddr).cast(), len) };
        assert_eq!(r, 0, "bind to {src}");
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        // SAFETY: sets a timeval option from a live local.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        let remote = dst.sockaddr();
        let mut answered = std::collections::BTreeSet::new();
        for seq in 1..=count {
            let mut icmp = vec![A::REQUEST, 0, 0, 0];
            icmp.extend_from_slice(&A::IDENT.to_be_bytes());
            icmp.extend_from_slice(&seq.to_be_bytes());
            icmp.extend((0..56u8).map(|i| i.wrapping_add(0x20)));
            A::checksum(&mut icmp);
            // SAFETY: sends a live buffer to a live socket address.
            let n = unsafe {
                libc::sendto(
                    fd,
                    icmp.as_ptr().cast(),
                    icmp.len(),
                    0,
                    (&remote as *const A::SockAddr).cast(),
                    len,
                )
            };
            assert_eq!(n, icmp.len() as isize, "sendto");
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline && !answered.contains(&seq) {
                let mut buf = [0u8; 2048];
                let mut from = A::unspecified().sockaddr();
                let mut from_len = len;
                // SAFETY: receives into a live buffer and a live socket address of the given
                // lengths.
                let n = unsafe {
                    libc::recvfrom(
                        fd,
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        0,
                        (&mut from as *mut A::SockAddr).cast(),
                        &mut from_len,
                    )
                };
                if n <= 0 {
                    continue;
                }
                if let Some(icmp) = A::icmp(&buf[..n as usize])
                    && icmp.len() >= 8
                    && icmp[0] == A::REPLY
                    && A::from_sockaddr(&from) == dst
                    && icmp[4..6] == A::IDENT.to_be_bytes()
                {
                    answered.insert(u16::from_be_bytes([icmp[6], icmp[7]]));
                }
            }
        }
        // SAFETY: closes the socket this thread opened.
        unsafe { libc::close(fd) };
        u16::try_from(answered.len()).unwrap_or(u16::MAX)
    })
    .join()
    .expect("ping thread")
}

/// `ip ARGS` output (stdout), failing the test if it fails.
pub fn ip_out(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The sessions routerd reports on its management socket (empty if it does not answer).
pub fn sessions(socket: &Path) -> Vec<SessionInfo> {
    let (code, out) = routerctl(socket, &["--json", "sessions"], "");
    if code != 0 {
        return Vec::new();
    }
    serde_json::from_str(&out).unwrap_or_default()
}

/// A routerd that answers PPTP: one pptp link, a LAN behind it and a pool on that LAN.
#[derive(Debug, Clone, Copy)]
pub struct PptpServer<'a> {
    /// `[system] hostname`.
    pub hostname: &'a str,
    /// The state directory; the management socket is `routerd.sock` in it.
    pub dir: &'a Path,
    /// The pptp plugin library.
    pub plugin: &'a Path,
    /// The LAN interface (`[lan]`, proxy ARP on).
    pub lan_if: &'a str,
    /// The LAN's first three octets, e.g. `"10.78.0"`: the pool `lan` hands out `.10`-`.20`,
    /// our address on the sessions is `.1`.
    pub lan_net: &'a str,
    /// The link's name.
    pub link: &'a str,
    /// The address the link listens on, `ip:port`.
    pub listen: &'a str,
    /// More lines for the link's `[link.config]`.
    pub link_config: &'a str,
}

impl PptpServer<'_> {
    /// The configuration file's text.
    pub fn config(&self) -> String {
        format!(
            r#"
[system]
hostname = "{hostname}"
state_dir = "{state}"
plugin_dir = "{state}"

[management]
socket = "{state}/routerd.sock"

[lan]
interface = "{lan_if}"
proxy_arp = true

[[pool]]
name = "lan"
ranges = ["{net}.10-{net}.20"]
local_address = "{net}.1"

[[plugin]]
name = "pptp"
file = "{plugin}"

[[link]]
name = "{link}"
plugin = "pptp"
role = "answer"
pool = "lan"
[link.config]
listen = ["{listen}"]
{link_config}
"#,
            hostname = self.hostname,
            state = self.dir.display(),
            lan_if = self.lan_if,
            net = self.lan_net,
            plugin = self.plugin.display(),
            link = self.link,
            listen = self.listen,
            link_config = self.link_config,
        )
    }
}

/// The session up with an IPv4 address on the routerd of `socket`, if any.
pub fn session_up(socket: &Path) -> Option<SessionInfo> {
    sessions(socket)
        .into_iter()
        .find(|x| x.state == SessionState::Up && x.ipv4.is_some())
}

/// Waits (5 s) until the traffic counters of the sessions up on two routerds agree (the IP
/// octets and packets one received are what the other sent, both ways) and `server`'s
/// session received at least `min_packets`; returns them (server's, client's), or fails the
/// test showing both.
pub fn assert_counters_agree(server: &Path, client: &Path, min_packets: u64) -> (Traffic, Traffic) {
    let agree = wait_until(Duration::from_secs(5), || {
        let s = session_up(server)?.traffic;
        let c = session_up(client)?.traffic;
        (s.bytes_in == c.bytes_out
            && s.bytes_out == c.bytes_in
            && s.packets_in == c.packets_out
            && s.packets_out == c.packets_in
            && s.packets_in >= min_packets)
            .then_some((s, c))
    });
    agree.unwrap_or_else(|| {
        panic!(
            "counters agree (at least {min_packets} packets in): server {:?} client {:?}",
            session_up(server).map(|s| s.traffic),
            session_up(client).map(|s| s.traffic)
        )
    })
}

/// The `dialgate_plugin_counter` samples the pptp plugin publishes for `link` in routerd's
/// metrics, by name.
pub fn plugin_counters(socket: &Path, link: &str) -> std::collections::BTreeMap<String, u64> {
    let (_, text) = routerctl(socket, &["metrics"], "");
    let prefix = format!("dialgate_plugin_counter{{plugin=\"pptp\",link=\"{link}\",name=\"");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .filter_map(|rest| {
            let (name, value) = rest.split_once("\"} ")?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// Polls `f` every 100 ms until it returns `Some` or `timeout` passes.
pub fn wait_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `f` on a thread that entered network namespace `ns` (sockets it opens live there).
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: setns on a namespace file this thread opened; only this thread moves.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}");
        f()
    })
    .join()
    .expect("thread in the namespace")
}

/// A raw IPv4 socket for IP `protocol`, bound to `src` (the source of what it sends); the
/// kernel adds the IP header. Call inside [`in_netns`].
pub fn raw_socket(protocol: i32, src: Ipv4Addr) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: a plain socket(2) call; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, protocol) };
    assert!(fd >= 0, "raw socket for protocol {protocol}");
    // SAFETY: socket(2) returned a new descriptor that nothing else owns.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let local = sockaddr_in(src, 0);
    // SAFETY: binds our descriptor to a sockaddr_in that lives for the call.
    let r = unsafe {
        libc::bind(
            fd,
            (&local as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "bind to {src}");
    owned
}

/// Sends one datagram on a raw socket to `dst`.
pub fn raw_send(fd: &std::os::fd::OwnedFd, dst: Ipv4Addr, bytes: &[u8]) {
    use std::os::fd::AsRawFd;
    let remote = sockaddr_in(dst, 0);
    // SAFETY: sends a live buffer to a live sockaddr_in.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            0,
            (&remote as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(n, bytes.len() as isize, "sendto {dst}");
}

/// A TCP connection from `src` (port chosen by the kernel) to `dst`. Call inside
/// [`in_netns`].
pub fn tcp_from(src: Ipv4Addr, dst: std::net::SocketAddrV4) -> std::net::TcpStream {
    use std::os::fd::FromRawFd;
    // SAFETY: a plain socket(2) call; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0, "TCP socket");
    // SAFETY: socket(2) returned a new descriptor that nothing else owns.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let local = sockaddr_in(src, 0);
    // SAFETY: binds the stream's descriptor to a sockaddr_in that lives for the call.
    let r = unsafe { libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), len) };
    assert_eq!(r, 0, "bind to {src}");
    let remote = sockaddr_in(*dst.ip(), dst.port());
    // SAFETY: connects the stream's descriptor to a sockaddr_in that lives for the call.
    let r = unsafe { libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), len) };
    assert_eq!(
        r,
        0,
        "connect to {dst}: {}",
        std::io::Error::last_os_error()
    );
    stream
}

fn sockaddr_in(a: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(a.octets()),
        },
        sin_zero: [0; 8],
    }
}

/// Starts `dumpcap` in `role`'s namespace on `iface` with capture `filter`, writing `pcap`;
/// returns once the file exists (the capture is running). Stop it with [`Child::terminate`]
/// before reading the file.
pub fn start_capture(lab: &Lab, role: &str, iface: &str, filter: &str, pcap: &Path) -> Child {
    let capture = lab
        .command(role, "dumpcap")
        .args(["-q", "-i", iface, "-f", filter, "-w"])
        .arg(pcap)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting dumpcap (Debian package tshark)");
    let capture = Child(Some(capture));
    assert!(
        wait_until(Duration::from_secs(10), || pcap.exists().then_some(())).is_some(),
        "dumpcap started capturing"
    );
    capture
}

/// `tshark -r FILE ARGS...`'s standard output (its "running as root" notice goes to stderr).
pub fn tshark(file: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .expect("running tshark (Debian package tshark)");
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Clean dissection: tshark finds nothing malformed and no error-level expert item in `pcap`.
pub fn assert_clean_dissection(pcap: &Path) {
    let bad = tshark(
        pcap,
        &["-Y", "_ws.malformed || _ws.expert.severity >= error"],
    );
    assert!(bad.trim().is_empty(), "tshark found problems:\n{bad}");
}

/// The PPTP control messages in `pcap`, one row per message (several can share a TCP
/// segment): IP source, Control Message Type, Call ID, Peer Call ID, Stop reason,
/// Call-Disconnect-Notify result (empty where the message has none), as tshark dissects
/// them; and the whole table as text.
pub fn pptp_control_rows(pcap: &Path) -> (Vec<Vec<String>>, String) {
    const FIELDS: [&str; 5] = [
        "pptp.control_message_type",
        "pptp.call_id",
        "pptp.peer_call_id",
        "pptp.reason",
        "pptp.disc_result",
    ];
    let json = tshark(
        pcap,
        &[
            "-Y",
            "pptp",
            "-T",
            "json",
            "--no-duplicate-keys",
            "-j",
            "ip pptp",
        ],
    );
    let packets: Vec<serde_json::Value> = serde_json::from_str(&json).expect("tshark's JSON");
    let mut rows = Vec::new();
    for p in &packets {
        let layers = &p["_source"]["layers"];
        let src = first_str(&layers["ip"], "ip.src").unwrap_or_default();
        let messages = match &layers["pptp"] {
            serde_json::Value::Array(list) => list.iter().collect(),
            one => vec![one],
        };
        for m in messages {
            let mut row = vec![src.clone()];
            row.extend(FIELDS.iter().map(|f| first_str(m, f).unwrap_or_default()));
            rows.push(row);
        }
    }
    let text = rows.iter().map(|r| r.join("\t") + "\n").collect();
    (rows, text)
}

/// The first value of field `name` anywhere in a tshark JSON subtree.
fn first_str(v: &serde_json::Value, name: &str) -> Option<String> {
    match v {
        serde_json::Value::Object(map) => map.get(name).map_or_else(
            || map.values().find_map(|x| first_str(x, name)),
            |x| match x {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Array(a) => a.first().and_then(|y| y.as_str()).map(String::from),
                other => Some(other.to_string()),
            },
        ),
        serde_json::Value::Array(a) => a.iter().find_map(|x| first_str(x, name)),
        _ => None,
    }
}

/// The (IP source, GRE Key Call ID) of every GRE packet in `pcap`, in order.
pub fn gre_keys(pcap: &Path) -> Vec<(String, String)> {
    tshark(
        pcap,
        &[
            "-Y",
            "gre",
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "gre.key.call_id",
        ],
    )
    .lines()
    .filter_map(|l| l.split_once('\t'))
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect()
}
