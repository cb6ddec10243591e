//! The management API: a JSON API on a unix socket, served with axum, and its client.
//!
//! - [`control`]: the [`Control`] trait, the daemon's side of every operation, and the JSON
//!   types shared with `routerctl`.
//! - [`http`]: the routes ([`router`]), request checks and JSON errors.
//! - [`metrics`]: the Prometheus text exposition of a [`MetricsSnapshot`].
//! - [`server`]: the unix socket ([`server::bind_unix`], mode 0660) and serving;
//!   [`ManagementServer`] runs both listeners of a `[management]` section.
//! - [`client`]: the client `routerctl` uses.
//! - [`plugin_schema`]: a plugin's configuration form (plugin ABI 1.3) and the check of
//!   `[link.config]` against it.
//! - [`stats`]: the throughput history ring and the `/proc` readers behind
//!   `GET /v1/stats/history`.
//! - [`system`]: the box's interfaces, DNS servers and time; reboot.
//! - [`logs`]: the in-memory ring of recent log lines ([`logs::LogRing`]) and its `tracing`
//!   layer; sessions log in a span with a `session` field so `/v1/logs?session=ID` filters.
//!
//! Routes (every body is JSON; every error is `{"error": "...", "detail": ...}`):
//!
//! | method and path                     | body             | answer                  |
//! |-------------------------------------|------------------|-------------------------|
//! | `GET /v1/status`                    |                  | [`Status`]              |
//! | `GET /v1/sessions`                  |                  | `[`[`SessionInfo`]`]`   |
//! | `GET /v1/sessions/{id}`             |                  | [`SessionInfo`]         |
//! | `DELETE /v1/sessions/{id}`          |                  | 204                     |
//! | `GET /v1/sessions/{id}/pcap`        |                  | pcap file ([`capture`]) |
//! | `GET /v1/users`                     |                  | `[`[`UserEntry`]`]`     |
//! | `PUT /v1/users/{name}/password`     | [`SetPasswordRequest`] | [`UserSet`]       |
//! | `DELETE /v1/users/{name}`           |                  | 204                     |
//! | `GET /v1/plugins`                   |                  | `[`[`PluginInfo`]`]`    |
//! | `POST /v1/plugins/{name}/restart`   |                  | [`PluginRestart`]       |
//! | `GET /v1/plugins/{name}/schema`     |                  | [`plugin_schema::PluginSchema`] |
//! | `GET /v1/config`                    |                  | [`ConfigShow`]          |
//! | `POST /v1/config/check`             | [`CheckRequest`] | [`CheckReport`]         |
//! | `POST /v1/config`                   | [`ApplyRequest`] | [`ApplyResult`]         |
//! | `POST /v1/config/rollback/{version}`|                  | [`ApplyResult`]         |
//! | `GET /v1/config/history`            |                  | [`History`]             |
//! | `GET /v1/logs?session=ID&limit=N`   |                  | `[`[`LogLine`]`]`       |
//! | `GET /v1/stats/history`             |                  | [`stats::StatsHistory`] |
//! | `GET /v1/system`                    |                  | [`system::SystemInfo`]  |
//! | `POST /v1/system/reboot`            |                  | 202 [`system::RebootStarted`] |
//! | `GET /metrics`                      |                  | Prometheus text         |
//! | `GET /v1/system/hardware`           |                  | [`crate::hardware::HardwareInfo`] |
//! | `GET`, `POST /v1/system/upgrade`    | see [`upgrade`]  |                         |

pub mod capture;
pub mod client;
pub mod control;
mod hardware;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod plugin_schema;
pub mod server;
pub mod stats;
pub mod system;
pub mod upgrade;
pub mod users_attrs;

pub use control::{
    API_DOCUMENT_NAME, ApiError, ApiResult, ApplyRequest, ApplyResult, BoxFuture, CheckReport,
    CheckRequest, ConfigIssue, ConfigShow, Control, Encryption, ErrorBody, History,
    InterfaceStatus, LogLine, LogQuery, MetricsSnapshot, PluginCounter, PluginInfo, PluginKind,
    PluginMetrics, PluginRestart, PluginState, PluginSummary, SessionCounts, SessionId,
    SessionInfo, SessionRole, SessionState, SetPasswordRequest, Status, Traffic, UserEntry,
    UserSet, check_document, describe_diff,
};
pub use http::{metrics_router, router};
pub use logs::{LogRing, SESSION_FIELD};
pub use server::{ManagementServer, bind_unix, serve_metrics, serve_unix};
