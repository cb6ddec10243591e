//! The routerd runtime: plugin instances as actors on tokio, sessions, the TUN data plane,
//! configuration applied as a diff, accounting, and the management API's daemon side.
//!
//! - [`Daemon`]: starts everything from a [`Document`], applies configuration changes
//!   ([`Daemon::apply`], rolled back on failure, queued when they arrive together), restarts
//!   failed plugin instances (a supervisor task: after 1 s, doubling to 60 s, reset once an
//!   instance stayed up for a minute; [`Daemon::restart_plugin`] on request), and stops
//!   cleanly.
//! - [`actor`]: one tokio task per plugin instance, the only caller of that instance; the
//!   instance's host callbacks ([`actor::PluginHost`]) never block and never re-enter it.
//! - [`session`]: a PPP engine per call (or a relay to a call on another link), teardown with
//!   reasons, counters, accounting records.
//! - [`dataplane`]: the TUN device, address -> session routes, kernel routes and sysctls.
//! - [`io`], [`tty`]: the descriptors plugins ask for (ttys with termios, TCP listeners and
//!   connections, raw IP sockets, packet sockets).
//! - [`lan`]: LAN-protocol plugins (one instance per enabled plugin, named `@plugin`): the
//!   protocols they register, the NCPs sessions then negotiate, their datagrams both ways.
//! - [`auth_guard`]: the per-source authentication-failure lockout and each session's
//!   authentication backend (per-user limit right after authentication).
//! - [`caps`]: dropping every capability but the three routerd needs.

pub mod accounting;
pub mod actor;
pub mod auth_guard;
pub mod buffers;
pub mod caps;
pub mod capture;
pub mod clock;
pub mod control;
pub mod dataplane;
pub mod io;
pub mod lan;
pub mod reservation;
pub mod router;
pub mod session;
pub mod spec;
pub mod tty;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dialgate_dataplane::SharedIpv4Pool;
use dialgate_plugin_host::{LoadedPlugin, host_box};
use tokio::sync::{Mutex as AsyncMutex, oneshot};
use tokio::task::JoinHandle;

use self::accounting::Accounting;
use self::actor::{Actor, ActorMsg, Command, InstanceShared, InstanceState, PluginHost};
use self::dataplane::DataPlane;
use self::router::{Router, SessionView, lock};
use self::spec::{LinkSpec, link_spec};
use crate::config::{
    Config, ConfigDiff, Document, LanConfig, LinkConfig, LinkRole, PluginConfig, PoolConfig,
    PppSettings,
};
use crate::store::{Applied, ApplyError, ConfigStore, VersionInfo};
use crate::users::UserStore;

/// How long stopping a plugin instance may take before its task is aborted.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a plugin instance's `start` may take before the apply fails.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// The first automatic restart of a failed plugin instance comes this long after the failure;
/// each further failure doubles the wait, up to [`RESTART_MAX`].
pub const RESTART_MIN: Duration = Duration::from_secs(1);
/// The longest wait before an automatic restart.
pub const RESTART_MAX: Duration = Duration::from_secs(60);
/// An instance that stayed up this long starts again from [`RESTART_MIN`] when it next fails.
pub const RESTART_RESET: Duration = Duration::from_secs(60);
/// How often the supervisor looks for failed instances (it is also woken by each failure).
const SUPERVISE_TICK: Duration = Duration::from_millis(250);

/// Configuration changes (applies and rollbacks) that may wait for the one running; more are
/// refused ([`ApplyRefused::Busy`]).
pub const MAX_QUEUED_APPLIES: usize = 32;

/// Why [`Daemon::apply_queued`] or [`Daemon::rollback_queued`] did not apply anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyRefused {
    /// When its turn came, the current version was not the `base_version` the caller said
    /// the change was made against.
    Conflict(String),
    /// Too many changes are waiting already.
    Busy(String),
    /// The version to roll back to is not kept.
    UnknownVersion(u64),
    /// Applying failed (and was rolled back), or the store failed.
    Failed(String),
}

impl std::fmt::Display for ApplyRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyRefused::Conflict(m) | ApplyRefused::Busy(m) | ApplyRefused::Failed(m) => {
                f.write_str(m)
            }
            ApplyRefused::UnknownVersion(v) => {
                write!(f, "configuration version {v} is not kept")
            }
        }
    }
}

/// What readers (the management API) see of the configuration store. Updated after every
/// change, so that reading it never waits for an apply in progress.
#[derive(Debug, Clone)]
pub struct StoreView {
    /// The current version.
    pub version: u64,
    /// The current document.
    pub current: Document,
    /// The kept versions, oldest first.
    pub history: Vec<VersionInfo>,
}

impl StoreView {
    fn of(store: &ConfigStore) -> Self {
        StoreView {
            version: store.current_version(),
            current: store.current().clone(),
            history: store.history().to_vec(),
        }
    }
}

/// How routerd runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Run without the TUN device (no IP data plane; sessions still negotiate). For tests
    /// without root and for pure relay (PAC) boxes.
    pub no_dataplane: bool,
    /// Use this state directory instead of the configuration's `system.state_dir`.
    pub state_dir: Option<PathBuf>,
}

/// Everything about a link (or a LAN-protocol plugin's instance) that, when it changes,
/// restarts the instance.
#[derive(Debug, Clone, PartialEq)]
struct Fingerprint {
    link: Option<LinkConfig>,
    plugin: PluginConfig,
    plugin_path: PathBuf,
    ppp: Option<PppSettings>,
    pool: Option<PoolConfig>,
    lan: Option<LanConfig>,
}

impl Fingerprint {
    fn of(config: &Config, link: &LinkConfig, plugin: &PluginConfig) -> Self {
        Fingerprint {
            link: Some(link.clone()),
            plugin: plugin.clone(),
            plugin_path: config.plugin_path(plugin),
            ppp: Some(config.effective_ppp(link)),
            pool: link.pool.as_deref().and_then(|p| config.pool(p)).cloned(),
            lan: config.lan.clone(),
        }
    }

    /// A LAN-protocol plugin's instance: its `[[plugin]]` entry only.
    fn lan_instance(config: &Config, plugin: &PluginConfig) -> Self {
        Fingerprint {
            link: None,
            plugin: plugin.clone(),
            plugin_path: config.plugin_path(plugin),
            ppp: None,
            pool: None,
            lan: None,
        }
    }
}

/// Whether a loaded plugin is a LAN-protocol plugin.
fn is_lan(loaded: &LoadedPlugin) -> bool {
    loaded.info().kind == dialgate_plugin_host::abi::PluginKind::LAN_PROTOCOL
}

/// A running link: its plugin instance's actor.
#[derive(Debug)]
struct LinkSlot {
    fingerprint: Fingerprint,
    shared: Arc<InstanceShared>,
    join: JoinHandle<()>,
}

impl LinkSlot {
    fn is_running(&self) -> bool {
        !self.join.is_finished()
            && matches!(
                *lock(&self.shared.state),
                InstanceState::Running | InstanceState::Starting
            )
    }
}

/// A plugin from the configuration: loaded, or why not.
#[derive(Debug, Clone)]
pub struct PluginSlot {
    /// Its configuration.
    pub config: PluginConfig,
    /// The file.
    pub path: PathBuf,
    /// The loaded library, or the load error.
    pub loaded: Result<LoadedPlugin, String>,
}

/// The restart bookkeeping of one plugin instance (a link's).
#[derive(Debug, Clone)]
pub struct Supervision {
    /// Restarts so far: automatic ones and those asked for through the API.
    pub restarts: u64,
    /// The last failure (a panic, a failed start), even after a restart succeeded.
    pub last_error: Option<String>,
    /// When the last failure happened (wall clock).
    pub last_failure: Option<crate::time::Timestamp>,
    /// When the next automatic restart is due, if one is.
    pub next_restart: Option<Instant>,
    /// The wait before the next automatic restart after a failure.
    backoff: Duration,
    /// Running since (reset the backoff once it stayed up).
    up_since: Option<Instant>,
}

impl Default for Supervision {
    fn default() -> Self {
        Supervision {
            restarts: 0,
            last_error: None,
            last_failure: None,
            next_restart: None,
            backoff: RESTART_MIN,
            up_since: None,
        }
    }
}

impl Supervision {
    /// The instance failed at `now`: schedule a restart after the backoff, then double it.
    fn failed(&mut self, error: String, now: Instant) {
        self.last_error = Some(error);
        self.last_failure = Some(crate::time::Timestamp::now());
        self.up_since = None;
        self.next_restart = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(RESTART_MAX);
    }

    /// The instance (re)started at `now`.
    fn started(&mut self, now: Instant) {
        self.next_restart = None;
        self.up_since = Some(now);
    }

    /// The instance is running at `now`: forget earlier failures' backoff once it stayed up.
    fn running(&mut self, now: Instant) {
        match self.up_since {
            Some(since) if now.saturating_duration_since(since) >= RESTART_RESET => {
                self.backoff = RESTART_MIN;
            }
            Some(_) => {}
            None => self.up_since = Some(now),
        }
    }
}

/// Why [`Daemon::restart_plugin`] did not restart everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartError {
    /// No plugin or link has that name.
    NotFound(String),
    /// Restarting failed (the instances are restarted automatically later).
    Failed(String),
}

impl std::fmt::Display for RestartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestartError::NotFound(n) => write!(f, "no plugin or link named {n:?}"),
            RestartError::Failed(m) => f.write_str(m),
        }
    }
}

/// What runs now.
#[derive(Debug, Default)]
struct Running {
    config: Config,
    plugins: HashMap<String, PluginSlot>,
    pools: HashMap<String, (PoolConfig, Arc<SharedIpv4Pool>)>,
    links: HashMap<String, LinkSlot>,
    /// Links that failed to start, and why (shown by the API).
    link_errors: HashMap<String, String>,
    /// Restart bookkeeping by link name.
    supervision: HashMap<String, Supervision>,
}

/// The daemon.
#[derive(Debug)]
pub struct Daemon {
    /// Shared with every actor.
    pub router: Arc<Router>,
    running: AsyncMutex<Running>,
    store: Arc<std::sync::Mutex<ConfigStore>>,
    users: std::sync::Mutex<UserStore>,
    state_dir: PathBuf,
    started: Instant,
    /// Serializes configuration changes: a fair (FIFO) lock, so concurrent changes queue
    /// and run one after the other, each against the configuration the previous one left.
    apply_lock: AsyncMutex<()>,
    /// Changes waiting for `apply_lock`.
    applies_waiting: AtomicUsize,
    /// The store as readers see it.
    view: std::sync::RwLock<StoreView>,
    /// Set by [`shutdown`](Self::shutdown): nothing is restarted any more.
    stopping: std::sync::atomic::AtomicBool,
}

fn create_state_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

impl Daemon {
    /// Starts routerd with `initial`: opens (or creates) the configuration store in the state
    /// directory, where `initial` becomes the current version when it differs; opens the
    /// users and the accounting log; creates the data plane; starts every enabled link.
    pub async fn start(initial: &Document, options: Options) -> Result<Arc<Daemon>, String> {
        let config = initial.config();
        let state_dir = options
            .state_dir
            .clone()
            .unwrap_or_else(|| config.system.state_dir.clone());
        create_state_dir(&state_dir)
            .map_err(|e| format!("state directory {}: {e}", state_dir.display()))?;
        let store_dir = state_dir.join("config");
        let mut store = ConfigStore::open_or_init(&store_dir, initial, "initial configuration")
            .map_err(|e| format!("configuration store {}: {e}", store_dir.display()))?;
        if store.current().text() != initial.text() {
            store
                .apply(
                    initial,
                    "routerd started with this configuration",
                    |_, _| Ok::<(), String>(()),
                )
                .map_err(describe_apply_error)?;
        }
        let config = store.current().config().clone();
        let users =
            UserStore::open(&state_dir.join("users.toml")).map_err(|e| format!("users: {e}"))?;
        let local_users = users.to_local_users().map_err(|e| format!("users: {e}"))?;
        let accounting_path = if options.state_dir.is_some() {
            state_dir.join(&config.accounting.path)
        } else {
            config.accounting_path()
        };
        let accounting = Accounting::start(&config.accounting, accounting_path);
        let dataplane = if options.no_dataplane {
            None
        } else {
            let dp = DataPlane::create(&config).map_err(|e| format!("data plane: {e}"))?;
            Some(Arc::new(dp))
        };
        let router = Arc::new(Router::new(
            dataplane.clone(),
            local_users,
            config.limits.clone(),
            config.system.hostname.clone(),
            accounting,
        ));
        if let Some(dp) = dataplane {
            tokio::spawn(dp.run_reader(router.buffers.clone()));
        }
        let view = std::sync::RwLock::new(StoreView::of(&store));
        let daemon = Arc::new(Daemon {
            router,
            running: AsyncMutex::new(Running::default()),
            store: Arc::new(std::sync::Mutex::new(store)),
            users: std::sync::Mutex::new(users),
            state_dir,
            started: Instant::now(),
            apply_lock: AsyncMutex::new(()),
            applies_waiting: AtomicUsize::new(0),
            view,
            stopping: std::sync::atomic::AtomicBool::new(false),
        });
        {
            let mut running = daemon.running.lock().await;
            if let Err(e) = daemon.reconcile(&mut running, &config).await {
                // A link that does not start does not keep the others down.
                tracing::error!("start-up: {e}");
            }
        }
        tokio::spawn(supervise(Arc::downgrade(&daemon)));
        Ok(daemon)
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Seconds since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The configuration store. Blocks while a configuration change runs: async code that
    /// only reads should use [`store_view`](Self::store_view).
    pub fn store(&self) -> std::sync::MutexGuard<'_, ConfigStore> {
        lock(&self.store)
    }

    /// The store's current version, document and history as of the last change (never
    /// waits for a change in progress).
    pub fn store_view(&self) -> StoreView {
        self.view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The current configuration version (never waits for a change in progress).
    pub fn current_version(&self) -> u64 {
        self.view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .version
    }

    fn refresh_view(&self, store: &ConfigStore) {
        *self
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = StoreView::of(store);
    }

    /// The users file.
    pub fn users(&self) -> std::sync::MutexGuard<'_, UserStore> {
        lock(&self.users)
    }

    /// Makes the running state match `target`: loads plugins, builds pools, stops the links
    /// whose configuration changed (or that are gone), starts the missing ones. Links whose
    /// settings did not change keep running with their sessions.
    async fn reconcile(&self, running: &mut Running, target: &Config) -> Result<(), String> {
        // 1. Everything that can fail without touching running links.
        let mut plugins = HashMap::new();
        for p in &target.plugins {
            let path = target.plugin_path(p);
            let reuse = running
                .plugins
                .get(&p.name)
                .filter(|s| s.path == path && s.loaded.is_ok())
                .map(|s| s.loaded.clone());
            let loaded = match reuse {
                Some(l) => l,
                None if p.enabled => dialgate_plugin_host::load(&path).map_err(|e| e.to_string()),
                None => Err("disabled".to_owned()),
            };
            plugins.insert(
                p.name.clone(),
                PluginSlot {
                    config: p.clone(),
                    path,
                    loaded,
                },
            );
        }
        let mut pools = HashMap::new();
        for p in &target.pools {
            let pool = match running.pools.get(&p.name) {
                Some((cfg, pool)) if cfg == p => pool.clone(),
                _ => spec::build_pool(p)?,
            };
            pools.insert(p.name.clone(), (p.clone(), pool));
        }
        let mut wanted: Vec<(LinkSpec, Fingerprint, LoadedPlugin)> = Vec::new();
        let mut errors = Vec::new();
        for link in target.links.iter().filter(|l| l.enabled) {
            let Some(plugin_cfg) = target.plugin(&link.plugin).filter(|p| p.enabled) else {
                continue;
            };
            let loaded = match plugins.get(&plugin_cfg.name).map(|s| &s.loaded) {
                Some(Ok(l)) => l.clone(),
                Some(Err(e)) => {
                    errors.push(format!(
                        "link {:?}: plugin {}: {e}",
                        link.name, plugin_cfg.name
                    ));
                    continue;
                }
                None => continue,
            };
            if is_lan(&loaded) {
                errors.push(format!(
                    "link {:?}: plugin {} is a LAN-protocol plugin; links need a link plugin",
                    link.name, plugin_cfg.name
                ));
                continue;
            }
            let pool_of = |n: &str| pools.get(n).map(|(_, p)| p.clone());
            let spec = link_spec(target, link, &pool_of)?;
            wanted.push((spec, Fingerprint::of(target, link, plugin_cfg), loaded));
        }
        // Every enabled LAN-protocol plugin runs one instance.
        for plugin_cfg in target.plugins.iter().filter(|p| p.enabled) {
            if let Some(Ok(loaded)) = plugins.get(&plugin_cfg.name).map(|s| &s.loaded)
                && is_lan(loaded)
            {
                wanted.push((
                    LinkSpec::lan_instance(plugin_cfg),
                    Fingerprint::lan_instance(target, plugin_cfg),
                    loaded.clone(),
                ));
            }
        }
        if !errors.is_empty() {
            running.plugins.extend(plugins);
            return Err(errors.join("; "));
        }
        // 2. Stop links that are gone, changed, or no longer running (failed).
        let keep: Vec<String> = running
            .links
            .iter()
            .filter(|(name, slot)| {
                slot.is_running()
                    && wanted
                        .iter()
                        .any(|(s, f, _)| &s.name == *name && *f == slot.fingerprint)
            })
            .map(|(n, _)| n.clone())
            .collect();
        let stop: Vec<String> = running
            .links
            .keys()
            .filter(|n| !keep.contains(n))
            .cloned()
            .collect();
        for name in stop {
            if let Some(slot) = running.links.remove(&name) {
                stop_link(slot, "configuration changed").await;
            }
        }
        running.plugins = plugins;
        running.pools = pools;
        running.link_errors.clear();
        running.supervision.retain(|name, _| {
            target.link(name).is_some_and(|l| l.enabled)
                || wanted.iter().any(|(spec, _, _)| spec.name == *name)
        });
        // 3. Start the missing instances: LAN-protocol plugins first (sessions negotiate what
        // they registered), then dialing links (relays look their targets up).
        wanted.sort_by_key(|(s, _, _)| (!s.lan_protocol, s.role != LinkRole::Dial));
        let mut failed = None;
        for (spec, fingerprint, loaded) in wanted {
            if running.links.contains_key(&spec.name) {
                continue;
            }
            let name = spec.name.clone();
            match self.start_link(spec, fingerprint, &loaded).await {
                Ok(slot) => {
                    running.links.insert(name, slot);
                }
                Err(e) => {
                    running.link_errors.insert(name.clone(), e.clone());
                    failed.get_or_insert(format!("link {name:?}: {e}"));
                }
            }
        }
        // 4. Settings read by new sessions.
        self.router.set_limits(target.limits.clone());
        *self
            .router
            .hostname
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = target.system.hostname.clone();
        if running.config.accounting != target.accounting {
            self.router
                .accounting
                .reconfigure(&target.accounting, self.accounting_path(target));
        }
        running.config = target.clone();
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// What link `name` of the running configuration needs to start: its spec, fingerprint
    /// and plugin; `None` when it is not to run (unknown, disabled, its plugin disabled);
    /// `Err` when it cannot (its plugin did not load, its pool is missing).
    fn wanted_link(
        running: &Running,
        name: &str,
    ) -> Option<Result<(LinkSpec, Fingerprint, LoadedPlugin), String>> {
        let config = &running.config;
        if let Some(plugin_name) = name.strip_prefix('@') {
            let plugin = config.plugin(plugin_name).filter(|p| p.enabled)?;
            return match running.plugins.get(&plugin.name).map(|s| &s.loaded) {
                Some(Ok(l)) if is_lan(l) => Some(Ok((
                    LinkSpec::lan_instance(plugin),
                    Fingerprint::lan_instance(config, plugin),
                    l.clone(),
                ))),
                Some(Ok(_)) => None,
                Some(Err(e)) => Some(Err(format!("plugin {}: {e}", plugin.name))),
                None => Some(Err(format!("plugin {} is not loaded", plugin.name))),
            };
        }
        let link = config.link(name).filter(|l| l.enabled)?;
        let plugin = config.plugin(&link.plugin).filter(|p| p.enabled)?;
        let loaded = match running.plugins.get(&plugin.name).map(|s| &s.loaded) {
            Some(Ok(l)) => l.clone(),
            Some(Err(e)) => return Some(Err(format!("plugin {}: {e}", plugin.name))),
            None => return Some(Err(format!("plugin {} is not loaded", plugin.name))),
        };
        let pool_of = |n: &str| running.pools.get(n).map(|(_, p)| p.clone());
        Some(
            link_spec(config, link, &pool_of)
                .map(|spec| (spec, Fingerprint::of(config, link, plugin), loaded)),
        )
    }

    /// Starts link `name` again (it is not running); bookkeeping in its supervision entry.
    async fn restart_link(&self, running: &mut Running, name: &str) -> Result<(), String> {
        let now = Instant::now();
        let wanted = match Self::wanted_link(running, name) {
            None => {
                running.supervision.remove(name);
                return Ok(());
            }
            Some(w) => w,
        };
        let result = match wanted {
            Ok((spec, fingerprint, loaded)) => self.start_link(spec, fingerprint, &loaded).await,
            Err(e) => Err(e),
        };
        let sup = running.supervision.entry(name.to_owned()).or_default();
        sup.restarts += 1;
        self.router
            .stats
            .plugin_restarts
            .fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(slot) => {
                sup.started(now);
                running.link_errors.remove(name);
                running.links.insert(name.to_owned(), slot);
                tracing::info!(
                    link = name,
                    restarts = sup.restarts,
                    "plugin instance restarted"
                );
                Ok(())
            }
            Err(e) => {
                sup.failed(e.clone(), now);
                tracing::warn!(
                    link = name,
                    "restarting the plugin instance failed: {e}; next attempt in {} s",
                    sup.next_restart
                        .map_or(0, |t| t.saturating_duration_since(now).as_secs())
                );
                running.link_errors.insert(name.to_owned(), e.clone());
                Err(e)
            }
        }
    }

    /// One round of supervision: failed instances are cleaned up and scheduled for a restart
    /// after their backoff; restarts that are due run; instances that stayed up get their
    /// backoff reset.
    async fn supervise_once(&self) {
        let mut running = self.running.lock().await;
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        let now = Instant::now();
        // Instances that failed since the last round.
        let failed: Vec<String> = running
            .links
            .iter()
            .filter(|(_, slot)| !slot.is_running())
            .map(|(n, _)| n.clone())
            .collect();
        for name in failed {
            let Some(slot) = running.links.remove(&name) else {
                continue;
            };
            let error = match lock(&slot.shared.state).clone() {
                InstanceState::Failed(m) | InstanceState::StartFailed(m) => m,
                other => format!("the instance ended ({other:?})"),
            };
            stop_link(slot, "plugin instance failed").await;
            let sup = running.supervision.entry(name.clone()).or_default();
            sup.failed(error.clone(), now);
            tracing::warn!(
                link = name,
                "plugin instance failed: {error}; restarting in {} s",
                sup.next_restart
                    .map_or(0, |t| t.saturating_duration_since(now).as_secs())
            );
            running.link_errors.insert(name, error);
        }
        // Links that could not start (at start-up, or after an apply) are retried too.
        let unstarted: Vec<(String, String)> = running
            .link_errors
            .iter()
            .filter(|(n, _)| !running.supervision.contains_key(*n))
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect();
        for (name, error) in unstarted {
            running
                .supervision
                .entry(name)
                .or_default()
                .failed(error, now);
        }
        let r = &mut *running;
        for (name, sup) in r.supervision.iter_mut() {
            if r.links.contains_key(name) {
                sup.running(now);
            }
        }
        let due: Vec<String> = running
            .supervision
            .iter()
            .filter(|(n, s)| {
                !running.links.contains_key(*n) && s.next_restart.is_some_and(|t| t <= now)
            })
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            let _ = self.restart_link(&mut running, &name).await;
        }
    }

    /// Restarts the instances of plugin `name` (or of link `name`) now, whatever their state,
    /// and resets their backoff; a plugin whose library failed to load is loaded again.
    /// Returns the links restarted.
    pub async fn restart_plugin(&self, name: &str) -> Result<Vec<String>, RestartError> {
        let mut running = self.running.lock().await;
        if self.stopping.load(Ordering::SeqCst) {
            return Err(RestartError::Failed("routerd is shutting down".into()));
        }
        let config = running.config.clone();
        let targets: Vec<String> = if let Some(p) = config.plugin(name) {
            if p.enabled
                && let Some(slot) = running.plugins.get_mut(name)
                && slot.loaded.is_err()
            {
                slot.loaded = dialgate_plugin_host::load(&slot.path).map_err(|e| e.to_string());
            }
            let lan = running
                .plugins
                .get(name)
                .and_then(|s| s.loaded.as_ref().ok())
                .is_some_and(is_lan);
            config
                .links
                .iter()
                .filter(|l| l.plugin == name && l.enabled)
                .map(|l| l.name.clone())
                .chain(lan.then(|| spec::lan_instance_name(name)))
                .collect()
        } else if config.link(name).is_some() {
            vec![name.to_owned()]
        } else {
            return Err(RestartError::NotFound(name.to_owned()));
        };
        let mut errors = Vec::new();
        for link in &targets {
            if let Some(slot) = running.links.remove(link) {
                stop_link(slot, "plugin restarted by the administrator").await;
            }
            let sup = running.supervision.entry(link.clone()).or_default();
            sup.backoff = RESTART_MIN;
            sup.next_restart = None;
            tracing::info!(link, "restart requested");
            if let Err(e) = self.restart_link(&mut running, link).await {
                errors.push(format!("link {link:?}: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(targets)
        } else {
            Err(RestartError::Failed(errors.join("; ")))
        }
    }

    /// The restart bookkeeping of every instance that failed or was restarted, by link.
    pub async fn supervision(&self) -> HashMap<String, Supervision> {
        self.running.lock().await.supervision.clone()
    }

    fn accounting_path(&self, config: &Config) -> PathBuf {
        if config.accounting.path.is_absolute() {
            config.accounting.path.clone()
        } else {
            self.state_dir.join(&config.accounting.path)
        }
    }

    async fn start_link(
        &self,
        spec: LinkSpec,
        fingerprint: Fingerprint,
        loaded: &LoadedPlugin,
    ) -> Result<LinkSlot, String> {
        let (shared, rx) = actor::instance_shared(spec.clone(), self.router.clone());
        let host = host_box(PluginHost(shared.clone()));
        let instance = loaded
            .instantiate(&spec.instance_config, host)
            .map_err(|e| e.to_string())?;
        if !spec.lan_protocol {
            self.router.register_link(&spec.name, shared.env.tx.clone());
        }
        let join = tokio::spawn(Actor::new(instance, shared.clone(), rx).run());
        // Wait for `start` to return, so that an apply fails when a link cannot start.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let state = lock(&shared.state).clone();
            match state {
                InstanceState::Starting if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                InstanceState::Running => break,
                other => {
                    let slot = LinkSlot {
                        fingerprint,
                        shared,
                        join,
                    };
                    stop_link(slot, "start failed").await;
                    return Err(match other {
                        InstanceState::Starting => "the plugin's start did not return".into(),
                        InstanceState::Failed(m) | InstanceState::StartFailed(m) => m,
                        _ => "stopped during start".into(),
                    });
                }
            }
        }
        Ok(LinkSlot {
            fingerprint,
            shared,
            join,
        })
    }

    /// Applies `doc` through the store's transaction: the running state is reconciled to it;
    /// when that fails the previous configuration is reconciled back and the store keeps the
    /// previous version. Sessions on links the change does not touch stay up. Concurrent
    /// changes queue (see [`apply_queued`](Self::apply_queued)).
    pub async fn apply(self: &Arc<Self>, doc: Document, reason: String) -> Result<Applied, String> {
        self.apply_queued(doc, reason, None)
            .await
            .map_err(|e| e.to_string())
    }

    /// [`apply`](Self::apply), queued behind the changes already waiting: changes run one
    /// after the other in arrival order, each against the configuration the previous one
    /// produced. With `base_version`, the change is refused ([`ApplyRefused::Conflict`])
    /// unless that is still the current version when its turn comes.
    pub async fn apply_queued(
        self: &Arc<Self>,
        doc: Document,
        reason: String,
        base_version: Option<u64>,
    ) -> Result<Applied, ApplyRefused> {
        let _turn = self.wait_turn().await?;
        let current = self.current_version();
        if let Some(base) = base_version
            && base != current
        {
            return Err(ApplyRefused::Conflict(format!(
                "the current configuration is version {current}, not {base}"
            )));
        }
        self.transaction(move |this, store, handle| {
            store.apply(&doc, &reason, |diff, new| {
                handle.block_on(this.apply_runtime(diff, new.config()))
            })
        })
        .await
    }

    /// Applies kept version `version` again (see [`apply`](Self::apply)).
    pub async fn rollback(self: &Arc<Self>, version: u64) -> Result<Applied, String> {
        self.rollback_queued(version)
            .await
            .map_err(|e| e.to_string())
    }

    /// [`rollback`](Self::rollback), queued like [`apply_queued`](Self::apply_queued).
    pub async fn rollback_queued(self: &Arc<Self>, version: u64) -> Result<Applied, ApplyRefused> {
        let _turn = self.wait_turn().await?;
        if !self
            .store_view()
            .history
            .iter()
            .any(|v| v.version == version)
        {
            return Err(ApplyRefused::UnknownVersion(version));
        }
        self.transaction(move |this, store, handle| {
            store.rollback(version, "", |diff, new| {
                handle.block_on(this.apply_runtime(diff, new.config()))
            })
        })
        .await
    }

    /// Waits (in arrival order) until no other configuration change runs.
    async fn wait_turn(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, ApplyRefused> {
        if self.applies_waiting.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED_APPLIES {
            self.applies_waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApplyRefused::Busy(format!(
                "{MAX_QUEUED_APPLIES} configuration changes are waiting already"
            )));
        }
        let turn = self.apply_lock.lock().await;
        self.applies_waiting.fetch_sub(1, Ordering::SeqCst);
        Ok(turn)
    }

    /// Runs a store transaction on a blocking thread (the store writes and syncs files), the
    /// runtime part driven from there; then publishes the store's new state to readers.
    async fn transaction(
        self: &Arc<Self>,
        f: impl FnOnce(
            &Arc<Daemon>,
            &mut ConfigStore,
            &tokio::runtime::Handle,
        ) -> Result<Applied, ApplyError<String>>
        + Send
        + 'static,
    ) -> Result<Applied, ApplyRefused> {
        let this = self.clone();
        let handle = tokio::runtime::Handle::current();
        let result = tokio::task::spawn_blocking(move || {
            let store = this.store.clone();
            let mut store = lock(&store);
            let result = f(&this, &mut store, &handle);
            this.refresh_view(&store);
            result
        })
        .await
        .map_err(|e| ApplyRefused::Failed(format!("configuration change task: {e}")))?;
        result.map_err(|e| ApplyRefused::Failed(describe_apply_error(e)))
    }

    async fn apply_runtime(&self, diff: &ConfigDiff, new: &Config) -> Result<(), String> {
        let mut running = self.running.lock().await;
        let old = running.config.clone();
        for (changed, what) in [
            (diff.tun, "[tun]"),
            (diff.management, "[management]"),
            (
                old.system.state_dir != new.system.state_dir,
                "system.state_dir",
            ),
            (
                old.system.drop_capabilities != new.system.drop_capabilities,
                "system.drop_capabilities",
            ),
        ] {
            if changed {
                tracing::warn!("{what} changed: takes effect when routerd restarts");
            }
        }
        match self.reconcile(&mut running, new).await {
            Ok(()) => {
                tracing::info!("configuration applied");
                Ok(())
            }
            Err(e) => {
                tracing::warn!("applying the configuration failed: {e}; rolling back");
                if let Err(back) = self.reconcile(&mut running, &old).await {
                    tracing::error!("rolling back: {back}");
                }
                Err(e)
            }
        }
    }

    /// Sets `user`'s password (only its NT hash is stored); new sessions use it at once.
    /// Returns whether the user was created.
    pub fn set_password(&self, user: &str, password: &str) -> Result<bool, String> {
        let mut users = lock(&self.users);
        let created = !users.contains(user);
        users
            .set_password(user, password)
            .map_err(|e| e.to_string())?;
        let local = users.to_local_users().map_err(|e| e.to_string())?;
        self.router.set_users(local);
        Ok(created)
    }

    /// Removes `user`; whether it existed. Its sessions stay up.
    pub fn remove_user(&self, user: &str) -> Result<bool, String> {
        let mut users = lock(&self.users);
        let existed = users.remove(user).map_err(|e| e.to_string())?;
        let local = users.to_local_users().map_err(|e| e.to_string())?;
        self.router.set_users(local);
        Ok(existed)
    }

    /// Live sessions.
    pub fn sessions(&self) -> Vec<SessionView> {
        lock(&self.router.sessions)
            .values()
            .map(|s| s.view())
            .collect()
    }

    /// One session.
    pub fn session(&self, id: u64) -> Option<SessionView> {
        lock(&self.router.sessions).get(&id).map(|s| s.view())
    }

    /// Ends session `id` with `reason`; whether it existed.
    pub async fn kill_session(&self, id: u64, reason: &str) -> bool {
        let Some(link) = lock(&self.router.sessions).get(&id).map(|s| s.link.clone()) else {
            return false;
        };
        let Some(tx) = self.router.link_tx(&link) else {
            return false;
        };
        let (done, answer) = oneshot::channel();
        let cmd = Command::Kill {
            session: id,
            reason: reason.to_owned(),
            done,
        };
        if tx.send(ActorMsg::Command(cmd)).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// Sends a raw frame on a link of a running link (diagnostics and tests).
    pub async fn send_raw_frame(&self, link_name: &str, link: u64, frame: &[u8]) -> bool {
        let Some(tx) = self.router.link_tx(link_name) else {
            return false;
        };
        let cmd = Command::SendFrame {
            link: dialgate_plugin_host::abi::LinkId(link),
            buf: frame.to_vec(),
        };
        tx.send(ActorMsg::Command(cmd)).await.is_ok()
    }

    /// Each configured link: its instance state, or why it did not start.
    pub async fn link_states(&self) -> Vec<(String, Result<InstanceState, String>)> {
        let running = self.running.lock().await;
        let mut out: Vec<(String, Result<InstanceState, String>)> = running
            .links
            .iter()
            .map(|(n, s)| (n.clone(), Ok(lock(&s.shared.state).clone())))
            .collect();
        for (n, e) in &running.link_errors {
            if !running.links.contains_key(n) {
                out.push((n.clone(), Err(e.clone())));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The configured plugins and their load results.
    pub async fn plugin_slots(&self) -> Vec<PluginSlot> {
        let running = self.running.lock().await;
        let mut v: Vec<PluginSlot> = running.plugins.values().cloned().collect();
        v.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        v
    }

    /// The configuration running now.
    pub async fn running_config(&self) -> Config {
        self.running.lock().await.config.clone()
    }

    /// Stops every link (their sessions end with `reason`), restores the kernel settings and
    /// flushes the accounting log.
    pub async fn shutdown(&self, reason: &str) {
        self.stopping.store(true, Ordering::SeqCst);
        let mut running = self.running.lock().await;
        let slots: Vec<LinkSlot> = running.links.drain().map(|(_, s)| s).collect();
        for slot in slots {
            stop_link(slot, reason).await;
        }
        if let Some(dp) = &self.router.dataplane {
            dp.shutdown();
        }
        let acct = self.router.accounting.clone();
        let _ = tokio::task::spawn_blocking(move || acct.flush_blocking()).await;
    }
}

/// Supervises the plugin instances of `daemon` until it is gone: each failure wakes it, and
/// it looks every [`SUPERVISE_TICK`] for restarts that are due.
async fn supervise(daemon: std::sync::Weak<Daemon>) {
    loop {
        let Some(router) = daemon.upgrade().map(|d| d.router.clone()) else {
            return;
        };
        let _ = tokio::time::timeout(SUPERVISE_TICK, router.instance_failed.notified()).await;
        drop(router);
        let Some(d) = daemon.upgrade() else {
            return;
        };
        d.supervise_once().await;
    }
}

fn describe_apply_error(e: ApplyError<String>) -> String {
    match e {
        ApplyError::Invalid(errors) => errors.to_string(),
        ApplyError::Store(e) => format!("configuration store: {e}"),
        ApplyError::Rejected(e) => format!("applying failed and was rolled back: {e}"),
        ApplyError::RestoreFailed { rejected, restore } => {
            format!(
                "applying failed ({rejected}) and restoring the previous file failed: {restore}"
            )
        }
        ApplyError::Commit(e) => format!("the configuration runs but was not committed: {e}"),
    }
}

async fn stop_link(slot: LinkSlot, reason: &str) {
    let (done, answer) = oneshot::channel();
    let cmd = Command::Stop {
        reason: reason.to_owned(),
        done,
    };
    let LinkSlot {
        shared, mut join, ..
    } = slot;
    if shared.env.tx.send(ActorMsg::Command(cmd)).await.is_ok() {
        let _ = tokio::time::timeout(STOP_TIMEOUT, answer).await;
    }
    if tokio::time::timeout(STOP_TIMEOUT, &mut join).await.is_err() {
        tracing::warn!(
            link = shared.env.spec.name,
            "plugin instance did not stop: aborted"
        );
        join.abort();
    }
    let _ = lock(&shared.io).len();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_backoff_doubles_to_a_minute_and_resets_after_staying_up() {
        let t0 = Instant::now();
        let mut s = Supervision::default();
        let mut now = t0;
        let mut waits = Vec::new();
        for _ in 0..9 {
            s.failed("boom".into(), now);
            let at = s.next_restart.unwrap_or(now);
            waits.push(at.saturating_duration_since(now).as_secs());
            now = at;
            s.started(now);
            // It fails again soon after each restart.
            s.running(now + Duration::from_secs(5));
            now += Duration::from_secs(5);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(s.last_error.as_deref(), Some("boom"));
        // Up for a minute: the next failure waits 1 s again.
        s.running(now + RESTART_RESET);
        now += RESTART_RESET;
        s.failed("again".into(), now);
        assert_eq!(s.next_restart, Some(now + RESTART_MIN));
        assert_eq!(s.last_error.as_deref(), Some("again"));
    }

    #[test]
    fn a_restart_clears_the_schedule() {
        let t0 = Instant::now();
        let mut s = Supervision::default();
        s.failed("boom".into(), t0);
        assert!(s.next_restart.is_some());
        s.started(t0 + RESTART_MIN);
        assert_eq!(s.next_restart, None);
        assert_eq!(s.up_since, Some(t0 + RESTART_MIN));
    }
}
