//! The daemon's side of the management API ([`Control`]), and serving it.
//!
//! Traffic counters of a terminated session count its network-layer datagrams (IP packets
//! and their octets, as they cross the TUN), not PPP control traffic; those of a relayed
//! session count the PPP frames it passed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::actor::InstanceState;
use super::router::{SessionMode, SessionShared, lock};
use super::{ApplyRefused, Daemon, RestartError};
use crate::api::plugin_schema::{PluginSchema, link_config_issues};
use crate::api::stats::{HostReader, SAMPLE_INTERVAL, StatsHistory, StatsPoint, StatsRing};
use crate::api::system::{RebootStarted, SystemInfo, SystemReader};
use crate::api::{
    ApiError, ApiResult, ApplyRequest, ApplyResult, BoxFuture, CheckReport, ConfigIssue,
    ConfigShow, Control, Encryption, History, InterfaceStatus, LogLine, LogQuery, LogRing,
    MetricsSnapshot, PluginCounter, PluginInfo, PluginKind, PluginMetrics, PluginRestart,
    PluginState, PluginSummary, SessionCounts, SessionInfo, SessionRole, SessionState, Status,
    Traffic, UserEntry, UserSet, check_document, describe_diff,
};
use crate::config::Document;
use crate::store::Applied;
use crate::users::UserAttrs;

/// How long `system.reboot_command` may run before the API answers with an error.
pub const REBOOT_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// [`Control`] for a running [`Daemon`].
#[derive(Debug, Clone)]
pub struct DaemonControl {
    daemon: Arc<Daemon>,
    logs: LogRing,
    stats: Arc<std::sync::Mutex<StatsRing>>,
}

impl DaemonControl {
    /// Serves `daemon`; `logs` is the ring the process's `tracing` layer records into.
    pub fn new(daemon: Arc<Daemon>, logs: LogRing) -> Self {
        DaemonControl {
            daemon,
            logs,
            stats: Arc::default(),
        }
    }

    /// Takes one sample of traffic, sessions and CPU into the history ring.
    pub async fn sample(&self, host: &mut HostReader) {
        let Ok(m) = self.metrics().await else { return };
        let (cpu_percent, _) = host.cpu();
        lock(&self.stats).push(StatsPoint {
            time: crate::time::Timestamp::now(),
            bytes_in: m.traffic.bytes_in,
            bytes_out: m.traffic.bytes_out,
            sessions: m.sessions.total,
            cpu_percent,
        });
    }

    /// Samples now and then every [`SAMPLE_INTERVAL`], for ever.
    pub async fn run_sampler(self) {
        let mut host = HostReader::default();
        let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.sample(&mut host).await;
        }
    }
}

fn traffic(t: [u64; 4]) -> Traffic {
    Traffic {
        bytes_in: t[0],
        bytes_out: t[1],
        packets_in: t[2],
        packets_out: t[3],
    }
}

fn add(a: &mut Traffic, b: Traffic) {
    a.bytes_in = a.bytes_in.saturating_add(b.bytes_in);
    a.bytes_out = a.bytes_out.saturating_add(b.bytes_out);
    a.packets_in = a.packets_in.saturating_add(b.packets_in);
    a.packets_out = a.packets_out.saturating_add(b.packets_out);
}

fn is_up(s: &SessionShared) -> bool {
    let m = lock(&s.meta);
    match s.mode {
        SessionMode::Relay => m.state == "relaying",
        _ => m.ipv4.is_some() || m.ipv6_prefix.is_some(),
    }
}

fn session_info(s: &SessionShared) -> SessionInfo {
    let m = lock(&s.meta).clone();
    let up = match s.mode {
        SessionMode::Relay => m.state == "relaying",
        _ => m.ipv4.is_some() || m.ipv6_prefix.is_some(),
    };
    let state = if up {
        SessionState::Up
    } else {
        match m.state.as_str() {
            "authenticate" => SessionState::Authenticating,
            "network" => SessionState::Network,
            "terminate" | "dead" => SessionState::Closing,
            _ => SessionState::Establishing,
        }
    };
    SessionInfo {
        id: s.id,
        user: (!m.user.is_empty()).then_some(m.user),
        link: s.link.clone(),
        role: match s.mode {
            SessionMode::Relay => SessionRole::Relay,
            _ => SessionRole::Terminate,
        },
        peer: (!m.peer.is_empty()).then_some(m.peer),
        ipv4: m.ipv4,
        ipv6_prefix: m.ipv6_prefix,
        encryption: match m.mppe {
            Some((bits, stateless)) => Encryption::Mppe { bits, stateless },
            None => Encryption::None,
        },
        traffic: traffic(s.traffic()),
        started: s.started,
        uptime_secs: s.started_at.elapsed().as_secs(),
        state,
        captured: s.capture.as_ref().map(|c| c.len() as u64),
    }
}

impl DaemonControl {
    fn live(&self) -> Vec<Arc<SessionShared>> {
        lock(&self.daemon.router.sessions)
            .values()
            .cloned()
            .collect()
    }

    fn counts(&self) -> SessionCounts {
        let mut c = SessionCounts::default();
        for s in self.live() {
            c.total += 1;
            match s.mode {
                SessionMode::Relay => c.relay += 1,
                _ => c.terminate += 1,
            }
            if is_up(&s) {
                c.up += 1;
            }
        }
        c
    }

    async fn plugin_infos(&self) -> Vec<(PluginInfo, Traffic, u64)> {
        let daemon = &self.daemon;
        let config = daemon.running_config().await;
        let slots = daemon.plugin_slots().await;
        let links = daemon.link_states().await;
        let supervision = daemon.supervision().await;
        let live = self.live();
        let ended = lock(&daemon.router.stats.ended_traffic).clone();
        let mut out = Vec::new();
        for p in &config.plugins {
            let slot = slots.iter().find(|s| s.config.name == p.name);
            let mut error = None;
            let mut state = if !p.enabled {
                PluginState::Disabled
            } else {
                PluginState::Running
            };
            let (version, abi_version, kind) = match slot.map(|s| &s.loaded) {
                Some(Ok(l)) => {
                    let info = l.info();
                    let kind = match info.kind {
                        dialgate_plugin_host::abi::PluginKind::LINK => PluginKind::Link,
                        dialgate_plugin_host::abi::PluginKind::LAN_PROTOCOL => PluginKind::Lan,
                        _ => PluginKind::Unknown,
                    };
                    (
                        Some(info.version.clone()),
                        Some(info.abi_version.to_string()),
                        kind,
                    )
                }
                Some(Err(e)) => {
                    if p.enabled {
                        state = PluginState::Failed;
                        error = Some(e.clone());
                    }
                    (None, None, PluginKind::Unknown)
                }
                None => (None, None, PluginKind::Unknown),
            };
            let panics = lock(&daemon.router.stats.plugin_panics)
                .get(&p.name)
                .copied()
                .unwrap_or(0);
            let now = std::time::Instant::now();
            let mut restarts = 0;
            let mut last_error: Option<(crate::time::Timestamp, String)> = None;
            let mut next_restart: Option<std::time::Instant> = None;
            let lan_instance = (kind == PluginKind::Lan && p.enabled)
                .then(|| super::spec::lan_instance_name(&p.name));
            let instances: Vec<&str> = config
                .links
                .iter()
                .filter(|l| l.plugin == p.name)
                .map(|l| l.name.as_str())
                .chain(lan_instance.as_deref())
                .collect();
            for name in instances {
                let sup = supervision.get(name);
                if let Some(sup) = sup {
                    restarts += sup.restarts;
                    if let (Some(at), Some(e)) = (sup.last_failure, &sup.last_error)
                        && last_error.as_ref().is_none_or(|(t, _)| *t < at)
                    {
                        last_error = Some((at, format!("{}: {e}", instance_label(name))));
                    }
                }
                let pending = sup.and_then(|s| s.next_restart);
                let failed = match links.iter().find(|(n, _)| n == name).map(|(_, s)| s) {
                    Some(Ok(InstanceState::Failed(m) | InstanceState::StartFailed(m)))
                    | Some(Err(m)) => Some(m),
                    _ => None,
                };
                if let Some(m) = failed {
                    error.get_or_insert_with(|| format!("{}: {m}", instance_label(name)));
                    if state != PluginState::Failed {
                        // Failed instances are restarted by the supervisor.
                        state = PluginState::Restarting;
                    }
                    if let Some(t) = pending {
                        next_restart = Some(next_restart.map_or(t, |n| n.min(t)));
                    }
                }
            }
            let mine: Vec<&Arc<SessionShared>> =
                live.iter().filter(|s| s.plugin == p.name).collect();
            let mut t = traffic(ended.get(&p.name).copied().unwrap_or([0; 4]));
            for s in &mine {
                add(&mut t, traffic(s.traffic()));
            }
            out.push((
                PluginInfo {
                    name: p.name.clone(),
                    file: config.plugin_path(p).display().to_string(),
                    version,
                    abi_version,
                    kind,
                    state,
                    error,
                    sessions: mine.len() as u64,
                    restarts,
                    last_error: last_error.map(|(_, e)| e),
                    next_restart_secs: next_restart
                        .map(|t| t.saturating_duration_since(now).as_secs()),
                    form_title: match slot.map(|s| &s.loaded) {
                        Some(Ok(l)) => match &l.info().form {
                            Some(Ok(form)) if !form.title.is_empty() => Some(form.title.clone()),
                            Some(_) => Some(p.name.clone()),
                            None => None,
                        },
                        _ => None,
                    },
                },
                t,
                panics,
            ));
        }
        out
    }
}

/// How an instance is named in messages: `link NAME`, or `instance` for a LAN-protocol
/// plugin's own.
fn instance_label(name: &str) -> String {
    if name.starts_with('@') {
        "instance".to_owned()
    } else {
        format!("link {name}")
    }
}

fn applied(result: Result<Applied, ApplyRefused>) -> ApiResult<ApplyResult> {
    match result {
        Ok(applied) => Ok(ApplyResult {
            version: applied.version,
            changes: describe_diff(&applied.diff),
        }),
        Err(ApplyRefused::Conflict(m)) => Err(ApiError::conflict(m)),
        Err(ApplyRefused::Busy(m)) => Err(ApiError::Unavailable(m)),
        Err(e @ ApplyRefused::UnknownVersion(_)) => Err(ApiError::not_found(e.to_string())),
        Err(ApplyRefused::Failed(m)) => Err(ApiError::internal(m)),
    }
}

impl Control for DaemonControl {
    fn status(&self) -> BoxFuture<'_, ApiResult<Status>> {
        Box::pin(async move {
            let config = self.daemon.running_config().await;
            let plugins = self
                .plugin_infos()
                .await
                .into_iter()
                .map(|(p, _, _)| PluginSummary {
                    name: p.name,
                    state: p.state,
                })
                .collect();
            let mut interfaces = Vec::new();
            match &self.daemon.router.dataplane {
                Some(dp) => interfaces.push(InterfaceStatus {
                    name: dp.tun_name().to_owned(),
                    role: "tun".into(),
                    up: true,
                    mtu: Some(dp.mtu()),
                    error: None,
                }),
                None => interfaces.push(InterfaceStatus {
                    name: config.tun.name.clone(),
                    role: "tun".into(),
                    up: false,
                    mtu: None,
                    error: Some("routerd runs without a data plane (--no-dataplane)".into()),
                }),
            }
            if let Some(lan) = &config.lan {
                let exists = dialgate_dataplane::netlink::ifindex(&lan.interface);
                interfaces.push(InterfaceStatus {
                    name: lan.interface.clone(),
                    role: "lan".into(),
                    up: exists.is_ok(),
                    mtu: None,
                    error: exists.err().map(|e| e.to_string()),
                });
            }
            Ok(Status {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                uptime_secs: self.daemon.uptime().as_secs(),
                config_version: self.daemon.current_version(),
                sessions: self.counts(),
                plugins,
                interfaces,
            })
        })
    }

    fn sessions(&self) -> BoxFuture<'_, ApiResult<Vec<SessionInfo>>> {
        Box::pin(async move { Ok(self.live().iter().map(|s| session_info(s)).collect()) })
    }

    fn session(&self, id: u64) -> BoxFuture<'_, ApiResult<SessionInfo>> {
        Box::pin(async move {
            let s = lock(&self.daemon.router.sessions).get(&id).cloned();
            s.map(|s| session_info(&s))
                .ok_or_else(|| ApiError::not_found(format!("no session {id}")))
        })
    }

    fn kill_session(&self, id: u64) -> BoxFuture<'_, ApiResult<()>> {
        Box::pin(async move {
            if self.daemon.kill_session(id, "admin").await {
                Ok(())
            } else {
                Err(ApiError::not_found(format!("no session {id}")))
            }
        })
    }

    fn users(&self) -> BoxFuture<'_, ApiResult<Vec<UserEntry>>> {
        Box::pin(async move {
            let per_user = lock(&self.daemon.router.per_user).clone();
            Ok(self
                .daemon
                .users()
                .list()
                .into_iter()
                .map(|u| UserEntry {
                    sessions: per_user.get(&u.name).copied().map_or(0, u64::from),
                    name: u.name,
                    weak_cleartext_secret: u.has_weak_cleartext_secret,
                    attrs: u.attrs,
                })
                .collect())
        })
    }

    fn set_password(&self, user: String, password: String) -> BoxFuture<'_, ApiResult<UserSet>> {
        Box::pin(async move {
            let created = self
                .daemon
                .set_password(&user, &password)
                .map_err(ApiError::bad_request)?;
            Ok(UserSet {
                name: user,
                created,
            })
        })
    }

    fn remove_user(&self, user: String) -> BoxFuture<'_, ApiResult<()>> {
        Box::pin(async move {
            match self.daemon.remove_user(&user) {
                Ok(true) => Ok(()),
                Ok(false) => Err(ApiError::not_found(format!("no user {user:?}"))),
                Err(e) => Err(ApiError::internal(e)),
            }
        })
    }

    fn user_attrs(&self, user: String) -> BoxFuture<'_, ApiResult<UserAttrs>> {
        Box::pin(async move {
            self.daemon
                .users()
                .attrs(&user)
                .ok_or_else(|| ApiError::not_found(format!("no user {user:?}")))
        })
    }

    fn set_user_attrs(
        &self,
        user: String,
        attrs: UserAttrs,
    ) -> BoxFuture<'_, ApiResult<UserAttrs>> {
        Box::pin(async move {
            self.daemon.set_user_attrs(&user, attrs)?;
            tracing::info!(user = %user, "user attributes changed");
            self.daemon
                .users()
                .attrs(&user)
                .ok_or_else(|| ApiError::not_found(format!("no user {user:?}")))
        })
    }

    fn config_version(&self, version: u64) -> BoxFuture<'_, ApiResult<ConfigShow>> {
        Box::pin(async move {
            let view = self.daemon.store_view();
            if version == view.version {
                return Ok(ConfigShow {
                    version,
                    toml: view.current.text().to_owned(),
                });
            }
            let doc = self.daemon.store().get(version)?;
            Ok(ConfigShow {
                version,
                toml: doc.text().to_owned(),
            })
        })
    }

    fn plugins(&self) -> BoxFuture<'_, ApiResult<Vec<PluginInfo>>> {
        Box::pin(async move {
            Ok(self
                .plugin_infos()
                .await
                .into_iter()
                .map(|(p, _, _)| p)
                .collect())
        })
    }

    fn restart_plugin(&self, name: String) -> BoxFuture<'_, ApiResult<PluginRestart>> {
        Box::pin(async move {
            match self.daemon.restart_plugin(&name).await {
                Ok(restarted) => Ok(PluginRestart { name, restarted }),
                Err(e @ RestartError::NotFound(_)) => Err(ApiError::not_found(e.to_string())),
                Err(RestartError::Failed(m)) => Err(ApiError::internal(m)),
            }
        })
    }

    fn config(&self) -> BoxFuture<'_, ApiResult<ConfigShow>> {
        Box::pin(async move {
            let view = self.daemon.store_view();
            Ok(ConfigShow {
                version: view.version,
                toml: view.current.text().to_owned(),
            })
        })
    }

    fn check_config(&self, toml: String) -> BoxFuture<'_, ApiResult<CheckReport>> {
        Box::pin(async move {
            let current = self.daemon.store_view().current;
            let mut report = check_document(&toml, Some(&current));
            if report.valid
                && let Ok(doc) = Document::parse(crate::api::API_DOCUMENT_NAME, toml)
            {
                // Each link's settings against its plugin's form (plugin ABI 1.3), with the
                // plugins loaded now.
                let slots = self.daemon.plugin_slots().await;
                let mut issues = link_config_issues(doc.config(), |name| {
                    let slot = slots.iter().find(|s| s.config.name == name)?;
                    match &slot.loaded.as_ref().ok()?.info().form {
                        Some(Ok(form)) => Some(form),
                        _ => None,
                    }
                });
                issues.extend(hardware_issues(doc.config()));
                if !issues.is_empty() {
                    report.valid = false;
                    report.changes.clear();
                    report.errors = issues;
                }
            }
            Ok(report)
        })
    }

    fn session_pcap(&self, id: u64) -> BoxFuture<'_, ApiResult<Vec<u8>>> {
        Box::pin(async move {
            let s = lock(&self.daemon.router.sessions)
                .values()
                .find(|s| s.id == id)
                .cloned()
                .ok_or_else(|| ApiError::not_found(format!("no session {id}")))?;
            let capture = s.capture.as_ref().ok_or_else(|| {
                ApiError::not_found(format!(
                    "session {id} captures nothing: it started with [limits] capture_packets = 0"
                ))
            })?;
            Ok(capture.pcap(s.started, s.started_at))
        })
    }

    fn plugin_schema(&self, name: String) -> BoxFuture<'_, ApiResult<PluginSchema>> {
        Box::pin(async move {
            let slots = self.daemon.plugin_slots().await;
            let Some(slot) = slots.iter().find(|s| s.config.name == name) else {
                return Err(ApiError::not_found(format!(
                    "no plugin {name:?} is configured"
                )));
            };
            Ok(match &slot.loaded {
                Ok(l) => {
                    let info = l.info();
                    let (form, error) = match &info.form {
                        Some(Ok(f)) => (Some(f.clone()), None),
                        Some(Err(e)) => (
                            None,
                            Some(format!("its configuration form is malformed: {e}")),
                        ),
                        None => (None, None),
                    };
                    PluginSchema {
                        plugin: name,
                        abi_version: Some(info.abi_version.to_string()),
                        form,
                        error,
                    }
                }
                Err(e) => PluginSchema {
                    plugin: name,
                    abi_version: None,
                    form: None,
                    error: Some(format!("not loaded: {e}")),
                },
            })
        })
    }

    fn apply_config(&self, request: ApplyRequest) -> BoxFuture<'_, ApiResult<ApplyResult>> {
        Box::pin(async move {
            let doc = Document::parse(crate::api::API_DOCUMENT_NAME, request.toml)?;
            let issues = hardware_issues(doc.config());
            if !issues.is_empty() {
                return Err(ApiError::InvalidConfig(issues));
            }
            let reason = request
                .reason
                .unwrap_or_else(|| "applied through the management API".into());
            applied(
                self.daemon
                    .apply_queued(doc, reason, request.base_version)
                    .await,
            )
        })
    }

    fn rollback(&self, version: u64) -> BoxFuture<'_, ApiResult<ApplyResult>> {
        Box::pin(async move { applied(self.daemon.rollback_queued(version).await) })
    }

    fn history(&self) -> BoxFuture<'_, ApiResult<History>> {
        Box::pin(async move {
            let view = self.daemon.store_view();
            Ok(History {
                current: view.version,
                versions: view.history,
            })
        })
    }

    fn logs(&self, query: LogQuery) -> BoxFuture<'_, ApiResult<Vec<LogLine>>> {
        Box::pin(async move { Ok(self.logs.query(&query)) })
    }

    fn metrics(&self) -> BoxFuture<'_, ApiResult<MetricsSnapshot>> {
        Box::pin(async move {
            let router = &self.daemon.router;
            let plugins = self.plugin_infos().await;
            let mut total = Traffic::default();
            for (_, t, _) in &plugins {
                add(&mut total, *t);
            }
            let mut drops = BTreeMap::new();
            if let Some(dp) = &router.dataplane {
                let c = dp.stats.snapshot();
                for (k, v) in [
                    ("no_session", c.drop_no_session),
                    ("spoofed", c.drop_spoofed),
                    ("malformed", c.drop_malformed),
                    ("queue_full", c.drop_queue_full),
                    ("tun_write", c.drop_tun_write),
                    ("too_large", c.drop_too_large),
                ] {
                    drops.insert(k.to_owned(), v);
                }
            }
            let lost = router.accounting.lost.load(Ordering::Relaxed);
            if lost > 0 {
                drops.insert("accounting_records".into(), lost);
            }
            let mut auth_failures = BTreeMap::new();
            auth_failures.insert(
                "rejected".to_owned(),
                router.stats.auth_failures.load(Ordering::Relaxed),
            );
            auth_failures.insert(
                "per_user_limit".to_owned(),
                router.stats.refused_per_user.load(Ordering::Relaxed),
            );
            auth_failures.insert(
                "locked_out".to_owned(),
                router.stats.refused_lockout.load(Ordering::Relaxed),
            );
            auth_failures.insert(
                "not_allowed".to_owned(),
                router.stats.refused_not_allowed.load(Ordering::Relaxed),
            );
            let lan = router.stats.lan_dropped.load(Ordering::Relaxed);
            if lan > 0 {
                drops.insert("lan_protocol".into(), lan);
            }
            let too_long = router.stats.packet_too_long.load(Ordering::Relaxed);
            if too_long > 0 {
                drops.insert("packet_too_long".into(), too_long);
            }
            Ok(MetricsSnapshot {
                uptime_secs: self.daemon.uptime().as_secs(),
                sessions: self.counts(),
                sessions_started: router.stats.sessions_started.load(Ordering::Relaxed),
                sessions_ended: lock(&router.stats.end_reasons).clone(),
                traffic: total,
                drops,
                auth_failures,
                plugin_counters: lock(&router.stats.plugin_counters)
                    .iter()
                    .map(|((plugin, link, name), value)| PluginCounter {
                        plugin: plugin.clone(),
                        link: link.clone(),
                        name: name.clone(),
                        value: *value,
                    })
                    .collect(),
                auth_lockouts: router.stats.auth_lockouts.load(Ordering::Relaxed),
                plugins: plugins
                    .into_iter()
                    .map(|(p, t, panics)| PluginMetrics {
                        restarts: p.restarts,
                        name: p.name,
                        state: p.state,
                        sessions: p.sessions,
                        traffic: t,
                        errors: 0,
                        panics,
                    })
                    .collect(),
            })
        })
    }

    fn system_info(&self) -> BoxFuture<'_, ApiResult<SystemInfo>> {
        Box::pin(async move {
            let config = self.daemon.running_config().await;
            let tun = match &self.daemon.router.dataplane {
                Some(dp) => dp.tun_name().to_owned(),
                None => config.tun.name.clone(),
            };
            let lan = config.lan.as_ref().map(|l| l.interface.clone());
            let mut info = tokio::task::spawn_blocking(|| SystemReader::default().read())
                .await
                .map_err(|e| ApiError::internal(format!("reading the system: {e}")))?;
            for i in &mut info.interfaces {
                if i.name == tun {
                    i.role = Some("tun".to_owned());
                } else if lan.as_deref() == Some(i.name.as_str()) {
                    i.role = Some("lan".to_owned());
                }
            }
            Ok(info)
        })
    }

    fn reboot(&self) -> BoxFuture<'_, ApiResult<RebootStarted>> {
        Box::pin(async move {
            let command = self.daemon.running_config().await.system.reboot_command;
            let Some((program, args)) = command.split_first() else {
                return Err(ApiError::conflict(
                    "rebooting through the API is disabled (system.reboot_command is empty)",
                ));
            };
            tracing::warn!(?command, "reboot requested through the management API");
            let child = tokio::process::Command::new(program)
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| ApiError::internal(format!("{program}: {e}")))?;
            let out = tokio::time::timeout(REBOOT_COMMAND_TIMEOUT, child.wait_with_output())
                .await
                .map_err(|_| {
                    ApiError::internal(format!(
                        "{program} did not finish within {REBOOT_COMMAND_TIMEOUT:?}"
                    ))
                })?
                .map_err(|e| ApiError::internal(format!("{program}: {e}")))?;
            if !out.status.success() {
                let stderr: String = String::from_utf8_lossy(&out.stderr)
                    .chars()
                    .take(512)
                    .collect();
                return Err(ApiError::internal(format!(
                    "{program} failed ({}): {}",
                    out.status,
                    stderr.trim()
                )));
            }
            Ok(RebootStarted { command })
        })
    }

    fn stats_history(&self) -> BoxFuture<'_, ApiResult<StatsHistory>> {
        Box::pin(async move {
            let points = lock(&self.stats).points();
            let host = HostReader::default();
            let cpus = std::fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|t| crate::api::stats::CpuTimes::parse(&t))
                .map(|c| c.cpus);
            Ok(StatsHistory {
                interval_secs: SAMPLE_INTERVAL.as_secs(),
                points,
                memory: host.memory(),
                cpus,
            })
        })
    }

    fn upgrade_dir(&self) -> BoxFuture<'_, Option<std::path::PathBuf>> {
        Box::pin(async move { Some(self.daemon.running_config().await.system.upgrade_dir()) })
    }

    fn hardware(&self) -> BoxFuture<'_, ApiResult<crate::hardware::HardwareInfo>> {
        Box::pin(async move {
            let config = self.daemon.running_config().await;
            let path = config.system.hw_profile();
            tokio::task::spawn_blocking(move || crate::hardware::HardwareInfo::read(&path, &config))
                .await
                .map_err(|_| ApiError::internal("reading the hardware profile stopped"))
        })
    }
}

/// The problems the box's hardware profile (`system.hw_profile`, when the file exists) finds
/// in `config`'s serial links, as configuration issues. An unreadable profile is no issue of
/// the configuration (`GET /v1/system/hardware` reports it).
fn hardware_issues(config: &crate::config::Config) -> Vec<ConfigIssue> {
    let Ok(Some(profile)) = crate::hardware::read_profile(&config.system.hw_profile()) else {
        return Vec::new();
    };
    crate::hardware::check_links(&profile, config)
        .into_iter()
        .map(|p| ConfigIssue {
            file: crate::api::API_DOCUMENT_NAME.to_owned(),
            line: None,
            column: None,
            field: p.field,
            message: p.message,
        })
        .collect()
}

/// The management API's listeners; dropping it (or [`ApiServer::shutdown`]) stops them.
#[derive(Debug)]
pub struct ApiServer {
    stop: Arc<tokio::sync::Notify>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    sampler: tokio::task::JoinHandle<()>,
    socket: std::path::PathBuf,
}

impl ApiServer {
    /// Binds the API socket (`management.socket`; its directory is created, mode 0755, if
    /// missing) and the metrics listener (`management.metrics_listen`, if set), and serves
    /// them for `daemon`.
    pub async fn start(
        daemon: Arc<Daemon>,
        logs: LogRing,
        management: &crate::config::ManagementConfig,
    ) -> Result<ApiServer, String> {
        use std::os::unix::fs::DirBuilderExt;
        let daemon_control = DaemonControl::new(daemon, logs);
        let control: Arc<dyn Control> = Arc::new(daemon_control.clone());
        let stop = Arc::new(tokio::sync::Notify::new());
        let socket = management.socket.clone();
        if let Some(dir) = socket.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let listener = crate::api::bind_unix(&socket).map_err(|e| e.to_string())?;
        let mut tasks = Vec::new();
        let s = stop.clone();
        let c = control.clone();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move { s.notified().await };
            if let Err(e) = crate::api::serve_unix(listener, c, shutdown).await {
                tracing::error!("management API: {e}");
            }
        }));
        if let Some(addr) = management.metrics_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("metrics listener {addr}: {e}"))?;
            let s = stop.clone();
            tasks.push(tokio::spawn(async move {
                let shutdown = async move { s.notified().await };
                if let Err(e) = crate::api::serve_metrics(listener, control, shutdown).await {
                    tracing::error!("metrics listener: {e}");
                }
            }));
        }
        tracing::info!(socket = %socket.display(), "management API listening");
        let sampler = tokio::spawn(daemon_control.run_sampler());
        Ok(ApiServer {
            stop,
            tasks,
            sampler,
            socket,
        })
    }

    /// Stops serving and removes the socket file.
    pub async fn shutdown(mut self) {
        self.sampler.abort();
        self.stop.notify_waiters();
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), t).await;
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.sampler.abort();
        self.stop.notify_waiters();
        for t in &self.tasks {
            t.abort();
        }
    }
}
