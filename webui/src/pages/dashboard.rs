//! The dashboard: sessions now, authentication failures, the throughput graph of the last
//! hour with CPU and memory (live over SSE), plugin health, interfaces.

use std::convert::Infallible;
use std::fmt::Write;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use dialgate_routerd::api::client::Client;
use dialgate_routerd::api::{PluginInfo, PluginState, Status};
use futures_util::Stream;

use super::graph;
use crate::app::{Shared, Visitor, routerd_error};
use crate::html::{self, esc};

/// How often the graph and host card are sent again (routerd samples every 10 s).
pub const REFRESH: Duration = Duration::from_secs(10);

/// The graph card and the host card (the contents of `#traffic`, also each SSE update).
async fn traffic_cards(c: &Client) -> String {
    match c.stats_history().await {
        Ok(h) => format!(
            "<div class=\"card wide\" id=\"throughput-card\">{}</div><div class=\"card stat\" id=\"host-card\">{}</div>",
            graph::throughput(&h),
            graph::host(&h)
        ),
        Err(e) => format!(
            "<div class=\"card wide\"><h2>Throughput, last hour</h2><p>routerd gave no statistics: {}</p></div>",
            esc(&e.to_string())
        ),
    }
}

/// `GET /dashboard/events`: the graph and host cards again every [`REFRESH`], until the
/// browser goes away or the login ends.
pub async fn events(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold((app, v), |(app, v)| async move {
        tokio::time::sleep(REFRESH).await;
        if !app.sessions().is_authenticated(&v.id, Instant::now()) {
            return None;
        }
        let html = traffic_cards(&app.client).await;
        Some((Ok(Event::default().event("update").data(html)), (app, v)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A plugin state as a badge.
pub fn state_badge(state: PluginState) -> String {
    let class = match state {
        PluginState::Running => "ok",
        PluginState::Disabled => "muted",
        PluginState::Restarting => "warn",
        PluginState::Failed => "bad",
    };
    format!("<span class=\"badge {class}\">{state}</span>")
}

/// `GET /dashboard`.
pub async fn show(State(app): State<Shared>, Extension(v): Extension<Visitor>) -> Response {
    let c = &app.client;
    let (status, plugins, failures, traffic) = tokio::join!(
        c.get::<Status>("/v1/status"),
        c.get::<Vec<PluginInfo>>("/v1/plugins"),
        auth_failures(c),
        traffic_cards(c),
    );
    let status = match status {
        Ok(s) => s,
        Err(e) => return routerd_error(&v, "/dashboard", &e),
    };
    let flash = app.sessions().take_flash(&v.id);
    let mut body = String::new();
    let s = status.sessions;
    let _ = write!(
        body,
        "<section class=\"cards\" aria-label=\"Summary\">\
<div class=\"card stat\"><h2>Sessions now</h2><p class=\"big\" id=\"sessions-total\">{}</p>\
<p>{} up · {} terminated · {} relayed</p><p><a href=\"/sessions\">Show sessions</a></p></div>",
        s.total, s.up, s.terminate, s.relay
    );
    match &failures {
        Some((total, lockouts, by_reason)) => {
            let _ = write!(
                body,
                "<div class=\"card stat\"><h2>Authentication failures</h2><p class=\"big\" id=\"auth-failures\">{total}</p><p>{lockouts} source lockouts</p>"
            );
            if !by_reason.is_empty() {
                body.push_str("<ul>");
                for (reason, n) in by_reason {
                    let _ = write!(body, "<li>{}: {n}</li>", esc(reason));
                }
                body.push_str("</ul>");
            }
            body.push_str("</div>");
        }
        None => body.push_str(
            "<div class=\"card stat\"><h2>Authentication failures</h2><p>not available</p></div>",
        ),
    }
    let _ = write!(
        body,
        "<div class=\"card stat\"><h2>routerd</h2><p>version {}</p><p>up {}</p><p>configuration version {}</p></div></section>",
        esc(&status.version),
        html::duration(status.uptime_secs),
        status.config_version
    );
    let _ = write!(
        body,
        "<section class=\"cards\" id=\"traffic\" aria-label=\"Traffic, CPU and memory\" data-sse=\"/dashboard/events\">{traffic}</section>"
    );

    body.push_str("<h2>Plugins</h2>");
    match plugins {
        Ok(list) if list.is_empty() => body.push_str("<p>No plugin is configured.</p>"),
        Ok(list) => {
            body.push_str("<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Plugin</th><th scope=\"col\">State</th><th scope=\"col\">Sessions</th><th scope=\"col\">Problem</th></tr></thead><tbody>");
            for p in list {
                let problem = p.error.as_deref().or(p.last_error.as_deref()).unwrap_or("");
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&p.name),
                    state_badge(p.state),
                    p.sessions,
                    esc(problem)
                );
            }
            body.push_str("</tbody></table></div>");
        }
        Err(e) => {
            let _ = write!(body, "<p class=\"field-error\">{}</p>", esc(&e.to_string()));
        }
    }

    body.push_str("<h2>Interfaces</h2>");
    if status.interfaces.is_empty() {
        body.push_str("<p>None (routerd runs without a data plane).</p>");
    } else {
        body.push_str("<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Interface</th><th scope=\"col\">Role</th><th scope=\"col\">State</th><th scope=\"col\">MTU</th></tr></thead><tbody>");
        for i in &status.interfaces {
            let state = match (&i.error, i.up) {
                (Some(e), _) => format!("<span class=\"badge bad\">error</span> {}", esc(e)),
                (None, true) => "<span class=\"badge ok\">up</span>".to_owned(),
                (None, false) => "<span class=\"badge warn\">down</span>".to_owned(),
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{state}</td><td>{}</td></tr>",
                esc(&i.name),
                esc(&i.role),
                i.mtu.map(|m| m.to_string()).unwrap_or_default()
            );
        }
        body.push_str("</tbody></table></div>");
    }
    Html(html::page(
        "Dashboard",
        &v.chrome("/dashboard", flash.as_deref()),
        &body,
    ))
    .into_response()
}

/// Authentication failures from `/metrics`: total, lockouts, per reason.
async fn auth_failures(
    c: &dialgate_routerd::api::client::Client,
) -> Option<(u64, u64, Vec<(String, u64)>)> {
    let text = c.get_text("/metrics").await.ok()?;
    Some(parse_auth_failures(&text))
}

/// Reads `dialgate_auth_failures_total{reason="..."} N` and `dialgate_auth_lockouts_total N`
/// from the Prometheus text.
pub fn parse_auth_failures(text: &str) -> (u64, u64, Vec<(String, u64)>) {
    let mut total = 0u64;
    let mut lockouts = 0u64;
    let mut by_reason = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<u64>() else {
            continue;
        };
        if let Some(rest) = name.strip_prefix("dialgate_auth_failures_total") {
            total = total.saturating_add(value);
            let reason = rest
                .split_once("reason=\"")
                .and_then(|(_, r)| r.split_once('"'))
                .map_or("", |(r, _)| r);
            if !reason.is_empty() {
                by_reason.push((reason.to_owned(), value));
            }
        } else if name.starts_with("dialgate_auth_lockouts") {
            lockouts = value;
        }
    }
    (total, lockouts, by_reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_failures_from_prometheus_text() {
        let text = "# HELP x\ndialgate_auth_failures_total{reason=\"bad-password\"} 3\n\
dialgate_auth_failures_total{reason=\"no-user\"} 2\ndialgate_auth_lockouts_total 1\n";
        let (total, lockouts, by) = parse_auth_failures(text);
        assert_eq!((total, lockouts), (5, 1));
        assert_eq!(
            by,
            vec![("bad-password".to_owned(), 3), ("no-user".to_owned(), 2)]
        );
    }
}
