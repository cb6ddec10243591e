//! What every policy shares: walking an option list, answering option by option, and
//! remembering the last request sent (RFC 1661 §5.2–5.4).

use dialgate_wire::cp;

use crate::options::{NegotiationFailure, Reply};

/// One option of a list: its type, its data (after Type and Length) and its raw bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opt<'a> {
    pub kind: u8,
    pub data: &'a [u8],
    pub raw: &'a [u8],
}

/// The options of `list`, after checking the whole list is well formed (RFC 1661 §5: every
/// Length at least 2 and none running past the end). Nothing is judged before the whole list
/// is known to be sound, so a malformed list never leaves half-applied state behind.
pub(crate) fn options(list: &[u8]) -> Result<impl Iterator<Item = Opt<'_>>, NegotiationFailure> {
    cp::check_options(list).map_err(|_| NegotiationFailure::Malformed)?;
    Ok(cp::options(list).filter_map(Result::ok).map(|o| Opt {
        kind: o.kind(),
        data: o.value(),
        raw: o.as_bytes(),
    }))
}

/// Append one option to `out`. Every option the policies build has a value far below the
/// 253-octet limit, so the error cannot occur; if it ever did, the option is left out.
pub(crate) fn put(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    let _ = cp::push_option(out, kind, data);
}

/// Builds the Nak and Reject lists of one answer (RFC 1661 §5.3, §5.4, §4.6).
#[derive(Debug)]
pub(crate) struct Judge<'r> {
    reply: &'r mut Reply,
    nak_exhausted: bool,
}

impl<'r> Judge<'r> {
    pub fn new(reply: &'r mut Reply, nak_exhausted: bool) -> Self {
        Self {
            reply,
            nak_exhausted,
        }
    }

    /// Whether Max-Failure was reached: a would-be Nak is sent as a Reject.
    pub fn nak_exhausted(&self) -> bool {
        self.nak_exhausted
    }

    /// Reject `opt` verbatim.
    pub fn reject(&mut self, opt: &Opt<'_>) {
        self.reply.rej.extend_from_slice(opt.raw);
    }

    /// Nak `opt`, suggesting `data` instead; after Max-Failure, reject it (RFC 1661 §4.6).
    pub fn nak(&mut self, opt: &Opt<'_>, data: &[u8]) {
        if self.nak_exhausted {
            self.reject(opt);
        } else {
            put(&mut self.reply.nak, opt.kind, data);
        }
    }

    /// Append an option the peer did not send to the Nak, to prompt for it (RFC 1661 §5.3).
    /// Returns false (and appends nothing) after Max-Failure.
    pub fn nak_append(&mut self, kind: u8, data: &[u8]) -> bool {
        if self.nak_exhausted {
            return false;
        }
        put(&mut self.reply.nak, kind, data);
        true
    }

    /// Whether some option was rejected (a Reject hides any Nak, RFC 1661 §5.4).
    pub fn has_rejects(&self) -> bool {
        !self.reply.rej.is_empty()
    }

    /// Whether every option judged so far was acceptable.
    pub fn all_acked(&self) -> bool {
        self.reply.nak.is_empty() && self.reply.rej.is_empty()
    }
}

/// The last Configure-Request we built, to check the peer's answer against it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sent {
    bytes: Vec<u8>,
}

impl Sent {
    /// Remember `request` (the options just appended by `build_request`).
    pub fn record(&mut self, request: &[u8]) {
        self.bytes.clear();
        self.bytes.extend_from_slice(request);
    }

    /// Forget the last request.
    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    /// RFC 1661 §5.2: a Configure-Ack's options must match the request exactly.
    pub fn check_ack(&self, ack: &[u8]) -> Result<(), NegotiationFailure> {
        if ack == self.bytes.as_slice() {
            Ok(())
        } else {
            Err(NegotiationFailure::Malformed)
        }
    }

    /// Whether an option of type `kind` was in the last request.
    pub fn contains(&self, kind: u8) -> bool {
        options(&self.bytes).is_ok_and(|mut it| it.any(|o| o.kind == kind))
    }

    /// RFC 1661 §5.4: a Configure-Reject may only list options of the last request; returns
    /// the rejected options once that holds.
    pub fn check_reject<'a>(
        &self,
        rej: &'a [u8],
    ) -> Result<impl Iterator<Item = Opt<'a>>, NegotiationFailure> {
        for opt in options(rej)? {
            if !self.contains(opt.kind) {
                return Err(NegotiationFailure::Malformed);
            }
        }
        options(rej)
    }
}

/// Decode an IPv4 address from option data of exactly 4 octets.
pub(crate) fn ipv4(data: &[u8]) -> Option<core::net::Ipv4Addr> {
    let octets: [u8; 4] = data.try_into().ok()?;
    Some(core::net::Ipv4Addr::from(octets))
}
