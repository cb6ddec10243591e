//! The contract between the generic RFC 1661 control-protocol machinery (one automaton shared
//! by LCP and every NCP) and the option policy of one protocol (LCP, IPCP, IPV6CP, CCP, IPXCP,
//! NBFCP).
//!
//! The machinery owns the automaton, identifiers, the restart timer and the packet headers; a
//! policy only sees option lists (the TLVs after the 4-byte Code/Identifier/Length header) and
//! decides what to ask for and what to accept. Policies never see raw frames and never do I/O.

use core::fmt;

/// How a policy judged the peer's Configure-Request (RFC 1661 §5.1–5.4).
///
/// The machinery sends Configure-Reject when `rej` is non-empty, otherwise Configure-Nak when
/// `nak` is non-empty, otherwise Configure-Ack echoing the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestVerdict {
    /// Every option is acceptable: RCR+.
    Ack,
    /// Some option has an unacceptable value; `nak` holds the values we would accept: RCR-.
    Nak,
    /// Some option is unknown or not negotiable; `rej` holds those options verbatim: RCR-.
    Reject,
}

/// Why a negotiation cannot converge; the machinery closes the layer with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiationFailure {
    /// The peer rejected or refused to agree to an option our policy requires
    /// (e.g. MPPE when encryption is required, an authentication protocol we insist on).
    RequiredOptionRefused {
        /// RFC option type.
        option: u8,
        /// Human-readable description for logs and the link-down reason.
        what: &'static str,
    },
    /// The peer's Configure-Nak/Reject lists options we never sent or is malformed.
    Malformed,
}

impl fmt::Display for NegotiationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RequiredOptionRefused { option, what } => {
                write!(f, "peer refused required option {option} ({what})")
            }
            Self::Malformed => f.write_str("malformed option list"),
        }
    }
}

/// Output buffers for [`OptionPolicy::check_request`].
#[derive(Debug, Default)]
pub struct Reply {
    /// Options for a Configure-Nak (the values we would accept), already encoded as TLVs.
    pub nak: Vec<u8>,
    /// Options for a Configure-Reject, copied verbatim from the request.
    pub rej: Vec<u8>,
}

impl Reply {
    /// Empty both lists, keeping their capacity.
    pub fn clear(&mut self) {
        self.nak.clear();
        self.rej.clear();
    }

    /// The verdict these lists imply.
    pub fn verdict(&self) -> RequestVerdict {
        if !self.rej.is_empty() {
            RequestVerdict::Reject
        } else if !self.nak.is_empty() {
            RequestVerdict::Nak
        } else {
            RequestVerdict::Ack
        }
    }
}

/// One protocol's option policy.
///
/// Call order for one negotiation: [`reset`](Self::reset) at This-Layer-Started / restart, then
/// any interleaving of `build_request`, `check_request`, `on_ack`, `on_nak`, `on_reject`. When
/// the automaton reaches Opened, the last request the peer acked and the last peer request we
/// acked are the negotiated parameters, which the policy exposes through its own getters.
pub trait OptionPolicy {
    /// Short protocol name for logs ("LCP", "IPCP", ...).
    fn name(&self) -> &'static str;

    /// Forget everything negotiated so far and go back to the configured preferences.
    fn reset(&mut self);

    /// Append the options of our next Configure-Request to `out` (TLVs only).
    fn build_request(&mut self, out: &mut Vec<u8>);

    /// Judge the peer's Configure-Request `options` (TLVs only), filling `reply`.
    ///
    /// `reply` arrives empty. When `nak_exhausted` is true (Max-Failure reached, RFC 1661 §4.6),
    /// the policy must not Nak: it rejects the options it would have nak'd instead.
    ///
    /// Returns `Err` if the option list itself is malformed (an option length < 2 or running
    /// past the end): the machinery then silently discards the packet (RFC 1661 §5).
    fn check_request(
        &mut self,
        options: &[u8],
        reply: &mut Reply,
        nak_exhausted: bool,
    ) -> Result<RequestVerdict, NegotiationFailure>;

    /// The peer acked our last request; `options` are the acked TLVs (the machinery has checked
    /// the identifier; the policy may check the contents and return `Err` for a bogus Ack, which
    /// is then discarded).
    fn on_ack(&mut self, options: &[u8]) -> Result<(), NegotiationFailure>;

    /// The peer nak'd our request; adjust the next one. `Err` closes the layer.
    fn on_nak(&mut self, options: &[u8]) -> Result<(), NegotiationFailure>;

    /// The peer rejected options of our request; stop asking for them. `Err` (a required option
    /// was rejected) closes the layer.
    fn on_reject(&mut self, options: &[u8]) -> Result<(), NegotiationFailure>;
}
