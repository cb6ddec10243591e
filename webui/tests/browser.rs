//! The web UI in a real headless Chromium (Debian's `chromium` + `chromium-driver`), against a
//! real routerd: first-boot setup, login and logout, the HTTP → HTTPS redirect, cookie flags
//! and security headers, a POST without the CSRF token refused, lockout after repeated failed
//! logins; users (add, set password, delete) and PPTP settings through routerd's check/apply
//! path; plugins; configuration history with rollback; backup download and restore.
//! Screenshots of every page land in `target/webui-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use dialgate_routerd::api::client::Client;
use dialgate_routerd::api::{ConfigShow, History, UserEntry};
use fantoccini::Locator;
use support::{ADMIN_PASSWORD, Harness, Options, browser_available, cargo_build};

async fn set_up_admin(h: &mut Harness) {
    h.goto("/").await;
    assert_eq!(
        h.path().await,
        "/setup",
        "first visit goes to the setup page"
    );
    h.screenshot("setup").await;
    // Too short: refused with a message next to the field.
    h.fill("setup-password", "short").await;
    h.fill("setup-confirm", "short").await;
    h.click("main form button[type=submit]").await;
    assert_eq!(h.path().await, "/setup");
    let err = h
        .browser
        .find(Locator::Id("setup-password-error"))
        .await
        .expect("a message on the password field");
    assert!(err.text().await.unwrap().contains("10 characters"));
    h.screenshot("setup-error").await;
    h.fill("setup-password", ADMIN_PASSWORD).await;
    h.fill("setup-confirm", ADMIN_PASSWORD).await;
    h.click("main form button[type=submit]").await;
    assert_eq!(h.path().await, "/dashboard", "{}", h.webui_log());
    assert!(h.text().await.contains("Admin password set"));
}

async fn log_in(h: &Harness, password: &str) {
    h.goto("/login").await;
    h.fill("login-password", password).await;
    h.click("main form button[type=submit]").await;
}

async fn log_out(h: &Harness) {
    h.click("nav form[action='/logout'] button").await;
    assert_eq!(h.path().await, "/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_boot_login_logout_csrf_and_lockout() {
    if !browser_available() {
        return;
    }
    let mut h = Harness::start(
        "auth",
        Options {
            webui_args: ["--login-failures", "3", "--lockout-secs", "120"]
                .map(String::from)
                .to_vec(),
            ..Options::default()
        },
    )
    .await;

    // Plain HTTP is redirected to HTTPS.
    h.browser
        .goto(&format!("http://{}/login", h.http))
        .await
        .unwrap();
    let url = h.browser.current_url().await.unwrap();
    assert_eq!(url.scheme(), "https", "{url}");

    set_up_admin(&mut h).await;
    h.screenshot("dashboard").await;
    assert!(h.text().await.contains("Sessions now"));

    // The session cookie: Secure, HttpOnly, SameSite=Strict; invisible to scripts.
    let cookies = h.browser.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name() == "__Host-dg_session")
        .expect("session cookie");
    assert_eq!(session.secure(), Some(true));
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(
        session.same_site().map(|s| s.to_string()).as_deref(),
        Some("Strict")
    );
    let js_cookie = h
        .browser
        .execute("return document.cookie;", vec![])
        .await
        .unwrap();
    assert!(!js_cookie.as_str().unwrap_or("").contains("dg_session"));

    // Security headers on every answer.
    let headers = h
        .browser
        .execute_async(
            "const done = arguments[0];
             fetch('/dashboard').then(r => done([r.headers.get('content-security-policy'),
                 r.headers.get('x-frame-options'), r.headers.get('x-content-type-options')]));",
            vec![],
        )
        .await
        .unwrap();
    let csp = headers[0].as_str().unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(headers[1], "DENY");
    assert_eq!(headers[2], "nosniff");

    // A POST without the CSRF token is refused (403), logged in or not.
    let status = h
        .browser
        .execute_async(
            "const done = arguments[0];
             fetch('/logout', {method: 'POST', body: new URLSearchParams({x: '1'})})
               .then(r => done(r.status));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(status, 403);
    // The same from a real form whose token was removed.
    h.browser
        .execute(
            "document.querySelector(\"nav form[action='/logout'] input[name=csrf]\").remove();",
            vec![],
        )
        .await
        .unwrap();
    h.click("nav form[action='/logout'] button").await;
    assert!(
        h.text().await.contains("security token"),
        "{}",
        h.text().await
    );
    h.screenshot("csrf-refused").await;
    // Still logged in: the refused logout did nothing.
    h.goto("/dashboard").await;
    assert_eq!(h.path().await, "/dashboard");

    log_out(&h).await;
    assert!(h.text().await.contains("Logged out"));
    h.screenshot("logged-out").await;
    h.goto("/dashboard").await;
    assert_eq!(h.path().await, "/login", "logged out: pages need a login");
    // The setup page is gone once a password exists.
    h.goto("/setup").await;
    assert_eq!(h.path().await, "/login");

    log_in(&h, ADMIN_PASSWORD).await;
    assert_eq!(h.path().await, "/dashboard");
    log_out(&h).await;

    // Wrong passwords: a message, then lockout on the third; then even the right one is
    // refused.
    log_in(&h, "wrong password 1").await;
    assert!(h.text().await.contains("Wrong password"));
    h.screenshot("login-wrong").await;
    log_in(&h, "wrong password 2").await;
    log_in(&h, "wrong password 3").await;
    assert!(h.text().await.contains("locked out"), "{}", h.text().await);
    log_in(&h, ADMIN_PASSWORD).await;
    assert_eq!(h.path().await, "/login");
    assert!(h.text().await.contains("locked out"));
    h.screenshot("login-locked").await;
    h.close().await;
}

async fn field_error(h: &Harness, id: &str) -> String {
    match h.browser.find(Locator::Id(&format!("{id}-error"))).await {
        Ok(e) => e.text().await.unwrap(),
        Err(_) => panic!("no error message on #{id}: {}", h.text().await),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_pptp_settings_history_and_backup() {
    if !browser_available() {
        return;
    }
    cargo_build(&["dialgate-plugin-pptp"], &[]);
    let mut h = Harness::start("admin", Options::default()).await;
    let api = Client::new(&h.socket);
    set_up_admin(&mut h).await;

    // Users: field errors, then add, set a password, delete.
    h.goto("/users").await;
    h.screenshot("users-empty").await;
    h.fill("add-name", "alice").await;
    h.fill("add-password", "alice secret 1").await;
    h.fill("add-confirm", "alice secret 2").await;
    h.click("#add-user button[type=submit]").await;
    assert!(field_error(&h, "add-confirm").await.contains("differ"));
    h.screenshot("users-error").await;
    h.fill("add-password", "alice secret 1").await;
    h.fill("add-confirm", "alice secret 1").await;
    h.click("#add-user button[type=submit]").await;
    assert_eq!(h.path().await, "/users");
    assert!(
        h.text().await.contains("User alice added"),
        "{}",
        h.text().await
    );
    h.fill("add-name", "bob").await;
    h.fill("add-password", "bob secret").await;
    h.fill("add-confirm", "bob secret").await;
    h.click("#add-user button[type=submit]").await;
    let users: Vec<UserEntry> = api.get("/v1/users").await.unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    // Adding alice again is refused on the name field.
    h.fill("add-name", "alice").await;
    h.fill("add-password", "x").await;
    h.fill("add-confirm", "x").await;
    h.click("#add-user button[type=submit]").await;
    assert!(field_error(&h, "add-name").await.contains("exists"));
    h.goto("/users").await;
    h.fill("pw-0", "alice secret 2").await;
    h.click("tr[data-user=alice] form[action$='/password'] button")
        .await;
    assert!(h.text().await.contains("Password of alice changed"));
    h.click("tr[data-user=bob] form[action$='/delete'] button")
        .await;
    assert!(h.text().await.contains("User bob deleted"));
    h.screenshot("users").await;
    let users: Vec<UserEntry> = api.get("/v1/users").await.unwrap();
    assert_eq!(users.len(), 1);

    // PPTP: a new answering link. Field errors first, then weak options without the
    // acknowledgement, then a valid change that routerd checks and applies.
    h.goto("/pptp").await;
    h.screenshot("pptp-new").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    h.fill("pptp-listen", &format!("{listen}, not-an-address"))
        .await;
    h.click("#pptp-form button[type=submit]").await;
    assert!(
        field_error(&h, "pptp-listen")
            .await
            .contains("not-an-address")
    );
    assert!(
        field_error(&h, "pptp-pool_ranges")
            .await
            .contains("At least one range")
    );
    h.fill("pptp-listen", &listen).await;
    h.fill("pptp-pool_ranges", "192.0.2.10-192.0.2.20").await;
    h.fill("pptp-pool_local", "192.0.2.1").await;
    h.fill("pptp-max_sessions", "50").await;
    // Weak option ticked without reading the warning: refused.
    h.tap("#pptp-form details summary").await;
    h.tap("#pptp-mppe_40").await;
    h.click("#pptp-form button[type=submit]").await;
    assert!(
        field_error(&h, "pptp-weak_confirm")
            .await
            .contains("warning")
    );
    h.screenshot("pptp-weak-refused").await;
    // Untick it and apply.
    h.tap("#pptp-mppe_40").await;
    h.click("#pptp-form button[type=submit]").await;
    assert_eq!(h.path().await, "/pptp");
    assert!(
        h.text()
            .await
            .contains("Applied as configuration version 2"),
        "{}\nrouterd:\n{}",
        h.text().await,
        h.routerd_log()
    );
    h.screenshot("pptp-applied").await;
    let cfg: ConfigShow = api.get("/v1/config").await.unwrap();
    assert_eq!(cfg.version, 2);
    assert!(
        cfg.toml.contains(&format!("listen = [\"{listen}\"]")),
        "{}",
        cfg.toml
    );
    assert!(
        cfg.toml.contains("allow_weak_mppe_40 = false"),
        "{}",
        cfg.toml
    );
    assert!(
        cfg.toml.contains("auth_methods = [\"mschap-v2\"]"),
        "{}",
        cfg.toml
    );
    // The form reads back what was applied; change one setting.
    let value = h
        .browser
        .find(Locator::Id("pptp-max_sessions"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(value.as_deref(), Some("50"));
    // A box-wide setting: the link keeps running (no restart).
    h.fill("pptp-limits_max_sessions", "900").await;
    h.click("#pptp-form button[type=submit]").await;
    assert!(
        h.text()
            .await
            .contains("Applied as configuration version 3"),
        "{}\nrouterd:\n{}",
        h.text().await,
        h.routerd_log()
    );
    let cfg: ConfigShow = api.get("/v1/config").await.unwrap();
    assert!(cfg.toml.contains("max_sessions = 900"), "{}", cfg.toml);

    // Plugins: the PPTP plugin the page added.
    h.goto("/plugins").await;
    assert!(h.text().await.contains("pptp"), "{}", h.text().await);
    h.screenshot("plugins").await;

    // History: roll back to version 2 (the box-wide limit 1000 again, as version 4).
    h.goto("/config").await;
    h.screenshot("config-history").await;
    h.click("tr[data-version='2'] button").await;
    assert!(
        h.text()
            .await
            .contains("Version 2 applied again as version 4"),
        "{}",
        h.text().await
    );
    let cfg: ConfigShow = api.get("/v1/config").await.unwrap();
    assert!(cfg.toml.contains("max_sessions = 1000"), "{}", cfg.toml);

    // Backup: download the current document, restore a changed one, refuse a broken one.
    h.goto("/backup").await;
    h.screenshot("backup").await;
    let downloaded = h
        .browser
        .execute_async(
            "const done = arguments[0];
             fetch('/backup/download').then(r => r.text()).then(done);",
            vec![],
        )
        .await
        .unwrap();
    let downloaded = downloaded.as_str().unwrap().to_owned();
    assert_eq!(downloaded, cfg.toml);
    let broken = h.dir.path().join("broken.toml");
    std::fs::write(&broken, "[limits]\nmax_sessions = \"many\"\n").unwrap();
    h.browser
        .find(Locator::Id("restore-file"))
        .await
        .unwrap()
        .send_keys(broken.to_str().unwrap())
        .await
        .unwrap();
    h.click("#restore-form button[type=submit]").await;
    let err = field_error(&h, "restore-file").await;
    assert!(err.contains("limits.max_sessions"), "{err}");
    h.screenshot("backup-invalid").await;
    let changed = h.dir.path().join("backup.toml");
    std::fs::write(
        &changed,
        downloaded.replace("max_sessions = 1000", "max_sessions = 777"),
    )
    .unwrap();
    h.browser
        .find(Locator::Id("restore-file"))
        .await
        .unwrap()
        .send_keys(changed.to_str().unwrap())
        .await
        .unwrap();
    h.click("#restore-form button[type=submit]").await;
    assert_eq!(h.path().await, "/config");
    assert!(
        h.text()
            .await
            .contains("Backup restored as configuration version 5"),
        "{}",
        h.text().await
    );
    let cfg: ConfigShow = api.get("/v1/config").await.unwrap();
    assert!(cfg.toml.contains("max_sessions = 777"), "{}", cfg.toml);
    let history: History = api.get("/v1/config/history").await.unwrap();
    assert_eq!(history.current, 5);
    assert_eq!(
        history.versions.last().map(|v| v.reason.as_str()),
        Some("web UI: restore from backup")
    );
    h.close().await;
}

/// The value of `js` (an expression) once it is truthy, polled for up to `secs` seconds
/// without reloading the page.
async fn wait_for_js(h: &Harness, js: &str, secs: u64) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let v = h
            .browser
            .execute(&format!("return {js};"), vec![])
            .await
            .unwrap();
        if !(v.is_null() || v == false || v == 0 || v == "") {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{js} stayed falsy for {secs} s; page:\n{}",
            h.text().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_graph_and_host_figures() {
    if !browser_available() {
        return;
    }
    let mut h = Harness::start("dash", Options::default()).await;
    set_up_admin(&mut h).await;
    // routerd's first sample is taken at start: no rate yet, but CPU count and memory.
    h.goto("/dashboard").await;
    let text = h.text().await;
    assert!(text.contains("Throughput, last hour"), "{text}");
    assert!(text.contains("Memory:"), "{text}");
    assert!(text.contains("routerd:"), "{text}");
    // The second sample (10 s after routerd started) arrives over SSE: the graph appears
    // without a reload, with one point per line.
    let points = wait_for_js(
        &h,
        "document.querySelector('#traffic svg#throughput')?.dataset.points",
        30,
    )
    .await;
    let points: u32 = points.as_str().unwrap().parse().unwrap();
    assert!(points >= 1, "{points}");
    let lines = h
        .browser
        .execute(
            "return Array.from(document.querySelectorAll('#throughput polyline'))
               .map(p => p.points.numberOfItems);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        lines,
        serde_json::json!([points, points]),
        "received and sent lines"
    );
    // The CPU figure exists from the second sample on.
    let cpu = wait_for_js(&h, "document.getElementById('cpu-percent')?.textContent", 5).await;
    assert!(cpu.as_str().unwrap().ends_with('%'), "{cpu}");
    h.screenshot("dashboard-graph").await;

    // System: this machine's interfaces (loopback with its address), DNS and time.
    h.goto("/system").await;
    let text = h.text().await;
    assert!(text.contains("Network interfaces"), "{text}");
    let lo = h
        .browser
        .find(Locator::Css("tr[data-interface='lo']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(lo.contains("127.0.0.1/8"), "{lo}");
    assert!(text.contains("DNS servers"), "{text}");
    let time = h
        .browser
        .find(Locator::Id("system-time"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(time.ends_with('Z') && time.starts_with("20"), "{time}");
    // The test's routerd has no hardware profile installed.
    assert!(text.contains("Hardware profile"), "{text}");
    h.screenshot("system").await;

    // Reboot: a harmless command in routerd's configuration; the page asks first, Cancel
    // does nothing, confirming runs it.
    let marker = h.dir.path().join("rebooted");
    let api = Client::new(&h.socket);
    let cfg: ConfigShow = api.get("/v1/config").await.unwrap();
    let toml = cfg.toml.replacen(
        "[system]\n",
        &format!(
            "[system]\nreboot_command = [\"/bin/sh\", \"-c\", \"echo yes > {}\"]\n",
            marker.display()
        ),
        1,
    );
    let _: dialgate_routerd::api::ApplyResult = api
        .call(
            axum::http::Method::POST,
            "/v1/config",
            Some(&dialgate_routerd::api::ApplyRequest {
                toml,
                reason: Some("test reboot command".into()),
                base_version: None,
            }),
        )
        .await
        .unwrap();
    h.goto("/system").await;
    h.click("a[href='/system/reboot']").await;
    assert_eq!(h.path().await, "/system/reboot");
    assert!(h.text().await.contains("Reboot the box now?"));
    h.screenshot("reboot-confirm").await;
    h.click("#reboot-form a").await;
    assert_eq!(h.path().await, "/system");
    assert!(!marker.exists(), "cancel does not reboot");
    h.click("a[href='/system/reboot']").await;
    h.click("#reboot-form button[type=submit]").await;
    let status = h
        .browser
        .find(Locator::Id("rebooting"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status.contains("rebooting"), "{status}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "yes\n");
    h.screenshot("rebooting").await;
    h.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_width_layout_of_every_page() {
    if !browser_available() {
        return;
    }
    let mut h = Harness::start("phone", Options::default()).await;
    h.browser.set_window_size(390, 844).await.unwrap();
    set_up_admin(&mut h).await;
    let inner = h
        .browser
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap();
    assert!(
        inner.as_u64().is_some_and(|w| (300..=400).contains(&w)),
        "a phone-width viewport: {inner}"
    );
    // The menu is folded: links hidden until "Menu" is tapped.
    let nav_visible =
        "return document.querySelector('nav a[href=\"/users\"]').offsetParent !== null;";
    let shown = h.browser.execute(nav_visible, vec![]).await.unwrap();
    assert_eq!(shown, false, "the menu starts folded");
    h.tap("label[for=nav-toggle]").await;
    let shown = h.browser.execute(nav_visible, vec![]).await.unwrap();
    assert_eq!(shown, true, "Menu opens it");
    h.screenshot("phone-menu").await;
    h.click("nav a[href='/users']").await;
    assert_eq!(h.path().await, "/users");

    let mut pages: Vec<&str> = dialgate_webui::html::NAV.iter().map(|(p, _)| *p).collect();
    pages.push("/system/reboot");
    for path in pages {
        h.goto(path).await;
        assert_eq!(h.path().await, path);
        let widths = h
            .browser
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
        assert!(
            scroll <= inner,
            "{path} is wider than the phone's screen: {scroll} > {inner}"
        );
        h.screenshot(&format!("phone{}", path.replace('/', "-")))
            .await;
    }
    // Logged out: the login page too.
    h.goto("/dashboard").await;
    h.tap("label[for=nav-toggle]").await;
    log_out(&h).await;
    let widths = h
        .browser
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(widths, true, "the login page fits");
    h.screenshot("phone-login").await;
    h.close().await;
}
