//! Root, in network namespaces: `pptp-loadgen` against routerd with the pptp plugin, bounded
//! (50 sessions from 10 source addresses). Every session must come up (control connection,
//! call, MS-CHAPv2, MPPE-128, IPCP), get its echo requests to a host on the server's LAN
//! answered through the tunnel, and be closed cleanly; routerd must then hold no session.
//! The full-size benchmark is `tests/bench/pptp-load.sh`, not a test.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{LAN_HOST, Lab, SRV_ADDR};
use dialgate_test_support::{cargo_build, profile_dir, require_root};

const PASSWORD: &str = "load generator secret";

fn config(dir: &Path) -> String {
    format!(
        r#"
[system]
hostname = "srv"
state_dir = "{dir}"
plugin_dir = "{plugins}"

[management]
socket = "{dir}/routerd.sock"

[accounting]
enabled = false

[lan]
interface = "srvl"
proxy_arp = false

[[pool]]
name = "load"
ranges = ["10.100.0.1-10.100.3.254"]
local_address = "10.97.0.1"

[[plugin]]
name = "pptp"
file = "libdialgate_plugin_pptp.so"

[[link]]
name = "pptp-in"
plugin = "pptp"
role = "answer"
pool = "load"
[link.config]
listen = ["{SRV_ADDR}:1723"]
"#,
        dir = dir.display(),
        plugins = profile_dir().display(),
    )
}

fn routerctl(socket: &Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new(profile_dir().join("routerctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running routerctl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writing to routerctl");
    let out = child.wait_with_output().expect("routerctl output");
    assert!(
        out.status.success(),
        "routerctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn fifty_loadgen_sessions_come_up_through_routerd_pass_traffic_and_close() {
    if !require_root("network namespaces, TUN and raw GRE sockets") {
        return;
    }
    cargo_build(&["dialgate-routerd", "dialgate-plugin-pptp"], &[]);
    let mut lab = Lab::new("rd", 10);
    let dir = lab.dir.clone();
    std::fs::write(dir.join("routerd.toml"), config(&dir)).expect("writing the config");
    let srv = lab.srv.clone();
    let routerd = profile_dir().join("routerd");
    lab.spawn(
        &srv,
        "routerd",
        &routerd,
        &["--config", &dir.join("routerd.toml").display().to_string()],
    );
    assert!(
        lab.wait_listening(Duration::from_secs(30)),
        "routerd listens on 1723: {}",
        lab.log("routerd")
    );
    let socket = dir.join("routerd.sock");
    for n in 1..=5 {
        routerctl(
            &socket,
            &["users", "set-password", &format!("load{n}")],
            &format!("{PASSWORD}\n"),
        );
    }
    let (code, report, output) = lab.loadgen(
        &[
            "--target",
            &SRV_ADDR.to_string(),
            "--sources",
            "10.99.0.1-10.99.0.10",
            "--user",
            "load{n}",
            "--users",
            "5",
            "--password",
            PASSWORD,
            "--sessions",
            "50",
            "--in-flight",
            "16",
            "--pings",
            "2",
            "--ping-target",
            &LAN_HOST.to_string(),
            "--hold",
            "2",
            "--report-interval",
            "0",
        ],
        Duration::from_secs(120),
    );
    let logs = || format!("{output}\n--- routerd\n{}", lab.log("routerd"));
    assert_eq!(report["up"], 50, "{report}\n{}", logs());
    assert_eq!(report["failed"], 0, "{report}\n{}", logs());
    assert_eq!(
        report["echo_answered"], 100,
        "every echo answered by the LAN host: {report}"
    );
    assert_eq!(report["closed"], 50, "every session closed by us: {report}");
    assert_eq!(code, 0, "{}", logs());
    // routerd tore every session down.
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let status = routerctl(&socket, &["--json", "status"], "");
        let v: serde_json::Value = serde_json::from_str(&status).expect("status JSON");
        if v["sessions"]["total"] == 0 {
            break;
        }
        assert!(
            Instant::now() < end,
            "routerd still holds sessions: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
