//! Users: list, add (with a password), set password, delete. routerd stores only NT hashes.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dialgate_routerd::api::client::{ClientError, encode_segment};
use dialgate_routerd::api::{SetPasswordRequest, UserEntry, UserSet};
use serde::Deserialize;

use crate::app::{Shared, Visitor, routerd_error};
use crate::html::{self, FieldErrors, Kind, csrf_field, esc};

/// The longest user password accepted (routerd's limit, in characters).
pub const MAX_USER_PASSWORD: usize = 256;

/// The add form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// The set-password form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

fn check_password(password: &str, errors: &mut FieldErrors, field: &str) {
    let n = password.chars().count();
    if n == 0 {
        errors.add(field, "Enter a password.");
    } else if n > MAX_USER_PASSWORD {
        errors.add(field, format!("At most {MAX_USER_PASSWORD} characters."));
    }
}

fn render(
    v: &Visitor,
    users: &[UserEntry],
    flash: Option<&str>,
    add: &AddForm,
    errors: &FieldErrors,
) -> String {
    let mut body = String::new();
    if users.is_empty() {
        body.push_str("<p>No user yet.</p>");
    } else {
        body.push_str(
            "<div class=\"table-wrap\"><table class=\"responsive\"><thead><tr><th scope=\"col\">User</th>\
<th scope=\"col\">Sessions</th><th scope=\"col\">Secret</th><th scope=\"col\">Set password</th>\
<th scope=\"col\">Delete</th></tr></thead><tbody>",
        );
        for (i, u) in users.iter().enumerate() {
            let name = esc(&u.name);
            let action = esc(&encode_segment(&u.name));
            let _ = write!(
                body,
                "<tr data-user=\"{name}\"><td data-label=\"User\">{name}</td><td data-label=\"Sessions\">{}</td>\
<td data-label=\"Secret\">{}</td>\
<td><form method=\"post\" action=\"/users/{action}/password\" class=\"inline\">{csrf}\
<label for=\"pw-{i}\">New password for {name}</label> \
<input type=\"password\" id=\"pw-{i}\" name=\"password\" autocomplete=\"new-password\" required> \
<button type=\"submit\">Set</button></form></td>\
<td><form method=\"post\" action=\"/users/{action}/delete\" class=\"inline\">{csrf}\
<button type=\"submit\" class=\"danger\" aria-label=\"Delete user {name}\">Delete</button></form></td></tr>",
                u.sessions,
                if u.weak_cleartext_secret {
                    "<span class=\"badge warn\">clear text (weak methods)</span>"
                } else {
                    "NT hash"
                },
                csrf = csrf_field(&v.csrf),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let _ = write!(
        body,
        "<h2>Add a user</h2>{}<form method=\"post\" action=\"/users\" class=\"card\" id=\"add-user\">{}{}{}{}\
<button type=\"submit\">Add user</button></form>",
        errors.summary(),
        csrf_field(&v.csrf),
        html::input(
            "add",
            "name",
            "User name",
            Kind::Text,
            &add.name,
            "Letters, digits and . _ @ - (as in the configuration).",
            errors
        ),
        html::input(
            "add",
            "password",
            "Password",
            Kind::Password,
            "",
            "",
            errors
        ),
        html::input(
            "add",
            "confirm",
            "Repeat the password",
            Kind::Password,
            "",
            "",
            errors
        ),
    );
    html::page("Users", &v.chrome("/users", flash), &body)
}

/// `GET /users`.
pub async fn list(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    match app.client.get::<Vec<UserEntry>>("/v1/users").await {
        Ok(users) => {
            let flash = app.sessions().take_flash(&v.id);
            Html(render(
                &v,
                &users,
                flash.as_deref(),
                &AddForm::default(),
                &FieldErrors::default(),
            ))
            .into_response()
        }
        Err(e) => routerd_error(&v, "/users", &e),
    }
}

/// `POST /users`: adds a user with a password.
pub async fn add(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Form(f): Form<AddForm>,
) -> Response {
    let users = match app.client.get::<Vec<UserEntry>>("/v1/users").await {
        Ok(u) => u,
        Err(e) => return routerd_error(&v, "/users", &e),
    };
    let name = f.name.trim().to_owned();
    let mut errors = FieldErrors::default();
    if name.is_empty() {
        errors.add("name", "Enter a user name.");
    } else if users.iter().any(|u| u.name == name) {
        errors.add(
            "name",
            "This user exists already (set its password in the list).",
        );
    }
    check_password(&f.password, &mut errors, "password");
    if errors.get("password").is_none() && f.password != f.confirm {
        errors.add("confirm", "The two passwords differ.");
    }
    if errors.is_empty() {
        let r = app
            .client
            .call::<UserSet>(
                Method::PUT,
                &format!("/v1/users/{}/password", encode_segment(&name)),
                Some(&SetPasswordRequest {
                    password: f.password.clone(),
                }),
            )
            .await;
        match r {
            Ok(_) => {
                tracing::info!(ip = %v.ip, user = %name, "user added from the web UI");
                app.sessions()
                    .set_flash(&v.id, format!("User {name} added."));
                return Redirect::to("/users").into_response();
            }
            Err(ClientError::Api { status: 400, body }) => {
                let field = if body.error.contains("password") {
                    "password"
                } else {
                    "name"
                };
                errors.add(field, body.error);
            }
            Err(e) => errors.add("", e.to_string()),
        }
    }
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Html(render(&v, &users, None, &f, &errors)),
    )
        .into_response()
}

/// `POST /users/{name}/password`.
pub async fn set_password(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path(name): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let mut errors = FieldErrors::default();
    check_password(&f.password, &mut errors, "password");
    let message = if let Some(e) = errors.get("password") {
        format!("Password of {name} not changed: {e}")
    } else {
        match app
            .client
            .call::<UserSet>(
                Method::PUT,
                &format!("/v1/users/{}/password", encode_segment(&name)),
                Some(&SetPasswordRequest {
                    password: f.password,
                }),
            )
            .await
        {
            Ok(_) => {
                tracing::info!(ip = %v.ip, user = %name, "user password set from the web UI");
                format!("Password of {name} changed.")
            }
            Err(e) => format!("Password of {name} not changed: {e}"),
        }
    };
    app.sessions().set_flash(&v.id, message);
    Redirect::to("/users").into_response()
}

/// `POST /users/{name}/delete`.
pub async fn delete(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path(name): Path<String>,
) -> Response {
    let message = match app
        .client
        .call::<()>(
            Method::DELETE,
            &format!("/v1/users/{}", encode_segment(&name)),
            None::<&()>,
        )
        .await
    {
        Ok(()) => {
            tracing::info!(ip = %v.ip, user = %name, "user deleted from the web UI");
            format!("User {name} deleted (their sessions stay up until they end).")
        }
        Err(ClientError::Api { status: 404, .. }) => format!("There is no user {name}."),
        Err(e) => format!("User {name} not deleted: {e}"),
    };
    app.sessions().set_flash(&v.id, message);
    Redirect::to("/users").into_response()
}
