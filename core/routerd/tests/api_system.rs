//! The statistics and system endpoints of a real routerd process (`--no-dataplane`):
//! `GET /v1/stats/history` has a first sample as soon as the API answers, with the box's
//! memory and routerd's own size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use dialgate_routerd::api::client::Client;
use support::routerd::{spawn_routerd, wait_for_socket};
use support::{Child, TempDir, cargo_build};

/// routerd on a temporary state directory, with `extra` appended to its configuration.
struct Routerd {
    dir: TempDir,
    socket: PathBuf,
    _child: Child,
}

impl Routerd {
    fn start(tag: &str, extra: &str) -> Routerd {
        cargo_build(&["dialgate-routerd"], &["routerd"]);
        let dir = TempDir::new(tag);
        let socket = dir.path().join("routerd.sock");
        let config = format!(
            "[system]\nstate_dir = \"{}\"\ndrop_capabilities = false\n{extra}\n\
[management]\nsocket = \"{}\"\n",
            dir.path().join("state").display(),
            socket.display(),
        );
        let file = dir.path().join("routerd.toml");
        std::fs::write(&file, config).unwrap();
        let log = dir.path().join("routerd.log");
        let child = spawn_routerd(&file, &log, &[]);
        wait_for_socket(&socket, &log);
        Routerd {
            dir,
            socket,
            _child: child,
        }
    }

    fn log_of(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("routerd.log")).unwrap_or_default()
    }

    fn client(&self) -> Client {
        Client::new(&self.socket).with_timeout(Duration::from_secs(10))
    }
}

#[tokio::test]
async fn stats_history_has_a_first_sample_and_host_memory() {
    let r = Routerd::start("stats", "");
    let h = r.client().stats_history().await.unwrap();
    assert_eq!(h.interval_secs, 10);
    assert!(!h.points.is_empty(), "{}", Routerd::log_of(r.dir.path()));
    let p = h.points[0];
    assert_eq!((p.bytes_in, p.bytes_out, p.sessions), (0, 0, 0));
    assert_eq!(p.cpu_percent, None, "no CPU figure from one reading");
    assert!(h.cpus.is_some_and(|n| n >= 1));
    let total = h.memory.total_bytes.unwrap();
    let rss = h.memory.routerd_rss_bytes.unwrap();
    assert!(rss > 1024 * 1024 && rss < total, "rss {rss} of {total}");
    assert!(h.memory.available_bytes.unwrap() <= total);
    assert!(h.rates().is_empty());
}

#[tokio::test]
async fn system_lists_interfaces_dns_and_time() {
    let r = Routerd::start("system", "");
    let info = r.client().system_info().await.unwrap();
    let now = dialgate_routerd::time::Timestamp::now();
    assert!(now.ms_since(info.time) < 60_000, "{} vs {now}", info.time);
    assert!(info.boot_uptime_secs.is_some_and(|s| s > 0));
    assert!(info.kernel.is_some());
    let lo = info
        .interfaces
        .iter()
        .find(|i| i.name == "lo")
        .expect("loopback");
    assert!(lo.addresses.iter().any(|a| a == "127.0.0.1/8"), "{lo:?}");
    assert!(lo.counters.rx_bytes.is_some());
    assert_eq!(lo.role, None);
    // Whatever this machine's resolver is, what is listed parses as an address.
    for d in &info.dns {
        let bare = d.split('%').next().unwrap();
        assert!(bare.parse::<std::net::IpAddr>().is_ok(), "{d}");
    }
}

#[tokio::test]
async fn reboot_runs_the_configured_command() {
    let marker = std::env::temp_dir().join(format!("dg-reboot-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let r = Routerd::start(
        "reboot",
        &format!(
            "reboot_command = [\"/bin/sh\", \"-c\", \"echo rebooted > {}\"]",
            marker.display()
        ),
    );
    let started = r.client().reboot().await.unwrap();
    assert_eq!(started.command[0], "/bin/sh");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "rebooted\n",
        "the command ran before the answer"
    );
    std::fs::remove_file(&marker).unwrap();

    // A failing command is an error with its output; an empty one refuses.
    let r = Routerd::start(
        "reboot-fails",
        "reboot_command = [\"/bin/sh\", \"-c\", \"echo no permission >&2; exit 3\"]",
    );
    let err = r.client().reboot().await.unwrap_err().to_string();
    assert!(
        err.contains("no permission") && err.contains("500"),
        "{err}"
    );
    let r = Routerd::start("reboot-off", "reboot_command = []");
    let err = r.client().reboot().await.unwrap_err().to_string();
    assert!(err.contains("disabled") && err.contains("409"), "{err}");
}
