//! IPXCP option policy (RFC 1552 §3).
//!
//! - IPX-Network-Number (§3.1): ours is configured (0 lets the other end pick); when the two
//!   ends differ, the higher number wins: a lower or zero number from the peer is Nak'd with
//!   ours, a higher one is Acked and adopted.
//! - IPX-Node-Number (§3.2): ours is configured; the peer's is accepted unless it is zero
//!   (a request to assign one) or collides with ours, in which case it is Nak'd with the
//!   configured peer node (or always, when `assign_peer_node` is set).
//! - IPX-Routing-Protocol (§3.4): none (0) and RIP/SAP (2) are accepted, NLSP (4) only when
//!   configured, anything else rejected.
//! - IPX-Router-Name (§3.5) and IPX-Configuration-Complete (§3.6) are accepted and recorded.
//! - IPX-Compression-Protocol (§3.3, Telebit) is rejected.

use super::util::{Judge, Sent, options, put};
use crate::options::{NegotiationFailure, OptionPolicy, Reply, RequestVerdict};

/// RFC 1552 §3.1.
const NETWORK_NUMBER: u8 = 1;
/// RFC 1552 §3.2.
const NODE_NUMBER: u8 = 2;
/// RFC 1552 §3.4.
const ROUTING_PROTOCOL: u8 = 4;
/// RFC 1552 §3.5.
const ROUTER_NAME: u8 = 5;
/// RFC 1552 §3.6.
const CONFIGURATION_COMPLETE: u8 = 6;

/// Longest IPX-Router-Name we send or record (RFC 1552 §3.5 allows 1 to 48 octets).
const MAX_ROUTER_NAME: usize = 48;

/// An IPX routing protocol (RFC 1552 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpxRoutingProtocol {
    /// 0: no routing protocol.
    None,
    /// 2: Novell RIP/SAP.
    RipSap,
    /// 4: Novell NLSP.
    Nlsp,
}

impl IpxRoutingProtocol {
    fn code(self) -> u16 {
        match self {
            Self::None => 0,
            Self::RipSap => 2,
            Self::Nlsp => 4,
        }
    }

    fn from_code(code: u16) -> Option<Self> {
        match code {
            0 => Some(Self::None),
            2 => Some(Self::RipSap),
            4 => Some(Self::Nlsp),
            _ => None,
        }
    }
}

/// Configuration of [`IpxcpPolicy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpxcpConfig {
    /// Our IPX network number for the link; 0 lets the peer pick (§3.1).
    pub network: u32,
    /// Our node number on the link (§3.2).
    pub local_node: [u8; 6],
    /// The node number we give the peer when it asks (zero) or collides with ours (§3.2).
    pub peer_node: [u8; 6],
    /// Nak any peer node number other than `peer_node` (the server assigns nodes).
    pub assign_peer_node: bool,
    /// The routing protocol we request (§3.4); `None` sends no Routing-Protocol option.
    pub routing_protocol: Option<IpxRoutingProtocol>,
    /// Accept NLSP from the peer (§3.4); otherwise NLSP is rejected.
    pub allow_nlsp: bool,
    /// Our router name (§3.5), at most 48 octets; longer names are not sent.
    pub router_name: Option<Vec<u8>>,
}

/// What IPXCP agreed, once both directions are acked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpxcpNegotiated {
    /// The link's network number (0: none agreed, to be learned by other means).
    pub network: u32,
    /// Our node number.
    pub local_node: [u8; 6],
    /// The peer's node number, if it sent one.
    pub peer_node: Option<[u8; 6]>,
    /// The routing protocols the peer asked for (§3.4), in order, without duplicates.
    pub peer_routing: Vec<IpxRoutingProtocol>,
    /// The peer's router name (§3.5).
    pub peer_router_name: Option<Vec<u8>>,
    /// The peer sent Configuration-Complete (§3.6).
    pub peer_configuration_complete: bool,
}

#[derive(Debug, Clone, Default)]
struct PeerRequest {
    node: Option<[u8; 6]>,
    routing: Vec<IpxRoutingProtocol>,
    router_name: Option<Vec<u8>>,
    configuration_complete: bool,
}

/// The IPXCP option policy (RFC 1552); see the [module docs](self).
#[derive(Debug)]
pub struct IpxcpPolicy {
    config: IpxcpConfig,
    /// Current network number (ours, or the higher one adopted from the peer).
    network: u32,
    local_node: [u8; 6],
    send_network: bool,
    send_node: bool,
    routing: Option<IpxRoutingProtocol>,
    send_router_name: bool,
    sent: Sent,
    ours_acked: bool,
    theirs_acked: Option<PeerRequest>,
}

impl IpxcpPolicy {
    /// A policy for `config`.
    pub fn new(config: IpxcpConfig) -> Self {
        let mut policy = Self {
            network: config.network,
            local_node: config.local_node,
            config,
            send_network: true,
            send_node: true,
            routing: None,
            send_router_name: false,
            sent: Sent::default(),
            ours_acked: false,
            theirs_acked: None,
        };
        policy.reset();
        policy
    }

    /// What was agreed: `Some` once the peer acked our request and we acked theirs.
    pub fn negotiated(&self) -> Option<IpxcpNegotiated> {
        let theirs = self.theirs_acked.as_ref()?;
        self.ours_acked.then(|| IpxcpNegotiated {
            network: self.network,
            local_node: self.local_node,
            peer_node: theirs.node,
            peer_routing: theirs.routing.clone(),
            peer_router_name: theirs.router_name.clone(),
            peer_configuration_complete: theirs.configuration_complete,
        })
    }

    fn routing_acceptable(&self, protocol: IpxRoutingProtocol) -> bool {
        protocol != IpxRoutingProtocol::Nlsp || self.config.allow_nlsp
    }
}

impl OptionPolicy for IpxcpPolicy {
    fn name(&self) -> &'static str {
        "IPXCP"
    }

    fn reset(&mut self) {
        self.network = self.config.network;
        self.local_node = self.config.local_node;
        self.send_network = true;
        self.send_node = true;
        self.routing = self.config.routing_protocol;
        self.send_router_name = self
            .config
            .router_name
            .as_ref()
            .is_some_and(|n| (1..=MAX_ROUTER_NAME).contains(&n.len()));
        self.sent.clear();
        self.ours_acked = false;
        self.theirs_acked = None;
    }

    fn build_request(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        if self.send_network {
            put(out, NETWORK_NUMBER, &self.network.to_be_bytes());
        }
        if self.send_node {
            put(out, NODE_NUMBER, &self.local_node);
        }
        if let Some(protocol) = self.routing {
            put(out, ROUTING_PROTOCOL, &protocol.code().to_be_bytes());
        }
        if let Some(name) = self
            .config
            .router_name
            .as_deref()
            .filter(|_| self.send_router_name)
        {
            put(out, ROUTER_NAME, name);
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
        let mut seen = PeerRequest::default();
        let mut adopt_network = None;
        for opt in opts {
            match opt.kind {
                NETWORK_NUMBER => {
                    let Ok(bytes) = <[u8; 4]>::try_from(opt.data) else {
                        judge.reject(&opt);
                        continue;
                    };
                    let theirs = u32::from_be_bytes(bytes);
                    // §3.1: the higher number wins; zero from the peer asks for ours.
                    if theirs >= self.network {
                        adopt_network = Some(theirs);
                    } else {
                        judge.nak(&opt, &self.network.to_be_bytes());
                    }
                }
                NODE_NUMBER => {
                    let Ok(node) = <[u8; 6]>::try_from(opt.data) else {
                        judge.reject(&opt);
                        continue;
                    };
                    let assign = if self.config.assign_peer_node {
                        node != self.config.peer_node
                    } else {
                        node == [0; 6] || node == self.local_node
                    };
                    if assign {
                        judge.nak(&opt, &self.config.peer_node);
                    } else {
                        seen.node = Some(node);
                    }
                }
                ROUTING_PROTOCOL => {
                    let protocol = <[u8; 2]>::try_from(opt.data)
                        .ok()
                        .and_then(|b| IpxRoutingProtocol::from_code(u16::from_be_bytes(b)))
                        .filter(|p| self.routing_acceptable(*p));
                    match protocol {
                        Some(p) if !seen.routing.contains(&p) => seen.routing.push(p),
                        Some(_) => {}
                        None => judge.reject(&opt),
                    }
                }
                ROUTER_NAME if (1..=MAX_ROUTER_NAME).contains(&opt.data.len()) => {
                    seen.router_name = Some(opt.data.to_vec());
                }
                CONFIGURATION_COMPLETE if opt.data.is_empty() => {
                    seen.configuration_complete = true;
                }
                // Compression-Protocol (§3.3), malformed lengths, unknown options.
                _ => judge.reject(&opt),
            }
        }
        if judge.all_acked() {
            if let Some(network) = adopt_network {
                self.network = network;
            }
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
            match opt.kind {
                NETWORK_NUMBER if self.send_network => {
                    let bytes =
                        <[u8; 4]>::try_from(opt.data).map_err(|_| NegotiationFailure::Malformed)?;
                    // §3.1: adopt a higher number; a lower one is not a valid suggestion.
                    let suggested = u32::from_be_bytes(bytes);
                    if suggested > self.network {
                        self.network = suggested;
                    }
                }
                NODE_NUMBER if self.send_node => {
                    let node =
                        <[u8; 6]>::try_from(opt.data).map_err(|_| NegotiationFailure::Malformed)?;
                    if node != [0; 6] {
                        self.local_node = node;
                    }
                }
                ROUTING_PROTOCOL if self.routing.is_some() => {
                    let bytes =
                        <[u8; 2]>::try_from(opt.data).map_err(|_| NegotiationFailure::Malformed)?;
                    match IpxRoutingProtocol::from_code(u16::from_be_bytes(bytes)) {
                        Some(p) if self.routing_acceptable(p) => self.routing = Some(p),
                        _ => self.routing = None,
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn on_reject(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        for opt in self.sent.check_reject(list)? {
            match opt.kind {
                NETWORK_NUMBER => self.send_network = false,
                NODE_NUMBER => self.send_node = false,
                ROUTING_PROTOCOL => self.routing = None,
                ROUTER_NAME => self.send_router_name = false,
                _ => {}
            }
        }
        Ok(())
    }
}
