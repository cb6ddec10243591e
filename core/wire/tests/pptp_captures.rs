//! Every PPTP control message (RFC 2637 §2) and enhanced GRE packet (RFC 2637 §4.1) of the
//! reference captures (pptp-linux 1.10.0 against pptpd 1.4.0, see
//! `tests/ref-pcaps/README.md`) parses and re-emits byte-identically, and carries what the
//! README says the real peers send.

// Test-only helpers outside #[test] functions: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;

use dialgate_test_support::pcap::{self, LINKTYPE_ETHERNET};
use dialgate_test_support::{
    PPTP_LINUX, PPTPD, ref_gre_packets, ref_pcap, ref_pcap_names, ref_pptp_segments,
};
use dialgate_wire::gre::{self, SeqNumber};
use dialgate_wire::pptp::{
    self, BearerCapabilities, BearerType, FramingCapabilities, FramingType, GeneralError,
    MessageType, OutgoingCallResult, Repr, StartResult,
};

/// The client of `pptp-linux-nolaunchpppd-to-pptpd.pcap` (pptp-linux without pppd).
const NOLAUNCH_CLIENT: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const NOLAUNCH: &str = "pptp-linux-nolaunchpppd-to-pptpd.pcap";

/// One control message: the frame it arrived in, its sender, and what it parsed to.
#[derive(Debug)]
struct Control {
    frame: usize,
    src: Ipv4Addr,
    repr: Repr,
}

/// Walks each TCP segment's payload message by message using the Length field (no
/// reassembly across segments: none of these captures splits a message), checking that
/// each parses and re-emits byte-identically.
fn control_messages(name: &str) -> Vec<Control> {
    let mut out = Vec::new();
    for segment in ref_pptp_segments(name) {
        let frame = segment.number;
        let mut rest = &segment.payload[..];
        while !rest.is_empty() {
            assert!(
                rest.len() >= pptp::HEADER_LEN,
                "{name} frame {frame}: partial header"
            );
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            assert!(
                len >= pptp::HEADER_LEN && len <= rest.len(),
                "{name} frame {frame}: partial message (Length {len}, {} octets left)",
                rest.len()
            );
            assert_eq!(
                pptp::message_len(rest),
                Ok(Some(len)),
                "{name} frame {frame}"
            );
            let (bytes, tail) = rest.split_at(len);
            let repr = Repr::parse(bytes).unwrap_or_else(|e| panic!("{name} frame {frame}: {e}"));
            let packet = pptp::Packet::new_checked(bytes).unwrap();
            assert!(
                packet.reserved_is_zero(),
                "{name} frame {frame}: reserved fields"
            );
            let mut emitted = Vec::new();
            repr.push(&mut emitted).unwrap();
            assert_eq!(emitted, bytes, "{name} frame {frame}: {repr:?} re-emits");
            out.push(Control {
                frame,
                src: segment.src,
                repr,
            });
            rest = tail;
        }
    }
    out
}

/// The raw GRE packets (IP protocol 47) of a capture, with frame number and IPv4 source:
/// walked here independently of `dialgate_test_support::walk`, whose parsed fields they
/// are then compared with.
fn raw_gre(name: &str) -> Vec<(usize, Ipv4Addr, Vec<u8>)> {
    let bytes = ref_pcap(name);
    let capture = pcap::parse(&bytes).unwrap();
    assert_eq!(capture.link_type, LINKTYPE_ETHERNET);
    let mut out = Vec::new();
    for record in &capture.records {
        let eth = record.data;
        // These captures carry no 802.1Q tags.
        if eth[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &eth[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if ip[9] != gre::IP_PROTOCOL {
            continue;
        }
        let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        out.push((record.number, src, ip[ihl..total].to_vec()));
    }
    out
}

#[test]
fn every_control_message_round_trips_rfc2637_2() {
    for name in ref_pcap_names() {
        let messages = control_messages(&name);
        let types: Vec<MessageType> = messages.iter().map(|m| m.repr.message_type()).collect();
        // SCCRQ/SCCRP, OCRQ/OCRP, then only Call-Clear-Request: no
        // Stop-Control-Connection, no Call-Disconnect-Notify before TCP closes.
        assert_eq!(
            types,
            [
                MessageType::StartControlConnectionRequest,
                MessageType::StartControlConnectionReply,
                MessageType::OutgoingCallRequest,
                MessageType::OutgoingCallReply,
                MessageType::CallClearRequest,
            ],
            "{name}"
        );
    }
}

/// The pptp-linux client's address in capture `name`.
fn client(name: &str) -> Ipv4Addr {
    if name == NOLAUNCH {
        NOLAUNCH_CLIENT
    } else {
        PPTP_LINUX
    }
}

#[test]
fn pptp_linux_sccrq_and_pptpd_sccrp_rfc2637_2_1_and_2_2() {
    for name in ref_pcap_names() {
        let messages = control_messages(&name);
        let Repr::StartControlConnectionRequest(rq) = messages[0].repr else {
            panic!("{name}: first message {:?}", messages[0]);
        };
        assert_eq!(messages[0].src, client(&name), "{name}");
        assert_eq!(rq.protocol_version, pptp::PROTOCOL_VERSION);
        assert_eq!(
            rq.framing_capabilities,
            FramingCapabilities::ASYNCHRONOUS | FramingCapabilities::SYNCHRONOUS
        );
        assert_eq!(
            rq.bearer_capabilities,
            BearerCapabilities::ANALOG | BearerCapabilities::DIGITAL
        );
        assert_eq!((rq.maximum_channels, rq.firmware_revision), (0xffff, 1));
        assert_eq!(rq.host_name.to_str(), Some("local"), "{name}");
        assert_eq!(rq.vendor.to_str(), Some("cananian"), "{name}");

        let Repr::StartControlConnectionReply(rp) = messages[1].repr else {
            panic!("{name}: second message {:?}", messages[1]);
        };
        assert_eq!(messages[1].src, PPTPD, "{name}");
        assert_eq!(rp.protocol_version, pptp::PROTOCOL_VERSION);
        assert_eq!(
            (rp.result, rp.error),
            (StartResult::Success, GeneralError::None)
        );
        // pptpd claims no framing or bearer capability at all.
        assert_eq!(rp.framing_capabilities, FramingCapabilities::empty());
        assert_eq!(rp.bearer_capabilities, BearerCapabilities::empty());
        assert_eq!((rp.maximum_channels, rp.firmware_revision), (1, 1));
        assert_eq!(rp.host_name.to_str(), Some("local"), "{name}");
        assert_eq!(rp.vendor.to_str(), Some("linux"), "{name}");
    }
}

#[test]
fn outgoing_call_with_pptpd_call_id_0_and_clear_rfc2637_2_7_2_8_2_12() {
    for name in ref_pcap_names() {
        let messages = control_messages(&name);
        let Repr::OutgoingCallRequest(rq) = messages[2].repr else {
            panic!("{name}: {:?}", messages[2]);
        };
        assert_eq!(messages[2].src, client(&name));
        assert_eq!(rq.call_serial_number, 0);
        assert_eq!((rq.minimum_bps, rq.maximum_bps), (2400, 10_000_000));
        assert_eq!(
            (rq.bearer_type, rq.framing_type),
            (BearerType::Any, FramingType::Any)
        );
        assert_eq!((rq.receive_window, rq.processing_delay), (3, 0));
        assert_eq!(
            (rq.phone_number(), rq.phone_number.trimmed()),
            (&b""[..], &b""[..])
        );
        assert!(rq.subaddress.is_empty());

        let Repr::OutgoingCallReply(rp) = messages[3].repr else {
            panic!("{name}: {:?}", messages[3]);
        };
        assert_eq!(messages[3].src, PPTPD);
        assert_eq!(rp.call_id, 0, "{name}: pptpd's Call ID");
        assert_eq!(rp.peer_call_id, rq.call_id);
        assert_eq!(
            (rp.result, rp.error),
            (OutgoingCallResult::Connected, GeneralError::None)
        );
        assert_eq!((rp.cause_code, rp.connect_speed), (0, 10_000_000));
        assert_eq!((rp.receive_window, rp.processing_delay), (3, 0));
        assert_eq!(rp.physical_channel_id, 0);

        // pptp-linux clears its own call and closes TCP: no Stop-Control-Connection.
        let Repr::CallClearRequest(clear) = messages[4].repr else {
            panic!("{name}: {:?}", messages[4]);
        };
        assert_eq!(messages[4].src, client(&name));
        assert_eq!(clear.call_id, rq.call_id);
        assert!(messages[4].frame > messages[3].frame);
    }
}

#[test]
fn every_gre_packet_round_trips_rfc2637_4_1() {
    for name in ref_pcap_names() {
        let raw = raw_gre(&name);
        let walked = ref_gre_packets(&name);
        assert_eq!(raw.len(), walked.len(), "{name}");
        assert!(!raw.is_empty());
        for ((frame, src, bytes), w) in raw.iter().zip(&walked) {
            assert_eq!((*frame, *src), (w.number, w.src));
            let packet = gre::Packet::new_checked(&bytes[..])
                .unwrap_or_else(|e| panic!("{name} frame {frame}: {e}"));
            assert_eq!(
                packet.as_bytes().len(),
                bytes.len(),
                "{name} frame {frame}: trailer"
            );
            let repr = gre::Repr::parse(bytes).unwrap();
            assert_eq!(
                (repr.call_id, repr.sequence, repr.ack, repr.payload),
                (w.call_id, w.sequence, w.ack, &w.payload[..]),
                "{name} frame {frame}"
            );
            assert_eq!(repr.is_ack_only(), w.payload.is_empty());
            let mut emitted = Vec::new();
            repr.push(&mut emitted).unwrap();
            assert_eq!(&emitted, bytes, "{name} frame {frame}");
        }
    }
}

#[test]
fn gre_call_ids_and_sequence_numbers_rfc2637_4_1_and_4_2() {
    for name in ref_pcap_names() {
        let messages = control_messages(&name);
        let (Repr::OutgoingCallRequest(ocrq), Repr::OutgoingCallReply(ocrp)) =
            (messages[2].repr, messages[3].repr)
        else {
            panic!("{name}");
        };
        let client = client(&name);
        let mut seqs: Vec<(Ipv4Addr, u32)> = Vec::new();
        let mut ack_only = 0;
        for (frame, src, bytes) in raw_gre(&name) {
            let repr = gre::Repr::parse(&bytes).unwrap();
            // Each side's packets carry the receiver's Call ID.
            let expected = if src == client {
                ocrp.call_id
            } else {
                ocrq.call_id
            };
            assert_eq!(repr.call_id, expected, "{name} frame {frame}");
            if let Some(s) = repr.sequence {
                seqs.push((src, s));
            } else {
                ack_only += 1;
            }
            // An acknowledgment never runs ahead of what the peer has sent.
            if let Some(ack) = repr.ack {
                let peer_last = seqs.iter().rev().find(|(s, _)| *s != src).map(|&(_, n)| n);
                let peer_last = SeqNumber(
                    peer_last.unwrap_or_else(|| panic!("{name} frame {frame}: ack before data")),
                );
                assert!(!SeqNumber(ack).is_after(peer_last), "{name} frame {frame}");
            }
        }
        assert!(ack_only > 0, "{name}: ack-only packets");
        for (sender, first) in [(client, 1), (PPTPD, 0)] {
            let numbers: Vec<u32> = seqs
                .iter()
                .filter(|(s, _)| *s == sender)
                .map(|&(_, n)| n)
                .collect();
            // pptp-linux numbers its first data packet 1, pptpd 0; then one by one.
            assert_eq!(numbers.first(), Some(&first), "{name} {sender}");
            assert!(
                numbers
                    .windows(2)
                    .all(|w| SeqNumber(w[1]) == SeqNumber(w[0]).next()),
                "{name} {sender}: {numbers:?}"
            );
        }
    }
}

#[test]
fn pptp_linux_nolaunchpppd_capture_rfc2637_4_1() {
    // pptp-linux speaking GRE itself: LCP only, and an ack-only packet.
    let packets = ref_gre_packets(NOLAUNCH);
    assert!(
        packets
            .iter()
            .any(|p| p.src == NOLAUNCH_CLIENT && p.payload.is_empty())
    );
    for p in packets.iter().filter(|p| !p.payload.is_empty()) {
        assert_eq!(
            p.protocol(),
            dialgate_wire::ppp::Protocol::LCP,
            "frame {}",
            p.number
        );
    }
    assert_eq!(control_messages(NOLAUNCH)[0].src, NOLAUNCH_CLIENT);
}
