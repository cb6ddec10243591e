//! Per-session capture (`[limits] capture_packets`): two serial links of one routerd joined by
//! a pty cable bring up an MS-CHAPv2 + MPPE-128 session; `GET /v1/sessions/{id}/pcap` (over
//! the real socket and client) answers a pcap file that Debian's tshark reads, with the
//! session's LCP in both directions, its CHAP (the response value blanked) and IPCP; a
//! session that started with capture off has none (404). In process, without root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use dialgate_routerd::api::client::{Client, ClientError};
use dialgate_routerd::api::{Control, LogRing, SessionInfo, bind_unix, serve_unix};
use dialgate_routerd::config::Document;
use dialgate_routerd::daemon::control::DaemonControl;
use dialgate_routerd::daemon::{Daemon, Options};
use dialgate_routerd::users::UserStore;
use support::{PtyCable, TempDir, cargo_build, library, wait_for};

fn config(dir: &TempDir, cable: &PtyCable, capture: u32) -> String {
    cargo_build(&["dialgate-plugin-serial"], &[]);
    format!(
        r#"
[system]
state_dir = "{state}"
plugin_dir = "/nonexistent"
drop_capabilities = false

[management]
socket = "{state}/routerd.sock"

[ppp]
echo_interval_secs = 0

[limits]
capture_packets = {capture}
capture_snaplen = 1600

[[pool]]
name = "office"
ranges = ["192.0.2.100-192.0.2.109"]
local_address = "192.0.2.1"

[[plugin]]
name = "serial"
file = "{serial}"

[[link]]
name = "srv"
plugin = "serial"
role = "answer"
pool = "office"
[[link.config.ports]]
name = "srv"
device = "{a}"

[[link]]
name = "cli"
plugin = "serial"
role = "dial"
credentials = {{ user = "alice", password = "correct horse" }}
[[link.config.ports]]
name = "cli"
device = "{b}"
role = "dial"
"#,
        state = dir.path().display(),
        serial = library("dialgate_plugin_serial").display(),
        a = cable.a().display(),
        b = cable.b().display(),
    )
}

fn tshark(file: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .expect("tshark runs (tests/apt-packages.txt installs it)");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn serve(dir: &TempDir, daemon: Arc<Daemon>) -> (Client, tokio::sync::oneshot::Sender<()>) {
    let control: Arc<dyn Control> = Arc::new(DaemonControl::new(daemon, LogRing::new(16)));
    let socket = dir.path().join("api.sock");
    let listener = bind_unix(&socket).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_unix(listener, control, async move {
        let _ = stopped.await;
    }));
    (Client::new(&socket), stop)
}

async fn start(dir: &TempDir, text: String) -> Arc<Daemon> {
    let mut users = UserStore::open(&dir.path().join("users.toml")).unwrap();
    users.set_password("alice", "correct horse").unwrap();
    drop(users);
    let doc = Document::parse("test.toml", text).unwrap();
    let options = Options {
        no_dataplane: true,
        state_dir: Some(dir.path().to_path_buf()),
    };
    Daemon::start(&doc, options).await.unwrap()
}

async fn server_session(client: &Client) -> SessionInfo {
    wait_for(Duration::from_secs(60), async || {
        let s: Vec<SessionInfo> = client.get("/v1/sessions").await.ok()?;
        s.into_iter().find(|s| {
            s.link == "srv"
                && s.ipv4.is_some()
                && s.encryption != dialgate_routerd::api::Encryption::None
        })
    })
    .await
    .expect("the server session is up within 60 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_pcap_shows_its_lcp_chap_and_ipcp() {
    let dir = TempDir::new("pcap");
    let cable = PtyCable::new();
    let daemon = start(&dir, config(&dir, &cable, 64)).await;
    let (client, stop) = serve(&dir, daemon.clone()).await;
    let srv = server_session(&client).await;
    let kept = srv.captured.expect("capture is on");
    assert!(kept > 0 && kept <= 64, "{kept}");

    let pcap = client.session_pcap(srv.id).await.unwrap();
    let file = dir.path().join("session.pcap");
    std::fs::write(&file, &pcap).unwrap();
    let lines = tshark(
        &file,
        &[
            "-T",
            "fields",
            "-e",
            "ppp.direction",
            "-e",
            "frame.protocols",
        ],
    );
    let has = |dir: &str, proto: &str| {
        lines
            .lines()
            .any(|l| l.starts_with(dir) && l.split(':').any(|p| p.trim() == proto))
    };
    // tshark's ppp.direction: 0 sent to the peer, 1 received from it.
    for (dir, proto) in [
        ("0", "lcp"),
        ("1", "lcp"),
        ("0", "chap"),
        ("1", "chap"),
        ("0", "ipcp"),
        ("1", "ipcp"),
    ] {
        assert!(has(dir, proto), "direction {dir} {proto} in:\n{lines}");
    }
    // The client's MS-CHAPv2 response (received by the server) is blanked.
    let values = tshark(
        &file,
        &["-Y", "chap.code == 2", "-T", "fields", "-e", "chap.value"],
    );
    assert!(!values.trim().is_empty(), "a CHAP response was captured");
    for v in values.lines() {
        assert!(
            v.chars().all(|c| c == '0' || c == ':'),
            "CHAP value not blanked: {v}"
        );
    }

    // Capture off: sessions that start now have none.
    let off = config(&dir, &cable, 0);
    let cfg: dialgate_routerd::api::ConfigShow = client.get("/v1/config").await.unwrap();
    let _ = control_apply(&client, off, cfg.version).await;
    assert!(daemon.kill_session(srv.id, "admin kill").await);
    let again = wait_for(Duration::from_secs(60), async || {
        let s: Vec<SessionInfo> = client.get("/v1/sessions").await.ok()?;
        s.into_iter()
            .find(|s| s.link == "srv" && s.id != srv.id && s.ipv4.is_some())
    })
    .await
    .expect("a new session");
    assert_eq!(again.captured, None);
    match client.session_pcap(again.id).await {
        Err(ClientError::Api { status: 404, body }) => {
            assert!(body.error.contains("capture_packets"), "{}", body.error)
        }
        other => panic!("404 without capture: {other:?}"),
    }
    match client.session_pcap(999_999).await {
        Err(ClientError::Api { status: 404, .. }) => {}
        other => panic!("404 for no session: {other:?}"),
    }
    let _ = stop.send(());
    daemon.shutdown("test over").await;
}

async fn control_apply(
    client: &Client,
    toml: String,
    base: u64,
) -> dialgate_routerd::api::ApplyResult {
    client
        .call(
            axum::http::Method::POST,
            "/v1/config",
            Some(&dialgate_routerd::api::ApplyRequest {
                toml,
                reason: Some("test: capture off".into()),
                base_version: Some(base),
            }),
        )
        .await
        .unwrap()
}
