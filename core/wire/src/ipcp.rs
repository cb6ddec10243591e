//! IP Control Protocol configuration options (RFC 1332 §3, RFC 1877 §1).

use core::net::Ipv4Addr;

use crate::cp::{OptionRepr, RawOption, Writer, exact, take};
use crate::ppp::Protocol;
use crate::{Error, Result};

/// IPCP option types.
pub mod kind {
    /// IP-Addresses, deprecated (RFC 1332 §3.1).
    pub const IP_ADDRESSES: u8 = 1;
    /// IP-Compression-Protocol (RFC 1332 §3.2).
    pub const IP_COMPRESSION_PROTOCOL: u8 = 2;
    /// IP-Address (RFC 1332 §3.3).
    pub const IP_ADDRESS: u8 = 3;
    /// Primary DNS Server Address (RFC 1877 §1.1).
    pub const PRIMARY_DNS: u8 = 129;
    /// Primary NBNS Server Address (RFC 1877 §1.2).
    pub const PRIMARY_NBNS: u8 = 130;
    /// Secondary DNS Server Address (RFC 1877 §1.3).
    pub const SECONDARY_DNS: u8 = 131;
    /// Secondary NBNS Server Address (RFC 1877 §1.4).
    pub const SECONDARY_NBNS: u8 = 132;
}

/// Van Jacobson compressed TCP/IP, the usual IP-Compression-Protocol (RFC 1332 §3.2).
pub const VJ_COMPRESSED_TCP: Protocol = Protocol(0x002d);

/// One IPCP configuration option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpcpOption<'a> {
    /// IP-Addresses (RFC 1332 §3.1): deprecated; parsed so it can be carried or rejected.
    IpAddresses {
        /// The sender's address.
        source: Ipv4Addr,
        /// The address the sender proposes for the peer.
        destination: Ipv4Addr,
    },
    /// IP-Compression-Protocol (RFC 1332 §3.2); for VJ the data is Max-Slot-Id and
    /// Comp-Slot-Id.
    IpCompressionProtocol {
        /// The compression protocol, e.g. [`VJ_COMPRESSED_TCP`].
        protocol: Protocol,
        /// Protocol-specific data.
        data: &'a [u8],
    },
    /// IP-Address (RFC 1332 §3.3): `0.0.0.0` asks the peer to assign one.
    IpAddress(Ipv4Addr),
    /// Primary DNS Server Address (RFC 1877 §1.1).
    PrimaryDns(Ipv4Addr),
    /// Primary NBNS Server Address (RFC 1877 §1.2).
    PrimaryNbns(Ipv4Addr),
    /// Secondary DNS Server Address (RFC 1877 §1.3).
    SecondaryDns(Ipv4Addr),
    /// Secondary NBNS Server Address (RFC 1877 §1.4).
    SecondaryNbns(Ipv4Addr),
    /// Any other type, kept verbatim.
    Unknown {
        /// The Type octet.
        kind: u8,
        /// The value.
        data: &'a [u8],
    },
}

fn addr(value: &[u8]) -> Result<Ipv4Addr> {
    Ok(Ipv4Addr::from(exact::<4>(value)?))
}

impl<'a> OptionRepr<'a> for IpcpOption<'a> {
    fn parse(option: RawOption<'a>) -> Result<Self> {
        let v = option.value();
        Ok(match option.kind() {
            kind::IP_ADDRESSES => {
                let [a, b, c, d, e, f, g, h] = exact::<8>(v)?;
                IpcpOption::IpAddresses {
                    source: Ipv4Addr::new(a, b, c, d),
                    destination: Ipv4Addr::new(e, f, g, h),
                }
            }
            kind::IP_COMPRESSION_PROTOCOL => {
                let (p, data) = take::<2>(v).map_err(|_| Error::Malformed)?;
                IpcpOption::IpCompressionProtocol {
                    protocol: Protocol(u16::from_be_bytes(p)),
                    data,
                }
            }
            kind::IP_ADDRESS => IpcpOption::IpAddress(addr(v)?),
            kind::PRIMARY_DNS => IpcpOption::PrimaryDns(addr(v)?),
            kind::PRIMARY_NBNS => IpcpOption::PrimaryNbns(addr(v)?),
            kind::SECONDARY_DNS => IpcpOption::SecondaryDns(addr(v)?),
            kind::SECONDARY_NBNS => IpcpOption::SecondaryNbns(addr(v)?),
            other => IpcpOption::Unknown {
                kind: other,
                data: v,
            },
        })
    }

    fn kind(&self) -> u8 {
        match self {
            IpcpOption::IpAddresses { .. } => kind::IP_ADDRESSES,
            IpcpOption::IpCompressionProtocol { .. } => kind::IP_COMPRESSION_PROTOCOL,
            IpcpOption::IpAddress(_) => kind::IP_ADDRESS,
            IpcpOption::PrimaryDns(_) => kind::PRIMARY_DNS,
            IpcpOption::PrimaryNbns(_) => kind::PRIMARY_NBNS,
            IpcpOption::SecondaryDns(_) => kind::SECONDARY_DNS,
            IpcpOption::SecondaryNbns(_) => kind::SECONDARY_NBNS,
            IpcpOption::Unknown { kind, .. } => *kind,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            IpcpOption::IpAddresses { .. } => 8,
            IpcpOption::IpCompressionProtocol { data, .. } => 2 + data.len(),
            IpcpOption::IpAddress(_)
            | IpcpOption::PrimaryDns(_)
            | IpcpOption::PrimaryNbns(_)
            | IpcpOption::SecondaryDns(_)
            | IpcpOption::SecondaryNbns(_) => 4,
            IpcpOption::Unknown { data, .. } => data.len(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) -> Result<()> {
        let mut w = Writer::new(buf);
        match self {
            IpcpOption::IpAddresses {
                source,
                destination,
            } => {
                w.put(&source.octets())?;
                w.put(&destination.octets())
            }
            IpcpOption::IpCompressionProtocol { protocol, data } => {
                w.u16(protocol.0)?;
                w.put(data)
            }
            IpcpOption::IpAddress(a)
            | IpcpOption::PrimaryDns(a)
            | IpcpOption::PrimaryNbns(a)
            | IpcpOption::SecondaryDns(a)
            | IpcpOption::SecondaryNbns(a) => w.put(&a.octets()),
            IpcpOption::Unknown { data, .. } => w.put(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> IpcpOption<'_> {
        let opt = IpcpOption::parse_bytes(bytes).unwrap();
        let mut out = Vec::new();
        opt.push(&mut out).unwrap();
        assert_eq!(out, bytes);
        opt
    }

    #[test]
    fn ip_address_rfc1332_3_3() {
        // pptpd's Configure-Nak proposing 10.77.1.100 (ref-pcaps mschapv2-mppe128, frame 34).
        assert_eq!(
            round_trip(&[3, 6, 10, 77, 1, 100]),
            IpcpOption::IpAddress(Ipv4Addr::new(10, 77, 1, 100))
        );
        assert_eq!(
            round_trip(&[3, 6, 0, 0, 0, 0]),
            IpcpOption::IpAddress(Ipv4Addr::UNSPECIFIED)
        );
    }

    #[test]
    fn ip_addresses_rfc1332_3_1() {
        assert_eq!(
            round_trip(&[1, 10, 10, 0, 0, 1, 10, 0, 0, 2]),
            IpcpOption::IpAddresses {
                source: Ipv4Addr::new(10, 0, 0, 1),
                destination: Ipv4Addr::new(10, 0, 0, 2)
            }
        );
    }

    #[test]
    fn vj_compression_rfc1332_3_2() {
        assert_eq!(
            round_trip(&[2, 6, 0x00, 0x2d, 0x0f, 0x01]),
            IpcpOption::IpCompressionProtocol {
                protocol: VJ_COMPRESSED_TCP,
                data: &[0x0f, 0x01]
            }
        );
    }

    #[test]
    fn dns_nbns_rfc1877() {
        assert_eq!(
            round_trip(&[129, 6, 8, 8, 8, 8]),
            IpcpOption::PrimaryDns(Ipv4Addr::new(8, 8, 8, 8))
        );
        assert_eq!(
            round_trip(&[130, 6, 1, 2, 3, 4]),
            IpcpOption::PrimaryNbns(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert_eq!(
            round_trip(&[131, 6, 1, 1, 1, 1]),
            IpcpOption::SecondaryDns(Ipv4Addr::new(1, 1, 1, 1))
        );
        assert_eq!(
            round_trip(&[132, 6, 4, 3, 2, 1]),
            IpcpOption::SecondaryNbns(Ipv4Addr::new(4, 3, 2, 1))
        );
        assert_eq!(
            round_trip(&[200, 2]),
            IpcpOption::Unknown {
                kind: 200,
                data: &[]
            }
        );
    }

    #[test]
    fn malformed_ipcp() {
        for bad in [
            &[3u8, 5, 1, 2, 3][..],
            &[3, 7, 1, 2, 3, 4, 5],
            &[1, 6, 1, 2, 3, 4],
            &[2, 3, 0],
            &[129, 2],
        ] {
            assert_eq!(
                IpcpOption::parse_bytes(bad),
                Err(Error::Malformed),
                "{bad:?}"
            );
        }
    }
}
