//! The few IPv4/IPv6 header fields the data plane reads, with bounds checks, and the Internet
//! checksum (RFC 1071) with its incremental update (RFC 1624).
//!
//! Everything here takes untrusted bytes and returns `None` rather than panicking.

use core::net::{Ipv4Addr, Ipv6Addr};

/// Length of an IPv4 header without options (RFC 791 §3.1).
pub const IPV4_MIN_HEADER: usize = 20;
/// Length of the fixed IPv6 header (RFC 8200 §3).
pub const IPV6_HEADER: usize = 40;

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IPv6 Next Header value of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

/// The IP version nibble of a packet (RFC 791 §3.1, RFC 8200 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// Why a packet could not be read as IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Shorter than the fixed header of its version (or empty).
    TooShort,
    /// The version nibble is neither 4 nor 6.
    BadVersion,
}

/// The version of `packet`, checking that its fixed header fits.
pub fn version(packet: &[u8]) -> Result<IpVersion, HeaderError> {
    let first = *packet.first().ok_or(HeaderError::TooShort)?;
    let (version, min) = match first >> 4 {
        4 => (IpVersion::V4, IPV4_MIN_HEADER),
        6 => (IpVersion::V6, IPV6_HEADER),
        _ => return Err(HeaderError::BadVersion),
    };
    if packet.len() < min {
        return Err(HeaderError::TooShort);
    }
    Ok(version)
}

/// Reads `N` bytes at `at`.
pub(crate) fn array<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Reads a big-endian `u16` at `at`.
pub(crate) fn be16(data: &[u8], at: usize) -> Option<u16> {
    array(data, at).map(u16::from_be_bytes)
}

/// Writes a big-endian `u16` at `at`; `false` when it does not fit.
pub(crate) fn put_be16(data: &mut [u8], at: usize, value: u16) -> bool {
    match at.checked_add(2).and_then(|end| data.get_mut(at..end)) {
        Some(field) => {
            field.copy_from_slice(&value.to_be_bytes());
            true
        }
        None => false,
    }
}

/// Source address of an IPv4 packet (RFC 791 §3.1, octets 12..16).
pub fn ipv4_source(packet: &[u8]) -> Option<Ipv4Addr> {
    array::<4>(packet, 12).map(Ipv4Addr::from)
}

/// Destination address of an IPv4 packet (RFC 791 §3.1, octets 16..20).
pub fn ipv4_destination(packet: &[u8]) -> Option<Ipv4Addr> {
    array::<4>(packet, 16).map(Ipv4Addr::from)
}

/// Source address of an IPv6 packet (RFC 8200 §3, octets 8..24).
pub fn ipv6_source(packet: &[u8]) -> Option<Ipv6Addr> {
    array::<16>(packet, 8).map(Ipv6Addr::from)
}

/// Destination address of an IPv6 packet (RFC 8200 §3, octets 24..40).
pub fn ipv6_destination(packet: &[u8]) -> Option<Ipv6Addr> {
    array::<16>(packet, 24).map(Ipv6Addr::from)
}

/// The one's complement sum of `data` as 16-bit big-endian words (RFC 1071 §4.1), not yet
/// folded; an odd trailing byte is padded with zero.
pub fn sum(data: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(u16::from_be_bytes([*last, 0]));
    }
    fold64(acc)
}

fn fold64(mut acc: u64) -> u32 {
    while acc > 0xffff_ffff {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    // Fits in 32 bits after the loop.
    acc as u32
}

/// Folds a 32-bit one's complement sum to 16 bits (RFC 1071 §4.1).
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // Fits in 16 bits after the loop.
    acc as u16
}

/// The checksum field value for data whose unfolded sum is `acc`.
pub fn finish(acc: u32) -> u16 {
    !fold(acc)
}

/// Adds two unfolded sums without overflow.
pub fn add(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    s.wrapping_add(u32::from(carry))
}

/// The sum of the IPv6 pseudo-header (RFC 8200 §8.1): source, destination, upper-layer
/// length and next header.
pub fn ipv6_pseudo_sum(src: &Ipv6Addr, dst: &Ipv6Addr, upper_len: u32, next_header: u8) -> u32 {
    let mut acc = add(sum(&src.octets()), sum(&dst.octets()));
    acc = add(acc, (upper_len >> 16) + (upper_len & 0xffff));
    add(acc, u32::from(next_header))
}

/// The sum of the IPv4 pseudo-header (RFC 793 §3.1): source, destination, zero, protocol,
/// upper-layer length.
pub fn ipv4_pseudo_sum(src: &Ipv4Addr, dst: &Ipv4Addr, protocol: u8, upper_len: u16) -> u32 {
    let acc = add(sum(&src.octets()), sum(&dst.octets()));
    add(acc, u32::from(protocol) + u32::from(upper_len))
}

/// RFC 1624 §3 equation 3: the new checksum `HC' = ~(~HC + ~m + m')` after a 16-bit word of
/// the covered data changed from `old` to `new`.
pub fn update16(checksum: u16, old: u16, new: u16) -> u16 {
    let acc = u32::from(!checksum) + u32::from(!old) + u32::from(new);
    !fold(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §3 worked example: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
    #[test]
    fn checksum_rfc1071_3_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(finish(sum(&data)), !0xddf2);
    }

    #[test]
    fn checksum_odd_length_pads_with_zero() {
        assert_eq!(fold(sum(&[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    /// RFC 1624 §4 example: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000.
    #[test]
    fn incremental_rfc1624_4_example() {
        assert_eq!(update16(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    #[test]
    fn incremental_matches_recompute() {
        let mut data: Vec<u8> = (0u8..64).map(|b| b.wrapping_mul(37)).collect();
        let before = finish(sum(&data));
        let old = u16::from_be_bytes([data[10], data[11]]);
        data[10] = 0xab;
        data[11] = 0xcd;
        assert_eq!(update16(before, old, 0xabcd), finish(sum(&data)));
    }

    #[test]
    fn version_checks_bounds() {
        assert_eq!(version(&[]), Err(HeaderError::TooShort));
        assert_eq!(version(&[0x45; 19]), Err(HeaderError::TooShort));
        assert_eq!(version(&[0x45; 20]), Ok(IpVersion::V4));
        assert_eq!(version(&[0x60; 39]), Err(HeaderError::TooShort));
        assert_eq!(version(&[0x60; 40]), Ok(IpVersion::V6));
        assert_eq!(version(&[0x50; 40]), Err(HeaderError::BadVersion));
    }
}
