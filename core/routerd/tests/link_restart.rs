//! Changing a running link's settings restarts its plugin instance on the same listen
//! address, with a connection open, every time; and a link that cannot start reports the
//! plugin's own reason. In process, without root, on the `tcp-link` test plugin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Read as _;
use std::time::Duration;

use dialgate_routerd::config::Document;
use dialgate_routerd::daemon::actor::InstanceState;
use support::routerd::{Config, link_state, start_in_process};
use support::{TempDir, free_port, test_plugin};

/// An answering link on `port`; `echo` changes the link's own settings (its fingerprint).
fn config(dir: &TempDir, port: u16, echo: u32) -> Document {
    Config::new(dir.path())
        .pool()
        .plugin("tcp", &test_plugin("tcp-link"))
        .raw(&format!(
            r#"
[[link]]
name = "in"
plugin = "tcp"
role = "answer"
pool = "office"
[link.ppp]
echo_interval_secs = {echo}
[link.config]
listen = "127.0.0.1:{port}"
"#
        ))
        .document()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_link_restarts_on_its_own_listen_address_every_time() {
    let dir = TempDir::new("link-restart");
    let port = free_port();
    let daemon = start_in_process(dir.path(), &config(&dir, port, 30)).await;
    for round in 0..25u32 {
        // A caller connected to the old instance: its connection is one more handle (and
        // reader task) the old instance must close before the new one starts.
        let mut caller = std::net::TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("round {round}: the link is not listening: {e}"));
        caller
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let doc = config(&dir, port, 31 + round);
        let applied = daemon.apply(doc, format!("round {round}")).await;
        assert!(
            applied.is_ok(),
            "round {round}: changing the link's settings failed: {applied:?}"
        );
        assert!(
            matches!(
                link_state(&daemon, "in").await,
                Some(Ok(InstanceState::Running))
            ),
            "round {round}: {:?}",
            link_state(&daemon, "in").await
        );
        // The old instance closed the caller's connection.
        let mut rest = Vec::new();
        let closed = tokio::task::spawn_blocking(move || caller.read_to_end(&mut rest))
            .await
            .unwrap();
        assert!(closed.is_ok(), "round {round}: {closed:?}");
    }
    daemon.shutdown("test done").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_that_cannot_start_reports_the_plugins_reason() {
    let dir = TempDir::new("link-start-fails");
    let port = free_port();
    let daemon = start_in_process(dir.path(), &config(&dir, port, 30)).await;
    // Someone else takes the address the changed link will listen on.
    let squatter_port = free_port();
    let _squatter = std::net::TcpListener::bind(("127.0.0.1", squatter_port)).unwrap();
    let err = daemon
        .apply(config(&dir, squatter_port, 30), "move the link".into())
        .await
        .expect_err("the address is taken");
    assert!(
        err.contains("in use"),
        "the error names the plugin's reason, not just that it stopped: {err}"
    );
    // Rolled back: the link runs on its old address again.
    assert!(
        matches!(
            link_state(&daemon, "in").await,
            Some(Ok(InstanceState::Running))
        ),
        "{:?}",
        link_state(&daemon, "in").await
    );
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("back on the old address");
    daemon.shutdown("test done").await;
}
