//! IPX Control Protocol configuration options (RFC 1552 §3).

use crate::cp::{OptionRepr, RawOption, Writer, exact, take};
use crate::ppp::Protocol;
use crate::{Error, Result};

/// IPXCP option types (RFC 1552 §3).
pub mod kind {
    /// IPX-Network-Number (§3.1).
    pub const NETWORK_NUMBER: u8 = 1;
    /// IPX-Node-Number (§3.2).
    pub const NODE_NUMBER: u8 = 2;
    /// IPX-Compression-Protocol (§3.3).
    pub const COMPRESSION_PROTOCOL: u8 = 3;
    /// IPX-Routing-Protocol (§3.4).
    pub const ROUTING_PROTOCOL: u8 = 4;
    /// IPX-Router-Name (§3.5).
    pub const ROUTER_NAME: u8 = 5;
    /// IPX-Configuration-Complete (§3.6).
    pub const CONFIGURATION_COMPLETE: u8 = 6;
}

/// IPX-Routing-Protocol values (RFC 1552 §3.4).
pub mod routing {
    /// No routing protocol.
    pub const NONE: u16 = 0;
    /// Novell RIP/SAP required.
    pub const RIP_SAP: u16 = 2;
    /// Novell NLSP.
    pub const NLSP: u16 = 4;
}

/// Longest IPX-Router-Name (RFC 1552 §3.5: 1 to 47 characters).
pub const MAX_ROUTER_NAME: usize = 47;

/// One IPXCP configuration option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpxcpOption<'a> {
    /// IPX-Network-Number (§3.1); 0 asks the peer to choose.
    IpxNetworkNumber(u32),
    /// IPX-Node-Number (§3.2); all zeros asks the peer to choose.
    IpxNodeNumber([u8; 6]),
    /// IPX-Compression-Protocol (§3.3): Telebit `0x0002` or Shiva `0x0235`.
    IpxCompressionProtocol {
        /// The compression protocol.
        protocol: Protocol,
        /// Protocol-specific data.
        data: &'a [u8],
    },
    /// IPX-Routing-Protocol (§3.4), see [`routing`].
    IpxRoutingProtocol(u16),
    /// IPX-Router-Name (§3.5), 1 to 47 octets.
    IpxRouterName(&'a [u8]),
    /// IPX-Configuration-Complete (§3.6).
    IpxConfigurationComplete,
    /// Any other type, kept verbatim.
    Unknown {
        /// The Type octet.
        kind: u8,
        /// The value.
        data: &'a [u8],
    },
}

impl<'a> OptionRepr<'a> for IpxcpOption<'a> {
    fn parse(option: RawOption<'a>) -> Result<Self> {
        let v = option.value();
        Ok(match option.kind() {
            kind::NETWORK_NUMBER => IpxcpOption::IpxNetworkNumber(u32::from_be_bytes(exact(v)?)),
            kind::NODE_NUMBER => IpxcpOption::IpxNodeNumber(exact(v)?),
            kind::COMPRESSION_PROTOCOL => {
                let (p, data) = take::<2>(v).map_err(|_| Error::Malformed)?;
                IpxcpOption::IpxCompressionProtocol {
                    protocol: Protocol(u16::from_be_bytes(p)),
                    data,
                }
            }
            kind::ROUTING_PROTOCOL => {
                IpxcpOption::IpxRoutingProtocol(u16::from_be_bytes(exact(v)?))
            }
            kind::ROUTER_NAME => {
                if v.is_empty() || v.len() > MAX_ROUTER_NAME {
                    return Err(Error::Malformed);
                }
                IpxcpOption::IpxRouterName(v)
            }
            kind::CONFIGURATION_COMPLETE => {
                exact::<0>(v)?;
                IpxcpOption::IpxConfigurationComplete
            }
            other => IpxcpOption::Unknown {
                kind: other,
                data: v,
            },
        })
    }

    fn kind(&self) -> u8 {
        match self {
            IpxcpOption::IpxNetworkNumber(_) => kind::NETWORK_NUMBER,
            IpxcpOption::IpxNodeNumber(_) => kind::NODE_NUMBER,
            IpxcpOption::IpxCompressionProtocol { .. } => kind::COMPRESSION_PROTOCOL,
            IpxcpOption::IpxRoutingProtocol(_) => kind::ROUTING_PROTOCOL,
            IpxcpOption::IpxRouterName(_) => kind::ROUTER_NAME,
            IpxcpOption::IpxConfigurationComplete => kind::CONFIGURATION_COMPLETE,
            IpxcpOption::Unknown { kind, .. } => *kind,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            IpxcpOption::IpxNetworkNumber(_) => 4,
            IpxcpOption::IpxNodeNumber(_) => 6,
            IpxcpOption::IpxCompressionProtocol { data, .. } => 2 + data.len(),
            IpxcpOption::IpxRoutingProtocol(_) => 2,
            IpxcpOption::IpxRouterName(name) => name.len(),
            IpxcpOption::IpxConfigurationComplete => 0,
            IpxcpOption::Unknown { data, .. } => data.len(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) -> Result<()> {
        let mut w = Writer::new(buf);
        match self {
            IpxcpOption::IpxNetworkNumber(n) => w.u32(*n),
            IpxcpOption::IpxNodeNumber(node) => w.put(node),
            IpxcpOption::IpxCompressionProtocol { protocol, data } => {
                w.u16(protocol.0)?;
                w.put(data)
            }
            IpxcpOption::IpxRoutingProtocol(r) => w.u16(*r),
            IpxcpOption::IpxRouterName(name) => w.put(name),
            IpxcpOption::IpxConfigurationComplete => Ok(()),
            IpxcpOption::Unknown { data, .. } => w.put(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> IpxcpOption<'_> {
        let opt = IpxcpOption::parse_bytes(bytes).unwrap();
        let mut out = Vec::new();
        opt.push(&mut out).unwrap();
        assert_eq!(out, bytes);
        opt
    }

    #[test]
    fn options_rfc1552_3() {
        assert_eq!(
            round_trip(&[1, 6, 0xde, 0xad, 0xbe, 0xef]),
            IpxcpOption::IpxNetworkNumber(0xdead_beef)
        );
        assert_eq!(
            round_trip(&[2, 8, 0x02, 0, 0, 0, 0, 1]),
            IpxcpOption::IpxNodeNumber([2, 0, 0, 0, 0, 1])
        );
        assert_eq!(
            round_trip(&[3, 6, 0x00, 0x02, 0x10, 0x00]),
            IpxcpOption::IpxCompressionProtocol {
                protocol: Protocol(2),
                data: &[0x10, 0]
            }
        );
        assert_eq!(
            round_trip(&[4, 4, 0, 2]),
            IpxcpOption::IpxRoutingProtocol(routing::RIP_SAP)
        );
        assert_eq!(
            round_trip(&[5, 6, b'R', b'T', b'R', b'1']),
            IpxcpOption::IpxRouterName(b"RTR1")
        );
        assert_eq!(round_trip(&[6, 2]), IpxcpOption::IpxConfigurationComplete);
        assert_eq!(
            round_trip(&[7, 3, 9]),
            IpxcpOption::Unknown {
                kind: 7,
                data: &[9]
            }
        );
    }

    #[test]
    fn malformed_ipxcp() {
        let long = [&[5u8, 50][..], &[b'x'; 48]].concat();
        for bad in [
            &[1u8, 5, 0, 0, 0][..],
            &[2, 6, 0, 0, 0, 0],
            &[3, 3, 0],
            &[4, 3, 0],
            &[5, 2],
            &long,
            &[6, 3, 0],
        ] {
            assert_eq!(
                IpxcpOption::parse_bytes(bad),
                Err(Error::Malformed),
                "{bad:?}"
            );
        }
    }
}
