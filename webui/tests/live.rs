//! A live session in the browser: two serial links of one routerd joined by a pty cable
//! (no root needed: routerd runs without a data plane). The sessions page is open when the
//! dialing link is enabled, and the session appears without a reload (SSE); search, the
//! detail page, then kicking it from the page. Also keyboard navigation (Tab reaches every
//! control of a form, in order) and the phone-width layout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use axum::http::Method;
use dialgate_routerd::api::client::Client;
use dialgate_routerd::api::{ApplyRequest, ApplyResult, ConfigShow, SessionInfo, SessionState};
use fantoccini::Locator;
use support::{
    ADMIN_PASSWORD, Harness, Options, PtyCable, browser_available, cargo_build, library,
};

async fn set_up_admin(h: &Harness) {
    h.goto("/").await;
    assert_eq!(h.path().await, "/setup");
    h.fill("setup-code", &h.setup_code()).await;
    h.fill("setup-password", ADMIN_PASSWORD).await;
    h.fill("setup-confirm", ADMIN_PASSWORD).await;
    h.click("main form button[type=submit]").await;
    assert_eq!(h.path().await, "/dashboard", "{}", h.webui_log());
}

/// Ids of the session rows now in the page.
async fn rows(h: &Harness) -> Vec<(u64, String)> {
    let v = h
        .browser
        .execute(
            "return Array.from(document.querySelectorAll('#session-rows tr[data-session]'))
                .map(r => [r.getAttribute('data-session'), r.textContent]);",
            vec![],
        )
        .await
        .unwrap();
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| Some((r[0].as_str()?.parse().ok()?, r[1].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_rows(
    h: &Harness,
    what: &str,
    f: impl Fn(&[(u64, String)]) -> bool,
) -> Vec<(u64, String)> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let r = rows(h).await;
        if f(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: rows {r:?}\nrouterd:\n{}",
            h.routerd_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_session_appears_and_is_kicked() {
    if !browser_available() {
        return;
    }
    cargo_build(&["dialgate-plugin-serial"], &[]);
    let cable = PtyCable::new();
    let extra = format!(
        r#"
[ppp]
echo_interval_secs = 0

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
enabled = false
credentials = {{ user = "alice", password = "correct horse" }}
[[link.config.ports]]
name = "cli"
device = "{b}"
role = "dial"
"#,
        serial = library("dialgate_plugin_serial").display(),
        a = cable.a().display(),
        b = cable.b().display(),
    );
    let mut h = Harness::start(
        "live",
        Options {
            routerd_extra: extra,
            users: vec![("alice".into(), "correct horse".into())],
            ..Options::default()
        },
    )
    .await;
    let api = Client::new(&h.socket);
    set_up_admin(&h).await;

    h.goto("/sessions").await;
    let before = rows(&h).await;
    assert!(
        before.iter().all(|(_, t)| !t.contains("alice")),
        "no session of alice before the dialing link is enabled: {before:?}"
    );
    h.screenshot("sessions-empty").await;
    // The page stays open; the dialing link is enabled behind its back.
    let cfg: ConfigShow = api.get("/v1/config").await.unwrap();
    let enabled = cfg.toml.replace("enabled = false\n", "");
    assert_ne!(enabled, cfg.toml);
    let _: ApplyResult = api
        .call(
            Method::POST,
            "/v1/config",
            Some(&ApplyRequest {
                toml: enabled,
                reason: Some("test: enable the dialing link".into()),
                base_version: Some(cfg.version),
            }),
        )
        .await
        .unwrap();
    let live = wait_rows(&h, "the server's session appears live", |r| {
        r.iter()
            .any(|(_, t)| t.contains("srv") && t.contains("alice") && t.contains("up"))
    })
    .await;
    assert_eq!(
        h.browser
            .find(Locator::Id("live-state"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "live"
    );
    let (srv_id, _) = live
        .iter()
        .find(|(_, t)| t.contains("srv"))
        .cloned()
        .unwrap();
    h.screenshot("sessions-live").await;

    // Search (plain GET form) narrows the list to the server side.
    h.fill("search-q", "srv").await;
    h.click("form[role=search] button[type=submit]").await;
    let found = wait_rows(&h, "search", |r| !r.is_empty()).await;
    assert!(found.iter().all(|(_, t)| t.contains("srv")), "{found:?}");

    // Detail page.
    h.click(&format!("tr[data-session='{srv_id}'] a")).await;
    assert_eq!(h.path().await, format!("/sessions/{srv_id}"));
    let text = h.text().await;
    assert!(
        text.contains("alice") && text.contains("192.0.2.10"),
        "{text}"
    );
    h.screenshot("session-detail").await;

    // Kick it from the detail page.
    h.click("main form[action$='/kick'] button").await;
    assert_eq!(h.path().await, "/sessions");
    assert!(
        h.text().await.contains(&format!("Session {srv_id} ended")),
        "{}",
        h.text().await
    );
    let gone = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s: Vec<SessionInfo> = api.get("/v1/sessions").await.unwrap();
            if s.iter().all(|x| x.id != srv_id) {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert!(gone, "session {srv_id} still there");
    // The dialing side calls again: a new session shows up live, and is kicked from the list.
    let again = wait_rows(&h, "a new session after the kick", |r| {
        r.iter()
            .any(|(id, t)| *id != srv_id && t.contains("srv") && t.contains("up"))
    })
    .await;
    let (new_id, _) = again
        .iter()
        .find(|(id, t)| *id != srv_id && t.contains("srv"))
        .cloned()
        .unwrap();
    h.click(&format!("tr[data-session='{new_id}'] form button"))
        .await;
    assert!(h.text().await.contains(&format!("Session {new_id} ended")));
    let s: SessionInfo = loop {
        let all: Vec<SessionInfo> = api.get("/v1/sessions").await.unwrap();
        if let Some(x) = all.into_iter().find(|x| {
            x.link == "srv" && x.state == SessionState::Up && x.id != new_id && x.id != srv_id
        }) {
            break x;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(s.id > new_id);

    // The logs of the first session, filtered by its id; the tail stays live.
    h.goto(&format!("/logs?session={srv_id}")).await;
    let sessions_column = h
        .browser
        .execute(
            "return Array.from(document.querySelectorAll('#log-rows tr td[data-label=Session]'))
                .map(td => td.textContent);",
            vec![],
        )
        .await
        .unwrap();
    let ids: Vec<&str> = sessions_column
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(!ids.is_empty(), "log lines of session {srv_id}");
    assert!(ids.iter().all(|i| *i == srv_id.to_string()), "{ids:?}");
    h.screenshot("logs").await;

    // Dashboard counts it; phone width stays usable (no horizontal scrolling of the page).
    h.goto("/dashboard").await;
    h.screenshot("dashboard-session").await;
    h.browser.set_window_size(390, 844).await.unwrap();
    for path in ["/dashboard", "/sessions", "/users", "/pptp"] {
        h.goto(path).await;
        let overflow = h
            .browser
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap_or(999) <= 0,
            "{path} scrolls sideways at phone width: {overflow}"
        );
        h.screenshot(&format!("phone{}", path.replace('/', "-")))
            .await;
    }
    h.close().await;
}

/// Tab from the top of the page until `target` has the focus; returns the ids passed.
async fn tab_to(h: &Harness, target: &str, max: usize) -> Vec<String> {
    let mut seen = Vec::new();
    h.browser
        .execute(
            "document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);",
            vec![],
        )
        .await
        .unwrap();
    for _ in 0..max {
        h.browser.find(Locator::Css("body")).await.unwrap();
        let active = h.browser.active_element().await.unwrap();
        active.send_keys("\u{e004}").await.unwrap();
        let id = h
            .browser
            .execute("return document.activeElement ? (document.activeElement.id || document.activeElement.tagName) : '';", vec![])
            .await
            .unwrap();
        let id = id.as_str().unwrap_or_default().to_owned();
        seen.push(id.clone());
        if id == target {
            return seen;
        }
    }
    panic!("Tab never reached #{target}; focus went through {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_reaches_every_form_control_in_order() {
    if !browser_available() {
        return;
    }
    let h = Harness::start("keyboard", Options::default()).await;
    h.goto("/").await;
    let seen = tab_to(&h, "setup-confirm", 10).await;
    assert!(seen.contains(&"setup-password".to_owned()), "{seen:?}");
    let p = seen.iter().position(|s| s == "setup-password");
    let c = seen.iter().position(|s| s == "setup-confirm");
    assert!(p < c, "password before confirmation: {seen:?}");
    // Typing and Enter submit the form: no mouse needed.
    let active = h.browser.active_element().await.unwrap();
    h.fill("setup-code", &h.setup_code()).await;
    h.fill("setup-password", ADMIN_PASSWORD).await;
    h.fill("setup-confirm", ADMIN_PASSWORD).await;
    let _ = active;
    let confirm = h.browser.find(Locator::Id("setup-confirm")).await.unwrap();
    confirm.send_keys("\u{e007}").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.path().await != "/dashboard" {
        assert!(
            Instant::now() < deadline,
            "Enter did not submit the setup form"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.goto("/users").await;
    let seen = tab_to(&h, "add-confirm", 40).await;
    for id in ["add-name", "add-password"] {
        assert!(seen.contains(&id.to_owned()), "{id} not reached: {seen:?}");
    }
    h.goto("/pptp").await;
    let seen = tab_to(&h, "pptp-limits_max_sessions", 60).await;
    for id in [
        "pptp-link_name",
        "pptp-role",
        "pptp-listen",
        "pptp-max_sessions",
    ] {
        assert!(seen.contains(&id.to_owned()), "{id} not reached: {seen:?}");
    }
    h.close().await;
}
