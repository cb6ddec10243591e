//! Shared by the boot tests: [`Appliance`], one box booted by `appliance-image/run-qemu.sh`
//! with its console on a pipe, and small helpers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub const SECOND: Duration = Duration::from_secs(1);

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The image under test for `arch`: `$DIALGATE_APPLIANCE_IMAGE_<ARCH>` (e.g.
/// `DIALGATE_APPLIANCE_IMAGE_X86_64`), else the one `build.sh <arch>` makes under target/.
pub fn image(arch: &str) -> PathBuf {
    let var = format!("DIALGATE_APPLIANCE_IMAGE_{}", arch.to_uppercase());
    let path = std::env::var_os(&var)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(format!("target/appliance/{arch}/dialgate-{arch}.img")));
    assert!(
        path.is_file(),
        "no appliance image at {}: build it with appliance-image/build.sh {arch} --no-xz \
         (tests/run-all.sh does) or set {var}",
        path.display()
    );
    path
}

/// The box's configuration as a boot test applies it with routerctl on the console: the
/// image's paths, metrics on the box's loopback, MS-CHAPv2 with encryption required, the pool
/// "office" (10.0.2.200-210, local end the box's LAN address 10.0.2.15) and both plugins
/// (`pptp`, `serial`); `rest`, the test's own tables (its links), follows.
pub fn box_config(hostname: &str, rest: &str) -> String {
    format!(
        r#"
[system]
hostname = "{hostname}"
plugin_dir = "/usr/lib/dialgate/plugins"
state_dir = "/var/lib/dialgate"

[management]
socket = "/run/dialgate/routerd.sock"
metrics_listen = "127.0.0.1:9633"

[ppp]
auth_methods = ["mschap-v2"]
allow_insecure_no_encryption = false

[[pool]]
name = "office"
ranges = ["10.0.2.200-10.0.2.210"]
local_address = "10.0.2.15"

[[plugin]]
name = "pptp"
file = "libdialgate_plugin_pptp.so"

[[plugin]]
name = "serial"
file = "libdialgate_plugin_serial.so"
{rest}"#
    )
}

/// A free TCP port on the host's loopback (for the runner's forwards).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// One booted box: run-qemu.sh with the console on its stdin/stdout.
pub struct Appliance {
    pub child: Child,
    pub stdin: ChildStdin,
    pub console: Arc<Mutex<String>>,
    /// The host port forwarded to the box's HTTPS (web UI).
    pub https_port: u16,
    pub started: Instant,
    pub next_id: u32,
}

impl Appliance {
    /// Starts `run-qemu.sh --snapshot --console stdio` with `extra` options.
    pub fn start(image: &Path, extra: &[&str]) -> Appliance {
        let https_port = free_port();
        let (https, http) = (https_port.to_string(), free_port().to_string());
        let mut child = Command::new(repo().join("appliance-image/run-qemu.sh"))
            .args(["--snapshot", "--console", "stdio"])
            .args(["--https-port", &https, "--http-port", &http])
            .args(extra)
            .arg(image)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting appliance-image/run-qemu.sh");
        let console = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let console = Arc::clone(&console);
            std::thread::spawn(move || copy_into(stream, &console));
        }
        let stdin = child.stdin.take().unwrap();
        Appliance {
            child,
            stdin,
            console,
            https_port,
            started: Instant::now(),
            next_id: 0,
        }
    }

    pub fn console(&self) -> String {
        self.console
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn console_len(&self) -> usize {
        self.console
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Waits until `text` appears in the console after byte `from`; returns the offset just
    /// after it.
    pub fn wait_for(&mut self, text: &str, from: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let console = self.console();
            if let Some(at) = console.get(from..).and_then(|c| c.find(text)) {
                return from + at + text.len();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("run-qemu.sh exited ({status}) waiting for {text:?}; console:\n{console}");
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {text:?}; console:\n{console}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `command` in the console's shell; returns its exit status and what the console
    /// showed meanwhile.
    pub fn sh(&mut self, command: &str, timeout: Duration) -> (i32, String) {
        self.next_id += 1;
        let id = self.next_id;
        let from = self.console_len();
        // The marker is assembled by printf, so the echoed command line never matches it.
        let line = format!("{command}; printf '@@RC%s %s\\n' {id} $?\n");
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
        let marker = format!("@@RC{id} ");
        let end = self.wait_for(&marker, from, timeout);
        let console = self.console();
        let rest = console.get(end..).unwrap_or("");
        let status = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        (status, console.get(from..end).unwrap_or("").to_owned())
    }

    /// [`Appliance::sh`] that must succeed.
    pub fn ok(&mut self, command: &str) -> String {
        let (status, out) = self.sh(command, 60 * SECOND);
        assert_eq!(status, 0, "{command}:\n{out}");
        out
    }

    /// Writes `contents` to `path` in the box through the console (base64 in short lines).
    pub fn write_file(&mut self, path: &str, contents: &str) {
        self.ok("rm -f /tmp/upload.b64");
        for chunk in base64(contents.as_bytes()).as_bytes().chunks(200) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            self.ok(&format!("printf %s '{chunk}' >>/tmp/upload.b64"));
        }
        self.ok(&format!("base64 -d /tmp/upload.b64 >{path}"));
    }

    /// routerd's metrics through the management API on the console (`routerctl metrics`; the
    /// metrics listener is on the box's loopback only), retried until `timeout`.
    pub fn metrics(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, out) = self.sh("routerctl metrics", 60 * SECOND);
            if status == 0 {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "routerctl metrics failed:\n{out}\nconsole:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Appliance {
    /// The HTTP status of `GET https://127.0.0.1:<https_port>/` (the web UI's self-signed
    /// certificate is not checked), retried until `timeout`.
    pub fn web_ui_status(&self, timeout: Duration) -> u16 {
        let deadline = Instant::now() + timeout;
        loop {
            let out = Command::new("curl")
                .args([
                    "-sk",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "10",
                ])
                .arg(format!("https://127.0.0.1:{}/", self.https_port))
                .stdin(Stdio::null())
                .output()
                .expect("running curl (apt-get install curl)");
            let code = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or(0);
            if code != 0 {
                return code;
            }
            assert!(
                Instant::now() < deadline,
                "the web UI on https://127.0.0.1:{}/ did not answer; console:\n{}",
                self.https_port,
                self.console()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        // SIGTERM: the runner stops QEMU and removes its tap; then make sure.
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + 15 * SECOND;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn copy_into(mut from: Box<dyn Read + Send>, into: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&buf[..n]).replace('\r', "");
        if std::env::var_os("DIALGATE_VM_ECHO").is_some() {
            eprint!("{text}");
        }
        into.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_str(&text);
    }
}

/// A plain HTTP/1.0 GET on 127.0.0.1:`port`; the body of a 200 answer.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(5 * SECOND)).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then_some(())?;
    head.split(' ').nth(1).filter(|c| *c == "200")?;
    Some(body.to_owned())
}

/// RFC 4648 base64 (for [`Appliance::write_file`]).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
