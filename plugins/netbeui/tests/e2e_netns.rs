//! End to end, as root, in a network namespace this test creates: two routerd daemons joined
//! by a pty null-modem cable (the serial plugin), the office's answering a call and the
//! caller's dialling it (routerd itself is the PPP caller, as in routerd's `e2e_serial`).
//! Both load the netbeui plugin, so NBFCP (RFC 2097) is negotiated on the call, and each has
//! a LAN: the office LAN `nbo0` (the test plays its file server `FILESRV` on the veth peer
//! `nbo1`) and the caller's LAN `nbc0` (the test plays the remote workstation `ALICEPC` on
//! `nbc1`). Linux has no NetBEUI stack, so the test crafts NBF frames on raw packet sockets:
//!
//! 1. A NAME_QUERY for `ALICEPC` broadcast on the office LAN reaches the caller's LAN: the
//!    office sees the caller's names.
//! 2. The workstation's NAME_RECOGNIZED answer reaches the file server, unicast, from the
//!    caller's own LAN MAC, with LLC SAPs 0xF0; `tshark` dissects it as NetBIOS.
//! 3. The workstation's NAME_QUERY for `FILESRV` reaches the office LAN from the caller's
//!    MAC, and the server's NAME_RECOGNIZED comes back to the workstation: the caller sees
//!    the office's names.
//! 4. The office LAN port is deleted and created again: the plugin reopens it and frames
//!    flow again.
//!
//! Needs root (CI runs as root); skipped without it only if `DIALGATE_SKIP_ROOT_TESTS=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialgate_plugin_netbeui::wire::netbios::{self, Addressing};
use dialgate_plugin_netbeui::wire::{MacAddr, NbfFrame, ethernet, llc};
use dialgate_routerd::config::Document;
use dialgate_routerd::daemon::{Daemon, Options};
use dialgate_routerd::users::UserStore;
use dialgate_test_support::{PtyCable, TempDir, cargo_build, library, require_root};

/// The office daemon's first caller MAC (its session is in slot 0).
const OFFICE_CALLER_MAC: MacAddr = MacAddr([0x02, 0x4e, 0x42, 0x00, 0x00, 0x00]);
/// The caller daemon's MAC for its session on the caller's LAN.
const REMOTE_SIDE_MAC: MacAddr = MacAddr([0x02, 0x4e, 0x42, 0x01, 0x00, 0x00]);
/// The file server on the office LAN.
const FILESRV_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x0a, 0x01]);
/// The remote workstation on the caller's LAN.
const ALICEPC_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x0b, 0x01]);

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A veth pair `a`/`b`, both up, `b` (the test's station) with MAC `mac`.
fn veth_pair(a: &str, b: &str, mac: MacAddr) {
    ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
    ip(&["link", "set", b, "address", &mac.to_string()]);
    ip(&["link", "set", a, "up"]);
    ip(&["link", "set", b, "up"]);
}

/// A network namespace, deleted on drop.
struct NetNs(String);

impl NetNs {
    fn new() -> NetNs {
        let name = format!("dgnbf-{}", std::process::id());
        ip(&["netns", "add", &name]);
        NetNs(name)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A raw packet socket on one interface for 802.2 LLC frames (the test's LAN station).
struct Station {
    fd: OwnedFd,
}

impl Station {
    fn open(interface: &str) -> Station {
        let protocol = 0x0004u16.to_be(); // ETH_P_802_2
        // SAFETY: plain socket(2); the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::c_int::from(protocol),
            )
        };
        assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let one: libc::c_int = 1;
        // SAFETY: an int option from a live int.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "PACKET_IGNORE_OUTGOING");
        let name = std::ffi::CString::new(interface).unwrap();
        // SAFETY: a NUL-terminated string living for the call.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert!(index > 0, "no interface {interface}");
        // SAFETY: sockaddr_ll is plain old data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        sll.sll_protocol = protocol;
        sll.sll_ifindex = index as libc::c_int;
        // SAFETY: binds our descriptor to a live sockaddr_ll.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
        Station { fd }
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: sends a live buffer on our bound descriptor.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(
            n,
            frame.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// The next frame within `wait`.
    fn recv(&self, wait: Duration) -> Option<Vec<u8>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: polls one live pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r <= 0 {
            return None;
        }
        let mut buf = vec![0u8; 2048];
        // SAFETY: receives into a live buffer of that length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        let n = usize::try_from(n).ok()?;
        buf.truncate(n);
        Some(buf)
    }

    /// The first frame within `wait` for which `want` holds (others are skipped).
    fn recv_matching(&self, wait: Duration, want: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.recv(left) {
                Some(f) if want(&f) => return Some(f),
                Some(_) => continue,
                None => return None,
            }
        }
        None
    }
}

/// An LLC UI PDU with a name-addressed NetBIOS header.
fn nbf_ui(command: netbios::Command, dest: &str, source: &str, xmit: u16, resp: u16) -> Vec<u8> {
    let llc = llc::Repr {
        dsap: llc::SAP_NETBIOS,
        ssap: llc::SAP_NETBIOS,
        response: false,
        control: llc::Control::Unnumbered {
            modifier: llc::UI,
            poll: false,
        },
    };
    let nb = netbios::Repr {
        command,
        data1: 0,
        data2: 0,
        xmit_correlator: xmit,
        resp_correlator: resp,
        addressing: Addressing::Names {
            dest: netbios::name(dest, 0x20),
            source: netbios::name(source, 0x20),
        },
    };
    let mut pdu = vec![0u8; llc.buffer_len() + nb.buffer_len()];
    let (l, n) = pdu.split_at_mut(llc.buffer_len());
    llc.emit(l).unwrap();
    nb.emit(n).unwrap();
    pdu
}

/// An 802.3 frame (padded to 60 octets, as a NIC would).
fn lan_frame(dst: MacAddr, src: MacAddr, pdu: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN];
    ethernet::Repr {
        dst,
        src,
        payload_len: pdu.len(),
    }
    .emit(&mut f)
    .unwrap();
    f.extend_from_slice(pdu);
    f.resize(f.len().max(ethernet::MIN_FRAME), 0);
    f
}

/// The NetBIOS command and names of an 802.3 NBF frame, if it is one.
fn nbf_of(frame: &[u8]) -> Option<(MacAddr, MacAddr, netbios::Repr, Vec<u8>)> {
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    let nbf = NbfFrame::parse(eth.payload()).ok()?;
    Some((eth.dst(), eth.src(), nbf.netbios?, eth.payload().to_vec()))
}

fn is_command(frame: &[u8], command: netbios::Command) -> bool {
    nbf_of(frame).is_some_and(|(_, _, h, _)| h.command == command)
}

/// Writes `frames` as a classic pcap file (Ethernet link type).
fn write_pcap(path: &std::path::Path, frames: &[&[u8]]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    File::create(path).unwrap().write_all(&out).unwrap();
}

fn plugins() -> (PathBuf, PathBuf) {
    cargo_build(&["dialgate-plugin-serial", "dialgate-plugin-netbeui"], &[]);
    (
        library("dialgate_plugin_serial"),
        library("dialgate_plugin_netbeui"),
    )
}

fn head(dir: &TempDir, serial: &Path, netbeui: &Path, lan: &str, mac_base: &str) -> String {
    format!(
        r#"
[system]
state_dir = "{state}"
plugin_dir = "/nonexistent"
drop_capabilities = false

[management]
socket = "{state}/routerd.sock"

[ppp]
echo_interval_secs = 0

[[pool]]
name = "office"
ranges = ["192.0.2.100-192.0.2.109"]
local_address = "192.0.2.1"

[[plugin]]
name = "serial"
file = "{serial}"

[[plugin]]
name = "netbeui"
file = "{netbeui}"
[plugin.config]
interface = "{lan}"
mac_base = "{mac_base}"
multicast_burst = 100
"#,
        state = dir.path().display(),
        serial = serial.display(),
        netbeui = netbeui.display(),
    )
}

async fn start(dir: &TempDir, text: &str) -> Arc<Daemon> {
    let doc = Document::parse("test.toml", text).expect("valid test configuration");
    let mut users = UserStore::open(&dir.path().join("users.toml")).unwrap();
    users.set_password("alice", "correct horse").unwrap();
    drop(users);
    let options = Options {
        no_dataplane: true,
        state_dir: Some(dir.path().to_path_buf()),
    };
    Daemon::start(&doc, options).await.unwrap()
}

fn counter(daemon: &Daemon, name: &str) -> u64 {
    let counters = daemon.router.stats.plugin_counters.lock().unwrap();
    counters
        .iter()
        .filter(|((plugin, _, n), _)| plugin == "netbeui" && n == name)
        .map(|(_, v)| *v)
        .sum()
}

/// Sends `frame` from `from` every half second until `to` sees a frame `want` accepts.
fn until_seen(
    from: &Station,
    frame: &[u8],
    to: &Station,
    want: impl Fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        from.send(frame);
        if let Some(f) = to.recv_matching(Duration::from_millis(500), &want) {
            return Some(f);
        }
    }
    None
}

#[test]
fn nbf_frames_cross_a_ppp_call_between_two_lans_rfc2097() {
    if !require_root("a network namespace, veth pairs and packet sockets") {
        return;
    }
    let (serial, netbeui) = plugins();
    let ns = NetNs::new();
    let path = format!("/run/netns/{}", ns.0);
    let body = std::thread::spawn(move || {
        let file = File::open(&path).unwrap();
        // SAFETY: setns on a namespace file this thread opened; only this thread moves, and
        // the runtime threads it starts below are born in the namespace.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}");
        for (a, b, mac) in [("nbo0", "nbo1", FILESRV_MAC), ("nbc0", "nbc1", ALICEPC_MAC)] {
            veth_pair(a, b, mac);
        }
        let office_lan = Station::open("nbo1");
        let remote_lan = Station::open("nbc1");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let cable = PtyCable::new();
            let office_dir = TempDir::new("nbf-office");
            let remote_dir = TempDir::new("nbf-remote");
            let office = format!(
                "{}\n[[link]]\nname = \"srv\"\nplugin = \"serial\"\nrole = \"answer\"\n\
                 pool = \"office\"\n[[link.config.ports]]\nname = \"srv\"\ndevice = \"{}\"\n",
                head(&office_dir, &serial, &netbeui, "nbo0", "02:4e:42:00:00:00"),
                cable.a().display()
            );
            let remote = format!(
                "{}\n[[link]]\nname = \"cli\"\nplugin = \"serial\"\nrole = \"dial\"\n\
                 credentials = {{ user = \"alice\", password = \"correct horse\" }}\n\
                 [[link.config.ports]]\nname = \"cli\"\ndevice = \"{}\"\nrole = \"dial\"\n",
                head(&remote_dir, &serial, &netbeui, "nbc0", "02:4e:42:01:00:00"),
                cable.b().display()
            );
            let office = start(&office_dir, &office).await;
            let remote = start(&remote_dir, &remote).await;
            let (o, r) = (office.clone(), remote.clone());
            let checks = tokio::task::spawn_blocking(move || {
                // 1. The file server asks for the caller's name: the query crosses the call
                // (once NBFCP is open on both ends) and appears on the caller's LAN, from the
                // caller side's LAN MAC, as it was.
                let query = nbf_ui(netbios::Command::NameQuery, "alicepc", "filesrv", 0, 0x5151);
                let sent = lan_frame(MacAddr::NETBIOS_MULTICAST, FILESRV_MAC, &query);
                let got = until_seen(&office_lan, &sent, &remote_lan, |f| {
                    is_command(f, netbios::Command::NameQuery)
                })
                .expect("the office's NAME_QUERY reaches the caller's LAN within 60 s");
                let (dst, src, _, pdu) = nbf_of(&got).unwrap();
                assert_eq!(dst, MacAddr::NETBIOS_MULTICAST);
                assert_eq!(src, REMOTE_SIDE_MAC);
                assert_eq!(pdu, query, "LLC and NetBIOS header unchanged across PPP");

                // 2. The workstation answers, unicast to the MAC it saw; the answer reaches
                // the file server from the caller's own MAC on the office LAN.
                let answer = nbf_ui(
                    netbios::Command::NameRecognized,
                    "filesrv",
                    "alicepc",
                    0x5151,
                    0x77,
                );
                remote_lan.send(&lan_frame(REMOTE_SIDE_MAC, ALICEPC_MAC, &answer));
                let got = office_lan
                    .recv_matching(Duration::from_secs(20), |f| {
                        is_command(f, netbios::Command::NameRecognized)
                    })
                    .expect("NAME_RECOGNIZED reaches the office LAN");
                let (dst, src, header, pdu) = nbf_of(&got).unwrap();
                assert_eq!(dst, FILESRV_MAC, "unicast back to the querier");
                assert_eq!(
                    src, OFFICE_CALLER_MAC,
                    "from the caller's MAC on the office LAN"
                );
                assert_eq!(&got[14..16], &[0xF0, 0xF0], "LLC DSAP and SSAP 0xF0");
                assert_eq!(header.xmit_correlator, 0x5151);
                assert_eq!(pdu, answer);

                // 3. The workstation looks for the file server: its NAME_QUERY appears on the
                // office LAN from the caller's MAC, and the server's unicast answer comes
                // back to the workstation through the call.
                let query = nbf_ui(netbios::Command::NameQuery, "filesrv", "alicepc", 0, 0x6161);
                remote_lan.send(&lan_frame(MacAddr::NETBIOS_MULTICAST, ALICEPC_MAC, &query));
                let seen = office_lan
                    .recv_matching(Duration::from_secs(20), |f| {
                        is_command(f, netbios::Command::NameQuery)
                    })
                    .expect("the caller's NAME_QUERY reaches the office LAN");
                let (dst, src, _, pdu) = nbf_of(&seen).unwrap();
                assert_eq!((dst, src), (MacAddr::NETBIOS_MULTICAST, OFFICE_CALLER_MAC));
                assert_eq!(pdu, query);
                let answer = nbf_ui(
                    netbios::Command::NameRecognized,
                    "alicepc",
                    "filesrv",
                    0x6161,
                    0x88,
                );
                office_lan.send(&lan_frame(OFFICE_CALLER_MAC, FILESRV_MAC, &answer));
                let back = remote_lan
                    .recv_matching(Duration::from_secs(20), |f| {
                        is_command(f, netbios::Command::NameRecognized)
                    })
                    .expect("the file server's NAME_RECOGNIZED reaches the workstation");
                let (dst, src, _, pdu) = nbf_of(&back).unwrap();
                assert_eq!((dst, src), (ALICEPC_MAC, REMOTE_SIDE_MAC));
                assert_eq!(pdu, answer);

                // 4. The office LAN port goes away and comes back (a new interface of the
                // same name): the plugin reopens it and the call carries NBF again.
                drop(office_lan);
                ip(&["link", "del", "nbo0"]);
                std::thread::sleep(Duration::from_millis(1500));
                veth_pair("nbo0", "nbo1", FILESRV_MAC);
                let office_lan = Station::open("nbo1");
                let query = nbf_ui(netbios::Command::NameQuery, "alicepc", "filesrv", 0, 0x7171);
                let sent = lan_frame(MacAddr::NETBIOS_MULTICAST, FILESRV_MAC, &query);
                let again = until_seen(&office_lan, &sent, &remote_lan, |f| {
                    nbf_of(f).is_some_and(|(_, _, h, _)| h.resp_correlator == 0x7171)
                });
                assert!(
                    again.is_some(),
                    "NBF flows again after the LAN port came back"
                );
                got
            })
            .await
            .unwrap();

            // tshark dissects the caller's frame on the office LAN as NetBIOS over LLC.
            let pcap = office_dir.path().join("office-lan.pcap");
            write_pcap(&pcap, &[&checks]);
            let out = Command::new("tshark")
                .args(["-r"])
                .arg(&pcap)
                .args([
                    "-T",
                    "fields",
                    "-E",
                    "separator=|",
                    "-e",
                    "eth.src",
                    "-e",
                    "llc.dsap",
                    "-e",
                    "llc.ssap",
                    "-e",
                    "netbios.command",
                    "-e",
                    "_ws.col.Protocol",
                    "-e",
                    "_ws.col.Info",
                ])
                .output()
                .expect("running tshark (tests/apt-packages.txt)");
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(
                out.status.success(),
                "tshark: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let fields: Vec<&str> = text.trim().split('|').collect();
            assert_eq!(fields.first().copied(), Some("02:4e:42:00:00:00"), "{text}");
            assert_eq!(fields.get(1).copied(), Some("0xf0"), "{text}");
            assert_eq!(fields.get(2).copied(), Some("0xf0"), "{text}");
            assert_eq!(fields.get(3).copied(), Some("0x0e"), "{text}");
            assert_eq!(fields.get(4).copied(), Some("NetBIOS"), "{text}");
            assert!(text.contains("Name Recognized"), "{text}");

            // Both plugins counted what they forwarded (published once a second).
            let counted = || {
                counter(&office, "multicast_forwarded") >= 1
                    && counter(&office, "to_lan") >= 1
                    && counter(&remote, "to_lan") >= 1
                    && counter(&remote, "to_sessions") >= 1
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            while !counted() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(
                counted(),
                "{:?}",
                office.router.stats.plugin_counters.lock().unwrap()
            );
            o.shutdown("test over").await;
            r.shutdown("test over").await;
            drop(cable);
        });
    });
    body.join().expect("the namespace test body");
}
