//! The web UI in a real headless Chromium (Debian's `chromium` + `chromium-driver`), against a
//! real routerd: first-boot setup, login and logout, the HTTP → HTTPS redirect, cookie flags
//! and security headers, a POST without the CSRF token refused, lockout after repeated failed
//! logins. Screenshots of every page land in `target/webui-screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use fantoccini::Locator;
use support::{ADMIN_PASSWORD, Harness, Options, browser_available};

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
