//! End to end, as root, in network namespaces this test creates (and deletes): IPX over PPP
//! (RFC 1552) bridged to an Ethernet LAN by the `ipx-bridge` plugin.
//!
//! ```text
//!  netns cli                      netns srv                              netns lan
//!  routerd B (dial, lan-probe) --pty cable-- routerd A (answer, ipx-bridge on vS) -- vL
//!                                                                        the test's packet
//!                                                                        socket, dumpcap
//! ```
//!
//! B negotiates IPXCP with A, which offers the LAN's network number (§3.1); B's lan-probe
//! then sends one IPX datagram to a LAN host. The test reads it on the LAN as a raw
//! Ethernet frame of the configured type (each of the four NetWare frame types, 802.2 with
//! LLC SAP 0xE0 by default) from the caller's LAN node, answers it with a (checksummed)
//! datagram to that node and sends an IPX broadcast; both reach B with the destination
//! node B negotiated and a valid checksum. tshark dissects the
//! LAN side as IPX, and A's plugin counters show what crossed and what it dropped (B's
//! plain-text greeting of a second session start is not IPX, for instance).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dialgate_routerd::users::UserStore;
use support::netns::{Lab, checksum, ip, start_capture, tshark, wait_until};
use support::{PtyCable, TempDir, cargo_build, library, routerctl};

/// The LAN's IPX network number.
const NET: u32 = 0x00C0_FFEE;
/// The LAN host's node (its MAC address).
const HOST: [u8; 6] = [0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c];
/// The node B negotiates on its link (the core's default `local_node`, which A accepts).
const CALLER_LINK_NODE: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const BROADCAST: [u8; 6] = [0xFF; 6];

/// An IPX packet (the Novell header, RFC 1552 §2) built by hand, independently of the code
/// under test.
fn ipx(
    src: (u32, [u8; 6], u16),
    dst: (u32, [u8; 6], u16),
    hops: u8,
    checksummed: bool,
    data: &[u8],
) -> Vec<u8> {
    let len = 30 + data.len();
    let mut p = vec![0xFF, 0xFF];
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p.extend_from_slice(&[hops, 4]);
    for (net, node, socket) in [dst, src] {
        p.extend_from_slice(&net.to_be_bytes());
        p.extend_from_slice(&node);
        p.extend_from_slice(&socket.to_be_bytes());
    }
    p.extend_from_slice(data);
    if checksummed {
        let sum = ipx_checksum(&p);
        p[..2].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// The IPX checksum: the Internet checksum of the packet with the checksum field and the
/// Transport Control octet counted as zero.
fn ipx_checksum(p: &[u8]) -> u16 {
    let mut copy = p.to_vec();
    copy[0] = 0;
    copy[1] = 0;
    copy[4] = 0;
    checksum(&copy)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// A raw packet socket for every protocol on `ifname`, with a 200 ms receive timeout. Call
/// on a thread inside the namespace.
fn packet_socket(ifname: &str) -> OwnedFd {
    let protocol = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: a plain socket(2) call; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, libc::c_int::from(protocol)) };
    assert!(
        fd >= 0,
        "packet socket: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: socket(2) returned a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let name = std::ffi::CString::new(ifname).unwrap();
    // SAFETY: a NUL-terminated string that lives for the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(index, 0, "{ifname} exists");
    // SAFETY: sockaddr_ll is plain old data; all zeroes is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol;
    sll.sll_ifindex = index as i32;
    // SAFETY: binds our descriptor to a sockaddr_ll that lives for the call.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    assert_eq!(r, 0, "bind to {ifname}");
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 200_000,
    };
    // SAFETY: sets a timeval option from a live timeval.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    assert_eq!(r, 0);
    fd
}

/// Enters network namespace `ns` on the current thread.
fn enter(ns: &str) {
    let file = std::fs::File::open(format!("/var/run/netns/{ns}")).unwrap();
    // SAFETY: setns on a namespace file this thread opened; only this thread moves.
    let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "setns {ns}");
}

/// Starts a thread in `ns` that returns the first IPX frame of type `ft` seen on `ifname`
/// within `timeout`; returns once its socket is open.
fn capture_first_ipx(
    ns: &str,
    ifname: &str,
    ft: Ft,
    timeout: Duration,
) -> std::thread::JoinHandle<Option<Vec<u8>>> {
    let (ns, ifname) = (ns.to_owned(), ifname.to_owned());
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        enter(&ns);
        let fd = packet_socket(&ifname);
        ready_tx.send(()).unwrap();
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline {
            // SAFETY: reads into a live buffer of the given length.
            let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 && ft.ipx_of(&buf[..n as usize]).is_some() {
                return Some(buf[..n as usize].to_vec());
            }
        }
        None
    });
    ready_rx.recv().unwrap();
    thread
}

/// Sends `frames` on `ifname` inside `ns`.
fn send_frames(ns: &str, ifname: &str, frames: Vec<Vec<u8>>) {
    let (ns, ifname) = (ns.to_owned(), ifname.to_owned());
    std::thread::spawn(move || {
        enter(&ns);
        let fd = packet_socket(&ifname);
        for frame in frames {
            // SAFETY: sends a live buffer on our bound descriptor.
            let n = unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            assert_eq!(n, frame.len() as isize, "send on {ifname}");
        }
    })
    .join()
    .unwrap();
}

/// The four IPX frame types, built and taken apart by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ft {
    /// Ethernet II, EtherType 0x8137.
    EthernetII,
    /// Novell's raw 802.3: a length and the IPX packet (checksum 0xFFFF).
    Raw8023,
    /// 802.2 LLC, SAP 0xE0 (the plugin's default: no `frame_type` configured).
    Llc8022,
    /// 802.2 SNAP, OUI 0, 0x8137.
    Snap,
}

const SNAP: [u8; 8] = [0xAA, 0xAA, 0x03, 0, 0, 0, 0x81, 0x37];

impl Ft {
    /// The `frame_type` line of the configuration.
    fn config(self) -> &'static str {
        match self {
            Ft::EthernetII => "frame_type = \"ethernet_ii\"",
            Ft::Raw8023 => "frame_type = \"ethernet_802.3\"",
            Ft::Llc8022 => "",
            Ft::Snap => "frame_type = \"ethernet_snap\"",
        }
    }

    /// What follows the MAC addresses, before the IPX packet of `len` octets.
    fn header(self, len: usize) -> Vec<u8> {
        let length = |extra: usize| ((len + extra) as u16).to_be_bytes().to_vec();
        match self {
            Ft::EthernetII => vec![0x81, 0x37],
            Ft::Raw8023 => length(0),
            Ft::Llc8022 => [length(3), vec![0xE0, 0xE0, 0x03]].concat(),
            Ft::Snap => [length(8), SNAP.to_vec()].concat(),
        }
    }

    /// An Ethernet frame carrying `packet`, padded to 60 octets.
    fn frame(self, dst: [u8; 6], src: [u8; 6], packet: &[u8]) -> Vec<u8> {
        let mut f = [&dst[..], &src[..], &self.header(packet.len()), packet].concat();
        f.resize(f.len().max(60), 0);
        f
    }

    /// The IPX packet in `frame`, if it is of this type (Ethernet II keeps its padding).
    fn ipx_of(self, frame: &[u8]) -> Option<&[u8]> {
        let type_len = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
        let body = frame.get(14..)?;
        if self == Ft::EthernetII {
            return (type_len == 0x8137).then_some(body);
        }
        let body = body
            .get(..usize::from(type_len))
            .filter(|_| type_len <= 1500)?;
        match self {
            Ft::Raw8023 => body.starts_with(&[0xFF, 0xFF]).then_some(body),
            Ft::Llc8022 => body.strip_prefix(&[0xE0, 0xE0, 0x03][..]),
            Ft::Snap => body.strip_prefix(&SNAP[..]),
            Ft::EthernetII => None,
        }
    }
}

/// The ipx-bridge instance's counters in routerd's metrics.
fn counters(socket: &Path) -> std::collections::BTreeMap<String, u64> {
    let (_, text) = routerctl(socket, &["metrics"], "");
    text.lines()
        .filter(|l| l.starts_with("dialgate_plugin_counter{") && l.contains("link=\"@ipx\""))
        .filter_map(|l| {
            let rest = l.split("name=\"").nth(1)?;
            let (name, value) = rest.split_once("\"} ")?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn ipx_crosses_between_a_ppp_caller_and_an_ethernet_802_2_lan_rfc1552() {
    scenario(Ft::Llc8022);
}

#[test]
fn ipx_crosses_between_a_ppp_caller_and_an_ethernet_ii_lan_rfc1552() {
    scenario(Ft::EthernetII);
}

#[test]
fn ipx_crosses_between_a_ppp_caller_and_a_raw_802_3_lan_rfc1552() {
    scenario(Ft::Raw8023);
}

#[test]
fn ipx_crosses_between_a_ppp_caller_and_a_snap_lan_rfc1552() {
    scenario(Ft::Snap);
}

/// The whole exchange with the LAN in frame type `ft`.
fn scenario(ft: Ft) {
    if !dialgate_test_support::require_root("network namespaces and packet sockets") {
        return;
    }
    cargo_build(
        &[
            "dialgate-plugin-serial",
            "dialgate-plugin-ipx-bridge",
            "dialgate-test-plugin-lan-probe",
        ],
        &[],
    );
    let serial = library("dialgate_plugin_serial");
    let bridge = library("dialgate_plugin_ipx_bridge");
    let probe = library("dialgate_test_plugin_lan_probe");
    let dir = TempDir::new("ipx");
    let mut lab = Lab::new("ipx", &["srv", "cli", "lan"]);
    let lan_ns = lab.ns("lan").to_owned();
    // Unique among the tests of this process, which run in parallel.
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tag = format!("{}x{n}", std::process::id() % 100_000);
    let (v_srv, v_lan) = (format!("dxs{tag}"), format!("dxl{tag}"));
    lab.veth(
        ("srv", &v_srv, "10.88.0.1/24"),
        ("lan", &v_lan, "10.88.0.2/24"),
    );
    let host_mac = HOST.map(|b| format!("{b:02x}")).join(":");
    ip(&["-n", &lan_ns, "link", "set", &v_lan, "address", &host_mac]);

    let pcap = dir.path().join("lan.pcapng");
    let mut capture = start_capture(&lab, "lan", &v_lan, "not ip and not ip6 and not arp", &pcap);
    let first = capture_first_ipx(&lan_ns, &v_lan, ft, Duration::from_secs(60));

    // What the caller sends once IPXCP is up: from its link node on the LAN's network to
    // the LAN host's NCP socket, two hops already counted (a bridge leaves them).
    let greeting = ipx(
        (NET, CALLER_LINK_NODE, 0x4001),
        (NET, HOST, 0x0451),
        2,
        false,
        b"ping from the caller",
    );
    let cable = PtyCable::new();
    let a_dir = dir.path().join("a");
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::create_dir_all(&b_dir).unwrap();
    let a_socket = a_dir.join("routerd.sock");
    let b_socket = b_dir.join("routerd.sock");
    let a_config = format!(
        r#"
[system]
hostname = "srv"
state_dir = "{state}"
plugin_dir = "{state}"

[management]
socket = "{socket}"

[[pool]]
name = "lan"
ranges = ["10.88.0.10-10.88.0.20"]
local_address = "10.88.0.1"

[[plugin]]
name = "serial"
file = "{serial}"

[[plugin]]
name = "ipx"
file = "{bridge}"
[plugin.config]
interface = "{v_srv}"
network = {NET}
{frame_type}

[[link]]
name = "modem"
plugin = "serial"
role = "answer"
pool = "lan"
[[link.config.ports]]
name = "modem"
device = "{a}"
"#,
        state = a_dir.display(),
        socket = a_socket.display(),
        serial = serial.display(),
        bridge = bridge.display(),
        frame_type = ft.config(),
        a = cable.a().display(),
    );
    let record = b_dir.join("probe.log");
    let b_config = format!(
        r#"
[system]
hostname = "cli"
state_dir = "{state}"
plugin_dir = "{state}"

[management]
socket = "{socket}"

[[plugin]]
name = "serial"
file = "{serial}"

[[plugin]]
name = "probe"
file = "{probe}"
[plugin.config]
record = "{record}"
greeting_hex = "{greeting}"

[[link]]
name = "uplink"
plugin = "serial"
role = "dial"
credentials = {{ user = "alice", password = "correct horse battery" }}
[[link.config.ports]]
name = "uplink"
device = "{b}"
role = "dial"
"#,
        state = b_dir.display(),
        socket = b_socket.display(),
        serial = serial.display(),
        probe = probe.display(),
        record = record.display(),
        greeting = hex(&greeting),
        b = cable.b().display(),
    );
    std::fs::write(a_dir.join("routerd.toml"), a_config).unwrap();
    std::fs::write(b_dir.join("routerd.toml"), b_config).unwrap();
    let mut users = UserStore::open(&a_dir.join("users.toml")).unwrap();
    users
        .set_password("alice", "correct horse battery")
        .unwrap();
    drop(users);
    lab.start_routerd("srv", &a_dir.join("routerd.toml"), &a_dir.join("log"));
    lab.start_routerd("cli", &b_dir.join("routerd.toml"), &b_dir.join("log"));
    let logs = || {
        format!(
            "--- routerd A:\n{}\n--- routerd B:\n{}\n--- probe:\n{}",
            std::fs::read_to_string(a_dir.join("log")).unwrap_or_default(),
            std::fs::read_to_string(b_dir.join("log")).unwrap_or_default(),
            std::fs::read_to_string(&record).unwrap_or_default(),
        )
    };
    let probe_lines = || -> Vec<String> {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };

    // IPXCP up on B: it adopted the LAN's network number (A's is higher, §3.1) and kept its
    // node number (§3.2).
    let up = wait_until(Duration::from_secs(60), || {
        probe_lines().into_iter().find(|l| l.starts_with("up "))
    })
    .unwrap_or_else(|| panic!("IPXCP up on the caller\n{}", logs()));
    assert!(up.contains(&format!("network = {NET}")), "{up}");
    assert!(up.contains("local_node = \"02:00:00:00:00:01\""), "{up}");
    assert!(
        up.contains("peer_node = \"02:49:00:00:00:00\""),
        "A's own link node: {up}"
    );

    // Caller -> LAN: a frame of the configured type from the caller's LAN node, the IPX
    // packet as sent but for the source node.
    let frame = first
        .join()
        .unwrap()
        .unwrap_or_else(|| panic!("an IPX frame ({ft:?}) on the LAN\n{}", logs()));
    assert_eq!(&frame[..6], &HOST, "to the LAN host's MAC address");
    let lan_node: [u8; 6] = frame[6..12].try_into().unwrap();
    assert_eq!(
        lan_node[0] & 0x03,
        0x02,
        "a locally administered unicast node"
    );
    assert_eq!(&lan_node[..2], &[0x02, 0x49], "the default node prefix");
    assert_eq!(
        &frame[12..12 + ft.header(greeting.len()).len()],
        &ft.header(greeting.len())[..],
        "the {ft:?} header (802.3 length, LLC, SNAP)"
    );
    let on_lan = &ft.ipx_of(&frame).unwrap()[..greeting.len()];
    let mut expected = greeting.clone();
    expected[22..28].copy_from_slice(&lan_node);
    assert_eq!(on_lan, &expected[..], "only the source node differs");
    assert_eq!(
        on_lan[4], 2,
        "Transport Control untouched: a bridge is not a hop"
    );

    // LAN -> caller: a reply to the caller's LAN node (checksummed, except in raw 802.3,
    // which cannot carry a checksum), then a SAP-style broadcast; B gets both with its own
    // link node (or the broadcast node) as destination.
    let checksummed = ft != Ft::Raw8023;
    let reply = ipx(
        (NET, HOST, 0x0451),
        (NET, lan_node, 0x4001),
        0,
        checksummed,
        b"pong from the LAN",
    );
    let sap = ipx(
        (NET, HOST, 0x0452),
        (0, BROADCAST, 0x0452),
        0,
        false,
        b"sap",
    );
    // A foreign node and a spoofed caller source: not the bridge's, and dropped.
    let stray = ipx(
        (NET, HOST, 1),
        (NET, [2, 0x49, 9, 9, 9, 9], 1),
        0,
        false,
        b"x",
    );
    let spoof = ipx((NET, lan_node, 1), (NET, BROADCAST, 1), 0, false, b"y");
    send_frames(
        &lan_ns,
        &v_lan,
        vec![
            ft.frame(lan_node, HOST, &reply),
            ft.frame(BROADCAST, HOST, &sap),
            ft.frame([2, 0x49, 9, 9, 9, 9], HOST, &stray),
            ft.frame(BROADCAST, HOST, &spoof),
        ],
    );
    let got = wait_until(Duration::from_secs(20), || {
        let hexes: Vec<Vec<u8>> = probe_lines()
            .iter()
            .filter_map(|l| l.strip_prefix("hex "))
            .filter_map(|l| l.split(' ').nth(2))
            .map(unhex)
            .collect();
        (hexes.len() >= 2).then_some(hexes)
    })
    .unwrap_or_else(|| panic!("the reply and the broadcast at the caller\n{}", logs()));
    let mut expected = reply.clone();
    expected[10..16].copy_from_slice(&CALLER_LINK_NODE);
    if checksummed {
        let sum = ipx_checksum(&expected);
        expected[..2].copy_from_slice(&sum.to_be_bytes());
        assert_ne!(&got[0][..2], &[0xFF, 0xFF], "still checksummed");
    }
    assert_eq!(got[0], expected, "the reply, to the caller's link node");
    assert_eq!(got[1], sap, "the broadcast, unchanged");

    // A's counters: what crossed, and the drops by reason.
    let c = wait_until(Duration::from_secs(5), || {
        let c = counters(&a_socket);
        (c.get("lan_spoofed") == Some(&1)).then_some(c)
    })
    .unwrap_or_else(|| panic!("counters: {:?}\n{}", counters(&a_socket), logs()));
    assert_eq!(c.get("sessions_up"), Some(&1), "{c:?}");
    assert_eq!(c.get("lan_tx"), Some(&1), "{c:?}");
    assert_eq!(c.get("lan_rx"), Some(&2), "{c:?}");
    assert_eq!(c.get("broadcast_in"), Some(&1), "{c:?}");
    assert_eq!(c.get("lan_not_for_callers"), Some(&1), "{c:?}");

    // tshark dissects the LAN side as IPX in the frame type.
    let _ = capture.terminate(Duration::from_secs(5));
    let rows = tshark(
        &pcap,
        &[
            "-Y",
            "ipx",
            "-T",
            "fields",
            "-e",
            "llc.dsap",
            "-e",
            "ipx.src.net",
            "-e",
            "ipx.src.node",
            "-e",
            "ipx.dst.node",
            "-e",
            "ipx.hops",
            "-e",
            "eth.type",
        ],
    );
    let lan_node_text = lan_node.map(|b| format!("{b:02x}")).join(":");
    let from_caller = rows
        .lines()
        .find(|r| r.contains(&lan_node_text) && r.contains(&host_mac))
        .unwrap_or_else(|| panic!("the caller's packet dissected as IPX:\n{rows}"));
    let fields: Vec<&str> = from_caller.split('\t').collect();
    let (dsap, ethertype) = match ft {
        Ft::Llc8022 => ("0xe0", ""),
        Ft::Snap => ("0xaa", ""),
        Ft::EthernetII => ("", "0x8137"),
        Ft::Raw8023 => ("", ""),
    };
    assert_eq!(fields[0], dsap, "{from_caller}");
    assert_eq!(fields[5].trim(), ethertype, "{from_caller}");
    assert!(fields[1].contains("c0ffee"), "{from_caller}");
    assert_eq!(fields[2], lan_node_text, "{from_caller}");
    assert_eq!(fields[4], "2", "{from_caller}");
    assert!(rows.lines().count() >= 5, "{rows}");

    if ft != Ft::Llc8022 {
        return;
    }
    // The LAN port goes away and comes back (a NIC unplugged, a VLAN recreated): the
    // session stays up, the plugin reopens its packet socket, and the LAN reaches the
    // caller again.
    ip(&["-n", &lan_ns, "link", "del", &v_lan]);
    let a_log = || std::fs::read_to_string(a_dir.join("log")).unwrap_or_default();
    wait_until(Duration::from_secs(10), || {
        a_log().contains("closed").then_some(())
    })
    .unwrap_or_else(|| panic!("A saw its packet socket close\n{}", logs()));
    lab.veth(
        ("srv", &v_srv, "10.88.0.1/24"),
        ("lan", &v_lan, "10.88.0.2/24"),
    );
    ip(&["-n", &lan_ns, "link", "set", &v_lan, "address", &host_mac]);
    wait_until(Duration::from_secs(30), || {
        a_log().contains("reopened").then_some(())
    })
    .unwrap_or_else(|| panic!("A reopened its packet socket\n{}", logs()));
    send_frames(&lan_ns, &v_lan, vec![ft.frame(lan_node, HOST, &reply)]);
    let third = wait_until(Duration::from_secs(20), || {
        probe_lines()
            .iter()
            .filter_map(|l| l.strip_prefix("hex "))
            .filter_map(|l| l.split(' ').nth(2))
            .nth(2)
            .map(unhex)
    })
    .unwrap_or_else(|| panic!("the reply after the port came back\n{}", logs()));
    assert_eq!(third, got[0], "the same reply as before the port went away");
}
