//! Boots the x86_64 appliance image (`appliance-image/build.sh x86_64`, under `target/`) in
//! QEMU with TCG through `appliance-image/run-qemu.sh`, as a user would, and checks the box:
//!
//! - UEFI (OVMF): routerd's metrics and the web UI (HTTPS) answer on the forwarded ports; a
//!   PPTP server configuration and a user are set through routerctl on the console; a routerd
//!   PPTP client in the runner's namespace dials the box over the tap (TCP 1723 + GRE,
//!   MS-CHAPv2 + MPPE-128) and pings the box's LAN address through the tunnel; after a reboot
//!   the configuration, the user and the web UI's certificate are still there and routerd and
//!   the web UI answer again.
//! - legacy BIOS (SeaBIOS + syslinux): the same image boots until routerd answers.
//!
//! ```text
//!  netns dgvm-appl-*                           QEMU (TCG), disk in snapshot mode
//!  routerd (pptp dial) on tap 10.77.10.1/24 <--> wan0 10.77.10.2  routerd (pptp answer)
//!                                                lan0 10.0.2.15 (user-mode net; 9633 -> host)
//! ```
//!
//! The image is not built here (a release build takes minutes): `tests/run-all.sh` builds it
//! before `cargo test`; `DIALGATE_APPLIANCE_IMAGE_X86_64` points at another one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Appliance, SECOND, image};

use dialgate_routerd::api::{Encryption, SessionInfo, SessionState};
use dialgate_test_support::vm::Netns;
use dialgate_test_support::{cargo_build, profile_dir, require_root};

/// Boot to routerd under TCG: ~15-25 s on an idle 2-core machine, far more under load.
const BOOT_LIMIT: Duration = Duration::from_secs(240);
const BOX_LAN: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery";

/// Builds routerd, routerctl and the pptp plugin into this build's profile, for the client.
fn build_client() {
    cargo_build(&["dialgate-plugin-pptp", "dialgate-routerd"], &[]);
}

/// The box's PPTP server configuration (applied with routerctl on the console).
const BOX_CONFIG: &str = r#"
[system]
hostname = "dialgate-ci"
plugin_dir = "/usr/lib/dialgate/plugins"
state_dir = "/var/lib/dialgate"

[management]
socket = "/run/dialgate/routerd.sock"
metrics_listen = "0.0.0.0:9633"

[ppp]
auth_methods = ["mschap-v2"]
allow_insecure_no_encryption = false

[lan]
interface = "lan0"
proxy_arp = true

[[pool]]
name = "office"
ranges = ["10.0.2.200-10.0.2.210"]
local_address = "10.0.2.15"

[[plugin]]
name = "pptp"
file = "libdialgate_plugin_pptp.so"

[[link]]
name = "pptp-in"
plugin = "pptp"
role = "answer"
pool = "office"
[link.config]
listen = ["10.77.10.2:1723"]
"#;

/// The client in the runner's namespace.
const CLIENT_CONFIG: &str = r#"
[system]
hostname = "branch"
state_dir = "{dir}"
plugin_dir = "{dir}"
drop_capabilities = false

[management]
socket = "{dir}/routerd.sock"

[ppp]
auth_methods = ["mschap-v2"]
allow_insecure_no_encryption = false

[[plugin]]
name = "pptp"
file = "{plugin}"

[[link]]
name = "office"
plugin = "pptp"
role = "dial"
credentials = { user = "alice", password = "correct horse battery" }
routes = ["10.0.2.15/32"]
[link.config]
target = "10.77.10.2"
"#;

/// A routerd in a namespace, stopped on drop.
struct Client {
    child: Child,
    dir: PathBuf,
}

impl Client {
    fn start(ns: &Netns) -> Client {
        let dir =
            std::env::temp_dir().join(format!("dialgate-appliance-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let plugin = profile_dir().join("libdialgate_plugin_pptp.so");
        let config = CLIENT_CONFIG
            .replace("{dir}", &dir.display().to_string())
            .replace("{plugin}", &plugin.display().to_string());
        std::fs::write(dir.join("routerd.toml"), config).unwrap();
        let log = std::fs::File::create(dir.join("log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(profile_dir().join("routerd"))
            .arg("--config")
            .arg(dir.join("routerd.toml"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting the client routerd");
        Client { child, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn session_up(&self) -> Option<SessionInfo> {
        let out = Command::new(profile_dir().join("routerctl"))
            .arg("--socket")
            .arg(self.dir.join("routerd.sock"))
            .args(["--json", "sessions"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let sessions: Vec<SessionInfo> = serde_json::from_slice(&out.stdout).ok()?;
        sessions
            .into_iter()
            .find(|s| s.state == SessionState::Up && s.ipv4.is_some())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + 10 * SECOND;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn uefi_boot_pptp_session_and_config_survives_reboot() {
    if !require_root("a network namespace and a tap for the box's wan0, TUN for the client") {
        return;
    }
    build_client();
    let ns = Netns::new("appl").unwrap();
    let mut box_ = Appliance::start(&image("x86_64"), &["--netns", ns.name()]);

    // First boot: routerd on the image's configuration; metrics reach the host.
    box_.wait_for("@@DIALGATE routerd up", 0, BOOT_LIMIT);
    eprintln!(
        "UEFI boot, QEMU start to routerd's socket: {:.1} s",
        box_.started.elapsed().as_secs_f64()
    );
    let metrics = box_.metrics(60 * SECOND);
    eprintln!(
        "UEFI boot, QEMU start to metrics answering: {:.1} s",
        box_.started.elapsed().as_secs_f64()
    );
    assert!(metrics.contains("dialgate_uptime_seconds"), "{metrics}");
    box_.ok("test -f /var/lib/dialgate/.initialised");
    box_.ok("grep -q ' /var/lib/dialgate ext4 ' /proc/mounts");

    // The web UI over HTTPS (forwarded), its certificate made on first start on the config
    // partition; a first visit is sent to the admin password setup.
    let status = box_.web_ui_status(120 * SECOND);
    eprintln!(
        "UEFI boot, QEMU start to the web UI answering: {:.1} s",
        box_.started.elapsed().as_secs_f64()
    );
    assert!((200..400).contains(&status), "web UI answered {status}");
    let cert = box_.ok("sha256sum /var/lib/dialgate/webui/tls-cert.pem");

    // A PPTP server and a user, through routerctl (the management API).
    box_.write_file("/tmp/pptp.toml", BOX_CONFIG);
    box_.ok("routerctl config apply /tmp/pptp.toml");
    box_.ok(&format!(
        "echo '{PASSWORD}' | routerctl users set-password {USER}"
    ));
    // (No `exit` in console commands: it would end the console's shell.)
    box_.ok(
        "for i in $(seq 100); do netstat -ltn | grep -q '10.77.10.2:1723 ' && break; \
         sleep 0.1; done; netstat -ltn | grep -q '10.77.10.2:1723 '",
    );

    // A routerd PPTP client in the runner's namespace dials the box through the tap.
    let client = Client::start(&ns);
    let session = wait_until(90 * SECOND, || client.session_up()).unwrap_or_else(|| {
        let (_, boxlog) = box_.sh("tail -30 /var/log/routerd.log", 30 * SECOND);
        panic!(
            "no PPTP session\n--- client:\n{}\n--- box:\n{boxlog}",
            client.log()
        )
    });
    assert_eq!(
        session.encryption,
        Encryption::Mppe {
            bits: 128,
            stateless: true
        }
    );
    let addr = session.ipv4.unwrap();
    assert!(
        (Ipv4Addr::new(10, 0, 2, 200)..=Ipv4Addr::new(10, 0, 2, 210)).contains(&addr),
        "{addr}"
    );
    // The box's LAN side, through the tunnel (the client's route to it is the session).
    let replies = ns.ping(addr, BOX_LAN, 5).unwrap();
    assert!(
        replies >= 4,
        "{replies}/5 echo replies from {BOX_LAN}\n--- client:\n{}",
        client.log()
    );
    let sessions = box_.ok("routerctl sessions");
    assert!(sessions.contains(USER), "{sessions}");
    drop(client);

    // Reboot: the configuration and the user are on the config partition.
    let from = box_.console_len();
    box_.stdin.write_all(b"reboot\n").unwrap();
    let rebooting = box_.wait_for("@@DIALGATE reboot", from, 60 * SECOND);
    let booted = Instant::now();
    box_.wait_for("@@DIALGATE routerd up", rebooting, BOOT_LIMIT);
    eprintln!(
        "UEFI reboot, reset to routerd's socket: {:.1} s",
        booted.elapsed().as_secs_f64()
    );
    let config = box_.ok("routerctl config show");
    assert!(config.contains("hostname = \"dialgate-ci\""), "{config}");
    assert!(config.contains("pptp-in"), "{config}");
    let users = box_.ok("routerctl users");
    assert!(users.contains(USER), "{users}");
    box_.metrics(60 * SECOND);
    // The same certificate after the reboot.
    let status = box_.web_ui_status(120 * SECOND);
    assert!((200..400).contains(&status), "web UI answered {status}");
    let cert_after = box_.ok("sha256sum /var/lib/dialgate/webui/tls-cert.pem");
    let digest = |out: &str| {
        out.split_whitespace()
            .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_owned)
    };
    assert!(digest(&cert).is_some(), "{cert}");
    assert_eq!(digest(&cert), digest(&cert_after));
}

#[test]
fn bios_boot_reaches_routerd() {
    let mut box_ = Appliance::start(&image("x86_64"), &["--bios", "--no-tap"]);
    box_.wait_for("@@DIALGATE routerd up", 0, BOOT_LIMIT);
    eprintln!(
        "BIOS boot, QEMU start to routerd's socket: {:.1} s",
        box_.started.elapsed().as_secs_f64()
    );
    let metrics = box_.metrics(60 * SECOND);
    assert!(metrics.contains("dialgate_uptime_seconds"), "{metrics}");
    let cmdline = box_.ok("cat /proc/cmdline");
    assert!(cmdline.contains("dg.slot=a"), "{cmdline}");
    // Booted by syslinux, not through UEFI.
    box_.ok("test ! -d /sys/firmware/efi");
}
