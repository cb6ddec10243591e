//! LAN-protocol plugins (IPX, NetBEUI): the PPP protocols they register, the NCP option
//! policy the core negotiates for them on every session that starts afterwards, and the
//! messages that carry their sessions' events and datagrams between the link actors (which
//! own the sessions) and the LAN-protocol plugin's actor.
//!
//! A LAN-protocol plugin calls `register_protocol(data, ncp, options)` (0x002B IPX with
//! 0x802B IPXCP, or 0x003F NBF with 0x803F NBFCP). From then on, new sessions run that NCP;
//! when it opens on a session the plugin gets `on_session_up`, each datagram of the data
//! protocol arrives as `on_session_frame`, and `send_session_frame` sends one on the
//! session. When the NCP closes or the session ends, `on_session_down` follows. A plugin
//! instance that registers again (after a restart) is told about the sessions whose NCP is
//! already open.
//!
//! # NCP options (`ncp_options`, TOML)
//!
//! IPXCP (RFC 1552 §3):
//!
//! ```toml
//! network = 0                        # our IPX network number; 0 lets the peer pick (§3.1)
//! local_node = "02:00:00:00:00:01"   # our node number (§3.2)
//! peer_node = "02:00:00:00:00:02"    # given to a peer that asks for one or collides (§3.2)
//! assign_peer_node = false           # Nak any other peer node number
//! routing_protocol = "rip-sap"       # "none", "rip-sap" or "nlsp"; absent: not requested
//! allow_nlsp = false                 # accept NLSP from the peer (§3.4)
//! router_name = "dialgate"           # 1 to 47 octets (§3.5); absent: not sent
//! ```
//!
//! NBFCP (RFC 2097 §3):
//!
//! ```toml
//! multicast_period = 60              # Multicast-Filtering we request (§3.3); absent: none
//! multicast_priority = 0             # 0 normal, 1 low
//! min_peer_forwarding_period = 0     # shorter periods from the peer are Nak'd with this
//! ```

use std::fmt::Write as _;

use dialgate_plugin_host::abi::{HostError, LinkId, PppProtocol};
use dialgate_ppp::NetworkParams;
use dialgate_ppp::ncp::{
    IpxRoutingProtocol, IpxcpConfig, MulticastFiltering, NbfcpConfig, NbfcpNegotiated,
};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::actor::ActorMsg;

/// An NCP option policy a LAN-protocol plugin asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LanNcp {
    /// IPXCP for IPX.
    Ipxcp(IpxcpConfig),
    /// NBFCP for NetBIOS Frames.
    Nbfcp(NbfcpConfig),
}

/// One registered protocol.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The plugin instance (its name in logs).
    pub instance: String,
    /// The data protocol (0x002B, 0x003F).
    pub data: PppProtocol,
    /// Its NCP (0x802B, 0x803F).
    pub ncp: PppProtocol,
    /// What the core negotiates.
    pub policy: LanNcp,
    /// The plugin instance's actor.
    pub tx: mpsc::Sender<ActorMsg>,
}

/// The protocols LAN-protocol plugins registered (at most one plugin per protocol).
#[derive(Debug, Default)]
pub struct LanRegistry {
    entries: Vec<Registration>,
}

impl LanRegistry {
    /// Registers `reg`; a protocol another instance holds is refused.
    pub fn register(&mut self, reg: Registration) -> Result<(), HostError> {
        if let Some(other) = self
            .entries
            .iter()
            .find(|e| e.data == reg.data && !e.tx.same_channel(&reg.tx))
        {
            return Err(HostError::Denied {
                message: format!(
                    "protocol {} is registered by plugin instance {}",
                    reg.data, other.instance
                )
                .into(),
            });
        }
        self.entries.retain(|e| e.data != reg.data);
        self.entries.push(reg);
        Ok(())
    }

    /// Forgets every protocol the instance behind `tx` registered.
    pub fn unregister(&mut self, tx: &mpsc::Sender<ActorMsg>) -> Vec<PppProtocol> {
        let gone = self
            .entries
            .iter()
            .filter(|e| e.tx.same_channel(tx))
            .map(|e| e.data)
            .collect();
        self.entries.retain(|e| !e.tx.same_channel(tx));
        gone
    }

    /// The registration of data protocol `data`.
    pub fn by_data(&self, data: u16) -> Option<&Registration> {
        self.entries.iter().find(|e| e.data.0 == data)
    }

    /// The registration whose NCP is `ncp`.
    pub fn by_ncp(&self, ncp: u16) -> Option<&Registration> {
        self.entries.iter().find(|e| e.ncp.0 == ncp)
    }

    /// Whether the instance behind `tx` registered data protocol `data`.
    pub fn holds(&self, tx: &mpsc::Sender<ActorMsg>, data: u16) -> bool {
        self.by_data(data).is_some_and(|e| e.tx.same_channel(tx))
    }

    /// Sets the registered NCPs in a session's engine configuration.
    pub fn apply_to(&self, config: &mut dialgate_ppp::Config) {
        for e in &self.entries {
            match &e.policy {
                LanNcp::Ipxcp(c) => config.ipxcp = Some(c.clone()),
                LanNcp::Nbfcp(c) => config.nbfcp = Some(*c),
            }
        }
    }

    /// Number of registrations.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What travels to a LAN-protocol plugin's actor.
#[derive(Debug)]
pub enum LanMsg {
    /// The NCP of `protocol` opened on `session`.
    Up {
        /// Session id.
        session: u64,
        /// The data protocol.
        protocol: u16,
        /// The authenticated user (empty when none).
        user: String,
        /// The link's peer.
        peer: String,
        /// What the NCP negotiated, as TOML ([`negotiated_toml`]).
        negotiated: String,
    },
    /// A datagram of `protocol` arrived on `session` (information field only).
    Frame {
        /// Session id.
        session: u64,
        /// The data protocol.
        protocol: u16,
        /// The datagram (a pooled buffer).
        buf: Vec<u8>,
    },
    /// The NCP closed or the session ended.
    Down {
        /// Session id.
        session: u64,
        /// The data protocol.
        protocol: u16,
    },
}

/// What travels from a LAN-protocol plugin to the link actor owning a session.
#[derive(Debug)]
pub struct LanSend {
    /// The session's link.
    pub link: LinkId,
    /// The session id (checked against the link's).
    pub session: u64,
    /// The data protocol.
    pub protocol: u16,
    /// The datagram (a pooled buffer).
    pub buf: Vec<u8>,
}

fn invalid(message: impl Into<String>) -> HostError {
    HostError::Invalid {
        message: message.into().into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IpxcpOptions {
    #[serde(default)]
    network: u32,
    #[serde(default = "default_local_node")]
    local_node: String,
    #[serde(default = "default_peer_node")]
    peer_node: String,
    #[serde(default)]
    assign_peer_node: bool,
    #[serde(default)]
    routing_protocol: Option<String>,
    #[serde(default)]
    allow_nlsp: bool,
    #[serde(default)]
    router_name: Option<String>,
}

fn default_local_node() -> String {
    "02:00:00:00:00:01".to_owned()
}

fn default_peer_node() -> String {
    "02:00:00:00:00:02".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NbfcpOptions {
    #[serde(default)]
    multicast_period: Option<u16>,
    #[serde(default)]
    multicast_priority: u8,
    #[serde(default)]
    min_peer_forwarding_period: u16,
}

/// A six-octet node number written `02:00:00:00:00:01` (or with `-`).
fn parse_node(field: &str, text: &str) -> Result<[u8; 6], HostError> {
    let mut node = [0u8; 6];
    let mut parts = text.split([':', '-']);
    for octet in &mut node {
        let part = parts.next().unwrap_or_default();
        *octet = u8::from_str_radix(part, 16)
            .ok()
            .filter(|_| part.len() == 2)
            .ok_or_else(|| invalid(format!("{field}: {text:?} is not six hex octets")))?;
    }
    if parts.next().is_some() {
        return Err(invalid(format!("{field}: {text:?} is not six hex octets")));
    }
    Ok(node)
}

fn node_text(node: &[u8; 6]) -> String {
    let mut s = String::with_capacity(17);
    for (i, b) in node.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses a plugin's NCP option policy (see the [module docs](self)) for the data protocol
/// `data` and its NCP `ncp`.
pub fn parse_options(data: PppProtocol, ncp: PppProtocol, text: &str) -> Result<LanNcp, HostError> {
    let toml_error = |e: toml::de::Error| invalid(format!("NCP options: {}", e.message()));
    match (data, ncp) {
        (PppProtocol::IPX, PppProtocol::IPXCP) => {
            let o: IpxcpOptions = toml::from_str(text).map_err(toml_error)?;
            let routing_protocol = match o.routing_protocol.as_deref() {
                None => None,
                Some("none") => Some(IpxRoutingProtocol::None),
                Some("rip-sap") => Some(IpxRoutingProtocol::RipSap),
                Some("nlsp") => Some(IpxRoutingProtocol::Nlsp),
                Some(other) => {
                    return Err(invalid(format!(
                        "routing_protocol: {other:?} is not \"none\", \"rip-sap\" or \"nlsp\""
                    )));
                }
            };
            let router_name = match o.router_name {
                Some(n) if (1..=47).contains(&n.len()) => Some(n.into_bytes()),
                Some(n) => {
                    return Err(invalid(format!(
                        "router_name: {} octets, RFC 1552 §3.5 allows 1 to 47",
                        n.len()
                    )));
                }
                None => None,
            };
            Ok(LanNcp::Ipxcp(IpxcpConfig {
                network: o.network,
                local_node: parse_node("local_node", &o.local_node)?,
                peer_node: parse_node("peer_node", &o.peer_node)?,
                assign_peer_node: o.assign_peer_node,
                routing_protocol,
                allow_nlsp: o.allow_nlsp,
                router_name,
            }))
        }
        (PppProtocol::NBF, PppProtocol::NBFCP) => {
            let o: NbfcpOptions = toml::from_str(text).map_err(toml_error)?;
            if o.multicast_priority > 1 {
                return Err(invalid(format!(
                    "multicast_priority: {} is not 0 (normal) or 1 (low)",
                    o.multicast_priority
                )));
            }
            Ok(LanNcp::Nbfcp(NbfcpConfig {
                multicast: o.multicast_period.map(|period| MulticastFiltering {
                    period,
                    priority: o.multicast_priority,
                }),
                min_peer_forwarding_period: o.min_peer_forwarding_period,
            }))
        }
        _ => Err(HostError::Unsupported {
            message: format!(
                "the core negotiates IPXCP (0x802B) for IPX (0x002B) and NBFCP (0x803F) for \
                 NBF (0x003F), not {ncp} for {data}"
            )
            .into(),
        }),
    }
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn nbfcp_toml(out: &mut String, n: &NbfcpNegotiated) {
    let _ = writeln!(out, "mac_headers = {}", n.mac_headers);
    if let Some(m) = n.peer_multicast {
        let _ = writeln!(out, "peer_multicast_period = {}", m.period);
        let _ = writeln!(out, "peer_multicast_priority = {}", m.priority);
    }
    if let Some(m) = n.local_multicast {
        let _ = writeln!(out, "local_multicast_period = {}", m.period);
        let _ = writeln!(out, "local_multicast_priority = {}", m.priority);
    }
    if let Some(p) = &n.peer_information {
        let _ = writeln!(out, "peer_class = {}", p.class);
        let _ = writeln!(
            out,
            "peer_version = \"{}.{}\"",
            p.version_major, p.version_minor
        );
        let _ = writeln!(
            out,
            "peer_name = {}",
            quoted(&String::from_utf8_lossy(&p.name))
        );
    }
    for name in &n.projected_names {
        let _ = writeln!(
            out,
            "[[projected_names]]\nname = {}\nkind = {}",
            quoted(&String::from_utf8_lossy(&name.name)),
            name.kind
        );
    }
}

/// What an NCP negotiated, as the TOML document `on_session_up` carries: for IPXCP
/// `network`, `local_node`, `peer_node`, `peer_routing`, `peer_router_name`,
/// `peer_configuration_complete`; for NBFCP `mac_headers`, the multicast filtering in each
/// direction, the peer information and `[[projected_names]]`.
pub fn negotiated_toml(params: &NetworkParams) -> String {
    let mut out = String::new();
    match params {
        NetworkParams::Ipxcp(n) => {
            let _ = writeln!(out, "network = {}", n.network);
            let _ = writeln!(out, "local_node = \"{}\"", node_text(&n.local_node));
            if let Some(peer) = &n.peer_node {
                let _ = writeln!(out, "peer_node = \"{}\"", node_text(peer));
            }
            let routing: Vec<&str> = n
                .peer_routing
                .iter()
                .map(|r| match r {
                    IpxRoutingProtocol::None => "\"none\"",
                    IpxRoutingProtocol::RipSap => "\"rip-sap\"",
                    IpxRoutingProtocol::Nlsp => "\"nlsp\"",
                })
                .collect();
            let _ = writeln!(out, "peer_routing = [{}]", routing.join(", "));
            if let Some(name) = &n.peer_router_name {
                let _ = writeln!(
                    out,
                    "peer_router_name = {}",
                    quoted(&String::from_utf8_lossy(name))
                );
            }
            let _ = writeln!(
                out,
                "peer_configuration_complete = {}",
                n.peer_configuration_complete
            );
        }
        NetworkParams::Nbfcp(n) => nbfcp_toml(&mut out, n),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialgate_ppp::ncp::IpxcpNegotiated;

    #[test]
    fn ipxcp_options_rfc1552_3_parse_with_defaults_and_errors() {
        let LanNcp::Ipxcp(c) = parse_options(PppProtocol::IPX, PppProtocol::IPXCP, "")
            .unwrap_or(LanNcp::Nbfcp(NbfcpConfig::default()))
        else {
            panic!("IPXCP expected");
        };
        assert_eq!(c.network, 0);
        assert_eq!(c.local_node, [2, 0, 0, 0, 0, 1]);
        assert_eq!(c.routing_protocol, None);
        let text = "network = 0x1234\nlocal_node = \"00-11-22-33-44-55\"\n\
                    routing_protocol = \"rip-sap\"\nrouter_name = \"dg\"\n";
        let parsed = parse_options(PppProtocol::IPX, PppProtocol::IPXCP, text);
        let Ok(LanNcp::Ipxcp(c)) = parsed else {
            panic!("{parsed:?}");
        };
        assert_eq!(c.network, 0x1234);
        assert_eq!(c.local_node, [0, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(c.routing_protocol, Some(IpxRoutingProtocol::RipSap));
        assert_eq!(c.router_name.as_deref(), Some(&b"dg"[..]));
        for bad in [
            "local_node = \"02:00:00:00:00\"",
            "local_node = \"02:00:00:00:00:01:02\"",
            "peer_node = \"zz:00:00:00:00:01\"",
            "routing_protocol = \"ospf\"",
            "router_name = \"\"",
            "bogus = 1",
            "network = \"x\"",
            "network = -1",
        ] {
            assert!(
                matches!(
                    parse_options(PppProtocol::IPX, PppProtocol::IPXCP, bad),
                    Err(HostError::Invalid { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn nbfcp_options_rfc2097_3_and_unsupported_pairs() {
        let parsed = parse_options(
            PppProtocol::NBF,
            PppProtocol::NBFCP,
            "multicast_period = 60\nmin_peer_forwarding_period = 10\n",
        );
        let Ok(LanNcp::Nbfcp(c)) = parsed else {
            panic!("{parsed:?}");
        };
        assert_eq!(
            c.multicast,
            Some(MulticastFiltering {
                period: 60,
                priority: 0
            })
        );
        assert_eq!(c.min_peer_forwarding_period, 10);
        assert!(matches!(
            parse_options(
                PppProtocol::NBF,
                PppProtocol::NBFCP,
                "multicast_priority = 2"
            ),
            Err(HostError::Invalid { .. })
        ));
        for (data, ncp) in [
            (PppProtocol::IPX, PppProtocol::NBFCP),
            (PppProtocol(0x0021), PppProtocol(0x8021)),
        ] {
            assert!(matches!(
                parse_options(data, ncp, ""),
                Err(HostError::Unsupported { .. })
            ));
        }
    }

    #[test]
    fn negotiated_ipxcp_is_toml() {
        let text = negotiated_toml(&NetworkParams::Ipxcp(IpxcpNegotiated {
            network: 0x42,
            local_node: [2, 0, 0, 0, 0, 1],
            peer_node: Some([2, 0, 0, 0, 0, 2]),
            peer_routing: vec![IpxRoutingProtocol::RipSap],
            peer_router_name: Some(b"far \"end\"".to_vec()),
            peer_configuration_complete: true,
        }));
        let table: toml::Table = toml::from_str(&text).unwrap_or_default();
        assert_eq!(
            table.get("network").and_then(|v| v.as_integer()),
            Some(0x42)
        );
        assert_eq!(
            table.get("peer_node").and_then(|v| v.as_str()),
            Some("02:00:00:00:00:02")
        );
        assert_eq!(
            table.get("peer_router_name").and_then(|v| v.as_str()),
            Some("far \"end\"")
        );
        assert_eq!(
            table
                .get("peer_routing")
                .and_then(|v| v.as_array())
                .map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn a_protocol_belongs_to_one_instance() {
        let (a, _ra) = mpsc::channel(1);
        let (b, _rb) = mpsc::channel(1);
        let reg = |tx: &mpsc::Sender<ActorMsg>, name: &str| Registration {
            instance: name.into(),
            data: PppProtocol::IPX,
            ncp: PppProtocol::IPXCP,
            policy: LanNcp::Nbfcp(NbfcpConfig::default()),
            tx: tx.clone(),
        };
        let mut r = LanRegistry::default();
        assert!(r.register(reg(&a, "a")).is_ok());
        assert!(matches!(
            r.register(reg(&b, "b")),
            Err(HostError::Denied { .. })
        ));
        // The same instance may register again (new options).
        assert!(r.register(reg(&a, "a")).is_ok());
        assert_eq!(r.len(), 1);
        assert!(r.holds(&a, 0x002B));
        assert!(!r.holds(&b, 0x002B));
        assert!(r.by_ncp(0x802B).is_some());
        assert_eq!(r.unregister(&a), vec![PppProtocol::IPX]);
        assert!(r.is_empty());
        assert!(r.register(reg(&b, "b")).is_ok());
    }
}
