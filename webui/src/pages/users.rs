//! Users: list, add (with a password), set password, delete, and an edit page per user for
//! its attributes (static address, allowed links and protocols). routerd stores only NT
//! hashes.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dialgate_routerd::api::client::{ClientError, encode_segment};
use dialgate_routerd::api::users_attrs::{NetProtocol, UserAttrs, field_of};
use dialgate_routerd::api::{ConfigShow, SetPasswordRequest, UserEntry, UserSet};
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
<th scope=\"col\">Sessions</th><th scope=\"col\">Secret</th><th scope=\"col\">Address</th>\
<th scope=\"col\">Set password</th><th scope=\"col\">Delete</th></tr></thead><tbody>",
        );
        for (i, u) in users.iter().enumerate() {
            let name = esc(&u.name);
            let action = esc(&encode_segment(&u.name));
            let _ = write!(
                body,
                "<tr data-user=\"{name}\"><td data-label=\"User\"><a href=\"/users/{action}\" aria-label=\"Edit user {name}\">{name}</a></td>\
<td data-label=\"Sessions\">{}</td><td data-label=\"Secret\">{}</td><td data-label=\"Address\">{}</td>\
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
                u.attrs
                    .static_address
                    .map_or_else(|| "pool".to_owned(), |a| a.to_string()),
                csrf = csrf_field(&v.csrf),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let _ = write!(
        body,
        "<p><a href=\"/import\">Import users and settings from pptpd (chap-secrets, pptpd.conf)</a></p>\
<h2>Add a user</h2>{}<form method=\"post\" action=\"/users\" class=\"card\" id=\"add-user\">{}{}{}{}\
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

/// The link plugins offered on the edit page besides those the configuration's links use.
pub const COMMON_LINK_PLUGINS: [&str; 2] = ["pptp", "serial"];

/// What the edit form shows and submits.
#[derive(Debug, Default, Clone)]
pub struct EditForm {
    static_address: String,
    /// (plugin, ticked), sorted by plugin.
    links: Vec<(String, bool)>,
    /// (protocol, ticked) in [`NetProtocol::ALL`] order.
    protocols: Vec<(NetProtocol, bool)>,
}

impl EditForm {
    /// The form for `attrs`, offering `plugins` (plus the user's own).
    pub fn of(attrs: &UserAttrs, plugins: &[String]) -> Self {
        let mut names: std::collections::BTreeSet<String> = plugins.iter().cloned().collect();
        names.extend(COMMON_LINK_PLUGINS.iter().map(|s| (*s).to_owned()));
        if let Some(l) = &attrs.links {
            names.extend(l.iter().cloned());
        }
        EditForm {
            static_address: attrs
                .static_address
                .map(|a| a.to_string())
                .unwrap_or_default(),
            links: names
                .into_iter()
                .map(|n| {
                    let on = attrs.allows_link(&n);
                    (n, on)
                })
                .collect(),
            protocols: NetProtocol::ALL
                .into_iter()
                .map(|p| (p, attrs.allows_protocol(p)))
                .collect(),
        }
    }

    /// The submitted form: `static_address`, `link_NAME=on`, `proto_NAME=on`; the offered
    /// links come from `offered` (what the page showed).
    pub fn parse(pairs: &[(String, String)], offered: &[String]) -> Self {
        let ticked = |key: &str| pairs.iter().any(|(k, v)| k == key && v == "on");
        let mut links: Vec<(String, bool)> = offered
            .iter()
            .map(|n| (n.clone(), ticked(&format!("link_{n}"))))
            .collect();
        links.sort();
        links.dedup_by(|a, b| a.0 == b.0);
        EditForm {
            static_address: pairs
                .iter()
                .find(|(k, _)| k == "static_address")
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default(),
            links,
            protocols: NetProtocol::ALL
                .into_iter()
                .map(|p| (p, ticked(&format!("proto_{}", p.as_str()))))
                .collect(),
        }
    }

    /// The attributes it describes, or the fields' errors. Every box ticked means no
    /// restriction; none ticked is an error.
    pub fn attrs(&self, errors: &mut FieldErrors) -> Option<UserAttrs> {
        let static_address = if self.static_address.is_empty() {
            None
        } else {
            match self.static_address.parse() {
                Ok(a) => Some(a),
                Err(_) => {
                    errors.add(
                        "static_address",
                        "Enter an IPv4 address such as 192.0.2.250, or leave it empty for a pool address.",
                    );
                    None
                }
            }
        };
        let links = if self.links.iter().all(|(_, on)| *on) {
            None
        } else {
            let set: std::collections::BTreeSet<String> = self
                .links
                .iter()
                .filter(|(_, on)| *on)
                .map(|(n, _)| n.clone())
                .collect();
            if set.is_empty() {
                errors.add("links", "Tick at least one kind of link.");
            }
            Some(set)
        };
        let protocols = if self.protocols.iter().all(|(_, on)| *on) {
            None
        } else {
            let set: std::collections::BTreeSet<NetProtocol> = self
                .protocols
                .iter()
                .filter(|(_, on)| *on)
                .map(|(p, _)| *p)
                .collect();
            if set.is_empty() {
                errors.add("protocols", "Tick at least one protocol.");
            }
            Some(set)
        };
        errors.is_empty().then_some(UserAttrs {
            static_address,
            links,
            protocols,
        })
    }
}

fn protocol_label(p: NetProtocol) -> &'static str {
    match p {
        NetProtocol::Ip => "IP (IPv4 and IPv6)",
        NetProtocol::Ipx => "IPX",
        NetProtocol::Netbeui => "NetBEUI",
    }
}

fn group(legend: &str, name: &str, boxes: &str, errors: &FieldErrors) -> String {
    let (err, invalid) = match errors.get(name) {
        Some(e) => (
            format!(
                "<span class=\"field-error\" id=\"edit-{name}-error\">{}</span>",
                esc(e)
            ),
            format!(" aria-describedby=\"edit-{name}-error\" aria-invalid=\"true\""),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        "<fieldset id=\"edit-{name}\"{invalid}><legend>{}</legend>{boxes}{err}</fieldset>",
        esc(legend)
    )
}

fn render_edit(
    v: &Visitor,
    user: &UserEntry,
    form: &EditForm,
    flash: Option<&str>,
    errors: &FieldErrors,
) -> String {
    let action = esc(&encode_segment(&user.name));
    let mut links = String::new();
    for (plugin, on) in &form.links {
        links.push_str(&html::checkbox(
            "edit",
            &format!("link_{plugin}"),
            plugin,
            *on,
            &FieldErrors::default(),
        ));
    }
    let mut protos = String::new();
    for (p, on) in &form.protocols {
        protos.push_str(&html::checkbox(
            "edit",
            &format!("proto_{}", p.as_str()),
            protocol_label(*p),
            *on,
            &FieldErrors::default(),
        ));
    }
    let body = format!(
        "<p><a href=\"/users\">All users</a></p>\
<p>Sessions now: {sessions}. Changes apply to new sessions; current ones keep what they have.</p>\
{summary}<form method=\"post\" action=\"/users/{action}\" class=\"card\" id=\"edit-user\">{csrf}{addr}{links}{protos}\
<button type=\"submit\">Save</button></form>",
        sessions = user.sessions,
        summary = errors.summary(),
        csrf = csrf_field(&v.csrf),
        addr = html::input(
            "edit",
            "static_address",
            "Static IPv4 address",
            Kind::Text,
            &form.static_address,
            "Every session of this user gets this address instead of one from the pool (one \
session at a time). It must lie outside every pool range. Empty: a pool address.",
            errors,
        ),
        links = group(
            "Links the user may call in on (all ticked: no restriction)",
            "links",
            &links,
            errors
        ),
        protos = group(
            "Network protocols the user may run (all ticked: no restriction)",
            "protocols",
            &protos,
            errors
        ),
    );
    html::page(
        &format!("User {}", user.name),
        &v.chrome("/users", flash),
        &body,
    )
}

/// The link plugins the current configuration's links use.
async fn link_plugins(app: &Shared) -> Vec<String> {
    let Ok(c) = app.client.get::<ConfigShow>("/v1/config").await else {
        return Vec::new();
    };
    match dialgate_routerd::config::Document::parse("current", c.toml) {
        Ok(doc) => doc
            .config()
            .links
            .iter()
            .map(|l| l.plugin.clone())
            .collect(),
        Err(_) => Vec::new(),
    }
}

async fn find_user(app: &Shared, name: &str) -> Result<Option<UserEntry>, ClientError> {
    let users = app.client.get::<Vec<UserEntry>>("/v1/users").await?;
    Ok(users.into_iter().find(|u| u.name == name))
}

fn no_such_user(v: &Visitor, name: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(html::page(
            "No such user",
            &v.chrome("/users", None),
            &format!(
                "<p>There is no user {}. <a href=\"/users\">All users</a></p>",
                esc(name)
            ),
        )),
    )
        .into_response()
}

/// `GET /users/{name}`: the edit page.
pub async fn edit(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path(name): Path<String>,
) -> Response {
    let user = match find_user(&app, &name).await {
        Ok(Some(u)) => u,
        Ok(None) => return no_such_user(&v, &name),
        Err(e) => return routerd_error(&v, "/users", &e),
    };
    let form = EditForm::of(&user.attrs, &link_plugins(&app).await);
    let flash = app.sessions().take_flash(&v.id);
    Html(render_edit(
        &v,
        &user,
        &form,
        flash.as_deref(),
        &FieldErrors::default(),
    ))
    .into_response()
}

/// `POST /users/{name}`: saves the attributes (routerd checks the static address against
/// the pools and the other users; its refusal lands on the field).
pub async fn save(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path(name): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let user = match find_user(&app, &name).await {
        Ok(Some(u)) => u,
        Ok(None) => return no_such_user(&v, &name),
        Err(e) => return routerd_error(&v, "/users", &e),
    };
    let offered: Vec<String> = EditForm::of(&user.attrs, &link_plugins(&app).await)
        .links
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let form = EditForm::parse(&pairs, &offered);
    let mut errors = FieldErrors::default();
    if let Some(attrs) = form.attrs(&mut errors) {
        let r = app
            .client
            .call::<UserAttrs>(
                Method::PUT,
                &format!("/v1/users/{}/attrs", encode_segment(&name)),
                Some(&attrs),
            )
            .await;
        match r {
            Ok(_) => {
                tracing::info!(ip = %v.ip, user = %name, "user attributes changed from the web UI");
                app.sessions()
                    .set_flash(&v.id, format!("User {name} saved."));
                return Redirect::to(&format!("/users/{}", encode_segment(&name))).into_response();
            }
            Err(ClientError::Api { status: 400, body }) => {
                let field = field_of(body.detail.as_ref()).unwrap_or("");
                errors.add(field, body.error);
            }
            Err(e) => errors.add("", e.to_string()),
        }
    }
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Html(render_edit(&v, &user, &form, None, &errors)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn all_ticked_is_no_restriction_and_none_ticked_is_an_error() {
        let offered = vec!["pptp".to_owned(), "serial".to_owned()];
        let all = pairs(&[
            ("static_address", " 192.0.2.250 "),
            ("link_pptp", "on"),
            ("link_serial", "on"),
            ("proto_ip", "on"),
            ("proto_ipx", "on"),
            ("proto_netbeui", "on"),
        ]);
        let mut errors = FieldErrors::default();
        let a = EditForm::parse(&all, &offered).attrs(&mut errors).unwrap();
        assert_eq!(
            a.static_address,
            Some(std::net::Ipv4Addr::new(192, 0, 2, 250))
        );
        assert_eq!(a.links, None);
        assert_eq!(a.protocols, None);

        let some = pairs(&[("link_pptp", "on"), ("proto_ip", "on")]);
        let a = EditForm::parse(&some, &offered).attrs(&mut errors).unwrap();
        assert_eq!(a.static_address, None);
        assert_eq!(a.links, Some(["pptp".to_owned()].into()));
        assert_eq!(a.protocols, Some([NetProtocol::Ip].into()));

        let none = pairs(&[("static_address", "192.0.2.999")]);
        assert!(
            EditForm::parse(&none, &offered)
                .attrs(&mut errors)
                .is_none()
        );
        assert!(errors.get("static_address").is_some());
        assert!(errors.get("links").is_some());
        assert!(errors.get("protocols").is_some());
    }

    #[test]
    fn the_form_reads_back_stored_attributes() {
        let attrs = UserAttrs {
            static_address: None,
            links: Some(["isdn".to_owned()].into()),
            protocols: Some([NetProtocol::Ipx].into()),
        };
        let f = EditForm::of(&attrs, &["serial".to_owned()]);
        let names: Vec<&str> = f.links.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["isdn", "pptp", "serial"]);
        assert_eq!(f.links.iter().filter(|(_, on)| *on).count(), 1);
        assert_eq!(
            f.protocols,
            vec![
                (NetProtocol::Ip, false),
                (NetProtocol::Ipx, true),
                (NetProtocol::Netbeui, false)
            ]
        );
    }
}
