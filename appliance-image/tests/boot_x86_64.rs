//! Boots the x86_64 appliance image (`appliance-image/build.sh x86_64`, under `target/`) in
//! QEMU with TCG through `appliance-image/run-qemu.sh`, as a user would, and checks the box:
//!
//! - UEFI (OVMF): routerd's metrics answer on the console (loopback only: nothing listens on
//!   the box's LAN address) and the web UI (HTTPS) on the forwarded port; a
//!   PPTP server configuration and a user are set through routerctl on the console; a routerd
//!   PPTP client in the runner's namespace dials the box over the tap (TCP 1723 + GRE,
//!   MS-CHAPv2 + MPPE-128) and pings the box's LAN address through the tunnel; a routerd
//!   serial dialler on the host end of the box's `ttyS4` (a QEMU pty: the "modem line") dials
//!   in with MS-CHAPv2 + MPPE-128, pings the box's LAN address over the line, and the box lists
//!   the call on its serial link; after a reboot
//!   the configuration, the user and the web UI's certificate are still there and routerd and
//!   the web UI answer again.
//! - A/B upgrades (UEFI, one box through all of it): a bad bundle refused; a re-packed release
//!   boots in slot b with the configuration kept; a release whose init dies and one whose
//!   routerd hangs (rebooted by the trial's soft watchdog) each use up their one boot try and
//!   the box falls back to slot b and reports it; the console login; the boot menu's recovery
//!   entry (follows the good slot; booted once through `LoaderEntryOneShot`, it opens the
//!   console without the login).
//! - legacy BIOS (SeaBIOS + syslinux): the same image boots until routerd answers; an upgrade
//!   gets one boot (syslinux's boot-once command), comes up and becomes the default; a broken
//!   release's one boot fails and the box falls back and reports it.
//!
//! ```text
//!  netns dgvm-appl-*                           QEMU (TCG), disk in snapshot mode
//!  routerd (pptp dial) on tap 10.77.10.1/24 <--> wan0 10.77.10.2  routerd (pptp answer)
//!                                                lan0 10.0.2.15 (user-mode net; 443 -> host)
//!  routerd (serial dial) on /dev/pts/N  <-- pty -->  ttyS4 (pci-serial-4x)  routerd (serial answer)
//! ```
//!
//! The image is not built here (a release build takes minutes): `tests/run-all.sh` builds it
//! before `cargo test`; `DIALGATE_APPLIANCE_IMAGE_X86_64` points at another one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Appliance, SECOND, image};

use dialgate_routerd::api::{Encryption, SessionInfo, SessionState};
use dialgate_test_support::vm::Netns;
use dialgate_test_support::{cargo_build, profile_dir, require_root};

/// Boot to routerd under TCG: ~15-25 s on an idle 2-core machine, far more under load.
const BOOT_LIMIT: Duration = Duration::from_secs(240);
/// From a failed boot (its kernel panic, `panic=10`, or the watchdog) to the next boot's
/// routerd: a guest under TCG ran 5x slower than usual at load average 14.
const FALLBACK_LIMIT: Duration = Duration::from_secs(480);
const BOX_LAN: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery";

/// Builds routerd, routerctl and the pptp plugin into this build's profile, for the client.
fn build_client() {
    cargo_build(
        &[
            "dialgate-plugin-pptp",
            "dialgate-plugin-serial",
            "dialgate-routerd",
        ],
        &[],
    );
}

/// The box's PPTP server (on wan0) and serial answer link (on the card's ttyS4), with proxy
/// ARP on the LAN side (applied with routerctl on the console).
fn box_config() -> String {
    common::box_config(
        "dialgate-ci",
        r#"
[lan]
interface = "lan0"
proxy_arp = true

[[link]]
name = "pptp-in"
plugin = "pptp"
role = "answer"
pool = "office"
[link.config]
listen = ["10.77.10.2:1723"]

[[link]]
name = "modems"
plugin = "serial"
role = "answer"
pool = "office"
[[link.config.ports]]
name = "card0"
device = "/dev/ttyS4"
lines = "local"

[[plugin]]
name = "ipx"
file = "libdialgate_plugin_ipx_bridge.so"
[plugin.config]
interface = "lan0"
network = 0x0000C0DE

[[plugin]]
name = "netbeui"
file = "libdialgate_plugin_netbeui.so"
[plugin.config]
interface = "lan0"
"#,
    )
}

/// A client routerd's configuration for [`Client::start`]: it dials the box as [`USER`] on the
/// link `link` of `plugin` (MS-CHAPv2, encryption required), with a route to the box's LAN
/// address through the session; `link_config`, the link's own tables, follows.
fn client_config(hostname: &str, plugin: &str, link: &str, link_config: &str) -> String {
    format!(
        r#"
[system]
hostname = "{hostname}"
state_dir = "{{dir}}"
plugin_dir = "{{dir}}"
drop_capabilities = false

[management]
socket = "{{dir}}/routerd.sock"

[ppp]
auth_methods = ["mschap-v2"]
allow_insecure_no_encryption = false

[[plugin]]
name = "{plugin}"
file = "{{plugin}}"

[[link]]
name = "{link}"
plugin = "{plugin}"
role = "dial"
credentials = {{ user = "{USER}", password = "{PASSWORD}" }}
routes = ["{BOX_LAN}/32"]
{link_config}"#
    )
}

/// The PPTP client in the runner's namespace.
fn pptp_client_config() -> String {
    client_config(
        "branch",
        "pptp",
        "office",
        r#"[link.config]
target = "10.77.10.2"
"#,
    )
}

/// The serial dialler on the host end of the box's `ttyS4` (a pty QEMU made): the "modem
/// line" of a dial-in user.
fn serial_client_config() -> String {
    client_config(
        "home",
        "serial",
        "modem",
        r#"[[link.config.ports]]
name = "modem"
device = "{device}"
role = "dial"
"#,
    )
}

/// A routerd in a namespace, stopped on drop.
struct Client {
    child: Child,
    dir: PathBuf,
}

impl Client {
    /// Starts routerd in `ns` on `template` (`{dir}`: its state directory, `{plugin}`: the
    /// path of `libdialgate_plugin_<plugin>.so`, `{device}`: `device`).
    fn start(ns: &Netns, template: &str, plugin: &str, device: &str) -> Client {
        let dir = std::env::temp_dir().join(format!(
            "dialgate-appliance-{plugin}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let plugin = profile_dir().join(format!("libdialgate_plugin_{plugin}.so"));
        let config = template
            .replace("{dir}", &dir.display().to_string())
            .replace("{plugin}", &plugin.display().to_string())
            .replace("{device}", device);
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
    let pty_file =
        std::env::temp_dir().join(format!("dialgate-appliance-ptys-{}", std::process::id()));
    let mut box_ = Appliance::start(
        &image("x86_64"),
        &[
            "--netns",
            ns.name(),
            "--pty-file",
            pty_file.to_str().unwrap(),
        ],
    );

    // First boot: routerd on the image's configuration.
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
    // Hardening: the metrics listener is on loopback, not on the LAN or WAN side.
    box_.ok("netstat -ltn | grep -q '127.0.0.1:9633 ' && ! netstat -ltn | grep -q '0.0.0.0:9633 '");
    // The web UI's user reaches routerd's socket through the setgid socket directory.
    box_.ok("test \"$(stat -c %G /run/dialgate/routerd.sock)\" = dialgate");
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

    // The hardware profile at run time: the init and routerd recognise the board.
    assert!(
        box_.console()
            .contains("board matches hardware profile qemu-x86_64"),
        "no board detection on the console"
    );
    // A serial link that asks for modem lines on a port without them is refused.
    box_.write_file(
        "/tmp/modem.toml",
        &box_config().replace("lines = \"local\"", "lines = \"modem\""),
    );
    let (code, out) = box_.sh("routerctl config check /tmp/modem.toml", 60 * SECOND);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no modem-control lines"), "{out}");

    // A PPTP server, a serial link and a user, through routerctl (the management API).
    box_.write_file("/tmp/pptp.toml", &box_config());
    box_.ok("routerctl config apply /tmp/pptp.toml");
    // The LAN-protocol plugins the image carries load and run on the LAN port.
    let plugins = box_.ok(
        "for i in $(seq 50); do routerctl plugins | grep -q '^ipx .* running ' \
         && routerctl plugins | grep -q '^netbeui .* running ' && break; sleep 0.2; done; \
         routerctl plugins",
    );
    for name in ["ipx ", "netbeui "] {
        assert!(
            plugins
                .lines()
                .any(|l| l.starts_with(name) && l.contains(" running ")),
            "{plugins}"
        );
    }
    let hw = box_.ok("routerctl system hardware");
    assert!(hw.contains("detection: matches this box"), "{hw}");
    assert!(hw.contains("modems/card0"), "{hw}");
    box_.ok(&format!(
        "echo '{PASSWORD}' | routerctl users set-password {USER}"
    ));
    // (No `exit` in console commands: it would end the console's shell.)
    box_.ok(
        "for i in $(seq 100); do netstat -ltn | grep -q '10.77.10.2:1723 ' && break; \
         sleep 0.1; done; netstat -ltn | grep -q '10.77.10.2:1723 '",
    );

    // A routerd PPTP client in the runner's namespace dials the box through the tap.
    let client = Client::start(&ns, &pptp_client_config(), "pptp", "");
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

    // A dial-in over the box's serial card: the host end of guest ttyS4 is a pty; routerd's
    // serial plugin dials on it (MS-CHAPv2 + MPPE-128) and pings the box's LAN side.
    let ptys = std::fs::read_to_string(&pty_file).unwrap();
    let _ = std::fs::remove_file(&pty_file);
    let pty = ptys
        .lines()
        .find_map(|l| l.strip_prefix("ttyS4 "))
        .unwrap_or_else(|| panic!("no host pty for ttyS4 in {ptys:?}"))
        .trim()
        .to_owned();
    let modem = Client::start(&ns, &serial_client_config(), "serial", &pty);
    let session = wait_until(120 * SECOND, || modem.session_up()).unwrap_or_else(|| {
        let (_, boxlog) = box_.sh("tail -30 /var/log/routerd.log", 30 * SECOND);
        panic!(
            "no session over the serial line\n--- client:\n{}\n--- box:\n{boxlog}",
            modem.log()
        )
    });
    assert!(
        matches!(session.encryption, Encryption::Mppe { bits: 128, .. }),
        "{:?}",
        session.encryption
    );
    let addr = session.ipv4.unwrap();
    assert!(
        (Ipv4Addr::new(10, 0, 2, 200)..=Ipv4Addr::new(10, 0, 2, 210)).contains(&addr),
        "{addr}"
    );
    let replies = ns.ping(addr, BOX_LAN, 5).unwrap();
    assert!(
        replies >= 4,
        "{replies}/5 echo replies from {BOX_LAN} over the serial line\n--- client:\n{}",
        modem.log()
    );
    // The box sees alice's call on the serial link.
    box_.ok("routerctl sessions | awk '$2 == \"alice\" && $3 == \"modems\" && $NF == \"up\"' | grep -q .");
    drop(modem);

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

/// Serves `files` (name, path) over HTTP/1.0 on the host's loopback until the test ends; the
/// box reaches it as 10.0.2.2 through QEMU's user-mode network. Returns the port.
fn serve_files(files: Vec<(String, PathBuf)>) -> u16 {
    use std::io::{BufRead, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                    break;
                }
            }
            let mut stream = stream;
            match files.iter().find(|(name, _)| path == format!("/{name}")) {
                Some((_, file)) => {
                    let data = std::fs::read(file).unwrap();
                    let _ = write!(
                        stream,
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
                        data.len()
                    );
                    let _ = stream.write_all(&data);
                }
                None => {
                    let _ =
                        stream.write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                }
            }
        }
    });
    port
}

/// Runs `command` through `sh -c`; panics with its output when it fails.
fn host_sh(command: &str) {
    let out = Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::null())
        .output()
        .expect("running sh");
    assert!(
        out.status.success(),
        "{command}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Releases re-packed from the image's own bundle (`dialgate-x86_64.upgrade`, next to the
/// image), each with its own build id in /etc/os-release.
struct Bundles {
    /// The same binaries.
    good: PathBuf,
    /// Its /sbin/init exits at once, so routerd never starts: the kernel panics and reboots.
    broken: PathBuf,
    /// Its routerd never answers (it blocks forever), so the slot never reports good: only the
    /// trial boot's watchdog reboots the box.
    hanging: PathBuf,
}

fn upgrade_bundles(dir: &Path) -> Bundles {
    let img = image("x86_64");
    let bundle = img.with_file_name("dialgate-x86_64.upgrade");
    assert!(
        bundle.is_file(),
        "no upgrade bundle at {} (appliance-image/build.sh makes it)",
        bundle.display()
    );
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let d = dir.display();
    host_sh(&format!(
        "tar -xf '{}' -C '{d}' && unsquashfs -q -no-progress -d '{d}/root' '{d}/root.sqfs' >/dev/null",
        bundle.display()
    ));
    let pack = |variant: &str, version: &str| -> PathBuf {
        let sqfs = dir.join(format!("{variant}.sqfs"));
        host_sh(&format!(
            "sed -i 's/^VERSION_ID=.*/VERSION_ID={version}/' '{d}/root/etc/os-release' && \
             rm -f '{s}' && mksquashfs '{d}/root' '{s}' -comp zstd -Xcompression-level 3 \
             -all-root -quiet -no-progress >/dev/null",
            s = sqfs.display()
        ));
        let root = std::fs::read(&sqfs).unwrap();
        let kernel = std::fs::read(dir.join("vmlinuz")).unwrap();
        let initrd = std::fs::read(dir.join("initrd.img")).unwrap();
        let data = dialgate_routerd::upgrade::build_bundle(
            "x86_64",
            version,
            &[
                ("root.sqfs", &root),
                ("vmlinuz", &kernel),
                ("initrd.img", &initrd),
            ],
        );
        let out = dir.join(format!("{variant}.upgrade"));
        std::fs::write(&out, data).unwrap();
        out
    };
    let good = pack("good", "ci-upgrade-good");
    let init = dir.join("root/sbin/init");
    let real_init = std::fs::read(&init).unwrap();
    std::fs::write(&init, "#!/bin/sh\necho '@@DIALGATE broken init'\nexit 1\n").unwrap();
    let broken = pack("broken", "ci-upgrade-broken");
    std::fs::write(&init, real_init).unwrap();
    // The real init, with a routerd that says so on the console and then blocks forever (the
    // init's supervisor restarts a routerd that exits; this one never does).
    std::fs::write(
        dir.join("root/usr/bin/routerd"),
        "#!/bin/sh\necho '@@DIALGATE hanging routerd' >/dev/console\n\
         while :; do sleep 3600; done\n",
    )
    .unwrap();
    let hanging = pack("hanging", "ci-upgrade-hanging");
    Bundles {
        good,
        broken,
        hanging,
    }
}

/// Installs the good release (already in /tmp/good.upgrade) with `routerctl system upgrade
/// --reboot` and waits, from console position `from`, until slot b is marked good and runs it.
/// Returns the upgrade command's output and the new boot's kernel command line.
fn good_release_boots_on_slot_b(
    box_: &mut Appliance,
    from: usize,
    label: &str,
) -> (String, String) {
    let (code, out) = box_.sh(
        "routerctl system upgrade /tmp/good.upgrade --reboot",
        300 * SECOND,
    );
    assert_eq!(code, 0, "{out}");
    let rebooting = box_.wait_for("@@DIALGATE reboot", from, 300 * SECOND);
    let booted = Instant::now();
    box_.wait_for("@@DIALGATE slot b good", rebooting, BOOT_LIMIT);
    eprintln!(
        "{label}: reboot to slot b marked good: {:.1} s",
        booted.elapsed().as_secs_f64()
    );
    let cmdline = box_.ok("cat /proc/cmdline");
    let release = box_.ok("grep VERSION_ID /etc/os-release");
    assert!(release.contains("ci-upgrade-good"), "{release}");
    (out, cmdline)
}

/// Installs the broken release (its init panics) into slot a with `routerctl system upgrade
/// --reboot OPTIONS` and waits until the box is back on slot b, which says that slot a did not
/// come up. Returns the kernel command line and the upgrade status of that boot.
fn broken_release_falls_back(
    box_: &mut Appliance,
    port: u16,
    options: &str,
    label: &str,
) -> (String, String) {
    box_.ok(&format!(
        "wget -q -O /tmp/broken.upgrade http://10.0.2.2:{port}/broken.upgrade"
    ));
    let from = box_.console_len();
    let (code, out) = box_.sh(
        &format!("routerctl system upgrade /tmp/broken.upgrade --reboot {options}"),
        300 * SECOND,
    );
    assert_eq!(code, 0, "{out}");
    let rebooting = box_.wait_for("@@DIALGATE reboot", from, 300 * SECOND);
    let broke = box_.wait_for("@@DIALGATE broken init", rebooting, BOOT_LIMIT);
    let booted = Instant::now();
    box_.wait_for("@@DIALGATE slot b good", broke, FALLBACK_LIMIT);
    eprintln!(
        "{label}: broken slot a to fallback on slot b: {:.1} s",
        booted.elapsed().as_secs_f64()
    );
    let cmdline = box_.ok("cat /proc/cmdline");
    assert!(cmdline.contains("dg.slot=b"), "{cmdline}");
    let status = box_.ok("routerctl system upgrade-status");
    assert!(
        status.contains("fell back: slot a (ci-upgrade-broken) did not come up"),
        "{status}"
    );
    (cmdline, status)
}

#[test]
fn uefi_upgrade_falls_back_from_broken_and_hanging_releases_and_recovery_boot() {
    let work = std::env::temp_dir().join(format!("dialgate-upgrade-{}", std::process::id()));
    let bundles = upgrade_bundles(&work);
    let port = serve_files(vec![
        ("good.upgrade".to_owned(), bundles.good),
        ("broken.upgrade".to_owned(), bundles.broken),
        ("hanging.upgrade".to_owned(), bundles.hanging),
    ]);
    let mut box_ = Appliance::start(&image("x86_64"), &["--no-tap"]);
    let up = box_.wait_for("@@DIALGATE slot a good", 0, BOOT_LIMIT);
    // A setting made before the upgrade.
    box_.ok("echo 'hunter22 hunter22' | routerctl users set-password bob");
    let status = box_.ok("routerctl system upgrade-status");
    assert!(status.contains("running: slot a"), "{status}");

    // A damaged bundle is refused before anything is written.
    box_.ok(&format!(
        "wget -q -O /tmp/good.upgrade http://10.0.2.2:{port}/good.upgrade"
    ));
    box_.ok("head -c 3000000 /tmp/good.upgrade >/tmp/cut.upgrade");
    let (code, out) = box_.sh("routerctl system upgrade /tmp/cut.upgrade", 300 * SECOND);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a valid upgrade bundle"), "{out}");

    // The good one: written to slot b, booted, marked good; the configuration is kept.
    let from = box_.console_len().max(up);
    let (out, cmdline) = good_release_boots_on_slot_b(&mut box_, from, "upgrade");
    assert!(out.contains("ci-upgrade-good"), "{out}");
    assert!(cmdline.contains("dg.slot=b"), "{cmdline}");
    let users = box_.ok("routerctl users");
    assert!(users.contains("bob"), "{users}");
    let entries = box_.ok(&format!(
        "{MOUNT_ESP} && ls /boot/efi/loader/entries && umount /boot/efi"
    ));
    assert!(entries.contains("dialgate-2-b.conf"), "{entries}");

    // The broken one (one boot try): written to slot a; its init dies, the kernel reboots,
    // systemd-boot's tries are used up and the box comes back on slot b, and says so.
    let (_, status) = broken_release_falls_back(&mut box_, port, "--tries 1", "upgrade");
    assert!(
        status.contains("running: slot b (ci-upgrade-good)"),
        "{status}"
    );
    let users = box_.ok("routerctl users");
    assert!(users.contains("bob"), "{users}");

    // A hanging release (one boot try) to slot a: its routerd never answers, so nothing marks
    // the slot good, and only the soft watchdog stage 1 armed for the trial (`dg.trial`)
    // reboots the box; that boot used the slot's try, so the box comes back on slot b and
    // says so. The installer gives a trial 300 s; the test shortens the new entry's to
    // TRIAL_SECS on the ESP first.
    box_.ok(&format!(
        "wget -q -O /tmp/hanging.upgrade http://10.0.2.2:{port}/hanging.upgrade"
    ));
    let (code, out) = box_.sh(
        "routerctl system upgrade /tmp/hanging.upgrade --tries 1",
        300 * SECOND,
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = box_.sh(
        "for i in $(seq 300); do routerctl system upgrade-status | grep -q 'upgrade: installed' \
         && break; sleep 1; done; routerctl system upgrade-status",
        330 * SECOND,
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("upgrade: installed ci-upgrade-hanging (slot a)"),
        "{out}"
    );
    let entry = "/boot/efi/loader/entries/dialgate-3-a+1.conf";
    let before = box_.ok(&format!("{MOUNT_ESP} && cat {entry}"));
    assert!(before.contains("dg.slot=a dg.trial=300"), "{before}");
    box_.ok(&format!(
        "sed -i 's/ dg.trial=300$/ dg.trial={TRIAL_SECS}/' {entry} && umount /boot/efi"
    ));
    let from = box_.console_len();
    box_.stdin.write_all(b"reboot\n").unwrap();
    let rebooting = box_.wait_for("@@DIALGATE reboot", from, 60 * SECOND);
    let armed = box_.wait_for(
        &format!("trial boot of slot a: the watchdog reboots in {TRIAL_SECS} s"),
        rebooting,
        BOOT_LIMIT,
    );
    let armed_at = Instant::now();
    let hung = box_.wait_for("@@DIALGATE hanging routerd", armed, BOOT_LIMIT);
    let fired = box_.wait_for("softdog: Initiating system reboot", hung, BOOT_LIMIT);
    let waited = armed_at.elapsed();
    eprintln!(
        "upgrade: hanging slot a, watchdog armed to reboot: {:.1} s",
        waited.as_secs_f64()
    );
    assert!(
        waited >= Duration::from_secs(TRIAL_SECS - 5),
        "the watchdog fired after {waited:?}, not {TRIAL_SECS} s"
    );
    let booted = Instant::now();
    box_.wait_for("@@DIALGATE slot b good", fired, FALLBACK_LIMIT);
    eprintln!(
        "upgrade: watchdog reboot to fallback on slot b: {:.1} s",
        booted.elapsed().as_secs_f64()
    );
    let cmdline = box_.ok("cat /proc/cmdline");
    assert!(cmdline.contains("dg.slot=b"), "{cmdline}");
    assert!(!cmdline.contains("dg.trial"), "{cmdline}");
    let status = box_.ok("routerctl system upgrade-status");
    assert!(
        status.contains("fell back: slot a (ci-upgrade-hanging) did not come up"),
        "{status}"
    );
    let entries = box_.ok(&format!(
        "{MOUNT_ESP} && ls /boot/efi/loader/entries && umount /boot/efi"
    ));
    assert!(
        !entries.contains("-a+"),
        "the spent entry is still there: {entries}"
    );

    // The console asks for the admin password once the web UI has one (its argon2id file),
    // and refuses a wrong one.
    let salt = argon2::password_hash::SaltString::encode_b64(b"dialgate-ci-salt").unwrap();
    let hash = argon2::password_hash::PasswordHasher::hash_password(
        &argon2::Argon2::default(),
        CONSOLE_PASSWORD.as_bytes(),
        &salt,
    )
    .unwrap()
    .to_string();
    box_.write_file("/var/lib/dialgate/webui/admin.argon2", &format!("{hash}\n"));
    box_.ok("chown 101:101 /var/lib/dialgate/webui/admin.argon2 && chmod 600 /var/lib/dialgate/webui/admin.argon2");
    let from = box_.console_len();
    box_.stdin.write_all(b"exit\n").unwrap();
    let asked = box_.wait_for("admin password: ", from, 60 * SECOND);
    box_.stdin.write_all(b"not the password\n").unwrap();
    let refused = box_.wait_for("Login incorrect", asked, 60 * SECOND);
    box_.wait_for("admin password: ", refused, 60 * SECOND);
    box_.stdin
        .write_all(format!("{CONSOLE_PASSWORD}\n").as_bytes())
        .unwrap();
    let who = box_.ok("id -u");
    assert!(who.contains('0'), "{who}");

    // The boot menu's recovery entry follows the slot that last came up (slot b, after the
    // upgrade to it and two fallbacks to it), without the trial's watchdog.
    let recovery = box_.ok(&format!(
        "{MOUNT_ESP} && cat /boot/efi/loader/entries/recovery.conf && umount /boot/efi"
    ));
    assert!(
        recovery.contains("title dialgate recovery console (slot b)"),
        "{recovery}"
    );
    assert!(recovery.contains("linux /dialgate/b/vmlinuz"), "{recovery}");
    let options = recovery
        .lines()
        .find_map(|l| l.strip_prefix("options "))
        .unwrap_or_else(|| panic!("no options line: {recovery}"));
    let options: Vec<&str> = options.split_whitespace().collect();
    assert!(options.contains(&"dg.slot=b"), "{options:?}");
    assert!(options.contains(&"dg.recovery"), "{options:?}");
    assert!(
        !options.iter().any(|o| o.starts_with("dg.trial")),
        "{options:?}"
    );

    // Booting it (picked for the next boot only, through systemd-boot's LoaderEntryOneShot
    // EFI variable, as `systemctl reboot --boot-loader-entry` does): the console opens without
    // the login although the admin password is set, and says how to reset it.
    select_next_boot_entry(&mut box_, "recovery.conf");
    let from = box_.console_len();
    box_.stdin.write_all(b"reboot\n").unwrap();
    let rebooting = box_.wait_for("@@DIALGATE reboot", from, 60 * SECOND);
    let opened = box_.wait_for("@@DIALGATE recovery console", rebooting, BOOT_LIMIT);
    box_.wait_for("@@DIALGATE slot b good", rebooting, BOOT_LIMIT);
    let cmdline = box_.ok("cat /proc/cmdline");
    assert!(cmdline.contains("dg.slot=b"), "{cmdline}");
    assert!(cmdline.contains("dg.recovery"), "{cmdline}");
    let console = box_.console();
    let recovery_boot = console.get(rebooting..).unwrap_or("");
    assert!(
        recovery_boot.contains("rm /var/lib/dialgate/webui/admin.argon2"),
        "{recovery_boot}"
    );
    // (dg-login's prompt, or its notice when no password is set: neither runs.)
    assert!(
        !recovery_boot.contains("dialgate console: admin password")
            && !recovery_boot.contains("no admin password is set yet"),
        "the recovery console ran the login:\n{recovery_boot}"
    );
    assert!(opened > rebooting);
    let who = box_.ok("id -u");
    assert!(who.contains('0'), "{who}");
    // The configuration is untouched; the lost password is reset as the console says.
    let users = box_.ok("routerctl users");
    assert!(users.contains("bob"), "{users}");
    box_.ok("rm /var/lib/dialgate/webui/admin.argon2");
    let _ = std::fs::remove_dir_all(&work);
}

/// Mounts the box's ESP on /boot/efi (as dg-upgrade does).
const MOUNT_ESP: &str = "mount -t vfat -o rw,iocharset=iso8859-1,codepage=437 /dev/vda1 /boot/efi";

/// The watchdog margin the hanging release's trial boot gets in the test.
const TRIAL_SECS: u64 = 45;

/// Sets systemd-boot's `LoaderEntryOneShot` (Boot Loader Interface: a UTF-16LE entry id,
/// NUL-terminated, vendor GUID 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f) through efivarfs, so the
/// next boot, and only that one, boots `entry`.
fn select_next_boot_entry(box_: &mut Appliance, entry: &str) {
    // efivarfs takes the variable's attributes (non-volatile, boot and runtime access) and its
    // data in one write.
    let mut var = vec![7u8, 0, 0, 0];
    for unit in entry.encode_utf16().chain([0]) {
        var.extend(unit.to_le_bytes());
    }
    box_.write_file("/tmp/oneshot", &String::from_utf8(var).unwrap());
    box_.ok("grep -q ' /sys/firmware/efi/efivars ' /proc/mounts || \
         mount -t efivarfs efivarfs /sys/firmware/efi/efivars");
    box_.ok("cat /tmp/oneshot \
         >/sys/firmware/efi/efivars/LoaderEntryOneShot-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f");
}

/// The admin password the console login test sets.
const CONSOLE_PASSWORD: &str = "console horse battery";

#[test]
fn bios_boot_upgrade_gets_one_try_and_falls_back() {
    let work = std::env::temp_dir().join(format!("dialgate-upgrade-bios-{}", std::process::id()));
    let bundles = upgrade_bundles(&work);
    let port = serve_files(vec![
        ("good.upgrade".to_owned(), bundles.good),
        ("broken.upgrade".to_owned(), bundles.broken),
    ]);
    let mut box_ = Appliance::start(&image("x86_64"), &["--bios", "--no-tap"]);
    box_.wait_for("@@DIALGATE routerd up", 0, BOOT_LIMIT);
    eprintln!(
        "BIOS boot, QEMU start to routerd's socket: {:.1} s",
        box_.started.elapsed().as_secs_f64()
    );
    let up = box_.wait_for("@@DIALGATE slot a good", 0, BOOT_LIMIT);
    let metrics = box_.metrics(60 * SECOND);
    assert!(metrics.contains("dialgate_uptime_seconds"), "{metrics}");
    let cmdline = box_.ok("cat /proc/cmdline");
    assert!(cmdline.contains("dg.slot=a"), "{cmdline}");
    // Booted by syslinux, not through UEFI.
    box_.ok("test ! -d /sys/firmware/efi");
    // The first boot added the recovery label (typed at syslinux's boot: prompt).
    let cfg = box_.ok(&format!(
        "{MOUNT_ESP} && cat {SYSLINUX_CFG} && umount /boot/efi"
    ));
    assert!(cfg.contains("DEFAULT a\n"), "{cfg}");
    assert!(cfg.contains("dg.slot=a dg.recovery"), "{cfg}");

    // An upgrade: slot b gets one boot (syslinux's boot-once command), comes up, and becomes
    // the default.
    box_.ok(&format!(
        "wget -q -O /tmp/good.upgrade http://10.0.2.2:{port}/good.upgrade"
    ));
    let from = box_.console_len().max(up);
    let (_, cmdline) = good_release_boots_on_slot_b(&mut box_, from, "BIOS upgrade");
    assert!(cmdline.contains("dg.slot=b dg.trial=300"), "{cmdline}");
    let cfg = box_.ok(&format!(
        "{MOUNT_ESP} && cat {SYSLINUX_CFG} && ! test -e /boot/efi/syslinux/trial && umount /boot/efi"
    ));
    assert!(cfg.contains("DEFAULT b\n"), "{cfg}");
    assert!(!cfg.contains("b-trial"), "{cfg}");
    assert!(!cfg.contains("dg.trial"), "{cfg}");
    assert!(cfg.contains("dg.slot=b dg.recovery"), "{cfg}");

    // A broken release to slot a: its one boot panics, and syslinux's default (slot b) boots
    // next; the box says so.
    let (cmdline, _) = broken_release_falls_back(&mut box_, port, "", "BIOS upgrade");
    assert!(!cmdline.contains("dg.trial"), "{cmdline}");
    let cfg = box_.ok(&format!(
        "{MOUNT_ESP} && cat {SYSLINUX_CFG} && umount /boot/efi"
    ));
    assert!(cfg.contains("DEFAULT b\n"), "{cfg}");
    assert!(!cfg.contains("dg.slot=a"), "{cfg}");
    let _ = std::fs::remove_dir_all(&work);
}

/// syslinux's configuration on the mounted ESP.
const SYSLINUX_CFG: &str = "/boot/efi/syslinux/syslinux.cfg";
