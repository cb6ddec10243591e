//! Per-session capture (`[limits] capture_packets`): two serial links of one routerd joined by
//! a pty cable bring up an MS-CHAPv2 + MPPE-128 session; `GET /v1/sessions/{id}/pcap` (over
//! the real socket and client) answers a pcap file that Debian's tshark reads, with the
//! session's LCP in both directions, its CHAP (the response value blanked) and IPCP; a
//! session that started with capture off has none (404). In process, without root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use dialgate_routerd::api::SessionInfo;
use dialgate_routerd::api::client::{Client, ClientError};
use dialgate_routerd::config::Document;
use dialgate_routerd::daemon::Daemon;
use support::netns::tshark;
use support::routerd::{Api, Config, add_user, serial_plugin, start_in_process};
use support::{PtyCable, TempDir, wait_for};

fn config(dir: &TempDir, cable: &PtyCable, capture: u32) -> String {
    Config::new(dir.path())
        .no_lcp_echo()
        .raw(&format!(
            "\n[limits]\ncapture_packets = {capture}\ncapture_snaplen = 1600\n"
        ))
        .pool()
        .plugin("serial", &serial_plugin())
        .serial_answer("srv", cable.a(), "")
        .serial_dial("cli", cable.b())
        .text()
}

async fn start(dir: &TempDir, text: String) -> Arc<Daemon> {
    add_user(dir.path());
    let doc = Document::parse("test.toml", text).unwrap();
    start_in_process(dir.path(), &doc).await
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
    let api = Api::serve(dir.path(), daemon.clone());
    let client = &api.client;
    let srv = server_session(client).await;
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
    let _ = control_apply(client, off, cfg.version).await;
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
    drop(api.stop());
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
