//! routerctl end to end: the real binary against the API served over a fake daemon.

mod mgmt_support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use mgmt_support::server::{TempDir, TestServer};

fn routerctl(server: &TestServer, args: &[&str]) -> Output {
    routerctl_stdin(server, args, "")
}

fn routerctl_stdin(server: &TestServer, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_routerctl"))
        .arg("--socket")
        .arg(&server.socket)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run routerctl");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    child.wait_with_output().expect("routerctl output")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
}

#[test]
fn status_sessions_plugins_tables_and_json() {
    let server = TestServer::start();
    let o = routerctl(&server, &["status"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(
        out.contains("sessions: 2 (1 terminated, 1 relayed, 2 up)"),
        "{out}"
    );
    assert!(out.contains("broken (failed)"), "{out}");
    assert!(out.contains("interface dg0 (tun): up, mtu 1400"), "{out}");

    let o = routerctl(&server, &["sessions"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("ID  USER"), "{out}");
    assert!(lines[1].contains("alice") && lines[1].contains("mppe-128"));
    assert!(lines[2].contains("relay") && lines[2].contains("2001:db8:0:2::/64"));

    let o = routerctl(&server, &["--json", "sessions", "show", "2"]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["user"], "bob");
    assert_eq!(v["encryption"]["bits"], 128);

    let o = routerctl(&server, &["sessions", "show", "1"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("traffic     in 1000 (10 packets), out 2000 (20 packets)"));

    let o = routerctl(&server, &["plugins"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("serial") && out.contains("1.0.0") && out.contains("running"));
    assert!(out.contains("built against ABI 2.0.0"), "{out}");
    assert!(
        out.lines().next().unwrap_or("").contains("RESTARTS"),
        "{out}"
    );

    let o = routerctl(&server, &["plugins", "restart", "serial"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "serial: restarted serial0\n");
    let o = routerctl(&server, &["plugins", "restart", "nothing"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("HTTP 404"), "{}", stderr(&o));
}

#[test]
fn kill_and_unknown_session() {
    let server = TestServer::start();
    let o = routerctl(&server, &["sessions", "kill", "1"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "session 1 killed\n");
    assert_eq!(server.control.state().killed, vec![1]);
    let o = routerctl(&server, &["sessions", "kill", "1"]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains("no session 1 (HTTP 404)"),
        "{}",
        stderr(&o)
    );
    // A non-numeric id is a usage error before anything is sent.
    let o = routerctl(&server, &["sessions", "show", "abc"]);
    assert_code(&o, 2);
}

#[test]
fn users_password_from_stdin_never_argv() {
    let server = TestServer::start();
    let o = routerctl_stdin(&server, &["users", "set-password", "carol"], "pa ss\n");
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "created user carol\n");
    assert_eq!(
        server.control.state().users.get("carol").map(|s| &s[..]),
        Some("pa ss")
    );
    let o = routerctl_stdin(&server, &["users", "set-password", "alice"], "x\r\n");
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "password changed for alice\n");
    assert_eq!(
        server.control.state().users.get("alice").map(|s| &s[..]),
        Some("x")
    );
    // Empty input changes nothing.
    let o = routerctl_stdin(&server, &["users", "set-password", "bob"], "");
    assert_code(&o, 2);
    assert_eq!(
        server.control.state().users.get("bob").map(|s| &s[..]),
        Some("b")
    );
    // There is no way to pass the password as an argument.
    let o = routerctl(&server, &["users", "set-password", "bob", "secret"]);
    assert_code(&o, 2);

    let o = routerctl(&server, &["users"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.starts_with("NAME"), "{out}");
    assert!(!out.contains("pa ss"));
    let o = routerctl(&server, &["users", "remove", "carol"]);
    assert_code(&o, 0);
    let o = routerctl(&server, &["users", "remove", "carol"]);
    assert_code(&o, 1);
}

#[test]
fn config_show_check_apply_rollback_history() {
    let server = TestServer::start();
    let dir = TempDir::new("ctl");
    let o = routerctl(&server, &["config", "show"]);
    assert_code(&o, 0);
    let current = stdout(&o);
    assert!(current.contains("[management]"));

    let good = dir.path().join("good.toml");
    std::fs::write(&good, current.replace("127.0.0.1:9633", "127.0.0.1:9700")).expect("write");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[system]\nbogus = 1\n").expect("write");
    let good_s = good.to_str().expect("utf-8 path");
    let bad_s = bad.to_str().expect("utf-8 path");

    let o = routerctl(&server, &["config", "check", good_s]);
    assert_code(&o, 0);
    assert_eq!(
        stdout(&o),
        format!("{good_s}: OK\n  section [management] changed\n")
    );
    let o = routerctl(&server, &["config", "check", bad_s]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains(&format!("{bad_s}:2:1: system.bogus:")),
        "{}",
        stderr(&o)
    );
    let o = routerctl(&server, &["config", "apply", bad_s]);
    assert_code(&o, 1);
    assert!(
        stderr(&o).contains(&format!("{bad_s}:2:1: system.bogus:")),
        "{}",
        stderr(&o)
    );
    let o = routerctl(&server, &["config", "check", "/nonexistent/x.toml"]);
    assert_code(&o, 2);

    let o = routerctl(
        &server,
        &["config", "apply", good_s, "--reason", "new metrics port"],
    );
    assert_code(&o, 0);
    assert!(stdout(&o).starts_with("configuration version 2 is current"));
    let o = routerctl(&server, &["config", "apply", good_s, "--base-version", "1"]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("HTTP 409"), "{}", stderr(&o));
    let o = routerctl(&server, &["config", "rollback", "1"]);
    assert_code(&o, 0);
    assert!(stdout(&o).starts_with("configuration version 3 is current"));
    let o = routerctl(&server, &["config", "rollback", "77"]);
    assert_code(&o, 1);

    let o = routerctl(&server, &["config", "history"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(out.contains("new metrics port"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("3 *") && l.contains("rollback to 1")),
        "{out}"
    );
    let o = routerctl(&server, &["--json", "config", "history"]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["current"], 3);
}

#[test]
fn logs_and_metrics() {
    let server = TestServer::start();
    let o = routerctl(&server, &["logs", "--session", "1"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().all(|l| l.contains("[session 1]")));
    let o = routerctl(&server, &["logs", "--limit", "1", "--json"]);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(1));
    let o = routerctl(&server, &["metrics"]);
    assert_code(&o, 0);
    assert!(stdout(&o).contains("dialgate_auth_failures_total{reason=\"bad-password\"} 4"));
}

#[test]
fn missing_socket_is_exit_3() {
    let dir = TempDir::new("nosock");
    let o = Command::new(env!("CARGO_BIN_EXE_routerctl"))
        .arg("--socket")
        .arg(dir.path().join("absent.sock"))
        .arg("status")
        .output()
        .expect("run routerctl");
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cannot connect to routerd at"), "{err}");
    assert!(err.contains("absent.sock"), "{err}");
}
