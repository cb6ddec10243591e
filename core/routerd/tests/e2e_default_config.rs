//! The README's main command runs `routerd` with no `--config`: it must come up on its
//! embedded default configuration. As root, in a network namespace this test creates: routerd
//! starts with only `--state-dir` and `--socket` (kept inside a temporary directory),
//! `routerctl status` answers, the configuration it runs is the embedded default, it serves
//! no link, its TUN device is up, and it changed no forwarding setting (the default serves
//! nobody, so it must not turn the host into a router). SIGTERM stops it cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Stdio;
use std::time::Duration;

use dialgate_routerd::api::Status;
use dialgate_routerd::config::DEFAULT_CONFIG;
use support::netns::{Lab, ip_out, wait_until};
use support::{Child, TempDir, binary, routerctl};

#[test]
fn routerd_without_a_config_runs_the_embedded_default() {
    if !dialgate_test_support::require_root("a network namespace and the TUN device") {
        return;
    }
    let dir = TempDir::new("default");
    let state = dir.path().join("state");
    let socket = dir.path().join("routerd.sock");
    let mut lab = Lab::new("dflt", &["box"]);
    let ns = lab.ns("box").to_owned();
    let sysctl = |key: &str| {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &ns, "cat"])
            .arg(format!("/proc/sys/net/{key}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let forwarding_before = (
        sysctl("ipv4/ip_forward"),
        sysctl("ipv6/conf/all/forwarding"),
    );

    let log_path = dir.path().join("routerd.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = lab
        .command("box", binary("routerd"))
        .arg("--state-dir")
        .arg(&state)
        .arg("--socket")
        .arg(&socket)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting routerd");
    lab.processes.push(Child(Some(child)));
    let log_text = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // routerctl status answers, as text and as JSON.
    let status: Status = wait_until(Duration::from_secs(20), || {
        let (code, out) = routerctl(&socket, &["--json", "status"], "");
        (code == 0)
            .then(|| serde_json::from_str(&out).ok())
            .flatten()
    })
    .unwrap_or_else(|| panic!("routerctl status answers\n{}", log_text()));
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(status.sessions.total, 0);
    assert!(status.plugins.is_empty(), "{status:?}");
    let (code, text) = routerctl(&socket, &["status"], "");
    assert_eq!(code, 0);
    assert!(text.starts_with("routerd "), "{text}");

    // The configuration it runs is the embedded default, stored as version 1 in the state
    // directory it was given.
    let (code, shown) = routerctl(&socket, &["config", "show"], "");
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains(DEFAULT_CONFIG.trim()),
        "config show prints the embedded default:\n{shown}"
    );
    assert!(state.join("config").is_dir(), "the store is in --state-dir");

    // The TUN is up; no forwarding was switched on.
    let link = ip_out(&["-n", &ns, "link", "show", "dialgate0"]);
    assert!(link.contains("UP"), "{link}");
    assert_eq!(
        (
            sysctl("ipv4/ip_forward"),
            sysctl("ipv6/conf/all/forwarding")
        ),
        forwarding_before,
        "forwarding untouched by a box that serves no link"
    );

    // SIGTERM: a clean stop that removes the socket.
    let mut p = lab.processes.pop().unwrap();
    let status = p.terminate(Duration::from_secs(15)).expect("routerd exits");
    assert!(status.success(), "{status}\n{}", log_text());
    assert!(!socket.exists(), "the socket is removed at exit");
}
