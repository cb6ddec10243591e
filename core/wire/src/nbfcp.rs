//! NetBIOS Frames Control Protocol configuration options (RFC 2097 §2-3).

use crate::cp::{OptionRepr, RawOption, Writer, exact, take};
use crate::{Error, Result};

/// NBFCP option types (RFC 2097 §3).
pub mod kind {
    /// Name-Projection (§3.1).
    pub const NAME_PROJECTION: u8 = 1;
    /// Peer-Information (§3.2).
    pub const PEER_INFORMATION: u8 = 2;
    /// Multicast-Filtering (§3.3).
    pub const MULTICAST_FILTERING: u8 = 3;
    /// IEEE-MAC-Address-Required (§3.4).
    pub const IEEE_MAC_ADDRESS_REQUIRED: u8 = 4;
}

/// Peer-Class values of Peer-Information (RFC 2097 §3.2).
pub mod peer_class {
    /// PPP NetBIOS Gateway Server.
    pub const NETBIOS_GATEWAY_SERVER: u16 = 2;
    /// PPP Local Access Only Server.
    pub const LOCAL_ACCESS_ONLY_SERVER: u16 = 4;
    /// PPP NBF Bridge.
    pub const NBF_BRIDGE: u16 = 6;
    /// PPP End-System.
    pub const END_SYSTEM: u16 = 8;
}

/// Length of a NetBIOS name.
pub const NAME_LEN: usize = 16;
/// Length of one Name-Projection entry: the name and its type (or result) octet.
pub const NAME_ENTRY_LEN: usize = NAME_LEN + 1;
/// Longest Peer-Name (RFC 2097 §3.2: up to 32 octets).
pub const MAX_PEER_NAME: usize = 32;

/// The names of a Name-Projection option (RFC 2097 §3.1): a sequence of 17-octet entries,
/// each a 16-octet NetBIOS name and one octet that is the name type in a Configure-Request
/// (1 unique, 2 group) and the result code in a Configure-Nak (0 success, 0x0d duplicate, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameList<'a> {
    bytes: &'a [u8],
}

impl<'a> NameList<'a> {
    /// Wrap the option value; its length must be a multiple of 17.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self> {
        if !bytes.len().is_multiple_of(NAME_ENTRY_LEN) {
            return Err(Error::Malformed);
        }
        Ok(NameList { bytes })
    }

    /// The encoded entries.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.bytes.len() / NAME_ENTRY_LEN
    }

    /// Whether the list has no names.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The `(name, type_or_result)` entries.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8; NAME_LEN], u8)> + 'a {
        let (entries, _) = self.bytes.as_chunks::<NAME_ENTRY_LEN>();
        entries.iter().filter_map(|e| {
            let (name, rest) = e.split_first_chunk::<NAME_LEN>()?;
            Some((name, *rest.first()?))
        })
    }
}

/// One NBFCP configuration option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NbfcpOption<'a> {
    /// Name-Projection (§3.1).
    NameProjection(NameList<'a>),
    /// Peer-Information (§3.2).
    PeerInformation {
        /// Peer-Class, see [`peer_class`].
        class: u16,
        /// Major version.
        version_major: u16,
        /// Minor version.
        version_minor: u16,
        /// Peer-Name, up to 32 octets.
        name: &'a [u8],
    },
    /// Multicast-Filtering (§3.3).
    MulticastFiltering {
        /// Period in seconds between multicast forwarding; 0xffff means never.
        period: u16,
        /// Priority: 0 forward normally, 1 low priority.
        priority: u8,
    },
    /// IEEE-MAC-Address-Required (§3.4).
    IeeeMacAddressRequired,
    /// Any other type, kept verbatim.
    Unknown {
        /// The Type octet.
        kind: u8,
        /// The value.
        data: &'a [u8],
    },
}

impl<'a> OptionRepr<'a> for NbfcpOption<'a> {
    fn parse(option: RawOption<'a>) -> Result<Self> {
        let v = option.value();
        Ok(match option.kind() {
            kind::NAME_PROJECTION => NbfcpOption::NameProjection(NameList::new_checked(v)?),
            kind::PEER_INFORMATION => {
                let ([c0, c1, a0, a1, i0, i1], name) =
                    take::<6>(v).map_err(|_| Error::Malformed)?;
                if name.len() > MAX_PEER_NAME {
                    return Err(Error::Malformed);
                }
                NbfcpOption::PeerInformation {
                    class: u16::from_be_bytes([c0, c1]),
                    version_major: u16::from_be_bytes([a0, a1]),
                    version_minor: u16::from_be_bytes([i0, i1]),
                    name,
                }
            }
            kind::MULTICAST_FILTERING => {
                let [p0, p1, priority] = exact(v)?;
                NbfcpOption::MulticastFiltering {
                    period: u16::from_be_bytes([p0, p1]),
                    priority,
                }
            }
            kind::IEEE_MAC_ADDRESS_REQUIRED => {
                exact::<0>(v)?;
                NbfcpOption::IeeeMacAddressRequired
            }
            other => NbfcpOption::Unknown {
                kind: other,
                data: v,
            },
        })
    }

    fn kind(&self) -> u8 {
        match self {
            NbfcpOption::NameProjection(_) => kind::NAME_PROJECTION,
            NbfcpOption::PeerInformation { .. } => kind::PEER_INFORMATION,
            NbfcpOption::MulticastFiltering { .. } => kind::MULTICAST_FILTERING,
            NbfcpOption::IeeeMacAddressRequired => kind::IEEE_MAC_ADDRESS_REQUIRED,
            NbfcpOption::Unknown { kind, .. } => *kind,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            NbfcpOption::NameProjection(names) => names.as_bytes().len(),
            NbfcpOption::PeerInformation { name, .. } => 6 + name.len(),
            NbfcpOption::MulticastFiltering { .. } => 3,
            NbfcpOption::IeeeMacAddressRequired => 0,
            NbfcpOption::Unknown { data, .. } => data.len(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) -> Result<()> {
        let mut w = Writer::new(buf);
        match self {
            NbfcpOption::NameProjection(names) => w.put(names.as_bytes()),
            NbfcpOption::PeerInformation {
                class,
                version_major,
                version_minor,
                name,
            } => {
                w.u16(*class)?;
                w.u16(*version_major)?;
                w.u16(*version_minor)?;
                w.put(name)
            }
            NbfcpOption::MulticastFiltering { period, priority } => {
                w.u16(*period)?;
                w.u8(*priority)
            }
            NbfcpOption::IeeeMacAddressRequired => Ok(()),
            NbfcpOption::Unknown { data, .. } => w.put(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> NbfcpOption<'_> {
        let opt = NbfcpOption::parse_bytes(bytes).unwrap();
        let mut out = Vec::new();
        opt.push(&mut out).unwrap();
        assert_eq!(out, bytes);
        opt
    }

    #[test]
    fn name_projection_rfc2097_3_1() {
        let mut bytes = vec![1, 2 + 2 * 17];
        bytes.extend_from_slice(b"WORKSTATION1   \x00");
        bytes.push(1); // unique
        bytes.extend_from_slice(b"WORKGROUP      \x00");
        bytes.push(2); // group
        let NbfcpOption::NameProjection(names) = round_trip(&bytes) else {
            panic!()
        };
        assert_eq!(names.len(), 2);
        let entries: Vec<_> = names.iter().collect();
        assert_eq!(entries[0], (b"WORKSTATION1   \x00", 1));
        assert_eq!(entries[1].1, 2);
        let mut short = bytes[..20].to_vec();
        short[1] = 20;
        assert_eq!(NbfcpOption::parse_bytes(&short), Err(Error::Malformed));
    }

    #[test]
    fn peer_information_rfc2097_3_2() {
        let bytes = [2, 12, 0, 8, 0, 3, 0, 0x33, b'P', b'C', b'0', b'1'];
        assert_eq!(
            round_trip(&bytes),
            NbfcpOption::PeerInformation {
                class: peer_class::END_SYSTEM,
                version_major: 3,
                version_minor: 0x33,
                name: b"PC01"
            }
        );
        assert_eq!(
            NbfcpOption::parse_bytes(&[2, 7, 0, 8, 0, 3, 0]),
            Err(Error::Malformed)
        );
        let long = [&[2u8, 41, 0, 8, 0, 3, 0, 0][..], &[b'x'; 33]].concat();
        assert_eq!(NbfcpOption::parse_bytes(&long), Err(Error::Malformed));
    }

    #[test]
    fn multicast_and_mac_rfc2097_3_3_3_4() {
        assert_eq!(
            round_trip(&[3, 5, 0x00, 0x3c, 1]),
            NbfcpOption::MulticastFiltering {
                period: 60,
                priority: 1
            }
        );
        assert_eq!(round_trip(&[4, 2]), NbfcpOption::IeeeMacAddressRequired);
        assert_eq!(
            round_trip(&[9, 2]),
            NbfcpOption::Unknown { kind: 9, data: &[] }
        );
        assert_eq!(
            NbfcpOption::parse_bytes(&[3, 4, 0, 1]),
            Err(Error::Malformed)
        );
        assert_eq!(NbfcpOption::parse_bytes(&[4, 3, 0]), Err(Error::Malformed));
    }
}
