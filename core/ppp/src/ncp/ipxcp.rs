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

use dialgate_wire::ipxcp::{IpxcpOption, MAX_ROUTER_NAME, kind, routing};

use super::util::{Judge, Sent, push, typed};
use crate::options::{NegotiationFailure, OptionPolicy, Reply, RequestVerdict};

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
            Self::None => routing::NONE,
            Self::RipSap => routing::RIP_SAP,
            Self::Nlsp => routing::NLSP,
        }
    }

    fn from_code(code: u16) -> Option<Self> {
        match code {
            routing::NONE => Some(Self::None),
            routing::RIP_SAP => Some(Self::RipSap),
            routing::NLSP => Some(Self::Nlsp),
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
    /// Our router name (§3.5), 1 to 47 octets; other lengths are not sent.
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
            push(out, &IpxcpOption::IpxNetworkNumber(self.network));
        }
        if self.send_node {
            push(out, &IpxcpOption::IpxNodeNumber(self.local_node));
        }
        if let Some(protocol) = self.routing {
            push(out, &IpxcpOption::IpxRoutingProtocol(protocol.code()));
        }
        if let Some(name) = self
            .config
            .router_name
            .as_deref()
            .filter(|_| self.send_router_name)
        {
            push(out, &IpxcpOption::IpxRouterName(name));
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
        let opts = typed::<IpxcpOption<'_>>(list)?;
        self.theirs_acked = None;
        let mut judge = Judge::new(reply, nak_exhausted);
        let mut seen = PeerRequest::default();
        let mut adopt_network = None;
        for (raw, option) in opts {
            match option {
                Ok(IpxcpOption::IpxNetworkNumber(theirs)) => {
                    // §3.1: the higher number wins; zero from the peer asks for ours.
                    if theirs >= self.network {
                        adopt_network = Some(theirs);
                    } else {
                        judge.nak(&raw, &IpxcpOption::IpxNetworkNumber(self.network));
                    }
                }
                Ok(IpxcpOption::IpxNodeNumber(node)) => {
                    let assign = if self.config.assign_peer_node {
                        node != self.config.peer_node
                    } else {
                        node == [0; 6] || node == self.local_node
                    };
                    if assign {
                        judge.nak(&raw, &IpxcpOption::IpxNodeNumber(self.config.peer_node));
                    } else {
                        seen.node = Some(node);
                    }
                }
                Ok(IpxcpOption::IpxRoutingProtocol(code)) => {
                    match IpxRoutingProtocol::from_code(code)
                        .filter(|p| self.routing_acceptable(*p))
                    {
                        Some(p) if !seen.routing.contains(&p) => seen.routing.push(p),
                        Some(_) => {}
                        None => judge.reject(&raw),
                    }
                }
                Ok(IpxcpOption::IpxRouterName(name)) => seen.router_name = Some(name.to_vec()),
                Ok(IpxcpOption::IpxConfigurationComplete) => seen.configuration_complete = true,
                // Compression-Protocol (§3.3), malformed values, unknown options.
                _ => judge.reject(&raw),
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
        for (raw, option) in typed::<IpxcpOption<'_>>(list)? {
            let option = match option {
                Ok(option) => option,
                Err(_) if self.sent.contains(raw.kind()) => {
                    return Err(NegotiationFailure::Malformed);
                }
                Err(_) => continue,
            };
            match option {
                // §3.1: adopt a higher number; a lower one is not a valid suggestion.
                IpxcpOption::IpxNetworkNumber(suggested)
                    if self.send_network && suggested > self.network =>
                {
                    self.network = suggested;
                }
                IpxcpOption::IpxNodeNumber(node) if self.send_node && node != [0; 6] => {
                    self.local_node = node;
                }
                IpxcpOption::IpxRoutingProtocol(code) if self.routing.is_some() => {
                    self.routing =
                        IpxRoutingProtocol::from_code(code).filter(|p| self.routing_acceptable(*p));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn on_reject(&mut self, list: &[u8]) -> Result<(), NegotiationFailure> {
        for rejected in self.sent.check_reject(list)? {
            match rejected {
                kind::NETWORK_NUMBER => self.send_network = false,
                kind::NODE_NUMBER => self.send_node = false,
                kind::ROUTING_PROTOCOL => self.routing = None,
                kind::ROUTER_NAME => self.send_router_name = false,
                _ => {}
            }
        }
        Ok(())
    }
}
