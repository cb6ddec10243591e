//! Plugins: version, ABI, kind, state, errors, restart.

use std::fmt::Write;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{Html, IntoResponse, Redirect, Response};
use dialgate_routerd::api::client::encode_segment;
use dialgate_routerd::api::{PluginInfo, PluginKind, PluginRestart};

use crate::app::{Shared, Visitor, routerd_error};
use crate::html::{self, csrf_field, esc};
use crate::pages::dashboard::state_badge;

/// `GET /plugins`.
pub async fn list(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    let plugins = match app.client.get::<Vec<PluginInfo>>("/v1/plugins").await {
        Ok(p) => p,
        Err(e) => return routerd_error(&v, "/plugins", &e),
    };
    let flash = app.sessions().take_flash(&v.id);
    let mut b = String::new();
    if plugins.is_empty() {
        b.push_str("<p>No plugin is configured. Links (PPTP, serial) are served by plugins; the PPTP page adds the PPTP plugin.</p>");
    } else {
        b.push_str(
            "<div class=\"table-wrap\"><table class=\"responsive\"><thead><tr><th scope=\"col\">Plugin</th>\
<th scope=\"col\">Kind</th><th scope=\"col\">Version</th><th scope=\"col\">ABI</th><th scope=\"col\">State</th>\
<th scope=\"col\">Sessions</th><th scope=\"col\">Restarts</th><th scope=\"col\">Problem</th><th scope=\"col\">Action</th></tr></thead><tbody>",
        );
        for p in &plugins {
            let kind = match p.kind {
                PluginKind::Link => "link",
                PluginKind::Lan => "LAN protocol",
                PluginKind::Unknown => "unknown",
            };
            let mut problem = String::new();
            if let Some(e) = p.error.as_deref().or(p.last_error.as_deref()) {
                problem.push_str(&esc(e));
            }
            if let Some(s) = p.next_restart_secs {
                let _ = write!(problem, " (next restart in {s} s)");
            }
            let _ = write!(
                b,
                "<tr data-plugin=\"{name}\"><td data-label=\"Plugin\">{name}<br><small>{file}</small></td>\
<td data-label=\"Kind\">{kind}</td><td data-label=\"Version\">{ver}</td><td data-label=\"ABI\">{abi}</td>\
<td data-label=\"State\">{state}</td><td data-label=\"Sessions\">{sessions}</td><td data-label=\"Restarts\">{restarts}</td>\
<td data-label=\"Problem\">{problem}</td><td><form method=\"post\" action=\"/plugins/{action}/restart\" class=\"inline\">{csrf}\
<button type=\"submit\" class=\"secondary\" aria-label=\"Restart plugin {name}\">Restart</button></form></td></tr>",
                name = esc(&p.name),
                file = esc(&p.file),
                ver = esc(p.version.as_deref().unwrap_or("—")),
                abi = esc(p.abi_version.as_deref().unwrap_or("—")),
                state = state_badge(p.state),
                sessions = p.sessions,
                restarts = p.restarts,
                action = esc(&encode_segment(&p.name)),
                csrf = csrf_field(&v.csrf),
            );
        }
        b.push_str("</tbody></table></div>");
    }
    Html(html::page(
        "Plugins",
        &v.chrome("/plugins", flash.as_deref()),
        &b,
    ))
    .into_response()
}

/// `POST /plugins/{name}/restart`.
pub async fn restart(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path(name): Path<String>,
) -> Response {
    let r = app
        .client
        .call::<PluginRestart>(
            Method::POST,
            &format!("/v1/plugins/{}/restart", encode_segment(&name)),
            None::<&()>,
        )
        .await;
    let message = match r {
        Ok(r) if r.restarted.is_empty() => format!("Plugin {name}: no instance to restart."),
        Ok(r) => format!("Plugin {name} restarted ({}).", r.restarted.join(", ")),
        Err(e) => format!("Plugin {name} not restarted: {e}"),
    };
    tracing::info!(ip = %v.ip, plugin = %name, "{message}");
    app.sessions().set_flash(&v.id, message);
    Redirect::to("/plugins").into_response()
}
