//! Per-source authentication-failure lockout, end to end in one routerd (no root, no data
//! plane): calls over the `tcp-link` test plugin come from 127.0.0.1 like PPTP calls come
//! from their client's address. A caller with a wrong password fails authentication until
//! its source is locked out; then even a caller with the right password from that source is
//! refused at `link_up`, and the lockout shows in the metrics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use dialgate_routerd::api::{Control, LogRing, metrics};
use dialgate_routerd::config::Document;
use dialgate_routerd::daemon::control::DaemonControl;
use support::routerd::{Config, add_user, start_in_process};
use support::{TempDir, free_port, test_plugin, wait_for};

/// A lockout after two failures from one source; an answering `tcp-link` link on `port` and a
/// dialling one that calls it as alice with `password`.
fn config(dir: &TempDir, port: u16, password: &str) -> String {
    Config::new(dir.path())
        .no_lcp_echo()
        .raw(
            "\n[limits]\nauth_failures_per_source = 2\nauth_failure_window_secs = 60\n\
             auth_lockout_secs = 300\n",
        )
        .pool()
        .plugin("tcp", &test_plugin("tcp-link"))
        .raw(&format!(
            r#"
[[link]]
name = "in"
plugin = "tcp"
role = "answer"
pool = "office"
[link.config]
listen = "127.0.0.1:{port}"

[[link]]
name = "out"
plugin = "tcp"
role = "dial"
credentials = {{ user = "alice", password = "{password}" }}
[link.config]
connect = "127.0.0.1:{port}"
"#
        ))
        .text()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_lock_the_source_out_and_its_calls_are_refused() {
    let dir = TempDir::new("lockout");
    add_user(dir.path());
    let port = free_port();
    let doc = Document::parse("test.toml", config(&dir, port, "wrong horse")).unwrap();
    let daemon = start_in_process(dir.path(), &doc).await;
    let stats = &daemon.router.stats;

    // Two failures from 127.0.0.1 lock it out; the dialler's next call is refused.
    let locked = wait_for(Duration::from_secs(60), async || {
        (stats.auth_lockouts.load(Ordering::Relaxed) == 1
            && stats.refused_lockout.load(Ordering::Relaxed) >= 1)
            .then_some(())
    })
    .await;
    assert!(
        locked.is_some(),
        "lockouts {} refused {} end reasons {:?}",
        stats.auth_lockouts.load(Ordering::Relaxed),
        stats.refused_lockout.load(Ordering::Relaxed),
        stats.end_reasons.lock().unwrap()
    );
    let source = "127.0.0.1".parse().unwrap();
    assert!(
        daemon
            .router
            .locked_until(source, std::time::Instant::now())
            .is_some()
    );

    // The right password does not help while the source is locked out: the call is refused
    // before any session starts.
    let fixed = Document::parse("fixed.toml", config(&dir, port, "correct horse")).unwrap();
    daemon.apply(fixed, "right password".into()).await.unwrap();
    let refused_before = stats.refused_lockout.load(Ordering::Relaxed);
    let started_before = stats.sessions_started.load(Ordering::Relaxed);
    let more = wait_for(Duration::from_secs(30), async || {
        (stats.refused_lockout.load(Ordering::Relaxed) > refused_before).then_some(())
    })
    .await;
    assert!(more.is_some(), "the corrected caller is refused too");
    assert!(
        daemon
            .sessions()
            .iter()
            .all(|s| s.link != "in" || s.meta.ipv4.is_none()),
        "no session of the locked-out source came up"
    );
    // Only the dialler's own sessions started; no answering one.
    let answering = daemon.sessions().iter().filter(|s| s.link == "in").count();
    assert_eq!(answering, 0);
    assert!(stats.sessions_started.load(Ordering::Relaxed) >= started_before);

    // Counted in the metrics.
    let control = DaemonControl::new(daemon.clone(), LogRing::new(10));
    let snapshot = control.metrics().await.unwrap();
    assert_eq!(snapshot.auth_lockouts, 1);
    assert!(
        snapshot
            .auth_failures
            .get("locked_out")
            .copied()
            .unwrap_or(0)
            >= 1
    );
    let text = metrics::render(&snapshot);
    assert!(
        text.lines().any(|l| l == "dialgate_auth_lockouts_total 1"),
        "{text}"
    );
    daemon.shutdown("test over").await;
}
