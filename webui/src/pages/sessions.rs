//! Sessions: the live list (SSE), search, detail and kick.

use std::convert::Infallible;
use std::fmt::Write;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use dialgate_routerd::api::client::ClientError;
use dialgate_routerd::api::{Encryption, LogLine, SessionInfo, SessionRole, SessionState};
use futures_util::Stream;
use serde::Deserialize;

use crate::app::{Shared, Visitor, routerd_error};
use crate::html::{self, csrf_field, esc};

/// How often the live list is refreshed.
pub const REFRESH: Duration = Duration::from_secs(2);

/// The longest search text kept.
const MAX_QUERY: usize = 128;

/// `?q=` of the list and its events.
#[derive(Debug, Default, Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

impl Search {
    fn text(&self) -> String {
        self.q.trim().chars().take(MAX_QUERY).collect()
    }
}

fn encryption(e: Encryption) -> String {
    match e {
        Encryption::None => "none".to_owned(),
        Encryption::Mppe { bits, stateless } => {
            format!("MPPE-{bits}{}", if stateless { "" } else { " stateful" })
        }
    }
}

fn role(r: SessionRole) -> &'static str {
    match r {
        SessionRole::Terminate => "terminate",
        SessionRole::Relay => "relay",
    }
}

fn state(s: SessionState) -> &'static str {
    match s {
        SessionState::Establishing => "establishing",
        SessionState::Authenticating => "authenticating",
        SessionState::Network => "network",
        SessionState::Up => "up",
        SessionState::Closing => "closing",
    }
}

/// Whether a session matches the search text (user, link, peer, address or id).
pub fn matches(s: &SessionInfo, q: &str) -> bool {
    if q.is_empty() {
        return true;
    }
    let q = q.to_lowercase();
    let fields = [
        s.user.clone().unwrap_or_default(),
        s.link.clone(),
        s.peer.clone().unwrap_or_default(),
        s.ipv4.map(|a| a.to_string()).unwrap_or_default(),
        s.id.to_string(),
    ];
    fields.iter().any(|f| f.to_lowercase().contains(&q))
}

/// The table rows of `sessions` matching `q`, each with a kick form.
pub fn rows(sessions: &[SessionInfo], q: &str, csrf: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    for s in sessions.iter().filter(|s| matches(s, q)) {
        n += 1;
        let _ = write!(
            out,
            "<tr data-session=\"{id}\"><td data-label=\"ID\"><a href=\"/sessions/{id}\">{id}</a></td>\
<td data-label=\"User\">{user}</td><td data-label=\"Link\">{link}</td><td data-label=\"Role\">{role}</td>\
<td data-label=\"Peer\">{peer}</td><td data-label=\"Address\">{addr}</td><td data-label=\"Encryption\">{enc}</td>\
<td data-label=\"In / out\">{bin} / {bout}</td><td data-label=\"Uptime\">{up}</td><td data-label=\"State\">{st}</td>\
<td><form method=\"post\" action=\"/sessions/{id}/kick\" class=\"inline\">{csrf}\
<button type=\"submit\" class=\"danger\" aria-label=\"Kick session {id}\">Kick</button></form></td></tr>",
            id = s.id,
            user = esc(s.user.as_deref().unwrap_or("—")),
            link = esc(&s.link),
            role = role(s.role),
            peer = esc(s.peer.as_deref().unwrap_or("")),
            addr = s.ipv4.map(|a| a.to_string()).unwrap_or_default(),
            enc = encryption(s.encryption),
            bin = html::bytes(s.traffic.bytes_in),
            bout = html::bytes(s.traffic.bytes_out),
            up = html::duration(s.uptime_secs),
            st = state(s.state),
            csrf = csrf_field(csrf),
        );
    }
    if n == 0 {
        out.push_str("<tr><td colspan=\"11\">No session matches.</td></tr>");
    }
    out
}

/// `GET /sessions`.
pub async fn list(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Query(search): Query<Search>,
) -> Response {
    let sessions = match app.client.get::<Vec<SessionInfo>>("/v1/sessions").await {
        Ok(s) => s,
        Err(e) => return routerd_error(&v, "/sessions", &e),
    };
    let q = search.text();
    let flash = app.sessions().take_flash(&v.id);
    let events = format!("/sessions/events?q={}", encode_query(&q));
    let body = format!(
        "<form method=\"get\" action=\"/sessions\" class=\"card\" role=\"search\">\
<div class=\"field\"><label for=\"search-q\">Search (user, link, peer, address)</label>\
<input type=\"search\" id=\"search-q\" name=\"q\" value=\"{qv}\"></div>\
<button type=\"submit\">Search</button> <a href=\"/sessions\">Show all</a></form>\
<p>List: <span id=\"live-state\">as of loading</span> \
(<a href=\"/sessions?q={qe}\">reload</a>).</p>\
<div class=\"table-wrap\"><table class=\"responsive\"><thead><tr><th scope=\"col\">ID</th><th scope=\"col\">User</th>\
<th scope=\"col\">Link</th><th scope=\"col\">Role</th><th scope=\"col\">Peer</th><th scope=\"col\">Address</th>\
<th scope=\"col\">Encryption</th><th scope=\"col\">In / out</th><th scope=\"col\">Uptime</th><th scope=\"col\">State</th>\
<th scope=\"col\">Action</th></tr></thead>\
<tbody id=\"session-rows\" data-sse=\"{events}\">{rows}</tbody></table></div>",
        qv = esc(&q),
        qe = esc(&encode_query(&q)),
        events = esc(&events),
        rows = rows(&sessions, &q, &v.csrf),
    );
    Html(html::page(
        "Sessions",
        &v.chrome("/sessions", flash.as_deref()),
        &body,
    ))
    .into_response()
}

/// Percent-encodes a query value.
pub fn encode_query(s: &str) -> String {
    dialgate_routerd::api::client::encode_segment(s)
}

/// `GET /sessions/events?q=`: the live list's rows, an `update` event every [`REFRESH`],
/// until the browser goes away or the login ends.
pub async fn events(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Query(search): Query<Search>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let q = search.text();
    let stream = futures_util::stream::unfold((app, v, q, true), |(app, v, q, first)| async move {
        if !first {
            tokio::time::sleep(REFRESH).await;
        }
        if !app.sessions().is_authenticated(&v.id, Instant::now()) {
            return None;
        }
        let html = match app.client.get::<Vec<SessionInfo>>("/v1/sessions").await {
            Ok(list) => rows(&list, &q, &v.csrf),
            Err(e) => format!(
                "<tr><td colspan=\"11\">routerd did not answer: {}</td></tr>",
                esc(&e.to_string())
            ),
        };
        let event = Event::default().event("update").data(html);
        Some((Ok(event), (app, v, q, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// `GET /sessions/{id}`.
pub async fn detail(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path(id): Path<u64>,
) -> Response {
    let session_path = format!("/v1/sessions/{id}");
    let logs_path = format!("/v1/logs?session={id}&limit=50");
    let (session, logs) = tokio::join!(
        app.client.get::<SessionInfo>(&session_path),
        app.client.get::<Vec<LogLine>>(&logs_path),
    );
    let s = match session {
        Ok(s) => s,
        Err(ClientError::Api { status: 404, .. }) => {
            let body = format!(
                "<p>There is no session {id} (it may have ended). <a href=\"/sessions\">All sessions</a></p>"
            );
            return (
                StatusCode::NOT_FOUND,
                Html(html::page(
                    "No such session",
                    &v.chrome("/sessions", None),
                    &body,
                )),
            )
                .into_response();
        }
        Err(e) => return routerd_error(&v, "/sessions", &e),
    };
    let mut body = String::from("<dl class=\"kv card\">");
    let t = s.traffic;
    for (k, val) in [
        ("ID", s.id.to_string()),
        ("User", s.user.clone().unwrap_or_else(|| "—".into())),
        ("Link", s.link.clone()),
        ("Role", role(s.role).into()),
        ("Peer", s.peer.clone().unwrap_or_default()),
        (
            "IPv4 address",
            s.ipv4.map(|a| a.to_string()).unwrap_or_default(),
        ),
        (
            "IPv6 prefix",
            s.ipv6_prefix.map(|a| format!("{a}/64")).unwrap_or_default(),
        ),
        ("Encryption", encryption(s.encryption)),
        ("State", state(s.state).into()),
        ("Started", s.started.to_string()),
        ("Uptime", html::duration(s.uptime_secs)),
        (
            "Received",
            format!("{} ({} packets)", html::bytes(t.bytes_in), t.packets_in),
        ),
        (
            "Sent",
            format!("{} ({} packets)", html::bytes(t.bytes_out), t.packets_out),
        ),
    ] {
        let _ = write!(body, "<dt>{k}</dt><dd>{}</dd>", esc(&val));
    }
    body.push_str("</dl>");
    match s.captured {
        Some(n) => {
            let _ = write!(
                body,
                "<p><a href=\"/sessions/{id}/pcap\" id=\"pcap-link\" download=\"session-{id}.pcap\">\
Download the capture (pcap, {n} frames)</a> <small>The session's last PPP frames, both directions; \
passwords and CHAP responses are blanked.</small></p>"
            );
        }
        None => body.push_str(
            "<p><small>No capture: this session started while capture was off \
([limits] capture_packets).</small></p>",
        ),
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/sessions/{id}/kick\">{}<button type=\"submit\" class=\"danger\">Kick this session</button></form>\
<h2>Log</h2>",
        csrf_field(&v.csrf)
    );
    match logs {
        Ok(lines) if !lines.is_empty() => {
            body.push_str("<pre>");
            for l in lines {
                let _ = writeln!(
                    body,
                    "{} {} {}",
                    esc(&l.level),
                    esc(&l.target),
                    esc(&l.message)
                );
            }
            body.push_str("</pre>");
        }
        Ok(_) => body.push_str("<p>No log lines for this session.</p>"),
        Err(e) => {
            let _ = write!(body, "<p>Logs unavailable: {}</p>", esc(&e.to_string()));
        }
    }
    Html(html::page(
        &format!("Session {id}"),
        &v.chrome("/sessions", None),
        &body,
    ))
    .into_response()
}

/// `GET /sessions/{id}/pcap`: the session's capture as a pcap download (routerd's
/// `GET /v1/sessions/{id}/pcap`, passed through).
pub async fn pcap(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path(id): Path<u64>,
) -> Response {
    match app.client.session_pcap(id).await {
        Ok(bytes) => (
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    dialgate_routerd::api::capture::PCAP_CONTENT_TYPE.to_owned(),
                ),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"session-{id}.pcap\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(ClientError::Api { status: 404, body }) => (
            StatusCode::NOT_FOUND,
            Html(html::page(
                "No capture",
                &v.chrome("/sessions", None),
                &format!(
                    "<p>{} <a href=\"/sessions\">All sessions</a></p>",
                    esc(&body.error)
                ),
            )),
        )
            .into_response(),
        Err(e) => routerd_error(&v, "/sessions", &e),
    }
}

/// `POST /sessions/{id}/kick`: ends the session (teardown reason "admin").
pub async fn kick(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path(id): Path<u64>,
) -> Response {
    let r = app
        .client
        .call::<()>(Method::DELETE, &format!("/v1/sessions/{id}"), None::<&()>)
        .await;
    let message = match r {
        Ok(()) => {
            tracing::info!(ip = %v.ip, session = id, "session kicked from the web UI");
            format!("Session {id} ended.")
        }
        Err(ClientError::Api { status: 404, .. }) => format!("Session {id} had already ended."),
        Err(e) => format!("Could not end session {id}: {e}"),
    };
    app.sessions().set_flash(&v.id, message);
    Redirect::to("/sessions").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialgate_routerd::api::Traffic;

    fn session(id: u64, user: &str) -> Option<SessionInfo> {
        serde_json::from_value(serde_json::json!({
            "id": id, "user": user, "link": "pptp-in", "role": "terminate", "peer": "198.51.100.7",
            "ipv4": "192.0.2.5", "ipv6_prefix": null, "encryption": {"kind": "none"},
            "traffic": Traffic::default(), "started": "2026-11-25T00:00:00.000Z", "uptime_secs": 61, "state": "up"
        }))
        .ok()
    }

    #[test]
    fn search_and_rows_escape_and_filter() {
        let (Some(a), Some(b)) = (session(1, "alice"), session(2, "<b>ob")) else {
            panic!("session JSON");
        };
        let list = vec![a, b];
        let all = rows(&list, "", "tok");
        assert!(all.contains("data-session=\"1\"") && all.contains("data-session=\"2\""));
        assert!(all.contains("&lt;b&gt;ob") && !all.contains("<b>ob"));
        assert!(all.contains("name=\"csrf\" value=\"tok\""));
        let only = rows(&list, "ALI", "tok");
        assert!(only.contains("data-session=\"1\"") && !only.contains("data-session=\"2\""));
        assert!(rows(&list, "nobody", "tok").contains("No session matches"));
        assert!(matches(&list[0], "198.51.100"));
    }
}
