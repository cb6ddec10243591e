//! The routerd and routerctl binaries, as processes: routerd started with `--config` (without
//! a data plane, so no root is needed for the sessions), two serial links over a pty cable,
//! inspected and controlled with routerctl; capabilities reduced (checked as root only: without
//! root the test fails unless `DIALGATE_SKIP_ROOT_TESTS=1`);
//! SIGTERM ends every session with a reason and an accounting record.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use dialgate_routerd::accounting::{Record, log_files};
use dialgate_routerd::api::{PluginInfo, PluginState, SessionState, UserEntry};
use support::netns::{sessions, wait_until};
use support::routerd::{Config, add_user, serial_plugin, spawn_routerd};
use support::{PtyCable, TempDir, routerctl};

#[test]
fn routerd_runs_sessions_and_routerctl_controls_it() {
    let dir = TempDir::new("process");
    let cable = PtyCable::new();
    let socket = dir.path().join("routerd.sock");
    let config = Config::new(dir.path())
        .plugin_dir(dir.path())
        .drop_capabilities()
        .no_lcp_echo()
        .pool()
        .plugin("serial", &serial_plugin())
        .serial_answer("srv", cable.a(), "")
        .serial_dial("cli", cable.b())
        .text();
    let file = dir.path().join("routerd.toml");
    std::fs::write(&file, config).unwrap();
    add_user(dir.path());

    let mut routerd = spawn_routerd(
        &file,
        &dir.path().join("routerd.log"),
        &[("RUST_LOG", "info")],
    );
    let log_text = || std::fs::read_to_string(dir.path().join("routerd.log")).unwrap_or_default();

    let up = wait_until(Duration::from_secs(30), || {
        let s = sessions(&socket);
        (s.len() == 2 && s.iter().all(|x| x.state == SessionState::Up)).then_some(s)
    })
    .unwrap_or_else(|| panic!("two sessions up; routerd's log:\n{}", log_text()));
    let srv = up.iter().find(|s| s.link == "srv").unwrap();
    assert_eq!(srv.user.as_deref(), Some("alice"));
    assert!(srv.ipv4.is_some());

    // Root keeps only CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12) and CAP_NET_RAW (13).
    // This check needs root; without it the test fails unless DIALGATE_SKIP_ROOT_TESTS=1
    // (then the rest still runs).
    if dialgate_test_support::require_root("checking the capabilities routerd keeps") {
        let status = std::fs::read_to_string(format!("/proc/{}/status", routerd.pid())).unwrap();
        let eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        let bnd = status
            .lines()
            .find_map(|l| l.strip_prefix("CapBnd:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        assert_eq!(eff, 0x3400, "effective capabilities {eff:#x}");
        assert_eq!(bnd, 0x3400, "bounding set {bnd:#x}");
    }

    // Users: set a password from standard input, list, remove.
    let (code, _) = routerctl(&socket, &["users", "set-password", "bob"], "hunter22\n");
    assert_eq!(code, 0);
    let (code, out) = routerctl(&socket, &["--json", "users"], "");
    assert_eq!(code, 0);
    let users: Vec<UserEntry> = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(users[0].sessions, 1, "alice has one session");
    let (code, _) = routerctl(&socket, &["users", "remove", "bob"], "");
    assert_eq!(code, 0);
    let (code, _) = routerctl(&socket, &["users", "remove", "bob"], "");
    assert_eq!(code, 1, "removing a missing user is refused");

    // Plugins with versions and state.
    let (code, out) = routerctl(&socket, &["--json", "plugins"], "");
    assert_eq!(code, 0);
    let plugins: Vec<PluginInfo> = serde_json::from_str(&out).unwrap();
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0].state, PluginState::Running);
    assert_eq!(
        plugins[0].abi_version,
        Some(dialgate_plugin_host::abi::ABI_VERSION.to_string()),
        "the plugin is built against this tree's ABI"
    );
    assert_eq!(plugins[0].sessions, 2);

    // Metrics in the Prometheus format.
    let (code, out) = routerctl(&socket, &["metrics"], "");
    assert_eq!(code, 0);
    assert!(out.contains("dialgate_sessions"), "{out}");

    // Kill the server session: refused for an unknown id, done for a real one.
    let (code, _) = routerctl(&socket, &["sessions", "kill", "999999"], "");
    assert_eq!(code, 1);
    let (code, _) = routerctl(&socket, &["sessions", "kill", &srv.id.to_string()], "");
    assert_eq!(code, 0);
    let again = wait_until(Duration::from_secs(30), || {
        let s = sessions(&socket);
        (s.len() == 2
            && s.iter().all(|x| x.state == SessionState::Up)
            && s.iter().all(|x| x.id != srv.id))
        .then_some(s)
    });
    assert!(again.is_some(), "the client dialled again");

    // Config: check a broken file, then history.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[system]\nhostname = 5\n").unwrap();
    let (code, _) = routerctl(&socket, &["config", "check", bad.to_str().unwrap()], "");
    assert_eq!(code, 1);
    let (code, out) = routerctl(&socket, &["config", "history"], "");
    assert_eq!(code, 0, "{out}");

    // SIGTERM: routerd ends every session, writes the records and exits cleanly.
    let status = routerd
        .terminate(Duration::from_secs(15))
        .expect("routerd exits on SIGTERM");
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        log_text()
    );
    assert!(!socket.exists(), "the socket is removed");
    let mut stops = Vec::new();
    for file in log_files(&dir.path().join("accounting.jsonl"), 10) {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            if let Ok(Record::Stop(s)) = serde_json::from_str::<Record>(line) {
                stops.push((s.session, s.reason));
            }
        }
    }
    assert!(
        stops.iter().any(|(id, r)| *id == srv.id && r == "admin"),
        "{stops:?}"
    );
    assert!(
        stops
            .iter()
            .filter(|(_, r)| r.starts_with("routerd shutting down"))
            .count()
            >= 2,
        "{stops:?}"
    );
}
