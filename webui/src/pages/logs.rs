//! Logs: routerd's recent log lines with a filter (level, text, session) and a live tail
//! over SSE.

use std::convert::Infallible;
use std::fmt::Write;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use dialgate_routerd::api::LogLine;
use futures_util::Stream;
use serde::Deserialize;

use crate::app::{Shared, Visitor, routerd_error};
use crate::html::{self, esc};
use crate::pages::sessions::encode_query;

/// How many lines are asked from routerd.
pub const LINES: usize = 500;

/// How often the live tail is refreshed.
pub const REFRESH: Duration = Duration::from_secs(2);

/// The filter.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filter {
    /// Lowest level shown: error, warn, info, debug (default), trace.
    #[serde(default)]
    level: String,
    /// Text the message, target or fields contain.
    #[serde(default)]
    q: String,
    /// Only this session's lines.
    #[serde(default)]
    session: String,
}

fn rank(level: &str) -> u8 {
    match level.to_ascii_uppercase().as_str() {
        "ERROR" => 0,
        "WARN" => 1,
        "INFO" => 2,
        "DEBUG" => 3,
        _ => 4,
    }
}

impl Filter {
    fn session(&self) -> Option<u64> {
        self.session.trim().parse().ok()
    }

    fn level(&self) -> &str {
        match self.level.as_str() {
            "error" | "warn" | "info" | "debug" | "trace" => &self.level,
            _ => "trace",
        }
    }

    fn text(&self) -> String {
        self.q
            .trim()
            .chars()
            .take(128)
            .collect::<String>()
            .to_lowercase()
    }

    fn path(&self) -> String {
        let mut p = format!("/v1/logs?limit={LINES}");
        if let Some(s) = self.session() {
            let _ = write!(p, "&session={s}");
        }
        p
    }

    fn query(&self) -> String {
        format!(
            "level={}&q={}&session={}",
            self.level(),
            encode_query(self.q.trim()),
            self.session().map(|s| s.to_string()).unwrap_or_default()
        )
    }

    /// Whether a line passes the level and text filter.
    pub fn keeps(&self, l: &LogLine) -> bool {
        if rank(&l.level) > rank(self.level()) {
            return false;
        }
        let q = self.text();
        q.is_empty()
            || l.message.to_lowercase().contains(&q)
            || l.target.to_lowercase().contains(&q)
            || l.fields.values().any(|v| v.to_lowercase().contains(&q))
    }
}

/// The rows of the lines that pass the filter, oldest first.
pub fn rows(lines: &[LogLine], f: &Filter) -> String {
    let mut out = String::new();
    for l in lines.iter().filter(|l| f.keeps(l)) {
        let fields: Vec<String> = l.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = write!(
            out,
            "<tr><td data-label=\"Time\">{}</td><td data-label=\"Level\">{}</td><td data-label=\"Session\">{}</td>\
<td data-label=\"Message\">{}<br><small>{} {}</small></td></tr>",
            esc(&l.time.to_string()),
            esc(&l.level),
            l.session.map(|s| s.to_string()).unwrap_or_default(),
            esc(&l.message),
            esc(&l.target),
            esc(&fields.join(" ")),
        );
    }
    if out.is_empty() {
        out.push_str("<tr><td colspan=\"4\">No line matches.</td></tr>");
    }
    out
}

/// `GET /logs`.
pub async fn show(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Query(f): Query<Filter>,
) -> Response {
    let lines = match app.client.get::<Vec<LogLine>>(&f.path()).await {
        Ok(l) => l,
        Err(e) => return routerd_error(&v, "/logs", &e),
    };
    let levels: Vec<(String, String)> = ["error", "warn", "info", "debug", "trace"]
        .iter()
        .map(|l| ((*l).to_owned(), format!("{l} and more severe")))
        .collect();
    let none = html::FieldErrors::default();
    let body = format!(
        "<form method=\"get\" action=\"/logs\" class=\"card\" role=\"search\">{}{}{}\
<button type=\"submit\">Filter</button> <a href=\"/logs\">Clear</a></form>\
<p>Last {LINES} lines of routerd, oldest first. Tail: <span id=\"live-state\">as of loading</span>.</p>\
<div class=\"table-wrap\"><table class=\"responsive\"><thead><tr><th scope=\"col\">Time (UTC)</th>\
<th scope=\"col\">Level</th><th scope=\"col\">Session</th><th scope=\"col\">Message</th></tr></thead>\
<tbody id=\"log-rows\" data-sse=\"/logs/events?{}\">{}</tbody></table></div>",
        html::select("logs", "level", "Level", &levels, f.level(), &none),
        html::input("logs", "q", "Text", html::Kind::Text, f.q.trim(), "", &none),
        html::input(
            "logs",
            "session",
            "Session id",
            html::Kind::Number,
            f.session.trim(),
            "",
            &none
        ),
        esc(&f.query()),
        rows(&lines, &f),
    );
    Html(html::page("Logs", &v.chrome("/logs", None), &body)).into_response()
}

/// `GET /logs/events`: the filtered rows, an `update` event every [`REFRESH`].
pub async fn events(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Query(f): Query<Filter>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold((app, v, f, true), |(app, v, f, first)| async move {
        if !first {
            tokio::time::sleep(REFRESH).await;
        }
        if !app.sessions().is_authenticated(&v.id, Instant::now()) {
            return None;
        }
        let html = match app.client.get::<Vec<LogLine>>(&f.path()).await {
            Ok(lines) => rows(&lines, &f),
            Err(e) => format!(
                "<tr><td colspan=\"4\">routerd did not answer: {}</td></tr>",
                esc(&e.to_string())
            ),
        };
        Some((
            Ok(Event::default().event("update").data(html)),
            (app, v, f, false),
        ))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(level: &str, message: &str) -> Option<LogLine> {
        serde_json::from_value(serde_json::json!({
            "time": "2026-11-25T00:00:00.000Z", "level": level, "target": "routerd::session",
            "message": message, "session": 3, "fields": {"user": "alice"}
        }))
        .ok()
    }

    #[test]
    fn level_and_text_filter() {
        let (Some(a), Some(b)) = (line("INFO", "session up"), line("DEBUG", "<lcp> echo")) else {
            panic!("log line JSON");
        };
        let lines = vec![a, b];
        let all = Filter::default();
        let r = rows(&lines, &all);
        assert!(r.contains("session up") && r.contains("&lt;lcp&gt; echo"));
        let info = Filter {
            level: "info".into(),
            ..Filter::default()
        };
        assert!(!rows(&lines, &info).contains("echo"));
        let text = Filter {
            q: "ALICE".into(),
            ..Filter::default()
        };
        assert!(
            rows(&lines, &text).contains("session up"),
            "fields are searched"
        );
        let none = Filter {
            q: "nothing like it".into(),
            ..Filter::default()
        };
        assert!(rows(&lines, &none).contains("No line matches"));
        let s = Filter {
            session: " 7 ".into(),
            ..Filter::default()
        };
        assert_eq!(s.path(), format!("/v1/logs?limit={LINES}&session=7"));
    }
}
