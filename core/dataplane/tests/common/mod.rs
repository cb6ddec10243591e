//! Network namespaces for the root-only tests: each test makes its own, with a unique name,
//! runs code inside it on a dedicated thread (setns on that thread only), and deletes it on
//! drop. Every wait is bounded.
#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::{CloneFlags, setns};

/// How long one test body may run in a namespace.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether a root-only test runs: fails the test, with a message saying why, unless it runs
/// as root with iproute2 and /dev/net/tun (these tests need CAP_NET_ADMIN to create
/// namespaces and TUN devices; CI runs them as root), or the environment opted out with
/// `DIALGATE_SKIP_ROOT_TESTS=1` (then `false`: the test returns without running).
#[must_use = "return from the test when this is false"]
pub fn require_root() -> bool {
    if !dialgate_test_support::require_root("network namespaces and TUN devices") {
        return false;
    }
    let ip = Command::new("ip").arg("-V").output();
    assert!(
        ip.is_ok_and(|o| o.status.success()),
        "this test needs the `ip` command of iproute2"
    );
    assert!(
        std::path::Path::new("/dev/net/tun").exists(),
        "this test needs /dev/net/tun (the tun module)"
    );
    true
}

/// Runs `ip ARGS`, failing the test with its stderr if it fails; returns stdout.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace that exists for the life of the value.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates `dgdp-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("dgdp-{tag}-{}-{n}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Runs `f` on a new thread that has entered the namespace; the thread ends with `f`.
    pub fn spawn<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Body<T> {
        let path = format!("/run/netns/{}", self.name);
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name(format!("in-{}", self.name))
            .spawn(move || {
                let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                setns(file.as_fd(), CloneFlags::CLONE_NEWNET)
                    .unwrap_or_else(|e| panic!("setns {path}: {e}"));
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
                let _ = tx.send(result);
            })
            .expect("spawn namespace thread");
        Body { rx }
    }

    /// Runs `f` inside the namespace and waits for it (at most [`BODY_TIMEOUT`]).
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.spawn(f).join()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A test body running in a namespace.
#[derive(Debug)]
pub struct Body<T> {
    rx: mpsc::Receiver<thread::Result<T>>,
}

impl<T> Body<T> {
    /// Its result; a panic inside is re-raised here, and so is running past the timeout.
    pub fn join(self) -> T {
        match self.rx.recv_timeout(BODY_TIMEOUT) {
            Ok(Ok(v)) => v,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(e) => panic!("namespace test body did not finish within {BODY_TIMEOUT:?}: {e}"),
        }
    }
}

/// Waits until `fd` is readable, at most until `deadline`; false on timeout.
pub fn wait_readable(fd: impl AsFd, deadline: Instant) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}

/// Internet checksum (RFC 1071) of `data`, for building test packets.
pub fn checksum(chunks: &[&[u8]]) -> u16 {
    let mut all = Vec::new();
    for c in chunks {
        all.extend_from_slice(c);
    }
    if all.len() % 2 == 1 {
        all.push(0);
    }
    let mut sum: u64 = all
        .chunks(2)
        .map(|w| (u64::from(w[0]) << 8) | u64::from(w[1]))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet with `protocol` and `payload` (header checksum filled in).
pub fn ipv4_packet(src: [u8; 4], dst: [u8; 4], protocol: u8, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = protocol;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    let c = checksum(&[&p]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An IPv6 packet with `next_header` and `payload`, hop limit 64.
pub fn ipv6_packet(src: [u8; 16], dst: [u8; 16], next_header: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    p[6] = next_header;
    p[7] = 64;
    p[8..24].copy_from_slice(&src);
    p[24..40].copy_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

/// The IPv6 pseudo-header (RFC 8200 §8.1) for checksums.
pub fn ipv6_pseudo(src: [u8; 16], dst: [u8; 16], len: usize, next_header: u8) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(&(len as u32).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, next_header]);
    v
}
