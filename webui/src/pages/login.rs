//! First-boot setup (the admin password), login and logout.

use std::time::Instant;

use axum::Extension;
use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::{Shared, Visitor, session_cookie};
use crate::html::{self, FieldErrors, Kind, csrf_field, esc};
use crate::store::{MIN_PASSWORD_LEN, check_new_password};

fn setup_page(v: &Visitor, errors: &FieldErrors) -> String {
    let body = format!(
        "<p>Welcome. This box has no admin password yet: choose one now (at least \
{MIN_PASSWORD_LEN} characters). There is no default password.</p>{}\
<form method=\"post\" action=\"/setup\" class=\"card\">{}\
<input type=\"text\" name=\"username\" value=\"admin\" autocomplete=\"username\" hidden aria-hidden=\"true\" tabindex=\"-1\">\
{}{}{}<button type=\"submit\">Set password</button></form>",
        errors.summary(),
        csrf_field(&v.csrf),
        html::input(
            "setup",
            "code",
            "Setup code",
            Kind::Text,
            "",
            "Shown on the web UI's console when it started, and in the file setup-code in its \
state directory. It proves you have access to the box.",
            errors
        ),
        html::input(
            "setup",
            "password",
            "New admin password",
            Kind::Password,
            "",
            "",
            errors
        ),
        html::input(
            "setup",
            "confirm",
            "Repeat the password",
            Kind::Password,
            "",
            "",
            errors
        ),
    );
    html::page("First-time setup", &v.chrome("", None), &body)
}

/// `GET /setup`.
pub async fn setup_form(Extension(v): Extension<Visitor>) -> Html<String> {
    Html(setup_page(&v, &FieldErrors::default()))
}

/// The setup form's fields.
#[derive(Debug, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    code: String,
    password: String,
    confirm: String,
}

/// `POST /setup`: sets the admin password and logs in.
pub async fn setup(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Form(f): Form<SetupForm>,
) -> Response {
    let mut errors = FieldErrors::default();
    // The code is guessed no faster than a password: the login limit counts its failures.
    if let Err(left) = app.limiter().attempt(v.ip, Instant::now()) {
        errors.add("code", locked_message(left.as_secs()));
        return (StatusCode::TOO_MANY_REQUESTS, Html(setup_page(&v, &errors))).into_response();
    }
    if !app.setup_code_matches(&f.code) {
        tracing::warn!(ip = %v.ip, "wrong setup code");
        errors.add(
            "code",
            "Wrong setup code: copy it from the web UI's console or its setup-code file.",
        );
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(setup_page(&v, &errors)),
        )
            .into_response();
    }
    app.limiter().success(v.ip);
    if let Err(m) = check_new_password(&f.password, &f.confirm) {
        let field = if m.contains("differ") {
            "confirm"
        } else {
            "password"
        };
        errors.add(field, m);
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(setup_page(&v, &errors)),
        )
            .into_response();
    }
    let a = app.clone();
    let result = tokio::task::spawn_blocking(move || {
        let _guard = a.setup_lock();
        if a.admin.is_set() {
            return Ok(false);
        }
        a.admin.set(&f.password).map(|()| true)
    })
    .await;
    match result {
        Ok(Ok(true)) => {
            app.setup_code_used();
            tracing::info!(ip = %v.ip, "admin password set (first-boot setup)");
            log_in(&app, &v, "Admin password set. You are logged in.")
        }
        Ok(Ok(false)) => Redirect::to("/login").into_response(),
        Ok(Err(e)) => {
            tracing::error!("storing the admin password: {e}");
            errors.add("", format!("Could not store the password: {e}"));
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(setup_page(&v, &errors)),
            )
                .into_response()
        }
        Err(e) => {
            errors.add("", format!("Internal error: {e}"));
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(setup_page(&v, &errors)),
            )
                .into_response()
        }
    }
}

/// Replaces the visitor's session with a fresh authenticated one and goes to the dashboard.
fn log_in(app: &Shared, v: &Visitor, flash: &str) -> Response {
    let id = {
        let mut s = app.sessions();
        s.remove(&v.id);
        let id = s.create(true, Instant::now());
        s.set_flash(&id, flash);
        id
    };
    (
        [(header::SET_COOKIE, session_cookie(&id))],
        Redirect::to("/dashboard"),
    )
        .into_response()
}

fn login_page(v: &Visitor, flash: Option<&str>, errors: &FieldErrors) -> String {
    let body = format!(
        "{}<form method=\"post\" action=\"/login\" class=\"card\">{}\
<input type=\"text\" name=\"username\" value=\"admin\" autocomplete=\"username\" hidden aria-hidden=\"true\" tabindex=\"-1\">\
<div class=\"field\"><label for=\"login-password\">Admin password</label>\
<input type=\"password\" id=\"login-password\" name=\"password\" autocomplete=\"current-password\" required{}>{}</div>\
<button type=\"submit\">Log in</button></form>",
        errors.summary(),
        csrf_field(&v.csrf),
        if errors.get("password").is_some() {
            " aria-invalid=\"true\" aria-describedby=\"login-password-error\""
        } else {
            ""
        },
        errors
            .get("password")
            .map(|e| format!(
                "<span class=\"field-error\" id=\"login-password-error\">{}</span>",
                esc(e)
            ))
            .unwrap_or_default(),
    );
    html::page("Log in", &v.chrome("", flash), &body)
}

/// `GET /login`.
pub async fn login_form(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    if v.authenticated {
        return Redirect::to("/dashboard").into_response();
    }
    let flash = app.sessions().take_flash(&v.id);
    Html(login_page(&v, flash.as_deref(), &FieldErrors::default())).into_response()
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    password: String,
}

fn locked_message(secs: u64) -> String {
    let minutes = secs.div_ceil(60).max(1);
    format!(
        "Too many failed logins from your address: locked out. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

/// `POST /login`: checks the password, with the per-source rate limit and lockout.
pub async fn login(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Form(f): Form<LoginForm>,
) -> Response {
    let mut errors = FieldErrors::default();
    // Counted as a failure until the password proves right, so parallel attempts cannot
    // race past the lockout.
    let attempt = app.limiter().attempt(v.ip, Instant::now());
    if let Err(left) = attempt {
        errors.add("password", locked_message(left.as_secs()));
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Html(login_page(&v, None, &errors)),
        )
            .into_response();
    }
    let a = app.clone();
    let password = f.password;
    let verified = tokio::task::spawn_blocking(move || a.admin.verify(&password)).await;
    match verified {
        Ok(Ok(true)) => {
            app.limiter().success(v.ip);
            tracing::info!(ip = %v.ip, "admin logged in");
            log_in(&app, &v, "Logged in.")
        }
        Ok(Ok(false)) => {
            let now = Instant::now();
            let locked = app.limiter().locked(v.ip, now);
            tracing::warn!(ip = %v.ip, locked = locked.is_some(), "failed admin login");
            let status = if let Some(left) = locked {
                errors.add("password", locked_message(left.as_secs()));
                StatusCode::TOO_MANY_REQUESTS
            } else {
                errors.add("password", "Wrong password.");
                StatusCode::UNAUTHORIZED
            };
            (status, Html(login_page(&v, None, &errors))).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!("checking the admin password: {e}");
            errors.add("", format!("Cannot check the password: {e}"));
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(login_page(&v, None, &errors)),
            )
                .into_response()
        }
        Err(e) => {
            errors.add("", format!("Internal error: {e}"));
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(login_page(&v, None, &errors)),
            )
                .into_response()
        }
    }
}

/// `POST /logout`: ends the session.
pub async fn logout(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    let id = {
        let mut s = app.sessions();
        s.remove(&v.id);
        let id = s.create(false, Instant::now());
        s.set_flash(&id, "Logged out.");
        id
    };
    (
        [(header::SET_COOKIE, session_cookie(&id))],
        Redirect::to("/login"),
    )
        .into_response()
}
