//! The traffic a session sends through its tunnel: IPv4 ICMP echo requests (RFC 792), built in
//! the caller's buffer, and the parser for the replies.

use std::net::Ipv4Addr;

/// IPv4 header length we emit (no options).
const IP_HEADER_LEN: usize = 20;
/// ICMP echo header: type, code, checksum, identifier, sequence (RFC 792).
const ICMP_HEADER_LEN: usize = 8;
/// Payload of each echo request, like `ping`'s default.
pub const PAYLOAD_LEN: usize = 56;
/// Length of the whole echo request datagram.
pub const ECHO_LEN: usize = IP_HEADER_LEN + ICMP_HEADER_LEN + PAYLOAD_LEN;

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(u16::from_be_bytes([*last, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One echo, as carried in the request and its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    /// Source address of the datagram.
    pub src: Ipv4Addr,
    /// Destination address of the datagram.
    pub dst: Ipv4Addr,
    /// ICMP Identifier.
    pub ident: u16,
    /// ICMP Sequence Number.
    pub seq: u16,
}

/// Write an echo request (`reply == false`) or reply for `echo` to the start of `buf`; returns
/// its length, or `None` when `buf` is shorter than [`ECHO_LEN`].
pub fn emit(echo: Echo, reply: bool, buf: &mut [u8]) -> Option<usize> {
    let out = buf.get_mut(..ECHO_LEN)?;
    let (ip, icmp) = out.split_at_mut(IP_HEADER_LEN);
    icmp[0] = if reply { 0 } else { 8 };
    icmp[1] = 0;
    icmp[2..4].fill(0);
    icmp[4..6].copy_from_slice(&echo.ident.to_be_bytes());
    icmp[6..8].copy_from_slice(&echo.seq.to_be_bytes());
    for (i, b) in icmp[ICMP_HEADER_LEN..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_add(0x10);
    }
    let sum = checksum(icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2..4].copy_from_slice(&(ECHO_LEN as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&echo.seq.to_be_bytes());
    ip[6..8].copy_from_slice(&[0x40, 0]); // don't fragment
    ip[8] = 64;
    ip[9] = 1; // ICMP
    ip[10..12].fill(0);
    ip[12..16].copy_from_slice(&echo.src.octets());
    ip[16..20].copy_from_slice(&echo.dst.octets());
    let sum = checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    Some(ECHO_LEN)
}

/// Parse an IPv4 datagram as an ICMP echo: `Some((is_reply, echo))` when it is one with valid
/// header and ICMP checksums, `None` otherwise.
pub fn parse(ip: &[u8]) -> Option<(bool, Echo)> {
    let first = *ip.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < IP_HEADER_LEN || *ip.get(9)? != 1 {
        return None;
    }
    if checksum(ip.get(..ihl)?) != 0 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let icmp = ip.get(ihl..total)?;
    if icmp.len() < ICMP_HEADER_LEN || checksum(icmp) != 0 {
        return None;
    }
    let reply = match icmp[0] {
        0 => true,
        8 => false,
        _ => return None,
    };
    let addr = |at: usize| -> Option<Ipv4Addr> {
        Some(Ipv4Addr::from(
            <[u8; 4]>::try_from(ip.get(at..at + 4)?).ok()?,
        ))
    };
    Some((
        reply,
        Echo {
            src: addr(12)?,
            dst: addr(16)?,
            ident: u16::from_be_bytes([icmp[4], icmp[5]]),
            seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_checksum_of_the_rfc_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (one's complement 220d).
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        assert_eq!(checksum(&[0xff]), 0x00ff);
    }

    #[test]
    fn rfc792_echo_round_trips_and_checksums_verify() {
        let echo = Echo {
            src: Ipv4Addr::new(10, 0, 0, 2),
            dst: Ipv4Addr::new(192, 168, 1, 9),
            ident: 0xbeef,
            seq: 3,
        };
        let mut buf = [0u8; 128];
        let n = emit(echo, false, &mut buf).unwrap();
        assert_eq!(n, ECHO_LEN);
        assert_eq!(parse(&buf[..n]), Some((false, echo)));
        assert_eq!(checksum(&buf[..20]), 0);
        let n = emit(echo, true, &mut buf).unwrap();
        assert_eq!(parse(&buf[..n]), Some((true, echo)));
    }

    #[test]
    fn corrupted_or_short_datagrams_are_not_echoes() {
        let echo = Echo {
            src: Ipv4Addr::new(10, 0, 0, 2),
            dst: Ipv4Addr::new(10, 0, 0, 1),
            ident: 1,
            seq: 1,
        };
        let mut buf = [0u8; ECHO_LEN];
        emit(echo, true, &mut buf).unwrap();
        for cut in [0, 1, 19, 20, 27] {
            assert_eq!(parse(&buf[..cut]), None, "cut at {cut}");
        }
        let mut bad = buf;
        bad[40] ^= 1;
        assert_eq!(parse(&bad), None, "ICMP checksum");
        let mut bad = buf;
        bad[8] ^= 1;
        assert_eq!(parse(&bad), None, "IP header checksum");
        assert!(emit(echo, true, &mut [0u8; ECHO_LEN - 1]).is_none());
    }
}
