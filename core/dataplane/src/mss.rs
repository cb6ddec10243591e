//! TCP MSS clamping for traffic through sessions.
//!
//! A PPP session's MTU (from the negotiated MRU) is often below the LAN's 1500, and Path MTU
//! discovery through dial-up links fails often enough (ICMP filtered) that every access
//! server rewrites the Maximum Segment Size option (RFC 9293 §3.7.1, option kind 2) of TCP
//! SYN and SYN-ACK segments down to what fits: the session MTU less 40 octets for IPv4
//! (20 IP + 20 TCP) and less 60 for IPv6 (40 + 20). The TCP checksum is fixed up
//! incrementally (RFC 1624 §3, equation 3), so the packet is touched in four octets only.
//!
//! Clamp both directions: packets written to a session and packets a session sends.
//! [`clamp_mss`] never panics, whatever the bytes.

use crate::ip::{self, IpVersion};

/// TCP option kind of the Maximum Segment Size (RFC 9293 §3.2).
const OPT_MSS: u8 = 2;
/// TCP option kind End of Option List.
const OPT_END: u8 = 0;
/// TCP option kind No-Operation.
const OPT_NOP: u8 = 1;
/// The SYN flag in TCP octet 13.
const FLAG_SYN: u8 = 0x02;
/// Minimum TCP header length.
const TCP_MIN_HEADER: usize = 20;
/// At most this many IPv6 extension headers are walked before giving up.
const MAX_EXTENSION_HEADERS: usize = 8;

/// What [`clamp_mss`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MssOutcome {
    /// Not a TCP SYN (other protocol, other flags, a non-first fragment): untouched.
    NotSyn,
    /// A SYN without an MSS option: untouched (the peer then assumes 536 or 1220).
    NoOption,
    /// The MSS option was already small enough.
    Unchanged(u16),
    /// The MSS option was lowered.
    Clamped {
        /// The value the sender advertised.
        from: u16,
        /// The value written.
        to: u16,
    },
    /// The headers do not add up (lengths beyond the packet, a bad option length): untouched.
    Malformed,
}

/// The largest MSS that fits a session MTU: `mtu - 40` for IPv4, `mtu - 60` for IPv6
/// (RFC 9293 §3.7.1 with the fixed header sizes of RFC 791 and RFC 8200).
pub fn max_mss(version: IpVersion, mtu: u16) -> u16 {
    match version {
        IpVersion::V4 => mtu.saturating_sub(40),
        IpVersion::V6 => mtu.saturating_sub(60),
    }
}

/// Lowers the MSS option of a TCP SYN or SYN-ACK in `packet` (an IPv4 or IPv6 packet as read
/// from or written to the TUN) to [`max_mss`] for `mtu`, fixing the TCP checksum.
pub fn clamp_mss(packet: &mut [u8], mtu: u16) -> MssOutcome {
    let Ok(version) = ip::version(packet) else {
        return MssOutcome::Malformed;
    };
    let limit = max_mss(version, mtu);
    let located = match version {
        IpVersion::V4 => tcp_in_ipv4(packet),
        IpVersion::V6 => tcp_in_ipv6(packet),
    };
    let (start, end) = match located {
        Located::Tcp { start, end } => (start, end),
        Located::NotTcp => return MssOutcome::NotSyn,
        Located::Malformed => return MssOutcome::Malformed,
    };
    // Only the TCP segment, as the IP header bounds it.
    let Some(segment) = packet.get_mut(start..end) else {
        return MssOutcome::Malformed;
    };
    clamp_segment(segment, limit)
}

enum Located {
    Tcp { start: usize, end: usize },
    NotTcp,
    Malformed,
}

/// The TCP segment of an IPv4 packet (RFC 791 §3.1): IHL, Total Length, fragment offset.
fn tcp_in_ipv4(packet: &[u8]) -> Located {
    let Some(&first) = packet.first() else {
        return Located::Malformed;
    };
    let header_len = usize::from(first & 0x0f) * 4;
    let total = ip::be16(packet, 2).map(usize::from);
    let (Some(&protocol), Some(frag)) = (packet.get(9), ip::be16(packet, 6)) else {
        return Located::Malformed;
    };
    let Some(total) = total else {
        return Located::Malformed;
    };
    if header_len < ip::IPV4_MIN_HEADER || total < header_len || total > packet.len() {
        return Located::Malformed;
    }
    if protocol != ip::PROTO_TCP || frag & 0x1fff != 0 {
        return Located::NotTcp;
    }
    Located::Tcp {
        start: header_len,
        end: total,
    }
}

/// The TCP segment of an IPv6 packet (RFC 8200 §3, §4), after the extension headers that may
/// precede it: Hop-by-Hop (0), Routing (43), Fragment (44, first fragment only), Destination
/// Options (60), and AH (51, RFC 4302 §2.2).
fn tcp_in_ipv6(packet: &[u8]) -> Located {
    let (Some(payload_len), Some(&first_next)) = (ip::be16(packet, 4), packet.get(6)) else {
        return Located::Malformed;
    };
    let end = ip::IPV6_HEADER + usize::from(payload_len);
    if end > packet.len() {
        return Located::Malformed;
    }
    let mut next = first_next;
    let mut at = ip::IPV6_HEADER;
    for _ in 0..MAX_EXTENSION_HEADERS {
        let header_len = match next {
            ip::PROTO_TCP => return Located::Tcp { start: at, end },
            0 | 43 | 60 => packet.get(at + 1).map(|l| (usize::from(*l) + 1) * 8),
            44 => match ip::be16(packet, at + 2) {
                Some(off) if off >> 3 != 0 => return Located::NotTcp,
                Some(_) => Some(8),
                None => None,
            },
            51 => packet.get(at + 1).map(|l| (usize::from(*l) + 2) * 4),
            _ => return Located::NotTcp,
        };
        let (Some(header_len), Some(&following)) = (header_len, packet.get(at)) else {
            return Located::Malformed;
        };
        next = following;
        at += header_len;
        if at > end {
            return Located::Malformed;
        }
    }
    Located::NotTcp
}

/// Clamps the MSS option of one TCP segment (RFC 9293 §3.1 header, §3.2 options).
fn clamp_segment(segment: &mut [u8], limit: u16) -> MssOutcome {
    let (Some(&offset_byte), Some(&flags)) = (segment.get(12), segment.get(13)) else {
        return MssOutcome::Malformed;
    };
    if flags & FLAG_SYN == 0 {
        return MssOutcome::NotSyn;
    }
    let header_len = usize::from(offset_byte >> 4) * 4;
    if header_len < TCP_MIN_HEADER || header_len > segment.len() {
        return MssOutcome::Malformed;
    }
    let Some(value_at) = find_mss(segment.get(TCP_MIN_HEADER..header_len).unwrap_or_default())
    else {
        return MssOutcome::NoOption;
    };
    let value_at = value_at + TCP_MIN_HEADER;
    let (Some(old), Some(checksum)) = (ip::be16(segment, value_at), ip::be16(segment, 16)) else {
        return MssOutcome::Malformed;
    };
    if old <= limit || limit == 0 {
        return MssOutcome::Unchanged(old);
    }
    // The checksum sums 16-bit words from the segment's first octet; a field at an odd
    // offset straddles two words, which is the same as summing it byte-swapped.
    let (old_word, new_word) = if value_at.is_multiple_of(2) {
        (old, limit)
    } else {
        (old.swap_bytes(), limit.swap_bytes())
    };
    let updated = ip::update16(checksum, old_word, new_word);
    if ip::put_be16(segment, value_at, limit) && ip::put_be16(segment, 16, updated) {
        MssOutcome::Clamped {
            from: old,
            to: limit,
        }
    } else {
        MssOutcome::Malformed
    }
}

/// Offset of the MSS value within the TCP options, if a well-formed MSS option is there.
fn find_mss(options: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(&kind) = options.get(at) {
        match kind {
            OPT_END => return None,
            OPT_NOP => at += 1,
            _ => {
                let len = usize::from(*options.get(at + 1)?);
                if len < 2 || at + len > options.len() {
                    return None;
                }
                if kind == OPT_MSS {
                    return (len == 4).then_some(at + 2);
                }
                at += len;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    /// A TCP header with `options` (padded to 4 octets) and `payload`, checksum zero.
    fn tcp(flags: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut opts = options.to_vec();
        while !opts.len().is_multiple_of(4) {
            opts.push(OPT_END);
        }
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&443u16.to_be_bytes());
        t[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        t[12] = (((20 + opts.len()) / 4) as u8) << 4;
        t[13] = flags;
        t[14..16].copy_from_slice(&64240u16.to_be_bytes());
        t.extend_from_slice(&opts);
        t.extend_from_slice(payload);
        t
    }

    const SRC4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
    const DST4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 80);

    fn ipv4(segment: &[u8]) -> Vec<u8> {
        let total = 20 + segment.len();
        let mut p = vec![0u8; 20];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[6] = 0x40; // DF
        p[8] = 64;
        p[9] = ip::PROTO_TCP;
        p[12..16].copy_from_slice(&SRC4.octets());
        p[16..20].copy_from_slice(&DST4.octets());
        let c = ip::finish(ip::sum(&p[..20]));
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let mut seg = segment.to_vec();
        let acc = ip::add(
            ip::ipv4_pseudo_sum(&SRC4, &DST4, ip::PROTO_TCP, seg.len() as u16),
            ip::sum(&seg),
        );
        let c = ip::finish(acc);
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&seg);
        p
    }

    fn src6() -> Ipv6Addr {
        "2001:db8:1:2::100".parse().unwrap()
    }
    fn dst6() -> Ipv6Addr {
        "2001:db8:ffff::80".parse().unwrap()
    }

    /// IPv6 packet; `ext` is a list of (next-header value of the extension, its bytes).
    fn ipv6(ext: &[(u8, Vec<u8>)], segment: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut first = ip::PROTO_TCP;
        // Chain: fixed header -> ext[0] -> ... -> TCP.
        for (i, (_, bytes)) in ext.iter().enumerate() {
            let mut b = bytes.clone();
            b[0] = ext.get(i + 1).map_or(ip::PROTO_TCP, |(k, _)| *k);
            body.extend_from_slice(&b);
        }
        if let Some((k, _)) = ext.first() {
            first = *k;
        }
        let mut seg = segment.to_vec();
        let acc = ip::add(
            ip::ipv6_pseudo_sum(&src6(), &dst6(), seg.len() as u32, ip::PROTO_TCP),
            ip::sum(&seg),
        );
        let c = ip::finish(acc);
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        body.extend_from_slice(&seg);
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(body.len() as u16).to_be_bytes());
        p[6] = first;
        p[7] = 64;
        p[8..24].copy_from_slice(&src6().octets());
        p[24..40].copy_from_slice(&dst6().octets());
        p.extend_from_slice(&body);
        p
    }

    /// Recomputes the TCP checksum from scratch over the pseudo-header: true when valid.
    fn tcp_checksum_ok_v4(p: &[u8]) -> bool {
        let seg = &p[20..];
        let acc = ip::add(
            ip::ipv4_pseudo_sum(&SRC4, &DST4, ip::PROTO_TCP, seg.len() as u16),
            ip::sum(seg),
        );
        ip::fold(acc) == 0xffff
    }

    fn tcp_checksum_ok_v6(seg: &[u8]) -> bool {
        let acc = ip::add(
            ip::ipv6_pseudo_sum(&src6(), &dst6(), seg.len() as u32, ip::PROTO_TCP),
            ip::sum(seg),
        );
        ip::fold(acc) == 0xffff
    }

    const MSS_1460: [u8; 4] = [OPT_MSS, 4, 0x05, 0xb4];

    #[test]
    fn clamps_ipv4_syn_rfc9293_3_7_1() {
        let mut p = ipv4(&tcp(FLAG_SYN, &MSS_1460, &[]));
        assert!(tcp_checksum_ok_v4(&p));
        assert_eq!(
            clamp_mss(&mut p, 1400),
            MssOutcome::Clamped {
                from: 1460,
                to: 1360
            }
        );
        assert_eq!(ip::be16(&p, 42), Some(1360));
        assert!(
            tcp_checksum_ok_v4(&p),
            "RFC 1624 update must equal a recompute"
        );
    }

    #[test]
    fn clamps_ipv4_syn_ack_with_typical_linux_options() {
        // MSS, SACK-permitted, timestamps, NOP, window scale: the Linux SYN-ACK layout.
        let opts = [
            OPT_MSS, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, OPT_NOP, 3, 3, 7,
        ];
        let mut p = ipv4(&tcp(FLAG_SYN | 0x10, &opts, &[]));
        assert_eq!(
            clamp_mss(&mut p, 1396),
            MssOutcome::Clamped {
                from: 1460,
                to: 1356
            }
        );
        assert!(tcp_checksum_ok_v4(&p));
    }

    #[test]
    fn odd_aligned_mss_option_keeps_the_checksum_rfc1624_3() {
        // One NOP puts the MSS value at TCP offset 23: it straddles two checksum words.
        let opts = [OPT_NOP, OPT_MSS, 4, 0x05, 0xb4, OPT_NOP, OPT_NOP, OPT_NOP];
        let mut p = ipv4(&tcp(FLAG_SYN, &opts, &[]));
        assert_eq!(
            clamp_mss(&mut p, 1400),
            MssOutcome::Clamped {
                from: 1460,
                to: 1360
            }
        );
        assert_eq!(ip::be16(&p, 20 + 23), Some(1360));
        assert!(tcp_checksum_ok_v4(&p));
        // Also with an odd-length payload after it.
        let mut p = ipv4(&tcp(FLAG_SYN, &opts, &[1, 2, 3]));
        assert!(matches!(
            clamp_mss(&mut p, 576),
            MssOutcome::Clamped { to: 536, .. }
        ));
        assert!(tcp_checksum_ok_v4(&p));
    }

    #[test]
    fn clamps_ipv6_syn_minus_60() {
        let mut p = ipv6(&[], &tcp(FLAG_SYN, &[OPT_MSS, 4, 0x05, 0xa0], &[]));
        assert!(tcp_checksum_ok_v6(&p[40..]));
        assert_eq!(
            clamp_mss(&mut p, 1400),
            MssOutcome::Clamped {
                from: 1440,
                to: 1340
            }
        );
        assert!(tcp_checksum_ok_v6(&p[40..]));
    }

    #[test]
    fn clamps_ipv6_after_extension_headers_rfc8200_4() {
        // Hop-by-Hop (8 octets: PadN) then Destination Options (16 octets).
        let hbh = vec![0, 0, 1, 4, 0, 0, 0, 0];
        let mut dst = vec![0u8; 16];
        dst[1] = 1;
        dst[2] = 1;
        dst[3] = 12;
        let mut p = ipv6(&[(0, hbh), (60, dst)], &tcp(FLAG_SYN, &MSS_1460, &[]));
        assert_eq!(
            clamp_mss(&mut p, 1280),
            MssOutcome::Clamped {
                from: 1460,
                to: 1220
            }
        );
        assert!(tcp_checksum_ok_v6(&p[40 + 24..]));
    }

    #[test]
    fn fragments_other_than_the_first_are_left_alone() {
        let mut p = ipv4(&tcp(FLAG_SYN, &MSS_1460, &[]));
        p[6] = 0x00;
        p[7] = 0x10; // offset 16 * 8 octets
        let before = p.clone();
        assert_eq!(clamp_mss(&mut p, 1000), MssOutcome::NotSyn);
        assert_eq!(p, before);

        let frag = vec![0, 0, 0x00, 0x08, 0, 0, 0, 1]; // offset 1, non-first
        let mut p = ipv6(&[(44, frag)], &tcp(FLAG_SYN, &MSS_1460, &[]));
        assert_eq!(clamp_mss(&mut p, 1000), MssOutcome::NotSyn);
        let first = vec![0, 0, 0x00, 0x01, 0, 0, 0, 1]; // offset 0, M set
        let mut p = ipv6(&[(44, first)], &tcp(FLAG_SYN, &MSS_1460, &[]));
        assert!(matches!(
            clamp_mss(&mut p, 1000),
            MssOutcome::Clamped { to: 940, .. }
        ));
    }

    #[test]
    fn leaves_non_syn_small_mss_and_optionless_syn_alone() {
        let mut p = ipv4(&tcp(0x10, &MSS_1460, &[]));
        let before = p.clone();
        assert_eq!(clamp_mss(&mut p, 1000), MssOutcome::NotSyn);
        assert_eq!(p, before);

        let mut p = ipv4(&tcp(FLAG_SYN, &[OPT_MSS, 4, 0x02, 0x18], &[]));
        assert_eq!(clamp_mss(&mut p, 1500), MssOutcome::Unchanged(536));

        let mut p = ipv4(&tcp(FLAG_SYN, &[OPT_NOP, OPT_NOP, 4, 2], &[]));
        assert_eq!(clamp_mss(&mut p, 1000), MssOutcome::NoOption);

        // MSS after End of Option List does not count.
        let mut p = ipv4(&tcp(
            FLAG_SYN,
            &[OPT_END, 0, 0, 0, OPT_MSS, 4, 5, 0xb4],
            &[],
        ));
        assert_eq!(clamp_mss(&mut p, 1000), MssOutcome::NoOption);

        let mut udp = ipv4(&tcp(FLAG_SYN, &MSS_1460, &[]));
        udp[9] = ip::PROTO_UDP;
        assert_eq!(clamp_mss(&mut udp, 1000), MssOutcome::NotSyn);
    }

    #[test]
    fn bad_lengths_are_malformed_not_panics() {
        let good = ipv4(&tcp(FLAG_SYN, &MSS_1460, &[]));
        // Total Length beyond the buffer.
        let mut p = good.clone();
        p[2..4].copy_from_slice(&2000u16.to_be_bytes());
        assert_eq!(clamp_mss(&mut p, 1000), MssOutcome::Malformed);
        // IHL below 5.
        let mut p = good.clone();
        p[0] = 0x44;
        assert_eq!(clamp_mss(&mut p, 1000), MssOutcome::Malformed);
        // TCP data offset beyond the segment.
        let mut p = good.clone();
        p[32] = 0xf0;
        assert_eq!(clamp_mss(&mut p, 1000), MssOutcome::Malformed);
        // MSS option of length 3 is not an MSS option; length 0 stops the walk.
        let mut p = ipv4(&tcp(FLAG_SYN, &[OPT_MSS, 3, 5, OPT_NOP], &[]));
        assert_eq!(clamp_mss(&mut p, 1000), MssOutcome::NoOption);
        let mut p = ipv4(&tcp(FLAG_SYN, &[8, 0, 0, 0], &[]));
        assert_eq!(clamp_mss(&mut p, 1000), MssOutcome::NoOption);
    }

    #[test]
    fn every_truncation_and_mutation_is_safe() {
        let v4 = ipv4(&tcp(FLAG_SYN, &MSS_1460, &[9; 7]));
        let v6 = ipv6(
            &[(0, vec![0, 0, 1, 4, 0, 0, 0, 0])],
            &tcp(FLAG_SYN, &MSS_1460, &[9; 7]),
        );
        for base in [&v4, &v6] {
            for len in 0..=base.len() {
                let mut p = base[..len].to_vec();
                let _ = clamp_mss(&mut p, 1000);
            }
        }
        // Xorshift-driven byte mutations; a clamp that claims success on a packet whose
        // checksum was valid must leave it valid.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut p = if next() % 2 == 0 {
                v4.clone()
            } else {
                v6.clone()
            };
            for _ in 0..(next() % 4 + 1) {
                let at = (next() as usize) % p.len();
                p[at] = next() as u8;
            }
            let _ = clamp_mss(&mut p, (next() % 2000) as u16);
        }
    }

    #[test]
    fn max_mss_per_version() {
        assert_eq!(max_mss(IpVersion::V4, 1500), 1460);
        assert_eq!(max_mss(IpVersion::V6, 1500), 1440);
        assert_eq!(max_mss(IpVersion::V4, 10), 0);
    }
}
