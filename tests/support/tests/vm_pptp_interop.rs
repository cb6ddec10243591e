//! Interop with the real Linux PPTP stack (issue 4), as root: pppd 2.4.9, pptp-linux 1.10.0 and
//! pptpd 1.4.0 run in the interop VM (Debian's kernel with ppp_generic, ppp_async and
//! ppp_mppe, see `tests/vm/README.md`); routerd with the pptp plugin runs in the namespace that
//! holds the VM's tap. MS-CHAPv2 (RFC 2759) and MPPE-128 (RFC 3078/3079), stateless, are
//! required on both sides.
//!
//! ```text
//!  netns srv/cli (this test's)                          interop VM (QEMU, TCG)
//!  routerd + pptp plugin, tap0 10.77.9.1/24 <-- tap --> eth0 10.77.9.2/24
//!   (a) answer on 10.77.9.1:1723                          pppd + pptp-linux dial 10.77.9.1
//!       pool 10.78.0.10-20, LAN vS 10.78.0.1/24 -- netns lan vL 10.78.0.2/24
//!   (b) dial 10.77.9.2                                    pptpd, local 10.79.0.1,
//!                                                         remote 10.79.0.10-20
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dialgate_routerd::api::{Encryption, SessionInfo, SessionState};
use dialgate_routerd::users::UserStore;
use dialgate_test_support::require_root;
use dialgate_test_support::vm::{Netns, Vm, VmImage, VmOptions};

const HOST: Ipv4Addr = Ipv4Addr::new(10, 77, 9, 1);
const GUEST: Ipv4Addr = Ipv4Addr::new(10, 77, 9, 2);
const LAN_ROUTER: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const LAN_HOST: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);
const PPTPD_LOCAL: Ipv4Addr = Ipv4Addr::new(10, 79, 0, 1);
const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery";
const SECOND: Duration = Duration::from_secs(1);

/// The profile directory this test executable was built in (`target/<profile>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// Builds routerd, routerctl and the pptp plugin into this build's target directory and
/// profile (one cargo at a time), so the plugin links the same ABI crates as the host.
fn build_routerd_and_plugin() {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let profile_dir = profile_dir();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(other) => other.to_owned(),
        None => panic!("odd profile directory {}", profile_dir.display()),
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for args in [
        &["-p", "dialgate-plugin-pptp"][..],
        &["-p", "dialgate-routerd", "--bins"][..],
    ] {
        let status = Command::new(env!("CARGO"))
            .current_dir(&workspace)
            .args(["build", "--quiet", "--profile", &profile, "--target-dir"])
            .arg(profile_dir.parent().unwrap())
            .args(args)
            .status()
            .expect("running cargo build");
        assert!(status.success(), "cargo build {args:?}: {status}");
    }
}

/// A routerd process in a namespace, stopped (SIGTERM, then SIGKILL) on drop.
struct Routerd {
    child: Option<std::process::Child>,
    dir: PathBuf,
}

impl Routerd {
    fn socket(&self) -> PathBuf {
        self.dir.join("routerd.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Starts routerd in `ns` with `config` (in which `{dir}` names its state directory).
    fn start(ns: &Netns, dir: PathBuf, config: &str) -> Routerd {
        let path = dir.join("routerd.toml");
        std::fs::write(&path, config.replace("{dir}", &dir.display().to_string())).unwrap();
        let log = std::fs::File::create(dir.join("log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(profile_dir().join("routerd"))
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting routerd");
        Routerd {
            child: Some(child),
            dir,
        }
    }

    /// `routerctl --json sessions`.
    fn sessions(&self) -> Vec<SessionInfo> {
        let out = Command::new(profile_dir().join("routerctl"))
            .arg("--socket")
            .arg(self.socket())
            .args(["--json", "sessions"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .expect("running routerctl");
        if !out.status.success() {
            return Vec::new();
        }
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    }

    /// The first session that is up with an IPv4 address.
    fn up(&self) -> Option<SessionInfo> {
        self.sessions()
            .into_iter()
            .find(|s| s.state == SessionState::Up && s.ipv4.is_some())
    }

    /// Stops routerd with SIGTERM and returns whether it exited successfully within 15 s.
    fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + 15 * SECOND;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for Routerd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `f` every 100 ms until it returns `Some` or `timeout` passes.
fn wait_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
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

/// A fresh state directory for one routerd, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("dialgate-vm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The guest's syslog (pppd, pptpd, pptp-linux log there).
fn guest_log(vm: &mut Vm) -> String {
    vm.run("cat /var/log/messages", 20 * SECOND)
        .map(|o| o.output)
        .unwrap_or_else(|e| e.to_string())
}

const MPPE_128_STATELESS: Encryption = Encryption::Mppe {
    bits: 128,
    stateless: true,
};

const SERVER_CONFIG: &str = r#"
[system]
hostname = "srv"
state_dir = "{dir}"
plugin_dir = "{dir}"

[management]
socket = "{dir}/routerd.sock"

[ppp]
auth_methods = ["mschap-v2"]
allow_insecure_no_encryption = false

[lan]
interface = "vS"
proxy_arp = true

[[pool]]
name = "lan"
ranges = ["10.78.0.10-10.78.0.20"]
local_address = "10.78.0.1"

[[plugin]]
name = "pptp"
file = "{plugin}"

[[link]]
name = "pptp-in"
plugin = "pptp"
role = "answer"
pool = "lan"
[link.config]
listen = ["10.77.9.1:1723"]
"#;

/// pppd + pptp-linux in the VM, as the pptp-linux documentation sets them up: pppd runs
/// `pptp --nolaunchpppd` on a pty. pppd's defaults: MPPE stateless.
const CLIENT_PEER: &str = "pty \"pptp 10.77.9.1 --nolaunchpppd\"\n\
name alice\n\
remotename srv\n\
require-mschap-v2\n\
require-mppe-128\n\
refuse-pap\n\
refuse-chap\n\
refuse-mschap\n\
refuse-eap\n\
noauth\n\
nobsdcomp\n\
nodeflate\n\
defaultroute\n\
maxfail 1\n\
debug\n";

#[test]
fn linux_pppd_pptp_client_pings_routerd_lan_mschapv2_mppe128() {
    if !require_root("network namespaces, a tap device, TUN and raw GRE sockets") {
        return;
    }
    let image = VmImage::require();
    build_routerd_and_plugin();
    let plugin = profile_dir().join("libdialgate_plugin_pptp.so");

    let srv = Netns::new("srv").unwrap();
    let lan = Netns::new("lan").unwrap();
    srv.add_tap("tap0", HOST, 24).unwrap();
    srv.ip(&[
        "link",
        "add",
        "vS",
        "type",
        "veth",
        "peer",
        "name",
        "vL",
        "netns",
        lan.name(),
    ])
    .unwrap();
    srv.ip(&["addr", "add", "10.78.0.1/24", "dev", "vS"])
        .unwrap();
    srv.ip(&["link", "set", "vS", "up"]).unwrap();
    lan.ip(&["addr", "add", "10.78.0.2/24", "dev", "vL"])
        .unwrap();
    lan.ip(&["link", "set", "vL", "up"]).unwrap();
    lan.ip(&["route", "add", "default", "via", "10.78.0.1"])
        .unwrap();

    let dir = TempDir::new("srv");
    let mut users = UserStore::open(&dir.0.join("users.toml")).unwrap();
    users.set_password(USER, PASSWORD).unwrap();
    drop(users);
    let config = SERVER_CONFIG.replace("{plugin}", &plugin.display().to_string());
    let mut routerd = Routerd::start(&srv, dir.0.clone(), &config);
    let listening = wait_until(20 * SECOND, || {
        routerd.log().contains("listening for PPTP").then_some(())
    });
    assert!(listening.is_some(), "routerd listening:\n{}", routerd.log());

    let options = VmOptions::new("tap0", GUEST, 24)
        .file("/etc/ppp/peers/dialgate", CLIENT_PEER, 0o644)
        .file(
            "/etc/ppp/chap-secrets",
            format!("{USER} * \"{PASSWORD}\" *\n"),
            0o600,
        );
    let mut vm = Vm::boot(&image, &srv, &options).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("interop VM booted in {:.2} s", vm.boot_time().as_secs_f64());

    // pppd detaches once IPCP is up (updetach) and prints its negotiation until then.
    let dial = vm
        .run("pppd call dialgate updetach", 90 * SECOND)
        .unwrap_or_else(|e| panic!("{e}\n--- routerd:\n{}", routerd.log()));
    let context = |vm: &mut Vm, routerd: &Routerd| {
        format!(
            "--- guest syslog:\n{}\n--- routerd:\n{}",
            guest_log(vm),
            routerd.log()
        )
    };
    assert_eq!(
        dial.status,
        0,
        "pppd call: {}\n{}",
        dial.output,
        context(&mut vm, &routerd)
    );
    // pppd's own account: routerd asked for MS-CHAPv2, it succeeded, MPPE 128-bit stateless.
    assert!(
        dial.output
            .lines()
            .any(|l| l.contains("rcvd [LCP ConfReq") && l.contains("<auth chap MS-v2>")),
        "{}",
        dial.output
    );
    assert!(
        dial.output.contains("CHAP authentication succeeded"),
        "{}",
        dial.output
    );
    assert!(
        dial.output
            .contains("MPPE 128-bit stateless compression enabled"),
        "{}",
        dial.output
    );
    let addr_line = vm.sh("ip -4 -o addr show dev ppp0", 10 * SECOND);
    let client_addr: Ipv4Addr = addr_line
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("ppp0's address in {addr_line:?}"));
    assert!(
        (Ipv4Addr::new(10, 78, 0, 10)..=Ipv4Addr::new(10, 78, 0, 20)).contains(&client_addr),
        "{client_addr}"
    );

    // routerd's view: the session of alice, MPPE-128 stateless, the same address.
    let session = wait_until(10 * SECOND, || routerd.up())
        .unwrap_or_else(|| panic!("routerd session up\n{}", context(&mut vm, &routerd)));
    assert_eq!(session.user.as_deref(), Some(USER));
    assert_eq!(session.link, "pptp-in");
    assert_eq!(session.encryption, MPPE_128_STATELESS);
    assert_eq!(session.ipv4, Some(client_addr));
    let peer = session.peer.clone().unwrap_or_default();
    assert!(peer.starts_with("10.77.9.2:"), "peer {peer:?}");

    // Through the tunnel: routerd's LAN address, the LAN host behind it (forwarding, proxy
    // ARP), and back from the LAN host to the Linux client.
    let ping = vm.sh(&format!("ping -c 5 -W 5 {LAN_ROUTER}"), 60 * SECOND);
    assert!(ping.contains("5 packets received"), "{ping}");
    let ping = vm.sh(&format!("ping -c 3 -W 5 {LAN_HOST}"), 60 * SECOND);
    assert!(ping.contains("3 packets received"), "{ping}");
    assert_eq!(lan.ping(LAN_HOST, client_addr, 3).unwrap(), 3);
    let traffic = wait_until(5 * SECOND, || {
        let t = routerd.up()?.traffic;
        (t.packets_in >= 11 && t.packets_out >= 11).then_some(t)
    });
    assert!(
        traffic.is_some(),
        "routerd counted the pings: {:?}",
        routerd.up()
    );

    // The Linux client hangs up: pppd terminates LCP, pptp-linux clears the call.
    vm.sh(
        "killall pppd; for i in $(seq 100); do pidof pppd >/dev/null || exit 0; sleep 0.1; done; \
         exit 1",
        30 * SECOND,
    );
    let gone = wait_until(20 * SECOND, || {
        let log = routerd.log();
        (routerd.sessions().is_empty()
            && log.contains("the peer cleared the call (Call-Clear-Request)"))
        .then_some(())
    });
    assert!(
        gone.is_some(),
        "routerd saw the hang-up\n{}",
        context(&mut vm, &routerd)
    );

    assert!(routerd.stop(), "routerd exits cleanly:\n{}", routerd.log());
    vm.shutdown(30 * SECOND).unwrap_or_else(|e| panic!("{e}"));
}

const CLIENT_CONFIG: &str = r#"
[system]
hostname = "cli"
state_dir = "{dir}"
plugin_dir = "{dir}"

[management]
socket = "{dir}/routerd.sock"

[ppp]
auth_methods = ["mschap-v2"]
allow_insecure_no_encryption = false

[[plugin]]
name = "pptp"
file = "{plugin}"

[[link]]
name = "pptp-out"
plugin = "pptp"
role = "dial"
credentials = { user = "alice", password = "correct horse battery" }
[link.config]
target = "10.77.9.2"
"#;

#[test]
fn routerd_pptp_client_to_linux_pptpd_mschapv2_mppe128() {
    if !require_root("network namespaces, a tap device, TUN and raw GRE sockets") {
        return;
    }
    let image = VmImage::require();
    build_routerd_and_plugin();
    let plugin = profile_dir().join("libdialgate_plugin_pptp.so");

    let cli = Netns::new("cli").unwrap();
    cli.add_tap("tap0", HOST, 24).unwrap();
    // pptpd with Debian's /etc/ppp/pptpd-options: name pptpd, require-mschap-v2,
    // require-mppe-128 (pppd: stateless unless mppe-stateful).
    let options = VmOptions::new("tap0", GUEST, 24)
        .file(
            "/etc/pptpd.conf",
            "option /etc/ppp/pptpd-options-dialgate\nlocalip 10.79.0.1\n\
             remoteip 10.79.0.10-20\n",
            0o644,
        )
        .file(
            "/etc/ppp/chap-secrets",
            format!("{USER} pptpd \"{PASSWORD}\" *\n"),
            0o600,
        );
    let mut vm = Vm::boot(&image, &cli, &options).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("interop VM booted in {:.2} s", vm.boot_time().as_secs_f64());
    vm.sh(
        "grep -x require-mppe-128 /etc/ppp/pptpd-options",
        10 * SECOND,
    );
    vm.sh(
        "grep -x require-mschap-v2 /etc/ppp/pptpd-options",
        10 * SECOND,
    );
    // Debian's options plus `debug`, so that pppd logs the negotiation.
    vm.sh(
        "{ cat /etc/ppp/pptpd-options; echo debug; } >/etc/ppp/pptpd-options-dialgate",
        10 * SECOND,
    );
    vm.sh("pptpd", 10 * SECOND);
    vm.sh(
        "for i in $(seq 100); do netstat -ltn | grep -q ':1723 ' && exit 0; sleep 0.1; done; \
         exit 1",
        20 * SECOND,
    );

    let dir = TempDir::new("cli");
    let config = CLIENT_CONFIG.replace("{plugin}", &plugin.display().to_string());
    let mut routerd = Routerd::start(&cli, dir.0.clone(), &config);
    let context = |vm: &mut Vm, routerd: &Routerd| {
        format!(
            "--- guest syslog:\n{}\n--- routerd:\n{}",
            guest_log(vm),
            routerd.log()
        )
    };

    // routerd's session: up, MPPE-128 stateless, an address from pptpd's range.
    let session = wait_until(60 * SECOND, || routerd.up())
        .unwrap_or_else(|| panic!("routerd session up\n{}", context(&mut vm, &routerd)));
    assert_eq!(session.link, "pptp-out");
    assert_eq!(session.encryption, MPPE_128_STATELESS);
    assert_eq!(session.peer.as_deref(), Some("10.77.9.2:1723"));
    let client_addr = session.ipv4.unwrap();
    assert!(
        (Ipv4Addr::new(10, 79, 0, 10)..=Ipv4Addr::new(10, 79, 0, 20)).contains(&client_addr),
        "{client_addr}"
    );

    // pppd's account on the pptpd side: MS-CHAPv2 of alice, MPPE 128-bit stateless.
    let syslog = guest_log(&mut vm);
    let acked_mschapv2 = syslog
        .lines()
        .any(|l| l.contains("rcvd [LCP ConfAck") && l.contains("<auth chap MS-v2>"));
    assert!(acked_mschapv2, "routerd acks MS-CHAPv2:\n{syslog}");
    assert!(
        syslog
            .lines()
            .any(|l| l.contains("rcvd [CHAP Response") && l.contains("name = \"alice\"")),
        "{syslog}"
    );
    assert!(syslog.contains("sent [CHAP Success"), "{syslog}");
    assert!(
        syslog.contains("peer from calling number 10.77.9.1 authorized"),
        "{syslog}"
    );
    assert!(
        syslog.contains("MPPE 128-bit stateless compression enabled"),
        "{syslog}"
    );

    // Through the tunnel both ways: routerd's namespace pings pptpd's end of the link, the
    // VM pings routerd's.
    let replies = cli.ping(client_addr, PPTPD_LOCAL, 5).unwrap();
    assert_eq!(
        replies,
        5,
        "echo replies from pptpd's side\n{}",
        context(&mut vm, &routerd)
    );
    let ping = vm.sh(&format!("ping -c 3 -W 5 {client_addr}"), 60 * SECOND);
    assert!(ping.contains("3 packets received"), "{ping}");
    let traffic = wait_until(5 * SECOND, || {
        let t = routerd.up()?.traffic;
        (t.packets_in >= 8 && t.packets_out >= 8).then_some(t)
    });
    assert!(
        traffic.is_some(),
        "routerd counted the pings: {:?}",
        routerd.up()
    );

    // routerd stops: it clears the call and the control connection; pptpd's pppd ends.
    assert!(routerd.stop(), "routerd exits cleanly:\n{}", routerd.log());
    vm.sh(
        "for i in $(seq 200); do pidof pppd >/dev/null || exit 0; sleep 0.1; done; exit 1",
        40 * SECOND,
    );
    // (routerd's LCP Terminate-Request does not always reach pppd before the call is
    // cleared: pppd then reports "Modem hangup"; either way the control connection ends.)
    let syslog = guest_log(&mut vm);
    assert!(
        syslog.contains("CTRL: Client 10.77.9.1 control connection finished"),
        "{syslog}"
    );
    vm.shutdown(30 * SECOND).unwrap_or_else(|e| panic!("{e}"));
}
