//! Interop with a third-party PPTP implementation (issue 4), as root, in network namespaces
//! this test creates (and deletes): Debian's pptp-linux (`pptp --nolaunchpppd`, package
//! pptp-linux) is the PPTP client. It speaks the control connection (SCCRQ, OCRQ as the PNS)
//! and GRE itself and passes async-HDLC PPP on its standard input, which is the master of a
//! pty; routerd C dials over the pty's slave with the serial plugin (our PPP engine: LCP,
//! MS-CHAPv2, CCP with MPPE-128, IPCP). The PPTP server is routerd S with the pptp plugin; a
//! host sits on its LAN.
//!
//! The session comes up with MS-CHAPv2 and MPPE-128, pings go to the server's LAN address and
//! the LAN host and back, the byte counters of both daemons agree. Then the client side hangs
//! up the way pppd does with its `pty` program: pptp-linux gets SIGTERM. It sends
//! Call-Clear-Request and closes the TCP connection (no Stop-Control-Connection-Request: what
//! pptp-linux does, see `ref-pcaps/README.md`); S answers with Call-Disconnect-Notify and
//! ends its session; the pty's master closes, so C's serial link sees the hangup and ends its
//! session too; pptp-linux and its call manager exit.
//!
//! The traffic is captured in S's namespace and must dissect cleanly in tshark.
//!
//! ```text
//!  netns cli                                         netns srv                       netns lan
//!  routerd C (serial dial) =pty= pptp-linux --veth-- routerd S (pptp answer) --veth-- host
//!  dialgate0 10.79.0.1x/32       vC 198.51.100.2/24  vI 198.51.100.1/24
//!                                                    vS 10.79.0.1/24, proxy ARP      10.79.0.2/24
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use dialgate_routerd::api::{Encryption, SessionInfo};
use dialgate_routerd::users::UserStore;
use support::netns::{
    Lab, PptpServer, assert_clean_dissection, assert_counters_agree, gre_keys, ping_in,
    plugin_counters, pptp_control_rows, session_up, sessions, start_capture, wait_until,
};
use support::{Child, TempDir, accounting_stops, cargo_build, library, routerctl};

const LAN_HOST: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 2);
const LAN_ROUTER: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
/// The server's address; pptp-linux names its call manager's socket after it
/// (`/var/run/pptp/<server>:<bind>`), so no other test uses it.
const SERVER: &str = "198.51.100.1";
const CLIENT: &str = "198.51.100.2";

/// `text` without ANSI colour sequences (routerd's log colours its fields).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(ch);
        }
    }
    out
}

fn client_config(dir: &Path, socket: &Path, plugin: &Path, tty: &Path) -> String {
    format!(
        r#"
[system]
hostname = "cli"
state_dir = "{state}"
plugin_dir = "{state}"

[management]
socket = "{socket}"

[[plugin]]
name = "serial"
file = "{plugin}"

[[link]]
name = "tunnel"
plugin = "serial"
role = "dial"
credentials = {{ user = "alice", password = "correct horse battery" }}
routes = ["10.79.0.0/24"]
[[link.config.ports]]
name = "tunnel"
device = "{tty}"
role = "dial"
"#,
        state = dir.display(),
        socket = socket.display(),
        plugin = plugin.display(),
        tty = tty.display(),
    )
}

/// A raw pty pair: the master (pptp-linux's standard input) and the slave's path (routerd
/// C's serial port). The slave descriptor is held open too, so that the master does not read
/// a hangup while routerd C opens and closes the slave.
fn pty() -> (OwnedFd, OwnedFd, std::path::PathBuf) {
    use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
    let p = nix::pty::openpty(None, None).expect("openpty");
    // openpty(3) leaves both descriptors inheritable: a routerd spawned later would hold the
    // master open and never see the hangup.
    for fd in [&p.master, &p.slave] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .unwrap();
    }
    let mut t = tcgetattr(&p.slave).unwrap();
    cfmakeraw(&mut t);
    tcsetattr(&p.slave, SetArg::TCSANOW, &t).unwrap();
    let path = nix::unistd::ttyname(p.slave.as_fd()).unwrap();
    (p.master, p.slave, path)
}

/// The pids of pptp-linux's call managers for `SERVER` (it renames itself
/// "pptp: call manager for <server>").
fn call_managers() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd);
        (cmd.contains("call manager") && cmd.contains(SERVER)).then_some(pid)
    })
    .collect()
}

/// Kills (SIGKILL) the call managers left behind on drop: pptp-linux forks them, so the
/// namespace's processes are not all our children.
struct CallManagers;

impl Drop for CallManagers {
    fn drop(&mut self) {
        for pid in call_managers() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// pptp-linux names its call manager's socket after the server and the tests kill every
/// call manager for it: one test at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One run: routerd S (pptp answer) and routerd C (serial dial over a pty) in their
/// namespaces, pptp-linux between them, both sessions up with MS-CHAPv2 and MPPE-128.
struct Interop {
    /// Dropped first: routerd S and C stopped, the namespaces deleted.
    lab: Lab,
    pptp: Child,
    /// The pty's slave, held so the master reads no hangup while C reopens its port.
    slave: Option<OwnedFd>,
    capture: Child,
    pcap: PathBuf,
    pptp_log: PathBuf,
    s_dir: PathBuf,
    c_dir: PathBuf,
    s_socket: PathBuf,
    c_socket: PathBuf,
    _managers: CallManagers,
    _dir: TempDir,
    _one: std::sync::MutexGuard<'static, ()>,
}

impl Interop {
    /// Everything up: the rig, the server's session and the client's; `None` when root
    /// tests are skipped.
    fn start() -> Option<(Interop, SessionInfo, SessionInfo)> {
        if !dialgate_test_support::require_root("network namespaces, TUN and raw GRE sockets") {
            return None;
        }
        let one = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        assert!(
            Path::new("/usr/sbin/pptp").exists(),
            "pptp-linux is not installed (Debian package pptp-linux, tests/apt-packages.txt)"
        );
        cargo_build(&["dialgate-plugin-pptp", "dialgate-plugin-serial"], &[]);
        let pptp_plugin = library("dialgate_plugin_pptp");
        let serial_plugin = library("dialgate_plugin_serial");
        let dir = TempDir::new("pptp-linux");
        let managers = CallManagers;
        let lab = Lab::new("pl", &["srv", "cli", "lan"]);
        let tag = std::process::id() % 100_000;
        let (v_inet_s, v_inet_c) = (format!("dli{tag}"), format!("dlc{tag}"));
        let (v_lan_s, v_lan_l) = (format!("dls{tag}"), format!("dll{tag}"));
        lab.veth(
            ("srv", &v_inet_s, &format!("{SERVER}/24")),
            ("cli", &v_inet_c, &format!("{CLIENT}/24")),
        );
        lab.veth(
            ("srv", &v_lan_s, "10.79.0.1/24"),
            ("lan", &v_lan_l, "10.79.0.2/24"),
        );

        // Capture the PPTP traffic on the server's Internet side.
        let pcap = dir.path().join("pptp.pcapng");
        let capture = start_capture(
            &lab,
            "srv",
            &v_inet_s,
            "tcp port 1723 or ip proto 47",
            &pcap,
        );

        let (master, slave, tty) = pty();
        let s_dir = dir.path().join("s");
        let c_dir = dir.path().join("c");
        std::fs::create_dir_all(&s_dir).unwrap();
        std::fs::create_dir_all(&c_dir).unwrap();
        let s_socket = s_dir.join("routerd.sock");
        let c_socket = c_dir.join("routerd.sock");
        std::fs::write(
            s_dir.join("routerd.toml"),
            PptpServer {
                hostname: "srv",
                dir: &s_dir,
                plugin: &pptp_plugin,
                lan_if: &v_lan_s,
                lan_net: "10.79.0",
                link: "pptp-in",
                listen: &format!("{SERVER}:1723"),
                link_config: "",
            }
            .config(),
        )
        .unwrap();
        std::fs::write(
            c_dir.join("routerd.toml"),
            client_config(&c_dir, &c_socket, &serial_plugin, &tty),
        )
        .unwrap();
        let mut users = UserStore::open(&s_dir.join("users.toml")).unwrap();
        users
            .set_password("alice", "correct horse battery")
            .unwrap();
        drop(users);

        let pptp_log = dir.path().join("pptp.log");
        let mut rig = Interop {
            lab,
            pptp: Child(None),
            slave: Some(slave),
            capture,
            pcap,
            pptp_log,
            s_dir,
            c_dir,
            s_socket,
            c_socket,
            _managers: managers,
            _dir: dir,
            _one: one,
        };
        rig.lab.start_routerd(
            "srv",
            &rig.s_dir.join("routerd.toml"),
            &rig.s_dir.join("log"),
        );
        assert!(
            wait_until(Duration::from_secs(20), || rig
                .log_s()
                .contains("listening for PPTP")
                .then_some(()))
            .is_some(),
            "server listening\n{}",
            rig.logs()
        );
        rig.lab.start_routerd(
            "cli",
            &rig.c_dir.join("routerd.toml"),
            &rig.c_dir.join("log"),
        );

        // pptp-linux with the pty's master as standard input (it writes there too and closes
        // its standard output); no host route (the server is on the link).
        let pptp = rig
            .lab
            .command("cli", "/usr/sbin/pptp")
            .args([SERVER, "--nolaunchpppd", "--nohostroute", "--loglevel", "2"])
            .stdin(Stdio::from(master.try_clone().unwrap()))
            .stdout(Stdio::from(master))
            .stderr(std::fs::File::create(&rig.pptp_log).unwrap())
            .spawn()
            .expect("starting pptp (Debian package pptp-linux)");
        rig.pptp = Child(Some(pptp));

        // Both sessions up: MS-CHAPv2 authenticated, MPPE-128, an address from the LAN pool.
        let (s, c) = wait_until(Duration::from_secs(40), || {
            Some((session_up(&rig.s_socket)?, session_up(&rig.c_socket)?))
        })
        .unwrap_or_else(|| panic!("sessions up on both routerds\n{}", rig.logs()));
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(s.link, "pptp-in");
        assert_eq!(c.link, "tunnel");
        let peer = s.peer.clone().unwrap_or_default();
        assert!(
            peer.starts_with(&format!("{CLIENT}:")),
            "server-side peer {peer:?}"
        );
        let client_addr = c.ipv4.unwrap();
        assert_eq!(s.ipv4, Some(client_addr));
        assert!(
            (Ipv4Addr::new(10, 79, 0, 10)..=Ipv4Addr::new(10, 79, 0, 20)).contains(&client_addr)
        );
        for x in [&s, &c] {
            assert_eq!(
                x.encryption,
                Encryption::Mppe {
                    bits: 128,
                    stateless: true
                },
                "{}",
                rig.logs()
            );
        }
        Some((rig, s, c))
    }

    fn log_s(&self) -> String {
        plain(&std::fs::read_to_string(self.s_dir.join("log")).unwrap_or_default())
    }

    fn log_c(&self) -> String {
        plain(&std::fs::read_to_string(self.c_dir.join("log")).unwrap_or_default())
    }

    /// Every log, for failure messages.
    fn logs(&self) -> String {
        format!(
            "--- routerd S (server):\n{}\n--- routerd C (client):\n{}\n--- pptp-linux:\n{}",
            self.log_s(),
            self.log_c(),
            std::fs::read_to_string(&self.pptp_log).unwrap_or_default()
        )
    }

    /// Stops routerd S and C (cleanly), then the capture.
    fn stop(&mut self) {
        let processes: Vec<Child> = self.lab.processes.drain(..).collect();
        for mut p in processes {
            let status = p.terminate(Duration::from_secs(15)).expect("routerd exits");
            assert!(status.success(), "{status}\n{}", self.logs());
        }
        std::thread::sleep(Duration::from_millis(500));
        self.capture
            .terminate(Duration::from_secs(10))
            .expect("dumpcap exits");
    }
}

#[test]
fn pptp_linux_client_with_our_ppp_engine_on_its_stdio() {
    let Some((mut rig, s, c)) = Interop::start() else {
        return;
    };
    let peer = s.peer.clone().unwrap_or_default();
    let client_addr = c.ipv4.unwrap();
    let (s_socket, c_socket) = (rig.s_socket.clone(), rig.c_socket.clone());
    // Through the tunnel: the server's LAN address, the LAN host, and back.
    let cli_ns = rig.lab.ns("cli").to_owned();
    let lan_ns = rig.lab.ns("lan").to_owned();
    let pings = 5;
    assert_eq!(
        ping_in(&cli_ns, client_addr, LAN_ROUTER, pings),
        pings,
        "echo replies from the server's LAN address\n{}",
        rig.logs()
    );
    assert_eq!(
        ping_in(&cli_ns, client_addr, LAN_HOST, pings),
        pings,
        "echo replies from the LAN host\n{}",
        rig.logs()
    );
    assert_eq!(
        ping_in(&lan_ns, LAN_HOST, client_addr, pings),
        pings,
        "echo replies from the client to the LAN host\n{}",
        rig.logs()
    );

    // The counters agree: IP octets and packets one side sent, the other received. 3 x 5
    // echo packets of 84 octets (20 IP + 8 ICMP + 56 data) each way.
    let (ts, tc) = assert_counters_agree(&s_socket, &c_socket, u64::from(3 * pings));
    assert_eq!(ts.bytes_in, 15 * 84, "{ts:?} {tc:?}");
    assert_eq!(ts.bytes_out, 15 * 84, "{ts:?} {tc:?}");
    assert_eq!(ts.packets_in, 15, "{ts:?} {tc:?}");

    // The server's pptp plugin carried it all: one call, GRE both ways, nothing dropped as
    // malformed, spoofed, duplicate or late (the counters are published once a second).
    let drops = [
        "control_malformed",
        "control_unknown_type",
        "control_out_of_state",
        "control_unknown_call",
        "gre_bad_ip",
        "gre_bad_version",
        "gre_bad_flags",
        "gre_bad_protocol",
        "gre_malformed",
        "gre_unknown_call",
        "gre_spoofed_source",
        "gre_duplicate",
        "gre_late",
        "gre_no_room",
        "gre_bad_ack",
        "rx_refused",
        "tx_errors",
        "tx_no_call",
    ];
    let during = wait_until(Duration::from_secs(5), || {
        let c = plugin_counters(&s_socket, "pptp-in");
        let n = |k: &str| c.get(k).copied().unwrap_or(0);
        (n("calls") == 1 && n("rx_frames") >= 15 && n("tx_frames") >= 15).then_some(c)
    })
    .unwrap_or_else(|| {
        panic!(
            "the pptp plugin's counters: {:?}",
            plugin_counters(&s_socket, "pptp-in")
        )
    });
    eprintln!("server pptp counters with the session up: {during:?}");
    for k in drops {
        assert_eq!(during.get(k), Some(&0), "{k} in {during:?}");
    }
    assert_eq!(during.get("connections"), Some(&1), "{during:?}");

    // The client side hangs up as pppd does with its pty program: SIGTERM to pptp-linux.
    let status = rig
        .pptp
        .terminate(Duration::from_secs(15))
        .unwrap_or_else(|| panic!("pptp-linux exits on SIGTERM\n{}", rig.logs()));
    assert!(
        status.success(),
        "pptp-linux exits cleanly: {status}\n{}",
        rig.logs()
    );
    // From here on the master is closed: C's serial link reads the hangup.
    drop(rig.slave.take());
    // S: the call cleared by the peer, then the TCP close, and the session ends for that
    // reason. C: the pty hung up under its serial link, its session ends as carrier lost.
    let torn_down = wait_until(Duration::from_secs(20), || {
        let (s, c) = (rig.log_s(), rig.log_c());
        (s.contains("down: the peer cleared the call (Call-Clear-Request)")
            && s.contains(&format!("control connection {peer} the peer closed the TCP connection"))
            && s.contains(
                "session ended reason=lower layer down (PeerHangup: the peer cleared the call (Call-Clear-Request))",
            )
            && c.contains("session ended reason=lower layer down (CarrierLost: "))
        .then_some(())
    });
    assert!(
        torn_down.is_some(),
        "teardown reported on both sides\n{}",
        rig.logs()
    );
    // pptp-linux did not stop the control connection (it only closes TCP): S saw no
    // Stop-Control-Connection-Request.
    assert!(
        !rig.log_s().contains("stopped by the peer"),
        "{}",
        rig.logs()
    );
    // Both sessions ended, and the call managers pptp-linux forked are gone.
    assert!(
        wait_until(Duration::from_secs(10), || {
            (sessions(&s_socket).is_empty() && sessions(&c_socket).is_empty()).then_some(())
        })
        .is_some(),
        "both sessions ended\n{}",
        rig.logs()
    );
    assert!(
        wait_until(Duration::from_secs(10), || call_managers()
            .is_empty()
            .then_some(()))
        .is_some(),
        "pptp-linux's call manager exits: {:?}",
        call_managers()
    );
    // Still one call in all (`calls` counts calls that came up), and the teardown dropped
    // nothing either.
    let after = plugin_counters(&s_socket, "pptp-in");
    assert_eq!(after.get("calls"), Some(&1), "{after:?}");
    for k in drops {
        assert_eq!(after.get(k), Some(&0), "{k} in {after:?}");
    }
    rig.stop();

    // Clean dissection of both implementations' packets.
    assert_clean_dissection(&rig.pcap);
    let (rows, control) = pptp_control_rows(&rig.pcap);
    eprintln!("control messages (src, type, call, peer call, reason, result):\n{control}");
    let types: BTreeSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    for (src, kind) in [
        (CLIENT, "1"),  // Start-Control-Connection-Request
        (SERVER, "2"),  // Start-Control-Connection-Reply
        (CLIENT, "7"),  // Outgoing-Call-Request
        (SERVER, "8"),  // Outgoing-Call-Reply
        (CLIENT, "12"), // Call-Clear-Request
        (SERVER, "13"), // Call-Disconnect-Notify
    ] {
        assert!(
            types.contains(&(src, kind)),
            "type {kind} from {src} in\n{control}"
        );
    }
    let ocrq = rows.iter().find(|r| r[1] == "7").unwrap();
    let ocrp = rows.iter().find(|r| r[1] == "8").unwrap();
    let (client_call, server_call) = (ocrq[2].as_str(), ocrp[2].as_str());
    assert_eq!(ocrp[3], client_call, "OCRP's Peer Call ID is the OCRQ's");
    let cdn = rows.iter().find(|r| r[1] == "13").unwrap();
    assert_eq!(cdn[2], server_call, "CDN carries the server's Call ID");
    // Result 4: disconnected by the Call-Clear-Request (RFC 2637 §2.13).
    assert_eq!(cdn[5], "4", "CDN result code");
    // GRE both ways, keyed with the receiver's Call ID (RFC 2637 §4.1).
    let gre = gre_keys(&rig.pcap);
    let keys: BTreeSet<(&str, &str)> = gre.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert!(
        keys.contains(&(CLIENT, server_call)),
        "client -> server GRE: {keys:?}"
    );
    assert!(
        keys.contains(&(SERVER, client_call)),
        "server -> client GRE: {keys:?}"
    );
    assert!(gre.len() >= 30, "{} GRE packets", gre.len());
}

/// Our PPP engine on pptp-linux's stdio ends the session: routerd C's session is killed, so
/// its engine sends LCP Terminate-Request (RFC 1661 §5.5) through pptp-linux's GRE. S acks it
/// and ends its session as terminated by the peer (after its restart timer, RFC 1661 §4.3
/// event RTR), clears the call with Call-Disconnect-Notify (S is the PAC, RFC 2637 §2.13),
/// pptp-linux closes the control connection and exits, and S's accounting records the
/// session's end with its reason and traffic.
#[test]
fn our_engine_ends_the_session_through_pptp_linux_with_lcp_terminate_rfc1661_5_5() {
    let Some((mut rig, s, c)) = Interop::start() else {
        return;
    };
    let peer = s.peer.clone().unwrap_or_default();
    let client_addr = c.ipv4.unwrap();
    let cli_ns = rig.lab.ns("cli").to_owned();
    let pings = 3;
    assert_eq!(
        ping_in(&cli_ns, client_addr, LAN_ROUTER, pings),
        pings,
        "echo replies from the server's LAN address\n{}",
        rig.logs()
    );

    // C's engine ends the session: LCP Terminate-Request, through pptp-linux.
    let (code, _) = routerctl(&rig.c_socket, &["sessions", "kill", &c.id.to_string()], "");
    assert_eq!(code, 0, "routerctl sessions kill");
    let torn_down = wait_until(Duration::from_secs(30), || {
        let log = rig.log_s();
        (log.contains("session ended reason=peer terminated the link")
            && log.contains(&format!("with {peer} down: call cleared"))
            && log.contains(&format!(
                "control connection {peer} the peer closed the TCP connection"
            )))
        .then_some(())
    });
    assert!(
        torn_down.is_some(),
        "S: session ended by the peer's Terminate-Request, call cleared, control connection stopped\n{}",
        rig.logs()
    );
    // C's session ended (the link may dial again: a new session).
    assert!(
        sessions(&rig.c_socket).iter().all(|x| x.id != c.id),
        "C's session ended\n{}",
        rig.logs()
    );
    // pptp-linux exits by itself once its call is gone, and so do its call managers.
    let exited = wait_until(Duration::from_secs(20), || {
        rig.pptp.0.as_mut()?.try_wait().ok().flatten()
    });
    assert!(exited.is_some(), "pptp-linux exits\n{}", rig.logs());
    assert!(
        wait_until(Duration::from_secs(10), || call_managers()
            .is_empty()
            .then_some(()))
        .is_some(),
        "pptp-linux's call manager exits: {:?}",
        call_managers()
    );
    assert!(
        wait_until(Duration::from_secs(10), || sessions(&rig.s_socket)
            .is_empty()
            .then_some(()))
        .is_some(),
        "S has no session left\n{}",
        rig.logs()
    );
    let counters = plugin_counters(&rig.s_socket, "pptp-in");
    assert_eq!(counters.get("calls"), Some(&1), "{counters:?}");
    drop(rig.slave.take());
    rig.stop();

    // On the wire: the Call-Disconnect-Notify came from S, with S's Call ID (RFC 2637 §2.13);
    // pptp-linux then closed the TCP connection without Stop-Control-Connection-Request, as
    // it does after SIGTERM.
    assert_clean_dissection(&rig.pcap);
    let (rows, control) = pptp_control_rows(&rig.pcap);
    eprintln!("control messages (src, type, call, peer call, reason, result):\n{control}");
    let ocrp = rows.iter().find(|r| r[1] == "8").unwrap();
    let cdn = rows
        .iter()
        .find(|r| r[0] == SERVER && r[1] == "13")
        .unwrap_or_else(|| panic!("a Call-Disconnect-Notify from S in\n{control}"));
    assert_eq!(cdn[2], ocrp[2], "CDN carries S's Call ID");
    assert!(
        !rows.iter().any(|r| r[0] == CLIENT && r[1] == "3"),
        "no Stop-Control-Connection-Request from pptp-linux in\n{control}"
    );
    assert!(
        !rows.iter().any(|r| r[0] == CLIENT && r[1] == "12"),
        "pptp-linux did not clear the call itself (S did)\n{control}"
    );

    // S's accounting: the session's stop record with the reason and its traffic.
    let stop = accounting_stops(&rig.s_dir)
        .into_iter()
        .find(|x| x.session == s.id)
        .unwrap_or_else(|| {
            panic!(
                "a stop record for session {} in S's accounting\n{}",
                s.id,
                rig.logs()
            )
        });
    assert_eq!(stop.user, "alice");
    assert_eq!(stop.link, "pptp-in");
    assert_eq!(stop.ipv4, Some(client_addr));
    assert_eq!(stop.reason, "peer terminated the link", "{stop:?}");
    assert!(
        stop.packets_in >= u64::from(pings) && stop.packets_out >= u64::from(pings),
        "{stop:?}"
    );
}
