//! NBFCP option policy (RFC 2097).
//!
//! The appliance is the LAN side of a NetBEUI dial-in: it records what the remote end system
//! tells it and asks for little itself.
//! - Name-Projection (§2.1): accepted; the projected names are recorded for the netbeui plugin
//!   to defend on the LAN. We project no names of our own.
//! - Peer-Information (§2.2): accepted and recorded.
//! - Multicast-Filtering (§2.3): requested with our configuration; the peer's is accepted
//!   unless its forwarding period is shorter than we allow, then Nak'd with our minimum.
//! - IEEE-MAC-Address-Required (§2.4): accepted; NBF frames then carry MAC headers.

use super::util::{Judge, Sent, options, put};
use crate::options::{NegotiationFailure, OptionPolicy, Reply, RequestVerdict};

/// RFC 2097 §2.1.
const NAME_PROJECTION: u8 = 1;
/// RFC 2097 §2.2.
const PEER_INFORMATION: u8 = 2;
/// RFC 2097 §2.3.
const MULTICAST_FILTERING: u8 = 3;
/// RFC 2097 §2.4.
const IEEE_MAC_ADDRESS_REQUIRED: u8 = 4;

/// A NetBIOS name projected by the peer (RFC 2097 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProjectedName {
    /// The 16-octet NetBIOS name.
    pub name: [u8; 16],
    /// Its type octet (1 = unique, 2 = group).
    pub kind: u8,
}

/// The peer's Peer-Information (RFC 2097 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInformation {
    /// Peer-Class.
    pub class: u16,
    /// Peer-Version-Major.
    pub version_major: u16,
    /// Peer-Version-Minor.
    pub version_minor: u16,
    /// Peer-Name (at most 32 octets).
    pub name: Vec<u8>,
}

/// Multicast-Filtering parameters (RFC 2097 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulticastFiltering {
    /// Multicast-Forwarding-Period, in seconds.
    pub period: u16,
    /// Multicast-Priority (non-zero: multicasts take priority over other traffic).
    pub priority: u8,
}

/// Configuration of [`NbfcpPolicy`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NbfcpConfig {
    /// Multicast-Filtering we request for frames sent to us; `None` sends none.
    pub multicast: Option<MulticastFiltering>,
    /// The shortest forwarding period we accept from the peer; shorter ones are Nak'd with it.
    pub min_peer_forwarding_period: u16,
}

/// What NBFCP agreed, once both directions are acked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NbfcpNegotiated {
    /// Names the peer projected onto the LAN.
    pub projected_names: Vec<ProjectedName>,
    /// The peer's Peer-Information.
    pub peer_information: Option<PeerInformation>,
    /// Multicast-Filtering the peer asked us to apply to what we send it.
    pub peer_multicast: Option<MulticastFiltering>,
    /// Multicast-Filtering the peer acked for what it sends us.
    pub local_multicast: Option<MulticastFiltering>,
    /// The peer asked for IEEE MAC headers on NBF frames (§2.4).
    pub mac_headers: bool,
}

/// One projected name in the option: 16 octets of name and 1 of type (RFC 2097 §2.1).
const NAME_LEN: usize = 17;

fn names(data: &[u8]) -> Option<Vec<ProjectedName>> {
    if data.is_empty() || !data.len().is_multiple_of(NAME_LEN) {
        return None;
    }
    data.chunks_exact(NAME_LEN)
        .map(|c| {
            let (name, kind) = c.split_at(16);
            Some(ProjectedName {
                name: name.try_into().ok()?,
                kind: *kind.first()?,
            })
        })
        .collect()
}

fn peer_information(data: &[u8]) -> Option<PeerInformation> {
    let (fixed, name) = data.split_at_checked(6)?;
    let [c0, c1, a0, a1, i0, i1] = fixed.try_into().ok()?;
    (name.len() <= 32).then(|| PeerInformation {
        class: u16::from_be_bytes([c0, c1]),
        version_major: u16::from_be_bytes([a0, a1]),
        version_minor: u16::from_be_bytes([i0, i1]),
        name: name.to_vec(),
    })
}

fn multicast(data: &[u8]) -> Option<MulticastFiltering> {
    let [p0, p1, priority] = data.try_into().ok()?;
    Some(MulticastFiltering {
        period: u16::from_be_bytes([p0, p1]),
        priority,
    })
}

fn multicast_bytes(m: MulticastFiltering) -> [u8; 3] {
    let [p0, p1] = m.period.to_be_bytes();
    [p0, p1, m.priority]
}

/// The NBFCP option policy (RFC 2097); see the [module docs](self).
#[derive(Debug)]
pub struct NbfcpPolicy {
    config: NbfcpConfig,
    multicast: Option<MulticastFiltering>,
    sent: Sent,
    ours_acked: bool,
    theirs_acked: Option<NbfcpNegotiated>,
}

impl NbfcpPolicy {
    /// A policy for `config`.
    pub fn new(config: NbfcpConfig) -> Self {
        let mut policy = Self {
            config,
            multicast: None,
            sent: Sent::default(),
            ours_acked: false,
            theirs_acked: None,
        };
        policy.reset();
        policy
    }

    /// What was agreed: `Some` once the peer acked our request and we acked theirs.
    pub fn negotiated(&self) -> Option<NbfcpNegotiated> {
        let theirs = self.theirs_acked.as_ref()?;
        self.ours_acked.then(|| NbfcpNegotiated {
            local_multicast: self.multicast,
            ..theirs.clone()
        })
    }
}

impl OptionPolicy for NbfcpPolicy {
    fn name(&self) -> &'static str {
        "NBFCP"
    }

    fn reset(&mut self) {
        self.multicast = self.config.multicast;
        self.sent.clear();
        self.ours_acked = false;
        self.theirs_acked = None;
    }

    fn build_request(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        if let Some(m) = self.multicast {
            put(out, MULTICAST_FILTERING, &multicast_bytes(m));
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
        let opts = options(list)?;
        self.theirs_acked = None;
        let mut judge = Judge::new(reply, nak_exhausted);
        let mut seen = NbfcpNegotiated::default();
        for opt in opts {
            match opt.kind {
                NAME_PROJECTION => match names(opt.data) {
                    // The list is bounded by the option's own length (at most 15 names).
                    Some(names) => seen.projected_names.extend(names),
                    None => judge.reject(&opt),
                },
                PEER_INFORMATION => match peer_information(opt.data) {
                    Some(info) => seen.peer_information = Some(info),
                    None => judge.reject(&opt),
                },
                MULTICAST_FILTERING => match multicast(opt.data) {
                    Some(m) if m.period >= self.config.min_peer_forwarding_period => {
                        seen.peer_multicast = Some(m);
                    }
                    Some(m) => {
                        let ours = MulticastFiltering {
                            period: self.config.min_peer_forwarding_period,
                            ..m
                        };
                        judge.nak(&opt, &multicast_bytes(ours));
                    }
                    None => judge.reject(&opt),
                },
                IEEE_MAC_ADDRESS_REQUIRED if opt.data.is_empty() => seen.mac_headers = true,
                _ => judge.reject(&opt),
            }
        }
        if judge.all_acked() {
            self.theirs_acked = Some(seen);
        }
        Ok(reply.verdict())
    }

    fn on_ack(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        self.sent.check_ack(list)?;
        self.ours_acked = true;
        Ok(())
    }

    fn on_nak(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        for opt in options(list)? {
            if opt.kind == MULTICAST_FILTERING && self.multicast.is_some() {
                self.multicast = Some(multicast(opt.data).ok_or(NegotiationFailure::Malformed)?);
            }
        }
        Ok(())
    }

    fn on_reject(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        for opt in self.sent.check_reject(list)? {
            if opt.kind == MULTICAST_FILTERING {
                self.multicast = None;
            }
        }
        Ok(())
    }
}
