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

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use dialgate_wire::ppp::{Header, Protocol};

use crate::config::Config;
use crate::cp::{self, FinishReason, LayerEvent};
use crate::fsm::State;
use crate::lcp::{self, Lcp, LcpConfig, LcpNotice};
use crate::options::NegotiationFailure;

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
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoResponse => f.write_str("no response"),
            Self::Refused(why) => write!(f, "{why}"),
            Self::Rejected => f.write_str("rejected by the peer"),
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
    /// Authentication failed (either direction).
    AuthFailed(String),
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
            Self::AuthFailed(why) => write!(f, "authentication failed: {why}"),
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
    // ncp seam: IPCP addresses and DNS/NBNS, IPV6CP interface identifiers, CCP/MPPE strength
    // and statefulness, IPXCP and NBFCP parameters arrive with the ncp module.
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
    /// The NCP of that protocol is not open (or the protocol is not a network protocol we
    /// run).
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
    /// Dropped: a non-LCP frame before its phase (RFC 1661 §3.4-3.5).
    pub drop_wrong_phase: u64,
    /// Dropped: data for a network protocol whose NCP is not open.
    pub drop_ncp_not_open: u64,
    /// Dropped: unencrypted data while MPPE is on.
    pub drop_unencrypted: u64,
    /// Dropped: MPPE frames that failed to decrypt.
    pub drop_decrypt: u64,
    /// Protocol-Rejects sent.
    pub protocol_rejects_sent: u64,
}

/// One PPP link: LCP, authentication, NCPs and the data path.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    lcp: Lcp,
    phase: Phase,
    /// Authentication progress once LCP is open; `None` before.
    auth: Option<AuthProgress>,
    events: VecDeque<Event>,
    counters: Counters,
    /// The reason recorded by whoever started taking the link down.
    down_reason: Option<DownReason>,
    /// Between open/lower_up and the LinkDown event.
    active: bool,
    /// Last time data crossed the link (idle timeout), once in the Network phase.
    last_data: Option<Instant>,
    /// Session deadline, set when the Network phase is first reached.
    session_deadline: Option<Instant>,
}

/// Where authentication stands after LCP opened.
// auth seam: holds `auth::Authenticator` and `auth::Peer` when the auth module lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AuthProgress {
    /// We authenticate the peer with this method (the peer acked our Auth-Protocol).
    we_authenticate: Option<lcp::Method>,
    /// The peer authenticates us with this method (we acked its Auth-Protocol).
    peer_authenticates: Option<lcp::Method>,
    /// Both required directions succeeded.
    done: bool,
}

impl Engine {
    /// A new engine in the Dead phase.
    pub fn new(config: Config, now: Instant) -> Self {
        let _ = now;
        let lcp_config = LcpConfig {
            auth_request: if config.authenticate_peer {
                config.allowed_methods()
            } else {
                Vec::new()
            },
            // auth seam: `config.allowed_methods()` once peer credentials can be configured.
            auth_accept: Vec::new(),
            ..config.lcp.clone()
        };
        let lcp = Lcp::new(lcp_config, config.cp, config.seed);
        Self {
            config,
            lcp,
            phase: Phase::Dead,
            auth: None,
            events: VecDeque::new(),
            counters: Counters::default(),
            down_reason: None,
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

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Administrative Open: start (or accept) LCP negotiation once the lower layer is up.
    pub fn open(&mut self, now: Instant) {
        self.active = true;
        self.down_reason = None;
        self.lcp.cp_mut().open(now);
        self.pump(now);
    }

    /// Administrative Close with `reason` (reported in [`Event::LinkDown`]): LCP sends
    /// Terminate-Request and the link goes down when the peer acks (or after Max-Terminate).
    pub fn close(&mut self, now: Instant, reason: DownReason) {
        self.down_reason.get_or_insert(reason);
        self.lcp.cp_mut().close(now);
        self.pump(now);
        self.finish_if_idle();
    }

    /// The lower layer is up (the call is connected, the line has carrier).
    pub fn lower_up(&mut self, now: Instant) {
        self.active = true;
        self.lcp.cp_mut().up(now);
        self.pump(now);
    }

    /// The lower layer is down: the link goes down at once with [`DownReason::LowerDown`]
    /// (unless it was already going down for another reason).
    pub fn lower_down(&mut self, now: Instant) {
        self.down_reason.get_or_insert(DownReason::LowerDown);
        self.lcp.cp_mut().down(now);
        self.pump(now);
        self.finish_if_idle();
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
        let Ok((header, payload)) = Header::parse(&*frame) else {
            self.counters.drop_bad_frame += 1;
            return None;
        };
        let header_len = frame.len() - payload.len();
        let protocol = header.protocol;
        if protocol == Protocol::LCP {
            self.counters.rx_control += 1;
            let packet = frame.get(header_len..).unwrap_or_default();
            self.lcp.handle_packet(now, packet);
            self.pump(now);
            return None;
        }
        // RFC 1661 §3.4: until LCP is open, every non-LCP packet is silently discarded.
        if !self.lcp.cp().is_open() {
            self.counters.drop_wrong_phase += 1;
            return None;
        }
        if protocol == Protocol::PAP || protocol == Protocol::CHAP {
            // auth seam: hand the packet to the Authenticator/Peer for its protocol.
            self.counters.drop_wrong_phase += 1;
            return None;
        }
        // RFC 1661 §3.5: only authentication (and LCP) until it completes.
        if self.phase != Phase::Network {
            self.counters.drop_wrong_phase += 1;
            return None;
        }
        // ncp seam: NCP packets go to their ControlProtocol, data of open NCPs is returned,
        // MPPE (0x00fd) is decrypted in place.
        self.counters.drop_bad_protocol += 1;
        let info = frame.get(header_len..).unwrap_or_default();
        self.lcp.send_protocol_reject(protocol.0, info);
        self.counters.protocol_rejects_sent += 1;
        None
    }

    /// Build a frame carrying `payload` of network protocol `protocol` into `out`; returns its
    /// length. Fails when that protocol's NCP is not open.
    pub fn send_datagram(
        &mut self,
        now: Instant,
        protocol: Protocol,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SendError> {
        // ncp seam: look up the open NCP of `protocol`; MPPE encrypts into 0x00fd frames.
        let _ = (now, protocol, payload, out);
        Err(SendError::NotOpen)
    }

    /// Write the next queued control frame into `buf` (cleared first); returns false when
    /// nothing is queued.
    ///
    /// LCP Configure/Terminate/Code-Reject packets (codes 1-7) always carry `FF 03` and a
    /// two-octet protocol, as real peers send them; every other frame omits `FF 03` when the
    /// peer negotiated ACFC (control protocols are never PFC-compressible).
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        let acfc = self.lcp.cp().is_open() && self.lcp.policy().remote().acfc;
        let start = Header::new(Protocol::LCP, false, false).buffer_len();
        buf.resize(start, 0);
        if !self.lcp.cp_mut().poll_transmit(buf) {
            buf.clear();
            return false;
        }
        let code = buf.get(start).copied().unwrap_or(0);
        let compress = acfc && !(cp::CONFIGURE_REQUEST..=cp::CODE_REJECT).contains(&code);
        let header = Header::new(Protocol::LCP, compress, false);
        let len = header.buffer_len();
        // Move the header into place: write it right before the packet.
        buf.drain(..start - len);
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
        [self.lcp.poll_timeout(), idle, self.session_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Run every timer whose deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.lcp.handle_timeout(now);
        self.pump(now);
        if let Some(deadline) = self.session_deadline
            && deadline <= now
        {
            self.session_deadline = None;
            self.last_data = None;
            self.close(now, DownReason::SessionTimeout);
        }
        if let (Some(t), Some(last)) = (self.config.idle_timeout, self.last_data)
            && last + t <= now
        {
            self.last_data = None;
            self.session_deadline = None;
            self.close(now, DownReason::IdleTimeout);
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Process every pending layer event and notice until nothing changes, then derive the
    /// phase.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut progressed = false;
            while let Some(event) = self.lcp.cp_mut().poll_event() {
                progressed = true;
                self.on_lcp_event(now, event);
            }
            while let Some(notice) = self.lcp.poll_notice() {
                progressed = true;
                match notice {
                    LcpNotice::EchoTimeout => self.close(now, DownReason::EchoTimeout),
                    LcpNotice::LoopedBack => self.close(now, DownReason::LoopedBack),
                    LcpNotice::ProtocolRejected(protocol) => {
                        // ncp seam: disable the NCP (or auth) the peer rejected (RXJ-).
                        let _ = protocol;
                    }
                }
            }
            if !progressed {
                break;
            }
        }
        self.update_phase(now);
    }

    fn on_lcp_event(&mut self, now: Instant, event: LayerEvent) {
        match event {
            LayerEvent::Started => {}
            LayerEvent::Up => {
                let peer_mru = self.lcp.policy().remote().mru;
                self.lcp.cp_mut().set_peer_mru(usize::from(peer_mru));
                self.lcp.start_keepalive(now);
                self.events.push_back(Event::LinkUp);
                let local = *self.lcp.policy().local();
                let remote = *self.lcp.policy().remote();
                self.auth = Some(AuthProgress {
                    we_authenticate: local.auth,
                    peer_authenticates: remote.auth,
                    done: local.auth.is_none() && remote.auth.is_none(),
                });
                self.start_auth(now);
            }
            LayerEvent::Down => {
                self.lcp.stop_keepalive();
                // auth seam: drop the Authenticator/Peer. ncp seam: every NCP gets Down.
                self.auth = None;
                self.last_data = None;
            }
            LayerEvent::Finished(reason) => self.link_down(reason),
        }
    }

    /// Begin the Authenticate phase (RFC 1661 §3.5), or go straight to Network.
    fn start_auth(&mut self, now: Instant) {
        let Some(progress) = self.auth else {
            return;
        };
        if progress.done {
            return;
        }
        // auth seam: start `auth::Authenticator` (we_authenticate) and/or `auth::Peer`
        // (peer_authenticates) here. Until the auth module lands, authentication fails
        // closed: the link never reaches the Network phase unauthenticated.
        self.close(
            now,
            DownReason::AuthFailed("authentication is not available".into()),
        );
    }

    /// LCP finished (This-Layer-Finished): report the link down once.
    fn link_down(&mut self, reason: FinishReason) {
        let reason = self.down_reason.take().unwrap_or(match reason {
            FinishReason::Closed => DownReason::AdminClose,
            FinishReason::PeerTerminated => DownReason::PeerTerminated,
            FinishReason::NoResponse => DownReason::NegotiationFailed {
                protocol: Protocol::LCP,
                why: FailureCause::NoResponse,
            },
            FinishReason::NegotiationFailed(why) => DownReason::NegotiationFailed {
                protocol: Protocol::LCP,
                why: FailureCause::Refused(why),
            },
            FinishReason::Rejected => DownReason::NegotiationFailed {
                protocol: Protocol::LCP,
                why: FailureCause::Rejected,
            },
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

    /// After a close or lower-down that left LCP without a termination to run (it was not
    /// negotiating), report the link down now.
    fn finish_if_idle(&mut self) {
        let state = self.lcp.cp().state();
        let quiet = matches!(
            state,
            State::Initial | State::Starting | State::Closed | State::Stopped
        );
        if quiet && self.active {
            let reason = self.down_reason.take().unwrap_or(DownReason::AdminClose);
            self.report_down(reason);
        }
        self.update_phase_only();
    }

    fn derived_phase(&self) -> Phase {
        match self.lcp.cp().state() {
            State::Initial | State::Starting | State::Closed | State::Stopped => Phase::Dead,
            State::Closing | State::Stopping => Phase::Terminate,
            State::ReqSent | State::AckRcvd | State::AckSent => Phase::Establish,
            State::Opened => match self.auth {
                Some(AuthProgress { done: true, .. }) => Phase::Network,
                _ => Phase::Authenticate,
            },
        }
    }

    fn update_phase(&mut self, now: Instant) {
        let before = self.phase;
        self.update_phase_only();
        if self.phase == Phase::Network && before != Phase::Network {
            self.enter_network(now);
        }
    }

    fn update_phase_only(&mut self) {
        let phase = self.derived_phase();
        if phase != self.phase {
            self.events.push_back(Event::PhaseChanged {
                from: self.phase,
                to: phase,
            });
            self.phase = phase;
        }
    }

    /// The Network phase begins (RFC 1661 §3.6): start the idle and session clocks.
    fn enter_network(&mut self, now: Instant) {
        // ncp seam: create and open the configured NCPs (IPCP gets the authenticated user).
        self.last_data = Some(now);
        if self.session_deadline.is_none() {
            self.session_deadline = self.config.session_timeout.map(|t| now + t);
        }
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
