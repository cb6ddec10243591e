//! NBFCP option policy (RFC 2097).
//!
//! The appliance is the LAN side of a NetBEUI dial-in: it records what the remote end system
//! tells it and asks for little itself.
//! - Name-Projection (§3.1): accepted; the projected names are recorded for the netbeui plugin
//!   to defend on the LAN. We project no names of our own.
//! - Peer-Information (§3.2): accepted and recorded.
//! - Multicast-Filtering (§3.3): requested with our configuration; the peer's is accepted
//!   unless its forwarding period is shorter than we allow, then Nak'd with our minimum.
//! - IEEE-MAC-Address-Required (§3.4): accepted; NBF frames then carry MAC headers.

use dialgate_wire::nbfcp::{NbfcpOption, kind};

use super::util::{Judge, Sent, push, typed};
use crate::options::{NegotiationFailure, OptionPolicy, Reply, RequestVerdict};

/// A NetBIOS name projected by the peer (RFC 2097 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProjectedName {
    /// The 16-octet NetBIOS name.
    pub name: [u8; 16],
    /// Its type octet (1 = unique, 2 = group).
    pub kind: u8,
}

/// The peer's Peer-Information (RFC 2097 §3.2).
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

/// Multicast-Filtering parameters (RFC 2097 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulticastFiltering {
    /// Seconds between multicast forwards; 0xFFFF means never forward.
    pub period: u16,
    /// 0: forward normally; 1: forward at low priority.
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
    /// The peer asked for IEEE MAC headers on NBF frames (§3.4).
    pub mac_headers: bool,
}

fn multicast_option(m: MulticastFiltering) -> NbfcpOption<'static> {
    NbfcpOption::MulticastFiltering {
        period: m.period,
        priority: m.priority,
    }
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
            push(out, &multicast_option(m));
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
        let opts = typed::<NbfcpOption<'_>>(list)?;
        self.theirs_acked = None;
        let mut judge = Judge::new(reply, nak_exhausted);
        let mut seen = NbfcpNegotiated::default();
        for (raw, option) in opts {
            match option {
                // Bounded by the option's own length: at most 14 names per option, and a
                // request is at most one packet.
                Ok(NbfcpOption::NameProjection(names)) => {
                    seen.projected_names.extend(
                        names
                            .iter()
                            .map(|(name, kind)| ProjectedName { name: *name, kind }),
                    );
                }
                Ok(NbfcpOption::PeerInformation {
                    class,
                    version_major,
                    version_minor,
                    name,
                }) => {
                    seen.peer_information = Some(PeerInformation {
                        class,
                        version_major,
                        version_minor,
                        name: name.to_vec(),
                    });
                }
                Ok(NbfcpOption::MulticastFiltering { period, priority }) => {
                    let asked = MulticastFiltering { period, priority };
                    let min = self.config.min_peer_forwarding_period;
                    if period >= min {
                        seen.peer_multicast = Some(asked);
                    } else {
                        let instead = MulticastFiltering {
                            period: min,
                            ..asked
                        };
                        judge.nak(&raw, &multicast_option(instead));
                    }
                }
                Ok(NbfcpOption::IeeeMacAddressRequired) => seen.mac_headers = true,
                // Malformed values and unknown options.
                _ => judge.reject(&raw),
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
        for (raw, option) in typed::<NbfcpOption<'_>>(list)? {
            if raw.kind() != kind::MULTICAST_FILTERING || self.multicast.is_none() {
                continue;
            }
            let Ok(NbfcpOption::MulticastFiltering { period, priority }) = option else {
                return Err(NegotiationFailure::Malformed);
            };
            self.multicast = Some(MulticastFiltering { period, priority });
        }
        Ok(())
    }

    fn on_reject(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        for rejected in self.sent.check_reject(list)? {
            if rejected == kind::MULTICAST_FILTERING {
                self.multicast = None;
            }
        }
        Ok(())
    }
}
