//! One PPTP client control connection and its calls, sans-IO: the PNS role that Windows and
//! Linux clients play (RFC 2637 §3.1.1 originator, §3.2.4.2 Outgoing-Call-Request), with a
//! dialing PPP engine on each call (LCP, MS-CHAPv2, CCP/MPPE-128, IPCP) and echo traffic
//! through it once the network is up.
//!
//! Like the crates it drives, [`Conn`] does no I/O and reads no clock: the driver feeds the
//! TCP connect result, the TCP bytes, the GRE packets addressed to the connection's calls and
//! the time; it writes what [`Conn::poll_tcp_transmit`] and [`Conn::poll_gre_transmit`] hand
//! out, sleeps until [`Conn::poll_timeout`], and counts [`Conn::poll_event`]s. GRE packets
//! are found by (local address, Call ID): the driver keeps that table with
//! [`Conn::place_calls`] (which asks it to claim each new Call ID) and
//! [`Conn::poll_released`].

use std::collections::VecDeque;
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialgate_ppp::auth::Credentials;
use dialgate_ppp::config::PeerRole;
use dialgate_ppp::{Config, DownReason, Engine, Event, NetworkParams, Protocol};
use dialgate_pptp::control::{
    self, CallDownReason, CallId, ClearCause, CloseReason, ControlConfig, ControlConnection,
    OutgoingCallParams, Refusal,
};
use dialgate_pptp::gre::{GreCall, GreConfig, HEADER_ROOM};
use dialgate_wire::pptp::StopReason;

use crate::icmp;

/// Where a session's setup stands (for time-outs by stage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// TCP connect to port 1723.
    Tcp,
    /// Start-Control-Connection-Request sent, no reply yet (RFC 2637 §3.1.1).
    Control,
    /// Outgoing-Call-Request sent, no reply yet (RFC 2637 §3.2.4.2).
    Call,
    /// LCP negotiating (RFC 1661 §3.4).
    Lcp,
    /// MS-CHAPv2 running (RFC 2759).
    Auth,
    /// CCP/MPPE (RFC 3078) and IPCP (RFC 1332) negotiating.
    Network,
    /// Echo requests sent, replies outstanding.
    Traffic,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Control => "control",
            Self::Call => "call",
            Self::Lcp => "lcp",
            Self::Auth => "auth",
            Self::Network => "network",
            Self::Traffic => "traffic",
        })
    }
}

/// Why a session failed to set up, or why one that was up went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failure {
    /// The TCP connection was refused (RST to the SYN).
    TcpRefused,
    /// Any other TCP error (unreachable, reset, bind failure).
    TcpError,
    /// The server refused or dropped the control connection before it was established
    /// (Start-Control-Connection-Reply with an error, a version mismatch, a TCP close).
    ControlRejected,
    /// The server refused the Outgoing-Call-Request (RFC 2637 §2.8 result other than
    /// Connected).
    CallRejected,
    /// LCP did not converge.
    LcpFailed,
    /// MS-CHAPv2 failed (wrong credentials, a bad authenticator response, no answer).
    AuthFailed,
    /// CCP/MPPE did not come up (MPPE refused).
    CcpFailed,
    /// IPCP did not come up (no address).
    IpcpFailed,
    /// The echo requests sent through the session were not all answered in time.
    TrafficFailed,
    /// The server cleared the call, terminated LCP or closed the control connection.
    PeerClosed,
    /// The setup did not finish within the setup time-out; the stage it was stuck in.
    Timeout(Stage),
    /// The run ended before the setup finished.
    Aborted,
    /// A local problem (no Call ID free on this source address).
    LocalError,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TcpRefused => "tcp_refused",
            Self::TcpError => "tcp_error",
            Self::ControlRejected => "control_rejected",
            Self::CallRejected => "call_rejected",
            Self::LcpFailed => "lcp_failed",
            Self::AuthFailed => "auth_failed",
            Self::CcpFailed => "ccp_failed",
            Self::IpcpFailed => "ipcp_failed",
            Self::TrafficFailed => "traffic_failed",
            Self::PeerClosed => "peer_closed",
            Self::Timeout(_) => "timeout",
            Self::Aborted => "aborted",
            Self::LocalError => "local_error",
        })
    }
}

/// How the sessions of a run are set up; shared by every connection.
#[derive(Clone)]
pub struct Settings {
    /// Calls placed on each control connection (1: like real clients).
    pub calls_per_connection: u16,
    /// User name; `{n}` is replaced by the session number (see [`Settings::user_count`]).
    pub user: String,
    /// Password of every user.
    pub password: String,
    /// With `{n}` in the user name: number the users 1..=user_count, cycling; 0: the
    /// session number plus one (every session its own user).
    pub user_count: u64,
    /// PPP settings of every call (the engine dials: MS-CHAPv2, MPPE-128, IPCP client); the
    /// credentials and seed are set per call.
    pub ppp: Config,
    /// Control connection settings; the seed is set per connection.
    pub control: ControlConfig,
    /// GRE settings of every call.
    pub gre: GreConfig,
    /// Echo requests each session sends once its network is up (at most 64).
    pub pings: u16,
    /// Where they go; `None`: the server's IPCP address.
    pub ping_target: Option<Ipv4Addr>,
    /// Time from the TCP connect to the last echo reply before the setup fails.
    pub setup_timeout: Duration,
    /// How long a session stays up before we close it (`None`: until the run ends).
    pub hold: Option<Duration>,
    /// How long closing may take before we give up on a polite teardown.
    pub close_timeout: Duration,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("calls_per_connection", &self.calls_per_connection)
            .field("user", &self.user)
            .field("user_count", &self.user_count)
            .field("pings", &self.pings)
            .field("ping_target", &self.ping_target)
            .field("setup_timeout", &self.setup_timeout)
            .field("hold", &self.hold)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The user name of session `index`.
    pub fn user_name(&self, index: u64) -> String {
        if !self.user.contains("{n}") {
            return self.user.clone();
        }
        let n = match self.user_count {
            0 => index + 1,
            count => index % count + 1,
        };
        self.user.replace("{n}", &n.to_string())
    }
}

/// What the driver counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnEvent {
    /// The control connection is established.
    ControlUp,
    /// Session `index` is completely set up, `latency` after the TCP connect started.
    SessionUp {
        /// The session number.
        index: u64,
        /// Time from the TCP connect.
        latency: Duration,
    },
    /// Session `index` failed to set up.
    SessionFailed {
        /// The session number.
        index: u64,
        /// Why.
        failure: Failure,
    },
    /// Session `index`, which was up, went down: `lost` says why if we did not close it.
    SessionDown {
        /// The session number.
        index: u64,
        /// `None`: we closed it.
        lost: Option<Failure>,
    },
    /// An echo request went out.
    EchoSent,
    /// An echo reply came back.
    EchoAnswered,
    /// A new Call ID was already in use on this source address: the call was cleared and
    /// placed again.
    CallIdCollision,
}

/// What a call slot is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Waiting for the control connection.
    Waiting,
    /// Outgoing-Call-Request sent.
    Placing,
    /// The call is up; PPP negotiating.
    Ppp,
    /// Network up; echo requests outstanding.
    Traffic,
    /// Complete; held.
    Up,
    /// We closed LCP and wait for it to finish.
    Closing,
    /// Over (reported).
    Done,
}

/// Most echo requests per session (replies are tracked in a 64-bit mask).
pub const MAX_PINGS: u16 = 64;

/// One call of the connection: one session.
#[derive(Debug)]
struct Slot {
    index: u64,
    state: SlotState,
    call: Option<CallId>,
    gre: Option<GreCall>,
    engine: Option<Engine>,
    local: Option<Ipv4Addr>,
    peer: Option<Ipv4Addr>,
    /// LCP opened (RFC 1661 §3.4 done).
    link_up: bool,
    /// The server authenticated us.
    authenticated: bool,
    ipcp_up: bool,
    ccp_up: bool,
    pings_sent: u16,
    answered: u64,
    /// Setup deadline, then the end of the hold time, then the close deadline.
    deadline: Option<Instant>,
    /// Whether the slot has something to send (ask the engine and the GRE call).
    queued: bool,
    /// GRE that arrived before the Outgoing-Call-Reply was read (the server sends its first
    /// LCP Configure-Request right behind the reply, on another socket): replayed once the
    /// call is up.
    early: Vec<EarlyGre>,
}

/// A GRE packet kept for a call not up yet.
#[derive(Debug)]
struct EarlyGre {
    seq: Option<u32>,
    ack: Option<u32>,
    payload: Vec<u8>,
}

/// Most GRE packets kept per call before its Outgoing-Call-Reply is read.
const MAX_EARLY_GRE: usize = 4;

impl Slot {
    fn stage(&self) -> Stage {
        match self.state {
            SlotState::Waiting => Stage::Control,
            SlotState::Placing => Stage::Call,
            SlotState::Traffic => Stage::Traffic,
            _ if !self.link_up => Stage::Lcp,
            _ if !self.authenticated => Stage::Auth,
            _ => Stage::Network,
        }
    }

    fn pings_answered(&self) -> u32 {
        self.answered.count_ones()
    }
}

/// The ICMP Identifier of session `index`'s echo requests.
fn echo_ident(index: u64) -> u16 {
    (index as u16) ^ 0x5a5a
}

/// Why an engine's link went down, as a [`Failure`], given how far the slot got.
fn classify(reason: &DownReason, slot: &Slot) -> Failure {
    match reason {
        DownReason::AuthFailed(_) => Failure::AuthFailed,
        DownReason::NegotiationFailed { protocol, .. } => match *protocol {
            Protocol::LCP => Failure::LcpFailed,
            Protocol::CCP => Failure::CcpFailed,
            Protocol::IPCP => Failure::IpcpFailed,
            _ => Failure::PeerClosed,
        },
        DownReason::EncryptionRequiredRefused => Failure::CcpFailed,
        DownReason::PeerTerminated if slot.state == SlotState::Ppp => match slot.stage() {
            Stage::Lcp => Failure::LcpFailed,
            Stage::Auth => Failure::AuthFailed,
            _ if !slot.ccp_up => Failure::CcpFailed,
            _ if !slot.ipcp_up => Failure::IpcpFailed,
            _ => Failure::PeerClosed,
        },
        _ => Failure::PeerClosed,
    }
}

/// SplitMix64: seeds for the engines and the control connection.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How often a colliding Call ID is replaced before the session fails.
const MAX_CALL_ATTEMPTS: u8 = 8;

/// One control connection with its calls (see the module documentation).
#[derive(Debug)]
pub struct Conn {
    settings: Arc<Settings>,
    control: Option<ControlConnection>,
    slots: Vec<Slot>,
    started: Instant,
    seed: u64,
    /// Every slot is Done: the control connection is being (or was) closed.
    stopping: bool,
    /// When we give up waiting for the Stop-Control-Connection-Reply.
    stop_deadline: Option<Instant>,
    /// Calls to place once the control connection is established.
    wants_calls: bool,
    events: VecDeque<ConnEvent>,
    /// Call IDs the driver must forget.
    released: Vec<u16>,
    /// Call IDs cleared because they collided (never claimed: never released).
    discarded: Vec<u16>,
    /// A PPP frame out of an engine (reused).
    frame: Vec<u8>,
}

impl Conn {
    /// A connection for sessions `first_index ..` (one per call), whose TCP connect starts
    /// now.
    pub fn new(settings: Arc<Settings>, first_index: u64, seed: u64, now: Instant) -> Self {
        let deadline = Some(now + settings.setup_timeout);
        let slots = (0..u64::from(settings.calls_per_connection.max(1)))
            .map(|i| Slot {
                index: first_index + i,
                state: SlotState::Waiting,
                call: None,
                gre: None,
                engine: None,
                local: None,
                peer: None,
                link_up: false,
                authenticated: false,
                ipcp_up: false,
                ccp_up: false,
                pings_sent: 0,
                answered: 0,
                deadline,
                queued: false,
                early: Vec::new(),
            })
            .collect();
        Self {
            settings,
            control: None,
            slots,
            started: now,
            seed,
            stopping: false,
            stop_deadline: None,
            wants_calls: false,
            events: VecDeque::new(),
            released: Vec::new(),
            discarded: Vec::new(),
            frame: Vec::with_capacity(128),
        }
    }

    /// Sessions this connection carries.
    pub fn sessions(&self) -> usize {
        self.slots.len()
    }

    /// The TCP connection is up: start the control connection (Start-Control-Connection-
    /// Request, RFC 2637 §3.1.1).
    pub fn connected(&mut self, now: Instant) {
        if self.control.is_some() || self.stopping {
            return;
        }
        let config = ControlConfig {
            seed: splitmix(&mut self.seed),
            ..self.settings.control.clone()
        };
        self.control = Some(ControlConnection::new(
            control::Role::Initiator,
            config,
            now,
        ));
    }

    /// The TCP connect failed.
    pub fn connect_failed(&mut self, failure: Failure) {
        self.fail_all(failure);
    }

    /// Bytes read from the TCP connection.
    pub fn handle_tcp(&mut self, now: Instant, bytes: &[u8]) {
        if let Some(c) = self.control.as_mut() {
            c.handle_bytes(now, bytes);
        }
        self.process(now);
    }

    /// The server closed the TCP connection (or it broke).
    pub fn handle_tcp_closed(&mut self, now: Instant) {
        match self.control.as_mut() {
            Some(c) => c.handle_tcp_closed(),
            None => self.fail_all(Failure::TcpError),
        }
        self.process(now);
    }

    /// A GRE packet for our Call ID `call_id` (RFC 2637 §4.1, header already parsed).
    /// Returns false when no call of this connection has that ID.
    pub fn handle_gre(
        &mut self,
        now: Instant,
        call_id: u16,
        seq: Option<u32>,
        ack: Option<u32>,
        payload: &mut [u8],
    ) -> bool {
        let Some(i) = self.slot_of(call_id) else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        if slot.state == SlotState::Placing {
            if slot.early.len() < MAX_EARLY_GRE {
                slot.early.push(EarlyGre {
                    seq,
                    ack,
                    payload: payload.to_vec(),
                });
            }
            return true;
        }
        if !self.slot_gre(now, i, call_id, seq, ack, payload) {
            return false;
        }
        self.process(now);
        true
    }

    /// A GRE packet for slot `i`'s call; false if the slot has no call up.
    fn slot_gre(
        &mut self,
        now: Instant,
        i: usize,
        call_id: u16,
        seq: Option<u32>,
        ack: Option<u32>,
        payload: &mut [u8],
    ) -> bool {
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        let (Some(gre), Some(engine)) = (slot.gre.as_mut(), slot.engine.as_mut()) else {
            return false;
        };
        let mut replies = 0u64;
        if let Ok(Some(frame)) = gre.handle_parsed(now, call_id, seq, ack, payload) {
            replies |= Self::deliver(engine, now, frame, slot.local, slot.index);
        }
        while let Some(frame) = gre.poll_deliver() {
            replies |= Self::deliver(engine, now, frame, slot.local, slot.index);
        }
        self.note_replies(i, replies);
        self.slot_events(now, i);
        if let Some(slot) = self.slots.get_mut(i) {
            slot.queued = true;
        }
        true
    }

    /// Hand a PPP frame to the engine; returns the mask of echo replies it carried.
    fn deliver(
        engine: &mut Engine,
        now: Instant,
        frame: &mut [u8],
        local: Option<Ipv4Addr>,
        index: u64,
    ) -> u64 {
        let Some(d) = engine.handle_frame(now, frame) else {
            return 0;
        };
        if d.protocol != Protocol::IPV4 {
            return 0;
        }
        match icmp::parse(d.payload) {
            Some((true, echo))
                if Some(echo.dst) == local
                    && echo.ident == echo_ident(index)
                    && (1..=MAX_PINGS).contains(&echo.seq) =>
            {
                1 << (echo.seq - 1)
            }
            _ => 0,
        }
    }

    fn note_replies(&mut self, i: usize, replies: u64) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let new = replies & !slot.answered;
        slot.answered |= new;
        for _ in 0..new.count_ones() {
            self.events.push_back(ConnEvent::EchoAnswered);
        }
    }

    fn slot_of(&self, call_id: u16) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.call.is_some_and(|c| c.0 == call_id))
    }

    /// The earliest deadline for [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let control = self
            .control
            .as_ref()
            .and_then(ControlConnection::poll_timeout);
        let slots = self.slots.iter().filter_map(|s| {
            [
                s.deadline,
                s.engine.as_ref().and_then(Engine::poll_timeout),
                s.gre.as_ref().and_then(GreCall::poll_timeout),
            ]
            .into_iter()
            .flatten()
            .min()
        });
        let stop = self.stop_deadline.filter(|_| !self.is_done());
        control.into_iter().chain(stop).chain(slots).min()
    }

    /// Run every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(c) = self.control.as_mut() {
            if self.stop_deadline.is_some_and(|t| t <= now) {
                // No Stop-Control-Connection-Reply in time: just close.
                c.abort();
            } else if c.poll_timeout().is_some_and(|t| t <= now) {
                c.handle_timeout(now);
            }
        }
        for i in 0..self.slots.len() {
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            let mut replies = 0;
            if let Some(gre) = slot.gre.as_mut()
                && gre.poll_timeout().is_some_and(|t| t <= now)
            {
                gre.handle_timeout(now);
                slot.queued = true;
                if let Some(engine) = slot.engine.as_mut() {
                    while let Some(frame) = gre.poll_deliver() {
                        replies |= Self::deliver(engine, now, frame, slot.local, slot.index);
                    }
                }
            }
            if let Some(engine) = slot.engine.as_mut()
                && engine.poll_timeout().is_some_and(|t| t <= now)
            {
                engine.handle_timeout(now);
                slot.queued = true;
            }
            self.note_replies(i, replies);
            self.slot_events(now, i);
            self.slot_deadline(now, i);
        }
        self.process(now);
    }

    /// A slot's own deadline: setup time-out, end of hold, close time-out.
    fn slot_deadline(&mut self, now: Instant, i: usize) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if slot.deadline.is_none_or(|d| d > now) {
            return;
        }
        slot.deadline = None;
        match slot.state {
            SlotState::Waiting | SlotState::Placing | SlotState::Ppp | SlotState::Traffic => {
                let failure = if slot.state == SlotState::Traffic {
                    Failure::TrafficFailed
                } else if self.control.is_none() {
                    Failure::Timeout(Stage::Tcp)
                } else {
                    Failure::Timeout(slot.stage())
                };
                self.finish(now, i, Some(failure));
            }
            SlotState::Up => self.close_slot(now, i),
            SlotState::Closing => self.finish(now, i, None),
            SlotState::Done => {}
        }
    }

    /// Stop: sessions still setting up fail as [`Failure::Aborted`], sessions up are closed
    /// (LCP Terminate, Call-Clear-Request, Stop-Control-Connection-Request).
    pub fn shutdown(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            match self.slots.get(i).map(|s| s.state) {
                Some(SlotState::Up) => self.close_slot(now, i),
                Some(SlotState::Closing | SlotState::Done) | None => {}
                Some(_) => self.finish(now, i, Some(Failure::Aborted)),
            }
        }
        self.process(now);
    }

    /// Whether everything is over: close the TCP connection once the output is written.
    pub fn is_done(&self) -> bool {
        self.stopping
            && self
                .control
                .as_ref()
                .is_none_or(ControlConnection::is_closed)
    }

    /// Whether [`place_calls`](Self::place_calls) has work.
    pub fn wants_calls(&self) -> bool {
        self.wants_calls
    }

    /// Place the calls (Outgoing-Call-Request, RFC 2637 §2.7) once the control connection is
    /// established. `claim(id)` must reserve Call ID `id` on this connection's source address
    /// for it, or return false if another connection there uses it: the call is then cleared
    /// and placed again.
    pub fn place_calls(&mut self, now: Instant, mut claim: impl FnMut(u16) -> bool) {
        if !self.wants_calls {
            return;
        }
        self.wants_calls = false;
        let params = OutgoingCallParams::default();
        for i in 0..self.slots.len() {
            if self.slots.get(i).map(|s| s.state) != Some(SlotState::Waiting) {
                continue;
            }
            let mut placed = None;
            let mut failure = Failure::LocalError;
            for _ in 0..MAX_CALL_ATTEMPTS {
                let Some(control) = self.control.as_mut() else {
                    break;
                };
                match control.place_outgoing_call(now, &params) {
                    Ok(id) if claim(id.0) => {
                        placed = Some(id);
                        break;
                    }
                    Ok(id) => {
                        self.events.push_back(ConnEvent::CallIdCollision);
                        self.discarded.push(id.0);
                        let _ = control.clear_call(now, id, ClearCause::AdminShutdown);
                    }
                    Err(_) => {
                        failure = Failure::LocalError;
                        break;
                    }
                }
            }
            match (placed, self.slots.get_mut(i)) {
                (Some(id), Some(slot)) => {
                    slot.call = Some(id);
                    slot.state = SlotState::Placing;
                }
                _ => self.finish(now, i, Some(failure)),
            }
        }
        self.process(now);
    }

    /// The next Call ID the driver must forget (its call is over).
    pub fn poll_released(&mut self) -> Option<u16> {
        self.released.pop()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ConnEvent> {
        self.events.pop_front()
    }

    /// Move the control connection's pending output to the end of `buf`.
    pub fn poll_tcp_transmit(&mut self, buf: &mut Vec<u8>) -> bool {
        self.control.as_mut().is_some_and(|c| c.poll_transmit(buf))
    }

    /// The next GRE packet (the IP payload) to send, built in `buf` (at least
    /// [`HEADER_ROOM`] + 1600 octets): its range in `buf`.
    pub fn poll_gre_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Range<usize>> {
        for i in 0..self.slots.len() {
            let Some(slot) = self.slots.get_mut(i) else {
                continue;
            };
            if !slot.queued {
                continue;
            }
            if let Some((range, echo)) =
                Self::slot_transmit(slot, &mut self.frame, &self.settings, now, buf)
            {
                if echo {
                    self.events.push_back(ConnEvent::EchoSent);
                }
                return Some(range);
            }
            slot.queued = false;
        }
        None
    }

    fn slot_transmit(
        slot: &mut Slot,
        frame: &mut Vec<u8>,
        settings: &Settings,
        now: Instant,
        buf: &mut [u8],
    ) -> Option<(Range<usize>, bool)> {
        let (Some(gre), Some(engine)) = (slot.gre.as_mut(), slot.engine.as_mut()) else {
            return None;
        };
        if gre.can_send() {
            frame.clear();
            let mut is_echo = false;
            let payload_len = if engine.poll_transmit(frame) {
                let dst = buf.get_mut(HEADER_ROOM..HEADER_ROOM + frame.len())?;
                dst.copy_from_slice(frame);
                Some(frame.len())
            } else if slot.state == SlotState::Traffic && slot.pings_sent < settings.pings {
                let (local, target) = (slot.local?, settings.ping_target.or(slot.peer)?);
                slot.pings_sent += 1;
                let echo = icmp::Echo {
                    src: local,
                    dst: target,
                    ident: echo_ident(slot.index),
                    seq: slot.pings_sent,
                };
                let mut packet = [0u8; icmp::ECHO_LEN];
                icmp::emit(echo, false, &mut packet)?;
                let out = buf.get_mut(HEADER_ROOM..)?;
                is_echo = true;
                engine.send_datagram(now, Protocol::IPV4, &packet, out).ok()
            } else {
                None
            };
            if let Some(len) = payload_len {
                let start = {
                    let packet = gre.encapsulate(now, buf, len).ok()?;
                    packet.len()
                };
                return Some((HEADER_ROOM + len - start..HEADER_ROOM + len, is_echo));
            }
        }
        let len = gre.poll_transmit(now, buf)?;
        Some((0..len, false))
    }

    /// Drain the control connection's events and move every slot along.
    fn process(&mut self, now: Instant) {
        while let Some(event) = self
            .control
            .as_mut()
            .and_then(ControlConnection::poll_event)
        {
            self.control_event(now, event);
        }
        if !self.stopping && self.slots.iter().all(|s| s.state == SlotState::Done) {
            self.stopping = true;
            self.stop_deadline = Some(now + self.settings.close_timeout);
            if let Some(c) = self.control.as_mut() {
                c.close(now, StopReason::None);
            }
            // Calls cleared by close() report CallDown: forget them too.
            while let Some(event) = self
                .control
                .as_mut()
                .and_then(ControlConnection::poll_event)
            {
                self.control_event(now, event);
            }
        }
    }

    fn control_event(&mut self, now: Instant, event: control::Event) {
        match event {
            control::Event::Established(_) => {
                self.events.push_back(ConnEvent::ControlUp);
                self.wants_calls = !self.stopping;
            }
            control::Event::CallUp(info) => {
                let Some(i) = self.slot_of(info.call.0) else {
                    return;
                };
                let seed = splitmix(&mut self.seed);
                let Some(slot) = self.slots.get_mut(i) else {
                    return;
                };
                if slot.state != SlotState::Placing {
                    return;
                }
                let user = self.settings.user_name(slot.index);
                let Ok(credentials) = Credentials::new(user, self.settings.password.as_str())
                else {
                    return self.finish(now, i, Some(Failure::LocalError));
                };
                let base = &self.settings.ppp;
                let config = Config {
                    peer: Some(PeerRole {
                        credentials,
                        settings: base
                            .peer
                            .as_ref()
                            .map(|p| p.settings.clone())
                            .unwrap_or_default(),
                    }),
                    seed,
                    ..base.clone()
                };
                let mut engine = Engine::new(config, now);
                engine.open(now);
                engine.lower_up(now);
                slot.gre = Some(GreCall::new(info.gre_params(), &self.settings.gre, now));
                slot.engine = Some(engine);
                slot.state = SlotState::Ppp;
                slot.queued = true;
                let early = std::mem::take(&mut slot.early);
                self.slot_events(now, i);
                for mut packet in early {
                    self.slot_gre(
                        now,
                        i,
                        info.call.0,
                        packet.seq,
                        packet.ack,
                        &mut packet.payload,
                    );
                }
            }
            control::Event::CallDown { call, reason } => {
                if let Some(pos) = self.discarded.iter().position(|&d| d == call.0) {
                    self.discarded.swap_remove(pos);
                    return;
                }
                let Some(i) = self.slot_of(call.0) else {
                    return;
                };
                if let Some(slot) = self.slots.get_mut(i) {
                    slot.call = None;
                }
                self.released.push(call.0);
                let failure = match reason {
                    CallDownReason::OutgoingRefused { .. } => Failure::CallRejected,
                    CallDownReason::Timeout => Failure::Timeout(Stage::Call),
                    _ => Failure::PeerClosed,
                };
                match self.slots.get(i).map(|s| s.state) {
                    Some(SlotState::Closing) => self.finish(now, i, None),
                    Some(SlotState::Placing) => self.finish(now, i, Some(failure)),
                    Some(SlotState::Done) | None => {}
                    Some(_) => self.finish(now, i, Some(Failure::PeerClosed)),
                }
            }
            control::Event::CallRequested { call, .. } => {
                // A server has no business asking its client for calls.
                if let Some(c) = self.control.as_mut() {
                    let _ = c.refuse_call(call, Refusal::DoNotAccept);
                }
            }
            control::Event::Closed(reason) => {
                let established = self.slots.iter().any(|s| s.state != SlotState::Waiting);
                let failure = match reason {
                    CloseReason::SetupTimeout => Failure::Timeout(Stage::Control),
                    _ if !established => Failure::ControlRejected,
                    _ => Failure::PeerClosed,
                };
                self.stopping = true;
                self.fail_all(failure);
            }
            control::Event::Collision { .. }
            | control::Event::SetLinkInfo { .. }
            | control::Event::WanError { .. } => {}
        }
    }

    /// Drain slot `i`'s engine events.
    fn slot_events(&mut self, now: Instant, i: usize) {
        loop {
            let Some(slot) = self.slots.get_mut(i) else {
                return;
            };
            let Some(event) = slot.engine.as_mut().and_then(Engine::poll_event) else {
                break;
            };
            match event {
                Event::LinkUp => slot.link_up = true,
                Event::Authenticated { .. } => slot.authenticated = true,
                Event::NetworkUp { params, .. } => match params {
                    NetworkParams::Ipcp(ip) => {
                        slot.ipcp_up = true;
                        slot.local = Some(ip.local);
                        slot.peer = ip.peer;
                    }
                    NetworkParams::Ccp(_) => slot.ccp_up = true,
                    _ => {}
                },
                Event::LinkDown { reason } => {
                    let failure = classify(&reason, slot);
                    match slot.state {
                        SlotState::Closing => self.finish(now, i, None),
                        SlotState::Done => {}
                        _ => self.finish(now, i, Some(failure)),
                    }
                    return;
                }
                _ => {}
            }
        }
        let pings = self.settings.pings.min(MAX_PINGS);
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if slot.state == SlotState::Ppp && slot.ipcp_up && slot.ccp_up {
            slot.state = SlotState::Traffic;
            slot.queued = true;
        }
        if slot.state == SlotState::Traffic && slot.pings_answered() >= u32::from(pings) {
            slot.state = SlotState::Up;
            slot.deadline = self.settings.hold.map(|h| now + h);
            self.events.push_back(ConnEvent::SessionUp {
                index: slot.index,
                latency: now.saturating_duration_since(self.started),
            });
        }
    }

    /// Close an established session: LCP Terminate-Request (RFC 1661 §3.7); the call is
    /// cleared when LCP is down.
    fn close_slot(&mut self, now: Instant, i: usize) {
        let close_timeout = self.settings.close_timeout;
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        slot.state = SlotState::Closing;
        slot.deadline = Some(now + close_timeout);
        slot.queued = true;
        match slot.engine.as_mut() {
            Some(engine) => {
                engine.close(now, DownReason::AdminClose);
                self.slot_events(now, i);
            }
            None => self.finish(now, i, None),
        }
    }

    /// Slot `i` is over: report it (`failure`: why, `None`: closed by us), clear its call and
    /// drop its state.
    fn finish(&mut self, now: Instant, i: usize, failure: Option<Failure>) {
        if !self.end_slot(i, failure) {
            return;
        }
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        if let Some(call) = slot.call
            && let Some(c) = self.control.as_mut()
        {
            // CallDown follows (and releases the Call ID) unless the call is already gone.
            if c.clear_call(now, call, ClearCause::AdminShutdown).is_err() {
                slot.call = None;
                self.released.push(call.0);
            }
        }
    }

    /// Report slot `i` over and drop its state; false if it was already over.
    fn end_slot(&mut self, i: usize, failure: Option<Failure>) -> bool {
        let Some(slot) = self.slots.get_mut(i) else {
            return false;
        };
        let event = match (slot.state, failure) {
            (SlotState::Done, _) => return false,
            (SlotState::Up | SlotState::Closing, lost) => ConnEvent::SessionDown {
                index: slot.index,
                lost,
            },
            (_, failure) => ConnEvent::SessionFailed {
                index: slot.index,
                failure: failure.unwrap_or(Failure::Aborted),
            },
        };
        slot.state = SlotState::Done;
        slot.deadline = None;
        slot.engine = None;
        slot.gre = None;
        slot.queued = false;
        slot.early = Vec::new();
        self.events.push_back(event);
        true
    }

    fn fail_all(&mut self, failure: Failure) {
        for i in 0..self.slots.len() {
            let lost = match self.slots.get(i).map(|s| s.state) {
                Some(SlotState::Closing) => None,
                _ => Some(failure),
            };
            if let Some(slot) = self.slots.get_mut(i)
                && let Some(call) = slot.call.take()
            {
                self.released.push(call.0);
            }
            self.end_slot(i, lost);
        }
        self.stopping = true;
    }
}
