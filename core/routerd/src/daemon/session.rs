//! The sessions of one plugin instance: a PPP engine per call (terminate, or dial-out as a
//! client), or a relay that passes frames untouched to a call on another link.
//!
//! [`Core`] is what the instance's host callbacks and its actor share (under one mutex): it
//! never calls the plugin. Frames for the plugin, link parameters and hangups go to the
//! [`Out`] queue, which the actor drains with plugin calls once no lock is held, so a plugin
//! may call back into the host from inside any of those calls.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dialgate_dataplane::ra::{
    ALL_NODES, RaSchedule, RouterAdvert, RouterSolicitation, RsSchedule, link_local,
};
use dialgate_dataplane::{MssOutcome, clamp_mss};
use dialgate_plugin_host::abi::{
    Direction, HangupCause, HostError, LinkDownCause, LinkId, LinkInfo, LinkParams, TimerId,
};
use dialgate_ppp::ncp::MppeKeyLength;
use dialgate_ppp::{DownReason, Engine, Event, NetworkParams, Protocol, SendError};
use tokio::sync::mpsc;

use super::actor::{ActorMsg, RelayMsg};
use super::auth_guard::{AuthNote, PER_USER_LIMIT, Refusal, source_ip};
use super::capture::{self, Capture};
use super::dataplane::{FromSession, SessionRoute, SessionSide};
use super::lan::{LanMsg, LanSend, negotiated_toml};
use super::reservation::Reservation;
use super::router::{Router, SessionMeta, SessionMode, SessionShared, lock};
use super::spec::{EngineTemplate, LinkSpec, random_u64};
use crate::accounting::{Record, SessionFailed, SessionStart, SessionStop};
use crate::config::{LinkMode, LinkRole};
use crate::time::Timestamp;

/// Spare frame buffers an instance keeps.
const SPARE_BUFFERS: usize = 256;
/// Longest wait before redialling a dial-out link.
const MAX_REDIAL_BACKOFF: Duration = Duration::from_secs(60);
/// First wait before redialling.
const MIN_REDIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Room for the PPP and MPPE headers around a datagram.
const FRAME_OVERHEAD: usize = 16;

/// Something for the actor to do with the plugin.
#[derive(Debug)]
pub enum Out {
    /// `send_frame`.
    Frame {
        /// The link.
        link: LinkId,
        /// The frame.
        buf: Vec<u8>,
    },
    /// `set_link_params`.
    LinkParams {
        /// The link.
        link: LinkId,
        /// The negotiated ACCMs.
        params: LinkParams,
    },
    /// `hangup_with_cause` (ABI 1.2; `hangup` for older plugins).
    Hangup {
        /// The link.
        link: LinkId,
        /// Why the core hangs up.
        cause: HangupCause,
    },
}

/// The other end of a relay: an actor and a link of its plugin.
#[derive(Debug, Clone)]
pub struct RelayPeer {
    /// The actor.
    pub tx: mpsc::Sender<ActorMsg>,
    /// Its link.
    pub link: LinkId,
}

/// What the instance's sessions need besides their own state.
#[derive(Debug)]
pub struct Env {
    /// The link.
    pub spec: LinkSpec,
    /// Everything shared.
    pub router: Arc<Router>,
    /// This instance's actor queue.
    pub tx: mpsc::Sender<ActorMsg>,
}

impl Env {
    fn route(&self, link: LinkId) -> SessionRoute {
        SessionRoute {
            tx: self.tx.clone(),
            link,
        }
    }
}

/// Router Advertisements for a session's /64.
#[derive(Debug)]
struct Ra {
    schedule: RaSchedule,
    src: Ipv6Addr,
    subnet: Ipv6Addr,
}

/// A dial-out session's IPv6 host side (RFC 4861 §6.3.7, RFC 4862 §5.5.3): once IPV6CP is
/// up, Router Solicitations until the server's RA arrives; our address is the RA's /64 with
/// the interface identifier IPV6CP negotiated.
#[derive(Debug)]
struct ClientV6 {
    /// Our interface identifier (RFC 5072 §4.1).
    iid: u64,
    rs: RsSchedule,
    /// Our address, once formed.
    addr: Option<Ipv6Addr>,
}

/// A session running the PPP engine.
#[derive(Debug)]
pub struct EngineSession {
    engine: Engine,
    /// Dial-out: the engine is the client.
    client: bool,
    /// Server: the client's address, routed to us. Client: our own address.
    ipv4: Option<Ipv4Addr>,
    /// Client: the server's address (routed to the TUN).
    peer_v4: Option<Ipv4Addr>,
    /// Server: the /64 routed to the session. Client: the /64 the server announced.
    v6: Option<Ipv6Addr>,
    ra: Option<Ra>,
    /// Client: IPv6 host state once IPV6CP is up.
    client_v6: Option<ClientV6>,
    /// Largest IP datagram over the session.
    mtu: u16,
    /// The user counted against the per-user limit.
    user_claimed: Option<String>,
    /// What the authentication backend saw (answering sessions).
    auth: Option<Arc<AuthNote>>,
    /// Answering sessions: the pool address, reserved at authentication, released when the
    /// session ends.
    reservation: Option<Arc<Reservation>>,
    /// NCPs of LAN-protocol plugins open on the session.
    lan: Vec<LanUp>,
    /// Why the lower layer went down, as the plugin said.
    lower_cause: Option<String>,
}

/// What a session is.
#[derive(Debug)]
pub enum Kind {
    /// The PPP engine runs here.
    Engine(Box<EngineSession>),
    /// Frames go to the peer once the outgoing call is up.
    Relay(Option<RelayPeer>),
}

/// One session.
#[derive(Debug)]
pub struct Session {
    /// Registry entry.
    pub shared: Arc<SessionShared>,
    /// Engine or relay.
    pub kind: Kind,
    span: tracing::Span,
    /// Why it is being ended, when not the engine's own reason (admin kill, limit).
    end_reason: Option<String>,
    /// The plugin still has the link (a hangup is due when the session ends).
    link_up: bool,
    /// An accounting start record was written.
    accounted: bool,
    /// The engine reported LinkDown: finish it.
    ended: Option<String>,
    /// Why the core ends it, for the plugin's hangup (the first cause recorded wins).
    hangup_cause: Option<HangupCause>,
    /// The plugin said the link cannot take frames ([`Core::set_congested`]): IP packets
    /// for it are dropped before they are encrypted.
    congested: bool,
    /// Its entry in [`Core`]'s deadline index.
    deadline: Option<Instant>,
    /// Queued for [`Core::process`].
    dirty: bool,
}

/// The plugin's timers, by id and by deadline, so that the earliest is found without a scan
/// (a PPTP link arms one or two per call: tens of thousands).
#[derive(Debug, Default)]
pub struct Timers {
    by_id: HashMap<TimerId, Instant>,
    by_time: BTreeSet<(Instant, TimerId)>,
}

impl Timers {
    /// Arm (or re-arm) `id` for `at`.
    pub fn insert(&mut self, id: TimerId, at: Instant) {
        if let Some(old) = self.by_id.insert(id, at) {
            self.by_time.remove(&(old, id));
        }
        self.by_time.insert((at, id));
    }

    /// Disarm `id`.
    pub fn remove(&mut self, id: &TimerId) {
        if let Some(old) = self.by_id.remove(id) {
            self.by_time.remove(&(old, *id));
        }
    }

    /// Disarm every timer.
    pub fn clear(&mut self) {
        self.by_id.clear();
        self.by_time.clear();
    }

    /// The earliest deadline.
    pub fn earliest(&self) -> Option<Instant> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Armed timers.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether none is armed.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The timers due at `now`, disarmed, earliest first.
    fn pop_due(&mut self, now: Instant) -> Vec<TimerId> {
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.by_time.first() {
            if at > now {
                break;
            }
            self.by_time.remove(&(at, id));
            self.by_id.remove(&id);
            due.push(id);
        }
        due
    }
}

/// A session's earliest deadline: engine timers, Router Advertisements and Solicitations.
fn session_deadline(s: &Session) -> Option<Instant> {
    match &s.kind {
        Kind::Engine(es) => {
            let ra = es.ra.as_ref().and_then(|r| r.schedule.poll_timeout());
            let rs = es.client_v6.as_ref().and_then(|c| c.rs.poll_timeout());
            [es.engine.poll_timeout(), ra, rs]
                .into_iter()
                .flatten()
                .min()
        }
        Kind::Relay(_) => None,
    }
}

/// Queue session `link` for [`Core::process`] (once).
fn mark(dirty: &mut Vec<LinkId>, link: LinkId, s: &mut Session) {
    if !s.dirty {
        s.dirty = true;
        dirty.push(link);
    }
}

/// Bring session `link`'s entry in the deadline index up to date.
fn reindex(index: &mut BTreeSet<(Instant, LinkId)>, link: LinkId, s: &mut Session) {
    let new = session_deadline(s);
    if new != s.deadline {
        if let Some(old) = s.deadline {
            index.remove(&(old, link));
        }
        if let Some(at) = new {
            index.insert((at, link));
        }
        s.deadline = new;
    }
}

/// The sessions, relay legs, timers and output of one plugin instance.
#[derive(Debug, Default)]
pub struct Core {
    /// Sessions by the plugin's link id.
    pub sessions: HashMap<LinkId, Session>,
    /// Dialing relay links: our link -> the answering side's session link.
    legs: HashMap<LinkId, RelayPeer>,
    /// A relay call being dialled right now (set around the plugin's `dial`).
    pub dialing_for: Option<RelayPeer>,
    /// Relay calls dialled and not up yet.
    pub dialed: HashMap<LinkId, RelayPeer>,
    /// The plugin's timers.
    pub timers: Timers,
    /// What the actor must do with the plugin.
    pub outbox: VecDeque<Out>,
    /// MRU limits the plugin set for links about to come up ([`Core::set_mru_hint`]).
    mru_hints: HashMap<LinkId, u16>,
    spare: Vec<Vec<u8>>,
    rx: Vec<u8>,
    /// Sessions whose engine events may be pending (only these are processed: a scan of
    /// every session per frame does not scale to tens of thousands).
    dirty: Vec<LinkId>,
    /// Every engine session's earliest deadline.
    deadlines: BTreeSet<(Instant, LinkId)>,
    /// Dial-out links: when to dial next.
    pub redial_at: Option<Instant>,
    redial_backoff: Duration,
    /// Dial-out links: a call placed and not up yet.
    pub dial_pending: Option<LinkId>,
    /// Sessions with a capture ring: while none has one, outgoing frames are not looked up.
    captures: usize,
}

fn mppe_name(len: MppeKeyLength) -> &'static str {
    match len {
        MppeKeyLength::Bits40 => "MPPE-40",
        MppeKeyLength::Bits56 => "MPPE-56",
        MppeKeyLength::Bits128 => "MPPE-128",
    }
}

/// Framing for relayed links: the ACCM the two ends negotiate is theirs, not ours, so a relay
/// leg escapes every control character it sends (any peer decodes that) and accepts any it
/// receives (RFC 1662 §7.1: the receive ACCM only says which unescaped characters to drop).
const RELAY_LINK_PARAMS: LinkParams = LinkParams {
    tx_accm: u32::MAX,
    rx_accm: 0,
};

/// The end reason of a session refused because its pool had no address for it.
pub const POOL_EXHAUSTED: &str = "address pool exhausted";

/// Octets MPPE adds inside the information field: its header and the inner protocol.
const MPPE_OVERHEAD: u16 = 6;
/// Pending [`Core::set_mru_hint`]s kept at most.
const MAX_MRU_HINTS: usize = 4096;
/// The smallest MRU a plugin's hint lowers a link to.
const MIN_MRU_HINT: u16 = 576;

/// The largest IP datagram over the session: the smaller MRU, less MPPE's overhead when MPPE
/// runs or is required (IPCP may open before CCP).
fn session_mtu(engine: &Engine) -> u16 {
    let p = engine.link_params();
    let base = p.tx_mru.min(p.rx_mru);
    if engine.mppe().is_some() || engine.config().requires_encryption() {
        base.saturating_sub(MPPE_OVERHEAD)
    } else {
        base
    }
}

fn ipv6_prefix(subnet: Option<Ipv6Addr>) -> Option<crate::config::Ipv6Prefix> {
    subnet.and_then(|s| crate::config::Ipv6Prefix::new(s, 64))
}

/// Moves the engine's queued control frames to the outbox.
fn drain(engine: &mut Engine, link: LinkId, outbox: &mut VecDeque<Out>, spare: &mut Vec<Vec<u8>>) {
    loop {
        let mut buf = spare.pop().unwrap_or_else(|| Vec::with_capacity(2048));
        if engine.poll_transmit(&mut buf) {
            outbox.push_back(Out::Frame { link, buf });
        } else {
            spare.push(buf);
            return;
        }
    }
}

/// An NCP of a LAN-protocol plugin, open on a session.
#[derive(Debug)]
struct LanUp {
    /// The NCP (0x802B, 0x803F).
    ncp: u16,
    /// Its data protocol (0x002B, 0x003F).
    data: u16,
    /// What it negotiated (TOML).
    negotiated: String,
}

/// Tells the plugin that registered `up`'s protocol that its NCP opened (`true`) or closed
/// on the session. A full queue loses the event (logged).
fn lan_notify(env: &Env, shared: &SessionShared, up: &LanUp, opened: bool) {
    let lan = env.router.lan();
    let Some(reg) = lan.by_ncp(up.ncp) else {
        return;
    };
    let msg = if opened {
        let m = lock(&shared.meta);
        LanMsg::Up {
            session: shared.id,
            protocol: up.data,
            user: m.user.clone(),
            peer: m.peer.clone(),
            negotiated: up.negotiated.clone(),
        }
    } else {
        LanMsg::Down {
            session: shared.id,
            protocol: up.data,
        }
    };
    if reg.tx.try_send(ActorMsg::Lan(msg)).is_err() {
        tracing::warn!(
            "plugin instance {} is not keeping up: a session event for {:#06x} was lost",
            reg.instance,
            up.data
        );
    }
}

impl Core {
    /// A core for a link whose actor dials at start when `dials` is set.
    pub fn new(dials: bool, now: Instant) -> Self {
        Core {
            rx: Vec::with_capacity(16 * 1024),
            redial_at: dials.then_some(now),
            redial_backoff: MIN_REDIAL_BACKOFF,
            ..Core::default()
        }
    }

    /// Records a frame about to go to the plugin on `link` in its session's capture ring,
    /// if it has one (nothing is looked up while no session captures).
    pub fn capture_out(&self, now: Instant, link: LinkId, frame: &[u8]) {
        if self.captures == 0 {
            return;
        }
        if let Some(capture) = self
            .sessions
            .get(&link)
            .and_then(|s| s.shared.capture.as_ref())
        {
            capture.record(now, capture::Direction::Out, frame);
        }
    }

    /// Takes back a frame buffer the plugin is done with.
    pub fn recycle(&mut self, router: &Router, buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS {
            self.spare.push(buf);
        } else {
            router.buffers.put(buf);
        }
    }

    /// The earliest deadline: plugin timers, engine timers, RAs, the next redial.
    pub fn next_deadline(&self) -> Option<Instant> {
        let timers = self.timers.earliest();
        let sessions = self.deadlines.first().map(|(at, _)| *at);
        [timers, sessions, self.redial_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The plugin's timers due at `now`, removed.
    pub fn due_timers(&mut self, now: Instant) -> Vec<TimerId> {
        self.timers.pop_due(now)
    }

    /// A redial is due at `now`: clears it and says so.
    pub fn take_redial(&mut self, now: Instant) -> bool {
        if self.redial_at.is_some_and(|t| t <= now)
            && self.dial_pending.is_none()
            && self.sessions.is_empty()
        {
            self.redial_at = None;
            return true;
        }
        false
    }

    /// Dialling failed: try again later, backing off.
    pub fn dial_failed(&mut self, now: Instant) {
        self.dial_pending = None;
        self.redial_at = Some(now + self.redial_backoff);
        self.redial_backoff = (self.redial_backoff * 2).min(MAX_REDIAL_BACKOFF);
    }

    /// The plugin reported a call up: start a session (or bind a relay leg).
    pub fn link_up(
        &mut self,
        env: &Env,
        now: Instant,
        link: LinkId,
        info: &LinkInfo<'_>,
    ) -> Result<(), HostError> {
        let spec = &env.spec;
        let router = &env.router;
        let mru_hint = self.mru_hints.remove(&link);
        if spec.lan_protocol {
            return Err(HostError::Unsupported {
                message: "LAN-protocol plugins have no links".into(),
            });
        }
        if self.sessions.contains_key(&link) || self.legs.contains_key(&link) {
            return Err(HostError::Invalid {
                message: format!("link {link} is already up").into(),
            });
        }
        if spec.mode == LinkMode::Relay && spec.role == LinkRole::Dial {
            // The outgoing leg of a relayed call.
            let back = self
                .dialing_for
                .take()
                .or_else(|| self.dialed.remove(&link))
                .ok_or_else(|| HostError::Denied {
                    message: "no relayed call is waiting for this link".into(),
                })?;
            let up = RelayMsg::Up {
                link: back.link,
                peer: RelayPeer {
                    tx: env.tx.clone(),
                    link,
                },
            };
            if back.tx.try_send(ActorMsg::Relay(up)).is_err() {
                return Err(HostError::Closed);
            }
            tracing::info!(link = %spec.name, id = link.0, "relay leg up");
            self.outbox.push_back(Out::LinkParams {
                link,
                params: RELAY_LINK_PARAMS,
            });
            self.legs.insert(link, back);
            return Ok(());
        }
        let source = if info.direction == Direction::Incoming {
            source_ip(info.peer.as_str())
        } else {
            None
        };
        if let Some(src) = source
            && let Some(until) = router.locked_until(src, now)
        {
            router.stats.refused_lockout.fetch_add(1, Ordering::Relaxed);
            let left = until.saturating_duration_since(now).as_secs().max(1);
            tracing::debug!(link = %spec.name, source = %src, "call refused: authentication lockout ({left} s left)");
            return Err(HostError::Denied {
                message: format!(
                    "calls from {src} are refused for another {left} s after repeated \
                     authentication failures"
                )
                .into(),
            });
        }
        let limits = router.limits();
        let live = router.session_count();
        if u64::try_from(live).unwrap_or(u64::MAX) >= u64::from(limits.max_sessions) {
            router.stats.refused_limit.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(link = %spec.name, "call refused: {live} sessions (limits.max_sessions)");
            return Err(HostError::Denied {
                message: "session limit reached".into(),
            });
        }
        if self.dial_pending == Some(link) || info.direction == Direction::Outgoing {
            self.dial_pending = None;
        }
        let id = router.next_session_id();
        let span = tracing::info_span!("session", session = id, link = %spec.name);
        let mode = match (spec.mode, spec.role) {
            (LinkMode::Relay, _) => SessionMode::Relay,
            (LinkMode::Terminate, LinkRole::Dial) => SessionMode::Dial,
            (LinkMode::Terminate, LinkRole::Answer) => SessionMode::Terminate,
        };
        let meta = SessionMeta {
            peer: info.peer.as_str().to_owned(),
            calling_number: info.calling_number.as_str().to_owned(),
            called_number: info.called_number.as_str().to_owned(),
            state: "establish".into(),
            ..SessionMeta::default()
        };
        let shared = Arc::new(SessionShared {
            id,
            link: spec.name.clone(),
            link_id: link.0,
            plugin: spec.plugin.clone(),
            mode,
            started: Timestamp::now(),
            started_at: now,
            meta: std::sync::Mutex::new(meta),
            counters: Default::default(),
            capture: Capture::new(limits.capture_packets, limits.capture_snaplen).map(Box::new),
        });
        if shared.capture.is_some() {
            self.captures += 1;
        }
        let kind = match (spec.mode, &spec.engine) {
            (LinkMode::Terminate, Some(template)) => {
                let mut setup = template.engine_config(router, source);
                if let Some(mru) = mru_hint {
                    // RFC 1661 §6.1: ask for no more than the transport carries whole
                    // (never below the RFC's floor of what every peer must take).
                    setup.config.lcp.mru = setup.config.lcp.mru.min(mru.max(MIN_MRU_HINT));
                }
                let mut engine = Engine::new(setup.config, now);
                engine.open(now);
                engine.lower_up(now);
                drain(&mut engine, link, &mut self.outbox, &mut self.spare);
                Kind::Engine(Box::new(EngineSession {
                    client: matches!(template, EngineTemplate::Client { .. }),
                    mtu: session_mtu(&engine),
                    engine,
                    ipv4: None,
                    peer_v4: None,
                    v6: None,
                    ra: None,
                    client_v6: None,
                    user_claimed: None,
                    auth: setup.auth,
                    reservation: setup.reservation,
                    lan: Vec::new(),
                    lower_cause: None,
                }))
            }
            (LinkMode::Terminate, None) => {
                return Err(HostError::Internal {
                    message: "terminating link without an engine template".into(),
                });
            }
            (LinkMode::Relay, _) => {
                let target = spec.relay_to.as_deref().unwrap_or_default();
                let tx = router.link_tx(target).ok_or_else(|| HostError::Denied {
                    message: format!("relay target link {target:?} is not running").into(),
                })?;
                let open = RelayMsg::Open {
                    back: RelayPeer {
                        tx: env.tx.clone(),
                        link,
                    },
                };
                tx.try_send(ActorMsg::Relay(open))
                    .map_err(|_| HostError::Busy)?;
                lock(&shared.meta).relayed_to = Some(format!("{target} (dialling)"));
                self.outbox.push_back(Out::LinkParams {
                    link,
                    params: RELAY_LINK_PARAMS,
                });
                Kind::Relay(None)
            }
        };
        span.in_scope(|| {
            tracing::info!(
                peer = info.peer.as_str(),
                direction = ?info.direction,
                "session started ({mode:?})"
            );
        });
        lock(&router.sessions).insert(id, shared.clone());
        router
            .stats
            .sessions_started
            .fetch_add(1, Ordering::Relaxed);
        self.sessions.insert(
            link,
            Session {
                shared,
                kind,
                span,
                end_reason: None,
                link_up: true,
                accounted: false,
                ended: None,
                hangup_cause: None,
                congested: false,
                deadline: None,
                dirty: true,
            },
        );
        self.dirty.push(link);
        Ok(())
    }

    /// The plugin reported a call down.
    pub fn link_down(
        &mut self,
        env: &Env,
        now: Instant,
        link: LinkId,
        cause: LinkDownCause,
        message: &str,
    ) {
        self.mru_hints.remove(&link);
        let text = if message.is_empty() {
            format!("{cause:?}")
        } else {
            format!("{cause:?}: {message}")
        };
        if let Some(back) = self
            .legs
            .remove(&link)
            .or_else(|| self.dialed.remove(&link))
        {
            let down = RelayMsg::Down {
                link: back.link,
                reason: format!("relayed call down ({text})"),
                cause: line_cause(cause),
            };
            let _ = back.tx.try_send(ActorMsg::Relay(down));
            return;
        }
        if self.dial_pending == Some(link) {
            tracing::info!(link = %env.spec.name, "dial failed: {text}");
            self.dial_failed(now);
            return;
        }
        let Some(s) = self.sessions.get_mut(&link) else {
            return;
        };
        s.link_up = false;
        match &mut s.kind {
            Kind::Engine(es) => {
                es.lower_cause = Some(text);
                es.engine.lower_down(now);
                mark(&mut self.dirty, link, s);
            }
            Kind::Relay(_) => {
                s.end_reason.get_or_insert(format!("link down ({text})"));
                s.hangup_cause.get_or_insert(line_cause(cause));
                self.finish(env, now, link);
            }
        }
    }

    /// A frame from the plugin.
    pub fn deliver(
        &mut self,
        env: &Env,
        now: Instant,
        link: LinkId,
        frame: &[u8],
    ) -> Result<(), HostError> {
        let router = &env.router;
        if let Some(back) = self.legs.get(&link) {
            let msg = RelayMsg::Frame {
                link: back.link,
                buf: router.buffers.copy_of(frame),
            };
            return back
                .tx
                .try_send(ActorMsg::Relay(msg))
                .map_err(|_| HostError::Busy);
        }
        let Core {
            sessions,
            rx,
            outbox,
            spare,
            ..
        } = self;
        let s = sessions.get_mut(&link).ok_or(HostError::Closed)?;
        if let Some(capture) = &s.shared.capture {
            capture.record(now, capture::Direction::In, frame);
        }
        let c = &s.shared.counters;
        match &mut s.kind {
            Kind::Relay(peer) => {
                c.frames_in.fetch_add(1, Ordering::Relaxed);
                c.bytes_in.fetch_add(frame.len() as u64, Ordering::Relaxed);
                let Some(peer) = peer else {
                    c.dropped.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                };
                let msg = RelayMsg::Frame {
                    link: peer.link,
                    buf: router.buffers.copy_of(frame),
                };
                if peer.tx.try_send(ActorMsg::Relay(msg)).is_err() {
                    c.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
            Kind::Engine(es) => {
                rx.clear();
                rx.extend_from_slice(frame);
                let id = s.shared.id;
                let side = if es.client {
                    SessionSide::Client {
                        v4: es.ipv4,
                        v6: es.client_v6.as_ref().and_then(|c| c.addr),
                    }
                } else {
                    SessionSide::Server
                };
                let mut solicited = false;
                let mut advert = None;
                if let Some(d) = es.engine.handle_frame(now, rx) {
                    c.data_bytes_in
                        .fetch_add(d.payload.len() as u64, Ordering::Relaxed);
                    let is_ip = d.protocol == Protocol::IPV4 || d.protocol == Protocol::IPV6;
                    if es.client_v6.is_some()
                        && d.protocol == Protocol::IPV6
                        && let Ok(ra) = RouterAdvert::parse(d.payload)
                    {
                        advert = Some(ra);
                    } else if is_ip && let Some(dp) = &router.dataplane {
                        solicited = dp.from_session(id, side, d.payload, es.mtu)
                            == FromSession::RouterSolicitation;
                    } else if !is_ip {
                        // IPX, NBF: to the LAN-protocol plugin that registered it.
                        let lan = router.lan();
                        let sent = lan.by_data(d.protocol.0).map(|reg| {
                            let msg = LanMsg::Frame {
                                session: id,
                                protocol: d.protocol.0,
                                buf: router.buffers.copy_of(d.payload),
                            };
                            reg.tx.try_send(ActorMsg::Lan(msg)).map_err(|e| {
                                if let ActorMsg::Lan(LanMsg::Frame { buf, .. }) = e.into_inner() {
                                    router.buffers.put(buf);
                                }
                            })
                        });
                        if !matches!(sent, Some(Ok(()))) {
                            c.dropped.fetch_add(1, Ordering::Relaxed);
                            router.stats.lan_dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if let Some((source, ra)) = advert {
                    let _enter = s.span.enter();
                    Self::router_advert(env, link, id, es, source, &ra);
                    lock(&s.shared.meta).ipv6_prefix = es.v6;
                }
                if solicited && let Some(ra) = &mut es.ra {
                    ra.schedule.on_solicitation(now);
                }
                drain(&mut es.engine, link, outbox, spare);
                c.set_from_engine(&es.engine.counters());
                mark(&mut self.dirty, link, s);
                Ok(())
            }
        }
    }

    /// A LAN-protocol plugin's datagram for the session on `m.link`: sent with the
    /// session's engine (encrypted when MPPE runs); dropped and counted when the session or
    /// its NCP is gone or the datagram does not fit.
    pub fn lan_send(&mut self, env: &Env, now: Instant, m: LanSend) {
        let router = &env.router;
        let Core {
            sessions,
            outbox,
            spare,
            ..
        } = self;
        let session = sessions
            .get_mut(&m.link)
            .filter(|s| s.shared.id == m.session);
        let Some(Session {
            kind: Kind::Engine(es),
            shared,
            ..
        }) = session
        else {
            router.stats.lan_dropped.fetch_add(1, Ordering::Relaxed);
            router.buffers.put(m.buf);
            return;
        };
        let mut out = spare.pop().unwrap_or_default();
        out.resize(m.buf.len() + FRAME_OVERHEAD, 0);
        match es
            .engine
            .send_datagram(now, Protocol(m.protocol), &m.buf, &mut out)
        {
            Ok(n) => {
                out.truncate(n);
                outbox.push_back(Out::Frame {
                    link: m.link,
                    buf: out,
                });
                shared
                    .counters
                    .data_bytes_out
                    .fetch_add(m.buf.len() as u64, Ordering::Relaxed);
            }
            Err(_) => {
                shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                router.stats.lan_dropped.fetch_add(1, Ordering::Relaxed);
                spare.push(out);
            }
        }
        shared.counters.set_from_engine(&es.engine.counters());
        router.buffers.put(m.buf);
    }

    /// The plugin owning NCP `ncp` registered (again): report the sessions where it is open.
    pub fn lan_replay(&mut self, env: &Env, ncp: u16) {
        for s in self.sessions.values() {
            if let Kind::Engine(es) = &s.kind {
                for up in es.lan.iter().filter(|l| l.ncp == ncp) {
                    lan_notify(env, &s.shared, up, true);
                }
            }
        }
    }

    /// A packet from the TUN for the session on `link`.
    pub fn packet(&mut self, env: &Env, now: Instant, link: LinkId, mut buf: Vec<u8>) {
        let router = &env.router;
        let Core {
            sessions,
            outbox,
            spare,
            ..
        } = self;
        let Some(Session {
            kind: Kind::Engine(es),
            shared,
            congested,
            ..
        }) = sessions.get_mut(&link)
        else {
            router.buffers.put(buf);
            return;
        };
        if *congested {
            // The link is not taking frames: drop before encryption, which would burn an
            // MPPE coherency count for a frame the plugin then drops.
            if let Some(dp) = &router.dataplane {
                dp.stats.drop_queue_full.fetch_add(1, Ordering::Relaxed);
            }
            shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            router.buffers.put(buf);
            return;
        }
        let protocol = match buf.first().map(|b| b >> 4) {
            Some(4) => Protocol::IPV4,
            Some(6) => Protocol::IPV6,
            _ => {
                router.buffers.put(buf);
                return;
            }
        };
        if matches!(clamp_mss(&mut buf, es.mtu), MssOutcome::Clamped { .. })
            && let Some(dp) = &router.dataplane
        {
            dp.stats.mss_clamped.fetch_add(1, Ordering::Relaxed);
        }
        let mut out = spare.pop().unwrap_or_default();
        out.resize(buf.len() + FRAME_OVERHEAD, 0);
        match es.engine.send_datagram(now, protocol, &buf, &mut out) {
            Ok(n) => {
                out.truncate(n);
                outbox.push_back(Out::Frame { link, buf: out });
                shared
                    .counters
                    .data_bytes_out
                    .fetch_add(buf.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                if e == SendError::TooLarge
                    && let Some(dp) = &router.dataplane
                {
                    dp.stats.drop_too_large.fetch_add(1, Ordering::Relaxed);
                }
                shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
                spare.push(out);
            }
        }
        shared.counters.set_from_engine(&es.engine.counters());
        router.buffers.put(buf);
    }

    /// The plugin's congestion signal for `link` (ABI 1.2 `set_link_congested`): while set,
    /// [`packet`](Self::packet) drops IP packets for its session before encrypting them.
    pub fn set_congested(&mut self, link: LinkId, congested: bool) {
        if let Some(s) = self.sessions.get_mut(&link) {
            s.congested = congested;
        }
    }

    /// The plugin's MRU limit for a link about to come up (ABI 1.2 `set_link_mru`), taken by
    /// [`link_up`](Self::link_up). Bounded: hints for links that never come up are not kept
    /// beyond [`MAX_MRU_HINTS`].
    pub fn set_mru_hint(&mut self, link: LinkId, mru: u16) {
        if self.mru_hints.len() < MAX_MRU_HINTS || self.mru_hints.contains_key(&link) {
            self.mru_hints.insert(link, mru);
        }
    }

    /// A message about a relayed call.
    pub fn relay(&mut self, env: &Env, now: Instant, msg: RelayMsg) {
        match msg {
            RelayMsg::Open { .. } => {} // The actor handles it (it calls the plugin).
            RelayMsg::Up { link, peer } => {
                let Some(s) = self.sessions.get_mut(&link) else {
                    let down = RelayMsg::Down {
                        link: peer.link,
                        reason: "the relayed session is gone".into(),
                        cause: HangupCause::LINE_DROP,
                    };
                    let _ = peer.tx.try_send(ActorMsg::Relay(down));
                    return;
                };
                {
                    let mut m = lock(&s.shared.meta);
                    m.relayed_to = Some(format!(
                        "{}/{}",
                        env.spec.relay_to.as_deref().unwrap_or_default(),
                        peer.link
                    ));
                    m.state = "relaying".into();
                }
                s.kind = Kind::Relay(Some(peer));
                s.span.in_scope(|| tracing::info!("relay up"));
                Self::account_start(env, s);
            }
            RelayMsg::Frame { link, buf } => {
                if let Some(s) = self.sessions.get(&link) {
                    let c = &s.shared.counters;
                    c.frames_out.fetch_add(1, Ordering::Relaxed);
                    c.bytes_out.fetch_add(buf.len() as u64, Ordering::Relaxed);
                    self.outbox.push_back(Out::Frame { link, buf });
                } else if self.legs.contains_key(&link) {
                    self.outbox.push_back(Out::Frame { link, buf });
                } else {
                    env.router.buffers.put(buf);
                }
            }
            RelayMsg::Down {
                link,
                reason,
                cause,
            } => {
                if self.legs.remove(&link).is_some() || self.dialed.remove(&link).is_some() {
                    self.outbox.push_back(Out::Hangup { link, cause });
                } else if let Some(s) = self.sessions.get_mut(&link) {
                    s.end_reason.get_or_insert(reason);
                    s.hangup_cause.get_or_insert(cause);
                    self.finish(env, now, link);
                }
            }
        }
    }

    /// A relay dial could not be placed: the answering side's session ends.
    pub fn relay_dial_failed(back: &RelayPeer, why: &str) {
        let down = RelayMsg::Down {
            link: back.link,
            reason: format!("relay dial failed: {why}"),
            cause: HangupCause::ERROR,
        };
        let _ = back.tx.try_send(ActorMsg::Relay(down));
    }

    /// Runs engine timers and Router Advertisements due at `now`.
    pub fn timeouts(&mut self, now: Instant) {
        let Core {
            sessions,
            outbox,
            spare,
            deadlines,
            dirty,
            ..
        } = self;
        // Only the sessions whose deadline passed (each is re-indexed by `process`).
        while let Some(&(at, link)) = deadlines.first() {
            if at > now {
                break;
            }
            deadlines.remove(&(at, link));
            let Some(s) = sessions.get_mut(&link) else {
                continue;
            };
            s.deadline = None;
            mark(dirty, link, s);
            let link = &link;
            let Kind::Engine(es) = &mut s.kind else {
                continue;
            };
            if es.engine.poll_timeout().is_some_and(|t| t <= now) {
                es.engine.handle_timeout(now);
            }
            if let Some(ra) = &mut es.ra
                && ra.schedule.poll_send(now, random_u64() as u32)
            {
                let advert = RouterAdvert::for_session(ra.subnet, Some(u32::from(es.mtu)));
                let mut packet = vec![0u8; advert.buffer_len()];
                if let Ok(n) = advert.emit(&mut packet, ra.src, ALL_NODES) {
                    let mut out = spare.pop().unwrap_or_default();
                    out.resize(n + FRAME_OVERHEAD, 0);
                    match es.engine.send_datagram(
                        now,
                        Protocol::IPV6,
                        packet.get(..n).unwrap_or_default(),
                        &mut out,
                    ) {
                        Ok(len) => {
                            out.truncate(len);
                            outbox.push_back(Out::Frame {
                                link: *link,
                                buf: out,
                            });
                            s.shared
                                .counters
                                .data_bytes_out
                                .fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Err(_) => spare.push(out),
                    }
                }
            }
            if let Some(c) = &mut es.client_v6
                && c.rs.poll_send(now)
            {
                let mut packet = [0u8; RouterSolicitation::BUFFER_LEN];
                let rs = RouterSolicitation {
                    source: link_local(c.iid),
                };
                if let Ok(n) = rs.emit(&mut packet) {
                    let mut out = spare.pop().unwrap_or_default();
                    out.resize(n + FRAME_OVERHEAD, 0);
                    match es.engine.send_datagram(
                        now,
                        Protocol::IPV6,
                        packet.get(..n).unwrap_or_default(),
                        &mut out,
                    ) {
                        Ok(len) => {
                            out.truncate(len);
                            outbox.push_back(Out::Frame {
                                link: *link,
                                buf: out,
                            });
                            s.shared
                                .counters
                                .data_bytes_out
                                .fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Err(_) => spare.push(out),
                    }
                }
            }
            drain(&mut es.engine, *link, outbox, spare);
        }
    }

    /// A dial-out session got the server's Router Advertisement (valid as RFC 4861 §6.1.2
    /// asks: the parser checked hop limit, checksum and options; the source must be
    /// link-local). The first /64 Prefix Information option that is autonomous with a
    /// non-zero valid lifetime gives our address: the prefix with the interface identifier
    /// IPV6CP negotiated (RFC 4862 §5.5.3, RFC 5072 §5). It goes on the TUN with the link's
    /// IPv6 routes, or a default route when the link names none and the RA's router
    /// lifetime is non-zero. A later RA for the same prefix changes nothing.
    fn router_advert(
        env: &Env,
        link: LinkId,
        id: u64,
        es: &mut EngineSession,
        source: Ipv6Addr,
        ra: &RouterAdvert,
    ) {
        let Some(c) = &mut es.client_v6 else {
            return;
        };
        if !source.is_unicast_link_local() {
            tracing::debug!(%source, "Router Advertisement not from a link-local address: ignored");
            return;
        }
        let Some(prefix) = ra.prefix.filter(|p| {
            p.prefix_len == 64
                && p.autonomous
                && p.valid_lifetime > 0
                && p.preferred_lifetime <= p.valid_lifetime
        }) else {
            tracing::debug!("Router Advertisement without a usable /64: ignored");
            return;
        };
        c.rs.advertised();
        let subnet = Ipv6Addr::from_bits(prefix.prefix.to_bits() & !u128::from(u64::MAX));
        let addr = Ipv6Addr::from_bits(subnet.to_bits() | u128::from(c.iid));
        if c.addr == Some(addr) {
            return;
        }
        if let Some(dp) = &env.router.dataplane {
            if c.addr.take().is_some() {
                dp.remove_client_v6(id);
            }
            let default = ra.router_lifetime > 0;
            if let Err(e) = dp.add_client_v6(
                id,
                addr,
                env.route(link),
                es.mtu,
                env.spec.routes(),
                default,
            ) {
                tracing::warn!("cannot use IPv6 address {addr}: {e}");
                return;
            }
        }
        c.addr = Some(addr);
        es.v6 = Some(subnet);
        tracing::info!(address = %addr, prefix = %subnet, "IPv6 address from the server's Router Advertisement");
    }

    /// Handles every pending engine event and ends the sessions that went down.
    pub fn process(&mut self, env: &Env, now: Instant) {
        if self.dirty.is_empty() {
            return;
        }
        let mut ended = Vec::new();
        let links = std::mem::take(&mut self.dirty);
        let Core {
            sessions,
            outbox,
            spare,
            deadlines,
            ..
        } = self;
        for link in links {
            let Some(s) = sessions.get_mut(&link) else {
                continue;
            };
            s.dirty = false;
            if let Kind::Engine(_) = &s.kind {
                let span = s.span.clone();
                let _enter = span.enter();
                Self::events(env, now, link, s, outbox);
                if let Kind::Engine(es) = &mut s.kind {
                    drain(&mut es.engine, link, outbox, spare);
                    s.shared.counters.set_from_engine(&es.engine.counters());
                }
                if s.ended.is_some() {
                    ended.push(link);
                }
            }
            reindex(deadlines, link, s);
        }
        for link in ended {
            self.finish(env, now, link);
        }
    }

    fn events(env: &Env, now: Instant, link: LinkId, s: &mut Session, outbox: &mut VecDeque<Out>) {
        let router = &env.router;
        let id = s.shared.id;
        let Kind::Engine(es) = &mut s.kind else {
            return;
        };
        while let Some(event) = es.engine.poll_event() {
            match event {
                Event::PhaseChanged { from, to } => {
                    tracing::debug!("phase {from:?} -> {to:?}");
                    lock(&s.shared.meta).state = format!("{to:?}").to_lowercase();
                }
                Event::LinkUp => {
                    let p = es.engine.link_params();
                    tracing::debug!(
                        "LCP up: MRU {} (peer {}), ACCM tx {:#010x} rx {:#010x}",
                        p.rx_mru,
                        p.tx_mru,
                        p.tx_accm,
                        p.rx_accm
                    );
                    es.mtu = session_mtu(&es.engine);
                    outbox.push_back(Out::LinkParams {
                        link,
                        params: LinkParams {
                            tx_accm: p.tx_accm,
                            rx_accm: p.rx_accm,
                        },
                    });
                }
                Event::Authenticated { user } => {
                    tracing::info!(user = %user, "authenticated");
                    if !es.client {
                        if router.claim_user(&user) {
                            es.user_claimed = Some(user.clone());
                        } else {
                            router
                                .stats
                                .refused_per_user
                                .fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(user = %user, "{PER_USER_LIMIT}: session refused");
                            s.end_reason.get_or_insert(PER_USER_LIMIT.into());
                            s.hangup_cause.get_or_insert(HangupCause::ERROR);
                            es.engine.close(now, DownReason::AdminClose);
                        }
                        // The address is reserved now, so an exhausted pool refuses the
                        // session cleanly here rather than after IPCP gives up, and two
                        // sessions cannot both count on the last address.
                        if s.end_reason.is_none()
                            && let Some(r) = &es.reservation
                            && !r.reserve(&user)
                        {
                            router.stats.refused_pool.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(user = %user, "{POOL_EXHAUSTED}: session refused");
                            s.end_reason.get_or_insert(POOL_EXHAUSTED.into());
                            s.hangup_cause.get_or_insert(HangupCause::ERROR);
                            es.engine.close(now, DownReason::AdminClose);
                        }
                    }
                    lock(&s.shared.meta).user = user;
                }
                Event::NetworkUp { protocol, params } => match params {
                    NetworkParams::Ipcp(ip) => {
                        es.mtu = session_mtu(&es.engine);
                        let result = if es.client {
                            es.ipv4 = Some(ip.local);
                            es.peer_v4 = ip.peer;
                            match &router.dataplane {
                                Some(dp) => dp.add_client_v4(
                                    id,
                                    ip.local,
                                    ip.peer,
                                    env.route(link),
                                    es.mtu,
                                    env.spec.routes(),
                                ),
                                None => Ok(()),
                            }
                        } else {
                            es.ipv4 = ip.peer;
                            match (&router.dataplane, ip.peer) {
                                (Some(dp), Some(peer)) => {
                                    dp.add_server_v4(id, peer, env.route(link), es.mtu)
                                }
                                _ => Ok(()),
                            }
                        };
                        {
                            let mut m = lock(&s.shared.meta);
                            m.ipv4 = es.ipv4;
                            m.peer_ipv4 = if es.client { ip.peer } else { Some(ip.local) };
                            m.mtu = es.mtu;
                        }
                        tracing::info!(
                            local = %ip.local,
                            peer = ?ip.peer,
                            mtu = es.mtu,
                            "IPCP up"
                        );
                        if let Err(e) = result {
                            tracing::warn!("cannot route the session: {e}");
                            es.ipv4 = None;
                            es.peer_v4 = None;
                            s.end_reason.get_or_insert(format!("data plane: {e}"));
                            s.hangup_cause.get_or_insert(HangupCause::ERROR);
                            es.engine.close(now, DownReason::AdminClose);
                        } else if !s.accounted {
                            s.accounted = true;
                            Self::write_start(env, &s.shared);
                        }
                    }
                    NetworkParams::Ipv6cp(v6) => {
                        if es.client {
                            // RFC 4861 §6.3.7: ask for the server's RA at once.
                            let mut rs = RsSchedule::default();
                            rs.start(now);
                            es.client_v6 = Some(ClientV6 {
                                iid: v6.local,
                                rs,
                                addr: None,
                            });
                            tracing::info!("IPV6CP up: soliciting a Router Advertisement");
                        } else if let Some(dp) = &router.dataplane
                            && let Some(subnet) = dp.add_v6(id, env.route(link), es.mtu)
                        {
                            let mut schedule = RaSchedule::rfc_defaults();
                            schedule.start(now);
                            es.v6 = Some(subnet);
                            es.ra = Some(Ra {
                                schedule,
                                src: link_local(v6.local),
                                subnet,
                            });
                            lock(&s.shared.meta).ipv6_prefix = Some(subnet);
                            tracing::info!(prefix = %subnet, "IPV6CP up: /64 delegated");
                        } else {
                            tracing::info!("IPV6CP up (no prefix delegated)");
                        }
                    }
                    NetworkParams::Ccp(ccp) => {
                        let text = ccp.mppe().map(|m| {
                            format!(
                                "{} {}",
                                mppe_name(m.key_length),
                                if m.stateless { "stateless" } else { "stateful" }
                            )
                        });
                        es.mtu = session_mtu(&es.engine);
                        tracing::info!("CCP up: {}", text.as_deref().unwrap_or("no MPPE"));
                        let mut m = lock(&s.shared.meta);
                        m.encryption = text;
                        m.mppe = ccp.mppe().map(|p| {
                            let bits = match p.key_length {
                                MppeKeyLength::Bits40 => 40,
                                MppeKeyLength::Bits56 => 56,
                                MppeKeyLength::Bits128 => 128,
                            };
                            (bits, p.stateless)
                        });
                        m.mtu = es.mtu;
                    }
                    other @ (NetworkParams::Ipxcp(_) | NetworkParams::Nbfcp(_)) => {
                        tracing::info!("{protocol} up: {other:?}");
                        let negotiated = negotiated_toml(&other);
                        let up = LanUp {
                            ncp: protocol.0,
                            data: match other {
                                NetworkParams::Ipxcp(_) => Protocol::IPX.0,
                                _ => Protocol::NBF.0,
                            },
                            negotiated,
                        };
                        lan_notify(env, &s.shared, &up, true);
                        es.lan.retain(|l| l.ncp != up.ncp);
                        es.lan.push(up);
                    }
                    other => tracing::info!("{protocol} up: {other:?}"),
                },
                Event::NetworkDown { protocol } => {
                    tracing::info!("{protocol} down");
                    if let Some(i) = es.lan.iter().position(|l| l.ncp == protocol.0) {
                        let up = es.lan.swap_remove(i);
                        lan_notify(env, &s.shared, &up, false);
                    }
                    if protocol == Protocol::IPV6CP && es.client {
                        es.client_v6 = None;
                        es.v6 = None;
                        lock(&s.shared.meta).ipv6_prefix = None;
                    }
                    if let Some(dp) = &router.dataplane {
                        if protocol == Protocol::IPCP {
                            if es.client {
                                es.ipv4 = None;
                                es.peer_v4 = None;
                                dp.remove_client_v4(id);
                            } else {
                                dp.remove_session(id, es.ipv4.take(), None, false);
                            }
                        } else if protocol == Protocol::IPV6CP {
                            if es.client {
                                dp.remove_client_v6(id);
                            } else {
                                dp.remove_session(id, None, es.v6.take(), false);
                                es.ra = None;
                            }
                        }
                    }
                }
                Event::LinkDown { reason } => {
                    if matches!(reason, DownReason::AuthFailed(_)) {
                        let refusal = es.auth.as_ref().and_then(|n| n.refusal());
                        match refusal {
                            Some(refusal) => {
                                let counter = match refusal {
                                    Refusal::PerUserLimit => &router.stats.refused_per_user,
                                    Refusal::LockedOut => &router.stats.refused_lockout,
                                };
                                counter.fetch_add(1, Ordering::Relaxed);
                                let user = es.auth.as_ref().and_then(|n| n.user());
                                tracing::warn!(
                                    user = user.as_deref().unwrap_or_default(),
                                    "{}: session refused after authentication",
                                    refusal.reason()
                                );
                                s.end_reason.get_or_insert(refusal.reason().into());
                            }
                            None => {
                                router.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    s.hangup_cause.get_or_insert(session_cause(&reason));
                    let text = match (&s.end_reason, &es.lower_cause, &reason) {
                        (Some(r), _, _) => r.clone(),
                        (None, Some(cause), DownReason::LowerDown) => format!("{reason} ({cause})"),
                        _ => reason.to_string(),
                    };
                    s.ended = Some(text);
                }
                other => tracing::debug!("{other:?}"),
            }
        }
    }

    fn write_start(env: &Env, shared: &SessionShared) {
        let m = lock(&shared.meta).clone();
        env.router.accounting.record(Record::Start(SessionStart {
            time: Timestamp::now(),
            session: shared.id,
            user: m.user,
            link: shared.link.clone(),
            peer: (!m.peer.is_empty()).then_some(m.peer),
            ipv4: m.ipv4,
            ipv6_prefix: ipv6_prefix(m.ipv6_prefix),
        }));
    }

    fn account_start(env: &Env, s: &mut Session) {
        if !s.accounted {
            s.accounted = true;
            Self::write_start(env, &s.shared);
        }
    }

    /// Ends the session on `link` now: routes, limits, registry, accounting, and a hangup
    /// when the plugin still has the call.
    pub fn finish(&mut self, env: &Env, now: Instant, link: LinkId) {
        let Some(mut s) = self.sessions.remove(&link) else {
            return;
        };
        if s.shared.capture.is_some() {
            self.captures = self.captures.saturating_sub(1);
        }
        if let Some(at) = s.deadline.take() {
            self.deadlines.remove(&(at, link));
        }
        let router = &env.router;
        let id = s.shared.id;
        let reason = s
            .ended
            .take()
            .or_else(|| s.end_reason.take())
            .unwrap_or_else(|| "ended".into());
        let mut tried_user = None;
        match &mut s.kind {
            Kind::Engine(es) => {
                if let Some(dp) = &router.dataplane {
                    if es.client {
                        dp.remove_session(id, None, None, true);
                    } else if es.ipv4.is_some() || es.v6.is_some() {
                        dp.remove_session(id, es.ipv4, es.v6, false);
                    }
                }
                if let Some(user) = es.user_claimed.take() {
                    router.release_user(&user);
                }
                if let Some(r) = &es.reservation {
                    r.release();
                }
                tried_user = es.auth.as_ref().and_then(|n| n.user());
                for up in es.lan.drain(..) {
                    lan_notify(env, &s.shared, &up, false);
                }
                s.shared.counters.set_from_engine(&es.engine.counters());
                if es.engine.mppe().is_some() || es.ipv4.is_some() {
                    self.redial_backoff = MIN_REDIAL_BACKOFF;
                }
            }
            Kind::Relay(peer) => {
                if let Some(peer) = peer.take() {
                    let down = RelayMsg::Down {
                        link: peer.link,
                        reason: reason.clone(),
                        cause: s.hangup_cause.unwrap_or(HangupCause::UNSPECIFIED),
                    };
                    let _ = peer.tx.try_send(ActorMsg::Relay(down));
                }
            }
        }
        lock(&router.sessions).remove(&id);
        router.count_end(&reason);
        let c = s.shared.counters.snapshot();
        router.add_ended_traffic(&s.shared);
        s.span.in_scope(|| {
            tracing::info!(
                reason = %reason,
                bytes_in = c.bytes_in,
                bytes_out = c.bytes_out,
                "session ended"
            );
        });
        if s.accounted {
            let m = lock(&s.shared.meta).clone();
            router.accounting.record(Record::Stop(SessionStop {
                time: Timestamp::now(),
                session: id,
                user: m.user,
                link: s.shared.link.clone(),
                peer: (!m.peer.is_empty()).then_some(m.peer),
                ipv4: m.ipv4,
                ipv6_prefix: ipv6_prefix(m.ipv6_prefix),
                started: s.shared.started,
                duration_ms: u64::try_from(
                    now.saturating_duration_since(s.shared.started_at)
                        .as_millis(),
                )
                .unwrap_or(u64::MAX),
                bytes_in: c.bytes_in,
                bytes_out: c.bytes_out,
                packets_in: c.packets_in,
                packets_out: c.packets_out,
                reason,
            }));
        } else {
            // It never came up: LCP or authentication failed, a limit or the pool refused
            // it, the relayed call did not connect, or it was ended first.
            let m = lock(&s.shared.meta).clone();
            router.accounting.record(Record::Failed(SessionFailed {
                time: Timestamp::now(),
                session: id,
                user: Some(m.user).filter(|u| !u.is_empty()).or(tried_user),
                link: s.shared.link.clone(),
                peer: (!m.peer.is_empty()).then_some(m.peer),
                started: s.shared.started,
                duration_ms: u64::try_from(
                    now.saturating_duration_since(s.shared.started_at)
                        .as_millis(),
                )
                .unwrap_or(u64::MAX),
                reason,
            }));
        }
        if s.link_up {
            let cause = s.hangup_cause.unwrap_or(HangupCause::UNSPECIFIED);
            self.outbox.push_back(Out::Hangup { link, cause });
        }
        if env.spec.dials_on_start() {
            self.redial_at = Some(now + self.redial_backoff);
            self.redial_backoff = (self.redial_backoff * 2).min(MAX_REDIAL_BACKOFF);
        }
    }

    /// Ends session `id` (admin kill): a terminating session closes LCP first (the link
    /// goes down when the peer acks or after Max-Terminate); a relay ends at once.
    pub fn kill(&mut self, env: &Env, now: Instant, id: u64, reason: &str) -> bool {
        let Some(link) = self
            .sessions
            .iter()
            .find(|(_, s)| s.shared.id == id)
            .map(|(l, _)| *l)
        else {
            return false;
        };
        let Some(s) = self.sessions.get_mut(&link) else {
            return false;
        };
        s.end_reason.get_or_insert_with(|| reason.to_owned());
        s.hangup_cause.get_or_insert(HangupCause::ADMIN);
        match &mut s.kind {
            Kind::Engine(es) => {
                es.engine.close(now, DownReason::AdminClose);
                mark(&mut self.dirty, link, s);
            }
            Kind::Relay(_) => self.finish(env, now, link),
        }
        true
    }

    /// Ends every session at once with `reason`: the instance is stopping (`hangup`: the
    /// plugin can still be told) or failed (it cannot).
    pub fn end_all(&mut self, env: &Env, now: Instant, reason: &str, hangup: bool) {
        let links: Vec<LinkId> = self.sessions.keys().copied().collect();
        for link in links {
            if let Some(s) = self.sessions.get_mut(&link) {
                s.end_reason.get_or_insert_with(|| reason.to_owned());
                s.hangup_cause.get_or_insert(HangupCause::ADMIN);
                if !hangup {
                    s.link_up = false;
                }
                if let Kind::Engine(es) = &mut s.kind {
                    if hangup {
                        // Tell the peer (Terminate-Request), then hang up right after.
                        es.engine.close(now, DownReason::AdminClose);
                        drain(&mut es.engine, link, &mut self.outbox, &mut self.spare);
                    }
                    s.ended = None;
                }
            }
            self.finish(env, now, link);
        }
        for (link, back) in self.legs.drain().chain(self.dialed.drain()) {
            if hangup {
                let cause = HangupCause::ADMIN;
                self.outbox.push_back(Out::Hangup { link, cause });
            }
            let down = RelayMsg::Down {
                link: back.link,
                reason: reason.to_owned(),
                cause: HangupCause::ADMIN,
            };
            let _ = back.tx.try_send(ActorMsg::Relay(down));
        }
        self.redial_at = None;
        if !hangup {
            self.outbox.clear();
        }
    }
}

/// The hangup cause for a session whose PPP engine went down for `reason`.
fn session_cause(reason: &DownReason) -> HangupCause {
    match reason {
        DownReason::AdminClose => HangupCause::ADMIN,
        DownReason::PeerTerminated => HangupCause::SESSION_END,
        DownReason::EchoTimeout | DownReason::LowerDown => HangupCause::LINE_DROP,
        DownReason::IdleTimeout | DownReason::SessionTimeout => HangupCause::IDLE,
        _ => HangupCause::ERROR,
    }
}

/// The hangup cause to pass on when one leg of a relayed call went down with `cause`: the
/// other leg lost its line, unless the core itself asked for the hangup.
fn line_cause(cause: LinkDownCause) -> HangupCause {
    match cause {
        LinkDownCause::Requested => HangupCause::UNSPECIFIED,
        _ => HangupCause::LINE_DROP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_come_due_earliest_first_and_rearming_moves_them() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut timers = Timers::default();
        timers.insert(TimerId(1), at(30));
        timers.insert(TimerId(2), at(10));
        timers.insert(TimerId(3), at(20));
        assert_eq!(timers.earliest(), Some(at(10)));
        timers.insert(TimerId(2), at(40)); // re-armed later
        timers.remove(&TimerId(3));
        assert_eq!((timers.len(), timers.earliest()), (2, Some(at(30))));
        assert!(timers.pop_due(at(29)).is_empty());
        assert_eq!(timers.pop_due(at(40)), [TimerId(1), TimerId(2)]);
        assert!(timers.is_empty() && timers.earliest().is_none());
        timers.insert(TimerId(4), at(5));
        timers.clear();
        assert!(timers.pop_due(at(100)).is_empty());
    }
    use crate::config::{AccountingConfig, LimitsConfig, PppSettings};
    use crate::daemon::accounting::Accounting;
    use dialgate_ppp::auth::{Credentials, LocalUsers};

    fn env(limits: LimitsConfig) -> (Env, mpsc::Receiver<ActorMsg>) {
        let accounting = Accounting::start(
            &AccountingConfig {
                enabled: false,
                ..AccountingConfig::default()
            },
            std::path::PathBuf::from("/nonexistent"),
        );
        let router = Arc::new(Router::new(
            None,
            LocalUsers::new(),
            limits,
            "test".into(),
            accounting,
        ));
        let (tx, rx) = mpsc::channel(8);
        let spec = LinkSpec {
            name: "out".into(),
            plugin: "fake".into(),
            role: LinkRole::Dial,
            mode: LinkMode::Terminate,
            relay_to: None,
            instance_config: String::new(),
            engine: Some(EngineTemplate::Client {
                settings: PppSettings::default(),
                credentials: Credentials::new("alice", "secret").unwrap(),
                routes: Vec::new(),
            }),
            lan_protocol: false,
        };
        (Env { spec, router, tx }, rx)
    }

    fn up(core: &mut Core, env: &Env, link: u64) -> Result<(), HostError> {
        let info = LinkInfo::new(Direction::Outgoing, "peer");
        core.link_up(env, Instant::now(), LinkId(link), &info)
    }

    #[test]
    fn a_call_starts_an_engine_session_that_sends_lcp_configure_request() {
        let (env, _rx) = env(LimitsConfig::default());
        let mut core = Core::new(false, Instant::now());
        up(&mut core, &env, 7).unwrap();
        assert_eq!(env.router.session_count(), 1);
        // RFC 1661 §5.1: the first frame is an LCP Configure-Request (C0 21, code 1).
        match core.outbox.front() {
            Some(Out::Frame { link, buf }) => {
                assert_eq!(*link, LinkId(7));
                let lcp = buf.iter().position(|b| *b == 0xc0).unwrap();
                assert_eq!(buf.get(lcp..lcp + 3), Some(&[0xc0, 0x21, 1][..]));
            }
            other => panic!("expected a frame, got {other:?}"),
        }
        // The same link cannot come up twice.
        assert!(up(&mut core, &env, 7).is_err());
    }

    #[test]
    fn the_session_limit_refuses_calls() {
        let (env, _rx) = env(LimitsConfig {
            max_sessions: 1,
            per_user_sessions: None,
            ..LimitsConfig::default()
        });
        let mut core = Core::new(false, Instant::now());
        up(&mut core, &env, 1).unwrap();
        assert!(matches!(
            up(&mut core, &env, 2),
            Err(HostError::Denied { .. })
        ));
        assert_eq!(env.router.stats.refused_limit.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_failed_plugin_ends_every_session_without_hangup() {
        let (env, _rx) = env(LimitsConfig::default());
        let mut core = Core::new(false, Instant::now());
        up(&mut core, &env, 1).unwrap();
        up(&mut core, &env, 2).unwrap();
        core.end_all(
            &env,
            Instant::now(),
            "plugin fake failed in send_frame: boom",
            false,
        );
        assert!(core.sessions.is_empty());
        assert_eq!(env.router.session_count(), 0);
        assert!(
            core.outbox.is_empty(),
            "nothing more reaches a failed plugin"
        );
        let reasons = lock(&env.router.stats.end_reasons).clone();
        assert_eq!(
            reasons.get("plugin fake failed in send_frame: boom"),
            Some(&2)
        );
    }

    #[test]
    fn stopping_terminates_then_hangs_up() {
        let (env, _rx) = env(LimitsConfig::default());
        let mut core = Core::new(false, Instant::now());
        up(&mut core, &env, 3).unwrap();
        core.outbox.clear();
        core.end_all(&env, Instant::now(), "configuration changed", true);
        // RFC 1661 §5.5: a Terminate-Request (code 5) goes out before the hangup.
        let kinds: Vec<String> = core
            .outbox
            .iter()
            .map(|o| match o {
                Out::Frame { buf, .. } => {
                    let lcp = buf.iter().position(|b| *b == 0xc0).unwrap_or(0);
                    format!("lcp-{}", buf.get(lcp + 2).copied().unwrap_or(0))
                }
                Out::Hangup { cause, .. } => format!("hangup ({cause})"),
                Out::LinkParams { .. } => "params".into(),
            })
            .collect();
        assert_eq!(kinds, ["lcp-5", "hangup (administrator)"]);
    }

    /// The hangup the plugin gets says why (ABI 1.2): PPTP picks its Call-Disconnect-Notify
    /// result code from it (RFC 2637 §2.13).
    #[test]
    fn hangup_causes_follow_why_the_session_ended() {
        assert_eq!(
            session_cause(&DownReason::PeerTerminated),
            HangupCause::SESSION_END
        );
        assert_eq!(
            session_cause(&DownReason::EchoTimeout),
            HangupCause::LINE_DROP
        );
        assert_eq!(session_cause(&DownReason::IdleTimeout), HangupCause::IDLE);
        assert_eq!(
            session_cause(&DownReason::SessionTimeout),
            HangupCause::IDLE
        );
        assert_eq!(session_cause(&DownReason::AdminClose), HangupCause::ADMIN);
        assert_eq!(
            session_cause(&DownReason::EncryptionRequiredRefused),
            HangupCause::ERROR
        );
        assert_eq!(
            line_cause(LinkDownCause::CarrierLost),
            HangupCause::LINE_DROP
        );
        assert_eq!(
            line_cause(LinkDownCause::PeerHangup),
            HangupCause::LINE_DROP
        );
        assert_eq!(
            line_cause(LinkDownCause::Requested),
            HangupCause::UNSPECIFIED
        );

        // A relayed call whose other leg lost its line is hung up as a line drop.
        let (env, _rx) = env(LimitsConfig::default());
        let mut core = Core::new(false, Instant::now());
        let (tx, _peer_rx) = mpsc::channel(8);
        core.legs.insert(
            LinkId(4),
            RelayPeer {
                tx,
                link: LinkId(9),
            },
        );
        core.relay(
            &env,
            Instant::now(),
            RelayMsg::Down {
                link: LinkId(4),
                reason: "relayed call down (CarrierLost)".into(),
                cause: HangupCause::LINE_DROP,
            },
        );
        assert!(matches!(
            core.outbox.pop_front(),
            Some(Out::Hangup {
                link: LinkId(4),
                cause: HangupCause::LINE_DROP
            })
        ));
    }

    #[test]
    fn a_plugins_mru_hint_lowers_the_mru_we_ask_for_rfc1661_6_1() {
        let (env, _rx) = env(LimitsConfig::default());
        let mut core = Core::new(false, Instant::now());
        core.set_mru_hint(LinkId(3), 1460);
        up(&mut core, &env, 3).unwrap();
        up(&mut core, &env, 4).unwrap();
        let mru = |core: &Core, link| match &core.sessions[&LinkId(link)].kind {
            Kind::Engine(es) => es.engine.config().lcp.mru,
            Kind::Relay(_) => 0,
        };
        assert_eq!(mru(&core, 3), 1460);
        assert_eq!(mru(&core, 4), 1500, "no hint: the configured MRU");
        assert!(core.mru_hints.is_empty(), "taken by link_up");
        // Never below 576; a link that never comes up leaves nothing behind.
        core.set_mru_hint(LinkId(5), 100);
        up(&mut core, &env, 5).unwrap();
        assert_eq!(mru(&core, 5), 576);
        core.set_mru_hint(LinkId(6), 1400);
        core.link_down(&env, Instant::now(), LinkId(6), LinkDownCause::Failed, "");
        assert!(core.mru_hints.is_empty());
    }

    #[test]
    fn a_congested_link_drops_packets_before_the_engine() {
        let (env, _rx) = env(LimitsConfig::default());
        let mut core = Core::new(false, Instant::now());
        up(&mut core, &env, 5).unwrap();
        core.outbox.clear();
        let id = core.sessions[&LinkId(5)].shared.id;
        let dropped = |core: &Core| {
            core.sessions[&LinkId(5)]
                .shared
                .counters
                .dropped
                .load(Ordering::Relaxed)
        };
        let mut packet = vec![0u8; 28];
        packet[0] = 0x45;
        core.set_congested(LinkId(5), true);
        assert!(core.sessions[&LinkId(5)].congested);
        core.packet(&env, Instant::now(), LinkId(5), packet.clone());
        assert_eq!(dropped(&core), 1);
        assert!(core.outbox.is_empty());
        core.set_congested(LinkId(5), false);
        assert!(!core.sessions[&LinkId(5)].congested);
        // An unknown link is ignored; a kill is an administrator's hangup.
        core.set_congested(LinkId(6), true);
        assert!(core.kill(&env, Instant::now(), id, "killed"));
    }

    #[test]
    fn the_per_user_limit_counts_authenticated_users() {
        let (env, _rx) = env(LimitsConfig {
            max_sessions: 10,
            per_user_sessions: Some(1),
            ..LimitsConfig::default()
        });
        assert!(env.router.claim_user("alice"));
        assert!(!env.router.claim_user("alice"));
        assert!(env.router.claim_user("bob"));
        env.router.release_user("alice");
        assert!(env.router.claim_user("alice"));
    }

    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Memory of idle sessions: `cargo test -p dialgate-routerd --release --lib
    /// idle_session_memory -- --ignored --nocapture` prints the RSS growth per 1,000
    /// sessions (each an engine that sent its Configure-Request, its registry entry and
    /// counters).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn idle_session_memory() {
        const N: u64 = 10_000;
        let (env, _rx) = env(LimitsConfig {
            max_sessions: 1_000_000,
            per_user_sessions: None,
            ..LimitsConfig::default()
        });
        let mut core = Core::new(false, Instant::now());
        let before = rss_kib();
        for link in 0..N {
            up(&mut core, &env, link).unwrap();
            // As the actor does once the plugin took the frames.
            while let Some(out) = core.outbox.pop_front() {
                if let Out::Frame { buf, .. } = out {
                    core.recycle(&env.router, buf);
                }
            }
        }
        let after = rss_kib();
        let per_thousand = (after.saturating_sub(before)) * 1000 / N;
        println!(
            "{N} idle sessions: RSS {before} KiB -> {after} KiB, {per_thousand} KiB per 1,000 sessions"
        );
        assert_eq!(env.router.session_count(), N as usize);
    }
}
