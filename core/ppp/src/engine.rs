//! [`Engine`]: one PPP link, sans-IO (the quinn pattern).
//!
//! Bytes and time in: [`Engine::handle_frame`], [`Engine::handle_timeout`], the administrative
//! and lower-layer events [`open`](Engine::open), [`close`](Engine::close),
//! [`lower_up`](Engine::lower_up), [`lower_down`](Engine::lower_down), and datagrams to send
//! through [`Engine::send_datagram`]. Frames, deadlines and events out:
//! [`poll_transmit`](Engine::poll_transmit), [`poll_timeout`](Engine::poll_timeout),
//! [`poll_event`](Engine::poll_event). The engine never reads a clock and never does I/O.
//!
//! Frames are PPP frames without HDLC framing: `FF 03` optional, Protocol field one or two
//! octets, no FCS. The driver runs HDLC (async links) or GRE (PPTP) around them, using
//! [`Engine::link_params`] for the negotiated ACCM, MRU and compression.
//!
//! Phases follow RFC 1661 §3.2 and are derived from the layers' states after every input:
//! Dead (LCP not negotiating), Establish (LCP negotiating), Authenticate (LCP open,
//! authentication running), Network (LCP open, authenticated if required), Terminate (LCP
//! sending or acknowledging Terminate-Request).

mod network;

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use dialgate_crypto::{MppeError, MppeKeys};
use dialgate_wire::ccp::MppePacket;
use dialgate_wire::ppp::{Header, Protocol};

use crate::auth::{
    AuthFailure, AuthPhase, Authenticator, FillRandom, Peer, RequestContext, Verdict,
};
use crate::config::{Config, IpcpRole, RandomSource};
use crate::cp::{self, ControlProtocol, CpConfig, FinishReason, LayerEvent, Received};
use crate::fsm::State;
use crate::lcp::{self, Lcp, LcpConfig, LcpNotice};
use crate::ncp::{
    CcpNegotiated, CcpPolicy, IpcpNegotiated, IpcpPolicy, Ipv6cpNegotiated, Ipv6cpPolicy,
    IpxcpNegotiated, IpxcpPolicy, NbfcpNegotiated, NbfcpPolicy,
};
use crate::options::NegotiationFailure;
use crate::rng::Rng;
use network::{Mppe, NcpSlot};

/// The link phases of RFC 1661 §3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Link Dead: no LCP negotiation under way (§3.3).
    Dead,
    /// Link Establishment: LCP is negotiating (§3.4).
    Establish,
    /// Authentication (§3.5).
    Authenticate,
    /// Network-Layer Protocol: NCPs and data (§3.6).
    Network,
    /// Link Termination: Terminate-Request/Ack under way (§3.7).
    Terminate,
}

/// Why a negotiation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureCause {
    /// Max-Configure requests went unanswered or unacked (RFC 1661 §4.6).
    NoResponse,
    /// The option policy could not converge (e.g. no authentication method both allow).
    Refused(NegotiationFailure),
    /// The peer Code-Rejected or Protocol-Rejected the protocol.
    Rejected,
    /// The layer was closed or the peer terminated it.
    Closed,
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoResponse => f.write_str("no response"),
            Self::Refused(why) => write!(f, "{why}"),
            Self::Rejected => f.write_str("rejected by the peer"),
            Self::Closed => f.write_str("closed"),
        }
    }
}

/// Why the link went down.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownReason {
    /// [`Engine::close`] was called for administrative reasons.
    AdminClose,
    /// The peer sent LCP Terminate-Request.
    PeerTerminated,
    /// The keepalive went unanswered (RFC 1661 §5.8).
    EchoTimeout,
    /// Magic numbers show the link is looped back (RFC 1661 §6.4).
    LoopedBack,
    /// Authentication failed (either direction; the failure says who is at fault).
    AuthFailed(AuthFailure),
    /// A negotiation failed: LCP, or the last NCP standing.
    NegotiationFailed {
        /// The control protocol.
        protocol: Protocol,
        /// Why.
        why: FailureCause,
    },
    /// Encryption (MPPE) is required and the peer would not negotiate it.
    EncryptionRequiredRefused,
    /// No data in either direction for the configured idle time.
    IdleTimeout,
    /// The configured session time elapsed.
    SessionTimeout,
    /// The lower layer (the call, the serial line) went down.
    LowerDown,
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AdminClose => f.write_str("closed by administrator"),
            Self::PeerTerminated => f.write_str("peer terminated the link"),
            Self::EchoTimeout => f.write_str("peer not responding to LCP echo"),
            Self::LoopedBack => f.write_str("link is looped back"),
            Self::AuthFailed(why) => write!(f, "{why}"),
            Self::NegotiationFailed { protocol, why } => {
                write!(f, "{protocol} negotiation failed: {why}")
            }
            Self::EncryptionRequiredRefused => f.write_str("peer refused required encryption"),
            Self::IdleTimeout => f.write_str("idle timeout"),
            Self::SessionTimeout => f.write_str("session timeout"),
            Self::LowerDown => f.write_str("lower layer down"),
        }
    }
}

/// What a network-layer protocol negotiated (carried by [`Event::NetworkUp`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkParams {
    /// IPCP: addresses, DNS and NBNS servers.
    Ipcp(IpcpNegotiated),
    /// IPV6CP: interface identifiers.
    Ipv6cp(Ipv6cpNegotiated),
    /// CCP: MPPE strength and statefulness per direction.
    Ccp(CcpNegotiated),
    /// IPXCP: network and nodes.
    Ipxcp(IpxcpNegotiated),
    /// NBFCP: names and peer information.
    Nbfcp(NbfcpNegotiated),
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The phase changed (RFC 1661 §3.2).
    PhaseChanged {
        /// The previous phase.
        from: Phase,
        /// The new phase.
        to: Phase,
    },
    /// LCP reached Opened: the link is established.
    LinkUp,
    /// The link is down for good; the driver may release the lower layer. Reported once.
    LinkDown {
        /// Why.
        reason: DownReason,
    },
    /// Authentication succeeded: the peer's name (we authenticated it) or ours (the peer
    /// authenticated us).
    Authenticated {
        /// The authenticated user name.
        user: String,
    },
    /// A network-layer protocol (or CCP) opened.
    NetworkUp {
        /// The control protocol (IPCP, IPV6CP, CCP, IPXCP, NBFCP).
        protocol: Protocol,
        /// What it negotiated.
        params: NetworkParams,
    },
    /// A network-layer protocol (or CCP) closed.
    NetworkDown {
        /// The control protocol.
        protocol: Protocol,
    },
}

/// A network-layer datagram received, borrowed from the frame passed to
/// [`Engine::handle_frame`] (decrypted in place when MPPE is on).
#[derive(Debug, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// The network-layer protocol: IPv4, IPv6, IPX or NBF.
    pub protocol: Protocol,
    /// The datagram, without any PPP header.
    pub payload: &'a mut [u8],
}

/// Why [`Engine::send_datagram`] built no frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The NCP of that protocol is not open, or the protocol is not a network protocol we
    /// run, or encryption is required and MPPE is not up yet.
    NotOpen,
    /// The payload exceeds the peer's MRU.
    TooLarge,
    /// The output buffer is too small for the frame.
    BufferTooSmall,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotOpen => "network protocol not open",
            Self::TooLarge => "datagram exceeds the peer's MRU",
            Self::BufferTooSmall => "output buffer too small",
        })
    }
}

impl std::error::Error for SendError {}

/// What the driver's framing layer needs (RFC 1661 §6, RFC 1662 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkParams {
    /// ACCM to apply when sending (the peer's request).
    pub tx_accm: u32,
    /// ACCM the peer applies to what we receive (our request).
    pub rx_accm: u32,
    /// Largest information field we may send (the peer's MRU).
    pub tx_mru: u16,
    /// Largest information field we accept (our MRU).
    pub rx_mru: u16,
    /// We may compress the Protocol field when sending.
    pub tx_pfc: bool,
    /// We may omit Address/Control when sending.
    pub tx_acfc: bool,
    /// The peer may compress the Protocol field.
    pub rx_pfc: bool,
    /// The peer may omit Address/Control.
    pub rx_acfc: bool,
}

/// Counters of one link. Every frame that is not delivered or consumed is counted in exactly
/// one `drop_*` counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed to [`Engine::handle_frame`].
    pub rx_frames: u64,
    /// Octets handed to [`Engine::handle_frame`].
    pub rx_bytes: u64,
    /// Frames produced by [`Engine::poll_transmit`] and [`Engine::send_datagram`].
    pub tx_frames: u64,
    /// Octets of those frames.
    pub tx_bytes: u64,
    /// Datagrams delivered.
    pub rx_datagrams: u64,
    /// Datagrams sent.
    pub tx_datagrams: u64,
    /// Control-protocol frames consumed (LCP, authentication, NCPs).
    pub rx_control: u64,
    /// Dropped: too short or with an invalid Protocol field.
    pub drop_bad_frame: u64,
    /// Dropped: a protocol we do not run (answered with Protocol-Reject when LCP is open).
    pub drop_bad_protocol: u64,
    /// Dropped: a non-LCP frame before its phase (RFC 1661 §3.4-3.5), or any frame while
    /// the link is down (before [`Engine::open`]/[`Engine::lower_up`], after
    /// [`Event::LinkDown`]).
    pub drop_wrong_phase: u64,
    /// Dropped: data for a network protocol whose NCP is not open.
    pub drop_ncp_not_open: u64,
    /// Dropped: unencrypted data while MPPE is on.
    pub drop_unencrypted: u64,
    /// Dropped: MPPE frames that failed to decrypt (every [`MppeError`]; the two counters
    /// below break part of it down).
    pub drop_decrypt: u64,
    /// Dropped: frames longer than our MRU (at least the RFC 1661 §6.1 default of 1500) plus
    /// [`FRAME_HEADER_ALLOWANCE`].
    pub drop_too_long: u64,
    /// Protocol-Rejects sent.
    pub protocol_rejects_sent: u64,
    /// Of `drop_decrypt`: stateful MPPE frames discarded while resynchronising (the frame
    /// that showed the gap and those before the flushed one, RFC 3078 §8.2).
    pub mppe_resync_discards: u64,
    /// Of `drop_decrypt`: MPPE frames with an old or already seen coherency count
    /// (duplicated, or reordered beyond what the mode can decrypt).
    pub mppe_stale: u64,
    /// CCP Reset-Requests we sent (stateful MPPE lost sync, RFC 3078 §8.2).
    pub ccp_reset_requests_sent: u64,
    /// CCP Reset-Requests the peer sent us (RFC 1962 §2.1).
    pub ccp_reset_requests_received: u64,
    /// NCP Configure-Requests the peer sent before our CCP opened while encryption is
    /// required: kept (the latest per NCP) and answered once CCP opens. Counted in
    /// `rx_control` too.
    pub ncp_requests_held: u64,
}

impl Counters {
    /// Total frames dropped: the sum of every `drop_*` counter. Every frame handed to
    /// [`Engine::handle_frame`] is delivered, consumed or dropped, so
    /// `rx_frames == rx_datagrams + rx_control + dropped()`.
    pub fn dropped(&self) -> u64 {
        self.drop_bad_frame
            + self.drop_bad_protocol
            + self.drop_wrong_phase
            + self.drop_ncp_not_open
            + self.drop_unencrypted
            + self.drop_decrypt
            + self.drop_too_long
    }
}

/// Octets a received frame may carry beyond the MRU's Information field: Address, Control and
/// a two-octet Protocol field (RFC 1661 §2, RFC 1662 §3; the FCS is the driver's).
pub const FRAME_HEADER_ALLOWANCE: usize = 4;

/// One PPP link: LCP, authentication, NCPs and the data path.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    lcp: Lcp,
    phase: Phase,
    /// The Authentication phase, from LCP Up until LCP Down (kept after success to answer
    /// retransmissions and re-challenges).
    auth: Option<AuthPhase>,
    /// Authentication is complete (or was not negotiated) for the current LCP session.
    auth_done: bool,
    /// Authentication failed; the link is going down.
    auth_failed: bool,
    /// The authenticated peer's name, when we authenticated it.
    peer_user: Option<String>,
    /// MPPE master keys from MS-CHAP.
    mppe_keys: Option<MppeKeys>,
    /// CCP, when MPPE is negotiated on this link.
    ccp: Option<ControlProtocol<CcpPolicy>>,
    /// MPPE in both directions, once CCP opened with it.
    mppe: Option<Mppe>,
    /// NCPs of the current Network phase.
    ncps: Vec<NcpSlot>,
    /// Authentication packets queued before we closed the link (a CHAP Failure, a PAP
    /// Authenticate-Ack): sent ahead of the Terminate-Request that follows them.
    farewell: VecDeque<crate::auth::Transmit>,
    /// Generator for non-secret values (IPv6 interface identifiers).
    rng: Rng,
    events: VecDeque<Event>,
    counters: Counters,
    /// The reason recorded by whoever started taking the link down.
    down_reason: Option<DownReason>,
    /// A close requested while processing; performed by the event pump.
    close_requested: bool,
    /// Between open/lower_up and the LinkDown event.
    active: bool,
    /// Last time data crossed the link (idle timeout), once in the Network phase.
    last_data: Option<Instant>,
    /// Session deadline, set when the Network phase is first reached.
    session_deadline: Option<Instant>,
}

/// CCP codes beyond 1-7 (RFC 1962 §2.1).
const RESET_REQUEST: u8 = 14;
const RESET_ACK: u8 = 15;

impl Engine {
    /// A new engine in the Dead phase.
    pub fn new(config: Config, now: Instant) -> Self {
        let _ = now;
        let methods = config.allowed_methods();
        let lcp_config = LcpConfig {
            auth_request: if config.authenticator.is_some() {
                methods.clone()
            } else {
                Vec::new()
            },
            auth_accept: if config.peer.is_some() {
                methods
            } else {
                Vec::new()
            },
            ..config.lcp.clone()
        };
        let lcp = Lcp::new(lcp_config, config.cp, config.seed);
        let rng = Rng::new(config.seed ^ 0x6970_7636);
        Self {
            config,
            lcp,
            phase: Phase::Dead,
            auth: None,
            auth_done: false,
            auth_failed: false,
            peer_user: None,
            mppe_keys: None,
            ccp: None,
            mppe: None,
            ncps: Vec::new(),
            farewell: VecDeque::new(),
            rng,
            events: VecDeque::new(),
            counters: Counters::default(),
            down_reason: None,
            close_requested: false,
            active: false,
            last_data: None,
            session_deadline: None,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// LCP (negotiated values, state, counters).
    pub fn lcp(&self) -> &Lcp {
        &self.lcp
    }

    /// The Authentication phase of the current LCP session, if one runs.
    pub fn auth(&self) -> Option<&AuthPhase> {
        self.auth.as_ref()
    }

    /// The MPPE parameters in force, if data is encrypted.
    pub fn mppe(&self) -> Option<crate::ncp::MppeParams> {
        self.mppe.as_ref().map(|m| m.params)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Administrative Open: start (or accept) LCP negotiation once the lower layer is up.
    pub fn open(&mut self, now: Instant) {
        self.active = true;
        self.down_reason = None;
        self.close_requested = false;
        self.lcp.cp_mut().open(now);
        self.pump(now);
    }

    /// Administrative Close with `reason` (reported in [`Event::LinkDown`]): LCP sends
    /// Terminate-Request and the link goes down when the peer acks (or after Max-Terminate).
    pub fn close(&mut self, now: Instant, reason: DownReason) {
        self.request_close(reason);
        self.pump(now);
    }

    /// The lower layer is up (the call is connected, the line has carrier).
    pub fn lower_up(&mut self, now: Instant) {
        if !self.active {
            // A new session: nothing of the last one's teardown carries over.
            self.down_reason = None;
            self.close_requested = false;
        }
        self.active = true;
        self.lcp.cp_mut().up(now);
        self.pump(now);
    }

    /// The lower layer is down: the link goes down at once with [`DownReason::LowerDown`]
    /// (unless it was already going down for another reason).
    pub fn lower_down(&mut self, now: Instant) {
        // The first cause wins: a link already terminating for a reason LCP recorded (the
        // peer's Terminate-Request, typically followed at once by the peer hanging up) goes
        // down for that reason.
        let cp = self.lcp.cp();
        let terminating = matches!(cp.state(), State::Closing | State::Stopping);
        let reason = match cp.pending_finish() {
            Some(finish) if terminating => lcp_down_reason(finish.clone()),
            _ => DownReason::LowerDown,
        };
        if self.active {
            self.down_reason.get_or_insert(reason);
        }
        self.farewell.clear();
        self.lcp.cp_mut().down(now);
        self.pump(now);
    }

    /// Deliver an asynchronous authentication backend's verdict (RADIUS): `ctx` comes from
    /// the [`AuthRequest`](crate::auth::AuthRequest) the backend answered with
    /// [`Verdict::Pending`].
    pub fn auth_complete(&mut self, now: Instant, ctx: RequestContext, verdict: Verdict) {
        if let Some(auth) = self.auth.as_mut() {
            auth.complete(now, ctx, verdict);
        }
        self.pump(now);
    }

    /// What the framing layer needs: negotiated ACCMs, MRUs and compression.
    pub fn link_params(&self) -> LinkParams {
        let open = self.lcp.cp().is_open();
        let defaults = lcp::LcpOptions::default();
        let (local, remote) = if open {
            (*self.lcp.policy().local(), *self.lcp.policy().remote())
        } else {
            (defaults, defaults)
        };
        LinkParams {
            tx_accm: remote.accm,
            rx_accm: local.accm,
            tx_mru: remote.mru,
            rx_mru: local.mru,
            tx_pfc: remote.pfc,
            tx_acfc: remote.acfc,
            rx_pfc: local.pfc,
            rx_acfc: local.acfc,
        }
    }

    /// Handle one received PPP frame (no HDLC framing; `FF 03` optional; PFC allowed).
    ///
    /// Returns a network-layer datagram borrowed from `frame` (decrypted in place when MPPE
    /// is on); control packets are consumed. Total: any input is handled without panicking;
    /// what is dropped is counted in [`Counters`].
    pub fn handle_frame<'a>(&mut self, now: Instant, frame: &'a mut [u8]) -> Option<Datagram<'a>> {
        self.counters.rx_frames += 1;
        self.counters.rx_bytes += frame.len() as u64;
        if frame.len() > self.max_rx_frame() {
            self.counters.drop_too_long += 1;
            return None;
        }
        // After LinkDown the link stays down until the next open/lower_up: a peer's
        // Configure-Request must not bring LCP back up (RFC 1661 §4.2 lets Stopped restart
        // passively) behind the back of a driver that may already have hung up.
        if !self.active {
            self.counters.drop_wrong_phase += 1;
            return None;
        }
        let Ok((header, payload)) = Header::parse(&*frame) else {
            self.counters.drop_bad_frame += 1;
            return None;
        };
        let start = frame.len() - payload.len();
        let protocol = header.protocol;
        let info = frame.get(start..).unwrap_or_default();
        if protocol == Protocol::LCP {
            self.counters.rx_control += 1;
            self.lcp.handle_packet(now, info);
            self.pump(now);
            return None;
        }
        // RFC 1661 §3.4: until LCP is open, every non-LCP packet is silently discarded.
        if !self.lcp.cp().is_open() {
            self.counters.drop_wrong_phase += 1;
            return None;
        }
        if protocol == Protocol::PAP || protocol == Protocol::CHAP {
            let Some(auth) = self.auth.as_mut() else {
                self.counters.drop_wrong_phase += 1;
                return None;
            };
            self.counters.rx_control += 1;
            auth.handle_packet(now, protocol.0, info);
            self.pump(now);
            return None;
        }
        // RFC 1661 §3.5: only authentication (and LCP) until it completes.
        if self.phase != Phase::Network {
            self.counters.drop_wrong_phase += 1;
            return None;
        }
        if protocol == Protocol::CCP {
            if self.ccp.is_some() {
                self.counters.rx_control += 1;
                self.ccp_packet(now, info);
                self.pump(now);
            } else {
                self.protocol_reject(protocol, info);
            }
            return None;
        }
        if protocol == Protocol::COMPRESSED {
            return self.receive_mppe(now, frame, start);
        }
        if let Some(slot) = self
            .ncps
            .iter_mut()
            .find(|s| s.layer.protocol() == protocol.0)
        {
            self.counters.rx_control += 1;
            if slot.held && info.first() == Some(&cp::CONFIGURE_REQUEST) {
                // See `release_ncps`: answered once CCP opens.
                self.counters.ncp_requests_held += 1;
                slot.early_request = Some(info.to_vec());
                return None;
            }
            slot.layer.handle_packet(now, info);
            self.pump(now);
            return None;
        }
        if let Some(slot) = self.ncps.iter().find(|s| s.data == protocol) {
            if !slot.reported {
                self.counters.drop_ncp_not_open += 1;
                return None;
            }
            if self.mppe.is_some() {
                // RFC 3078 §3: with MPPE negotiated, data arrives only encrypted.
                self.counters.drop_unencrypted += 1;
                return None;
            }
            self.counters.rx_datagrams += 1;
            self.last_data = Some(now);
            let payload = frame.get_mut(start..)?;
            return Some(Datagram { protocol, payload });
        }
        self.protocol_reject(protocol, info);
        None
    }

    /// The longest frame [`handle_frame`](Self::handle_frame) accepts: our MRU, never less
    /// than the 1500 octets RFC 1661 §6.1 says we must still receive, plus the header.
    fn max_rx_frame(&self) -> usize {
        let mru = if self.lcp.cp().is_open() {
            self.lcp.policy().local().mru
        } else {
            self.config.lcp.mru
        };
        usize::from(mru.max(lcp::DEFAULT_MRU)) + FRAME_HEADER_ALLOWANCE
    }

    /// RFC 1661 §5.7: a protocol we do not run, in the Network phase.
    fn protocol_reject(&mut self, protocol: Protocol, info: &[u8]) {
        self.counters.drop_bad_protocol += 1;
        self.lcp.send_protocol_reject(protocol.0, info);
        self.counters.protocol_rejects_sent += 1;
    }

    /// An MPPE frame (protocol 0x00fd): decrypt in place, return the inner datagram.
    fn receive_mppe<'a>(
        &mut self,
        now: Instant,
        frame: &'a mut [u8],
        start: usize,
    ) -> Option<Datagram<'a>> {
        let Some(mppe) = self.mppe.as_mut() else {
            self.counters.drop_ncp_not_open += 1;
            return None;
        };
        let body = frame.get_mut(start..).unwrap_or_default();
        let Ok(packet) = MppePacket::new_checked(&*body) else {
            self.counters.drop_decrypt += 1;
            return None;
        };
        let bits = packet.header();
        let encrypted = body
            .get_mut(dialgate_wire::ccp::MPPE_HEADER_LEN..)
            .unwrap_or_default();
        match mppe.decrypter.decrypt(bits, encrypted) {
            Ok(()) => {}
            Err(error) => {
                self.counters.drop_decrypt += 1;
                match error {
                    MppeError::NeedReset | MppeError::AwaitingFlush => {
                        self.counters.mppe_resync_discards += 1;
                    }
                    MppeError::Stale | MppeError::Replayed => self.counters.mppe_stale += 1,
                    _ => {}
                }
                self.mppe_error(now, error);
                return None;
            }
        }
        let Ok((inner, data)) = Header::parse(&*encrypted) else {
            self.counters.drop_bad_frame += 1;
            return None;
        };
        let inner_start = encrypted.len() - data.len();
        let ready = self
            .ncps
            .iter()
            .any(|s| s.data == inner.protocol && s.reported);
        if !ready {
            self.counters.drop_ncp_not_open += 1;
            return None;
        }
        self.counters.rx_datagrams += 1;
        self.last_data = Some(now);
        let payload = encrypted.get_mut(inner_start..)?;
        Some(Datagram {
            protocol: inner.protocol,
            payload,
        })
    }

    /// React to a decryption failure (RFC 3078 §8.2: stateful mode resynchronises with a CCP
    /// Reset-Request).
    fn mppe_error(&mut self, now: Instant, error: MppeError) {
        let period = self.config.cp.restart_period;
        let (Some(mppe), Some(ccp)) = (self.mppe.as_mut(), self.ccp.as_mut()) else {
            return;
        };
        let send = match error {
            MppeError::NeedReset => true,
            MppeError::AwaitingFlush => mppe
                .last_reset_request
                .is_none_or(|last| now >= last + period),
            _ => false,
        };
        if send {
            mppe.last_reset_request = Some(now);
            let id = ccp.next_identifier();
            ccp.send_packet(RESET_REQUEST, id, &[]);
            self.counters.ccp_reset_requests_sent += 1;
        }
    }

    /// A CCP packet: the generic codes go to the layer, Reset-Request/Ack are handled here.
    fn ccp_packet(&mut self, now: Instant, info: &[u8]) {
        let Some(ccp) = self.ccp.as_mut() else {
            return;
        };
        if let Received::Extra {
            code, identifier, ..
        } = ccp.handle_packet(now, info)
        {
            // RFC 1962 §2.1: Reset-Request/Ack only mean something in Opened.
            if !ccp.is_open() {
                return;
            }
            if code == RESET_REQUEST {
                self.counters.ccp_reset_requests_received += 1;
                if let Some(mppe) = self.mppe.as_mut() {
                    mppe.encrypter.reset();
                }
                ccp.send_packet(RESET_ACK, identifier, &[]);
            }
        }
    }

    /// Build a frame carrying `payload` of network protocol `protocol` into `out`; returns its
    /// length. When MPPE is negotiated the frame is encrypted (protocol 0x00fd). Fails when
    /// that protocol's NCP is not open (or encryption is required and not up yet).
    pub fn send_datagram(
        &mut self,
        now: Instant,
        protocol: Protocol,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        if !self.ncps.iter().any(|s| s.data == protocol && s.reported) {
            return Err(SendError::NotOpen);
        }
        let params = self.link_params();
        let mru = usize::from(params.tx_mru);
        let len = match self.mppe.as_mut() {
            Some(mppe) => {
                let header = Header::new(Protocol::COMPRESSED, params.tx_acfc, params.tx_pfc);
                let hl = header.buffer_len();
                let mppe_hl = dialgate_wire::ccp::MPPE_HEADER_LEN;
                // The inner protocol is sent uncompressed (2 octets), as Windows and pppd do.
                let inner = 2 + payload.len();
                if mppe_hl + inner > mru {
                    return Err(SendError::TooLarge);
                }
                let total = hl + mppe_hl + inner;
                let frame = out.get_mut(..total).ok_or(SendError::BufferTooSmall)?;
                let (head, rest) = frame.split_at_mut(hl);
                header.emit(head).map_err(|_| SendError::BufferTooSmall)?;
                let (bits, body) = rest.split_at_mut(mppe_hl);
                let (proto, data) = body.split_at_mut(2);
                proto.copy_from_slice(&protocol.0.to_be_bytes());
                data.copy_from_slice(payload);
                let mppe_header = mppe.encrypter.encrypt(body);
                bits.copy_from_slice(&mppe_header.to_bytes());
                total
            }
            None => {
                if payload.len() > mru {
                    return Err(SendError::TooLarge);
                }
                let header = Header::new(protocol, params.tx_acfc, params.tx_pfc);
                let hl = header.buffer_len();
                let total = hl + payload.len();
                let frame = out.get_mut(..total).ok_or(SendError::BufferTooSmall)?;
                let (head, data) = frame.split_at_mut(hl);
                header.emit(head).map_err(|_| SendError::BufferTooSmall)?;
                data.copy_from_slice(payload);
                total
            }
        };
        self.counters.tx_frames += 1;
        self.counters.tx_bytes += len as u64;
        self.counters.tx_datagrams += 1;
        self.last_data = Some(now);
        Ok(len)
    }

    /// Write the next queued control frame into `buf` (cleared first); returns false when
    /// nothing is queued. Order: authentication packets that preceded our own close, LCP,
    /// authentication, CCP, then the NCPs.
    ///
    /// LCP Configure/Terminate/Code-Reject packets (codes 1-7) always carry `FF 03` and a
    /// two-octet protocol, as real peers send them; every other frame omits `FF 03` when the
    /// peer negotiated ACFC (control protocols are never PFC-compressible).
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        let acfc = self.lcp.cp().is_open() && self.lcp.policy().remote().acfc;
        // Reserve room for the longest header, write the packet after it, then put the
        // actual header right before the packet.
        const ROOM: usize = 4;
        buf.resize(ROOM, 0);
        let protocol = if let Some(t) = self.farewell.pop_front() {
            buf.extend_from_slice(&t.data);
            Protocol(t.protocol)
        } else if self.lcp.cp_mut().poll_transmit(buf) {
            Protocol::LCP
        } else if let Some(t) = self.auth.as_mut().and_then(AuthPhase::poll_transmit) {
            buf.extend_from_slice(&t.data);
            Protocol(t.protocol)
        } else if self.ccp.as_mut().is_some_and(|c| c.poll_transmit(buf)) {
            Protocol::CCP
        } else if let Some(p) = self
            .ncps
            .iter_mut()
            .find_map(|s| s.layer.poll_transmit(buf).then(|| s.layer.protocol()))
        {
            Protocol(p)
        } else {
            buf.clear();
            return false;
        };
        let code = buf.get(ROOM).copied().unwrap_or(0);
        let lcp_configure =
            protocol == Protocol::LCP && (cp::CONFIGURE_REQUEST..=cp::CODE_REJECT).contains(&code);
        let header = Header::new(protocol, acfc && !lcp_configure, false);
        let len = header.buffer_len();
        buf.drain(..ROOM - len);
        let _ = header.emit(buf);
        self.counters.tx_frames += 1;
        self.counters.tx_bytes += buf.len() as u64;
        true
    }

    /// The earliest deadline at which [`handle_timeout`](Self::handle_timeout) must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let idle = match (self.config.idle_timeout, self.last_data) {
            (Some(t), Some(last)) => Some(last + t),
            _ => None,
        };
        let auth = self.auth.as_ref().and_then(AuthPhase::poll_timeout);
        let ccp = self.ccp.as_ref().and_then(ControlProtocol::poll_timeout);
        let ncps = self
            .ncps
            .iter()
            .filter_map(|s| s.layer.poll_timeout())
            .min();
        [
            self.lcp.poll_timeout(),
            auth,
            ccp,
            ncps,
            idle,
            self.session_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Run every timer whose deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.lcp.handle_timeout(now);
        if let Some(auth) = self.auth.as_mut() {
            auth.handle_timeout(now);
        }
        if let Some(ccp) = self.ccp.as_mut() {
            ccp.handle_timeout(now);
        }
        for slot in &mut self.ncps {
            slot.layer.handle_timeout(now);
        }
        if let Some(deadline) = self.session_deadline
            && deadline <= now
        {
            self.session_deadline = None;
            self.last_data = None;
            self.request_close(DownReason::SessionTimeout);
        }
        if let (Some(t), Some(last)) = (self.config.idle_timeout, self.last_data)
            && last + t <= now
        {
            self.last_data = None;
            self.session_deadline = None;
            self.request_close(DownReason::IdleTimeout);
        }
        self.pump(now);
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Ask for the link to be closed with `reason` (the first reason wins); the pump does it.
    fn request_close(&mut self, reason: DownReason) {
        self.down_reason.get_or_insert(reason);
        self.close_requested = true;
    }

    /// Process every pending layer event until nothing changes, then report the network
    /// protocols whose state changed.
    fn pump(&mut self, now: Instant) {
        // Each round consumes events; a bound keeps a logic error from looping forever.
        for _ in 0..64 {
            let mut progressed = self.drain_lcp(now);
            progressed |= self.drain_auth();
            progressed |= self.drain_ccp(now);
            progressed |= self.drain_ncps();
            if self.close_requested {
                self.close_requested = false;
                self.lcp.cp_mut().close(now);
                progressed = true;
            }
            progressed |= self.update_phase(now);
            if !progressed {
                break;
            }
        }
        self.refresh_network();
        self.finish_if_quiet();
    }

    fn drain_lcp(&mut self, now: Instant) -> bool {
        let mut progressed = false;
        while let Some(event) = self.lcp.cp_mut().poll_event() {
            progressed = true;
            match event {
                LayerEvent::Started => {}
                LayerEvent::Up => self.on_lcp_up(now),
                LayerEvent::Down => self.on_lcp_down(),
                LayerEvent::Finished(reason) => self.link_down(reason),
            }
        }
        while let Some(notice) = self.lcp.poll_notice() {
            progressed = true;
            match notice {
                LcpNotice::EchoTimeout => self.request_close(DownReason::EchoTimeout),
                LcpNotice::LoopedBack => self.request_close(DownReason::LoopedBack),
                LcpNotice::ProtocolRejected(protocol) => self.peer_rejected(now, protocol),
            }
        }
        progressed
    }

    /// LCP reached Opened: the link is established; start authentication (RFC 1661 §3.5).
    fn on_lcp_up(&mut self, now: Instant) {
        let local = *self.lcp.policy().local();
        let remote = *self.lcp.policy().remote();
        self.lcp.cp_mut().set_peer_mru(usize::from(remote.mru));
        self.lcp.start_keepalive(now);
        self.farewell.clear();
        self.events.push_back(Event::LinkUp);
        self.auth_failed = false;
        self.peer_user = None;
        self.mppe_keys = None;
        if local.auth.is_none() && remote.auth.is_none() {
            self.auth_done = true;
            return;
        }
        self.auth_done = false;
        match self.build_auth(local.auth, remote.auth) {
            Ok(mut phase) => {
                phase.start(now);
                self.auth = Some(phase);
            }
            Err(failure) => {
                self.auth_failed = true;
                self.request_close(DownReason::AuthFailed(failure));
            }
        }
    }

    /// The authenticator (we verify the peer with `ours`) and peer (the peer verifies us with
    /// `theirs`) directions LCP negotiated.
    fn build_auth(
        &self,
        ours: Option<lcp::Method>,
        theirs: Option<lcp::Method>,
    ) -> Result<AuthPhase, AuthFailure> {
        let random = self
            .config
            .random
            .clone()
            .ok_or(AuthFailure::LocalConfig("no random source configured"))?;
        let fill = |r: &RandomSource| -> FillRandom {
            let r = Arc::clone(r);
            Box::new(move |buf: &mut [u8]| r(buf))
        };
        let authenticator = match (ours, &self.config.authenticator) {
            (Some(method), Some(role)) => Some(Authenticator::new(
                method,
                role.settings.clone(),
                Arc::clone(&role.backend),
                fill(&random),
            )),
            (Some(_), None) => {
                return Err(AuthFailure::LocalConfig("no authentication backend"));
            }
            (None, _) => None,
        };
        let peer = match (theirs, &self.config.peer) {
            (Some(method), Some(role)) => Some(Peer::new(
                method,
                &self.config.auth_policy(),
                role.settings.clone(),
                role.credentials.clone(),
                fill(&random),
            )?),
            (Some(_), None) => return Err(AuthFailure::LocalConfig("no credentials")),
            (None, _) => None,
        };
        Ok(AuthPhase::new(authenticator, peer))
    }

    /// LCP left Opened: everything above it goes down.
    fn on_lcp_down(&mut self) {
        self.lcp.stop_keepalive();
        // We are closing the link (not the peer, not a renegotiation): what authentication
        // already decided still goes out, before our Terminate-Request, so the peer learns
        // the outcome (RFC 1994 §4.2, RFC 2759 §6: the Failure, then the link goes down).
        let closing = self.lcp.cp().state() == State::Closing;
        if let Some(mut auth) = self.auth.take()
            && closing
        {
            while let Some(t) = auth.poll_transmit() {
                self.farewell.push_back(t);
            }
        }
        self.auth_done = false;
        self.mppe = None;
        if self.ccp.take().is_some_and(|c| c.is_open()) {
            self.events.push_back(Event::NetworkDown {
                protocol: Protocol::CCP,
            });
        }
        for slot in self.ncps.drain(..) {
            if slot.reported {
                self.events.push_back(Event::NetworkDown {
                    protocol: Protocol(slot.layer.protocol()),
                });
            }
        }
        self.last_data = None;
    }

    fn drain_auth(&mut self) -> bool {
        let Some(auth) = self.auth.as_ref() else {
            return false;
        };
        match auth.result() {
            Some(Ok(success)) if !self.auth_done => {
                self.auth_done = true;
                self.mppe_keys = success.mppe().cloned();
                if let Some(peer) = &success.peer {
                    self.peer_user = Some(peer.user.clone());
                    self.events.push_back(Event::Authenticated {
                        user: peer.user.clone(),
                    });
                }
                if let Some(us) = &success.us {
                    self.events.push_back(Event::Authenticated {
                        user: us.user.clone(),
                    });
                }
                true
            }
            Some(Err((_, failure))) if !self.auth_failed => {
                // Also a failed re-challenge after success (RFC 1994 §2).
                self.auth_failed = true;
                let failure = failure.clone();
                self.request_close(DownReason::AuthFailed(failure));
                true
            }
            _ => false,
        }
    }

    fn drain_ccp(&mut self, now: Instant) -> bool {
        let mut progressed = false;
        let required = self.config.requires_encryption();
        while let Some(event) = self.ccp.as_mut().and_then(ControlProtocol::poll_event) {
            progressed = true;
            match event {
                LayerEvent::Started => {}
                LayerEvent::Up => {
                    let negotiated = self.ccp.as_ref().and_then(|c| c.policy().negotiated());
                    let params = negotiated.and_then(|n| n.mppe());
                    self.mppe = match (params, &self.mppe_keys) {
                        (Some(params), Some(keys)) => Some(Mppe::new(params, keys)),
                        _ => None,
                    };
                    if self.mppe.is_none() && required {
                        self.request_close(DownReason::EncryptionRequiredRefused);
                    }
                    if self.mppe.is_some() {
                        self.release_ncps(now);
                    }
                    if let Some(negotiated) = negotiated {
                        self.events.push_back(Event::NetworkUp {
                            protocol: Protocol::CCP,
                            params: NetworkParams::Ccp(negotiated),
                        });
                    }
                }
                LayerEvent::Down => {
                    self.mppe = None;
                    self.events.push_back(Event::NetworkDown {
                        protocol: Protocol::CCP,
                    });
                }
                LayerEvent::Finished(_) => {
                    self.mppe = None;
                    if required {
                        self.request_close(DownReason::EncryptionRequiredRefused);
                    }
                }
            }
        }
        progressed
    }

    fn drain_ncps(&mut self) -> bool {
        let mut progressed = false;
        for slot in &mut self.ncps {
            while let Some(event) = slot.layer.poll_event() {
                progressed = true;
                match event {
                    LayerEvent::Started => slot.finished = None,
                    LayerEvent::Up => {
                        slot.opened = true;
                        slot.finished = None;
                    }
                    LayerEvent::Down => slot.opened = false,
                    LayerEvent::Finished(reason) => {
                        slot.opened = false;
                        slot.finished = Some(failure_cause(reason));
                    }
                }
            }
        }
        // With every NCP finished there is nothing left to carry: take the link down, as
        // pppd does ("no network protocols running").
        if progressed && !self.ncps.is_empty() && self.ncps.iter().all(|s| s.finished.is_some()) {
            let last = self.ncps.iter().rev().find_map(|s| {
                s.finished
                    .clone()
                    .map(|why| (Protocol(s.layer.protocol()), why))
            });
            if let Some((protocol, why)) = last {
                self.request_close(DownReason::NegotiationFailed { protocol, why });
            }
        }
        progressed
    }

    /// The peer Protocol-Rejected `protocol` (RFC 1661 §5.7): that layer gets RXJ-.
    fn peer_rejected(&mut self, now: Instant, protocol: u16) {
        let protocol = Protocol(protocol);
        if protocol == Protocol::CCP || protocol == Protocol::COMPRESSED {
            if let Some(ccp) = self.ccp.as_mut() {
                ccp.protocol_rejected(now);
            }
        } else if protocol == Protocol::PAP || protocol == Protocol::CHAP {
            if !self.auth_done {
                self.request_close(DownReason::NegotiationFailed {
                    protocol,
                    why: FailureCause::Rejected,
                });
            }
        } else if let Some(slot) = self
            .ncps
            .iter_mut()
            .find(|s| s.layer.protocol() == protocol.0 || s.data == protocol)
        {
            slot.layer.protocol_rejected(now);
        }
    }

    /// Report NetworkUp/NetworkDown for protocols whose data readiness changed: an NCP is
    /// ready when it is Opened and, if encryption is required, MPPE is up.
    fn refresh_network(&mut self) {
        let crypto_ok = self.mppe.is_some() || !self.config.requires_encryption();
        for slot in &mut self.ncps {
            let ready = slot.opened && crypto_ok;
            if ready && !slot.reported {
                if let Some(params) = slot.layer.params() {
                    slot.reported = true;
                    self.events.push_back(Event::NetworkUp {
                        protocol: Protocol(slot.layer.protocol()),
                        params,
                    });
                }
            } else if !ready && slot.reported {
                slot.reported = false;
                self.events.push_back(Event::NetworkDown {
                    protocol: Protocol(slot.layer.protocol()),
                });
            }
        }
    }

    /// LCP finished (This-Layer-Finished): report the link down once.
    fn link_down(&mut self, reason: FinishReason) {
        let looped = self.lcp.policy().loop_suspected();
        let reason = self.down_reason.take().unwrap_or_else(|| match reason {
            // Our own Configure-Request came back and was refused by ourselves (e.g. an
            // authenticator rejecting its own Authentication-Protocol option): the line is
            // looped back (RFC 1661 §6.4), whatever option failed first.
            FinishReason::NegotiationFailed(_) if looped => DownReason::LoopedBack,
            other => lcp_down_reason(other),
        });
        self.report_down(reason);
    }

    fn report_down(&mut self, reason: DownReason) {
        self.last_data = None;
        self.session_deadline = None;
        if self.active {
            self.active = false;
            self.events.push_back(Event::LinkDown { reason });
        }
    }

    /// A close or lower-down that left LCP without a termination to run (it was not
    /// negotiating, or the lower layer is gone): report the link down now.
    fn finish_if_quiet(&mut self) {
        let quiet = matches!(
            self.lcp.cp().state(),
            State::Initial | State::Starting | State::Closed | State::Stopped
        );
        if quiet && self.active && self.down_reason.is_some() {
            let reason = self.down_reason.take().unwrap_or(DownReason::AdminClose);
            self.report_down(reason);
        }
    }

    fn derived_phase(&self) -> Phase {
        match self.lcp.cp().state() {
            State::Initial | State::Starting | State::Closed | State::Stopped => Phase::Dead,
            State::Closing | State::Stopping => Phase::Terminate,
            State::ReqSent | State::AckRcvd | State::AckSent => Phase::Establish,
            State::Opened if self.auth_done => Phase::Network,
            State::Opened => Phase::Authenticate,
        }
    }

    /// Derive the phase; returns whether it changed.
    fn update_phase(&mut self, now: Instant) -> bool {
        let phase = self.derived_phase();
        if phase == self.phase {
            return false;
        }
        self.events.push_back(Event::PhaseChanged {
            from: self.phase,
            to: phase,
        });
        self.phase = phase;
        if phase == Phase::Network {
            self.enter_network(now);
        }
        true
    }

    /// The Network phase begins (RFC 1661 §3.6): start the clocks, CCP and the NCPs.
    fn enter_network(&mut self, now: Instant) {
        self.last_data = Some(now);
        if self.session_deadline.is_none() {
            self.session_deadline = self.config.session_timeout.map(|t| now + t);
        }
        if !self.ncps.is_empty() || !self.config.runs_network() {
            return;
        }
        let cp_config = self.config.cp;
        let peer_mru = usize::from(self.lcp.policy().remote().mru);
        let keys = self.mppe_keys.is_some();
        let ccp_config = self.config.ccp_config(keys);
        let policy = CcpPolicy::new(ccp_config);
        if self.config.requires_encryption() && policy.check_config().is_err() {
            // MPPE is required but cannot be had (no MS-CHAP keys): never carry data.
            self.request_close(DownReason::EncryptionRequiredRefused);
            return;
        }
        if keys {
            let mut ccp = ControlProtocol::new(
                Protocol::CCP.0,
                policy,
                cp_config,
                &[RESET_REQUEST, RESET_ACK],
            );
            ccp.set_peer_mru(peer_mru);
            ccp.up(now);
            ccp.open(now);
            self.ccp = Some(ccp);
        }
        let user = self.peer_user.clone().unwrap_or_default();
        let filter = self.config.network_filter.clone();
        let allowed = |ncp: Protocol| filter.as_ref().is_none_or(|f| f(&user, ncp));
        if let Some(role) = self
            .config
            .ipcp
            .as_ref()
            .filter(|_| allowed(Protocol::IPCP))
        {
            let policy = match role {
                IpcpRole::Server { config, pool } => {
                    IpcpPolicy::server(config.clone(), Arc::clone(pool), &user)
                }
                IpcpRole::Client(config) => IpcpPolicy::client(config.clone()),
            };
            self.ncps
                .push(slot(Protocol::IPV4, Protocol::IPCP, policy, cp_config));
        }
        if let Some(config) = self.config.ipv6cp.filter(|_| allowed(Protocol::IPV6CP)) {
            let mut rng = self.rng.clone();
            self.rng.next_u64();
            let policy = Ipv6cpPolicy::new(config, Box::new(move || rng.next_u64()));
            self.ncps
                .push(slot(Protocol::IPV6, Protocol::IPV6CP, policy, cp_config));
        }
        if let Some(config) = self
            .config
            .ipxcp
            .as_ref()
            .filter(|_| allowed(Protocol::IPXCP))
        {
            let policy = IpxcpPolicy::new(config.clone());
            self.ncps
                .push(slot(Protocol::IPX, Protocol::IPXCP, policy, cp_config));
        }
        if let Some(config) = self.config.nbfcp.filter(|_| allowed(Protocol::NBFCP)) {
            let policy = NbfcpPolicy::new(config);
            self.ncps
                .push(slot(Protocol::NBF, Protocol::NBFCP, policy, cp_config));
        }
        if self.ncps.is_empty() {
            // The filter refused every configured NCP: nothing may ever be carried.
            self.request_close(DownReason::AdminClose);
            return;
        }
        // With encryption required, the NCPs wait for CCP (see `release_ncps`).
        let hold = self.ccp.is_some() && self.config.requires_encryption();
        for s in &mut self.ncps {
            s.layer.set_peer_mru(peer_mru);
            s.layer.up(now);
            if hold {
                s.held = true;
            } else {
                s.layer.open(now);
            }
        }
    }

    /// CCP opened with MPPE keyed: open the NCPs held since the Network phase began.
    ///
    /// With encryption required no network-layer packet may flow before CCP has negotiated
    /// MPPE (RFC 3078 §3; RFC 1968 §2.1 likewise for ECP), so the NCPs do not send their
    /// Configure-Requests until then. This is what Linux pppd does with `require-mppe`: it
    /// opens IPCP only when CCP comes up and, until then, its IPCP sits in Closed, where a
    /// Configure-Request is answered with Terminate-Ack (RFC 1661 §4.1, Closed row). An early
    /// request would cost a whole restart timer (RFC 1661 §4.6, 3 s): the Terminate-Ack does
    /// not move Req-Sent.
    ///
    /// A peer that runs its NCPs in parallel with CCP (Windows) sends its Configure-Request
    /// early. Answering it with Terminate-Ack, as pppd does, would cost that peer the same
    /// restart timer, so the latest early request per NCP is kept and processed right after
    /// the layer opens: RFC 1661 §3.6 lets an NCP choose when to negotiate, and a Closed
    /// layer's packets are ours to handle; other codes still reach the Closed layer and get
    /// the state table's answers.
    fn release_ncps(&mut self, now: Instant) {
        for s in &mut self.ncps {
            if s.held {
                s.held = false;
                s.layer.open(now);
                if let Some(request) = s.early_request.take() {
                    s.layer.handle_packet(now, &request);
                }
            }
        }
    }
}

/// An NCP slot for `policy`.
fn slot<P>(data: Protocol, control: Protocol, policy: P, config: CpConfig) -> NcpSlot
where
    P: crate::options::OptionPolicy + network::Negotiated + fmt::Debug + Send + 'static,
{
    NcpSlot::new(
        data,
        Box::new(ControlProtocol::new(control.0, policy, config, &[])),
    )
}

/// Why the link is down when LCP finishes for `reason` (and nothing else was recorded).
fn lcp_down_reason(reason: FinishReason) -> DownReason {
    match reason {
        FinishReason::Closed => DownReason::AdminClose,
        FinishReason::PeerTerminated => DownReason::PeerTerminated,
        other => DownReason::NegotiationFailed {
            protocol: Protocol::LCP,
            why: failure_cause(other),
        },
    }
}

/// What a layer's finish means as a negotiation failure.
fn failure_cause(reason: FinishReason) -> FailureCause {
    match reason {
        FinishReason::NoResponse => FailureCause::NoResponse,
        FinishReason::NegotiationFailed(why) => FailureCause::Refused(why),
        FinishReason::Rejected => FailureCause::Rejected,
        FinishReason::Closed | FinishReason::PeerTerminated => FailureCause::Closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_transmit_keeps_ff03_on_lcp_configure() {
        let now = Instant::now();
        let mut e = Engine::new(Config::default(), now);
        e.open(now);
        e.lower_up(now);
        let mut buf = Vec::new();
        assert!(e.poll_transmit(&mut buf));
        assert_eq!(buf[..5], [0xff, 0x03, 0xc0, 0x21, 1]);
        assert!(!e.poll_transmit(&mut buf));
        assert!(buf.is_empty());
    }

    #[test]
    fn handle_frame_is_total_on_short_input() {
        let now = Instant::now();
        let mut e = Engine::new(Config::default(), now);
        e.open(now);
        e.lower_up(now);
        for junk in [
            &mut [][..],
            &mut [0x02],
            &mut [0xff, 0x03],
            &mut [0x00, 0x00],
        ] {
            assert!(e.handle_frame(now, junk).is_none());
        }
        assert_eq!(e.counters().drop_bad_frame, 4);
    }
}
