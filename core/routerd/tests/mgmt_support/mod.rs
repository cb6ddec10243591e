//! A [`Control`] implementation over in-memory state, for the management API tests.

#![allow(dead_code)] // each test binary uses a different part

pub mod server;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};

use dialgate_routerd::api::{
    ApiError, ApiResult, ApplyRequest, ApplyResult, BoxFuture, CheckReport, ConfigShow, Control,
    Encryption, History, InterfaceStatus, LogLine, LogQuery, MetricsSnapshot, PluginInfo,
    PluginKind, PluginMetrics, PluginRestart, PluginState, PluginSummary, SessionCounts, SessionId,
    SessionInfo, SessionRole, SessionState, Status, Traffic, UserEntry, UserSet, check_document,
    describe_diff,
};
use dialgate_routerd::config::{ConfigDiff, DEFAULT_CONFIG, Document};
use dialgate_routerd::store::VersionInfo;
use dialgate_routerd::time::Timestamp;

/// The fake daemon's state.
#[derive(Debug)]
pub struct FakeState {
    pub sessions: BTreeMap<SessionId, SessionInfo>,
    pub users: BTreeMap<String, String>,
    pub plugins: Vec<PluginInfo>,
    pub versions: Vec<(VersionInfo, Document)>,
    pub current: u64,
    pub logs: Vec<LogLine>,
    pub killed: Vec<SessionId>,
    /// Every call panics while this is set (to test the API's panic guard).
    pub panic: bool,
}

/// A [`Control`] over [`FakeState`].
#[derive(Debug)]
pub struct FakeControl {
    state: Mutex<FakeState>,
}

fn session(id: SessionId, user: &str, link: &str, role: SessionRole) -> SessionInfo {
    SessionInfo {
        id,
        user: Some(user.to_owned()),
        link: link.to_owned(),
        role,
        peer: Some(format!("192.0.2.{id}:1723")),
        ipv4: Some(Ipv4Addr::new(10, 0, 0, id as u8)),
        ipv6_prefix: Some(Ipv6Addr::new(0x2001, 0xdb8, 0, id as u16, 0, 0, 0, 0)),
        encryption: Encryption::Mppe {
            bits: 128,
            stateless: false,
        },
        traffic: Traffic {
            bytes_in: 1000 * id,
            bytes_out: 2000 * id,
            packets_in: 10 * id,
            packets_out: 20 * id,
        },
        started: Timestamp::from_unix_ms(1_700_000_000_000),
        uptime_secs: 60 * id,
        state: SessionState::Up,
        captured: None,
    }
}

fn log(session: Option<SessionId>, message: &str) -> LogLine {
    LogLine {
        time: Timestamp::from_unix_ms(1_700_000_000_000),
        level: "INFO".to_owned(),
        target: "dialgate_routerd::daemon".to_owned(),
        message: message.to_owned(),
        session,
        fields: BTreeMap::new(),
    }
}

impl FakeControl {
    /// Two sessions (ids 1 and 2), users alice and bob, one running and one failed plugin,
    /// the default configuration as version 1.
    pub fn new() -> Self {
        let doc = Document::default_config().expect("the default configuration is valid");
        let mut sessions = BTreeMap::new();
        sessions.insert(1, session(1, "alice", "serial0", SessionRole::Terminate));
        sessions.insert(2, session(2, "bob", "serial1", SessionRole::Relay));
        let users = [("alice", "a"), ("bob", "b")]
            .into_iter()
            .map(|(u, p)| (u.to_owned(), p.to_owned()))
            .collect();
        let plugins = vec![
            PluginInfo {
                name: "serial".to_owned(),
                file: "/usr/lib/dialgate/plugins/libdialgate_serial.so".to_owned(),
                version: Some("0.1.0".to_owned()),
                abi_version: Some("1.0.0".to_owned()),
                kind: PluginKind::Link,
                state: PluginState::Running,
                error: None,
                sessions: 2,
                restarts: 1,
                last_error: Some("link serial0: plugin serial failed in on_data: boom".to_owned()),
                next_restart_secs: None,
                form_title: None,
            },
            PluginInfo {
                name: "broken".to_owned(),
                file: "/usr/lib/dialgate/plugins/libbroken.so".to_owned(),
                version: None,
                abi_version: Some("2.0.0".to_owned()),
                kind: PluginKind::Unknown,
                state: PluginState::Failed,
                error: Some("built against ABI 2.0.0, host has 1.0.0".to_owned()),
                sessions: 0,
                restarts: 0,
                last_error: None,
                next_restart_secs: None,
                form_title: None,
            },
        ];
        let info = VersionInfo {
            version: 1,
            time: Timestamp::from_unix_ms(1_700_000_000_000),
            reason: "initial".to_owned(),
        };
        let logs = vec![
            log(None, "routerd started"),
            log(Some(1), "session up"),
            log(Some(2), "relay connected"),
            log(Some(1), "mppe-128 negotiated"),
        ];
        FakeControl {
            state: Mutex::new(FakeState {
                sessions,
                users,
                plugins,
                versions: vec![(info, doc)],
                current: 1,
                logs,
                killed: Vec::new(),
                panic: false,
            }),
        }
    }

    /// The state, for assertions.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sync<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut FakeState) -> ApiResult<T>,
    ) -> BoxFuture<'_, ApiResult<T>> {
        let mut state = self.state();
        assert!(!state.panic, "FakeControl asked to panic");
        let r = f(&mut state);
        Box::pin(async move { r })
    }
}

impl Default for FakeControl {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeState {
    fn current_doc(&self) -> ApiResult<&Document> {
        self.versions
            .iter()
            .find(|(v, _)| v.version == self.current)
            .map(|(_, d)| d)
            .ok_or_else(|| ApiError::internal("current version missing"))
    }

    fn commit(&mut self, doc: Document, reason: String) -> ApiResult<ApplyResult> {
        let changes = describe_diff(&ConfigDiff::between(
            self.current_doc()?.config(),
            doc.config(),
        ));
        let version = self
            .versions
            .iter()
            .map(|(v, _)| v.version)
            .max()
            .unwrap_or(0)
            + 1;
        let info = VersionInfo {
            version,
            time: Timestamp::from_unix_ms(1_700_000_000_000 + version),
            reason,
        };
        self.versions.push((info, doc));
        self.current = version;
        Ok(ApplyResult { version, changes })
    }

    fn counts(&self) -> SessionCounts {
        let mut c = SessionCounts::default();
        for s in self.sessions.values() {
            c.total += 1;
            match s.role {
                SessionRole::Terminate => c.terminate += 1,
                SessionRole::Relay => c.relay += 1,
            }
            if s.state == SessionState::Up {
                c.up += 1;
            }
        }
        c
    }
}

impl Control for FakeControl {
    fn status(&self) -> BoxFuture<'_, ApiResult<Status>> {
        self.sync(|s| {
            Ok(Status {
                version: "0.1.0".to_owned(),
                uptime_secs: 3600,
                config_version: s.current,
                sessions: s.counts(),
                plugins: s
                    .plugins
                    .iter()
                    .map(|p| PluginSummary {
                        name: p.name.clone(),
                        state: p.state,
                    })
                    .collect(),
                interfaces: vec![InterfaceStatus {
                    name: "dg0".to_owned(),
                    role: "tun".to_owned(),
                    up: true,
                    mtu: Some(1400),
                    error: None,
                }],
            })
        })
    }

    fn sessions(&self) -> BoxFuture<'_, ApiResult<Vec<SessionInfo>>> {
        self.sync(|s| Ok(s.sessions.values().cloned().collect()))
    }

    fn session(&self, id: SessionId) -> BoxFuture<'_, ApiResult<SessionInfo>> {
        self.sync(move |s| {
            s.sessions
                .get(&id)
                .cloned()
                .ok_or_else(|| ApiError::not_found(format!("no session {id}")))
        })
    }

    fn kill_session(&self, id: SessionId) -> BoxFuture<'_, ApiResult<()>> {
        self.sync(move |s| match s.sessions.remove(&id) {
            Some(_) => {
                s.killed.push(id);
                Ok(())
            }
            None => Err(ApiError::not_found(format!("no session {id}"))),
        })
    }

    fn users(&self) -> BoxFuture<'_, ApiResult<Vec<UserEntry>>> {
        self.sync(|s| {
            Ok(s.users
                .keys()
                .map(|name| UserEntry {
                    name: name.clone(),
                    weak_cleartext_secret: false,
                    sessions: s
                        .sessions
                        .values()
                        .filter(|x| x.user.as_deref() == Some(name))
                        .count() as u64,
                })
                .collect())
        })
    }

    fn set_password(&self, user: String, password: String) -> BoxFuture<'_, ApiResult<UserSet>> {
        self.sync(move |s| {
            let created = s.users.insert(user.clone(), password).is_none();
            Ok(UserSet {
                name: user,
                created,
            })
        })
    }

    fn remove_user(&self, user: String) -> BoxFuture<'_, ApiResult<()>> {
        self.sync(move |s| match s.users.remove(&user) {
            Some(_) => Ok(()),
            None => Err(ApiError::not_found(format!("no user {user:?}"))),
        })
    }

    fn plugins(&self) -> BoxFuture<'_, ApiResult<Vec<PluginInfo>>> {
        self.sync(|s| Ok(s.plugins.clone()))
    }

    fn restart_plugin(&self, name: String) -> BoxFuture<'_, ApiResult<PluginRestart>> {
        self.sync(
            move |s| match s.plugins.iter_mut().find(|p| p.name == name) {
                Some(p) if p.state == PluginState::Failed => {
                    Err(ApiError::internal(format!("plugin {name} did not start")))
                }
                Some(p) => {
                    p.restarts += 1;
                    Ok(PluginRestart {
                        name,
                        restarted: vec!["serial0".to_owned()],
                    })
                }
                None => Err(ApiError::not_found(format!(
                    "no plugin or link named {name:?}"
                ))),
            },
        )
    }

    fn config(&self) -> BoxFuture<'_, ApiResult<ConfigShow>> {
        self.sync(|s| {
            Ok(ConfigShow {
                version: s.current,
                toml: s.current_doc()?.text().to_owned(),
            })
        })
    }

    fn check_config(&self, toml: String) -> BoxFuture<'_, ApiResult<CheckReport>> {
        self.sync(move |s| Ok(check_document(&toml, Some(s.current_doc()?))))
    }

    fn apply_config(&self, request: ApplyRequest) -> BoxFuture<'_, ApiResult<ApplyResult>> {
        self.sync(move |s| {
            if let Some(base) = request.base_version
                && base != s.current
            {
                return Err(ApiError::conflict(format!(
                    "the current version is {}, not {base}",
                    s.current
                )));
            }
            let doc = Document::parse(dialgate_routerd::api::API_DOCUMENT_NAME, request.toml)?;
            s.commit(doc, request.reason.unwrap_or_else(|| "api".to_owned()))
        })
    }

    fn rollback(&self, version: u64) -> BoxFuture<'_, ApiResult<ApplyResult>> {
        self.sync(move |s| {
            let doc = s
                .versions
                .iter()
                .find(|(v, _)| v.version == version)
                .map(|(_, d)| d.clone())
                .ok_or_else(|| {
                    ApiError::not_found(format!("configuration version {version} is not kept"))
                })?;
            s.commit(doc, format!("rollback to {version}"))
        })
    }

    fn history(&self) -> BoxFuture<'_, ApiResult<History>> {
        self.sync(|s| {
            Ok(History {
                current: s.current,
                versions: s.versions.iter().map(|(v, _)| v.clone()).collect(),
            })
        })
    }

    fn logs(&self, query: LogQuery) -> BoxFuture<'_, ApiResult<Vec<LogLine>>> {
        self.sync(move |s| {
            let mut lines: Vec<LogLine> = s
                .logs
                .iter()
                .filter(|l| query.session.is_none() || l.session == query.session)
                .cloned()
                .collect();
            if let Some(limit) = query.limit {
                let skip = lines.len().saturating_sub(limit);
                lines.drain(..skip);
            }
            Ok(lines)
        })
    }

    fn metrics(&self) -> BoxFuture<'_, ApiResult<MetricsSnapshot>> {
        self.sync(|s| {
            let mut traffic = Traffic::default();
            for x in s.sessions.values() {
                traffic.bytes_in += x.traffic.bytes_in;
                traffic.bytes_out += x.traffic.bytes_out;
                traffic.packets_in += x.traffic.packets_in;
                traffic.packets_out += x.traffic.packets_out;
            }
            Ok(MetricsSnapshot {
                uptime_secs: 3600,
                sessions: s.counts(),
                sessions_started: 7,
                sessions_ended: [("admin".to_owned(), 3), ("peer \"quit\"".to_owned(), 2)]
                    .into_iter()
                    .collect(),
                traffic,
                drops: [("no-session".to_owned(), 5), ("mppe".to_owned(), 1)]
                    .into_iter()
                    .collect(),
                auth_failures: [("bad-password".to_owned(), 4)].into_iter().collect(),
                auth_lockouts: 1,
                plugins: s
                    .plugins
                    .iter()
                    .map(|p| PluginMetrics {
                        name: p.name.clone(),
                        state: p.state,
                        sessions: p.sessions,
                        traffic,
                        errors: 0,
                        panics: u64::from(p.state == PluginState::Failed),
                        restarts: p.restarts,
                    })
                    .collect(),
                plugin_counters: Vec::new(),
            })
        })
    }
}

/// Unused by default; keeps `DEFAULT_CONFIG` reachable for tests that want the text.
pub const DEFAULT_TOML: &str = DEFAULT_CONFIG;
