//! CCP option policy for MPPE (RFC 1962 CCP, RFC 3078 MPPE, RFC 3079 MPPE keys).
//!
//! MPPE is negotiated as CCP option 18 (RFC 3078 §2) whose Supported Bits carry the key
//! lengths (L = 40-bit, M = 56-bit, S = 128-bit), the stateless-mode bit H (RFC 3078 §2,
//! "H" bit; stateless = the key changes every packet) and the MPPC compression bit C
//! (RFC 2118), which we never do.
//!
//! Negotiation (RFC 3078 §2.1, and what pppd does on the wire):
//! - our Configure-Request lists every key length we allow, with H set (stateless), or with
//!   H clear when `prefer_weak_stateful` is set;
//! - a peer request offering several acceptable lengths, or carrying C/D/unknown bits, or the
//!   wrong H, is Nak'd with the single strongest length we accept and our H; a request with
//!   exactly one acceptable length, our H and nothing else is Acked;
//! - stateful mode is always an explicit opt-in: with `allow_stateful` a peer's stateful
//!   request is Acked (while our own direction is not already settled as stateless), and a
//!   peer's Nak to stateful is followed; without it a stateful request is Nak'd to stateless
//!   and a Nak to stateful is not followed (we keep asking for stateless);
//! - with `prefer_weak_stateful` a peer's stateless request is Nak'd to stateful, and a Nak of
//!   our stateful request back to stateless means the peer refuses stateful mode: we fall
//!   back to stateless for both directions. Against a peer that only allows stateful mode
//!   this converges on stateful, against any other on stateless;
//! - once one direction has settled, the other is steered to the same length and H, so both
//!   directions agree (CCP is negotiated per direction, MPPE needs both).
//!
//! Every other CCP option (Predictor, BSD-Compress 21, Deflate 26, ...) and an option 18
//! asking only for MPPC compression is rejected. With [`MppePolicy::Required`], a peer that
//! rejects MPPE, naks it to something we do not accept, or never offers it for its own
//! direction ends the negotiation with
//! [`NegotiationFailure::RequiredOptionRefused`] (`what`: "MPPE encryption").

use dialgate_wire::ccp::{CcpOption, MppeBits, kind};

use super::util::{Judge, Sent, push, typed};
use crate::options::{NegotiationFailure, OptionPolicy, Reply, RequestVerdict};

/// RFC 3078 §2: the MPPE/MPPC option of CCP.
const MPPE: u8 = kind::MPPE;

/// Whether MPPE is wanted on this link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MppePolicy {
    /// No encryption, no link: a peer refusing MPPE fails CCP (and the engine downs the link).
    #[default]
    Required,
    /// Encrypt when the peer agrees; otherwise run unencrypted.
    Allowed,
    /// Never negotiate MPPE (option 18 is rejected).
    Refused,
}

/// An MPPE session-key length (RFC 3078 §2, RFC 3079 §2.2-§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MppeKeyLength {
    /// 40-bit keys (L bit); weak, only with `allow_weak_mppe_40`.
    Bits40,
    /// 56-bit keys (M bit); weak, only with `allow_weak_mppe_56`.
    Bits56,
    /// 128-bit keys (S bit).
    Bits128,
}

impl MppeKeyLength {
    fn bit(self) -> MppeBits {
        match self {
            Self::Bits40 => MppeBits::L,
            Self::Bits56 => MppeBits::M,
            Self::Bits128 => MppeBits::S,
        }
    }
}

/// The H bit for `stateless`.
fn h_bit(stateless: bool) -> MppeBits {
    if stateless {
        MppeBits::H
    } else {
        MppeBits::empty()
    }
}

/// The MPPE parameters of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MppeParams {
    /// Session-key length.
    pub key_length: MppeKeyLength,
    /// Stateless mode (H bit, RFC 3078 §2): the key changes with every packet.
    pub stateless: bool,
}

/// Configuration of [`CcpPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcpConfig {
    /// Required (the default), Allowed or Refused.
    pub mppe: MppePolicy,
    /// Allow 128-bit keys (default true).
    pub allow_mppe_128: bool,
    /// Allow 56-bit keys (weak; default false).
    pub allow_weak_mppe_56: bool,
    /// Allow 40-bit keys (weak; default false).
    pub allow_weak_mppe_40: bool,
    /// Accept stateful mode when the peer asks for it (default false: stateless only).
    pub allow_stateful: bool,
    /// Ask for stateful mode ourselves (weak: a lost packet costs a Reset-Request round trip
    /// and everything sent meanwhile; default false). Implies `allow_stateful`; falls back to
    /// stateless when the peer refuses stateful mode.
    pub prefer_weak_stateful: bool,
    /// Whether MS-CHAP produced MPPE master keys (RFC 3079 §3). Without keys,
    /// [`MppePolicy::Required`] fails and [`MppePolicy::Allowed`] negotiates no MPPE.
    pub keys_available: bool,
}

impl Default for CcpConfig {
    fn default() -> Self {
        Self {
            mppe: MppePolicy::Required,
            allow_mppe_128: true,
            allow_weak_mppe_56: false,
            allow_weak_mppe_40: false,
            allow_stateful: false,
            prefer_weak_stateful: false,
            keys_available: false,
        }
    }
}

/// What CCP agreed, per direction, once both directions are acked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcpNegotiated {
    /// MPPE on the frames we send (the peer acked our request), if any.
    pub transmit: Option<MppeParams>,
    /// MPPE on the frames we receive (we acked the peer's request), if any.
    pub receive: Option<MppeParams>,
}

impl CcpNegotiated {
    /// The MPPE parameters when both directions agreed on the same ones; `None` when the link
    /// runs unencrypted (or, only possible with [`MppePolicy::Allowed`] against an odd peer,
    /// one-way).
    pub fn mppe(&self) -> Option<MppeParams> {
        match (self.transmit, self.receive) {
            (Some(t), Some(r)) if t == r => Some(t),
            _ => None,
        }
    }
}

/// A set of key lengths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Lengths {
    l40: bool,
    l56: bool,
    l128: bool,
}

impl Lengths {
    fn from_bits(bits: MppeBits) -> Self {
        Self {
            l40: bits.contains(MppeBits::L),
            l56: bits.contains(MppeBits::M),
            l128: bits.contains(MppeBits::S),
        }
    }

    fn only(k: MppeKeyLength) -> Self {
        Self::from_bits(k.bit())
    }

    fn bits(self) -> MppeBits {
        let mut bits = MppeBits::empty();
        for (on, bit) in [
            (self.l40, MppeBits::L),
            (self.l56, MppeBits::M),
            (self.l128, MppeBits::S),
        ] {
            if on {
                bits.insert(bit);
            }
        }
        bits
    }

    fn and(self, other: Self) -> Self {
        Self::from_bits(self.bits() & other.bits())
    }

    fn is_empty(self) -> bool {
        self.bits() == MppeBits::empty()
    }

    fn count(self) -> u32 {
        self.bits().bits().count_ones()
    }

    fn strongest(self) -> Option<MppeKeyLength> {
        if self.l128 {
            Some(MppeKeyLength::Bits128)
        } else if self.l56 {
            Some(MppeKeyLength::Bits56)
        } else if self.l40 {
            Some(MppeKeyLength::Bits40)
        } else {
            None
        }
    }
}

/// How we answer one MPPE option of the peer.
enum Answer {
    Ack(MppeParams),
    Nak(MppeBits),
    Reject,
}

fn refused() -> NegotiationFailure {
    NegotiationFailure::RequiredOptionRefused {
        option: MPPE,
        what: "MPPE encryption",
    }
}

/// The CCP option policy for MPPE; see the [module docs](self).
#[derive(Debug)]
pub struct CcpPolicy {
    config: CcpConfig,
    /// Key lengths in our next request.
    offer: Lengths,
    /// H bit of our next request.
    stateless: bool,
    /// Whether our next request carries MPPE (and whether we accept the peer's).
    send_mppe: bool,
    sent: Sent,
    /// Our request as the peer acked it.
    tx: Option<Option<MppeParams>>,
    /// The peer's request as we acked it.
    rx: Option<Option<MppeParams>>,
    /// RFC 1661 §5.3: we appended MPPE to a Nak to prompt the peer once.
    prompted: bool,
}

impl CcpPolicy {
    /// A policy for `config`.
    pub fn new(config: CcpConfig) -> Self {
        let mut policy = Self {
            config,
            offer: Lengths::default(),
            stateless: true,
            send_mppe: false,
            sent: Sent::default(),
            tx: None,
            rx: None,
            prompted: false,
        };
        policy.reset();
        policy
    }

    /// `Err` when the configuration cannot succeed: MPPE is required but no MS-CHAP keys are
    /// available or no key length is allowed. The engine may check this before starting CCP;
    /// `check_request` returns the same error otherwise.
    pub fn check_config(&self) -> Result<(), NegotiationFailure> {
        if self.config.mppe == MppePolicy::Required && !self.usable() {
            Err(NegotiationFailure::RequiredOptionRefused {
                option: MPPE,
                what: "MPPE encryption (no MS-CHAP keys or no allowed key length)",
            })
        } else {
            Ok(())
        }
    }

    /// What was agreed: `Some` once the peer acked our request and we acked theirs.
    pub fn negotiated(&self) -> Option<CcpNegotiated> {
        Some(CcpNegotiated {
            transmit: self.tx?,
            receive: self.rx?,
        })
    }

    fn allowed(&self) -> Lengths {
        Lengths {
            l40: self.config.allow_weak_mppe_40,
            l56: self.config.allow_weak_mppe_56,
            l128: self.config.allow_mppe_128,
        }
    }

    /// Whether we accept stateful mode at all.
    fn accepts_stateful(&self) -> bool {
        self.config.allow_stateful || self.config.prefer_weak_stateful
    }

    fn usable(&self) -> bool {
        self.config.mppe != MppePolicy::Refused
            && self.config.keys_available
            && !self.allowed().is_empty()
    }

    /// The key lengths and H bit the peer's direction must use: the settled transmit
    /// parameters once our request is acked, our current offer before.
    fn target(&self) -> (Lengths, bool) {
        match self.tx {
            Some(Some(tx)) => (Lengths::only(tx.key_length), tx.stateless),
            _ => (self.offer, self.stateless),
        }
    }

    /// RFC 3078 §2.1 applied to one option 18 of the peer's request.
    fn judge_mppe(&self, bits: MppeBits) -> Answer {
        let offered = Lengths::from_bits(bits);
        let (target, want_stateless) = self.target();
        if offered.is_empty() {
            // Only MPPC compression asked for (or nothing at all): MPPC is not supported.
            return if bits.contains(MppeBits::C) {
                Answer::Reject
            } else {
                Answer::Nak(target.bits() | h_bit(want_stateless))
            };
        }
        // A stateful request is taken as it is when we allow stateful mode and our own
        // direction has not already settled on stateless (see the module docs).
        let settled = matches!(self.tx, Some(Some(_)));
        let stateless = if !bits.is_stateless() && self.accepts_stateful() && !settled {
            false
        } else {
            want_stateless
        };
        let ours = h_bit(stateless);
        let acceptable = offered.and(target);
        let Some(strongest) = acceptable.strongest() else {
            // No length we accept: tell the peer what we can do.
            return Answer::Nak(target.bits() | ours);
        };
        // Exactly one length and nothing else but H: no C, no D, no reserved bits.
        let exact =
            offered.count() == 1 && MppeBits(bits.bits() & !MppeBits::H.bits()) == offered.bits();
        if exact && bits.is_stateless() == stateless {
            Answer::Ack(MppeParams {
                key_length: strongest,
                stateless,
            })
        } else {
            Answer::Nak(strongest.bit() | ours)
        }
    }

    /// The peer will not do MPPE the way we can: fail when it is required, otherwise drop it.
    fn give_up(&mut self) -> Result<(), NegotiationFailure> {
        if self.config.mppe == MppePolicy::Required {
            return Err(refused());
        }
        self.send_mppe = false;
        Ok(())
    }
}

impl OptionPolicy for CcpPolicy {
    fn name(&self) -> &'static str {
        "CCP"
    }

    fn reset(&mut self) {
        self.offer = self.allowed();
        self.stateless = !self.config.prefer_weak_stateful;
        self.send_mppe = self.usable();
        self.sent.clear();
        self.tx = None;
        self.rx = None;
        self.prompted = false;
    }

    fn build_request(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        if self.send_mppe {
            push(
                out,
                &CcpOption::Mppe(self.offer.bits() | h_bit(self.stateless)),
            );
        }
        self.sent.record(out.get(start..).unwrap_or_default());
        self.tx = None;
    }

    fn check_request(
        &mut self,
        list: &[u8],
        reply: &mut Reply,
        nak_exhausted: bool,
    ) -> Result<RequestVerdict, NegotiationFailure> {
        let opts = typed::<CcpOption<'_>>(list)?;
        self.check_config()?;
        self.rx = None;
        let mut judge = Judge::new(reply, nak_exhausted);
        let mut accepted = None;
        let mut offered_mppe = false;
        for (raw, option) in opts {
            let bits = match option {
                Ok(CcpOption::Mppe(bits)) if self.send_mppe => bits,
                // Other compressors, a malformed option 18, or MPPE we do not do.
                _ => {
                    judge.reject(&raw);
                    continue;
                }
            };
            match self.judge_mppe(bits) {
                Answer::Ack(params) => {
                    offered_mppe = true;
                    accepted = Some(params);
                }
                Answer::Nak(suggestion) => {
                    offered_mppe = true;
                    if nak_exhausted {
                        // RFC 1661 §4.6 has us reject it: no MPPE in that direction, so none
                        // in ours either.
                        self.give_up()?;
                    }
                    judge.nak(&raw, &CcpOption::Mppe(suggestion));
                }
                Answer::Reject => judge.reject(&raw),
            }
        }
        if !offered_mppe && self.send_mppe {
            // The peer's direction would run in clear: prompt once (RFC 1661 §5.3), then give
            // up on it (Allowed) or fail (Required). A reject in this answer hides a Nak, so
            // prompting waits for a request we would not otherwise reject.
            let (target, stateless) = self.target();
            let ask = CcpOption::Mppe(target.bits() | h_bit(stateless));
            if !judge.has_rejects() {
                if !self.prompted && judge.nak_append(&ask) {
                    self.prompted = true;
                } else {
                    self.give_up()?;
                }
            }
        }
        if judge.all_acked() {
            self.rx = Some(accepted);
            if let Some(params) = accepted {
                // Steer our own direction to the same parameters (see the module docs).
                let narrowed = self.offer.and(Lengths::only(params.key_length));
                if !narrowed.is_empty() {
                    self.offer = narrowed;
                }
                self.stateless = params.stateless;
            }
        }
        Ok(reply.verdict())
    }

    fn on_ack(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        self.sent.check_ack(list)?;
        let acked = typed::<CcpOption<'_>>(list)?.find_map(|(_, option)| match option {
            Ok(CcpOption::Mppe(bits)) => Some(bits),
            _ => None,
        });
        let params = match acked {
            Some(bits) => {
                // An Ack of several lengths is ambiguous; take the one the other direction
                // uses, else the strongest.
                let lengths = Lengths::from_bits(bits);
                let key_length = self
                    .rx
                    .flatten()
                    .map(|p| p.key_length)
                    .filter(|k| !lengths.and(Lengths::only(*k)).is_empty())
                    .or(lengths.strongest())
                    .ok_or(NegotiationFailure::Malformed)?;
                Some(MppeParams {
                    key_length,
                    stateless: bits.is_stateless(),
                })
            }
            None => None,
        };
        self.tx = Some(params);
        Ok(())
    }

    fn on_nak(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        for (raw, option) in typed::<CcpOption<'_>>(list)? {
            if raw.kind() != MPPE || !self.send_mppe {
                continue;
            }
            let Ok(CcpOption::Mppe(bits)) = option else {
                return Err(NegotiationFailure::Malformed);
            };
            let mut lengths = Lengths::from_bits(bits).and(self.allowed());
            // A Nak to stateful mode without the opt-in is not followed: we keep asking for
            // stateless (the peer may give in; if it insists, Max-Failure turns its Nak into
            // a Reject and MPPE is refused). A Nak to stateless is always followed.
            let stateless = bits.is_stateless() || !self.accepts_stateful();
            let rx = self.rx.flatten();
            if let Some(rx) = rx {
                lengths = lengths.and(Lengths::only(rx.key_length));
            }
            let h_ok = rx.is_none_or(|rx| rx.stateless == stateless);
            match lengths.strongest() {
                Some(k) if h_ok => {
                    self.offer = Lengths::only(k);
                    self.stateless = stateless;
                }
                // The peer wants a length or mode we do not accept (RFC 3078 §2.1).
                _ => self.give_up()?,
            }
        }
        Ok(())
    }

    fn on_reject(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        let rejected_mppe = self.sent.check_reject(list)?.any(|k| k == MPPE);
        if rejected_mppe {
            self.give_up()?;
        }
        Ok(())
    }
}
