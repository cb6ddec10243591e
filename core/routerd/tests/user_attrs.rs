//! Per-user attributes from the users file, end to end in process over pty serial links (no
//! root, no data plane): a user's static address replaces the pool address, a user may be
//! kept off a link plugin or off every protocol of a link at authentication, and an NCP the
//! user may not run is Protocol-Rejected (RFC 1661 §5.7) while IP stays up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use dialgate_routerd::daemon::Daemon;
use dialgate_routerd::daemon::router::SessionView;
use dialgate_routerd::users::{NetProtocol, UserAttrs, UsersError};
use support::routerd::{Config, add_user, serial_plugin, start_in_process};
use support::{PtyCable, TempDir, test_plugin, wait_for};

async fn start(
    dir: &TempDir,
    cable: &PtyCable,
    extra_plugin: &str,
    attrs: UserAttrs,
) -> std::sync::Arc<Daemon> {
    let doc = Config::new(dir.path())
        .no_lcp_echo()
        .pool()
        .plugin("serial", &serial_plugin())
        .raw(extra_plugin)
        .serial_answer("srv", cable.a(), "")
        .serial_dial("cli", cable.b())
        .document();
    add_user(dir.path()).set_attrs("alice", attrs).unwrap();
    start_in_process(dir.path(), &doc).await
}

async fn server_up(daemon: &Daemon) -> SessionView {
    wait_for(Duration::from_secs(60), async || {
        daemon
            .sessions()
            .into_iter()
            .find(|v| v.link == "srv" && v.meta.ipv4.is_some() && v.meta.encryption.is_some())
    })
    .await
    .expect("the server session up within 60 s")
}

async fn refused_with(daemon: &Daemon, reason: &str) {
    let seen = wait_for(Duration::from_secs(60), async || {
        let m = daemon.router.stats.end_reasons.lock().unwrap().clone();
        m.get(reason).copied()
    })
    .await;
    assert!(
        seen.is_some(),
        "a session ended with {reason:?}: {:?}",
        daemon.router.stats.end_reasons.lock().unwrap()
    );
    assert!(
        daemon
            .router
            .stats
            .refused_not_allowed
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    assert!(
        daemon
            .sessions()
            .iter()
            .all(|s| s.link != "srv" || s.meta.ipv4.is_none()),
        "no session of the refused user came up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_static_address_replaces_the_pool_address_rfc1332_3_3() {
    let dir = TempDir::new("static");
    let cable = PtyCable::new();
    let fixed = Ipv4Addr::new(192, 0, 2, 250);
    let attrs = UserAttrs {
        static_address: Some(fixed),
        ..UserAttrs::default()
    };
    let daemon = start(&dir, &cable, "", attrs).await;
    let srv = server_up(&daemon).await;
    assert_eq!(srv.meta.user, "alice");
    assert_eq!(
        srv.meta.ipv4,
        Some(fixed),
        "the session got alice's static address"
    );
    let cli = wait_for(Duration::from_secs(30), async || {
        daemon
            .sessions()
            .into_iter()
            .find(|v| v.link == "cli" && v.meta.ipv4.is_some())
    })
    .await
    .unwrap();
    assert_eq!(
        cli.meta.ipv4,
        Some(fixed),
        "the client was given it over IPCP"
    );
    assert!(daemon.router.statics.is_held(fixed));

    // Through the daemon (as the API does): an address in the pool's range, the pool's own
    // address or an unusable one is refused on the static_address field.
    for (bad, why) in [
        (Ipv4Addr::new(192, 0, 2, 105), "range"),
        (Ipv4Addr::new(192, 0, 2, 1), "local address"),
        (Ipv4Addr::new(127, 0, 0, 9), "loopback"),
    ] {
        let attrs = UserAttrs {
            static_address: Some(bad),
            ..UserAttrs::default()
        };
        match daemon.set_user_attrs("alice", attrs) {
            Err(UsersError::BadAttribute { field, message }) => {
                assert_eq!(field, "static_address");
                assert!(message.contains(why), "{message}");
            }
            other => panic!("{bad} accepted: {other:?}"),
        }
    }
    // Another user cannot take alice's address.
    daemon.set_password("bob", "bob's secret").unwrap();
    let taken = UserAttrs {
        static_address: Some(fixed),
        ..UserAttrs::default()
    };
    assert!(matches!(
        daemon.set_user_attrs("bob", taken),
        Err(UsersError::BadAttribute {
            field: "static_address",
            ..
        })
    ));

    // The session ends: the address is free again.
    assert!(daemon.kill_session(srv.id, "admin kill").await);
    let freed = wait_for(Duration::from_secs(20), async || {
        (daemon.session(srv.id).is_none()).then_some(())
    })
    .await;
    assert!(freed.is_some());
    daemon.shutdown("test over").await;
    assert!(!daemon.router.statics.is_held(fixed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_kept_off_the_links_plugin_is_refused_at_authentication() {
    let dir = TempDir::new("links");
    let cable = PtyCable::new();
    let attrs = UserAttrs {
        links: Some(BTreeSet::from(["pptp".to_owned()])),
        ..UserAttrs::default()
    };
    let daemon = start(&dir, &cable, "", attrs).await;
    refused_with(&daemon, "user may not use this link").await;
    daemon.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_allowed_none_of_the_links_protocols_is_refused_at_authentication() {
    let dir = TempDir::new("noproto");
    let cable = PtyCable::new();
    let attrs = UserAttrs {
        protocols: Some(BTreeSet::from([NetProtocol::Netbeui])),
        ..UserAttrs::default()
    };
    let daemon = start(&dir, &cable, "", attrs).await;
    refused_with(
        &daemon,
        "user may run none of this link's network protocols",
    )
    .await;
    daemon.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ncp_the_user_may_not_run_is_protocol_rejected_and_ip_stays_up_rfc1661_5_7() {
    let dir = TempDir::new("ipxdeny");
    let cable = PtyCable::new();
    let record = dir.path().join("lan.log");
    let ipx = format!(
        "\n[[plugin]]\nname = \"ipx\"\nfile = \"{}\"\n[plugin.config]\nrecord = \"{}\"\n",
        test_plugin("lan-probe").display(),
        record.display()
    );
    let attrs = UserAttrs {
        protocols: Some(BTreeSet::from([NetProtocol::Ip])),
        ..UserAttrs::default()
    };
    let daemon = start(&dir, &cable, &ipx, attrs).await;
    let srv = server_up(&daemon).await;
    // Give IPXCP time to come up, were it allowed (the client keeps asking for it).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let lines = std::fs::read_to_string(&record).unwrap_or_default();
    assert!(
        !lines.contains(&format!("up {} 0x002B", srv.id)),
        "IPXCP must not come up on alice's server session: {lines}"
    );
    let now = daemon.session(srv.id).expect("the session stays up");
    assert!(now.meta.ipv4.is_some());
    daemon.shutdown("test over").await;
}
