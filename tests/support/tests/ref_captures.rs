//! The walker against the vendored captures: the counts tshark 4 reports for each file, and
//! the PPTP facts `tests/ref-pcaps/README.md` lists.

use std::net::Ipv4Addr;

use dialgate_test_support::{
    PPTP_LINUX, PPTPD, ref_gre_packets, ref_pcap_names, ref_ppp_frames, ref_pptp_segments,
};

/// (file, pptpd's peer, GRE packets with a PPP frame, acknowledgement-only GRE packets, TCP
/// segments with data), as counted by `tshark -Y 'gre.key.payload_length > 0'`, `... == 0`,
/// `tcp.len > 0`.
const TSHARK_COUNTS: [(&str, Ipv4Addr, usize, usize, usize); 5] = [
    (
        "pptp-linux-nolaunchpppd-to-pptpd.pcap",
        Ipv4Addr::new(10, 77, 0, 1),
        5,
        1,
        5,
    ),
    ("pptpd-vs-pptp-linux-chap.pcap", PPTP_LINUX, 39, 7, 5),
    (
        "pptpd-vs-pptp-linux-mschapv2-mppe128.pcap",
        PPTP_LINUX,
        43,
        8,
        5,
    ),
    ("pptpd-vs-pptp-linux-mschapv2.pcap", PPTP_LINUX, 39, 8, 5),
    ("pptpd-vs-pptp-linux-pap.pcap", PPTP_LINUX, 38, 7, 5),
];

const MPPE128: &str = "pptpd-vs-pptp-linux-mschapv2-mppe128.pcap";

#[test]
fn every_capture_walks_to_the_counts_tshark_reports() {
    let names: Vec<&str> = TSHARK_COUNTS.iter().map(|c| c.0).collect();
    assert_eq!(ref_pcap_names(), names);
    for (name, peer, ppp, ack_only, tcp) in TSHARK_COUNTS {
        let gre = ref_gre_packets(name);
        let frames = ref_ppp_frames(name);
        assert_eq!(frames.len(), ppp, "{name}");
        assert_eq!(gre.len() - frames.len(), ack_only, "{name}");
        assert_eq!(ref_pptp_segments(name).len(), tcp, "{name}");
        for f in &frames {
            f.ppp()
                .unwrap_or_else(|e| panic!("{name} frame {}: {e}", f.number));
            assert!(
                (f.src, f.dst) == (PPTPD, peer) || (f.src, f.dst) == (peer, PPTPD),
                "{name} frame {}",
                f.number
            );
        }
        assert!(
            gre.windows(2)
                .all(|w| w[0].number < w[1].number && w[0].timestamp <= w[1].timestamp),
            "{name}: frames in capture order"
        );
    }
}

/// README: pptp-linux numbers its first GRE data packet 1, pptpd starts at 0; each side
/// then counts up by one (RFC 2637 §4.1), and acknowledgement-only packets carry no
/// sequence number. Each direction carries the receiver's Call ID.
#[test]
fn rfc2637_4_1_gre_sequence_numbers_and_call_ids() {
    let gre = ref_gre_packets(MPPE128);
    // pptpd's Call ID is 0 (its Outgoing-Call-Reply), pptp-linux's 60899.
    for (from, call_id, first_seq) in [(PPTP_LINUX, 0, 1), (PPTPD, 60899, 0)] {
        let sent: Vec<_> = gre.iter().filter(|p| p.src == from).collect();
        assert!(sent.iter().all(|p| p.call_id == call_id), "{from}");
        let seqs: Vec<u32> = sent
            .iter()
            .filter(|p| !p.payload.is_empty())
            .map(|p| p.sequence.expect("data packets are sequenced"))
            .collect();
        let want: Vec<u32> = (first_seq..).take(seqs.len()).collect();
        assert_eq!(seqs, want, "{from}");
        assert!(
            sent.iter()
                .filter(|p| p.payload.is_empty())
                .all(|p| p.sequence.is_none() && p.ack.is_some()),
            "{from}"
        );
    }
    // tshark: frame 17 is pptpd's seq 1 acknowledging pptp-linux's 2.
    let f17 = gre.iter().find(|p| p.number == 17).expect("frame 17");
    assert_eq!((f17.src, f17.sequence, f17.ack), (PPTPD, Some(1), Some(2)));
}

/// README: SCCRQ/SCCRP, OCRQ/OCRP (pptpd's reply carries Call ID 0), and on SIGTERM only a
/// Call-Clear-Request, no Stop-Control-Connection-Request (RFC 2637 §2).
#[test]
fn rfc2637_2_control_connection_messages() {
    let segments = ref_pptp_segments(MPPE128);
    let mut types = Vec::new();
    for s in &segments {
        let m = &s.payload;
        // Length, PPTP Message Type 1 (control), Magic Cookie, Control Message Type.
        assert_eq!(usize::from(u16::from_be_bytes([m[0], m[1]])), m.len());
        assert_eq!(
            m[2..8],
            [0, 1, 0x1a, 0x2b, 0x3c, 0x4d],
            "frame {}",
            s.number
        );
        let from_client = (s.src, s.dst_port) == (PPTP_LINUX, 1723);
        assert!(from_client || (s.src, s.src_port) == (PPTPD, 1723));
        types.push((from_client, u16::from_be_bytes([m[8], m[9]])));
    }
    assert_eq!(
        types,
        [(true, 1), (false, 2), (true, 7), (false, 8), (true, 12)]
    );
    let ocrp = &segments[3].payload;
    // Outgoing-Call-Reply: Call ID 0, Peer's Call ID = the client's 60899.
    assert_eq!(ocrp[12..16], [0, 0, 0xed, 0xe3]);
}
