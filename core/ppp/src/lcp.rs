//! The Link Control Protocol (RFC 1661 §5, §6; RFC 1662 §7.1 for ACCM).
//!
//! [`LcpPolicy`] is LCP's [`OptionPolicy`]: MRU, ACCM, Authentication-Protocol, Magic-Number,
//! Protocol-Field-Compression and Address-and-Control-Field-Compression. Everything else the
//! peer asks for (Quality-Protocol, Callback, MRRU, Endpoint-Discriminator unless enabled, ...)
//! is rejected. [`Lcp`] wraps it in a [`ControlProtocol`] and adds the LCP-only codes:
//! Protocol-Reject, Echo-Request/Reply (keepalive), Discard-Request, Identification and
//! Time-Remaining.
//!
//! Choices where practice is looser than the RFC, documented here once:
//! * The peer's MRU is accepted down to [`LcpConfig::min_peer_mru`] (128 by default, as pppd
//!   does); below that we Nak with that minimum. We only request an MRU when ours differs from
//!   the default 1500.
//! * ACCM: by default we request 0 (nothing escaped), right for synchronous and PPTP links;
//!   a Nak'd ACCM is OR-ed into ours (RFC 1662 §7.1). The peer's ACCM is always accepted.
//! * A Configure-Nak of PFC/ACFC (boolean options) is taken as a refusal: we stop asking.
//! * Magic-Number loop detection (§6.4): after [`LcpConfig::max_magic_collisions`]
//!   consecutive collisions (the peer's request carrying our magic, or a Nak repeating the
//!   magic we Nak'd with) the policy reports [`LcpPolicy::looped_back`]; the engine then takes
//!   the link down with reason `LoopedBack`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use dialgate_wire::cp::{self as wire_cp, OptionRepr, RawOption};
use dialgate_wire::lcp::{AuthProtocol, ChapAlgorithm, LcpOption, MagicData, ProtocolReject};

use crate::cp::{ControlProtocol, CpConfig, Received};
use crate::fsm::State;
use crate::options::{NegotiationFailure, OptionPolicy, Reply, RequestVerdict};
use crate::rng::Rng;

/// PPP protocol number of LCP.
pub const PROTOCOL: u16 = 0xc021;

/// Protocol-Reject (RFC 1661 §5.7).
pub const PROTOCOL_REJECT: u8 = 8;
/// Echo-Request (RFC 1661 §5.8).
pub const ECHO_REQUEST: u8 = 9;
/// Echo-Reply (RFC 1661 §5.8).
pub const ECHO_REPLY: u8 = 10;
/// Discard-Request (RFC 1661 §5.9).
pub const DISCARD_REQUEST: u8 = 11;
/// Identification (RFC 1570 §2.1).
pub const IDENTIFICATION: u8 = 12;
/// Time-Remaining (RFC 1570 §2.2).
pub const TIME_REMAINING: u8 = 13;

/// The LCP codes beyond 1-7 that [`Lcp`] handles itself.
const EXTRA_CODES: &[u8] = &[
    PROTOCOL_REJECT,
    ECHO_REQUEST,
    ECHO_REPLY,
    DISCARD_REQUEST,
    IDENTIFICATION,
    TIME_REMAINING,
];

/// LCP option types (RFC 1661 §6, RFC 1570, RFC 1990).
pub mod option {
    /// Maximum-Receive-Unit (RFC 1661 §6.1).
    pub const MRU: u8 = 1;
    /// Async-Control-Character-Map (RFC 1662 §7.1).
    pub const ACCM: u8 = 2;
    /// Authentication-Protocol (RFC 1661 §6.2).
    pub const AUTH_PROTOCOL: u8 = 3;
    /// Quality-Protocol (RFC 1661 §6.3).
    pub const QUALITY_PROTOCOL: u8 = 4;
    /// Magic-Number (RFC 1661 §6.4).
    pub const MAGIC_NUMBER: u8 = 5;
    /// Protocol-Field-Compression (RFC 1661 §6.5).
    pub const PFC: u8 = 7;
    /// Address-and-Control-Field-Compression (RFC 1661 §6.6).
    pub const ACFC: u8 = 8;
    /// Callback (RFC 1570 §2.3).
    pub const CALLBACK: u8 = 13;
    /// Multilink MRRU (RFC 1990 §5.1.1).
    pub const MRRU: u8 = 17;
    /// Endpoint Discriminator (RFC 1990 §5.1.3).
    pub const ENDPOINT_DISCRIMINATOR: u8 = 19;
}

/// The default MRU (RFC 1661 §6.1).
pub const DEFAULT_MRU: u16 = 1500;
/// The ACCM in force until negotiated (RFC 1662 §7.1).
pub const DEFAULT_ACCM: u32 = 0xffff_ffff;

pub use crate::auth::Method;

/// LCP configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LcpConfig {
    /// Our MRU (default 1500; requested only when different).
    pub mru: u16,
    /// Smallest MRU we accept from the peer (default 128, pppd's floor).
    pub min_peer_mru: u16,
    /// The ACCM we ask for (default `Some(0)` for synchronous/PPTP links; `None` does not ask).
    pub accm: Option<u32>,
    /// Ask for Protocol-Field-Compression (default true).
    pub pfc: bool,
    /// Ask for Address-and-Control-Field-Compression (default true).
    pub acfc: bool,
    /// Negotiate a Magic-Number (default true).
    pub magic: bool,
    /// Consecutive magic-number collisions before declaring the link looped back (default 5).
    pub max_magic_collisions: u8,
    /// Accept the peer's Endpoint-Discriminator instead of rejecting it (default false).
    pub accept_endpoint_discriminator: bool,
    /// As authenticator: the methods we may request, strongest first (empty: we do not
    /// authenticate the peer).
    pub auth_request: Vec<Method>,
    /// As peer: the methods we agree to be authenticated with, preferred first (we Nak with the
    /// first; empty: we refuse any).
    pub auth_accept: Vec<Method>,
    /// Keepalive: interval between Echo-Requests once LCP is open (`None` disables).
    pub echo_interval: Option<Duration>,
    /// Keepalive: unanswered Echo-Requests before the link is declared dead.
    pub echo_failures: u32,
}

impl Default for LcpConfig {
    fn default() -> Self {
        Self {
            mru: DEFAULT_MRU,
            min_peer_mru: 128,
            accm: Some(0),
            pfc: true,
            acfc: true,
            magic: true,
            max_magic_collisions: 5,
            accept_endpoint_discriminator: false,
            auth_request: Vec::new(),
            auth_accept: Vec::new(),
            echo_interval: Some(Duration::from_secs(30)),
            echo_failures: 4,
        }
    }
}

/// The values of one direction of LCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LcpOptions {
    /// Maximum-Receive-Unit of the side that requested it.
    pub mru: u16,
    /// ACCM of the side that requested it.
    pub accm: u32,
    /// Magic-Number (0 when not negotiated).
    pub magic: u32,
    /// Protocol fields may be compressed towards the side that requested it.
    pub pfc: bool,
    /// Address/Control may be omitted towards the side that requested it.
    pub acfc: bool,
    /// The authentication the side that requested it wants to perform.
    pub auth: Option<Method>,
}

impl Default for LcpOptions {
    fn default() -> Self {
        Self {
            mru: DEFAULT_MRU,
            accm: DEFAULT_ACCM,
            magic: 0,
            pfc: false,
            acfc: false,
            auth: None,
        }
    }
}

/// LCP's option policy.
#[derive(Debug)]
pub struct LcpPolicy {
    config: LcpConfig,
    rng: Rng,
    /// What our next Configure-Request asks for.
    want: LcpOptions,
    /// Which options our next Configure-Request carries.
    ask_mru: bool,
    ask_accm: bool,
    ask_magic: bool,
    /// Index into `config.auth_request` of the method we request; past the end: none left.
    auth_index: usize,
    /// What the peer acked (our receive side).
    local: LcpOptions,
    /// What we acked (the peer's receive side).
    remote: LcpOptions,
    /// The magic we suggested in our last Nak of a colliding magic.
    last_nak_magic: Option<u32>,
    collisions: u8,
    looped_back: bool,
}

impl LcpPolicy {
    /// A policy with `config`; `seed` feeds the magic-number generator.
    pub fn new(config: LcpConfig, seed: u64) -> Self {
        let mut p = Self {
            config,
            rng: Rng::new(seed),
            want: LcpOptions::default(),
            ask_mru: false,
            ask_accm: false,
            ask_magic: false,
            auth_index: 0,
            local: LcpOptions::default(),
            remote: LcpOptions::default(),
            last_nak_magic: None,
            collisions: 0,
            looped_back: false,
        };
        p.reset();
        p
    }

    /// The configuration.
    pub fn config(&self) -> &LcpConfig {
        &self.config
    }

    /// Our receive side as acked by the peer (valid once LCP is open).
    pub fn local(&self) -> &LcpOptions {
        &self.local
    }

    /// The peer's receive side as we acked it (valid once LCP is open).
    pub fn remote(&self) -> &LcpOptions {
        &self.remote
    }

    /// Our current magic number (0 when none is negotiated).
    pub fn magic(&self) -> u32 {
        if self.ask_magic { self.want.magic } else { 0 }
    }

    /// Whether repeated magic-number collisions show the link is looped back (§6.4).
    pub fn looped_back(&self) -> bool {
        self.looped_back
    }

    /// Whether the current negotiation has seen our own magic number come back (§6.4), even
    /// once: a negotiation failing then most likely failed on our own options reflected by a
    /// looped-back line, and is reported as such.
    pub fn loop_suspected(&self) -> bool {
        self.looped_back || self.collisions > 0
    }

    fn collision(&mut self) {
        self.collisions = self.collisions.saturating_add(1);
        if self.collisions >= self.config.max_magic_collisions {
            self.looped_back = true;
        }
    }

    fn current_auth(&self) -> Option<Method> {
        self.config.auth_request.get(self.auth_index).copied()
    }

    fn judge(
        &mut self,
        raw: RawOption<'_>,
        opt: Option<LcpOption<'_>>,
        pending: &mut LcpOptions,
        j: &mut Judge<'_>,
    ) {
        let raw_bytes = raw.as_bytes();
        match opt {
            Some(LcpOption::Mru(mru)) => {
                if mru < self.config.min_peer_mru {
                    j.nak(
                        raw_bytes,
                        option::MRU,
                        &self.config.min_peer_mru.to_be_bytes(),
                    );
                } else {
                    pending.mru = mru;
                }
            }
            Some(LcpOption::Accm(accm)) => pending.accm = accm,
            Some(LcpOption::AuthProtocol(auth)) => match method_of(&auth) {
                Some(m) if self.config.auth_accept.contains(&m) => pending.auth = Some(m),
                _ => match self.config.auth_accept.first() {
                    Some(best) => j.nak(raw_bytes, option::AUTH_PROTOCOL, best.lcp_option_data()),
                    None => j.reject(raw_bytes),
                },
            },
            Some(LcpOption::MagicNumber(magic)) => {
                let ours = self.magic();
                if magic == 0 || (ours != 0 && magic == ours) {
                    if magic != 0 {
                        self.collision();
                    }
                    // §6.4: Nak with a different magic number; ours changes only when our
                    // own request is Nak'd.
                    let suggest = self.rng.nonzero_u32_except(&[ours, magic]);
                    self.last_nak_magic = Some(suggest);
                    j.nak(raw_bytes, option::MAGIC_NUMBER, &suggest.to_be_bytes());
                } else {
                    self.collisions = 0;
                    pending.magic = magic;
                }
            }
            Some(LcpOption::Pfc) => pending.pfc = true,
            Some(LcpOption::Acfc) => pending.acfc = true,
            Some(LcpOption::EndpointDiscriminator { .. })
                if self.config.accept_endpoint_discriminator => {}
            // Quality-Protocol, Callback, MRRU, Endpoint-Discriminator, FCS-Alternatives,
            // unknown types, and known types with a malformed value.
            _ => j.reject(raw_bytes),
        }
    }
}

impl OptionPolicy for LcpPolicy {
    fn name(&self) -> &'static str {
        "LCP"
    }

    fn reset(&mut self) {
        self.want = LcpOptions {
            mru: self.config.mru,
            accm: self.config.accm.unwrap_or(DEFAULT_ACCM),
            magic: if self.config.magic {
                self.rng.nonzero_u32_except(&[])
            } else {
                0
            },
            pfc: self.config.pfc,
            acfc: self.config.acfc,
            auth: None,
        };
        self.ask_mru = self.config.mru != DEFAULT_MRU;
        self.ask_accm = self.config.accm.is_some();
        self.ask_magic = self.config.magic;
        self.auth_index = 0;
        self.want.auth = self.current_auth();
        self.local = LcpOptions::default();
        self.remote = LcpOptions::default();
        self.last_nak_magic = None;
        self.collisions = 0;
        self.looped_back = false;
    }

    fn build_request(&mut self, out: &mut Vec<u8>) {
        if self.ask_mru {
            put(out, option::MRU, &self.want.mru.to_be_bytes());
        }
        if self.ask_accm {
            put(out, option::ACCM, &self.want.accm.to_be_bytes());
        }
        if let Some(method) = self.want.auth {
            put(out, option::AUTH_PROTOCOL, method.lcp_option_data());
        }
        if self.ask_magic {
            put(out, option::MAGIC_NUMBER, &self.want.magic.to_be_bytes());
        }
        if self.want.pfc {
            put(out, option::PFC, &[]);
        }
        if self.want.acfc {
            put(out, option::ACFC, &[]);
        }
    }

    fn check_request(
        &mut self,
        options_list: &[u8],
        reply: &mut Reply,
        nak_exhausted: bool,
    ) -> Result<RequestVerdict, NegotiationFailure> {
        let mut pending = LcpOptions::default();
        let mut j = Judge {
            reply,
            nak_exhausted,
        };
        for (raw, opt) in options(options_list)? {
            self.judge(raw, opt, &mut pending, &mut j);
        }
        let verdict = j.reply.verdict();
        if verdict == RequestVerdict::Ack {
            self.remote = pending;
        }
        Ok(verdict)
    }

    fn on_ack(&mut self, acked: &[u8]) -> Result<(), NegotiationFailure> {
        wire_cp::check_options(acked).map_err(|_| NegotiationFailure::Malformed)?;
        self.local = LcpOptions {
            mru: if self.ask_mru {
                self.want.mru
            } else {
                DEFAULT_MRU
            },
            accm: if self.ask_accm {
                self.want.accm
            } else {
                DEFAULT_ACCM
            },
            magic: self.magic(),
            pfc: self.want.pfc,
            acfc: self.want.acfc,
            auth: self.want.auth,
        };
        Ok(())
    }

    fn on_nak(&mut self, naked: &[u8]) -> Result<(), NegotiationFailure> {
        for (raw, opt) in options(naked)? {
            match opt {
                Some(LcpOption::Mru(mru))
                    if (self.config.min_peer_mru..=self.config.mru).contains(&mru) =>
                {
                    self.want.mru = mru;
                    self.ask_mru = true;
                }
                Some(LcpOption::Accm(accm)) if self.ask_accm => self.want.accm |= accm,
                _ if raw.kind() == option::AUTH_PROTOCOL && self.want.auth.is_some() => {
                    let proposed = match opt {
                        Some(LcpOption::AuthProtocol(auth)) => method_of(&auth),
                        _ => None,
                    };
                    let allowed = proposed
                        .and_then(|m| self.config.auth_request.iter().position(|&a| a == m));
                    self.auth_index = match allowed {
                        Some(index) => index,
                        None => self.auth_index + 1,
                    };
                    self.want.auth = self.current_auth();
                    if self.want.auth.is_none() {
                        return Err(NegotiationFailure::RequiredOptionRefused {
                            option: option::AUTH_PROTOCOL,
                            what: "no authentication protocol both sides allow",
                        });
                    }
                }
                Some(LcpOption::MagicNumber(magic)) if self.ask_magic => {
                    if Some(magic) == self.last_nak_magic {
                        // Our own Nak came back: likely looped back (§6.4).
                        self.collision();
                    }
                    self.want.magic = self.rng.nonzero_u32_except(&[self.want.magic, magic]);
                }
                _ if raw.kind() == option::PFC => self.want.pfc = false,
                _ if raw.kind() == option::ACFC => self.want.acfc = false,
                _ => {}
            }
        }
        Ok(())
    }

    fn on_reject(&mut self, rejected: &[u8]) -> Result<(), NegotiationFailure> {
        for (raw, _) in options(rejected)? {
            match raw.kind() {
                option::MRU => self.ask_mru = false,
                option::ACCM => self.ask_accm = false,
                option::AUTH_PROTOCOL if self.want.auth.is_some() => {
                    return Err(NegotiationFailure::RequiredOptionRefused {
                        option: option::AUTH_PROTOCOL,
                        what: "peer refuses to authenticate",
                    });
                }
                option::MAGIC_NUMBER => self.ask_magic = false,
                option::PFC => self.want.pfc = false,
                option::ACFC => self.want.acfc = false,
                _ => {}
            }
        }
        Ok(())
    }
}

/// Builds the Nak and Reject lists, turning Naks into Rejects after Max-Failure (§4.6).
struct Judge<'r> {
    reply: &'r mut Reply,
    nak_exhausted: bool,
}

impl Judge<'_> {
    fn reject(&mut self, raw: &[u8]) {
        self.reply.rej.extend_from_slice(raw);
    }

    fn nak(&mut self, raw: &[u8], kind: u8, data: &[u8]) {
        if self.nak_exhausted {
            self.reject(raw);
        } else {
            put(&mut self.reply.nak, kind, data);
        }
    }
}

fn put(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    // Every value we emit is at most 4 octets, far below the 253-octet limit.
    let _ = wire_cp::push_option(out, kind, data);
}

/// The options of a well-formed list, each as its raw TLV and its typed parse (`Err` for a
/// known type with a malformed value). `Err` if the list itself is malformed (RFC 1661 §5).
fn options(
    list: &[u8],
) -> Result<impl Iterator<Item = (RawOption<'_>, Option<LcpOption<'_>>)>, NegotiationFailure> {
    wire_cp::check_options(list).map_err(|_| NegotiationFailure::Malformed)?;
    Ok(wire_cp::options(list)
        .filter_map(Result::ok)
        .map(|raw| (raw, LcpOption::parse(raw).ok())))
}

/// The method an Authentication-Protocol option names, if we know it.
fn method_of(auth: &AuthProtocol<'_>) -> Option<Method> {
    match auth {
        AuthProtocol::Pap => Some(Method::Pap),
        AuthProtocol::Chap(ChapAlgorithm::Md5) => Some(Method::ChapMd5),
        AuthProtocol::Chap(ChapAlgorithm::MsChapV1) => Some(Method::MsChapV1),
        AuthProtocol::Chap(ChapAlgorithm::MsChapV2) => Some(Method::MsChapV2),
        _ => None,
    }
}

/// What [`Lcp`] reports to the engine beyond its layer events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LcpNotice {
    /// The peer Protocol-Rejected `protocol` (RFC 1661 §5.7); not LCP itself, which is
    /// handled as RXJ- inside.
    ProtocolRejected(u16),
    /// Magic numbers show the link is looped back (§6.4).
    LoopedBack,
    /// The keepalive went unanswered `echo_failures` times.
    EchoTimeout,
}

/// Counters particular to LCP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LcpStats {
    /// Echo-Requests sent.
    pub echo_requests_sent: u64,
    /// Echo-Replies received that matched.
    pub echo_replies_received: u64,
    /// Echo-Requests answered.
    pub echo_requests_answered: u64,
    /// Discard-Request, Identification and Time-Remaining packets received (and dropped).
    pub discarded: u64,
    /// LCP-only packets dropped: outside Opened, malformed, or carrying our own magic.
    pub dropped: u64,
}

/// LCP: the option policy in its control protocol, plus keepalive and the LCP-only codes.
#[derive(Debug)]
pub struct Lcp {
    cp: ControlProtocol<LcpPolicy>,
    echo_deadline: Option<Instant>,
    echo_outstanding: u32,
    notices: VecDeque<LcpNotice>,
    stats: LcpStats,
}

impl Lcp {
    /// LCP with its configuration, the restart-timer tunables and a seed for magic numbers.
    pub fn new(config: LcpConfig, cp: CpConfig, seed: u64) -> Self {
        Self {
            cp: ControlProtocol::new(PROTOCOL, LcpPolicy::new(config, seed), cp, EXTRA_CODES),
            echo_deadline: None,
            echo_outstanding: 0,
            notices: VecDeque::new(),
            stats: LcpStats::default(),
        }
    }

    /// The control protocol (automaton, queue, events).
    pub fn cp(&self) -> &ControlProtocol<LcpPolicy> {
        &self.cp
    }

    /// The control protocol, mutably (open/close/up/down, polling).
    pub fn cp_mut(&mut self) -> &mut ControlProtocol<LcpPolicy> {
        &mut self.cp
    }

    /// The option policy and the negotiated values.
    pub fn policy(&self) -> &LcpPolicy {
        self.cp.policy()
    }

    /// LCP-only counters.
    pub fn stats(&self) -> LcpStats {
        self.stats
    }

    /// The next notice for the engine.
    pub fn poll_notice(&mut self) -> Option<LcpNotice> {
        self.notices.pop_front()
    }

    /// Start the keepalive (call when LCP reaches Opened).
    pub fn start_keepalive(&mut self, now: Instant) {
        self.echo_outstanding = 0;
        self.echo_deadline = self.cp.policy().config().echo_interval.map(|i| now + i);
    }

    /// Stop the keepalive (call when LCP leaves Opened).
    pub fn stop_keepalive(&mut self) {
        self.echo_deadline = None;
        self.echo_outstanding = 0;
    }

    /// The earliest of the restart timer and the keepalive.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.cp.poll_timeout(), self.echo_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run whichever timers expired.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.cp.handle_timeout(now);
        let Some(deadline) = self.echo_deadline else {
            return;
        };
        if deadline > now || !self.cp.is_open() {
            return;
        }
        let config = self.cp.policy().config();
        let interval = config.echo_interval.unwrap_or(Duration::from_secs(30));
        if self.echo_outstanding >= config.echo_failures {
            self.echo_deadline = None;
            self.notices.push_back(LcpNotice::EchoTimeout);
            return;
        }
        let id = self.cp.next_identifier();
        let magic = self.cp.policy().magic().to_be_bytes();
        self.cp.send_packet(ECHO_REQUEST, id, &magic);
        self.echo_outstanding += 1;
        self.stats.echo_requests_sent += 1;
        self.echo_deadline = Some(now + interval);
    }

    /// Handle one received LCP packet.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        let was_looped = self.cp.policy().looped_back();
        match self.cp.handle_packet(now, packet) {
            Received::Extra {
                code,
                identifier,
                data,
            } => self.extra(now, code, identifier, data),
            // A peer that Code-Rejects Echo-Request cannot be kept alive by it.
            Received::CodeRejected { code: ECHO_REQUEST } => self.stop_keepalive(),
            Received::Consumed | Received::CodeRejected { .. } => {}
        }
        if !was_looped && self.cp.policy().looped_back() {
            self.notices.push_back(LcpNotice::LoopedBack);
        }
    }

    fn extra(&mut self, now: Instant, code: u8, identifier: u8, data: &[u8]) {
        // RFC 1661 §5.7-5.9: these are only meaningful in Opened; silently discard otherwise.
        if self.cp.state() != State::Opened {
            self.stats.dropped += 1;
            return;
        }
        match code {
            PROTOCOL_REJECT => {
                let Ok(reject) = ProtocolReject::parse(data) else {
                    self.stats.dropped += 1;
                    return;
                };
                match reject.protocol.0 {
                    PROTOCOL => self.cp.protocol_rejected(now),
                    other => self.notices.push_back(LcpNotice::ProtocolRejected(other)),
                }
            }
            ECHO_REQUEST | ECHO_REPLY => {
                let Ok(MagicData { magic, data: rest }) = MagicData::parse(data) else {
                    self.stats.dropped += 1;
                    return;
                };
                let ours = self.cp.policy().magic();
                if ours != 0 && magic == ours {
                    // Our own packet came back (§6.4): do not answer or count it.
                    self.stats.dropped += 1;
                    return;
                }
                if code == ECHO_REPLY {
                    self.echo_outstanding = 0;
                    self.stats.echo_replies_received += 1;
                } else if self.cp.receive_rxr(now) {
                    self.cp
                        .send_packet_parts(ECHO_REPLY, identifier, &[&ours.to_be_bytes(), rest]);
                    self.stats.echo_requests_answered += 1;
                }
            }
            _ => {
                // Discard-Request, Identification, Time-Remaining.
                self.stats.discarded += 1;
            }
        }
    }

    /// Queue a Protocol-Reject of a packet of `protocol` with Information `info` (§5.7);
    /// only sent while LCP is Opened.
    pub fn send_protocol_reject(&mut self, protocol: u16, info: &[u8]) {
        if self.cp.state() != State::Opened {
            return;
        }
        let id = self.cp.next_identifier();
        self.cp
            .send_packet_parts(PROTOCOL_REJECT, id, &[&protocol.to_be_bytes(), info]);
    }
}

#[cfg(test)]
mod tests;
