//! The IPv4 header of a datagram from the host's raw GRE socket (RFC 791 §3.1): just enough
//! to find the source address and the GRE packet inside.

use std::net::Ipv4Addr;

/// Why a datagram from the raw socket was not taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Not IPv4, or a header length below 20 octets.
    BadHeader,
    /// Shorter than its header or its Total Length says.
    Truncated,
    /// Not GRE (protocol 47).
    NotGre,
    /// A fragment (the kernel reassembles before raw delivery; a fragment here is odd).
    Fragment,
}

/// The source address and the IP payload (the GRE packet) of an IPv4 datagram.
pub fn gre_payload(datagram: &[u8]) -> Result<(Ipv4Addr, &[u8]), Ipv4Error> {
    let first = *datagram.first().ok_or(Ipv4Error::Truncated)?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 {
        return Err(Ipv4Error::BadHeader);
    }
    let header = datagram.get(..ihl).ok_or(Ipv4Error::Truncated)?;
    let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if total < ihl {
        return Err(Ipv4Error::BadHeader);
    }
    // More Fragments, or a Fragment Offset.
    let frag = u16::from_be_bytes([header[6], header[7]]);
    if frag & 0x3fff != 0 {
        return Err(Ipv4Error::Fragment);
    }
    if header[9] != dialgate_wire::gre::IP_PROTOCOL {
        return Err(Ipv4Error::NotGre);
    }
    let src = Ipv4Addr::new(header[12], header[13], header[14], header[15]);
    let payload = datagram.get(ihl..total).ok_or(Ipv4Error::Truncated)?;
    Ok((src, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut d = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 47, 0, 0, 192, 0, 2, 7, 192, 0, 2, 1,
        ];
        d[2..4].copy_from_slice(&total.to_be_bytes());
        d.extend_from_slice(payload);
        d
    }

    #[test]
    fn rfc791_3_1_source_and_payload() {
        let d = datagram(b"gre!");
        assert_eq!(
            gre_payload(&d),
            Ok((Ipv4Addr::new(192, 0, 2, 7), &b"gre!"[..]))
        );
        // Trailing padding beyond Total Length is not payload.
        let mut padded = d.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(gre_payload(&padded).map(|(_, p)| p), Ok(&b"gre!"[..]));
    }

    #[test]
    fn rfc791_3_1_bad_datagrams() {
        let d = datagram(b"gre!");
        assert_eq!(gre_payload(&[]), Err(Ipv4Error::Truncated));
        assert_eq!(gre_payload(&d[..10]), Err(Ipv4Error::Truncated));
        assert_eq!(gre_payload(&d[..22]), Err(Ipv4Error::Truncated));
        let mut v6 = d.clone();
        v6[0] = 0x65;
        assert_eq!(gre_payload(&v6), Err(Ipv4Error::BadHeader));
        let mut short_ihl = d.clone();
        short_ihl[0] = 0x44;
        assert_eq!(gre_payload(&short_ihl), Err(Ipv4Error::BadHeader));
        let mut udp = d.clone();
        udp[9] = 17;
        assert_eq!(gre_payload(&udp), Err(Ipv4Error::NotGre));
        let mut frag = d.clone();
        frag[6] = 0x20; // More Fragments
        assert_eq!(gre_payload(&frag), Err(Ipv4Error::Fragment));
        let mut tiny_total = d;
        tiny_total[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(gre_payload(&tiny_total), Err(Ipv4Error::BadHeader));
    }
}
