//! Recent structured log lines for `GET /v1/logs`: a `tracing` layer that keeps the last N
//! events in memory.
//!
//! Sessions log inside a span carrying the session id in a field named [`SESSION_FIELD`]:
//!
//! ```
//! let span = tracing::info_span!("session", session = 42u64);
//! let _enter = span.enter();
//! tracing::info!(user = "alice", "authenticated");
//! ```
//!
//! Every event in that span (and its children) is recorded with `session: Some(42)`, and
//! [`LogRing::query`] filters on it. A span *named* `session` may carry the id in a field
//! named `id` instead (`info_span!("session", id, link = %name)`). Memory is bounded: the ring holds at most its capacity
//! of lines, each message at most [`MAX_MESSAGE`] bytes and at most [`MAX_FIELDS`] fields of
//! at most [`MAX_FIELD_VALUE`] bytes each.

use core::fmt;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::control::{LogLine, LogQuery, SessionId};
use crate::time::Timestamp;

/// The span field that carries a session id.
pub const SESSION_FIELD: &str = "session";

/// The longest message kept (longer ones are cut at a character boundary, with `…`).
pub const MAX_MESSAGE: usize = 2048;

/// The longest field value kept.
pub const MAX_FIELD_VALUE: usize = 256;

/// The most fields kept per line.
pub const MAX_FIELDS: usize = 32;

/// The default capacity of [`LogRing::default`].
pub const DEFAULT_CAPACITY: usize = 4096;

/// The last N log lines; cheap to clone (a shared handle).
#[derive(Debug, Clone)]
pub struct LogRing {
    inner: Arc<Mutex<VecDeque<LogLine>>>,
    capacity: usize,
}

impl Default for LogRing {
    fn default() -> Self {
        LogRing::new(DEFAULT_CAPACITY)
    }
}

impl LogRing {
    /// A ring keeping the last `capacity` lines (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        LogRing {
            inner: Arc::new(Mutex::new(VecDeque::with_capacity(capacity.min(1024)))),
            capacity,
        }
    }

    /// How many lines it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<LogLine>> {
        // A panic while holding the lock leaves a consistent deque (push/pop only).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a line, dropping the oldest when full.
    pub fn push(&self, line: LogLine) {
        let mut ring = self.lock();
        while ring.len() >= self.capacity {
            ring.pop_front();
        }
        ring.push_back(line);
    }

    /// The newest `query.limit` lines (all when `None`) of `query.session` (every line when
    /// `None`), oldest first.
    pub fn query(&self, query: &LogQuery) -> Vec<LogLine> {
        let ring = self.lock();
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut out: Vec<LogLine> = ring
            .iter()
            .rev()
            .filter(|l| query.session.is_none() || l.session == query.session)
            .take(limit)
            .cloned()
            .collect();
        out.reverse();
        out
    }

    /// The `tracing` layer that records into this ring.
    pub fn layer(&self) -> RingLayer {
        RingLayer { ring: self.clone() }
    }
}

/// A `tracing_subscriber` layer recording events into a [`LogRing`].
#[derive(Debug, Clone)]
pub struct RingLayer {
    ring: LogRing,
}

/// The fields a span recorded, kept in its extensions.
#[derive(Debug, Default)]
struct SpanFields {
    session: Option<SessionId>,
    fields: Vec<(String, String)>,
}

/// Collects fields with bounded sizes.
#[derive(Debug, Default)]
struct Collect {
    message: Option<String>,
    session: Option<SessionId>,
    fields: Vec<(String, String)>,
    /// Collecting a span named `session`: its `id` field is the session id.
    session_span: bool,
}

impl Collect {
    fn is_session_field(&self, field: &Field) -> bool {
        field.name() == SESSION_FIELD || (self.session_span && field.name() == "id")
    }
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

impl Collect {
    fn put(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = Some(cut(value, MAX_MESSAGE)),
            name => {
                let value = cut(value, MAX_FIELD_VALUE);
                if let Some(slot) = self.fields.iter_mut().find(|(k, _)| k == name) {
                    slot.1 = value;
                } else if self.fields.len() < MAX_FIELDS {
                    self.fields.push((name.to_owned(), value));
                }
            }
        }
    }
}

impl Visit for Collect {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.is_session_field(field) {
            self.session = Some(value);
        } else {
            self.put(field, value.to_string());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        match (self.is_session_field(field), u64::try_from(value)) {
            (true, Ok(id)) => self.session = Some(id),
            _ => self.put(field, value.to_string()),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match (self.is_session_field(field), value.parse::<u64>()) {
            (true, Ok(id)) => self.session = Some(id),
            _ => self.put(field, value.chars().take(MAX_MESSAGE + 1).collect()),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Room for one more character than kept, so a cut value is longer than MAX_MESSAGE
        // and gets its `…`.
        let mut s = String::new();
        let _ = fmt::write(
            &mut Bounded(&mut s, MAX_MESSAGE + 4),
            format_args!("{value:?}"),
        );
        self.record_str(field, &s);
    }
}

/// A writer that stops storing after `.1` bytes (so a huge `Debug` value costs no memory).
struct Bounded<'a>(&'a mut String, usize);

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.1.saturating_sub(self.0.len());
        if room >= s.len() {
            self.0.push_str(s);
        } else {
            let mut end = room;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.0.push_str(&s[..end]);
        }
        Ok(())
    }
}

impl<S> tracing_subscriber::Layer<S> for RingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut c = Collect {
            session_span: attrs.metadata().name() == SESSION_FIELD,
            ..Collect::default()
        };
        attrs.record(&mut c);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields {
                session: c.session,
                fields: c.fields,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        let Some(fields) = ext.get_mut::<SpanFields>() else {
            return;
        };
        let mut c = Collect {
            message: None,
            session: fields.session,
            fields: core::mem::take(&mut fields.fields),
            session_span: span.name() == SESSION_FIELD,
        };
        values.record(&mut c);
        fields.session = c.session;
        fields.fields = c.fields;
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut c = Collect::default();
        event.record(&mut c);
        let mut session = c.session;
        let mut fields: BTreeMap<String, String> = c.fields.into_iter().collect();
        // Innermost span first: the nearest session id and field values win.
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                let ext = span.extensions();
                if let Some(sf) = ext.get::<SpanFields>() {
                    if session.is_none() {
                        session = sf.session;
                    }
                    for (k, v) in &sf.fields {
                        if fields.len() >= MAX_FIELDS {
                            break;
                        }
                        fields.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
        let meta = event.metadata();
        self.ring.push(LogLine {
            time: Timestamp::now(),
            level: meta.level().to_string(),
            target: meta.target().to_owned(),
            message: c.message.unwrap_or_default(),
            session,
            fields,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn with_ring<R>(capacity: usize, f: impl FnOnce() -> R) -> (LogRing, R) {
        let ring = LogRing::new(capacity);
        let subscriber = tracing_subscriber::registry().with(ring.layer());
        let r = tracing::subscriber::with_default(subscriber, f);
        (ring, r)
    }

    #[test]
    fn events_carry_the_session_of_their_span() {
        let (ring, ()) = with_ring(100, || {
            tracing::info!("daemon started");
            let s7 = tracing::info_span!("session", session = 7u64, link = "serial0");
            s7.in_scope(|| {
                tracing::info!(user = "alice", "authenticated");
                let inner = tracing::debug_span!("ipcp");
                inner.in_scope(|| tracing::warn!(peer = %"10.0.0.2", "address assigned"));
            });
            let s8 = tracing::info_span!("session", session = 8u64);
            s8.in_scope(|| tracing::error!("peer vanished"));
        });
        let all = ring.query(&LogQuery::default());
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].session, None);
        assert_eq!(all[0].message, "daemon started");
        assert_eq!(all[1].session, Some(7));
        assert_eq!(all[1].fields.get("user").map(|s| &s[..]), Some("alice"));
        assert_eq!(all[1].fields.get("link").map(|s| &s[..]), Some("serial0"));
        assert_eq!(all[2].session, Some(7));
        assert_eq!(all[2].level, "WARN");
        assert_eq!(all[2].fields.get("peer").map(|s| &s[..]), Some("10.0.0.2"));
        assert_eq!(all[3].session, Some(8));

        let q = |session, limit| {
            ring.query(&LogQuery { session, limit })
                .into_iter()
                .map(|l| l.message)
                .collect::<Vec<_>>()
        };
        assert_eq!(q(Some(7), None), ["authenticated", "address assigned"]);
        assert_eq!(q(Some(7), Some(1)), ["address assigned"]);
        assert_eq!(q(None, Some(2)), ["address assigned", "peer vanished"]);
        assert!(q(Some(9), None).is_empty());
    }

    #[test]
    fn a_span_named_session_carries_its_id() {
        let (ring, ()) = with_ring(10, || {
            let id = 12u64;
            let span = tracing::info_span!("session", id, link = %"serial0");
            span.in_scope(|| tracing::info!(id = 99u64, "lcp opened"));
            let other = tracing::info_span!("plugin", id = 5u64);
            other.in_scope(|| tracing::info!("not a session"));
        });
        let lines = ring.query(&LogQuery::default());
        assert_eq!(lines[0].session, Some(12));
        // An event's own `id` is just a field.
        assert_eq!(lines[0].fields.get("id").map(|s| &s[..]), Some("99"));
        assert_eq!(lines[1].session, None);
        assert_eq!(lines[1].fields.get("id").map(|s| &s[..]), Some("5"));
    }

    #[test]
    fn a_session_recorded_later_counts() {
        let (ring, ()) = with_ring(10, || {
            let span = tracing::info_span!("call", session = tracing::field::Empty);
            span.in_scope(|| tracing::info!("before"));
            span.record(SESSION_FIELD, 3u64);
            span.in_scope(|| tracing::info!("after"));
        });
        let lines = ring.query(&LogQuery::default());
        assert_eq!(lines[0].session, None);
        assert_eq!(lines[1].session, Some(3));
    }

    #[test]
    fn bounded_lines_and_sizes() {
        let (ring, ()) = with_ring(3, || {
            for i in 0..10u32 {
                tracing::info!(i, "line {i}");
            }
            let huge = "é".repeat(MAX_MESSAGE);
            tracing::info!(big = %huge, "{huge}");
            let many = vec![0u8; 100_000];
            tracing::info!(bytes = ?many, "debug value");
        });
        let lines = ring.query(&LogQuery::default());
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].message, "line 9");
        assert!(lines[1].message.len() <= MAX_MESSAGE + '…'.len_utf8());
        assert!(lines[1].message.ends_with('…'));
        let big = lines[1].fields.get("big").map(String::len).unwrap_or(0);
        assert!(big > 0 && big <= MAX_FIELD_VALUE + '…'.len_utf8(), "{big}");
        let bytes = lines[2].fields.get("bytes").map(String::len).unwrap_or(0);
        assert!(
            bytes > 0 && bytes <= MAX_FIELD_VALUE + '…'.len_utf8(),
            "{bytes}"
        );
    }
}
