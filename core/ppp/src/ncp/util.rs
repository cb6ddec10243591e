//! What every policy shares: walking an option list, answering option by option, and
//! remembering the last request sent (RFC 1661 §5.2–5.4).

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
    for opt in scaffold::Options::new(list) {
        opt.map_err(|_| NegotiationFailure::Malformed)?;
    }
    Ok(scaffold::Options::new(list)
        .filter_map(Result::ok)
        .map(|o| Opt {
            kind: o.kind(),
            data: o.data(),
            raw: o.raw(),
        }))
}

/// Append one option to `out`.
pub(crate) fn put(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    scaffold::emit_option(out, kind, data);
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

/// TEMPORARY development scaffold until dialgate-wire's `cp` options iterator lands on main.
/// Never landed: replaced by `dialgate_wire::cp` before merging.
mod scaffold {
    #[derive(Debug, Clone, Copy)]
    pub struct RawOpt<'a> {
        raw: &'a [u8],
    }
    impl<'a> RawOpt<'a> {
        pub fn kind(&self) -> u8 {
            self.raw.first().copied().unwrap_or(0)
        }
        pub fn data(&self) -> &'a [u8] {
            self.raw.get(2..).unwrap_or(&[])
        }
        pub fn raw(&self) -> &'a [u8] {
            self.raw
        }
    }
    #[derive(Debug)]
    pub struct Options<'a> {
        rest: &'a [u8],
    }
    impl<'a> Options<'a> {
        pub fn new(rest: &'a [u8]) -> Self {
            Self { rest }
        }
    }
    impl<'a> Iterator for Options<'a> {
        type Item = Result<RawOpt<'a>, ()>;
        fn next(&mut self) -> Option<Self::Item> {
            if self.rest.is_empty() {
                return None;
            }
            let len = match self.rest.get(1) {
                Some(&l) if l >= 2 && usize::from(l) <= self.rest.len() => usize::from(l),
                _ => {
                    self.rest = &[];
                    return Some(Err(()));
                }
            };
            let (raw, rest) = self.rest.split_at(len);
            self.rest = rest;
            Some(Ok(RawOpt { raw }))
        }
    }
    pub fn emit_option(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
        out.push(kind);
        out.push(u8::try_from(data.len() + 2).unwrap_or(u8::MAX));
        out.extend_from_slice(data);
    }
}
