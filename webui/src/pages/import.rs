//! Import from PoPToP (pptpd): upload `chap-secrets` and/or `pptpd.conf`, see a preview of
//! the users that will be created or changed, the PPTP settings that will change and every
//! line that is ignored (with its line number and why), then apply.
//!
//! The parsers are `dialgate-pptpd-import`'s. Clear-text secrets go to routerd's
//! set-password call, which stores only their NT hashes; between preview and apply they
//! stay in this process's memory (bounded, per visitor session, 15 minutes at most, wiped
//! on drop), never in a page. A `chap-secrets` address becomes the user's static address;
//! `pptpd.conf` maps onto the PPTP page's settings (listen addresses, pool ranges, local
//! address, DNS, connections, refused authentication methods) and goes through the same
//! check, apply and rollback path. Weak options (MPPE-40/56, stateful MPPE) are never
//! turned on by an import: they are listed as ignored.

use std::collections::HashMap;
use std::fmt::Write;
use std::net::Ipv4Addr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Multipart, State};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dialgate_pptpd_import::{
    ChapSecrets, IgnoredLines, PPTP_PORT, PptpdConf, parse_chap_secrets, parse_pptpd_conf,
};
use dialgate_routerd::api::client::encode_segment;
use dialgate_routerd::api::users_attrs::UserAttrs;
use dialgate_routerd::api::{SetPasswordRequest, UserEntry, UserSet};
use dialgate_routerd::config::Document;
use serde::Deserialize;
use toml_edit::DocumentMut;

use super::pptp::{self, PptpForm};
use super::{ApplyFailure, check_and_apply, current};
use crate::app::{MAX_UPLOAD, Shared, Visitor, routerd_error};
use crate::html::{self, FieldErrors, csrf_field, esc};

/// How long an uploaded import waits for its apply.
pub const PENDING_FOR: Duration = Duration::from_secs(15 * 60);

/// The most imports waiting at once (one per visitor session; the oldest goes first).
pub const MAX_PENDING: usize = 16;

/// The longest secret imported (RFC 2759 §8.3: passwords are at most 256 characters).
pub const MAX_SECRET_CHARS: usize = 256;

/// An upload waiting for its apply.
#[derive(Debug)]
struct Pending {
    token: String,
    at: Instant,
    secrets: ChapSecrets,
    conf: Option<PptpdConf>,
}

static PENDING: Mutex<Option<HashMap<String, Pending>>> = Mutex::new(None);

fn with_pending<R>(f: impl FnOnce(&mut HashMap<String, Pending>) -> R) -> R {
    let mut guard = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
    let map = guard.get_or_insert_with(HashMap::new);
    let now = Instant::now();
    map.retain(|_, p| now.duration_since(p.at) < PENDING_FOR);
    f(map)
}

fn random_token() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One user the import creates or changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPlan {
    /// The `chap-secrets` line.
    pub line: usize,
    /// The user.
    pub name: String,
    /// Whether the user exists (its password is replaced).
    pub exists: bool,
    /// The static address to set.
    pub static_address: Option<Ipv4Addr>,
    /// Why the user will not be imported (bad name, secret too long, address refused).
    pub problem: Option<String>,
}

/// One PPTP setting the import changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    /// The `pptpd.conf` line.
    pub line: usize,
    /// The setting, as the PPTP page names it.
    pub setting: &'static str,
    /// Its value now.
    pub from: String,
    /// Its value after the import.
    pub to: String,
}

/// What applying an import does.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Users, in file order.
    pub users: Vec<UserPlan>,
    /// The PPTP form after the import, when `pptpd.conf` changes anything.
    pub form: Option<PptpForm>,
    /// The settings it changes.
    pub changes: Vec<SettingChange>,
    /// `pptpd.conf` lines understood but not imported (beyond the parser's own list).
    pub conf_not_imported: Vec<(usize, String)>,
}

fn list_of(items: &[String]) -> String {
    items.join(", ")
}

/// Maps `conf` onto the PPTP form `current` (an answering link): what changes, and the
/// understood options that are not imported.
pub fn plan_settings(current: &PptpForm, conf: &PptpdConf) -> Plan {
    let mut f = current.clone();
    let mut changes = Vec::new();
    let mut skipped = Vec::new();
    let mut change = |line: usize, setting: &'static str, slot: &mut String, to: String| {
        if *slot != to {
            changes.push(SettingChange {
                line,
                setting,
                from: slot.clone(),
                to: to.clone(),
            });
            *slot = to;
        }
    };
    let mut role = f.role.clone();
    if let Some(line) = [
        conf.listen.first().map(|x| x.0),
        conf.remote_ranges.as_ref().map(|x| x.0),
    ]
    .into_iter()
    .flatten()
    .min()
    {
        change(line, "role", &mut role, "answer".to_owned());
    }
    f.role = role;
    if let Some((line, _)) = conf.listen.first() {
        let to: Vec<String> = conf
            .listen
            .iter()
            .map(|(_, a)| format!("{a}:{PPTP_PORT}"))
            .collect();
        change(*line, "listen", &mut f.listen, list_of(&to));
    }
    if let Some((line, ranges)) = &conf.remote_ranges {
        let to: Vec<String> = ranges.iter().map(ToString::to_string).collect();
        change(*line, "pool ranges", &mut f.pool_ranges, list_of(&to));
    }
    if let Some((line, a)) = conf.local_address {
        change(line, "pool local address", &mut f.pool_local, a.to_string());
    }
    if let Some((line, _)) = conf.dns.first() {
        let to: Vec<String> = conf
            .dns
            .iter()
            .take(2)
            .map(|(_, a)| a.to_string())
            .collect();
        change(*line, "pool DNS", &mut f.pool_dns, list_of(&to));
        for (line, a) in conf.dns.iter().skip(2) {
            skipped.push((
                *line,
                format!("ms-dns {a}: at most 2 DNS servers are handed out"),
            ));
        }
    }
    if let Some((line, n)) = conf.connections {
        change(line, "calls at once", &mut f.max_sessions, n.to_string());
    }
    for (line, method) in &conf.refused_auth {
        let slot = match *method {
            "mschap-v2" => &mut f.mschap_v2,
            "mschap-v1" => &mut f.mschap_v1,
            "chap-md5" => &mut f.chap_md5,
            _ => &mut f.pap,
        };
        if slot.take().is_some() {
            changes.push(SettingChange {
                line: *line,
                setting: "authentication",
                from: format!("{method} allowed"),
                to: format!("{method} refused"),
            });
        }
    }
    for (line, method) in &conf.required_auth {
        if *method != "mschap-v2" {
            skipped.push((
                *line,
                format!("require-{method}: a weak method is enabled only on the PPTP page"),
            ));
        }
    }
    if let Some(line) = conf.require_mppe_128 {
        if f.no_encryption.is_some() || f.mppe_40.is_some() || f.mppe_56.is_some() {
            for slot in [&mut f.no_encryption, &mut f.mppe_40, &mut f.mppe_56] {
                *slot = None;
            }
            changes.push(SettingChange {
                line,
                setting: "encryption",
                from: "weaker than MPPE-128 allowed".to_owned(),
                to: "MPPE-128 required".to_owned(),
            });
        } else {
            skipped.push((line, "MPPE-128 is required already".to_owned()));
        }
    }
    for (line, what) in [
        (conf.allow_mppe_40, "40-bit MPPE"),
        (conf.allow_mppe_56, "56-bit MPPE"),
        (conf.allow_mppe_stateful, "stateful MPPE"),
    ] {
        if let Some(line) = line {
            skipped.push((
                line,
                format!("{what} is weak: enable it on the PPTP page, behind its warning"),
            ));
        }
    }
    for (line, a) in &conf.wins {
        skipped.push((
            *line,
            format!("ms-wins {a}: set the pool's wins in the configuration"),
        ));
    }
    if let Some((line, m)) = conf.mru {
        skipped.push((line, format!("mru {m}: set [ppp] mru in the configuration")));
    }
    if let Some((line, s)) = conf.idle_secs {
        skipped.push((
            line,
            format!("idle {s}: set [ppp] idle_timeout_secs in the configuration"),
        ));
    }
    f.weak_confirm = f.weak_confirm.take().filter(|_| {
        [
            &f.mschap_v1,
            &f.chap_md5,
            &f.pap,
            &f.mppe_40,
            &f.mppe_56,
            &f.mppe_stateful,
            &f.no_encryption,
        ]
        .iter()
        .any(|o| o.is_some())
    });
    skipped.sort();
    Plan {
        users: Vec::new(),
        form: (!changes.is_empty()).then_some(f),
        changes,
        conf_not_imported: skipped,
    }
}

/// The users `secrets` creates or changes, checked against the existing users and the
/// configuration `config` (the one after the import's own changes).
pub fn plan_users(
    secrets: &ChapSecrets,
    existing: &[UserEntry],
    config: Option<&dialgate_routerd::config::Config>,
) -> Vec<UserPlan> {
    let mut out: Vec<UserPlan> = Vec::new();
    for s in &secrets.secrets {
        let exists = existing.iter().any(|u| u.name == s.user);
        let mut problem = None;
        if let Some(reason) = dialgate_routerd::users::user_name_problem(&s.user) {
            problem = Some(format!("user name: {reason}"));
        } else if s.secret.is_empty() {
            problem = Some("the secret is empty".to_owned());
        } else if s.secret.chars().count() > MAX_SECRET_CHARS {
            problem = Some(format!(
                "the secret is longer than {MAX_SECRET_CHARS} characters"
            ));
        } else if let Some(addr) = s.address {
            let taken_by_import = out
                .iter()
                .find(|u| u.static_address == Some(addr) && u.problem.is_none());
            let taken_by_user = existing
                .iter()
                .find(|u| u.name != s.user && u.attrs.static_address == Some(addr));
            if let Some(other) = taken_by_import {
                problem = Some(format!(
                    "{addr} is also {}'s address in this file",
                    other.name
                ));
            } else if let Some(other) = taken_by_user {
                problem = Some(format!("{addr} is user {}'s static address", other.name));
            } else if let Some(c) = config
                && let Some(why) = dialgate_routerd::users::static_address_problem(c, &s.user, addr)
            {
                problem = Some(why);
            }
        }
        out.push(UserPlan {
            line: s.line,
            name: s.user.clone(),
            exists,
            static_address: s.address,
            problem,
        });
    }
    out
}

fn upload_page(v: &Visitor, flash: Option<&str>, errors: &FieldErrors) -> String {
    let file_error = |name: &str| {
        errors
            .get(name)
            .map(|e| {
                format!(
                    "<span class=\"field-error\" id=\"import-{name}-error\">{}</span>",
                    esc(e)
                )
            })
            .unwrap_or_default()
    };
    let body = format!(
        "<p>Migrate from PoPToP: upload its <code>chap-secrets</code> (users, their secrets and \
addresses) and/or <code>pptpd.conf</code> (with the pppd options file's lines, if you like). \
Nothing changes until you have seen the preview and applied it. Secrets are stored only as NT \
hashes.</p>{summary}\
<form method=\"post\" action=\"/import?csrf={csrf}\" enctype=\"multipart/form-data\" class=\"card\" id=\"import-form\">{field}\
<div class=\"field\"><label for=\"import-chap_secrets\">chap-secrets file</label>\
<input type=\"file\" id=\"import-chap_secrets\" name=\"chap_secrets\">{e1}</div>\
<div class=\"field\"><label for=\"import-pptpd_conf\">pptpd.conf file</label>\
<input type=\"file\" id=\"import-pptpd_conf\" name=\"pptpd_conf\">{e2}</div>\
<button type=\"submit\">Preview the import</button></form>",
        summary = errors.summary(),
        csrf = esc(&v.csrf),
        field = csrf_field(&v.csrf),
        e1 = file_error("chap_secrets"),
        e2 = file_error("pptpd_conf"),
    );
    html::page("Import from pptpd", &v.chrome("/users", flash), &body)
}

fn ignored_table(
    file: &str,
    id: &str,
    ignored: &IgnoredLines,
    extra: &[(usize, String)],
) -> String {
    let mut rows: Vec<(usize, String, String)> = ignored
        .lines
        .iter()
        .map(|i| (i.line, i.text.clone(), i.reason.clone()))
        .collect();
    rows.extend(extra.iter().map(|(l, r)| (*l, String::new(), r.clone())));
    rows.sort_by_key(|r| r.0);
    if rows.is_empty() {
        return format!("<p>Every line of {file} is used.</p>");
    }
    let mut b = format!(
        "<h3>Ignored in {file}</h3><div class=\"table-wrap\"><table class=\"responsive\" id=\"{id}\"><thead><tr>\
<th scope=\"col\">Line</th><th scope=\"col\">Text</th><th scope=\"col\">Why</th></tr></thead><tbody>"
    );
    for (line, text, why) in rows {
        let _ = write!(
            b,
            "<tr data-line=\"{line}\"><td data-label=\"Line\">{line}</td><td data-label=\"Text\"><code>{}</code></td>\
<td data-label=\"Why\">{}</td></tr>",
            esc(&text),
            esc(&why)
        );
    }
    b.push_str("</tbody></table></div>");
    if ignored.more > 0 {
        let _ = write!(b, "<p>…and {} more lines.</p>", ignored.more);
    }
    b
}

fn preview_page(v: &Visitor, token: &str, pending: &Pending, plan: &Plan) -> String {
    let mut b = String::from(
        "<p>Nothing has changed yet. Check what the import will do, then apply it.</p>",
    );
    if !pending.secrets.secrets.is_empty() || !pending.secrets.ignored.is_empty() {
        b.push_str("<h2>Users (chap-secrets)</h2>");
        if plan.users.is_empty() {
            b.push_str("<p>No user to import.</p>");
        } else {
            b.push_str(
                "<div class=\"table-wrap\"><table class=\"responsive\" id=\"import-users\"><thead><tr>\
<th scope=\"col\">Line</th><th scope=\"col\">User</th><th scope=\"col\">Action</th>\
<th scope=\"col\">Static address</th></tr></thead><tbody>",
            );
            for u in &plan.users {
                let action = match &u.problem {
                    Some(p) => format!("<span class=\"badge warn\">skipped</span> {}", esc(p)),
                    None if u.exists => "password replaced".to_owned(),
                    None => "created".to_owned(),
                };
                let _ = write!(
                    b,
                    "<tr data-user=\"{n}\"><td data-label=\"Line\">{}</td><td data-label=\"User\">{n}</td>\
<td data-label=\"Action\">{action}</td><td data-label=\"Static address\">{}</td></tr>",
                    u.line,
                    u.static_address
                        .map_or_else(|| "pool".to_owned(), |a| a.to_string()),
                    n = esc(&u.name),
                );
            }
            b.push_str("</tbody></table></div>");
        }
        b.push_str(&ignored_table(
            "chap-secrets",
            "import-ignored-secrets",
            &pending.secrets.ignored,
            &[],
        ));
    }
    if let Some(conf) = &pending.conf {
        b.push_str("<h2>PPTP settings (pptpd.conf)</h2>");
        if plan.changes.is_empty() {
            b.push_str("<p>No setting changes.</p>");
        } else {
            b.push_str(
                "<div class=\"table-wrap\"><table class=\"responsive\" id=\"import-settings\"><thead><tr>\
<th scope=\"col\">Line</th><th scope=\"col\">Setting</th><th scope=\"col\">Now</th><th scope=\"col\">After</th>\
</tr></thead><tbody>",
            );
            for c in &plan.changes {
                let _ = write!(
                    b,
                    "<tr><td data-label=\"Line\">{}</td><td data-label=\"Setting\">{}</td>\
<td data-label=\"Now\">{}</td><td data-label=\"After\">{}</td></tr>",
                    c.line,
                    esc(c.setting),
                    esc(&c.from),
                    esc(&c.to)
                );
            }
            b.push_str("</tbody></table></div>");
        }
        b.push_str(&ignored_table(
            "pptpd.conf",
            "import-ignored-conf",
            &conf.ignored,
            &plan.conf_not_imported,
        ));
    }
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/import/apply\" class=\"card\" id=\"import-apply\">{}\
<input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">Apply the import</button></form>\
<p><a href=\"/import\">Start again</a></p>",
        csrf_field(&v.csrf),
        esc(token)
    );
    html::page("Import preview", &v.chrome("/users", None), &b)
}

/// `GET /import`: the upload form.
pub async fn form(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    let flash = app.sessions().take_flash(&v.id);
    Html(upload_page(&v, flash.as_deref(), &FieldErrors::default())).into_response()
}

/// The plan of `pending` against routerd's state now; with the document the import makes.
async fn make_plan(app: &Shared, pending: &Pending) -> Result<(Plan, Option<String>, u64), String> {
    let (show, doc) = current(app).await?;
    let users = app
        .client
        .get::<Vec<UserEntry>>("/v1/users")
        .await
        .map_err(|e| e.to_string())?;
    let (form, place) = pptp::read(&doc);
    let mut plan = match &pending.conf {
        Some(conf) => plan_settings(&form, conf),
        None => Plan::default(),
    };
    let mut new_toml = None;
    let mut after = doc.config().clone();
    if let Some(f) = &plan.form {
        let mut edit = show
            .toml
            .parse::<DocumentMut>()
            .map_err(|e| format!("the current configuration cannot be edited: {e}"))?;
        pptp::write(&mut edit, &place, f)?;
        let text = edit.to_string();
        if let Ok(d) = Document::parse("import", text.clone()) {
            after = d.config().clone();
        }
        new_toml = Some(text);
    }
    plan.users = plan_users(&pending.secrets, &users, Some(&after));
    Ok((plan, new_toml, show.version))
}

async fn read_upload(
    multipart: &mut Multipart,
    errors: &mut FieldErrors,
) -> (Option<String>, Option<String>) {
    let mut secrets = None;
    let mut conf = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                if name != "chap_secrets" && name != "pptpd_conf" {
                    continue;
                }
                match field.bytes().await {
                    Ok(b) if b.is_empty() => {}
                    Ok(b) if b.len() > MAX_UPLOAD => errors.add(&name, "The file is too large."),
                    Ok(b) => match String::from_utf8(b.to_vec()) {
                        Ok(t) if name == "chap_secrets" => secrets = Some(t),
                        Ok(t) => conf = Some(t),
                        Err(_) => errors.add(&name, "Not a text (UTF-8) file."),
                    },
                    Err(e) => errors.add(&name, format!("Upload failed: {e}")),
                }
            }
            Ok(None) => break,
            Err(e) => {
                errors.add("", format!("Upload failed: {e}"));
                break;
            }
        }
    }
    (secrets, conf)
}

/// `POST /import?csrf=`: parses the uploaded files and shows the preview.
pub async fn upload(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    mut multipart: Multipart,
) -> Response {
    let mut errors = FieldErrors::default();
    let (secrets, conf) = read_upload(&mut multipart, &mut errors).await;
    if errors.is_empty() && secrets.is_none() && conf.is_none() {
        errors.add(
            "chap_secrets",
            "Choose a chap-secrets file, a pptpd.conf, or both.",
        );
    }
    if !errors.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(upload_page(&v, None, &errors)),
        )
            .into_response();
    }
    let pending = Pending {
        token: random_token(),
        at: Instant::now(),
        secrets: secrets
            .as_deref()
            .map(parse_chap_secrets)
            .unwrap_or_default(),
        conf: conf.as_deref().map(parse_pptpd_conf),
    };
    let (plan, _, _) = match make_plan(&app, &pending).await {
        Ok(p) => p,
        Err(e) => {
            errors.add("", e);
            return (
                StatusCode::BAD_GATEWAY,
                Html(upload_page(&v, None, &errors)),
            )
                .into_response();
        }
    };
    let token = pending.token.clone();
    let page = preview_page(&v, &token, &pending, &plan);
    with_pending(|map| {
        if map.len() >= MAX_PENDING
            && !map.contains_key(&v.id)
            && let Some(oldest) = map.iter().min_by_key(|(_, p)| p.at).map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(v.id.clone(), pending);
    });
    Html(page).into_response()
}

/// The apply form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct ApplyForm {
    #[serde(default)]
    token: String,
}

/// `POST /import/apply`: applies the previewed import: the PPTP settings first (checked,
/// applied, rolled back on failure), then each user's password and static address.
pub async fn apply(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Form(f): Form<ApplyForm>,
) -> Response {
    let pending = with_pending(|map| {
        let ok = map
            .get(&v.id)
            .is_some_and(|p| crate::auth::constant_time_eq(&p.token, &f.token));
        if ok { map.remove(&v.id) } else { None }
    });
    let Some(pending) = pending else {
        app.sessions().set_flash(
            &v.id,
            "That import expired or was applied already: upload the files again.".to_owned(),
        );
        return Redirect::to("/import").into_response();
    };
    let (plan, new_toml, base) = match make_plan(&app, &pending).await {
        Ok(p) => p,
        Err(e) => {
            let e = dialgate_routerd::api::client::ClientError::Http(e);
            return routerd_error(&v, "/users", &e);
        }
    };
    let mut report = Vec::new();
    if let Some(toml) = new_toml {
        match check_and_apply(&app, toml, "web UI: import from pptpd.conf", Some(base)).await {
            Ok(r) => report.push(format!(
                "PPTP settings applied as configuration version {}",
                r.version
            )),
            Err(e) => {
                let why = match e {
                    ApplyFailure::Invalid(issues) => issues
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                    ApplyFailure::Refused { error, .. } => error,
                    ApplyFailure::Unreachable(e) => e.to_string(),
                };
                app.sessions().set_flash(
                    &v.id,
                    format!("Import not applied: the PPTP settings were refused: {why}"),
                );
                return Redirect::to("/import").into_response();
            }
        }
    }
    let (mut created, mut changed, mut failed) = (0, 0, Vec::new());
    for (u, s) in plan.users.iter().zip(&pending.secrets.secrets) {
        if u.problem.is_some() || u.name != s.user {
            continue;
        }
        let path = format!("/v1/users/{}", encode_segment(&u.name));
        let set = app
            .client
            .call::<UserSet>(
                Method::PUT,
                &format!("{path}/password"),
                Some(&SetPasswordRequest {
                    password: s.secret.clone(),
                }),
            )
            .await;
        match set {
            Ok(r) if r.created => created += 1,
            Ok(_) => changed += 1,
            Err(e) => {
                failed.push(format!("{}: {e}", u.name));
                continue;
            }
        }
        if let Some(addr) = u.static_address {
            let attrs = match app.client.get::<UserAttrs>(&format!("{path}/attrs")).await {
                Ok(a) => UserAttrs {
                    static_address: Some(addr),
                    ..a
                },
                Err(e) => {
                    failed.push(format!("{}: {e}", u.name));
                    continue;
                }
            };
            if let Err(e) = app
                .client
                .call::<UserAttrs>(Method::PUT, &format!("{path}/attrs"), Some(&attrs))
                .await
            {
                failed.push(format!("{} (static address {addr}): {e}", u.name));
            }
        }
    }
    tracing::info!(ip = %v.ip, created, changed, failed = failed.len(), "pptpd import applied from the web UI");
    report.push(format!(
        "{created} users created, {changed} passwords replaced"
    ));
    let skipped = plan.users.iter().filter(|u| u.problem.is_some()).count();
    if skipped > 0 {
        report.push(format!("{skipped} skipped"));
    }
    if !failed.is_empty() {
        report.push(format!("failed: {}", failed.join("; ")));
    }
    app.sessions()
        .set_flash(&v.id, format!("Import applied: {}.", report.join(", ")));
    Redirect::to("/users").into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn form() -> PptpForm {
        PptpForm {
            link_name: "pptp-in".into(),
            role: "answer".into(),
            listen: "0.0.0.0:1723".into(),
            max_sessions: "1000".into(),
            max_connections_per_source: "16".into(),
            limits_max_sessions: "1000".into(),
            mschap_v2: Some("on".into()),
            ..PptpForm::default()
        }
    }

    #[test]
    fn pptpd_conf_becomes_pptp_settings_and_weak_options_stay_off() {
        let conf = parse_pptpd_conf(
            "localip 192.168.0.1\nremoteip 192.168.0.234-238,192.168.0.245\nlisten 203.0.113.5\n\
connections 50\nms-dns 192.168.0.1\nms-dns 192.168.0.2\nms-dns 192.168.0.3\n\
require-mppe-128\nmppe required,stateful\nrefuse-pap\nms-wins 192.168.0.4\n",
        );
        let plan = plan_settings(&form(), &conf);
        let f = plan.form.clone().unwrap();
        assert_eq!(f.listen, "203.0.113.5:1723");
        assert_eq!(f.pool_ranges, "192.168.0.234-192.168.0.238, 192.168.0.245");
        assert_eq!(f.pool_local, "192.168.0.1");
        assert_eq!(f.pool_dns, "192.168.0.1, 192.168.0.2");
        assert_eq!(f.max_sessions, "50");
        assert!(f.mppe_40.is_none() && f.mppe_stateful.is_none());
        assert!(pptp::validate(&f).is_empty(), "{:?}", pptp::validate(&f));
        let settings: Vec<&str> = plan.changes.iter().map(|c| c.setting).collect();
        assert_eq!(
            settings,
            [
                "listen",
                "pool ranges",
                "pool local address",
                "pool DNS",
                "calls at once"
            ]
        );
        let skipped: Vec<usize> = plan.conf_not_imported.iter().map(|s| s.0).collect();
        // The third DNS server; line 9 (its `required` is MPPE-128, required already, and
        // its 40, 56 and stateful are weak); WINS.
        assert_eq!(skipped, [7, 9, 9, 9, 9, 11]);
    }

    #[test]
    fn users_are_checked_against_names_addresses_and_the_pools() {
        let secrets = parse_chap_secrets(
            "alice * a 192.0.2.250\nbob * b 192.0.2.250\ncarol * c 192.168.0.235\n\
\"DOM\\\\bad\" * d\nerin * \"\"\nbig * x 192.0.2.9\n",
        );
        let config = Document::parse(
            "t",
            "[[pool]]\nname = \"p\"\nranges = [\"192.168.0.234-192.168.0.238\"]\n".to_owned(),
        )
        .unwrap();
        let existing = vec![UserEntry {
            name: "dave".into(),
            weak_cleartext_secret: false,
            sessions: 0,
            attrs: UserAttrs {
                static_address: Some("192.0.2.9".parse().unwrap()),
                ..UserAttrs::default()
            },
        }];
        let plan = plan_users(&secrets, &existing, Some(config.config()));
        let problems: Vec<(&str, bool)> = plan
            .iter()
            .map(|u| (u.name.as_str(), u.problem.is_some()))
            .collect();
        assert_eq!(
            problems,
            [
                ("alice", false),
                ("bob", true),
                ("carol", true),
                ("DOM\\bad", true),
                ("erin", true),
                ("big", true)
            ]
        );
        assert!(plan[1].problem.as_deref().unwrap().contains("alice"));
        assert!(plan[2].problem.as_deref().unwrap().contains("range"));
        assert!(plan[5].problem.as_deref().unwrap().contains("dave"));
    }
}
