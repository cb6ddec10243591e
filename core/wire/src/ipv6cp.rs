//! IPv6 Control Protocol configuration options (RFC 5072 §4).

use crate::Result;
use crate::cp::{OptionRepr, RawOption, Writer, exact};

/// IPV6CP option types.
pub mod kind {
    /// Interface-Identifier (RFC 5072 §4.1).
    pub const INTERFACE_IDENTIFIER: u8 = 1;
    /// IPv6-Compression-Protocol (RFC 5072 §4.2); the engine rejects it.
    pub const IPV6_COMPRESSION_PROTOCOL: u8 = 2;
}

/// One IPV6CP configuration option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ipv6cpOption<'a> {
    /// Interface-Identifier (RFC 5072 §4.1): the 64-bit identifier for the link-local address.
    InterfaceIdentifier([u8; 8]),
    /// Any other type (including compression, type 2), kept verbatim.
    Unknown {
        /// The Type octet.
        kind: u8,
        /// The value.
        data: &'a [u8],
    },
}

impl<'a> OptionRepr<'a> for Ipv6cpOption<'a> {
    fn parse(option: RawOption<'a>) -> Result<Self> {
        Ok(match option.kind() {
            kind::INTERFACE_IDENTIFIER => Ipv6cpOption::InterfaceIdentifier(exact(option.value())?),
            other => Ipv6cpOption::Unknown {
                kind: other,
                data: option.value(),
            },
        })
    }

    fn kind(&self) -> u8 {
        match self {
            Ipv6cpOption::InterfaceIdentifier(_) => kind::INTERFACE_IDENTIFIER,
            Ipv6cpOption::Unknown { kind, .. } => *kind,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            Ipv6cpOption::InterfaceIdentifier(_) => 8,
            Ipv6cpOption::Unknown { data, .. } => data.len(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) -> Result<()> {
        let mut w = Writer::new(buf);
        match self {
            Ipv6cpOption::InterfaceIdentifier(id) => w.put(id),
            Ipv6cpOption::Unknown { data, .. } => w.put(data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn interface_identifier_rfc5072_4_1() {
        // pptpd's IPV6CP Configure-Request (ref-pcaps mschapv2-mppe128, frame 32).
        let bytes = [1, 10, 0xa8, 0x5d, 0xc8, 0xf2, 0xbe, 0xa5, 0xac, 0x5c];
        let opt = Ipv6cpOption::parse_bytes(&bytes).unwrap();
        assert_eq!(
            opt,
            Ipv6cpOption::InterfaceIdentifier([0xa8, 0x5d, 0xc8, 0xf2, 0xbe, 0xa5, 0xac, 0x5c])
        );
        let mut out = Vec::new();
        opt.push(&mut out).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn compression_is_unknown_rfc5072_4_2() {
        let bytes = [2, 4, 0x00, 0x4f];
        let opt = Ipv6cpOption::parse_bytes(&bytes).unwrap();
        assert_eq!(
            opt,
            Ipv6cpOption::Unknown {
                kind: 2,
                data: &[0x00, 0x4f]
            }
        );
        let mut out = Vec::new();
        opt.push(&mut out).unwrap();
        assert_eq!(out, bytes);
        assert_eq!(
            Ipv6cpOption::parse_bytes(&[1, 9, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::Malformed)
        );
    }
}
