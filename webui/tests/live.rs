//! A live session in the browser: two serial links of one routerd joined by a pty cable
//! (no root needed: routerd runs without a data plane). The sessions page is open when the
//! dialing link is enabled, and the session appears without a reload (SSE); search, the
//! detail page and its capture (a pcap tshark reads), then kicking it from the page; the
//! serial plugin's page drawn from its configuration form (plugin ABI 1.3): a field error
//! from routerd's check, the weak-setting acknowledgement, an applied change. Also keyboard
//! navigation (Tab reaches every control of a form, in order) and the phone-width layout.

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
    cargo_build(
        &["dialgate-plugin-serial", "dialgate-test-plugin-bad-schema"],
        &[],
    );
    let cable = PtyCable::new();
    let extra = format!(
        r#"
[ppp]
echo_interval_secs = 0

[limits]
capture_packets = 64
capture_snaplen = 1600

[[pool]]
name = "office"
ranges = ["192.0.2.100-192.0.2.109"]
local_address = "192.0.2.1"

[[plugin]]
name = "serial"
file = "{serial}"

[[plugin]]
name = "bad-schema"
file = "{bad}"

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
        bad = library("dialgate_test_plugin_bad_schema").display(),
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

    // Its capture: the detail page links a pcap file, which tshark reads (LCP, IPCP).
    let href = h
        .browser
        .find(Locator::Id("pcap-link"))
        .await
        .expect("a capture link on the detail page")
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(href, format!("/sessions/{srv_id}/pcap"));
    let fetched = h
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.arrayBuffer())
               .then(b => done(Array.from(new Uint8Array(b))));",
            vec![serde_json::json!(href)],
        )
        .await
        .unwrap();
    let pcap: Vec<u8> = fetched
        .as_array()
        .unwrap()
        .iter()
        .map(|v| u8::try_from(v.as_u64().unwrap()).unwrap())
        .collect();
    let file = std::env::temp_dir().join(format!("dg-webui-{}-session.pcap", std::process::id()));
    std::fs::write(&file, &pcap).unwrap();
    let dissected = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args(["-T", "fields", "-e", "frame.protocols"])
        .output()
        .expect("tshark (tests/apt-packages.txt)");
    let _ = std::fs::remove_file(&file);
    let protocols = String::from_utf8_lossy(&dissected.stdout);
    assert!(
        dissected.status.success(),
        "{}",
        String::from_utf8_lossy(&dissected.stderr)
    );
    for p in [":lcp", ":ipcp"] {
        assert!(protocols.contains(p), "{p} in the capture:\n{protocols}");
    }

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

    // The serial plugin's page (plugin ABI 1.3 form): the navigation shows a page for each
    // loaded plugin that gives a form (serial, and bad-schema whose form is malformed).
    h.goto("/dashboard").await;
    let plugin_links = h
        .browser
        .find_all(Locator::Css("nav a[href^='/plugin/']"))
        .await
        .unwrap();
    assert_eq!(plugin_links.len(), 2, "serial and bad-schema");
    // A plugin whose form is malformed gets a page that says why.
    h.click("nav a[href='/plugin/bad-schema']").await;
    let why = h
        .browser
        .find(Locator::Id("form-error"))
        .await
        .expect("the form's error on the page")
        .text()
        .await
        .unwrap();
    assert!(why.contains("schema.properties.port.type"), "{why}");
    h.screenshot("plugin-malformed").await;
    h.click("nav a[href='/plugin/serial']").await;
    let text = h.text().await;
    assert!(
        text.contains("Serial ports and modems") && text.contains("srv") && text.contains("cli"),
        "{text}"
    );
    h.screenshot("plugin-serial").await;
    h.click("tr[data-link='cli'] a").await;
    assert_eq!(h.path().await, "/plugin/serial/cli");
    h.screenshot("plugin-serial-link").await;
    // The port's local lines are weak (a modem's hang-up goes unnoticed): already in force,
    // so the acknowledgement starts ticked. An MRU below the schema's minimum comes back
    // from routerd's check on its field.
    h.fill("plugin-c.ports.0.mru", "10").await;
    h.click("#plugin-form button[type=submit]").await;
    let err = h
        .browser
        .find(Locator::Id("plugin-c.ports.0.mru-error"))
        .await
        .expect("an error on the MRU field")
        .text()
        .await
        .unwrap();
    assert!(err.contains("minimum 64"), "{err}");
    h.screenshot("plugin-serial-error").await;
    // Without the acknowledgement, the weak setting is refused.
    h.fill("plugin-c.ports.0.mru", "1600").await;
    h.tap("[id='plugin-weak_confirm']").await;
    h.click("#plugin-form button[type=submit]").await;
    assert!(
        h.browser
            .find(Locator::Id("plugin-weak_confirm-error"))
            .await
            .is_ok(),
        "{}",
        h.text().await
    );
    // Modem lines are not weak: applied.
    h.browser
        .find(Locator::Css(
            "[id='plugin-c.ports.0.lines'] option[value='modem']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    h.fill("plugin-c.ports.0.mru", "1600").await;
    h.click("#plugin-form button[type=submit]").await;
    assert_eq!(h.path().await, "/plugin/serial/cli");
    assert!(
        h.text().await.contains("Applied as configuration version"),
        "{}",
        h.text().await
    );
    let cfg: ConfigShow = api.get("/v1/config").await.unwrap();
    assert!(cfg.toml.contains("mru = 1600"), "{}", cfg.toml);
    assert!(cfg.toml.contains("lines = \"modem\""), "{}", cfg.toml);

    // Dashboard counts it; phone width stays usable (no horizontal scrolling of the page).
    h.goto("/dashboard").await;
    h.screenshot("dashboard-session").await;
    h.browser.set_window_size(390, 844).await.unwrap();
    for path in [
        "/dashboard",
        "/sessions",
        "/users",
        "/pptp",
        "/plugin/serial/cli",
    ] {
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
