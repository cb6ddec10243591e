//! The PPTP control connection (RFC 2637 §3), sans-IO.
//!
//! One [`ControlConnection`] runs one TCP connection to port 1723: the owner feeds the bytes
//! it reads ([`handle_bytes`](ControlConnection::handle_bytes)) and the TCP close
//! ([`handle_tcp_closed`](ControlConnection::handle_tcp_closed)), writes what
//! [`poll_transmit`](ControlConnection::poll_transmit) hands out, arms a timer from
//! [`poll_timeout`](ControlConnection::poll_timeout), and reacts to
//! [`poll_event`](ControlConnection::poll_event). Once [`is_closed`](ControlConnection::is_closed),
//! it sends what is left and closes the TCP connection.
//!
//! Control connection states (RFC 2637 §3.1.1 originator, §3.1.2 receiver): idle,
//! wait_ctl_reply, established, wait_stop_reply. Calls (§3.2) live inside an established
//! connection, many at once, in any of the four roles of [`CallRole`].

mod call;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dialgate_wire::pptp::{
    self, BearerCapabilities, BearerType, CallClearRequest, CallDisconnectNotify, DisconnectResult,
    EchoReply, EchoRequest, EchoResult, FixedStr, FramingCapabilities, FramingType, GeneralError,
    IncomingCallConnected, IncomingCallReply, IncomingCallRequest, IncomingCallResult,
    OutgoingCallReply, OutgoingCallRequest, OutgoingCallResult, Repr, SetLinkInfo,
    StartControlConnectionReply, StartControlConnectionRequest, StartResult,
    StopControlConnectionReply, StopControlConnectionRequest, StopReason, StopResult,
    WanErrorNotify,
};

use call::{Call, Calls};
pub use call::{CallId, CallInfo, CallRole, CallState};

/// Which end opened the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We opened it and send Start-Control-Connection-Request (RFC 2637 §3.1.1).
    Initiator,
    /// The peer opened it; we wait for its request (RFC 2637 §3.1.2).
    Responder,
}

/// The control connection's state (RFC 2637 §3.1.1-§3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Responder: waiting for Start-Control-Connection-Request.
    Idle,
    /// Initiator: Start-Control-Connection-Request sent, waiting for the reply.
    WaitCtlReply,
    /// Calls may be set up.
    Established,
    /// Stop-Control-Connection-Request sent, waiting for the reply.
    WaitStopReply,
    /// Done: send what [`ControlConnection::poll_transmit`] still has, then close the TCP
    /// connection.
    Closed,
}

/// Settings of a control connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    /// Host Name we announce (RFC 2637 §2.1).
    pub host_name: FixedStr<64>,
    /// Vendor String we announce.
    pub vendor: FixedStr<64>,
    /// Firmware Revision we announce.
    pub firmware_revision: u16,
    /// Framing Capabilities we announce.
    pub framing_capabilities: FramingCapabilities,
    /// Bearer Capabilities we announce.
    pub bearer_capabilities: BearerCapabilities,
    /// Maximum Channels we announce (RFC 2637 §2.1: what a PAC supports; a PNS sends 0).
    pub maximum_channels: u16,
    /// Our address on this connection, for the collision rule (RFC 2637 §3.1.3).
    pub local_addr: Option<IpAddr>,
    /// The peer's address on this connection, for the collision rule.
    pub peer_addr: Option<IpAddr>,
    /// How long the connection may take to become established (RFC 2637 §3.1.4).
    pub setup_timeout: Duration,
    /// Silence after which we send an Echo-Request (RFC 2637 §3.1.4: 60 s).
    pub echo_interval: Duration,
    /// How long we wait for the Echo-Reply before closing (RFC 2637 §3.1.4: 60 s).
    pub echo_timeout: Duration,
    /// How long we wait for an expected reply: Stop-Control-Connection-Reply,
    /// Outgoing/Incoming-Call-Reply, Incoming-Call-Connected, Call-Disconnect-Notify
    /// (RFC 2637 §3: 60 s).
    pub reply_timeout: Duration,
    /// How long the owner may take to accept or refuse a call the peer asked for.
    pub answer_timeout: Duration,
    /// Most live calls on this connection; further requests are refused with General Error /
    /// No-Resource (RFC 2637 §2.16).
    pub max_calls: u16,
    /// The Packet Recv. Window Size we advertise for each call (RFC 2637 §2.7).
    pub recv_window: u16,
    /// The Packet Processing Delay we advertise, in 1/10 s (RFC 2637 §2.7).
    pub processing_delay: u16,
    /// The Connect Speed we report as PAC, in bits per second (RFC 2637 §2.8).
    pub connect_speed: u32,
    /// Seeds the first Call ID and serial number (random per connection; take it from the
    /// OS's randomness).
    pub seed: u64,
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            host_name: FixedStr::new_truncated(b"dialgate"),
            vendor: FixedStr::new_truncated(b"dialgate"),
            firmware_revision: 1,
            framing_capabilities: FramingCapabilities::ASYNCHRONOUS
                | FramingCapabilities::SYNCHRONOUS,
            bearer_capabilities: BearerCapabilities::ANALOG | BearerCapabilities::DIGITAL,
            maximum_channels: 0,
            local_addr: None,
            peer_addr: None,
            setup_timeout: Duration::from_secs(60),
            echo_interval: Duration::from_secs(60),
            echo_timeout: Duration::from_secs(60),
            reply_timeout: Duration::from_secs(60),
            answer_timeout: Duration::from_secs(30),
            max_calls: 1024,
            recv_window: 64,
            processing_delay: 0,
            connect_speed: 100_000_000,
            seed: 0,
        }
    }
}

/// What the peer announced in its Start-Control-Connection-Request or -Reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its Protocol Version.
    pub protocol_version: u16,
    /// Its Framing Capabilities.
    pub framing_capabilities: FramingCapabilities,
    /// Its Bearer Capabilities.
    pub bearer_capabilities: BearerCapabilities,
    /// Its Maximum Channels.
    pub maximum_channels: u16,
    /// Its Firmware Revision.
    pub firmware_revision: u16,
    /// Its Host Name.
    pub host_name: FixedStr<64>,
    /// Its Vendor String.
    pub vendor: FixedStr<64>,
}

impl From<&StartControlConnectionRequest> for PeerInfo {
    fn from(m: &StartControlConnectionRequest) -> Self {
        PeerInfo {
            protocol_version: m.protocol_version,
            framing_capabilities: m.framing_capabilities,
            bearer_capabilities: m.bearer_capabilities,
            maximum_channels: m.maximum_channels,
            firmware_revision: m.firmware_revision,
            host_name: m.host_name,
            vendor: m.vendor,
        }
    }
}

impl From<&StartControlConnectionReply> for PeerInfo {
    fn from(m: &StartControlConnectionReply) -> Self {
        PeerInfo {
            protocol_version: m.protocol_version,
            framing_capabilities: m.framing_capabilities,
            bearer_capabilities: m.bearer_capabilities,
            maximum_channels: m.maximum_channels,
            firmware_revision: m.firmware_revision,
            host_name: m.host_name,
            vendor: m.vendor,
        }
    }
}

/// A call the peer asks for: the request as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRequest {
    /// Outgoing-Call-Request: the peer is the PNS, we would be the PAC (RFC 2637 §2.7).
    Outgoing(OutgoingCallRequest),
    /// Incoming-Call-Request: the peer is the PAC, we would be the PNS (RFC 2637 §2.9).
    Incoming(IncomingCallRequest),
}

/// Why a call went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDownReason {
    /// The peer refused the Outgoing-Call-Request we sent (RFC 2637 §2.8).
    OutgoingRefused {
        /// Its Result Code.
        result: OutgoingCallResult,
        /// Its Error Code.
        error: GeneralError,
        /// Its Cause Code.
        cause: u16,
    },
    /// The peer refused the Incoming-Call-Request we sent (RFC 2637 §2.10).
    IncomingRefused {
        /// Its Result Code.
        result: IncomingCallResult,
        /// Its Error Code.
        error: GeneralError,
    },
    /// The peer sent Call-Disconnect-Notify (RFC 2637 §2.13).
    Disconnected {
        /// Its Result Code.
        result: DisconnectResult,
        /// Its Error Code.
        error: GeneralError,
        /// Its Cause Code.
        cause: u16,
    },
    /// The peer sent Call-Clear-Request (RFC 2637 §2.12).
    ClearedByPeer,
    /// The owner refused the peer's request.
    Refused,
    /// The owner cleared the call.
    Cleared,
    /// A reply or the owner's answer did not come in time.
    Timeout,
    /// The control connection closed.
    ControlClosed,
}

/// Why the control connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// We asked ([`ControlConnection::close`]) and the peer replied, or the reply timed out.
    Local,
    /// The peer sent Stop-Control-Connection-Request (we replied).
    PeerStopped(StopReason),
    /// The peer refused our Start-Control-Connection-Request.
    StartRefused {
        /// Its Result Code.
        result: StartResult,
        /// Its Error Code.
        error: GeneralError,
    },
    /// We refused the peer's Start-Control-Connection-Request.
    StartDeclined(StartResult),
    /// The protocol versions are incompatible (RFC 2637 §3.1.1-§3.1.2).
    Version(u16),
    /// Not established within [`ControlConfig::setup_timeout`].
    SetupTimeout,
    /// The peer did not answer an Echo-Request (RFC 2637 §3.1.4).
    EchoTimeout,
    /// No Stop-Control-Connection-Reply in time.
    StopTimeout,
    /// Both ends opened a connection; this one lost or was given up (RFC 2637 §3.1.3).
    Collision,
    /// The owner aborted the connection without a word ([`ControlConnection::abort`]).
    Aborted,
    /// The peer closed the TCP connection.
    TcpClosed,
    /// The byte stream broke the framing (RFC 2637 §3: a malformed message closes the
    /// control connection).
    Malformed(pptp::Error),
    /// The peer made us queue more output than [`MAX_PENDING_OUTPUT`] without it being sent.
    Overload,
}

/// Something the owner must know or decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The control connection is established (RFC 2637 §3.1).
    Established(PeerInfo),
    /// Two Start-Control-Connection-Requests crossed (RFC 2637 §3.1.3). `won`: our address
    /// is the higher. If we lost, this connection (the peer's) goes on and the owner must
    /// [`abort`](ControlConnection::abort) the one it opened; if we won, this connection
    /// closes and the owner's own goes on.
    Collision {
        /// Whether our address is the higher.
        won: bool,
    },
    /// The peer asks for a call: [`accept_call`](ControlConnection::accept_call) or
    /// [`refuse_call`](ControlConnection::refuse_call) within
    /// [`ControlConfig::answer_timeout`].
    CallRequested {
        /// Our Call ID, reserved for it.
        call: CallId,
        /// What the peer asked for.
        request: CallRequest,
    },
    /// A call came up: start its GRE channel with [`CallInfo::gre_params`].
    CallUp(CallInfo),
    /// A call went down (exactly once for every call that was requested by the peer or
    /// placed by the owner).
    CallDown {
        /// Our Call ID.
        call: CallId,
        /// Why.
        reason: CallDownReason,
    },
    /// The PNS set the call's ACCMs (RFC 2637 §2.15).
    SetLinkInfo {
        /// Our Call ID.
        call: CallId,
        /// Send ACCM.
        send_accm: u32,
        /// Receive ACCM.
        receive_accm: u32,
    },
    /// The PAC reported line errors (RFC 2637 §2.14).
    WanError {
        /// Our Call ID.
        call: CallId,
        /// The counters it sent.
        errors: WanErrors,
    },
    /// The control connection closed; every call went down before.
    Closed(CloseReason),
}

/// The cumulative error counters of WAN-Error-Notify (RFC 2637 §2.14).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WanErrors {
    /// CRC Errors.
    pub crc: u32,
    /// Framing Errors.
    pub framing: u32,
    /// Hardware Overruns.
    pub hardware_overruns: u32,
    /// Buffer Overruns.
    pub buffer_overruns: u32,
    /// Time-out Errors.
    pub timeouts: u32,
    /// Alignment Errors.
    pub alignment: u32,
}

/// The call we ask the peer (a PAC) to place (RFC 2637 §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutgoingCallParams {
    /// Minimum BPS.
    pub minimum_bps: u32,
    /// Maximum BPS.
    pub maximum_bps: u32,
    /// Bearer Type.
    pub bearer_type: BearerType,
    /// Framing Type.
    pub framing_type: FramingType,
    /// Phone Number to dial (empty for a plain tunnel).
    pub phone_number: FixedStr<64>,
    /// Subaddress.
    pub subaddress: FixedStr<64>,
}

impl Default for OutgoingCallParams {
    fn default() -> Self {
        // What pptp-linux asks for: any speed, any bearer, any framing.
        Self {
            minimum_bps: 2400,
            maximum_bps: 10_000_000,
            bearer_type: BearerType::Any,
            framing_type: FramingType::Any,
            phone_number: FixedStr::empty(),
            subaddress: FixedStr::empty(),
        }
    }
}

/// The dial-in call we announce to the peer (a PNS) as its PAC (RFC 2637 §2.9, §2.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncomingCallParams {
    /// Call Bearer Type.
    pub bearer_type: BearerType,
    /// Physical Channel ID.
    pub physical_channel_id: u32,
    /// Dialed Number (DNIS).
    pub dialed_number: FixedStr<64>,
    /// Dialing Number (CLID).
    pub dialing_number: FixedStr<64>,
    /// Subaddress.
    pub subaddress: FixedStr<64>,
    /// Connect Speed for Incoming-Call-Connected, bits per second.
    pub connect_speed: u32,
    /// Framing Type for Incoming-Call-Connected.
    pub framing_type: FramingType,
}

impl Default for IncomingCallParams {
    fn default() -> Self {
        Self {
            bearer_type: BearerType::Analog,
            physical_channel_id: 0,
            dialed_number: FixedStr::empty(),
            dialing_number: FixedStr::empty(),
            subaddress: FixedStr::empty(),
            connect_speed: 115_200,
            framing_type: FramingType::Asynchronous,
        }
    }
}

/// How the owner refuses a call the peer asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Do Not Accept (RFC 2637 §2.8 result 7, §2.10 result 3).
    DoNotAccept,
    /// Busy (§2.8 result 4; an Incoming-Call-Reply says Do Not Accept).
    Busy,
    /// General Error / No-Resource (§2.16).
    NoResource,
}

/// How the owner ends a call where we are the PAC (the Call-Disconnect-Notify result,
/// RFC 2637 §2.13); as PNS the call is cleared with Call-Clear-Request either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearCause {
    /// The line went down (result 1, Lost Carrier).
    LostCarrier,
    /// The session failed (result 2, General Error, with Error Code 0, None).
    GeneralError,
    /// Administrative shutdown (result 3).
    AdminShutdown,
    /// Cleared on request (result 4, Request): the PPP session ended normally.
    Request,
}

/// Why a call operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// The control connection is not established.
    NotEstablished,
    /// No live call has this ID.
    UnknownCall,
    /// The call is not in a state that allows this.
    WrongState,
    /// [`ControlConfig::max_calls`] calls are live, or no Call ID is free.
    TooManyCalls,
}

/// Counters of one control connection; every dropped message is counted under its reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ControlCounters {
    /// Messages received (whole, framed).
    pub rx_messages: u64,
    /// Messages sent.
    pub tx_messages: u64,
    /// Streams closed for broken framing or a malformed message.
    pub malformed: u64,
    /// Messages of a type RFC 2637 does not define (skipped).
    pub unknown_type: u64,
    /// Messages not valid in the connection's or call's state (ignored).
    pub out_of_state: u64,
    /// Call messages naming no live call (ignored).
    pub unknown_call: u64,
    /// Call-Clear-Request / Call-Disconnect-Notify from the wrong end of a call (obeyed).
    pub wrong_direction: u64,
    /// Call requests refused for [`ControlConfig::max_calls`] or a reused peer Call ID.
    pub calls_refused: u64,
    /// Echo-Requests sent.
    pub echo_requests: u64,
    /// Echo-Replies that matched no outstanding request.
    pub stale_echo_replies: u64,
}

/// The most output a connection queues before it gives up on a peer that makes us talk
/// without the owner draining [`ControlConnection::poll_transmit`].
pub const MAX_PENDING_OUTPUT: usize = 64 * 1024;

/// Whether we win a collision of Start-Control-Connection-Requests (RFC 2637 §3.1.3): the
/// higher address, compared as an unsigned number, wins. Without both addresses we yield.
pub fn wins_collision(local: Option<IpAddr>, peer: Option<IpAddr>) -> bool {
    match (local, peer) {
        (Some(IpAddr::V4(l)), Some(IpAddr::V4(p))) => u32::from(l) > u32::from(p),
        (Some(IpAddr::V6(l)), Some(IpAddr::V6(p))) => u128::from(l) > u128::from(p),
        _ => false,
    }
}

/// One PPTP control connection (see the module documentation).
#[derive(Debug)]
pub struct ControlConnection {
    role: Role,
    config: ControlConfig,
    state: State,
    /// A partial message carried over between reads (at most one message long).
    rx: Vec<u8>,
    /// Bytes to send.
    tx: Vec<u8>,
    events: VecDeque<Event>,
    calls: Calls,
    counters: ControlCounters,
    /// Setup, stop-reply, echo deadlines (by state).
    deadline: Option<Instant>,
    /// When the last whole message arrived (RFC 2637 §3.1.4 keep-alive).
    last_rx: Instant,
    /// The outstanding Echo-Request.
    echo: Option<u32>,
    next_echo_id: u32,
    crossing: bool,
    start_refusal: Option<StartResult>,
}

impl ControlConnection {
    /// A control connection on a TCP connection that just opened. As
    /// [`Role::Initiator`], the Start-Control-Connection-Request is queued at once.
    pub fn new(role: Role, config: ControlConfig, now: Instant) -> Self {
        let mut seed = config.seed;
        let first_id = (splitmix(&mut seed) >> 48) as u16;
        let first_serial = (splitmix(&mut seed) >> 48) as u16;
        let next_echo_id = (splitmix(&mut seed) >> 32) as u32;
        let mut conn = Self {
            role,
            state: State::Idle,
            rx: Vec::new(),
            tx: Vec::new(),
            events: VecDeque::new(),
            calls: Calls::new(first_id, first_serial),
            counters: ControlCounters::default(),
            deadline: Some(now + config.setup_timeout),
            last_rx: now,
            echo: None,
            next_echo_id,
            crossing: false,
            start_refusal: None,
            config,
        };
        if role == Role::Initiator {
            let request = StartControlConnectionRequest {
                protocol_version: pptp::PROTOCOL_VERSION,
                framing_capabilities: conn.config.framing_capabilities,
                bearer_capabilities: conn.config.bearer_capabilities,
                maximum_channels: conn.config.maximum_channels,
                firmware_revision: conn.config.firmware_revision,
                host_name: conn.config.host_name,
                vendor: conn.config.vendor,
            };
            conn.send(request);
            conn.state = State::WaitCtlReply;
        }
        conn
    }

    /// Which end opened the TCP connection.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the connection is done: send what is left, then close the TCP connection.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The counters.
    pub fn counters(&self) -> &ControlCounters {
        &self.counters
    }

    /// The settings.
    pub fn config(&self) -> &ControlConfig {
        &self.config
    }

    /// Live calls.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// A live call's role and state.
    pub fn call_state(&self, call: CallId) -> Option<(CallRole, CallState)> {
        self.calls.get(call.0).map(|c| (c.role, c.state))
    }

    /// The owner also sent a Start-Control-Connection-Request to this peer on another TCP
    /// connection and still waits for its reply: a request arriving here is a collision
    /// (RFC 2637 §3.1.3), decided by [`wins_collision`] on the configured addresses.
    pub fn set_crossing_request(&mut self, pending: bool) {
        self.crossing = pending;
    }

    /// Answer the peer's Start-Control-Connection-Request with this refusal (e.g.
    /// [`StartResult::NotAuthorized`] or [`StartResult::AlreadyExists`]) and close.
    pub fn refuse_start(&mut self, result: StartResult) {
        self.start_refusal = Some(result);
    }

    /// Take bytes read from the TCP connection: whole messages are handled at once, a
    /// partial one is kept (bounded by the longest message) for the next read.
    pub fn handle_bytes(&mut self, now: Instant, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.state != State::Closed {
            if self.rx.is_empty() {
                match pptp::message_len(bytes) {
                    Ok(Some(len)) => {
                        let (message, rest) = bytes.split_at(len);
                        bytes = rest;
                        self.handle_message(now, message);
                        continue;
                    }
                    Ok(None) => {
                        self.rx.extend_from_slice(bytes);
                        if self.rx.len() >= pptp::HEADER_LEN {
                            // A whole header: its Length must be sane before we wait.
                            self.check_partial();
                        }
                        return;
                    }
                    Err(e) => return self.malformed(e),
                }
            }
            // Complete the carried-over message.
            let want = if self.rx.len() < pptp::HEADER_LEN {
                pptp::HEADER_LEN
            } else {
                usize::from(pptp::Packet::new_unchecked(&self.rx[..]).length())
            };
            let take = want.saturating_sub(self.rx.len()).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.rx.extend_from_slice(head);
            bytes = rest;
            match pptp::message_len(&self.rx) {
                Ok(Some(len)) => {
                    let message = std::mem::take(&mut self.rx);
                    self.handle_message(now, message.get(..len).unwrap_or_default());
                    // Keep the allocation for the next partial message.
                    self.rx = message;
                    self.rx.clear();
                }
                Ok(None) => {}
                Err(e) => return self.malformed(e),
            }
        }
    }

    /// A partial message whose header is complete: reject a bad header now.
    fn check_partial(&mut self) {
        if let Err(e) = pptp::message_len(&self.rx) {
            self.malformed(e);
        }
    }

    /// The peer closed (or reset) the TCP connection.
    pub fn handle_tcp_closed(&mut self) {
        if self.state != State::Closed {
            self.shut(CloseReason::TcpClosed);
        }
    }

    /// Move every pending byte to the end of `buf`; returns false when there was none.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> bool {
        if self.tx.is_empty() {
            return false;
        }
        buf.append(&mut self.tx);
        true
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest deadline for [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let keepalive = (self.state == State::Established).then(|| match self.echo {
            Some(_) => self
                .deadline
                .unwrap_or(self.last_rx + self.config.echo_timeout),
            None => self.last_rx + self.config.echo_interval,
        });
        let state = if self.state == State::Established {
            None
        } else {
            self.deadline
        };
        [keepalive, state, self.calls.earliest_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Run every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Closed => return,
            State::Idle | State::WaitCtlReply => {
                if self.deadline.is_some_and(|d| d <= now) {
                    return self.shut(CloseReason::SetupTimeout);
                }
            }
            State::WaitStopReply => {
                if self.deadline.is_some_and(|d| d <= now) {
                    return self.shut(CloseReason::StopTimeout);
                }
            }
            State::Established => {
                if self.echo.is_some() {
                    if self.deadline.is_some_and(|d| d <= now) {
                        // RFC 2637 §3.1.4: no Echo-Reply in time: close.
                        return self.shut(CloseReason::EchoTimeout);
                    }
                } else if self.last_rx + self.config.echo_interval <= now {
                    let identifier = self.next_echo_id;
                    self.next_echo_id = identifier.wrapping_add(1);
                    self.echo = Some(identifier);
                    self.deadline = Some(now + self.config.echo_timeout);
                    self.counters.echo_requests += 1;
                    self.send(EchoRequest { identifier });
                }
            }
        }
        self.call_timers(now);
    }

    /// Close the connection: Stop-Control-Connection-Request with `reason`, then wait for the
    /// reply (RFC 2637 §3.1.1-§3.1.2, local terminate). Every call goes down. Before the
    /// connection is established there is nothing to stop: it just closes.
    pub fn close(&mut self, now: Instant, reason: StopReason) {
        match self.state {
            State::Established => {
                self.all_calls_down(CallDownReason::ControlClosed);
                self.send(StopControlConnectionRequest { reason });
                self.state = State::WaitStopReply;
                self.deadline = Some(now + self.config.reply_timeout);
            }
            State::Idle | State::WaitCtlReply => self.shut(CloseReason::Local),
            State::WaitStopReply | State::Closed => {}
        }
    }

    /// Drop the connection without another message (a collision we lost, RFC 2637 §3.1.3,
    /// or the owner giving up). Pending output is discarded.
    pub fn abort(&mut self) {
        if self.state != State::Closed {
            self.tx.clear();
            self.shut(CloseReason::Aborted);
        }
    }

    // ---- calls -------------------------------------------------------------------------

    /// Ask the peer (a PAC) to place a call: Outgoing-Call-Request (RFC 2637 §3.2.4.2).
    /// [`Event::CallUp`] or [`Event::CallDown`] follows.
    pub fn place_outgoing_call(
        &mut self,
        now: Instant,
        params: &OutgoingCallParams,
    ) -> Result<CallId, CallError> {
        let id = self.new_call_id()?;
        let serial = self.calls.serial();
        self.calls.insert(
            id,
            Call::new(CallRole::PnsOutgoing, CallState::WaitReply, None, serial)
                .with_deadline(now + self.config.reply_timeout),
        );
        self.send(OutgoingCallRequest {
            call_id: id,
            call_serial_number: serial,
            minimum_bps: params.minimum_bps,
            maximum_bps: params.maximum_bps,
            bearer_type: params.bearer_type,
            framing_type: params.framing_type,
            receive_window: self.config.recv_window,
            processing_delay: self.config.processing_delay,
            phone_number_len: params.phone_number.trimmed().len() as u16,
            phone_number: params.phone_number,
            subaddress: params.subaddress,
        });
        Ok(CallId(id))
    }

    /// Announce a dial-in call to the peer (a PNS) as its PAC: Incoming-Call-Request, then
    /// Incoming-Call-Connected once it accepts (RFC 2637 §3.2.3.1).
    pub fn place_incoming_call(
        &mut self,
        now: Instant,
        params: &IncomingCallParams,
    ) -> Result<CallId, CallError> {
        let id = self.new_call_id()?;
        let serial = self.calls.serial();
        let mut call = Call::new(CallRole::PacIncoming, CallState::WaitReply, None, serial)
            .with_deadline(now + self.config.reply_timeout);
        call.connect_speed = params.connect_speed;
        call.framing_type = params.framing_type;
        self.calls.insert(id, call);
        self.send(IncomingCallRequest {
            call_id: id,
            call_serial_number: serial,
            bearer_type: params.bearer_type,
            physical_channel_id: params.physical_channel_id,
            dialed_number_len: params.dialed_number.trimmed().len() as u16,
            dialing_number_len: params.dialing_number.trimmed().len() as u16,
            dialed_number: params.dialed_number,
            dialing_number: params.dialing_number,
            subaddress: params.subaddress,
        });
        Ok(CallId(id))
    }

    /// Accept a call the peer asked for ([`Event::CallRequested`]): Outgoing-Call-Reply
    /// "Connected" (the call is up, RFC 2637 §3.2.4.1) or Incoming-Call-Reply "Connect"
    /// (the call is up when Incoming-Call-Connected arrives, §3.2.3.2).
    pub fn accept_call(&mut self, now: Instant, call: CallId) -> Result<(), CallError> {
        let c = self.calls.get(call.0).ok_or(CallError::UnknownCall)?;
        if c.state != CallState::WaitAnswer {
            return Err(CallError::WrongState);
        }
        let (role, peer) = (c.role, c.peer.unwrap_or(0));
        match role {
            CallRole::PacOutgoing => {
                self.send(OutgoingCallReply {
                    call_id: call.0,
                    peer_call_id: peer,
                    result: OutgoingCallResult::Connected,
                    error: GeneralError::None,
                    cause_code: 0,
                    connect_speed: self.config.connect_speed,
                    receive_window: self.config.recv_window,
                    processing_delay: self.config.processing_delay,
                    physical_channel_id: 0,
                });
                self.call_up(call.0, self.config.connect_speed);
            }
            CallRole::PnsIncoming => {
                self.send(IncomingCallReply {
                    call_id: call.0,
                    peer_call_id: peer,
                    result: IncomingCallResult::Connect,
                    error: GeneralError::None,
                    receive_window: self.config.recv_window,
                    transmit_delay: self.config.processing_delay,
                });
                let deadline = now + self.config.reply_timeout;
                if let Some(c) = self.calls.get_mut(call.0) {
                    c.state = CallState::WaitConnect;
                    c.deadline = Some(deadline);
                }
            }
            CallRole::PnsOutgoing | CallRole::PacIncoming => return Err(CallError::WrongState),
        }
        Ok(())
    }

    /// Choose the Call ID of the next call we place ([`place_outgoing_call`] or
    /// [`place_incoming_call`]): the first of the next `tries` free IDs that `avoid` does not
    /// reject. The owner uses this to keep the ID apart from calls on other control
    /// connections with the same peer address (GRE names the call by our ID alone,
    /// RFC 2637 §4.1). `None` when there is no such ID; the allocator then moved on.
    ///
    /// [`place_outgoing_call`]: Self::place_outgoing_call
    /// [`place_incoming_call`]: Self::place_incoming_call
    pub fn choose_next_call_id(
        &mut self,
        tries: u16,
        avoid: impl FnMut(u16) -> bool,
    ) -> Option<CallId> {
        self.calls.steer(tries, avoid).map(CallId)
    }

    /// Move a call the peer asked for ([`Event::CallRequested`]), and that is not answered
    /// yet, to another Call ID of ours: the first of the next `tries` free IDs that `avoid`
    /// does not reject. Our Call ID reaches the peer only in our reply (RFC 2637 §2.8,
    /// §2.10), so it is still ours to change. The owner uses this when the ID is taken by a
    /// call on another control connection with the same peer address: the peer's GRE names
    /// the call by our ID alone (§4.1). `Err(TooManyCalls)` leaves the call as it was.
    pub fn renumber_call(
        &mut self,
        call: CallId,
        tries: u16,
        avoid: impl FnMut(u16) -> bool,
    ) -> Result<CallId, CallError> {
        let c = self.calls.get(call.0).ok_or(CallError::UnknownCall)?;
        if c.state != CallState::WaitAnswer {
            return Err(CallError::WrongState);
        }
        let id = self
            .calls
            .allocate_avoiding(tries, avoid)
            .ok_or(CallError::TooManyCalls)?;
        let c = self.calls.remove(call.0).ok_or(CallError::UnknownCall)?;
        self.calls.insert(id, c);
        Ok(CallId(id))
    }

    /// Refuse a call the peer asked for ([`Event::CallRequested`]).
    pub fn refuse_call(&mut self, call: CallId, refusal: Refusal) -> Result<(), CallError> {
        let c = self.calls.get(call.0).ok_or(CallError::UnknownCall)?;
        if c.state != CallState::WaitAnswer {
            return Err(CallError::WrongState);
        }
        self.refuse(call, refusal, CallDownReason::Refused);
        Ok(())
    }

    /// Answer a call request in WaitAnswer with `refusal`, forget it, report it down.
    fn refuse(&mut self, call: CallId, refusal: Refusal, reason: CallDownReason) {
        if let Some(c) = self.calls.remove(call.0) {
            self.send_refusal(c.role, call.0, c.peer.unwrap_or(0), refusal);
            self.events.push_back(Event::CallDown { call, reason });
        }
    }

    /// End a call. As PNS: Call-Clear-Request, then the PAC's Call-Disconnect-Notify is
    /// awaited (the Call ID stays reserved until then). As PAC: Call-Disconnect-Notify with
    /// `cause`. [`Event::CallDown`] follows at once either way.
    pub fn clear_call(
        &mut self,
        now: Instant,
        call: CallId,
        cause: ClearCause,
    ) -> Result<(), CallError> {
        let c = self.calls.get(call.0).ok_or(CallError::UnknownCall)?;
        match (c.state, c.role.is_pac()) {
            (CallState::WaitDisconnect, _) => return Err(CallError::WrongState),
            (CallState::WaitAnswer, _) => {
                self.refuse(call, Refusal::DoNotAccept, CallDownReason::Cleared);
                return Ok(());
            }
            (_, true) => {
                let result = match cause {
                    ClearCause::LostCarrier => DisconnectResult::LostCarrier,
                    ClearCause::GeneralError => DisconnectResult::GeneralError,
                    ClearCause::AdminShutdown => DisconnectResult::AdminShutdown,
                    ClearCause::Request => DisconnectResult::Request,
                };
                self.send_disconnect(call.0, result);
                self.calls.remove(call.0);
            }
            (_, false) => {
                self.send(CallClearRequest { call_id: call.0 });
                let deadline = now + self.config.reply_timeout;
                if let Some(c) = self.calls.get_mut(call.0) {
                    c.state = CallState::WaitDisconnect;
                    c.deadline = Some(deadline);
                }
            }
        }
        self.events.push_back(Event::CallDown {
            call,
            reason: CallDownReason::Cleared,
        });
        Ok(())
    }

    /// Set the peer's ACCMs for a call: Set-Link-Info (RFC 2637 §2.15; sent by the PNS).
    pub fn set_link_info(
        &mut self,
        call: CallId,
        send_accm: u32,
        receive_accm: u32,
    ) -> Result<(), CallError> {
        let peer = self.established_peer(call)?;
        self.send(SetLinkInfo {
            peer_call_id: peer,
            send_accm,
            receive_accm,
        });
        Ok(())
    }

    /// Report line errors of a call: WAN-Error-Notify (RFC 2637 §2.14; sent by the PAC).
    pub fn wan_error_notify(&mut self, call: CallId, errors: WanErrors) -> Result<(), CallError> {
        let peer = self.established_peer(call)?;
        self.send(WanErrorNotify {
            peer_call_id: peer,
            crc_errors: errors.crc,
            framing_errors: errors.framing,
            hardware_overruns: errors.hardware_overruns,
            buffer_overruns: errors.buffer_overruns,
            timeout_errors: errors.timeouts,
            alignment_errors: errors.alignment,
        });
        Ok(())
    }

    fn established_peer(&self, call: CallId) -> Result<u16, CallError> {
        let c = self.calls.get(call.0).ok_or(CallError::UnknownCall)?;
        match (c.state, c.peer) {
            (CallState::Established, Some(peer)) => Ok(peer),
            _ => Err(CallError::WrongState),
        }
    }

    fn new_call_id(&mut self) -> Result<u16, CallError> {
        if self.state != State::Established {
            return Err(CallError::NotEstablished);
        }
        if self.calls.len() >= usize::from(self.config.max_calls) {
            return Err(CallError::TooManyCalls);
        }
        self.calls.allocate().ok_or(CallError::TooManyCalls)
    }

    // ---- internals ---------------------------------------------------------------------

    fn send(&mut self, message: impl Into<Repr>) {
        let repr: Repr = message.into();
        if repr.push(&mut self.tx).is_ok() {
            self.counters.tx_messages += 1;
        }
    }

    /// Close at once (no Stop exchange): calls down, then [`Event::Closed`].
    fn shut(&mut self, reason: CloseReason) {
        self.all_calls_down(CallDownReason::ControlClosed);
        self.calls.clear();
        self.state = State::Closed;
        self.deadline = None;
        self.echo = None;
        self.rx = Vec::new();
        self.events.push_back(Event::Closed(reason));
    }

    /// Report every call the owner still considers live as down, and forget them all.
    fn all_calls_down(&mut self, reason: CallDownReason) {
        for id in self.calls.ids() {
            if let Some(call) = self.calls.remove(id)
                && call.state != CallState::WaitDisconnect
            {
                self.events.push_back(Event::CallDown {
                    call: CallId(id),
                    reason,
                });
            }
        }
    }

    /// The stream cannot be trusted any more (RFC 2637 §3: close on a malformed message).
    fn malformed(&mut self, error: pptp::Error) {
        self.counters.malformed += 1;
        if self.state == State::Established {
            // Tell the peer why, best effort; we do not wait for its reply on a broken
            // stream.
            self.send(StopControlConnectionRequest {
                reason: StopReason::None,
            });
        }
        self.shut(CloseReason::Malformed(error));
    }

    fn handle_message(&mut self, now: Instant, message: &[u8]) {
        let repr = match Repr::parse(message) {
            Ok(repr) => repr,
            Err(pptp::Error::UnknownType(_)) => {
                self.counters.unknown_type += 1;
                return;
            }
            Err(e) => return self.malformed(e),
        };
        self.counters.rx_messages += 1;
        self.last_rx = now;
        match self.state {
            State::Idle => self.in_idle(repr),
            State::WaitCtlReply => self.in_wait_ctl_reply(now, repr),
            State::Established => self.in_established(now, repr),
            State::WaitStopReply => self.in_wait_stop_reply(repr),
            State::Closed => {}
        }
        if self.tx.len() > MAX_PENDING_OUTPUT && self.state != State::Closed {
            self.tx.clear();
            self.shut(CloseReason::Overload);
        }
    }

    fn start_reply(&self, result: StartResult, error: GeneralError) -> StartControlConnectionReply {
        StartControlConnectionReply {
            protocol_version: pptp::PROTOCOL_VERSION,
            result,
            error,
            framing_capabilities: self.config.framing_capabilities,
            bearer_capabilities: self.config.bearer_capabilities,
            maximum_channels: self.config.maximum_channels,
            firmware_revision: self.config.firmware_revision,
            host_name: self.config.host_name,
            vendor: self.config.vendor,
        }
    }

    /// RFC 2637 §3.1.2 idle: only a Start-Control-Connection-Request opens the connection.
    fn in_idle(&mut self, repr: Repr) {
        let Repr::StartControlConnectionRequest(request) = repr else {
            return self.not_connected(repr);
        };
        if self.crossing {
            // RFC 2637 §3.1.3: the higher address wins; the winner never answers on the
            // loser's connection, the loser answers here and drops its own.
            let won = wins_collision(self.config.local_addr, self.config.peer_addr);
            self.events.push_back(Event::Collision { won });
            if won {
                return self.shut(CloseReason::Collision);
            }
        }
        if let Some(result) = self.start_refusal {
            let reply = self.start_reply(result, GeneralError::None);
            self.send(reply);
            return self.shut(CloseReason::StartDeclined(result));
        }
        if request.protocol_version < pptp::PROTOCOL_VERSION {
            // An earlier version we cannot speak: say so and close (§3.1.2).
            let reply = self.start_reply(StartResult::UnsupportedVersion, GeneralError::None);
            self.send(reply);
            return self.shut(CloseReason::Version(request.protocol_version));
        }
        let reply = self.start_reply(StartResult::Success, GeneralError::None);
        self.send(reply);
        self.establish(PeerInfo::from(&request));
    }

    /// RFC 2637 §3.1.1 wait_ctl_reply.
    fn in_wait_ctl_reply(&mut self, now: Instant, repr: Repr) {
        let Repr::StartControlConnectionReply(reply) = repr else {
            return self.not_connected(repr);
        };
        if reply.result != StartResult::Success {
            return self.shut(CloseReason::StartRefused {
                result: reply.result,
                error: reply.error,
            });
        }
        if reply.protocol_version < pptp::PROTOCOL_VERSION {
            // An earlier version we do not support: Stop-Protocol, then wait_stop_reply.
            self.send(StopControlConnectionRequest {
                reason: StopReason::StopProtocol,
            });
            self.state = State::WaitStopReply;
            self.deadline = Some(now + self.config.reply_timeout);
            return;
        }
        self.establish(PeerInfo::from(&reply));
    }

    fn establish(&mut self, peer: PeerInfo) {
        self.state = State::Established;
        self.deadline = None;
        self.events.push_back(Event::Established(peer));
    }

    /// A message before the connection is established: call requests get their reply
    /// with General Error / Not-Connected (RFC 2637 §2.16); anything else is ignored.
    fn not_connected(&mut self, repr: Repr) {
        self.counters.out_of_state += 1;
        match repr {
            Repr::OutgoingCallRequest(r) => self.send(OutgoingCallReply {
                call_id: 0,
                peer_call_id: r.call_id,
                result: OutgoingCallResult::GeneralError,
                error: GeneralError::NotConnected,
                cause_code: 0,
                connect_speed: 0,
                receive_window: 0,
                processing_delay: 0,
                physical_channel_id: 0,
            }),
            Repr::IncomingCallRequest(r) => self.send(IncomingCallReply {
                call_id: 0,
                peer_call_id: r.call_id,
                result: IncomingCallResult::GeneralError,
                error: GeneralError::NotConnected,
                receive_window: 0,
                transmit_delay: 0,
            }),
            Repr::EchoRequest(r) => self.send(EchoReply {
                identifier: r.identifier,
                result: EchoResult::GeneralError,
                error: GeneralError::NotConnected,
            }),
            _ => {}
        }
    }

    /// RFC 2637 §3.1.1-§3.1.2 wait_stop_reply.
    fn in_wait_stop_reply(&mut self, repr: Repr) {
        match repr {
            Repr::StopControlConnectionReply(_) => self.shut(CloseReason::Local),
            Repr::StopControlConnectionRequest(_) => {
                // Both ends stopped at once: answer, and we are done.
                self.send(StopControlConnectionReply {
                    result: StopResult::Ok,
                    error: GeneralError::None,
                });
                self.shut(CloseReason::Local);
            }
            _ => self.counters.out_of_state += 1,
        }
    }

    fn in_established(&mut self, now: Instant, repr: Repr) {
        // Any message shows the peer is alive (RFC 2637 §3.1.4).
        if self.echo.is_some() && !matches!(repr, Repr::EchoReply(_)) {
            self.echo = None;
            self.deadline = None;
        }
        match repr {
            Repr::EchoRequest(r) => self.send(EchoReply {
                identifier: r.identifier,
                result: EchoResult::Ok,
                error: GeneralError::None,
            }),
            Repr::EchoReply(r) => {
                if self.echo != Some(r.identifier) {
                    self.counters.stale_echo_replies += 1;
                }
                // Any reply shows the peer is alive.
                self.echo = None;
                self.deadline = None;
            }
            Repr::StopControlConnectionRequest(r) => {
                self.send(StopControlConnectionReply {
                    result: StopResult::Ok,
                    error: GeneralError::None,
                });
                self.shut(CloseReason::PeerStopped(r.reason));
            }
            Repr::OutgoingCallRequest(r) => self.on_outgoing_request(now, r),
            Repr::IncomingCallRequest(r) => self.on_incoming_request(now, r),
            Repr::OutgoingCallReply(r) => self.on_outgoing_reply(r),
            Repr::IncomingCallReply(r) => self.on_incoming_reply(r),
            Repr::IncomingCallConnected(r) => self.on_incoming_connected(r),
            Repr::CallClearRequest(r) => self.on_clear_request(r),
            Repr::CallDisconnectNotify(r) => self.on_disconnect_notify(r),
            Repr::SetLinkInfo(r) => {
                if self.established_call(r.peer_call_id) {
                    self.events.push_back(Event::SetLinkInfo {
                        call: CallId(r.peer_call_id),
                        send_accm: r.send_accm,
                        receive_accm: r.receive_accm,
                    });
                }
            }
            Repr::WanErrorNotify(r) => {
                if self.established_call(r.peer_call_id) {
                    self.events.push_back(Event::WanError {
                        call: CallId(r.peer_call_id),
                        errors: WanErrors {
                            crc: r.crc_errors,
                            framing: r.framing_errors,
                            hardware_overruns: r.hardware_overruns,
                            buffer_overruns: r.buffer_overruns,
                            timeouts: r.timeout_errors,
                            alignment: r.alignment_errors,
                        },
                    });
                }
            }
            Repr::StartControlConnectionRequest(_)
            | Repr::StartControlConnectionReply(_)
            | Repr::StopControlConnectionReply(_) => self.counters.out_of_state += 1,
        }
    }

    /// Whether `id` (a "Peer's Call ID" field: ours) names an established call; counts
    /// the miss.
    fn established_call(&mut self, id: u16) -> bool {
        match self.calls.get(id) {
            Some(c) if c.state == CallState::Established => true,
            Some(_) => {
                self.counters.out_of_state += 1;
                false
            }
            None => {
                self.counters.unknown_call += 1;
                false
            }
        }
    }

    /// A call request the peer may make: room for it, a fresh peer Call ID. `Err` carries
    /// the General Error Code of the refusal.
    fn admit(&mut self, peer: u16) -> Result<u16, GeneralError> {
        if self.calls.peer_request_exists(peer) {
            return Err(GeneralError::BadCallId);
        }
        if self.calls.len() >= usize::from(self.config.max_calls) {
            return Err(GeneralError::NoResource);
        }
        self.calls.allocate().ok_or(GeneralError::NoResource)
    }

    /// RFC 2637 §3.2.4.1 PAC idle: Outgoing-Call-Request received.
    fn on_outgoing_request(&mut self, now: Instant, r: OutgoingCallRequest) {
        match self.admit(r.call_id) {
            Ok(id) => {
                let mut call = Call::new(
                    CallRole::PacOutgoing,
                    CallState::WaitAnswer,
                    Some(r.call_id),
                    r.call_serial_number,
                )
                .with_deadline(now + self.config.answer_timeout);
                call.peer_window = r.receive_window;
                call.peer_delay = r.processing_delay;
                self.calls.insert(id, call);
                self.events.push_back(Event::CallRequested {
                    call: CallId(id),
                    request: CallRequest::Outgoing(r),
                });
            }
            Err(error) => {
                self.counters.calls_refused += 1;
                self.send(OutgoingCallReply {
                    call_id: 0,
                    peer_call_id: r.call_id,
                    result: OutgoingCallResult::GeneralError,
                    error,
                    cause_code: 0,
                    connect_speed: 0,
                    receive_window: self.config.recv_window,
                    processing_delay: self.config.processing_delay,
                    physical_channel_id: 0,
                });
            }
        }
    }

    /// RFC 2637 §3.2.3.2 PNS idle: Incoming-Call-Request received.
    fn on_incoming_request(&mut self, now: Instant, r: IncomingCallRequest) {
        match self.admit(r.call_id) {
            Ok(id) => {
                let call = Call::new(
                    CallRole::PnsIncoming,
                    CallState::WaitAnswer,
                    Some(r.call_id),
                    r.call_serial_number,
                )
                .with_deadline(now + self.config.answer_timeout);
                self.calls.insert(id, call);
                self.events.push_back(Event::CallRequested {
                    call: CallId(id),
                    request: CallRequest::Incoming(r),
                });
            }
            Err(error) => {
                self.counters.calls_refused += 1;
                self.send(IncomingCallReply {
                    call_id: 0,
                    peer_call_id: r.call_id,
                    result: IncomingCallResult::GeneralError,
                    error,
                    receive_window: self.config.recv_window,
                    transmit_delay: self.config.processing_delay,
                });
            }
        }
    }

    /// RFC 2637 §3.2.4.2 PNS wait_reply: Outgoing-Call-Reply received.
    fn on_outgoing_reply(&mut self, r: OutgoingCallReply) {
        let Some(call) = self.calls.get_mut(r.peer_call_id) else {
            self.counters.unknown_call += 1;
            return;
        };
        if call.role != CallRole::PnsOutgoing || call.state != CallState::WaitReply {
            self.counters.out_of_state += 1;
            return;
        }
        if r.result != OutgoingCallResult::Connected {
            self.calls.remove(r.peer_call_id);
            self.events.push_back(Event::CallDown {
                call: CallId(r.peer_call_id),
                reason: CallDownReason::OutgoingRefused {
                    result: r.result,
                    error: r.error,
                    cause: r.cause_code,
                },
            });
            return;
        }
        call.peer = Some(r.call_id);
        call.peer_window = r.receive_window;
        call.peer_delay = r.processing_delay;
        self.call_up(r.peer_call_id, r.connect_speed);
    }

    /// RFC 2637 §3.2.3.1 PAC wait_reply: Incoming-Call-Reply received; on "Connect" we
    /// answer with Incoming-Call-Connected and the call is up.
    fn on_incoming_reply(&mut self, r: IncomingCallReply) {
        let Some(call) = self.calls.get_mut(r.peer_call_id) else {
            self.counters.unknown_call += 1;
            return;
        };
        if call.role != CallRole::PacIncoming || call.state != CallState::WaitReply {
            self.counters.out_of_state += 1;
            return;
        }
        if r.result != IncomingCallResult::Connect {
            self.calls.remove(r.peer_call_id);
            self.events.push_back(Event::CallDown {
                call: CallId(r.peer_call_id),
                reason: CallDownReason::IncomingRefused {
                    result: r.result,
                    error: r.error,
                },
            });
            return;
        }
        call.peer = Some(r.call_id);
        call.peer_window = r.receive_window;
        call.peer_delay = r.transmit_delay;
        let (speed, framing) = (call.connect_speed, call.framing_type);
        self.send(IncomingCallConnected {
            peer_call_id: r.call_id,
            connect_speed: speed,
            receive_window: self.config.recv_window,
            transmit_delay: self.config.processing_delay,
            framing_type: framing,
        });
        self.call_up(r.peer_call_id, speed);
    }

    /// RFC 2637 §3.2.3.2 PNS wait_connect: Incoming-Call-Connected received.
    fn on_incoming_connected(&mut self, r: IncomingCallConnected) {
        let Some(call) = self.calls.get_mut(r.peer_call_id) else {
            self.counters.unknown_call += 1;
            return;
        };
        if call.role != CallRole::PnsIncoming || call.state != CallState::WaitConnect {
            self.counters.out_of_state += 1;
            return;
        }
        call.peer_window = r.receive_window;
        call.peer_delay = r.transmit_delay;
        self.call_up(r.peer_call_id, r.connect_speed);
    }

    /// RFC 2637 §3.2.3.1 / §3.2.4.1: the PNS clears a call; the PAC answers with
    /// Call-Disconnect-Notify. The Call ID is the sender's (§2.12).
    fn on_clear_request(&mut self, r: CallClearRequest) {
        let Some(id) = self.calls.by_peer(r.call_id) else {
            self.counters.unknown_call += 1;
            return;
        };
        let Some(call) = self.calls.remove(id) else {
            return;
        };
        if call.role.is_pac() {
            self.send_disconnect(id, DisconnectResult::Request);
        } else {
            // A PAC clearing with Call-Clear-Request: obey, without a reply of the wrong
            // kind.
            self.counters.wrong_direction += 1;
        }
        if call.state != CallState::WaitDisconnect {
            self.events.push_back(Event::CallDown {
                call: CallId(id),
                reason: CallDownReason::ClearedByPeer,
            });
        }
    }

    /// RFC 2637 §3.2.3.2 / §3.2.4.2: the PAC ended a call. The Call ID is the sender's
    /// (§2.13).
    fn on_disconnect_notify(&mut self, r: CallDisconnectNotify) {
        let Some(id) = self.calls.by_peer(r.call_id) else {
            self.counters.unknown_call += 1;
            return;
        };
        let Some(call) = self.calls.remove(id) else {
            return;
        };
        if call.role.is_pac() {
            self.counters.wrong_direction += 1;
        }
        if call.state != CallState::WaitDisconnect {
            self.events.push_back(Event::CallDown {
                call: CallId(id),
                reason: CallDownReason::Disconnected {
                    result: r.result,
                    error: r.error,
                    cause: r.cause_code,
                },
            });
        }
    }

    fn call_up(&mut self, id: u16, connect_speed: u32) {
        let local_window = self.config.recv_window;
        let Some(call) = self.calls.get_mut(id) else {
            return;
        };
        call.state = CallState::Established;
        call.deadline = None;
        call.connect_speed = connect_speed;
        let info = CallInfo {
            call: CallId(id),
            peer_call_id: call.peer.unwrap_or(0),
            role: call.role,
            local_window,
            peer_window: call.peer_window,
            peer_processing_delay: call.peer_delay,
            connect_speed,
            serial_number: call.serial,
        };
        self.events.push_back(Event::CallUp(info));
    }

    fn send_refusal(&mut self, role: CallRole, id: u16, peer: u16, refusal: Refusal) {
        match role {
            CallRole::PacOutgoing => {
                let (result, error) = match refusal {
                    Refusal::DoNotAccept => (OutgoingCallResult::DoNotAccept, GeneralError::None),
                    Refusal::Busy => (OutgoingCallResult::Busy, GeneralError::None),
                    Refusal::NoResource => {
                        (OutgoingCallResult::GeneralError, GeneralError::NoResource)
                    }
                };
                self.send(OutgoingCallReply {
                    call_id: id,
                    peer_call_id: peer,
                    result,
                    error,
                    cause_code: 0,
                    connect_speed: 0,
                    receive_window: self.config.recv_window,
                    processing_delay: self.config.processing_delay,
                    physical_channel_id: 0,
                });
            }
            CallRole::PnsIncoming => {
                let (result, error) = match refusal {
                    Refusal::DoNotAccept | Refusal::Busy => {
                        (IncomingCallResult::DoNotAccept, GeneralError::None)
                    }
                    Refusal::NoResource => {
                        (IncomingCallResult::GeneralError, GeneralError::NoResource)
                    }
                };
                self.send(IncomingCallReply {
                    call_id: id,
                    peer_call_id: peer,
                    result,
                    error,
                    receive_window: self.config.recv_window,
                    transmit_delay: self.config.processing_delay,
                });
            }
            CallRole::PnsOutgoing | CallRole::PacIncoming => {}
        }
    }

    fn send_disconnect(&mut self, id: u16, result: DisconnectResult) {
        self.send(CallDisconnectNotify {
            call_id: id,
            result,
            error: GeneralError::None,
            cause_code: 0,
            call_statistics: FixedStr::empty(),
        });
    }

    /// Per-call timers (RFC 2637 §3: an expected reply that does not come).
    fn call_timers(&mut self, now: Instant) {
        let due: Vec<u16> = self
            .calls
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| id)
            .collect();
        for id in due {
            let Some(call) = self.calls.get(id).cloned() else {
                continue;
            };
            let report = call.state != CallState::WaitDisconnect;
            match (call.state, call.role) {
                (CallState::WaitAnswer, role) => {
                    // The owner did not decide: the PAC's dial "timed out".
                    match role {
                        CallRole::PacOutgoing => self.send(OutgoingCallReply {
                            call_id: id,
                            peer_call_id: call.peer.unwrap_or(0),
                            result: OutgoingCallResult::TimeOut,
                            error: GeneralError::None,
                            cause_code: 0,
                            connect_speed: 0,
                            receive_window: self.config.recv_window,
                            processing_delay: self.config.processing_delay,
                            physical_channel_id: 0,
                        }),
                        _ => {
                            self.send_refusal(role, id, call.peer.unwrap_or(0), Refusal::NoResource)
                        }
                    }
                    self.calls.remove(id);
                }
                (CallState::WaitReply | CallState::WaitConnect | CallState::Established, role)
                    if !role.is_pac() =>
                {
                    // PNS: abort with Call-Clear-Request and wait_disconnect (§3.2.4.2).
                    self.send(CallClearRequest { call_id: id });
                    if let Some(c) = self.calls.get_mut(id) {
                        c.state = CallState::WaitDisconnect;
                        c.deadline = Some(now + self.config.reply_timeout);
                    }
                }
                (CallState::WaitDisconnect, _) => {
                    self.calls.remove(id);
                }
                _ => {
                    // PAC waiting for Incoming-Call-Reply: abort with
                    // Call-Disconnect-Notify (§3.2.3.1).
                    self.send_disconnect(id, DisconnectResult::GeneralError);
                    self.calls.remove(id);
                }
            }
            if report {
                self.events.push_back(Event::CallDown {
                    call: CallId(id),
                    reason: CallDownReason::Timeout,
                });
            }
        }
    }
}

/// splitmix64: spreads the configured seed into the first Call ID, serial and echo ID.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
