//! What every policy shares: walking an option list with dialgate-wire's parsers, answering
//! option by option, and remembering the last request sent (RFC 1661 §5.2–5.4).

use dialgate_wire::cp::{self, OptionRepr, RawOption};

use crate::options::{NegotiationFailure, Reply};

/// The options of `list`, after checking the whole list is well formed (RFC 1661 §5: every
/// Length at least 2 and none running past the end). Nothing is judged before the whole list
/// is known to be sound, so a malformed list never leaves half-applied state behind.
pub(crate) fn options(
    list: &[u8],
) -> Result<impl Iterator<Item = RawOption<'_>>, NegotiationFailure> {
    cp::check_options(list).map_err(|_| NegotiationFailure::Malformed)?;
    Ok(cp::options(list).filter_map(Result::ok))
}

/// The typed options of a well-formed `list`, each with its raw bytes; `Err` items are options
/// of a known type whose value is malformed (to be rejected, RFC 1661 §5.4).
pub(crate) fn typed<'a, O: OptionRepr<'a>>(
    list: &'a [u8],
) -> Result<
    impl Iterator<Item = (RawOption<'a>, Result<O, dialgate_wire::Error>)>,
    NegotiationFailure,
> {
    Ok(options(list)?.map(|raw| (raw, O::parse(raw))))
}

/// Append `option` to `out`. Every option the policies build is far below the 253-octet
/// limit of a TLV, so the emitter cannot fail; if it ever did, the option is left out.
pub(crate) fn push<'o>(out: &mut Vec<u8>, option: &impl OptionRepr<'o>) {
    let _ = option.push(out);
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

    /// Reject `raw` verbatim.
    pub fn reject(&mut self, raw: &RawOption<'_>) {
        self.reply.rej.extend_from_slice(raw.as_bytes());
    }

    /// Nak `raw`, suggesting `instead`; after Max-Failure, reject it (RFC 1661 §4.6).
    pub fn nak<'o>(&mut self, raw: &RawOption<'_>, instead: &impl OptionRepr<'o>) {
        if self.nak_exhausted {
            self.reject(raw);
        } else {
            push(&mut self.reply.nak, instead);
        }
    }

    /// Append an option the peer did not send to the Nak, to prompt for it (RFC 1661 §5.3).
    /// Returns false (and appends nothing) after Max-Failure.
    pub fn nak_append<'o>(&mut self, option: &impl OptionRepr<'o>) -> bool {
        if self.nak_exhausted {
            return false;
        }
        push(&mut self.reply.nak, option);
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
        options(&self.bytes).is_ok_and(|mut it| it.any(|o| o.kind() == kind))
    }

    /// RFC 1661 §5.4: a Configure-Reject may only list options of the last request; returns
    /// the rejected options' types once that holds.
    pub fn check_reject<'a>(
        &self,
        rej: &'a [u8],
    ) -> Result<impl Iterator<Item = u8> + 'a, NegotiationFailure> {
        if options(rej)?.any(|o| !self.contains(o.kind())) {
            return Err(NegotiationFailure::Malformed);
        }
        Ok(options(rej)?.map(|o| o.kind()))
    }
}
