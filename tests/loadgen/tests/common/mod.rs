//! Network namespaces for the load generator's root tests: a server namespace and a load
//! namespace joined by a veth pair, the load side carrying many /32 source addresses routed
//! from the server through it, and a LAN namespace behind the server. Everything is deleted
//! (and every process killed) on drop; every wait is bounded.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The server's address on the link.
pub const SRV_ADDR: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);
/// The load namespace's address on the link.
pub const LG_ADDR: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);
/// The server's address on its LAN.
pub const LAN_ROUTER: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 1);
/// A host on the server's LAN.
pub const LAN_HOST: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 2);
/// The client pool (routed from the LAN host through the server).
pub const POOL: &str = "10.100.0.0/16";

pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespaces and their processes.
pub struct Lab {
    pub srv: String,
    pub lg: String,
    pub lan: String,
    pub dir: PathBuf,
    children: Vec<Child>,
}

impl Lab {
    /// Namespaces with `sources` (`10.99.0.1`..) as /32s on the load side.
    pub fn new(tag: &str, sources: u8) -> Lab {
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(format!("dialgate-loadgen-{tag}-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab {
            srv: format!("lg{tag}-srv-{id}"),
            lg: format!("lg{tag}-lg-{id}"),
            lan: format!("lg{tag}-lan-{id}"),
            dir,
            children: Vec::new(),
        };
        for ns in [&lab.srv, &lab.lg, &lab.lan] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&[
            "link", "add", "lgv", "netns", &lab.lg, "type", "veth", "peer", "name", "srvv",
            "netns", &lab.srv,
        ]);
        ip(&[
            "link", "add", "lanv", "netns", &lab.lan, "type", "veth", "peer", "name", "srvl",
            "netns", &lab.srv,
        ]);
        ip(&["-n", &lab.srv, "addr", "add", "10.98.0.1/30", "dev", "srvv"]);
        ip(&["-n", &lab.srv, "addr", "add", "10.97.0.1/24", "dev", "srvl"]);
        ip(&["-n", &lab.lg, "addr", "add", "10.98.0.2/30", "dev", "lgv"]);
        ip(&["-n", &lab.lan, "addr", "add", "10.97.0.2/24", "dev", "lanv"]);
        for (ns, dev) in [
            (&lab.srv, "srvv"),
            (&lab.srv, "srvl"),
            (&lab.lg, "lgv"),
            (&lab.lan, "lanv"),
        ] {
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        for i in 1..=sources {
            ip(&[
                "-n",
                &lab.lg,
                "addr",
                "add",
                &format!("10.99.0.{i}/32"),
                "dev",
                "lgv",
            ]);
        }
        ip(&[
            "-n",
            &lab.srv,
            "route",
            "add",
            "10.99.0.0/24",
            "via",
            "10.98.0.2",
        ]);
        ip(&["-n", &lab.lan, "route", "add", POOL, "via", "10.97.0.1"]);
        lab
    }

    /// Start `program` in namespace `ns`, output to `<dir>/<name>.log`.
    pub fn spawn(&mut self, ns: &str, name: &str, program: &Path, args: &[&str]) -> u32 {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawning");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Wait (bounded) until something listens on TCP 1723 in the server namespace.
    pub fn wait_listening(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            let out = Command::new("ip")
                .args(["netns", "exec", &self.srv, "ss", "-Hltn", "sport = :1723"])
                .output()
                .expect("ss");
            if String::from_utf8_lossy(&out.stdout).contains("1723") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Run the load generator in the load namespace with `args`, bounded by `timeout`:
    /// (exit code, the final JSON report).
    pub fn loadgen(&self, args: &[&str], timeout: Duration) -> (i32, serde_json::Value, String) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.lg])
            .arg(env!("CARGO_BIN_EXE_pptp-loadgen"))
            .args(args)
            .arg("--json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning pptp-loadgen");
        let end = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > end {
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let last = stdout
            .lines()
            .rev()
            .find(|l| l.contains("\"kind\":\"final\""))
            .unwrap_or_else(|| panic!("no final report: {stdout}\n{stderr}"));
        (
            status.code().unwrap_or(-1),
            serde_json::from_str(last).unwrap(),
            format!("{stdout}\n{stderr}"),
        )
    }

    /// A log's text.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.lg, &self.srv, &self.lan] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
