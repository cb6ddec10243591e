//! From pcap records down to the PPTP pieces: Ethernet (with optional 802.1Q tags), IPv4,
//! then enhanced GRE (RFC 2637 §4.1) carrying PPP frames and TCP segments to or from port
//! 1723 carrying the control connection (RFC 2637 §2).
//!
//! Test-only and deliberately small: no checksums, no TCP reassembly, IPv4 fragments are
//! skipped. Everything a reference capture holds must parse; a packet that claims to be
//! enhanced GRE but is not, or a header cut short, is an [`Error`].

use std::net::Ipv4Addr;
use std::time::Duration;

use dialgate_wire::ppp::{Header, Protocol};

use crate::Error;
use crate::pcap::{self, Capture, LINKTYPE_ETHERNET, Record};

/// The PPTP control connection's TCP port (RFC 2637 §2).
pub const PPTP_PORT: u16 = 1723;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const IP_PROTO_TCP: u8 = 6;
const IP_PROTO_GRE: u8 = 47;
/// GRE Protocol Type of PPTP's enhanced GRE (RFC 2637 §4.1).
const GRE_PROTOCOL_PPP: u16 = 0x880b;

/// Where and when a packet was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    number: usize,
    timestamp: Duration,
    src: Ipv4Addr,
    dst: Ipv4Addr,
}

/// An unfragmented IPv4 datagram: where/when, the protocol and the payload.
#[derive(Debug, Clone, Copy)]
struct Ipv4Packet<'a> {
    seen: Seen,
    protocol: u8,
    payload: &'a [u8],
}

/// One enhanced GRE packet (RFC 2637 §4.1), with the IPv4 addresses it travelled between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrePacket {
    /// 1-based frame number in the capture.
    pub number: usize,
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
    /// IPv4 source: the sender.
    pub src: Ipv4Addr,
    /// IPv4 destination.
    pub dst: Ipv4Addr,
    /// The Call ID of the receiver's end of the call (the Key field's low half).
    pub call_id: u16,
    /// The Sequence Number, when the S bit is set.
    pub sequence: Option<u32>,
    /// The Acknowledgment Number, when the A bit is set.
    pub ack: Option<u32>,
    /// The payload: one PPP frame (address/control if present, protocol, information),
    /// or empty for an acknowledgement-only packet.
    pub payload: Vec<u8>,
}

impl GrePacket {
    /// The PPP header and information field, parsed by `dialgate_wire`.
    pub fn ppp(&self) -> Result<(Header, &[u8]), dialgate_wire::Error> {
        Header::parse(&self.payload)
    }

    /// The PPP Protocol field. Panics (a failed test) if the payload is no PPP frame.
    pub fn protocol(&self) -> Protocol {
        self.ppp_or_panic().0.protocol
    }

    /// The PPP information field. Panics (a failed test) if the payload is no PPP frame.
    pub fn info(&self) -> &[u8] {
        self.ppp_or_panic().1
    }

    fn ppp_or_panic(&self) -> (Header, &[u8]) {
        self.ppp()
            .unwrap_or_else(|e| panic!("frame {}: PPP header: {e}", self.number))
    }
}

/// One TCP segment with a payload, to or from [`PPTP_PORT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSegment {
    /// 1-based frame number in the capture.
    pub number: usize,
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
    /// IPv4 source.
    pub src: Ipv4Addr,
    /// IPv4 destination.
    pub dst: Ipv4Addr,
    /// TCP source port.
    pub src_port: u16,
    /// TCP destination port.
    pub dst_port: u16,
    /// TCP sequence number of the first payload octet.
    pub sequence: u32,
    /// The segment's payload: PPTP control messages, possibly split or coalesced.
    pub payload: Vec<u8>,
}

/// Every enhanced GRE packet of a classic pcap file, acknowledgement-only ones included.
pub fn gre_packets(pcap_bytes: &[u8]) -> Result<Vec<GrePacket>, Error> {
    let capture = pcap::parse(pcap_bytes)?;
    let mut out = Vec::new();
    for ip in ipv4_packets(&capture)? {
        if ip.protocol == IP_PROTO_GRE {
            out.extend(gre(ip.seen, ip.payload)?);
        }
    }
    Ok(out)
}

/// The GRE packets that carry a PPP frame, in capture order.
pub fn ppp_frames(pcap_bytes: &[u8]) -> Result<Vec<GrePacket>, Error> {
    let mut frames = gre_packets(pcap_bytes)?;
    frames.retain(|p| !p.payload.is_empty());
    Ok(frames)
}

/// The TCP segments to or from port 1723 that carry data, in capture order.
pub fn pptp_segments(pcap_bytes: &[u8]) -> Result<Vec<TcpSegment>, Error> {
    let capture = pcap::parse(pcap_bytes)?;
    let mut out = Vec::new();
    for ip in ipv4_packets(&capture)? {
        if ip.protocol != IP_PROTO_TCP {
            continue;
        }
        let segment = tcp(ip.seen, ip.payload)?;
        if (segment.src_port == PPTP_PORT || segment.dst_port == PPTP_PORT)
            && !segment.payload.is_empty()
        {
            out.push(segment);
        }
    }
    Ok(out)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The unfragmented IPv4 packets of an Ethernet capture (Ethernet padding removed by the
/// Total Length).
fn ipv4_packets<'a>(capture: &Capture<'a>) -> Result<Vec<Ipv4Packet<'a>>, Error> {
    if capture.link_type != LINKTYPE_ETHERNET {
        return Err(Error::LinkType(capture.link_type));
    }
    let mut out = Vec::new();
    for record in &capture.records {
        if let Some(packet) = ipv4(record)? {
            out.push(packet);
        }
    }
    Ok(out)
}

fn ipv4<'a>(record: &Record<'a>) -> Result<Option<Ipv4Packet<'a>>, Error> {
    let frame = record.number;
    let truncated = |layer| Error::Truncated { frame, layer };
    let eth = record.data;
    // Destination and source MAC, then EtherType, after any 802.1Q / 802.1ad tags.
    let mut at = 12;
    let mut ethertype = be16(eth, at).ok_or(truncated("Ethernet"))?;
    while matches!(ethertype, ETHERTYPE_VLAN | ETHERTYPE_QINQ) {
        at += 4;
        ethertype = be16(eth, at).ok_or(truncated("802.1Q"))?;
    }
    if ethertype != ETHERTYPE_IPV4 {
        return Ok(None);
    }
    let ip = eth.get(at + 2..).unwrap_or_default();

    let first = *ip.first().ok_or(truncated("IPv4"))?;
    if first >> 4 != 4 {
        return Err(Error::Malformed {
            frame,
            what: "IPv4 EtherType, other IP version",
        });
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let total = usize::from(be16(ip, 2).ok_or(truncated("IPv4"))?);
    if ihl < 20 || total < ihl {
        return Err(Error::Malformed {
            frame,
            what: "IPv4 header or total length",
        });
    }
    let ip = ip.get(..total).ok_or(truncated("IPv4"))?;
    let fragment = be16(ip, 6).ok_or(truncated("IPv4"))?;
    // More Fragments set or a non-zero Fragment Offset: not a whole datagram.
    if fragment & 0x3fff != 0 {
        return Ok(None);
    }
    let addr = |at: usize| -> Result<Ipv4Addr, Error> {
        let b: [u8; 4] = ip
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or(truncated("IPv4"))?;
        Ok(Ipv4Addr::from(b))
    };
    let seen = Seen {
        number: frame,
        timestamp: record.timestamp,
        src: addr(12)?,
        dst: addr(16)?,
    };
    let protocol = *ip.get(9).ok_or(truncated("IPv4"))?;
    Ok(Some(Ipv4Packet {
        seen,
        protocol,
        payload: ip.get(ihl..).unwrap_or_default(),
    }))
}

/// Enhanced GRE (RFC 2637 §4.1). Other GRE versions are skipped.
fn gre(seen: Seen, gre: &[u8]) -> Result<Option<GrePacket>, Error> {
    let frame = seen.number;
    let truncated = Error::Truncated {
        frame,
        layer: "GRE",
    };
    let flags = be16(gre, 0).ok_or(truncated)?;
    if flags & 0x0007 != 1 {
        return Ok(None);
    }
    let malformed = |what| Error::Malformed { frame, what };
    if be16(gre, 2).ok_or(truncated)? != GRE_PROTOCOL_PPP {
        return Err(malformed(
            "enhanced GRE whose Protocol Type is not PPP (0x880b)",
        ));
    }
    if flags & 0x2000 == 0 {
        return Err(malformed("enhanced GRE without the Key present bit"));
    }
    let payload_len = usize::from(be16(gre, 4).ok_or(truncated)?);
    let call_id = be16(gre, 6).ok_or(truncated)?;
    let mut at = 8;
    let mut optional = |present: bool| -> Result<Option<u32>, Error> {
        if !present {
            return Ok(None);
        }
        let value = be32(gre, at).ok_or(truncated)?;
        at += 4;
        Ok(Some(value))
    };
    let sequence = optional(flags & 0x1000 != 0)?;
    let ack = optional(flags & 0x0080 != 0)?;
    let payload = gre.get(at..at + payload_len).ok_or(truncated)?;
    Ok(Some(GrePacket {
        number: frame,
        timestamp: seen.timestamp,
        src: seen.src,
        dst: seen.dst,
        call_id,
        sequence,
        ack,
        payload: payload.to_vec(),
    }))
}

/// A TCP segment (RFC 9293 §3.1): ports, sequence number, and the data after the options.
fn tcp(seen: Seen, tcp: &[u8]) -> Result<TcpSegment, Error> {
    let frame = seen.number;
    let truncated = Error::Truncated {
        frame,
        layer: "TCP",
    };
    let data_offset = usize::from(tcp.get(12).ok_or(truncated)? >> 4) * 4;
    if data_offset < 20 {
        return Err(Error::Malformed {
            frame,
            what: "TCP data offset below 5",
        });
    }
    Ok(TcpSegment {
        number: frame,
        timestamp: seen.timestamp,
        src: seen.src,
        dst: seen.dst,
        src_port: be16(tcp, 0).ok_or(truncated)?,
        dst_port: be16(tcp, 2).ok_or(truncated)?,
        sequence: be32(tcp, 4).ok_or(truncated)?,
        payload: tcp.get(data_offset..).ok_or(truncated)?.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcap::build;

    const A: [u8; 4] = [192, 0, 2, 1];
    const B: [u8; 4] = [192, 0, 2, 2];

    /// Ethernet with `tags` 802.1Q tags, then `ethertype` and `payload`.
    fn ethernet(tags: usize, ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02; 12];
        for _ in 0..tags {
            f.extend([0x81, 0x00, 0x00, 0x07]);
        }
        f.extend(ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// An IPv4 header with `options` octets of options, then `payload`.
    fn ipv4(protocol: u8, fragment: u16, options: usize, payload: &[u8]) -> Vec<u8> {
        let ihl = 20 + options;
        let total = (ihl + payload.len()) as u16;
        let mut p = vec![0x40 | (ihl / 4) as u8, 0];
        p.extend(total.to_be_bytes());
        p.extend([0, 1]);
        p.extend(fragment.to_be_bytes());
        p.extend([64, protocol, 0, 0]);
        p.extend(A);
        p.extend(B);
        p.resize(ihl, 1); // NOP options
        p.extend_from_slice(payload);
        p
    }

    fn gre(flags: u16, protocol: u16, call_id: u16, seq_ack: &[u32], ppp: &[u8]) -> Vec<u8> {
        let mut g = flags.to_be_bytes().to_vec();
        g.extend(protocol.to_be_bytes());
        g.extend((ppp.len() as u16).to_be_bytes());
        g.extend(call_id.to_be_bytes());
        for n in seq_ack {
            g.extend(n.to_be_bytes());
        }
        g.extend_from_slice(ppp);
        g
    }

    fn tcp(src_port: u16, dst_port: u16, options: usize, data: &[u8]) -> Vec<u8> {
        let mut t = src_port.to_be_bytes().to_vec();
        t.extend(dst_port.to_be_bytes());
        t.extend(7u32.to_be_bytes());
        t.extend([0; 4]);
        t.push((((20 + options) / 4) as u8) << 4);
        t.extend([0x18, 0, 0, 0, 0, 0, 0]);
        t.resize(20 + options, 1);
        t.extend_from_slice(data);
        t
    }

    fn capture(records: &[Vec<u8>]) -> Vec<u8> {
        let recs: Vec<(u32, u32, &[u8])> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (100, i as u32 * 1000, r.as_slice()))
            .collect();
        build(true, 0xa1b2_c3d4, LINKTYPE_ETHERNET, &recs)
    }

    const LCP: &[u8] = &[0xff, 0x03, 0xc0, 0x21, 9, 1, 0, 8, 1, 2, 3, 4];

    #[test]
    fn rfc2637_4_1_gre_fields_through_vlan_options_and_padding() {
        let data = gre(0x3081, 0x880b, 0x1234, &[5, 9], LCP);
        let mut padded = ethernet(1, 0x0800, &ipv4(47, 0, 4, &data));
        padded.extend([0xee; 6]); // Ethernet padding after the IPv4 Total Length
        let ack_only = ethernet(
            2,
            0x0800,
            &ipv4(47, 0, 0, &gre(0x2081, 0x880b, 7, &[4], &[])),
        );
        let records = [
            ethernet(0, 0x0806, &[0; 28]),                                   // ARP
            ethernet(0, 0x0800, &ipv4(47, 0x2000, 0, &data)),                // first fragment
            ethernet(0, 0x0800, &ipv4(47, 0x0010, 0, b"tail")),              // later fragment
            ethernet(0, 0x0800, &ipv4(47, 0, 0, &[0, 0, 0x08, 0x00, 0x45])), // GRE version 0
            padded,
            ack_only,
            ethernet(0, 0x0800, &ipv4(17, 0, 0, &[0; 8])), // UDP
        ];
        let pcap = capture(&records);
        let all = gre_packets(&pcap).expect("walks");
        assert_eq!(all.len(), 2);
        let p = &all[0];
        assert_eq!(p.number, 5);
        assert_eq!(p.timestamp, Duration::new(100, 4_000_000));
        assert_eq!((p.src, p.dst), (Ipv4Addr::from(A), Ipv4Addr::from(B)));
        assert_eq!((p.call_id, p.sequence, p.ack), (0x1234, Some(5), Some(9)));
        assert_eq!(p.payload, LCP);
        assert_eq!(p.protocol(), Protocol::LCP);
        assert_eq!(p.info(), &LCP[4..]);
        let a = &all[1];
        assert_eq!(
            (a.number, a.call_id, a.sequence, a.ack),
            (6, 7, None, Some(4))
        );
        assert!(a.payload.is_empty());
        assert_eq!(ppp_frames(&pcap).expect("walks"), all[..1]);
    }

    #[test]
    fn rfc2637_2_control_connection_segments() {
        let records = [
            ethernet(0, 0x0800, &ipv4(6, 0, 0, &tcp(40000, 1723, 12, b"sccrq"))),
            ethernet(0, 0x0800, &ipv4(6, 0, 0, &tcp(1723, 40000, 0, b""))), // bare ACK
            ethernet(0, 0x0800, &ipv4(6, 0, 0, &tcp(1723, 40000, 0, b"sccrp"))),
            ethernet(0, 0x0800, &ipv4(6, 0, 0, &tcp(22, 40001, 0, b"ssh"))),
        ];
        let segs = pptp_segments(&capture(&records)).expect("walks");
        assert_eq!(segs.len(), 2);
        assert_eq!(
            (
                segs[0].number,
                segs[0].src_port,
                segs[0].dst_port,
                segs[0].sequence
            ),
            (1, 40000, 1723, 7)
        );
        assert_eq!(segs[0].payload, b"sccrq");
        assert_eq!((segs[1].number, &segs[1].payload[..]), (3, &b"sccrp"[..]));
    }

    #[test]
    fn not_enhanced_gre_or_cut_short_is_an_error() {
        let walk = |frame: Vec<u8>| gre_packets(&capture(&[frame]));
        let ip_gre = |g: Vec<u8>| ethernet(0, 0x0800, &ipv4(47, 0, 0, &g));
        assert!(matches!(
            walk(ip_gre(gre(0x3001, 0x0800, 1, &[1], LCP))),
            Err(Error::Malformed { frame: 1, .. })
        ));
        assert!(matches!(
            walk(ip_gre(gre(0x1001, 0x880b, 1, &[1], LCP))),
            Err(Error::Malformed { frame: 1, .. })
        ));
        // Payload Length past the end, and the sequence number missing.
        let mut long = gre(0x3001, 0x880b, 1, &[1], LCP);
        long.truncate(long.len() - 1);
        assert_eq!(
            walk(ip_gre(long)),
            Err(Error::Truncated {
                frame: 1,
                layer: "GRE"
            })
        );
        assert_eq!(
            walk(ip_gre(gre(0x3001, 0x880b, 1, &[], &[]))),
            Err(Error::Truncated {
                frame: 1,
                layer: "GRE"
            })
        );
        // IPv4 Total Length past the captured bytes; a short Ethernet header.
        let mut ip = ipv4(47, 0, 0, &gre(0x3001, 0x880b, 1, &[1], LCP));
        ip.truncate(ip.len() - 2);
        assert_eq!(
            walk(ethernet(0, 0x0800, &ip)),
            Err(Error::Truncated {
                frame: 1,
                layer: "IPv4"
            })
        );
        assert_eq!(
            walk(vec![0; 13]),
            Err(Error::Truncated {
                frame: 1,
                layer: "Ethernet"
            })
        );
        // Linux cooked capture: not walked.
        let sll = build(true, 0xa1b2_c3d4, 113, &[(0, 0, &[0; 16])]);
        assert_eq!(gre_packets(&sll), Err(Error::LinkType(113)));
    }
}
