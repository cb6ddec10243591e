//! State shared by every plugin actor: the session registry, users, limits, accounting and
//! the data plane.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Instant;

use dialgate_ppp::auth::LocalUsers;
use serde::Serialize;

use tokio::sync::mpsc;

use super::accounting::Accounting;
use super::actor::ActorMsg;
use super::auth_guard::{AuthFailureLimits, AuthFailures, MAX_SOURCES, Recorded};
use super::buffers::BufPool;
use super::dataplane::DataPlane;
use super::lan::LanRegistry;
use crate::config::LimitsConfig;
use crate::time::Timestamp;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a session is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionMode {
    /// The PPP engine runs here, authenticating the peer (server, PNS).
    Terminate,
    /// The PPP engine runs here, authenticated by the peer (dial-out client).
    Dial,
    /// Frames are passed untouched to another link (PAC / front end).
    Relay,
}

/// The mutable description of a session (what `sessions show` prints).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SessionMeta {
    /// The authenticated user (ours on a dial-out session), empty before authentication.
    pub user: String,
    /// The peer as the link plugin describes it.
    pub peer: String,
    /// Calling number, if the plugin knows it.
    pub calling_number: String,
    /// Called number, if the plugin knows it.
    pub called_number: String,
    /// The PPP phase or relay state.
    pub state: String,
    /// The client's IPv4 address (server sessions) or ours (dial-out sessions).
    pub ipv4: Option<Ipv4Addr>,
    /// The other end's IPv4 address, if known.
    pub peer_ipv4: Option<Ipv4Addr>,
    /// The /64 delegated to the client.
    pub ipv6_prefix: Option<Ipv6Addr>,
    /// The encryption in force, e.g. `MPPE-128 stateless`.
    pub encryption: Option<String>,
    /// MPPE key bits and statelessness, when MPPE runs.
    #[serde(skip)]
    pub mppe: Option<(u16, bool)>,
    /// The relay's other link, `link/id`.
    pub relayed_to: Option<String>,
    /// MTU of IP datagrams over the session.
    pub mtu: u16,
}

/// Per-session counters, updated by the owning actor.
#[derive(Debug, Default)]
pub struct SessionCounters {
    /// PPP frames received from the peer.
    pub frames_in: AtomicU64,
    /// PPP frames sent to the peer.
    pub frames_out: AtomicU64,
    /// Octets of those frames (received), without HDLC framing.
    pub bytes_in: AtomicU64,
    /// Octets of frames sent.
    pub bytes_out: AtomicU64,
    /// Network datagrams received from the peer.
    pub packets_in: AtomicU64,
    /// Octets of those datagrams (IP packets as they leave the session for the TUN).
    pub data_bytes_in: AtomicU64,
    /// Octets of the datagrams sent to the peer (IP packets as they came from the TUN).
    pub data_bytes_out: AtomicU64,
    /// Network datagrams sent to the peer.
    pub packets_out: AtomicU64,
    /// Frames or datagrams dropped.
    pub dropped: AtomicU64,
}

/// A snapshot of [`SessionCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct SessionCounts {
    pub frames_in: u64,
    pub frames_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub data_bytes_in: u64,
    pub data_bytes_out: u64,
    pub dropped: u64,
}

impl SessionCounters {
    /// A snapshot.
    pub fn snapshot(&self) -> SessionCounts {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SessionCounts {
            frames_in: g(&self.frames_in),
            frames_out: g(&self.frames_out),
            bytes_in: g(&self.bytes_in),
            bytes_out: g(&self.bytes_out),
            packets_in: g(&self.packets_in),
            packets_out: g(&self.packets_out),
            data_bytes_in: g(&self.data_bytes_in),
            data_bytes_out: g(&self.data_bytes_out),
            dropped: g(&self.dropped),
        }
    }

    /// Sets every counter from the engine's.
    pub fn set_from_engine(&self, c: &dialgate_ppp::Counters) {
        self.frames_in.store(c.rx_frames, Ordering::Relaxed);
        self.frames_out.store(c.tx_frames, Ordering::Relaxed);
        self.bytes_in.store(c.rx_bytes, Ordering::Relaxed);
        self.bytes_out.store(c.tx_bytes, Ordering::Relaxed);
        self.packets_in.store(c.rx_datagrams, Ordering::Relaxed);
        self.packets_out.store(c.tx_datagrams, Ordering::Relaxed);
        self.dropped.store(c.dropped(), Ordering::Relaxed);
    }
}

/// A session as the registry and the management API see it.
#[derive(Debug)]
pub struct SessionShared {
    /// Unique within this routerd run.
    pub id: u64,
    /// The link's name in the configuration.
    pub link: String,
    /// The plugin's id for the call.
    pub link_id: u64,
    /// The plugin serving the link.
    pub plugin: String,
    /// What it does.
    pub mode: SessionMode,
    /// When it started (wall clock).
    pub started: Timestamp,
    /// When it started (monotonic).
    pub started_at: Instant,
    /// Its description.
    pub meta: Mutex<SessionMeta>,
    /// Its counters.
    pub counters: SessionCounters,
    /// Its capture ring, when `[limits] capture_packets` was on when it started.
    /// Boxed: a session without capture pays one pointer.
    pub capture: Option<Box<super::capture::Capture>>,
}

/// A serializable view of a session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// Session id.
    pub id: u64,
    /// Link name.
    pub link: String,
    /// The plugin's call id.
    pub link_id: u64,
    /// Plugin name.
    pub plugin: String,
    /// Terminate, dial or relay.
    pub mode: SessionMode,
    /// Start time (RFC 3339, UTC).
    pub started: String,
    /// Seconds since the start.
    pub duration_secs: u64,
    /// Description.
    #[serde(flatten)]
    pub meta: SessionMeta,
    /// Counters.
    pub counters: SessionCounts,
}

impl SessionShared {
    /// Traffic as the API counts it: (bytes in, bytes out, packets in, packets out) of IP
    /// datagrams for a terminated session, of PPP frames for a relayed one.
    pub fn traffic(&self) -> [u64; 4] {
        let c = self.counters.snapshot();
        match self.mode {
            SessionMode::Relay => [c.bytes_in, c.bytes_out, c.frames_in, c.frames_out],
            _ => [
                c.data_bytes_in,
                c.data_bytes_out,
                c.packets_in,
                c.packets_out,
            ],
        }
    }

    /// A snapshot for the API.
    pub fn view(&self) -> SessionView {
        SessionView {
            id: self.id,
            link: self.link.clone(),
            link_id: self.link_id,
            plugin: self.plugin.clone(),
            mode: self.mode,
            started: self.started.to_string(),
            duration_secs: self.started_at.elapsed().as_secs(),
            meta: lock(&self.meta).clone(),
            counters: self.counters.snapshot(),
        }
    }
}

/// Router-wide counters.
#[derive(Debug, Default)]
pub struct RouterStats {
    /// Sessions started.
    pub sessions_started: AtomicU64,
    /// Sessions ended.
    pub sessions_ended: AtomicU64,
    /// Authentication failures (either direction).
    pub auth_failures: AtomicU64,
    /// Calls refused: session limit.
    pub refused_limit: AtomicU64,
    /// Sessions ended by the per-user limit.
    pub refused_per_user: AtomicU64,
    /// Sessions refused after authentication because their pool had no address.
    pub refused_pool: AtomicU64,
    /// Sources locked out after repeated authentication failures.
    pub auth_lockouts: AtomicU64,
    /// Calls (and authentications) refused because their source was locked out.
    pub refused_lockout: AtomicU64,
    /// Sessions ended because their plugin failed.
    pub plugin_failures: AtomicU64,
    /// Panics (and calls into disabled instances) by plugin.
    pub plugin_panics: Mutex<BTreeMap<String, u64>>,
    /// LAN-protocol datagrams dropped (no plugin registered, its queue full, the session or
    /// its NCP gone).
    pub lan_dropped: AtomicU64,
    /// Plugin instances restarted (automatically or on request).
    pub plugin_restarts: AtomicU64,
    /// Frames a packet socket received that were longer than a pooled buffer (dropped).
    pub packet_too_long: Arc<AtomicU64>,
    /// Session-end reasons, counted.
    pub end_reasons: Mutex<BTreeMap<String, u64>>,
    /// Traffic of ended sessions: (bytes in, bytes out, packets in, packets out) by plugin.
    pub ended_traffic: Mutex<BTreeMap<String, [u64; 4]>>,
    /// Counters plugins publish (ABI 1.1 `set_counter`): the last value by (plugin, link,
    /// counter name), at most [`MAX_PLUGIN_COUNTERS`] entries.
    pub plugin_counters: Mutex<BTreeMap<(String, String, String), u64>>,
}

/// The most plugin counters kept (names beyond it are ignored: a plugin cannot grow the map
/// without bound).
pub const MAX_PLUGIN_COUNTERS: usize = 4096;

/// Everything the actors share.
#[derive(Debug)]
pub struct Router {
    /// The data plane; `None` when running without a TUN (tests without root).
    pub dataplane: Option<Arc<DataPlane>>,
    /// Live sessions by id.
    pub sessions: Mutex<BTreeMap<u64, Arc<SessionShared>>>,
    /// The local users new sessions authenticate against.
    pub users: RwLock<Arc<LocalUsers>>,
    /// Sessions per authenticated user (for the per-user limit).
    pub per_user: Mutex<HashMap<String, u32>>,
    /// Session limits.
    pub limits: RwLock<LimitsConfig>,
    /// Authentication failures by source address.
    pub auth_failures: Mutex<AuthFailures>,
    /// Our name (CHAP authenticator name).
    pub hostname: RwLock<String>,
    /// The accounting writer.
    pub accounting: Accounting,
    /// Buffers for packets and relayed frames.
    pub buffers: BufPool,
    /// Counters.
    pub stats: RouterStats,
    /// Protocols registered by LAN-protocol plugins.
    pub lan: RwLock<LanRegistry>,
    /// Wakes the daemon's supervisor when a plugin instance fails.
    pub instance_failed: tokio::sync::Notify,
    /// Running links by name: their actors' queues (relays find their target here).
    links: RwLock<HashMap<String, mpsc::Sender<ActorMsg>>>,
    next_session: AtomicU64,
}

impl Router {
    /// A router with no sessions.
    pub fn new(
        dataplane: Option<Arc<DataPlane>>,
        users: LocalUsers,
        limits: LimitsConfig,
        hostname: String,
        accounting: Accounting,
    ) -> Self {
        Router {
            dataplane,
            sessions: Mutex::new(BTreeMap::new()),
            users: RwLock::new(Arc::new(users)),
            per_user: Mutex::new(HashMap::new()),
            auth_failures: Mutex::new(AuthFailures::new(
                AuthFailureLimits::of(&limits),
                MAX_SOURCES,
            )),
            limits: RwLock::new(limits),
            hostname: RwLock::new(hostname),
            accounting,
            buffers: BufPool::new(2048, 4096),
            stats: RouterStats::default(),
            lan: RwLock::new(LanRegistry::default()),
            instance_failed: tokio::sync::Notify::new(),
            links: RwLock::new(HashMap::new()),
            next_session: AtomicU64::new(1),
        }
    }

    /// Registers a running link's actor.
    pub fn register_link(&self, name: &str, tx: mpsc::Sender<ActorMsg>) {
        self.links
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), tx);
    }

    /// Removes a link's actor, if `tx` is still the registered one.
    pub fn unregister_link(&self, name: &str, tx: &mpsc::Sender<ActorMsg>) {
        let mut links = self.links.write().unwrap_or_else(PoisonError::into_inner);
        if links.get(name).is_some_and(|t| t.same_channel(tx)) {
            links.remove(name);
        }
    }

    /// The queue of a running link's actor.
    pub fn link_tx(&self, name: &str) -> Option<mpsc::Sender<ActorMsg>> {
        self.links
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The protocols LAN-protocol plugins registered.
    pub fn lan(&self) -> std::sync::RwLockReadGuard<'_, LanRegistry> {
        self.lan.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every running link's actor queue.
    pub fn link_txs(&self) -> Vec<(String, mpsc::Sender<ActorMsg>)> {
        self.links
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect()
    }

    /// A fresh session id.
    pub fn next_session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    /// Live sessions.
    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// The session limits in force.
    pub fn limits(&self) -> LimitsConfig {
        self.limits
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts new limits in force (for new sessions and authentications; what was counted
    /// stays).
    pub fn set_limits(&self, limits: LimitsConfig) {
        lock(&self.auth_failures).set_limits(AuthFailureLimits::of(&limits));
        *self.limits.write().unwrap_or_else(PoisonError::into_inner) = limits;
    }

    /// When `source`'s authentication lockout ends, if it is locked out at `now`.
    pub fn locked_until(&self, source: IpAddr, now: Instant) -> Option<Instant> {
        lock(&self.auth_failures).locked_until(source, now)
    }

    /// Records a failed authentication from `source`; counts and logs a lockout it causes.
    pub fn record_auth_failure(&self, source: IpAddr, now: Instant) {
        let (recorded, limits) = {
            let mut table = lock(&self.auth_failures);
            (table.record_failure(source, now), table.limits())
        };
        if let Recorded::LockedOut(_) = recorded {
            self.stats.auth_lockouts.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                source = %source,
                "authentication lockout: {} failures within {} s; calls from {source} are \
                 refused for {} s",
                limits.max_failures,
                limits.window.as_secs(),
                limits.lockout.as_secs()
            );
        }
    }

    /// Whether `user` has as many sessions as the per-user limit allows (another one would
    /// exceed it).
    pub fn user_at_limit(&self, user: &str) -> bool {
        let Some(limit) = self.limits().per_user_sessions else {
            return false;
        };
        lock(&self.per_user).get(user).is_some_and(|n| *n >= limit)
    }

    /// The current users.
    pub fn users(&self) -> Arc<LocalUsers> {
        self.users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the users (existing sessions keep the ones they authenticated with).
    pub fn set_users(&self, users: LocalUsers) {
        *self.users.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(users);
    }

    /// Our name.
    pub fn hostname(&self) -> String {
        self.hostname
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Counts one more session of `user`; `false` (nothing counted) when that exceeds the
    /// per-user limit.
    pub fn claim_user(&self, user: &str) -> bool {
        let limit = self.limits().per_user_sessions;
        let mut per_user = lock(&self.per_user);
        let n = per_user.entry(user.to_owned()).or_insert(0);
        if limit.is_some_and(|l| *n >= l) {
            if *n == 0 {
                per_user.remove(user);
            }
            return false;
        }
        *n += 1;
        true
    }

    /// Undoes one [`claim_user`](Self::claim_user).
    pub fn release_user(&self, user: &str) {
        let mut per_user = lock(&self.per_user);
        if let Some(n) = per_user.get_mut(user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_user.remove(user);
            }
        }
    }

    /// Adds an ended session's traffic to the totals.
    pub fn add_ended_traffic(&self, s: &SessionShared) {
        let [bi, bo, pi, po] = s.traffic();
        let mut m = lock(&self.stats.ended_traffic);
        let t = m.entry(s.plugin.clone()).or_insert([0; 4]);
        for (acc, v) in t.iter_mut().zip([bi, bo, pi, po]) {
            *acc = acc.saturating_add(v);
        }
    }

    /// Counts a session-end reason.
    pub fn count_end(&self, reason: &str) {
        self.stats.sessions_ended.fetch_add(1, Ordering::Relaxed);
        let key: String = reason.chars().take(64).collect();
        let mut m = lock(&self.stats.end_reasons);
        if m.len() < 256 || m.contains_key(&key) {
            *m.entry(key).or_insert(0) += 1;
        }
    }
}
