//! The daemon's side of the management API: the [`Control`] trait and the JSON payloads.
//!
//! The HTTP layer ([`super::router`]) parses and validates requests, calls one [`Control`]
//! method per request and turns the result into JSON, or an [`ApiError`] into an HTTP status
//! with a `{"error": ..., "detail": ...}` body. `routerctl` deserializes the same types.
//!
//! Directions: "in" is what routerd received from the peer over the link, "out" is what it
//! sent to the peer.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::config::{ConfigDiff, ConfigError, ConfigErrors, Document};
use crate::store::{ApplyError, StoreError, VersionInfo};
use crate::time::Timestamp;
use crate::users::{UserAttrs, UsersError};

/// A boxed, sendable future: what every [`Control`] method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The result of a [`Control`] method.
pub type ApiResult<T> = Result<T, ApiError>;

/// A session's id, unique for the daemon's lifetime.
pub type SessionId = u64;

/// The daemon's side of every management operation.
///
/// Implementations must not panic (the HTTP layer turns a panic into a 500, but the daemon's
/// state may be left half-changed) and must bound the work a request can cause. The HTTP layer
/// has already checked what it can: session ids are numbers, user names pass the config's name
/// rules, passwords are non-empty, bodies are within the size limit.
pub trait Control: Send + Sync + 'static {
    /// Daemon status: version, uptime, session counts, plugins, interfaces.
    fn status(&self) -> BoxFuture<'_, ApiResult<Status>>;

    /// Every current session.
    fn sessions(&self) -> BoxFuture<'_, ApiResult<Vec<SessionInfo>>>;

    /// One session; [`ApiError::NotFound`] when there is no such session.
    fn session(&self, id: SessionId) -> BoxFuture<'_, ApiResult<SessionInfo>>;

    /// Ends a session (teardown reason "admin"); [`ApiError::NotFound`] when there is no such
    /// session.
    fn kill_session(&self, id: SessionId) -> BoxFuture<'_, ApiResult<()>>;

    /// The local users (never a hash or secret).
    fn users(&self) -> BoxFuture<'_, ApiResult<Vec<UserEntry>>>;

    /// Sets (or creates the user with) a password; the daemon stores only its NT hash.
    fn set_password(&self, user: String, password: String) -> BoxFuture<'_, ApiResult<UserSet>>;

    /// Removes a user; [`ApiError::NotFound`] when there is no such user. Sessions of the user
    /// stay up.
    fn remove_user(&self, user: String) -> BoxFuture<'_, ApiResult<()>>;

    /// The plugins the configuration lists, with their load state.
    fn plugins(&self) -> BoxFuture<'_, ApiResult<Vec<PluginInfo>>>;

    /// Restarts the instances of a plugin (or of one link) now, whatever their state, and
    /// resets their restart backoff; [`ApiError::NotFound`] when no plugin or link has that
    /// name, [`ApiError::Internal`] when an instance did not start (it is retried later).
    fn restart_plugin(&self, name: String) -> BoxFuture<'_, ApiResult<PluginRestart>>;

    /// The current configuration.
    fn config(&self) -> BoxFuture<'_, ApiResult<ConfigShow>>;

    /// Validates a configuration without applying it. An invalid document is a successful
    /// check with `valid: false` (see [`check_document`] for the schema part).
    fn check_config(&self, toml: String) -> BoxFuture<'_, ApiResult<CheckReport>>;

    /// Validates and applies a configuration as a diff. Concurrent applies queue and run one
    /// after the other, each against the configuration the previous one produced. On failure
    /// the daemon rolls back and answers [`ApiError::InvalidConfig`] (the document is
    /// wrong), [`ApiError::Conflict`] (`base_version` is not the current version when the
    /// apply's turn comes), [`ApiError::Unavailable`] (too many applies are waiting) or
    /// [`ApiError::Internal`] (applying failed and was rolled back).
    fn apply_config(&self, request: ApplyRequest) -> BoxFuture<'_, ApiResult<ApplyResult>>;

    /// Applies a kept version again (as a new version); [`ApiError::NotFound`] when that
    /// version is not kept.
    fn rollback(&self, version: u64) -> BoxFuture<'_, ApiResult<ApplyResult>>;

    /// The kept configuration versions.
    fn history(&self) -> BoxFuture<'_, ApiResult<History>>;

    /// Recent log lines, oldest first: usually `Ok(ring.query(&query))` over the
    /// [`super::logs::LogRing`] whose layer the daemon installed.
    fn logs(&self, query: LogQuery) -> BoxFuture<'_, ApiResult<Vec<LogLine>>>;

    /// The counters behind `GET /metrics`.
    fn metrics(&self) -> BoxFuture<'_, ApiResult<MetricsSnapshot>>;

    /// A user's attributes (static address, allowed links and protocols);
    /// [`ApiError::NotFound`] when there is no such user. See [`super::users_attrs`].
    fn user_attrs(&self, user: String) -> BoxFuture<'_, ApiResult<UserAttrs>> {
        let _ = user;
        Box::pin(async {
            Err(ApiError::Unavailable(
                "user attributes are not supported".into(),
            ))
        })
    }

    /// Replaces a user's attributes; [`ApiError::BadRequest`] with `detail: {"field": ...}`
    /// when one is not acceptable (a static address in a pool range, another user's...).
    fn set_user_attrs(
        &self,
        user: String,
        attrs: UserAttrs,
    ) -> BoxFuture<'_, ApiResult<UserAttrs>> {
        let _ = (user, attrs);
        Box::pin(async {
            Err(ApiError::Unavailable(
                "user attributes are not supported".into(),
            ))
        })
    }

    /// A kept configuration version's document; [`ApiError::NotFound`] when that version is
    /// not kept. See [`super::config_version`].
    fn config_version(&self, version: u64) -> BoxFuture<'_, ApiResult<ConfigShow>> {
        let _ = version;
        Box::pin(async {
            Err(ApiError::Unavailable(
                "old versions are not available".into(),
            ))
        })
    }

    /// Where image upgrades are staged (`system.upgrade_dir`, see [`super::upgrade`]);
    /// `None` (the default) when this implementation takes none.
    fn upgrade_dir(&self) -> BoxFuture<'_, Option<std::path::PathBuf>> {
        Box::pin(async { None })
    }

    /// The box's hardware profile labelled with what exists and which link uses which port
    /// (see [`crate::hardware`]); [`ApiError::NotFound`] (the default) without a daemon.
    fn hardware(&self) -> BoxFuture<'_, ApiResult<crate::hardware::HardwareInfo>> {
        Box::pin(async { Err(ApiError::not_found("no hardware profile here")) })
    }

    /// A plugin's configuration form (plugin ABI 1.3, [`super::plugin_schema`]);
    /// [`ApiError::NotFound`] when no plugin has that name. By default: not found.
    fn plugin_schema(
        &self,
        name: String,
    ) -> BoxFuture<'_, ApiResult<super::plugin_schema::PluginSchema>> {
        Box::pin(async move { Err(ApiError::not_found(format!("no plugin {name:?}"))) })
    }

    /// A session's capture ring as a pcap file ([`super::capture`]); [`ApiError::NotFound`]
    /// when there is no such session or it captures nothing. By default: not found.
    fn session_pcap(&self, id: SessionId) -> BoxFuture<'_, ApiResult<Vec<u8>>> {
        Box::pin(async move { Err(ApiError::not_found(format!("no capture of session {id}"))) })
    }

    /// The last hour of traffic, sessions and CPU, and memory now (`GET /v1/stats/history`,
    /// see [`super::stats`]). By default [`ApiError::NotFound`]: a daemon that samples nothing.
    fn stats_history(&self) -> BoxFuture<'_, ApiResult<super::stats::StatsHistory>> {
        Box::pin(async { Err(ApiError::not_found("this daemon keeps no statistics")) })
    }

    /// The box: interfaces with routerd's roles, DNS servers, time (`GET /v1/system`, see
    /// [`super::system`]). By default [`ApiError::NotFound`].
    fn system_info(&self) -> BoxFuture<'_, ApiResult<super::system::SystemInfo>> {
        Box::pin(async { Err(ApiError::not_found("no system information here")) })
    }

    /// Reboots the box with `system.reboot_command` (`POST /v1/system/reboot`): answers once
    /// the command ran successfully. By default [`ApiError::NotFound`].
    fn reboot(&self) -> BoxFuture<'_, ApiResult<super::system::RebootStarted>> {
        Box::pin(async { Err(ApiError::not_found("this daemon cannot reboot the box")) })
    }
}

/// Why a management request failed. Each variant maps to one HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 400: the request is malformed or a value is out of range.
    BadRequest {
        /// What is wrong, for a human.
        message: String,
        /// Machine-readable details (may be `null`).
        detail: Option<serde_json::Value>,
    },
    /// 400: the configuration document is invalid; one entry per problem.
    InvalidConfig(Vec<ConfigIssue>),
    /// 404: no such session, user, version or route.
    NotFound(String),
    /// 405: the route exists but not with this method.
    MethodNotAllowed(String),
    /// 409: the request conflicts with the daemon's state (e.g. a stale `base_version`).
    Conflict(String),
    /// 413: the body is larger than the limit.
    PayloadTooLarge(String),
    /// 415: the body is not `application/json`.
    UnsupportedMediaType(String),
    /// 503: the daemon cannot serve this now (starting or shutting down).
    Unavailable(String),
    /// 500: something failed inside the daemon.
    Internal(String),
}

impl ApiError {
    /// A 400 with a message and no detail.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            detail: None,
        }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(message.into())
    }

    /// A 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::Conflict(message.into())
    }

    /// A 500.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::Internal(message.into())
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest { .. } | ApiError::InvalidConfig(_) => 400,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Internal(_) => 500,
            ApiError::Unavailable(_) => 503,
        }
    }

    /// The JSON body sent for this error.
    pub fn body(&self) -> ErrorBody {
        let (error, detail) = match self {
            ApiError::BadRequest { message, detail } => (message.clone(), detail.clone()),
            ApiError::InvalidConfig(issues) => {
                let n = issues.len();
                let error = match issues.first() {
                    Some(first) if n == 1 => format!("invalid configuration: {first}"),
                    Some(first) => format!("invalid configuration ({n} errors): {first}"),
                    None => "invalid configuration".to_owned(),
                };
                (error, serde_json::to_value(issues).ok())
            }
            ApiError::NotFound(m)
            | ApiError::MethodNotAllowed(m)
            | ApiError::Conflict(m)
            | ApiError::PayloadTooLarge(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::Unavailable(m)
            | ApiError::Internal(m) => (m.clone(), None),
        };
        ErrorBody { error, detail }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.body().error)
    }
}

impl std::error::Error for ApiError {}

impl From<ConfigErrors> for ApiError {
    fn from(errors: ConfigErrors) -> Self {
        ApiError::InvalidConfig(errors.errors().iter().map(ConfigIssue::from).collect())
    }
}

impl From<UsersError> for ApiError {
    /// Bad names and passwords are the caller's fault (400); file problems are internal (500).
    fn from(e: UsersError) -> Self {
        match e {
            UsersError::BadUserName { .. }
            | UsersError::PasswordTooLong
            | UsersError::CleartextNotAllowed => ApiError::bad_request(e.to_string()),
            UsersError::NoSuchUser(_) => ApiError::not_found(e.to_string()),
            UsersError::BadAttribute { field, ref message } => ApiError::BadRequest {
                message: message.clone(),
                detail: Some(serde_json::json!({ "field": field })),
            },
            UsersError::Io { .. } | UsersError::Invalid { .. } => ApiError::internal(e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    /// An unknown version is a 404, an invalid stored document a 400 with its problems, the
    /// rest internal (500).
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownVersion(v) => {
                ApiError::not_found(format!("configuration version {v} is not kept"))
            }
            StoreError::Invalid(errors) => errors.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl<E: fmt::Display> From<ApplyError<E>> for ApiError {
    /// An invalid document is a 400 with its problems; a rejected (and rolled back) apply or a
    /// store failure is internal (500) with the reason.
    fn from(e: ApplyError<E>) -> Self {
        match e {
            ApplyError::Invalid(errors) => errors.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a human.
    pub error: String,
    /// Details (for an invalid configuration: the list of [`ConfigIssue`]s).
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// routerd's version.
    pub version: String,
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// The current configuration version.
    pub config_version: u64,
    /// Current sessions.
    pub sessions: SessionCounts,
    /// Plugins and their state.
    pub plugins: Vec<PluginSummary>,
    /// The TUN device and LAN interface.
    pub interfaces: Vec<InterfaceStatus>,
}

/// Session counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionCounts {
    /// Every current session.
    pub total: u64,
    /// Sessions whose PPP this box terminates.
    pub terminate: u64,
    /// Sessions relayed to another link.
    pub relay: u64,
    /// Sessions with the network phase up (IP or relay flowing).
    pub up: u64,
}

/// A plugin's name and state, as in [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginSummary {
    /// The plugin's name in the configuration.
    pub name: String,
    /// Its state.
    pub state: PluginState,
}

/// An interface routerd manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceStatus {
    /// Interface name (e.g. `dg0`).
    pub name: String,
    /// What it is for: `tun` or `lan`.
    pub role: String,
    /// Whether it is up.
    pub up: bool,
    /// Its MTU, when known.
    pub mtu: Option<u32>,
    /// Why it is not working, when it is not.
    pub error: Option<String>,
}

/// Whether routerd terminates a session's PPP or relays it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionRole {
    /// The PPP engine runs here.
    Terminate,
    /// PPP frames pass untouched to another link.
    Relay,
}

/// A session's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    /// Link establishment (LCP).
    Establishing,
    /// Authentication.
    Authenticating,
    /// Network phase (NCPs, possibly not all open yet).
    Network,
    /// Up: traffic flows (or the relay is connected).
    Up,
    /// Terminating.
    Closing,
}

/// A session's encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Encryption {
    /// No encryption (or not negotiated yet).
    None,
    /// MPPE (RFC 3078).
    Mppe {
        /// Key strength: 40, 56 or 128.
        bits: u16,
        /// Stateless mode (a key change every packet).
        stateless: bool,
    },
}

/// Byte and packet counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Traffic {
    /// Bytes received from the peer.
    pub bytes_in: u64,
    /// Bytes sent to the peer.
    pub bytes_out: u64,
    /// Packets received from the peer.
    pub packets_in: u64,
    /// Packets sent to the peer.
    pub packets_out: u64,
}

/// `GET /v1/sessions/{id}` (and each entry of `GET /v1/sessions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session id.
    pub id: SessionId,
    /// The authenticated user, once known.
    pub user: Option<String>,
    /// The link's name in the configuration.
    pub link: String,
    /// Terminated or relayed.
    pub role: SessionRole,
    /// The peer as the link plugin describes it (address, calling number).
    pub peer: Option<String>,
    /// The peer's IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// The /64 prefix announced to the peer.
    pub ipv6_prefix: Option<Ipv6Addr>,
    /// Encryption in use.
    pub encryption: Encryption,
    /// Counters.
    pub traffic: Traffic,
    /// When the session started.
    pub started: Timestamp,
    /// Seconds since it started.
    pub uptime_secs: u64,
    /// Its phase.
    pub state: SessionState,
    /// Frames in its capture ring (`GET /v1/sessions/{id}/pcap`); `None` when capture was
    /// off when it started (`[limits] capture_packets`).
    #[serde(default)]
    pub captured: Option<u64>,
}

/// A local user (never a hash or secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEntry {
    /// The user name.
    pub name: String,
    /// Whether a clear-text secret is stored (weak methods work for this user).
    pub weak_cleartext_secret: bool,
    /// Current sessions of this user.
    pub sessions: u64,
    /// Its static address, allowed links and protocols (absent from older routerds).
    #[serde(default)]
    pub attrs: UserAttrs,
}

/// `PUT /v1/users/{name}/password` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    /// The new password (sent over the local socket only; stored as an NT hash).
    pub password: String,
}

/// `PUT /v1/users/{name}/password` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSet {
    /// The user.
    pub name: String,
    /// Whether the user was created by this call.
    pub created: bool,
}

/// What a plugin provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// A link plugin (serial, pptp, isdn).
    Link,
    /// A LAN-protocol plugin (ipx-bridge, netbeui).
    Lan,
    /// Not known (the plugin did not load).
    Unknown,
}

/// A plugin's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginState {
    /// Loaded and running.
    Running,
    /// Failed to load or initialise, or disabled after a panic.
    Failed,
    /// Disabled by the configuration.
    Disabled,
    /// An instance failed and is restarted automatically once its backoff has passed.
    Restarting,
}

impl PluginState {
    /// Every state, for metrics.
    pub const ALL: [PluginState; 4] = [
        PluginState::Running,
        PluginState::Failed,
        PluginState::Disabled,
        PluginState::Restarting,
    ];
}

impl fmt::Display for PluginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginState::Running => "running",
            PluginState::Failed => "failed",
            PluginState::Disabled => "disabled",
            PluginState::Restarting => "restarting",
        })
    }
}

/// `GET /v1/plugins` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// The plugin's name in the configuration.
    pub name: String,
    /// The shared object's path.
    pub file: String,
    /// The plugin's own version, once loaded.
    pub version: Option<String>,
    /// The ABI version it was built against, once read.
    pub abi_version: Option<String>,
    /// What it provides.
    pub kind: PluginKind,
    /// Its state.
    pub state: PluginState,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Current sessions on its links.
    pub sessions: u64,
    /// Restarts of its instances (automatic and requested).
    #[serde(default)]
    pub restarts: u64,
    /// The last failure of one of its instances, kept after a restart succeeded.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Seconds until the next automatic restart, when one is due.
    #[serde(default)]
    pub next_restart_secs: Option<u64>,
    /// The title of its configuration page, when it gives a configuration form (plugin ABI
    /// 1.3; its name when the form is malformed, so the page can show why).
    #[serde(default)]
    pub form_title: Option<String>,
}

/// `POST /v1/plugins/{name}/restart` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRestart {
    /// The plugin (or link) named in the request.
    pub name: String,
    /// The links whose instances were restarted.
    pub restarted: Vec<String>,
}

/// `GET /v1/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigShow {
    /// The current version.
    pub version: u64,
    /// The current document, as stored.
    pub toml: String,
}

/// `POST /v1/config/check` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The TOML document.
    pub toml: String,
}

/// One problem of a configuration document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigIssue {
    /// The document's name.
    pub file: String,
    /// 1-based line, when the problem has a position.
    pub line: Option<usize>,
    /// 1-based column, when the problem has a position.
    pub column: Option<usize>,
    /// The field path (`link[1].pool`); empty for the document root.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl From<&ConfigError> for ConfigIssue {
    fn from(e: &ConfigError) -> Self {
        ConfigIssue {
            file: e.file.clone(),
            line: e.location.map(|l| l.line),
            column: e.location.map(|l| l.column),
            field: if e.path.is_root() {
                String::new()
            } else {
                e.path.to_string()
            },
            message: e.message.clone(),
        }
    }
}

impl fmt::Display for ConfigIssue {
    /// `file:line:column: field: message`, like [`ConfigError`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// `POST /v1/config/check` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Whether the document is valid.
    pub valid: bool,
    /// Every problem (empty when valid).
    pub errors: Vec<ConfigIssue>,
    /// What applying it would change (empty when invalid), see [`describe_diff`].
    pub changes: Vec<String>,
}

/// The name under which documents sent to the API are parsed.
pub const API_DOCUMENT_NAME: &str = "<api>";

/// Checks a document against the schema, and describes its changes relative to `current`.
/// A daemon's [`Control::check_config`] can start from this and add its own checks.
pub fn check_document(toml: &str, current: Option<&Document>) -> CheckReport {
    match Document::parse(API_DOCUMENT_NAME, toml) {
        Ok(doc) => CheckReport {
            valid: true,
            errors: Vec::new(),
            changes: current
                .map(|cur| describe_diff(&ConfigDiff::between(cur.config(), doc.config())))
                .unwrap_or_default(),
        },
        Err(errors) => CheckReport {
            valid: false,
            errors: errors.errors().iter().map(ConfigIssue::from).collect(),
            changes: Vec::new(),
        },
    }
}

/// One line per change of a [`ConfigDiff`] (`section [management] changed`,
/// `link "modem1" added`, ...).
pub fn describe_diff(diff: &ConfigDiff) -> Vec<String> {
    let mut out = Vec::new();
    for (changed, name) in [
        (diff.system, "system"),
        (diff.management, "management"),
        (diff.ppp, "ppp"),
        (diff.lan, "lan"),
        (diff.tun, "tun"),
        (diff.limits, "limits"),
        (diff.accounting, "accounting"),
    ] {
        if changed {
            out.push(format!("section [{name}] changed"));
        }
    }
    for (changes, what) in [
        (&diff.pools, "pool"),
        (&diff.plugins, "plugin"),
        (&diff.links, "link"),
    ] {
        for n in &changes.added {
            out.push(format!("{what} {n:?} added"));
        }
        for n in &changes.removed {
            out.push(format!("{what} {n:?} removed"));
        }
        for n in &changes.changed {
            out.push(format!("{what} {n:?} changed"));
        }
    }
    out
}

/// `POST /v1/config` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// The TOML document.
    pub toml: String,
    /// Why (kept in the history).
    #[serde(default)]
    pub reason: Option<String>,
    /// Apply only if this is still the current version (else 409).
    #[serde(default)]
    pub base_version: Option<u64>,
}

/// `POST /v1/config` and `POST /v1/config/rollback/{version}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyResult {
    /// The new current version.
    pub version: u64,
    /// What changed, see [`describe_diff`].
    pub changes: Vec<String>,
}

/// `GET /v1/config/history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The current version.
    pub current: u64,
    /// The kept versions, oldest first.
    pub versions: Vec<VersionInfo>,
}

/// `GET /v1/logs` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Only lines logged inside this session's span.
    #[serde(default)]
    pub session: Option<SessionId>,
    /// At most this many lines (the newest); the HTTP layer caps it.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One structured log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// When it was logged.
    pub time: Timestamp,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// The module that logged it.
    pub target: String,
    /// The message.
    pub message: String,
    /// The session it belongs to, if any.
    pub session: Option<SessionId>,
    /// The other fields of the event and its spans.
    pub fields: BTreeMap<String, String>,
}

/// Counters of one plugin, for `GET /metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginMetrics {
    /// The plugin's name.
    pub name: String,
    /// Its state.
    pub state: PluginState,
    /// Current sessions on its links.
    pub sessions: u64,
    /// Traffic on its links.
    pub traffic: Traffic,
    /// Errors its methods returned.
    pub errors: u64,
    /// Panics caught at the boundary.
    pub panics: u64,
    /// Restarts of its instances.
    #[serde(default)]
    pub restarts: u64,
}

/// The counters behind `GET /metrics`. Maps are keyed by a label value (teardown reason, drop
/// reason, auth failure reason); totals include ended sessions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// Current sessions.
    pub sessions: SessionCounts,
    /// Sessions started since the daemon started.
    pub sessions_started: u64,
    /// Sessions ended, by teardown reason.
    pub sessions_ended: BTreeMap<String, u64>,
    /// Traffic of every session, ended ones included.
    pub traffic: Traffic,
    /// Packets dropped, by reason.
    pub drops: BTreeMap<String, u64>,
    /// Failed authentications, by reason.
    pub auth_failures: BTreeMap<String, u64>,
    /// Sources locked out after repeated authentication failures (`[limits]
    /// auth_failures_per_source`).
    #[serde(default)]
    pub auth_lockouts: u64,
    /// Per plugin.
    pub plugins: Vec<PluginMetrics>,
    /// Counters the plugins publish (drops by reason and the like), per link instance.
    #[serde(default)]
    pub plugin_counters: Vec<PluginCounter>,
}

/// One counter a plugin instance publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginCounter {
    /// The plugin.
    pub plugin: String,
    /// The link (plugin instance).
    pub link: String,
    /// The counter's name, as the plugin chose it (`gre_unknown_call`).
    pub name: String,
    /// Its value.
    pub value: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_statuses_and_bodies() {
        assert_eq!(ApiError::bad_request("x").status(), 400);
        assert_eq!(ApiError::not_found("no session 7").status(), 404);
        assert_eq!(ApiError::conflict("busy").status(), 409);
        assert_eq!(ApiError::internal("boom").status(), 500);
        let body = ApiError::not_found("no session 7").body();
        assert_eq!(body.error, "no session 7");
        assert_eq!(body.detail, None);
        let json = serde_json::to_value(&body).ok();
        assert_eq!(
            json,
            Some(serde_json::json!({"error": "no session 7", "detail": null}))
        );
    }

    #[test]
    fn invalid_config_names_line_column_and_field() {
        let report = check_document("[management]\nsocket = 5\n", None);
        assert!(!report.valid);
        let first = &report.errors[0];
        assert_eq!(first.file, API_DOCUMENT_NAME);
        assert_eq!(first.line, Some(2));
        assert_eq!(first.field, "management.socket");
        let err = ApiError::InvalidConfig(report.errors.clone());
        assert_eq!(err.status(), 400);
        let body = err.body();
        assert!(body.error.contains("management.socket"), "{}", body.error);
        assert!(matches!(body.detail, Some(serde_json::Value::Array(ref a)) if !a.is_empty()));
    }

    #[test]
    fn valid_config_lists_changes() {
        let cur = Document::parse("a", crate::config::DEFAULT_CONFIG);
        let cur = cur.ok();
        let changed = crate::config::DEFAULT_CONFIG.replace("127.0.0.1:9633", "127.0.0.1:9999");
        assert_ne!(changed, crate::config::DEFAULT_CONFIG);
        let report = check_document(&changed, cur.as_ref());
        assert!(report.valid, "{:?}", report.errors);
        assert_eq!(report.changes, vec!["section [management] changed"]);
    }

    #[test]
    fn payloads_round_trip() {
        let e = Encryption::Mppe {
            bits: 128,
            stateless: true,
        };
        let v = serde_json::to_value(e).ok();
        assert_eq!(
            v,
            Some(serde_json::json!({"kind": "mppe", "bits": 128, "stateless": true}))
        );
        let back: Option<Encryption> = v.and_then(|v| serde_json::from_value(v).ok());
        assert_eq!(back, Some(e));
    }
}
