//! Configuration changes that reach the management API at the same time queue and run one
//! after the other (no 409): every one is applied, in some order, each as the next version,
//! and the history shows them all. A stale `base_version` is still refused when its turn
//! comes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use dialgate_routerd::api::client::{Client, ClientError};
use dialgate_routerd::api::{ApplyRequest, ApplyResult, History, LogRing};
use dialgate_routerd::config::Document;
use dialgate_routerd::daemon::control::ApiServer;
use hyper::Method;
use support::TempDir;
use support::routerd::start_in_process;

fn text(dir: &TempDir, hostname: &str) -> String {
    format!(
        r#"
[system]
hostname = "{hostname}"
state_dir = "{state}"
plugin_dir = "/nonexistent"
drop_capabilities = false

[management]
socket = "{state}/routerd.sock"
"#,
        state = dir.path().display(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_applies_through_the_api_queue_and_all_succeed_in_order() {
    let dir = TempDir::new("applyq");
    let doc = Document::parse("test.toml", text(&dir, "start")).unwrap();
    let daemon = start_in_process(dir.path(), &doc).await;
    let first = daemon.current_version();
    let server = ApiServer::start(daemon.clone(), LogRing::new(100), &doc.config().management)
        .await
        .unwrap();
    let client = Client::new(dir.path().join("routerd.sock")).with_timeout(Duration::from_secs(60));

    const N: usize = 6;
    let mut tasks = Vec::new();
    for i in 0..N {
        let client = client.clone();
        let request = ApplyRequest {
            toml: text(&dir, &format!("host{i}")),
            reason: Some(format!("change {i}")),
            base_version: None,
        };
        tasks.push(tokio::spawn(async move {
            let r: Result<ApplyResult, ClientError> = client
                .call(Method::POST, "/v1/config", Some(&request))
                .await;
            (i, r)
        }));
    }
    let mut versions = BTreeSet::new();
    let mut by_version = Vec::new();
    for t in tasks {
        let (i, r) = t.await.unwrap();
        let applied = r.unwrap_or_else(|e| panic!("apply {i} failed: {e}"));
        // Each ran against the configuration the one before it produced: a host name change.
        assert_eq!(applied.changes, vec!["section [system] changed"], "{i}");
        assert!(versions.insert(applied.version), "versions are distinct");
        by_version.push((applied.version, i));
    }
    let expected: BTreeSet<u64> = (first + 1..=first + N as u64).collect();
    assert_eq!(versions, expected, "one version each, consecutive");

    // The history lists every change with its reason, in the order they ran.
    let history: History = client.get("/v1/config/history").await.unwrap();
    by_version.sort();
    let last = by_version.last().unwrap();
    assert_eq!(history.current, last.0);
    for (version, i) in &by_version {
        let v = history
            .versions
            .iter()
            .find(|v| v.version == *version)
            .unwrap_or_else(|| panic!("version {version} in the history"));
        assert_eq!(v.reason, format!("change {i}"));
    }
    // What runs is the last one's configuration.
    let running = daemon.running_config().await;
    assert_eq!(running.system.hostname, format!("host{}", last.1));

    // A change made against an older version is refused when its turn comes.
    let stale = ApplyRequest {
        toml: text(&dir, "stale"),
        reason: None,
        base_version: Some(first),
    };
    let r: Result<ApplyResult, ClientError> =
        client.call(Method::POST, "/v1/config", Some(&stale)).await;
    match r {
        Err(ClientError::Api { status: 409, .. }) => {}
        other => panic!("expected a 409, got {other:?}"),
    }
    assert_eq!(daemon.current_version(), last.0);
    server.shutdown().await;
    daemon.shutdown("test over").await;
}
