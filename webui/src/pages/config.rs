//! Configuration history with rollback and a line diff of two kept versions, and backup
//! download / restore upload.

use std::fmt::Write;

use axum::Extension;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use dialgate_routerd::api::{ApplyResult, ConfigShow, History};
use serde::Deserialize;

use super::diff::{DiffLine, line_diff};

use super::{ApplyFailure, check_and_apply};
use crate::app::{MAX_UPLOAD, Shared, Visitor, routerd_error};
use crate::html::{self, FieldErrors, csrf_field, esc};

/// `GET /config`: the kept versions, each with a rollback button, and the current document.
pub async fn history(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    let (history, current) = tokio::join!(
        app.client.get::<History>("/v1/config/history"),
        app.client.get::<ConfigShow>("/v1/config"),
    );
    let history = match history {
        Ok(h) => h,
        Err(e) => return routerd_error(&v, "/config", &e),
    };
    let flash = app.sessions().take_flash(&v.id);
    let mut b = String::from(
        "<p>Every change is validated, applied as a diff and kept here. Rolling back applies a \
kept version again, as a new version.</p><div class=\"table-wrap\"><table class=\"responsive\"><thead><tr>\
<th scope=\"col\">Version</th><th scope=\"col\">Time (UTC)</th><th scope=\"col\">Reason</th><th scope=\"col\">Action</th></tr></thead><tbody>",
    );
    for ver in history.versions.iter().rev() {
        let action = if ver.version == history.current {
            "<span class=\"badge ok\">current</span>".to_owned()
        } else {
            format!(
                "<form method=\"post\" action=\"/config/rollback/{n}\" class=\"inline\">{}\
<button type=\"submit\" class=\"secondary\" aria-label=\"Roll back to version {n}\">Roll back to {n}</button></form>",
                csrf_field(&v.csrf),
                n = ver.version
            )
        };
        let _ = write!(
            b,
            "<tr data-version=\"{n}\"><td data-label=\"Version\">{n}</td><td data-label=\"Time\">{t}</td>\
<td data-label=\"Reason\">{r}</td><td>{action}</td></tr>",
            n = ver.version,
            t = esc(&ver.time.to_string()),
            r = esc(&ver.reason),
        );
    }
    b.push_str("</tbody></table></div>");
    b.push_str(&diff_form(&v, &history, None, None));
    if let Ok(c) = current {
        let _ = write!(
            b,
            "<h2>Current configuration (version {})</h2><pre>{}</pre>",
            c.version,
            esc(&c.toml)
        );
    }
    Html(html::page(
        "Configuration history",
        &v.chrome("/config", flash.as_deref()),
        &b,
    ))
    .into_response()
}

/// `POST /config/rollback/{version}`.
pub async fn rollback(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path(version): Path<u64>,
) -> Response {
    let r = app
        .client
        .call::<ApplyResult>(
            Method::POST,
            &format!("/v1/config/rollback/{version}"),
            None::<&()>,
        )
        .await;
    let message = match r {
        Ok(r) => {
            tracing::info!(ip = %v.ip, from = version, to = r.version, "rollback from the web UI");
            format!("Version {version} applied again as version {}.", r.version)
        }
        Err(e) => format!("Rollback to version {version} failed: {e}"),
    };
    app.sessions().set_flash(&v.id, message);
    Redirect::to("/config").into_response()
}

fn backup_page(v: &Visitor, flash: Option<&str>, errors: &FieldErrors) -> String {
    let file_error = errors
        .get("file")
        .map(|e| {
            format!(
                "<pre class=\"field-error\" id=\"restore-file-error\">{}</pre>",
                esc(e)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h2>Download</h2><p>The current configuration as a TOML file. User passwords are not \
in it (routerd never hands out its password hashes).</p>\
<p><a href=\"/backup/download\" download>Download the configuration</a></p>\
<h2>Restore</h2><p>Upload a configuration file saved before. It is checked first, then applied \
as a new version (the current one stays in the history for rollback).</p>{}\
<form method=\"post\" action=\"/backup/restore?csrf={csrf}\" enctype=\"multipart/form-data\" class=\"card\" id=\"restore-form\">\
{field}<div class=\"field\"><label for=\"restore-file\">Configuration file</label>\
<input type=\"file\" id=\"restore-file\" name=\"file\" accept=\".toml,text/plain\" required{invalid}>{file_error}</div>\
<button type=\"submit\">Check and restore</button></form>",
        errors.summary(),
        csrf = esc(&v.csrf),
        field = csrf_field(&v.csrf),
        invalid = if file_error.is_empty() {
            ""
        } else {
            " aria-invalid=\"true\" aria-describedby=\"restore-file-error\""
        },
    );
    html::page("Backup and restore", &v.chrome("/backup", flash), &body)
}

/// `GET /backup`.
pub async fn backup(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    let flash = app.sessions().take_flash(&v.id);
    Html(backup_page(&v, flash.as_deref(), &FieldErrors::default())).into_response()
}

/// `GET /backup/download`: the current document as an attachment.
pub async fn download(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    match app.client.get::<ConfigShow>("/v1/config").await {
        Ok(c) => (
            [
                (
                    header::CONTENT_TYPE,
                    "application/toml; charset=utf-8".to_owned(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"dialgate-config-v{}.toml\"",
                        c.version
                    ),
                ),
            ],
            c.toml,
        )
            .into_response(),
        Err(e) => routerd_error(&v, "/backup", &e),
    }
}

/// `POST /backup/restore?csrf=`: checks an uploaded document and applies it.
pub async fn restore(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    mut multipart: Multipart,
) -> Response {
    let mut errors = FieldErrors::default();
    let fail = |errors: &FieldErrors| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(backup_page(&v, None, errors)),
        )
            .into_response()
    };
    let mut text = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => match field.bytes().await {
                Ok(b) if b.len() > MAX_UPLOAD => {
                    errors.add("file", "The file is too large.");
                    return fail(&errors);
                }
                Ok(b) => match String::from_utf8(b.to_vec()) {
                    Ok(t) => text = Some(t),
                    Err(_) => {
                        errors.add("file", "Not a text (UTF-8) file.");
                        return fail(&errors);
                    }
                },
                Err(e) => {
                    errors.add("file", format!("Upload failed: {e}"));
                    return fail(&errors);
                }
            },
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => {
                errors.add("file", format!("Upload failed: {e}"));
                return fail(&errors);
            }
        }
    }
    let Some(toml) = text.filter(|t| !t.trim().is_empty()) else {
        errors.add("file", "Choose a configuration file.");
        return fail(&errors);
    };
    match check_and_apply(&app, toml, "web UI: restore from backup", None).await {
        Ok(r) => {
            tracing::info!(ip = %v.ip, version = r.version, "backup restored from the web UI");
            app.sessions().set_flash(
                &v.id,
                format!("Backup restored as configuration version {}.", r.version),
            );
            Redirect::to("/config").into_response()
        }
        Err(ApplyFailure::Invalid(issues)) => {
            let lines: Vec<String> = issues.iter().map(ToString::to_string).collect();
            errors.add(
                "file",
                format!(
                    "The file is not a valid configuration:\n{}",
                    lines.join("\n")
                ),
            );
            fail(&errors)
        }
        Err(ApplyFailure::Refused { error, .. }) => {
            errors.add("file", format!("routerd refused it (rolled back): {error}"));
            fail(&errors)
        }
        Err(ApplyFailure::Unreachable(e)) => {
            errors.add("", e.to_string());
            fail(&errors)
        }
    }
}

/// The "compare two versions" form (a GET form: it changes nothing).
fn diff_form(v: &Visitor, history: &History, from: Option<u64>, to: Option<u64>) -> String {
    let _ = v;
    let versions: Vec<u64> = history.versions.iter().map(|x| x.version).rev().collect();
    let from = from
        .or_else(|| versions.get(1).copied())
        .unwrap_or(history.current);
    let to = to.unwrap_or(history.current);
    let options = |selected: u64| {
        let mut o = String::new();
        for n in &versions {
            let sel = if *n == selected { " selected" } else { "" };
            let _ = write!(o, "<option value=\"{n}\"{sel}>version {n}</option>");
        }
        o
    };
    format!(
        "<h2>Compare two versions</h2><form method=\"get\" action=\"/config/diff\" class=\"card inline\" id=\"diff-form\">\
<div class=\"field\"><label for=\"diff-from\">Older version</label><select id=\"diff-from\" name=\"from\">{}</select></div>\
<div class=\"field\"><label for=\"diff-to\">Newer version</label><select id=\"diff-to\" name=\"to\">{}</select></div>\
<button type=\"submit\">Show the differences</button></form>",
        options(from),
        options(to)
    )
}

/// `GET /config/diff` query.
#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: u64,
    to: u64,
}

/// `GET /config/diff?from=N&to=M`: the line diff of two kept versions.
pub async fn diff(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Query(q): Query<DiffQuery>,
) -> Response {
    let history = match app.client.get::<History>("/v1/config/history").await {
        Ok(h) => h,
        Err(e) => return routerd_error(&v, "/config", &e),
    };
    let (from_path, to_path) = (
        format!("/v1/config/versions/{}", q.from),
        format!("/v1/config/versions/{}", q.to),
    );
    let (old, new) = tokio::join!(
        app.client.get::<ConfigShow>(&from_path),
        app.client.get::<ConfigShow>(&to_path),
    );
    let mut b = format!(
        "<p><a href=\"/config\">Configuration history</a></p>{}",
        diff_form(&v, &history, Some(q.from), Some(q.to))
    );
    match (old, new) {
        (Ok(old), Ok(new)) => {
            let _ = write!(
                b,
                "<h2>From version {} to version {}</h2>",
                old.version, new.version
            );
            match line_diff(&old.toml, &new.toml) {
                Some(lines) if lines.iter().all(|l| matches!(l, DiffLine::Same(_))) => {
                    b.push_str("<p id=\"diff-none\">The two versions are the same.</p>");
                }
                Some(lines) => {
                    let (mut added, mut removed) = (0, 0);
                    let mut pre = String::new();
                    for l in &lines {
                        let (class, mark, text) = match l {
                            DiffLine::Same(t) => ("same", ' ', t),
                            DiffLine::Added(t) => {
                                added += 1;
                                ("added", '+', t)
                            }
                            DiffLine::Removed(t) => {
                                removed += 1;
                                ("removed", '-', t)
                            }
                        };
                        let _ = writeln!(
                            pre,
                            "<span class=\"diff-{class}\">{mark} {}</span>",
                            esc(text)
                        );
                    }
                    let _ = write!(
                        b,
                        "<p>{added} lines added (+), {removed} removed (-).</p>\
<pre class=\"diff\" id=\"diff\" aria-label=\"Line differences\">{pre}</pre>"
                    );
                }
                None => b.push_str(
                    "<p>The versions differ in too many lines to compare them line by line.</p>",
                ),
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            let _ = write!(
                b,
                "<div class=\"error-summary\" role=\"alert\"><p>{}</p></div>",
                esc(&e.to_string())
            );
        }
    }
    Html(html::page(
        "Configuration differences",
        &v.chrome("/config", None),
        &b,
    ))
    .into_response()
}
