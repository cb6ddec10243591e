//! IPV6CP option policy (RFC 5072).
//!
//! Only the Interface-Identifier option (RFC 5072 §4.1) is negotiated: each end proposes a
//! random non-zero 64-bit identifier for its own side and checks the peer's for uniqueness.
//! IPv6-Compression-Protocol (§4.2) is rejected. The agreed identifiers are exposed so the
//! engine can form the link-local addresses `fe80::<id>` (§5).

use core::fmt;

use dialgate_wire::ipv6cp::{Ipv6cpOption, kind};

use super::util::{Judge, Sent, push, typed};
use crate::options::{NegotiationFailure, OptionPolicy, Reply, RequestVerdict};

fn interface_identifier(id: u64) -> Ipv6cpOption<'static> {
    Ipv6cpOption::InterfaceIdentifier(id.to_be_bytes())
}

/// Source of random 64-bit values for tentative interface identifiers (RFC 5072 §4.1 and its
/// appendix A: a random number is an acceptable source). Injected so the policy stays
/// deterministic under test; production passes a CSPRNG-backed closure.
pub type InterfaceIdSource = Box<dyn FnMut() -> u64 + Send>;

/// Configuration of [`Ipv6cpPolicy`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ipv6cpConfig {
    /// A fixed identifier for our end; `None` (the default) draws a random one.
    pub interface_id: Option<u64>,
}

/// What IPV6CP agreed, once both directions are acked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6cpNegotiated {
    /// Our interface identifier (our link-local address is `fe80::/64` + this).
    pub local: u64,
    /// The peer's interface identifier, if it negotiated one.
    pub peer: Option<u64>,
}

/// The IPV6CP option policy (RFC 5072); see the [module docs](self).
pub struct Ipv6cpPolicy {
    config: Ipv6cpConfig,
    random: InterfaceIdSource,
    /// The identifier chosen at construction, restored by `reset`.
    initial: u64,
    /// Our tentative identifier.
    local: u64,
    /// Whether we still send Interface-Identifier (not once the peer rejected it).
    send_id: bool,
    /// The value we last suggested to the peer in a Nak (RFC 5072 §4.1).
    last_suggested: Option<u64>,
    sent: Sent,
    ours_acked: bool,
    /// The peer's identifier as we acked it (`Some(None)`: acked a request without one).
    theirs_acked: Option<Option<u64>>,
}

impl fmt::Debug for Ipv6cpPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ipv6cpPolicy")
            .field("config", &self.config)
            .field("local", &format_args!("{:016x}", self.local))
            .field("send_id", &self.send_id)
            .field("ours_acked", &self.ours_acked)
            .field("theirs_acked", &self.theirs_acked)
            .finish_non_exhaustive()
    }
}

impl Ipv6cpPolicy {
    /// A policy drawing its tentative identifiers from `random`.
    pub fn new(config: Ipv6cpConfig, random: InterfaceIdSource) -> Self {
        let mut policy = Self {
            config,
            random,
            initial: 0,
            local: 0,
            send_id: true,
            last_suggested: None,
            sent: Sent::default(),
            ours_acked: false,
            theirs_acked: None,
        };
        policy.initial = match config.interface_id {
            Some(id) if id != 0 => id,
            _ => policy.fresh(&[]),
        };
        policy.reset();
        policy
    }

    /// What was agreed: `Some` once the peer acked our request and we acked theirs.
    pub fn negotiated(&self) -> Option<Ipv6cpNegotiated> {
        let peer = self.theirs_acked?;
        self.ours_acked.then_some(Ipv6cpNegotiated {
            local: self.local,
            peer,
        })
    }

    /// Our current (tentative until acked) interface identifier.
    pub fn local_id(&self) -> u64 {
        self.local
    }

    /// A random identifier that is non-zero and differs from each of `avoid` (RFC 5072 §4.1).
    /// A broken source cannot stall negotiation: after a few draws a small constant that
    /// avoids the same values is used.
    fn fresh(&mut self, avoid: &[u64]) -> u64 {
        let ok = |id: u64| id != 0 && !avoid.contains(&id);
        for _ in 0..16 {
            let id = (self.random)();
            if ok(id) {
                return id;
            }
        }
        // `avoid` holds at most three values, so one of 1..=4 is free.
        (1..=4).find(|id| ok(*id)).unwrap_or(5)
    }
}

impl OptionPolicy for Ipv6cpPolicy {
    fn name(&self) -> &'static str {
        "IPV6CP"
    }

    fn reset(&mut self) {
        self.local = self.initial;
        self.send_id = true;
        self.last_suggested = None;
        self.sent.clear();
        self.ours_acked = false;
        self.theirs_acked = None;
    }

    fn build_request(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        if self.send_id {
            push(out, &interface_identifier(self.local));
        }
        self.sent.record(out.get(start..).unwrap_or_default());
        self.ours_acked = false;
    }

    fn check_request(
        &mut self,
        list: &[u8],
        reply: &mut Reply,
        nak_exhausted: bool,
    ) -> Result<RequestVerdict, NegotiationFailure> {
        let opts = typed::<Ipv6cpOption<'_>>(list)?;
        self.theirs_acked = None;
        let mut judge = Judge::new(reply, nak_exhausted);
        let mut peer = None;
        for (raw, option) in opts {
            match option {
                Ok(Ipv6cpOption::InterfaceIdentifier(bytes)) => {
                    let id = u64::from_be_bytes(bytes);
                    if id == 0 || id == self.local {
                        // RFC 5072 §4.1: a zero identifier asks us for one, an identifier
                        // equal to ours collides; either way Nak with a new non-zero suggestion
                        // different from ours (and from the colliding value).
                        let suggestion = self.fresh(&[self.local, id]);
                        judge.nak(&raw, &interface_identifier(suggestion));
                        if !judge.nak_exhausted() {
                            self.last_suggested = Some(suggestion);
                        }
                    } else {
                        peer = Some(id);
                    }
                }
                // IPv6-Compression-Protocol (§4.2), malformed values and unknown options.
                _ => judge.reject(&raw),
            }
        }
        if judge.all_acked() {
            self.theirs_acked = Some(peer);
        }
        Ok(reply.verdict())
    }

    fn on_ack(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        self.sent.check_ack(list)?;
        self.ours_acked = true;
        Ok(())
    }

    fn on_nak(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        for (raw, option) in typed::<Ipv6cpOption<'_>>(list)? {
            if raw.kind() != kind::INTERFACE_IDENTIFIER || !self.send_id {
                continue;
            }
            let Ok(Ipv6cpOption::InterfaceIdentifier(bytes)) = option else {
                return Err(NegotiationFailure::Malformed);
            };
            let suggested = u64::from_be_bytes(bytes);
            let peer = self.theirs_acked.flatten();
            // RFC 5072 §4.1: a suggestion equal to the one we last sent the peer means both
            // ends picked the same value: choose a new identifier. Otherwise use the suggestion
            // (a zero one, or one equal to the peer's, is no suggestion at all).
            self.local = if suggested == 0
                || Some(suggested) == self.last_suggested
                || Some(suggested) == peer
            {
                let avoid = [suggested, self.local, peer.unwrap_or(0)];
                self.fresh(&avoid)
            } else {
                suggested
            };
        }
        Ok(())
    }

    fn on_reject(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        for rejected in self.sent.check_reject(list)? {
            if rejected == kind::INTERFACE_IDENTIFIER {
                // §4.1: the peer does not negotiate identifiers; keep ours, stop sending it.
                self.send_id = false;
            }
        }
        Ok(())
    }
}
