//! routerd's runtime with the test plugins, in process and without root (no data plane):
//! a dial-out link on the `echo` plugin runs sessions (which the engine finds looped back),
//! and a plugin that panics ends its own sessions and is disabled while routerd and the
//! other links go on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dialgate_routerd::api::{ApiError, Control, LogRing, PluginState, metrics};
use dialgate_routerd::daemon::control::DaemonControl;

use dialgate_routerd::accounting::{Record, SessionFailed};
use dialgate_routerd::config::Document;
use dialgate_routerd::daemon::Daemon;
use dialgate_routerd::daemon::actor::InstanceState;
use support::routerd::{Config, link_state, start_in_process};
use support::{TempDir, test_plugin, wait_for};

fn config(dir: &TempDir, links: &str) -> Document {
    Config::new(dir.path())
        .no_lcp_echo()
        .plugin("echo", &test_plugin("echo"))
        .plugin("panics", &test_plugin("panics"))
        .raw(links)
        .document()
}

const DIAL_ECHO: &str = r#"
[[link]]
name = "loop"
plugin = "echo"
role = "dial"
credentials = { user = "alice", password = "secret" }
"#;

const DIAL_PANICS: &str = r#"
[[link]]
name = "bomb"
plugin = "panics"
role = "dial"
credentials = { user = "bob", password = "secret" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_link_on_echo_runs_sessions_with_end_reasons() {
    let dir = TempDir::new("echo");
    let doc = config(&dir, DIAL_ECHO);
    let daemon = start_in_process(dir.path(), &doc).await;
    assert_eq!(
        link_state(&daemon, "loop").await,
        Some(Ok(InstanceState::Running))
    );
    // The echo plugin loops every frame back: the engine sees its own magic number and
    // ends the session as looped back (RFC 1661 §6.4); routerd then dials again.
    let ended = wait_for(Duration::from_secs(60), async || {
        let m = daemon.router.stats.end_reasons.lock().unwrap().clone();
        m.get("link is looped back").copied()
    })
    .await;
    assert!(ended.is_some(), "a looped-back session ended");
    let started = daemon.router.stats.sessions_started.load(Ordering::Relaxed);
    assert!(started >= 1);
    // Redial: a second session starts.
    let again = wait_for(Duration::from_secs(30), async || {
        (daemon.router.stats.sessions_started.load(Ordering::Relaxed) > started).then_some(())
    })
    .await;
    assert!(again.is_some(), "the dial-out link dialled again");
    daemon.shutdown("test over").await;
    assert_eq!(daemon.router.session_count(), 0);
    // Sessions that failed in LCP are accounted as failed: link, duration, reason.
    let log = std::fs::read_to_string(dir.path().join("accounting.jsonl")).unwrap();
    let failed: Vec<SessionFailed> = log
        .lines()
        .filter_map(|l| match serde_json::from_str::<Record>(l) {
            Ok(Record::Failed(f)) => Some(f),
            _ => None,
        })
        .collect();
    let looped = failed
        .iter()
        .find(|f| f.reason == "link is looped back")
        .unwrap_or_else(|| panic!("a failed record of the looped-back session in {failed:?}"));
    assert_eq!(looped.link, "loop");
    assert_eq!(looped.user, None, "no user before authentication");
    assert_eq!(looped.peer.as_deref(), Some("loop"));
    assert!(looped.duration_ms < 60_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_plugin_ends_its_sessions_and_routerd_goes_on() {
    let dir = TempDir::new("panics");
    let doc = config(&dir, &format!("{DIAL_ECHO}{DIAL_PANICS}"));
    let daemon = start_in_process(dir.path(), &doc).await;
    // The panics plugin brings dial-out links up like echo (the engine finds them looped
    // back at once, and routerd dials again).
    let dialled = wait_for(Duration::from_secs(10), async || {
        let m = daemon.router.stats.end_reasons.lock().unwrap().clone();
        m.get("link is looped back").filter(|n| **n >= 2).copied()
    })
    .await;
    assert!(dialled.is_some(), "both links ran sessions");
    // A frame starting with PANIC makes its send_frame index out of bounds.
    assert!(daemon.send_raw_frame("bomb", 1, b"PANIC now").await);
    let failed = wait_for(Duration::from_secs(10), async || {
        daemon
            .supervision()
            .await
            .get("bomb")
            .and_then(|s| s.last_error.clone())
    })
    .await
    .expect("the instance is marked failed");
    assert!(failed.contains("panics"), "{failed}");
    assert_eq!(
        daemon.router.stats.plugin_failures.load(Ordering::Relaxed),
        1
    );
    // routerd and the other link go on.
    assert_eq!(
        link_state(&daemon, "loop").await,
        Some(Ok(InstanceState::Running))
    );
    let before = daemon.router.stats.sessions_started.load(Ordering::Relaxed);
    let more = wait_for(Duration::from_secs(30), async || {
        (daemon.router.stats.sessions_started.load(Ordering::Relaxed) > before).then_some(())
    })
    .await;
    assert!(more.is_some(), "the echo link still runs sessions");
    daemon.shutdown("test over").await;
}

/// Waits until link `bomb` has been restarted `n` times and runs again; the time it took.
async fn restarted(daemon: &Daemon, n: u64, since: Instant) -> Duration {
    wait_for(Duration::from_secs(20), async || {
        let sup = daemon.supervision().await.get("bomb").cloned()?;
        let running = link_state(daemon, "bomb").await == Some(Ok(InstanceState::Running));
        (sup.restarts == n && running).then(|| since.elapsed())
    })
    .await
    .unwrap_or_else(|| panic!("restart {n} of bomb within 20 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_instance_restarts_with_backoff_and_on_request() {
    let dir = TempDir::new("restart");
    let doc = config(&dir, DIAL_PANICS);
    let daemon = start_in_process(dir.path(), &doc).await;
    let control = DaemonControl::new(daemon.clone(), LogRing::new(10));
    assert_eq!(
        link_state(&daemon, "bomb").await,
        Some(Ok(InstanceState::Running))
    );

    // First failure: restarted after 1 s.
    let t = Instant::now();
    assert!(daemon.send_raw_frame("bomb", 1, b"PANIC 1").await);
    let info = wait_for(Duration::from_secs(5), async || {
        let p = control.plugins().await.ok()?;
        p.into_iter()
            .find(|p| p.name == "panics" && p.state == PluginState::Restarting)
    })
    .await
    .expect("the plugin shows as restarting");
    assert!(
        info.error
            .as_deref()
            .unwrap_or("")
            .contains("failed in send_frame: index out of bounds"),
        "{info:?}"
    );
    assert!(info.next_restart_secs.is_some_and(|s| s <= 1), "{info:?}");
    let took = restarted(&daemon, 1, t).await;
    assert!(took >= Duration::from_millis(900), "{took:?}");

    // Second failure right away: the backoff doubled to 2 s.
    let t = Instant::now();
    assert!(daemon.send_raw_frame("bomb", 1, b"PANIC 2").await);
    let took = restarted(&daemon, 2, t).await;
    assert!(took >= Duration::from_millis(1900), "{took:?}");

    // Third: 4 s, unless the administrator restarts it now (which resets the backoff).
    assert!(daemon.send_raw_frame("bomb", 1, b"PANIC 3").await);
    wait_for(Duration::from_secs(5), async || {
        daemon
            .supervision()
            .await
            .get("bomb")
            .and_then(|s| s.next_restart)
    })
    .await
    .expect("a restart is scheduled");
    let t = Instant::now();
    let answer = control.restart_plugin("panics".into()).await.unwrap();
    assert_eq!(answer.restarted, vec!["bomb".to_owned()]);
    let took = restarted(&daemon, 3, t).await;
    assert!(took < Duration::from_secs(3), "restarted at once: {took:?}");
    let t = Instant::now();
    assert!(daemon.send_raw_frame("bomb", 1, b"PANIC 4").await);
    let took = restarted(&daemon, 4, t).await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1900),
        "back to 1 s: {took:?}"
    );

    // Visible in the plugin list and the metrics.
    let p = control.plugins().await.unwrap();
    let p = p.iter().find(|p| p.name == "panics").unwrap();
    assert_eq!(p.state, PluginState::Running);
    assert_eq!(p.restarts, 4);
    assert!(
        p.last_error
            .as_deref()
            .unwrap_or("")
            .contains("index out of bounds"),
        "the last failure is kept after the restart: {p:?}"
    );
    assert_eq!(p.error, None);
    let m = control.metrics().await.unwrap();
    let text = metrics::render(&m);
    for line in [
        "dialgate_plugin_restarts_total{plugin=\"panics\"} 4",
        "dialgate_plugin_panics_total{plugin=\"panics\"} 4",
        "dialgate_plugin_state{plugin=\"panics\",state=\"running\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    // Unknown names are a 404.
    assert!(matches!(
        control.restart_plugin("nothing".into()).await,
        Err(ApiError::NotFound(_))
    ));
    daemon.shutdown("test over").await;
}
