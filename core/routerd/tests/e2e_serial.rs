//! routerd with the serial plugin over ptys, in process and without root (no data plane):
//! a client link and a server link joined by a pty "cable" negotiate MS-CHAPv2 and MPPE-128
//! and get an address from the pool; sessions are killed, counted and accounted; a config
//! change leaves untouched links' sessions up and a failed one rolls back; and a relay (PAC)
//! passes a call untouched from one serial link to another.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use dialgate_routerd::accounting::{Record, log_files};
use dialgate_routerd::config::Document;
use dialgate_routerd::daemon::Daemon;
use dialgate_routerd::daemon::actor::InstanceState;
use dialgate_routerd::daemon::router::{SessionMode, SessionView};
use support::routerd::{
    Config, add_user, serial_answer, serial_dial, serial_plugin, start_in_process,
};
use support::{PtyCable, TempDir, test_plugin, wait_for};

/// routerd with the serial plugin and one that fails to initialise (`init-fails`), the pool
/// "office" (with a DNS server), no LCP echoes; the links follow.
fn head(dir: &TempDir) -> Config {
    Config::new(dir.path())
        .no_lcp_echo()
        .pool_with("dns = [\"192.0.2.53\"]\n")
        .plugin("serial", &serial_plugin())
        .plugin("init-fails", &test_plugin("init-fails"))
}

async fn start(dir: &TempDir, text: &str) -> std::sync::Arc<Daemon> {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("TEST_LOG").unwrap_or_default())
            .try_init();
    }
    let doc = Document::parse("test.toml", text).expect("valid test configuration");
    // The user exists before the links start (a first attempt must not fail auth).
    add_user(dir.path());
    start_in_process(dir.path(), &doc).await
}

/// Both ends up: the server session (with the pool address) and the client session.
async fn both_up(daemon: &Daemon, server: &str, client: &str) -> (SessionView, SessionView) {
    wait_for(Duration::from_secs(60), async || {
        let s = daemon.sessions();
        let srv = s
            .iter()
            .find(|v| v.link == server && v.meta.ipv4.is_some())?;
        let cli = s
            .iter()
            .find(|v| v.link == client && v.meta.ipv4.is_some())?;
        (srv.meta.encryption.is_some() && cli.meta.encryption.is_some())
            .then(|| (srv.clone(), cli.clone()))
    })
    .await
    .expect("both sessions up within 60 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_links_negotiate_mschapv2_mppe128_and_an_address() {
    let dir = TempDir::new("serial");
    let cable = PtyCable::new();
    let text = head(&dir)
        .serial_answer("srv", cable.a(), "")
        .serial_dial("cli", cable.b())
        .text();
    let daemon = start(&dir, &text).await;
    let (srv, cli) = both_up(&daemon, "srv", "cli").await;
    assert_eq!(srv.mode, SessionMode::Terminate);
    assert_eq!(cli.mode, SessionMode::Dial);
    assert_eq!(srv.meta.user, "alice");
    assert_eq!(cli.meta.user, "alice");
    let addr = srv.meta.ipv4.unwrap();
    assert!((Ipv4Addr::new(192, 0, 2, 100)..=Ipv4Addr::new(192, 0, 2, 109)).contains(&addr));
    assert_eq!(cli.meta.ipv4, Some(addr), "the client got the pool address");
    assert_eq!(cli.meta.peer_ipv4, Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(srv.meta.encryption.as_deref(), Some("MPPE-128 stateless"));
    assert_eq!(cli.meta.encryption.as_deref(), Some("MPPE-128 stateless"));
    // MRU 1500 less MPPE's 6 octets.
    assert_eq!(srv.meta.mtu, 1494);

    // Frame counters agree: what one side sent, the other received, except the first
    // Configure-Requests of an end whose peer had not opened its port yet (the cable drops
    // them; LCP retransmits).
    let agree = wait_for(Duration::from_secs(5), async || {
        let s = daemon.session(srv.id)?.counters;
        let c = daemon.session(cli.id)?.counters;
        let close = |sent: u64, got: u64| got <= sent && sent - got <= 2;
        (close(s.frames_out, c.frames_in) && close(c.frames_out, s.frames_in)).then_some(())
    })
    .await;
    assert!(agree.is_some(), "counters agree on both ends");

    // An admin kill ends the server session; the client sees the link go down and dials
    // again, and a new pair of sessions comes up.
    assert!(daemon.kill_session(srv.id, "admin kill").await);
    assert!(!daemon.kill_session(999_999, "admin kill").await);
    let gone = wait_for(Duration::from_secs(20), async || {
        (daemon.session(srv.id).is_none() && daemon.session(cli.id).is_none()).then_some(())
    })
    .await;
    assert!(gone.is_some(), "both ends of the killed session ended");
    let (srv2, cli2) = both_up(&daemon, "srv", "cli").await;
    assert_ne!(srv2.id, srv.id);
    assert_ne!(cli2.id, cli.id);
    let reasons = daemon.router.stats.end_reasons.lock().unwrap().clone();
    assert_eq!(reasons.get("admin kill"), Some(&1), "{reasons:?}");
    assert!(
        reasons.contains_key("peer terminated the link"),
        "the client saw the Terminate-Request: {reasons:?}"
    );

    daemon.shutdown("test over").await;
    // Every session that came up has a start and a stop record.
    let mut starts = Vec::new();
    let mut stops = Vec::new();
    for file in log_files(&dir.path().join("accounting.jsonl"), 10) {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            match serde_json::from_str::<Record>(line).unwrap() {
                Record::Start(s) => starts.push(s.session),
                Record::Stop(s) => {
                    if s.session == srv.id {
                        assert_eq!(s.reason, "admin kill");
                        assert_eq!(s.user, "alice");
                        assert_eq!(s.ipv4, Some(addr));
                        assert!(s.bytes_in > 0 && s.bytes_out > 0);
                    }
                    stops.push(s.session)
                }
                Record::Failed(_) => {}
            }
        }
    }
    for id in [srv.id, cli.id, srv2.id, cli2.id] {
        assert!(starts.contains(&id), "start record of session {id}");
        assert!(stops.contains(&id), "stop record of session {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_changes_apply_as_a_diff_and_a_failed_apply_rolls_back() {
    let dir = TempDir::new("apply");
    let one = PtyCable::new();
    let two = PtyCable::new();
    // Two pairs of links; the argument goes into link srv2 (its own keys).
    let config = |srv2: &str| {
        head(&dir)
            .serial_answer("srv1", one.a(), "")
            .serial_dial("cli1", one.b())
            .serial_answer("srv2", two.a(), srv2)
            .serial_dial("cli2", two.b())
            .text()
    };
    let base = config("");
    let daemon = start(&dir, &base).await;
    let (s1, c1) = both_up(&daemon, "srv1", "cli1").await;
    let (s2, c2) = both_up(&daemon, "srv2", "cli2").await;
    let version = daemon.store().current_version();

    // Change link srv2 only: its sessions restart, the srv1/cli1 pair stays up.
    let changed = config("[link.ppp]\nidle_timeout_secs = 3600\n");
    let doc = Document::parse("changed.toml", changed).unwrap();
    let applied = daemon
        .apply(doc, "idle timeout on srv2".into())
        .await
        .unwrap();
    assert_eq!(applied.version, version + 1);
    assert!(applied.diff.links_affected.contains("srv2"));
    assert!(daemon.session(s1.id).is_some(), "srv1's session untouched");
    assert!(daemon.session(c1.id).is_some(), "cli1's session untouched");
    assert!(daemon.session(s2.id).is_none(), "srv2's session restarted");
    let (s2b, _) = both_up(&daemon, "srv2", "cli2").await;
    assert_ne!(s2b.id, s2.id);
    let _ = c2;

    // A link whose plugin fails to initialise: the apply fails, the running configuration
    // and the store stay as they were, and every session stays up.
    let broken = format!(
        "{}\n[[link]]\nname = \"bad\"\nplugin = \"init-fails\"\nrole = \"dial\"\n\
         credentials = {{ user = \"x\", password = \"y\" }}\n",
        std::fs::read_to_string(daemon.store().current_file()).unwrap()
    );
    let doc = Document::parse("broken.toml", broken).unwrap();
    let err = daemon.apply(doc, "broken".into()).await.unwrap_err();
    assert!(err.contains("rolled back"), "{err}");
    assert_eq!(daemon.store().current_version(), version + 1);
    for id in [s1.id, c1.id, s2b.id] {
        assert!(daemon.session(id).is_some(), "session {id} untouched");
    }
    assert!(
        daemon
            .running_config()
            .await
            .links
            .iter()
            .all(|l| l.name != "bad")
    );

    // Roll back to the first version: srv2 changes again, srv1 stays.
    let applied = daemon.rollback(version).await.unwrap();
    assert_eq!(applied.version, version + 2);
    assert!(daemon.session(s1.id).is_some());
    assert!(daemon.session(s2b.id).is_none());
    daemon.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_passes_a_call_untouched_between_two_serial_links() {
    let dir = TempDir::new("relay");
    // client --cable1-- front (answer, relay) => back (dial, relay) --cable2-- server
    let cable1 = PtyCable::new();
    let cable2 = PtyCable::new();
    let relay = format!(
        r#"
[[link]]
name = "front"
plugin = "serial"
role = "answer"
mode = "relay"
relay_to = "back"
[[link.config.ports]]
name = "front"
device = "{front}"

[[link]]
name = "back"
plugin = "serial"
role = "dial"
mode = "relay"
[[link.config.ports]]
name = "back"
device = "{back}"
role = "dial"
"#,
        front = cable1.b().display(),
        back = cable2.a().display(),
    );
    // The server sends an LCP Echo-Request every second: traffic across the relay once
    // everything is up.
    let text = head(&dir)
        .serial_dial("client", cable1.a())
        .raw(&relay)
        .serial_answer("server", cable2.b(), "[link.ppp]\necho_interval_secs = 1\n")
        .text();
    let daemon = start(&dir, &text).await;
    let (srv, cli) = both_up(&daemon, "server", "client").await;
    assert_eq!(cli.meta.ipv4, srv.meta.ipv4);
    let front = daemon
        .sessions()
        .into_iter()
        .find(|s| s.link == "front")
        .expect("the relay session");
    assert_eq!(front.mode, SessionMode::Relay);
    assert_eq!(front.meta.state, "relaying");
    assert!(
        front
            .meta
            .relayed_to
            .as_deref()
            .unwrap()
            .starts_with("back/")
    );
    // Untouched: once all four ports are open (both ends are up), every frame that crosses
    // the relay reaches the other end as it was. Over a window of LCP echoes, between two
    // moments when nothing is in flight, the relay's counts and both ends' agree exactly.
    // (Frames written before the far side opened its port are lost, not relayed: opening a
    // tty flushes its input, and each of the four ports opens at its own time, so the totals
    // since the start cannot agree.)
    let snapshot = || {
        let c = daemon.session(cli.id)?.counters;
        let f = daemon.session(front.id)?.counters;
        let s = daemon.session(srv.id)?.counters;
        Some((c, f, s))
    };
    // A snapshot that stays the same for 300 ms: nothing in flight (echoes are 1 s apart).
    let quiet = async || {
        wait_for(Duration::from_secs(10), async || {
            let before = snapshot()?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            (snapshot()? == before).then_some(before)
        })
        .await
    };
    let (c0, f0, s0) = quiet().await.expect("a quiet moment");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let agree = wait_for(Duration::from_secs(10), async || {
        let (c, f, s) = quiet().await?;
        let echoes = s.frames_out - s0.frames_out;
        (echoes >= 2
            && f.dropped == f0.dropped
            && c.bytes_out - c0.bytes_out == f.bytes_in - f0.bytes_in
            && f.frames_in - f0.frames_in == s.frames_in - s0.frames_in
            && f.bytes_in - f0.bytes_in == s.bytes_in - s0.bytes_in
            && s.bytes_out - s0.bytes_out == f.bytes_out - f0.bytes_out
            && f.frames_out - f0.frames_out == c.frames_in - c0.frames_in
            && f.bytes_out - f0.bytes_out == c.bytes_in - c0.bytes_in)
            .then_some(())
    })
    .await;
    assert!(
        agree.is_some(),
        "relay counters agree with both ends over the window: from client {c0:?} front {f0:?} \
         server {s0:?} to {:?}",
        snapshot()
    );
    // Killing the relay session hangs up both legs at once (on local lines the ends learn
    // it from their LCP keepalives, off in this test).
    assert!(daemon.kill_session(front.id, "admin kill").await);
    assert!(daemon.session(front.id).is_none());
    let reasons = daemon.router.stats.end_reasons.lock().unwrap().clone();
    assert_eq!(reasons.get("admin kill"), Some(&1), "{reasons:?}");
    daemon.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_timeout_ends_the_session_with_its_reason() {
    let dir = TempDir::new("timeout");
    let cable = PtyCable::new();
    let text = head(&dir)
        .serial_answer("srv", cable.a(), "[link.ppp]\nsession_timeout_secs = 1\n")
        .serial_dial("cli", cable.b())
        .text();
    let daemon = start(&dir, &text).await;
    let (srv, _) = both_up(&daemon, "srv", "cli").await;
    let ended = wait_for(Duration::from_secs(20), async || {
        daemon.session(srv.id).is_none().then_some(())
    })
    .await;
    assert!(ended.is_some(), "the session timed out");
    let reasons = daemon.router.stats.end_reasons.lock().unwrap().clone();
    assert!(reasons.contains_key("session timeout"), "{reasons:?}");
    daemon.shutdown("test over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_user_limit_refuses_a_second_session_after_authentication() {
    let dir = TempDir::new("peruser");
    let one = PtyCable::new();
    let two = PtyCable::new();
    let first = head(&dir)
        .raw("\n[limits]\nper_user_sessions = 1\n")
        .serial_answer("srv1", one.a(), "")
        .serial_dial("cli1", one.b());
    let daemon = start(&dir, &first.text()).await;
    let (s1, c1) = both_up(&daemon, "srv1", "cli1").await;
    assert_eq!(s1.meta.user, "alice");

    // A second dial-in of alice: it authenticates, and is refused right after.
    let second = first
        .serial_answer("srv2", two.a(), "")
        .serial_dial("cli2", two.b());
    let doc = Document::parse("second.toml", second.text()).unwrap();
    daemon.apply(doc, "a second line".into()).await.unwrap();
    let refused = wait_for(Duration::from_secs(60), async || {
        let m = daemon.router.stats.end_reasons.lock().unwrap().clone();
        m.get("per-user session limit exceeded").copied()
    })
    .await;
    assert!(refused.is_some(), "a second session of alice was refused");
    assert!(
        daemon
            .router
            .stats
            .refused_per_user
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    // The refusal is an authentication outcome the client is told (MS-CHAP error 649), not
    // a wrong password.
    let m = daemon.router.stats.end_reasons.lock().unwrap().clone();
    assert!(
        m.keys().any(|r| r.contains("error 649")),
        "the client saw error 649: {m:?}"
    );
    // The first session stays up, the only one of alice, and srv2 has none up.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            daemon.session(s1.id).is_some(),
            "the first session stays up"
        );
        assert!(daemon.session(c1.id).is_some(), "its client too");
        let srv2_up = daemon
            .sessions()
            .into_iter()
            .filter(|s| s.link == "srv2" && s.meta.ipv4.is_some())
            .count();
        assert_eq!(srv2_up, 0);
    }
    assert_eq!(
        daemon.router.per_user.lock().unwrap().get("alice"),
        Some(&1)
    );
    daemon.shutdown("test over").await;

    // The refused session is in the accounting log: user, link, peer, reason, duration.
    let mut failed = Vec::new();
    for file in log_files(&dir.path().join("accounting.jsonl"), 10) {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            if let Record::Failed(f) = serde_json::from_str::<Record>(line).unwrap() {
                failed.push(f);
            }
        }
    }
    let f = failed
        .iter()
        .find(|f| f.reason == "per-user session limit exceeded")
        .unwrap_or_else(|| panic!("a failed record of the refusal in {failed:?}"));
    assert_eq!(f.link, "srv2");
    assert_eq!(f.user.as_deref(), Some("alice"));
    assert_eq!(f.peer.as_deref(), Some(two.a().to_str().unwrap()));
    assert!(f.duration_ms < 60_000);
}

/// Every `failed` record of the accounting log in `dir`.
fn failed_records(dir: &TempDir) -> Vec<dialgate_routerd::accounting::SessionFailed> {
    let mut failed = Vec::new();
    for file in log_files(&dir.path().join("accounting.jsonl"), 10) {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            if let Record::Failed(f) = serde_json::from_str::<Record>(line).unwrap() {
                failed.push(f);
            }
        }
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_that_never_come_up_are_accounted_as_failed() {
    let dir = TempDir::new("failed");
    let bad = PtyCable::new();
    let one = PtyCable::new();
    let two = PtyCable::new();
    // A caller with a wrong password; and two callers sharing a pool of one address.
    let tiny =
        "\n[[pool]]\nname = \"tiny\"\nranges = [\"192.0.2.200\"]\nlocal_address = \"192.0.2.1\"\n";
    let text = head(&dir)
        .raw(tiny)
        .serial_answer("srvbad", bad.a(), "")
        .raw(&serial_dial("clibad", bad.b()).replace("correct horse", "wrong horse"))
        .raw(&serial_answer("t1", one.a(), "").replace("pool = \"office\"", "pool = \"tiny\""))
        .serial_dial("c1", one.b())
        .raw(&serial_answer("t2", two.a(), "").replace("pool = \"office\"", "pool = \"tiny\""))
        .serial_dial("c2", two.b())
        .text();
    let daemon = start(&dir, &text).await;
    let seen = wait_for(Duration::from_secs(60), async || {
        let acct = daemon.router.accounting.clone();
        tokio::task::spawn_blocking(move || acct.flush_blocking())
            .await
            .unwrap();
        let failed = failed_records(&dir);
        let auth = failed.iter().any(|f| f.link == "srvbad");
        let pool = failed.iter().any(|f| f.link == "t1" || f.link == "t2");
        (auth && pool).then_some(())
    })
    .await;
    assert!(
        seen.is_some(),
        "an authentication failure and an exhausted pool: {:?}",
        daemon.router.stats.end_reasons.lock().unwrap()
    );
    daemon.shutdown("test over").await;

    let failed = failed_records(&dir);
    // The wrong password: the name the caller gave, the link, the peer, the reason.
    let auth = failed
        .iter()
        .find(|f| f.link == "srvbad")
        .unwrap_or_else(|| panic!("a failed record on srvbad in {failed:?}"));
    assert_eq!(auth.user.as_deref(), Some("alice"));
    assert_eq!(auth.peer.as_deref(), Some(bad.a().to_str().unwrap()));
    assert!(
        auth.reason.starts_with("peer's credentials rejected"),
        "{auth:?}"
    );
    assert!(auth.duration_ms < 60_000);
    assert!(auth.started <= auth.time);
    // The client side of it failed too (the authenticator refused us).
    assert!(
        failed
            .iter()
            .any(|f| f.link == "clibad" && f.reason.starts_with("authenticator refused")),
        "{failed:?}"
    );
    // The exhausted pool: an authenticated user who got no address, refused at once.
    let pool = failed
        .iter()
        .find(|f| f.link == "t1" || f.link == "t2")
        .unwrap_or_else(|| panic!("a failed record of the exhausted pool in {failed:?}"));
    assert_eq!(pool.user.as_deref(), Some("alice"), "{pool:?}");
    assert_eq!(pool.reason, "address pool exhausted", "{pool:?}");
    assert!(pool.duration_ms < 20_000, "{pool:?}");
    // Sessions that came up have start and stop records instead, never a failed one.
    let ids: Vec<u64> = failed.iter().map(|f| f.session).collect();
    for file in log_files(&dir.path().join("accounting.jsonl"), 10) {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            if let Record::Start(s) = serde_json::from_str::<Record>(line).unwrap() {
                assert!(
                    !ids.contains(&s.session),
                    "session {} both up and failed",
                    s.session
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lan_protocol_plugin_negotiates_ipxcp_and_moves_ipx_between_sessions_rfc1552() {
    let dir = TempDir::new("lan");
    let cable = PtyCable::new();
    let record = dir.path().join("lan.log");
    let text = head(&dir)
        .plugin("ipx", &test_plugin("lan-probe"))
        .raw(&format!(
            "[plugin.config]\nrecord = \"{}\"\n",
            record.display()
        ))
        .serial_answer("srv", cable.a(), "")
        .serial_dial("cli", cable.b())
        .text();
    let daemon = start(&dir, &text).await;
    let (srv, cli) = both_up(&daemon, "srv", "cli").await;
    let lines = || -> Vec<String> {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    // Each side's greeting arrives at the other side's session, through the plugin.
    let to_srv = format!("frame {} 0x002B hello from session {}", srv.id, cli.id);
    let to_cli = format!("frame {} 0x002B hello from session {}", cli.id, srv.id);
    let crossed = wait_for(Duration::from_secs(30), async || {
        let l = lines();
        (l.contains(&to_srv) && l.contains(&to_cli)).then_some(l)
    })
    .await;
    let l = crossed.unwrap_or_else(|| panic!("greetings crossed: {:?}", lines()));
    assert_eq!(l.first().map(String::as_str), Some("registered"));
    for id in [srv.id, cli.id] {
        let up = l
            .iter()
            .find(|x| x.starts_with(&format!("up {id} 0x002B ")))
            .unwrap_or_else(|| panic!("IPXCP up on session {id}: {l:?}"));
        assert!(up.contains("user=alice"), "{up}");
        // RFC 1552 §3.1: both ends asked for network 0x2a.
        assert!(up.contains("network = 42"), "{up}");
        assert!(l.contains(&format!("sent {id} ok")), "{l:?}");
    }
    // The server's side saw the client's router name and routing protocol (§3.4, §3.5).
    let srv_up = l
        .iter()
        .find(|x| x.starts_with(&format!("up {} ", srv.id)))
        .unwrap();
    assert!(srv_up.contains("peer_router_name = \"probe\""), "{srv_up}");
    assert!(srv_up.contains("peer_routing = [\"rip-sap\"]"), "{srv_up}");
    // The datagrams crossed encrypted (MPPE-128 is required): IPX counts as session data.
    let s = daemon.session(srv.id).unwrap().counters;
    assert!(s.data_bytes_in > 0 && s.data_bytes_out > 0, "{s:?}");
    // The plugin's instance runs next to the links.
    let states = daemon.link_states().await;
    assert!(
        states
            .iter()
            .any(|(n, s)| n == "@ipx" && *s == Ok(InstanceState::Running)),
        "{states:?}"
    );

    // A restarted instance registers again and is told about the sessions already up; its
    // greetings cross again.
    let restarted = daemon.restart_plugin("ipx").await.unwrap();
    assert_eq!(restarted, vec!["@ipx".to_owned()]);
    let again = wait_for(Duration::from_secs(30), async || {
        let l = lines();
        let n = |line: &str| l.iter().filter(|x| *x == line).count();
        (n("registered") == 2 && n(&to_srv) == 2 && n(&to_cli) == 2).then_some(())
    })
    .await;
    assert!(again.is_some(), "after the restart: {:?}", lines());

    // Ending the session tells the plugin.
    assert!(daemon.kill_session(srv.id, "admin kill").await);
    let down = format!("down {} 0x002B", srv.id);
    let seen = wait_for(Duration::from_secs(20), async || {
        lines().contains(&down).then_some(())
    })
    .await;
    assert!(seen.is_some(), "{:?}", lines());
    daemon.shutdown("test over").await;
}
