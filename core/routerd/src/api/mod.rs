//! The management API: a JSON API on a unix socket, served with axum, and its payloads.
//!
//! - [`control`]: the [`Control`] trait, the daemon's side of every operation, and the JSON
//!   types shared with `routerctl`.

pub mod control;

pub use control::{
    API_DOCUMENT_NAME, ApiError, ApiResult, ApplyRequest, ApplyResult, BoxFuture, CheckReport,
    CheckRequest, ConfigIssue, ConfigShow, Control, Encryption, ErrorBody, History,
    InterfaceStatus, LogLine, LogQuery, MetricsSnapshot, PluginInfo, PluginKind, PluginMetrics,
    PluginState, PluginSummary, SessionCounts, SessionId, SessionInfo, SessionRole, SessionState,
    SetPasswordRequest, Status, Traffic, UserEntry, UserSet, check_document, describe_diff,
};
