//! Per-session capture: a bounded ring of the session's last PPP frames, both directions, with
//! their arrival times, written out as a pcap file (`GET /v1/sessions/{id}/pcap`).
//!
//! Off by default (`[limits] capture_packets = 0`): a session then has no ring, and the data
//! path pays one branch per frame. When on, each session keeps at most `capture_packets`
//! frames of at most `capture_snaplen` octets each, allocated as frames arrive and reused once
//! the ring is full: memory per session stays below `capture_packets * capture_snaplen` plus a
//! few words per frame, whatever the peer sends. Recording is one short lock and one copy.
//!
//! The file is pcap (microsecond timestamps) with link type `LINKTYPE_PPP_WITH_DIR` (204): a
//! direction octet (0 received from the peer, 1 sent to it) before each frame, the frame in
//! HDLC-like framing without flags and FCS (RFC 1662 §3): address and control `FF 03` are
//! added when the link left them out (RFC 1661 §6.5 ACFC) and a compressed protocol field is
//! widened to two octets (§6.6 PFC), so Wireshark and tshark dissect every frame.
//!
//! Secrets are not exported: the data of PAP Authenticate-Requests (RFC 1334 §2.2.1, the
//! password in clear) and the values of CHAP Responses (RFC 1994 §4.1, an offline-crackable
//! hash) are zeroed in the file. Frames under MPPE are encrypted (RFC 3078) and stay so.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

use crate::time::Timestamp;

/// The pcap link type of PPP with a direction octet.
pub const LINKTYPE_PPP_WITH_DIR: u32 = 204;
/// The most frames a ring may keep (`[limits] capture_packets`).
pub const MAX_PACKETS: u32 = 4096;
/// The smallest and largest `[limits] capture_snaplen`.
pub const SNAPLEN_RANGE: (u32, u32) = (64, 65_535);

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from the peer.
    In,
    /// Sent to the peer.
    Out,
}

#[derive(Debug)]
struct Record {
    at: Instant,
    out: bool,
    orig_len: u32,
    data: Vec<u8>,
}

#[derive(Debug)]
struct Ring {
    records: VecDeque<Record>,
    max: usize,
    snaplen: usize,
}

/// One session's capture ring.
#[derive(Debug)]
pub struct Capture {
    ring: Mutex<Ring>,
}

impl Capture {
    /// A ring of `packets` frames of at most `snaplen` octets; `None` when `packets` is 0
    /// (capture off).
    pub fn new(packets: u32, snaplen: u32) -> Option<Capture> {
        if packets == 0 {
            return None;
        }
        let max = packets.min(MAX_PACKETS) as usize;
        Some(Capture {
            ring: Mutex::new(Ring {
                records: VecDeque::new(),
                max,
                snaplen: snaplen.clamp(SNAPLEN_RANGE.0, SNAPLEN_RANGE.1) as usize,
            }),
        })
    }

    /// Records one PPP frame (as the link plugin delivers or takes it).
    pub fn record(&self, at: Instant, dir: Direction, frame: &[u8]) {
        let mut ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let keep = frame.len().min(ring.snaplen);
        let mut data = if ring.records.len() >= ring.max {
            ring.records.pop_front().map(|r| r.data).unwrap_or_default()
        } else {
            Vec::with_capacity(keep)
        };
        data.clear();
        data.extend_from_slice(&frame[..keep]);
        ring.records.push_back(Record {
            at,
            out: dir == Direction::Out,
            orig_len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
            data,
        });
    }

    /// Frames kept now.
    pub fn len(&self) -> usize {
        self.ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .records
            .len()
    }

    /// Whether no frame is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ring as a pcap file; `started` (wall clock) and `started_at` (monotonic) are the
    /// same instant, the session's start, and date the frames.
    pub fn pcap(&self, started: Timestamp, started_at: Instant) -> Vec<u8> {
        let ring = self
            .ring
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let snaplen = ring.snaplen as u32 + 4;
        let mut out = Vec::with_capacity(24 + ring.records.len() * (ring.snaplen + 24));
        pcap_header(&mut out, snaplen);
        let base_us = started.ms_since(Timestamp::EPOCH).saturating_mul(1000);
        let mut frame = Vec::with_capacity(ring.snaplen + 4);
        for r in &ring.records {
            let offset = r.at.saturating_duration_since(started_at).as_micros();
            let us = base_us.saturating_add(u64::try_from(offset).unwrap_or(u64::MAX));
            frame.clear();
            frame.push(u8::from(r.out));
            let added = hdlc_like(&r.data, &mut frame);
            let orig = r.orig_len.saturating_add(1 + added);
            push_record(&mut out, us, &frame, orig);
        }
        out
    }
}

/// The pcap global header (microsecond resolution, version 2.4).
fn pcap_header(out: &mut Vec<u8>, snaplen: u32) {
    out.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&snaplen.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_PPP_WITH_DIR.to_le_bytes());
}

fn push_record(out: &mut Vec<u8>, us: u64, data: &[u8], orig_len: u32) {
    let secs = u32::try_from(us / 1_000_000).unwrap_or(u32::MAX);
    let micros = (us % 1_000_000) as u32;
    let incl = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&secs.to_le_bytes());
    out.extend_from_slice(&micros.to_le_bytes());
    out.extend_from_slice(&incl.to_le_bytes());
    out.extend_from_slice(&orig_len.max(incl).to_le_bytes());
    out.extend_from_slice(data);
}

/// PPP Authentication Protocol (RFC 1334 §2).
const PAP: u16 = 0xC023;
/// Challenge-Handshake Authentication Protocol (RFC 1994 §4).
const CHAP: u16 = 0xC223;

/// Appends `frame` to `out` in HDLC-like framing with a two-octet protocol field, secrets
/// zeroed; answers how many octets were added (address, control, protocol widening).
fn hdlc_like(frame: &[u8], out: &mut Vec<u8>) -> u32 {
    let mut added = 0;
    let rest = match frame {
        [0xFF, 0x03, rest @ ..] => rest,
        rest => {
            added += 2;
            rest
        }
    };
    out.extend_from_slice(&[0xFF, 0x03]);
    // RFC 1661 §2: protocol values are odd in their last octet and even in the first, so a
    // first octet with its low bit set is a compressed (one-octet) field.
    let (protocol, info) = match rest {
        [p, info @ ..] if p & 1 == 1 => {
            added += 1;
            (u16::from(*p), info)
        }
        [hi, lo, info @ ..] => (u16::from_be_bytes([*hi, *lo]), info),
        other => {
            out.extend_from_slice(other);
            return added;
        }
    };
    out.extend_from_slice(&protocol.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(info);
    let info = &mut out[start..];
    match (protocol, info) {
        // PAP Authenticate-Request: Code 1, then Peer-ID and Password (RFC 1334 §2.2.1).
        (PAP, [1, _, _, _, data @ ..]) => data.fill(0),
        // CHAP Response: Code 2, then Value-Size and Value (RFC 1994 §4.1); the name stays.
        (CHAP, [2, _, _, _, size, rest @ ..]) => {
            let n = usize::from(*size).min(rest.len());
            if let Some(value) = rest.get_mut(..n) {
                value.fill(0);
            }
        }
        _ => {}
    }
    added
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    const LCP_CONF_REQ: &[u8] = &[0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4];

    #[test]
    fn off_means_no_ring() {
        assert!(Capture::new(0, 256).is_none());
    }

    #[test]
    fn the_ring_keeps_the_newest_frames_truncated_to_the_snaplen() {
        let c = Capture::new(3, 64).unwrap();
        let t0 = Instant::now();
        for i in 0..5u8 {
            c.record(t0, Direction::In, &[0xC0, 0x21, 9, i, 0, 8, 0, 0, 0, 0]);
        }
        assert_eq!(c.len(), 3);
        c.record(t0, Direction::Out, &[0u8; 1000]);
        let pcap = c.pcap(Timestamp::from_unix_ms(1_000), t0);
        // Header, then three records; the last is cut to 64 octets plus the 4 added.
        assert_eq!(&pcap[..4], &0xa1b2_c3d4_u32.to_le_bytes());
        assert_eq!(&pcap[20..24], &204u32.to_le_bytes());
        let mut at = 24;
        let mut lens = Vec::new();
        while at < pcap.len() {
            let incl = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
            let orig = u32::from_le_bytes(pcap[at + 12..at + 16].try_into().unwrap()) as usize;
            lens.push((pcap[at + 16], incl, orig));
            at += 16 + incl;
        }
        assert_eq!(at, pcap.len());
        // The newest three remain (the oldest dropped), widened with FF 03 and the direction
        // octet; the long one (protocol 0x0000, not compressed) is cut to the snaplen.
        assert_eq!(
            lens,
            [(0, 13, 13), (0, 13, 13), (1, 1 + 2 + 64, 1 + 2 + 1000)]
        );
    }

    #[test]
    fn frames_are_put_in_hdlc_like_framing_rfc1662_3() {
        let mut out = Vec::new();
        assert_eq!(hdlc_like(LCP_CONF_REQ, &mut out), 0);
        assert_eq!(out, LCP_CONF_REQ);
        out.clear();
        // ACFC and PFC (RFC 1661 §6.5, §6.6): IPv4 as a one-octet protocol 0x21.
        assert_eq!(hdlc_like(&[0x21, 0x45, 0], &mut out), 3);
        assert_eq!(out, [0xFF, 0x03, 0x00, 0x21, 0x45, 0]);
    }

    #[test]
    fn secrets_are_zeroed_rfc1334_2_2_1_rfc1994_4_1() {
        let mut out = Vec::new();
        // PAP Authenticate-Request: peer "al", password "pw".
        hdlc_like(
            &[0xC0, 0x23, 1, 7, 0, 10, 2, b'a', b'l', 2, b'p', b'w'],
            &mut out,
        );
        assert_eq!(&out[4..8], &[1, 7, 0, 10], "header kept");
        assert!(out[8..].iter().all(|b| *b == 0), "{out:?}");
        out.clear();
        // CHAP Response: value 3 octets, name "bob".
        hdlc_like(
            &[0xC2, 0x23, 2, 1, 0, 11, 3, 9, 9, 9, b'b', b'o', b'b'],
            &mut out,
        );
        assert_eq!(&out[8..], &[3, 0, 0, 0, b'b', b'o', b'b']);
        out.clear();
        // A CHAP Challenge is not secret.
        hdlc_like(&[0xC2, 0x23, 1, 1, 0, 8, 1, 9, b'x'], &mut out);
        assert_eq!(&out[8..], &[1, 9, b'x']);
    }

    #[test]
    fn timestamps_follow_the_session_start() {
        let c = Capture::new(4, 256).unwrap();
        let t0 = Instant::now();
        c.record(
            t0 + Duration::from_micros(2_500_123),
            Direction::In,
            LCP_CONF_REQ,
        );
        let pcap = c.pcap(Timestamp::from_unix_ms(10_000), t0);
        let secs = u32::from_le_bytes(pcap[24..28].try_into().unwrap());
        let us = u32::from_le_bytes(pcap[28..32].try_into().unwrap());
        assert_eq!((secs, us), (12, 500_123));
    }

    /// tshark (Debian's, listed in tests/apt-packages.txt) reads the file and dissects LCP in
    /// both directions and IPCP.
    #[test]
    fn tshark_dissects_the_file() {
        if std::process::Command::new("tshark")
            .arg("-v")
            .output()
            .is_err()
        {
            eprintln!("tshark not installed: skipped (tests/run-all.sh installs it)");
            return;
        }
        let c = Capture::new(16, 1600).unwrap();
        let t0 = Instant::now();
        c.record(t0, Direction::Out, LCP_CONF_REQ);
        c.record(t0, Direction::In, &[0xFF, 0x03, 0xC0, 0x21, 2, 1, 0, 4]);
        c.record(
            t0,
            Direction::In,
            &[0x80, 0x21, 1, 1, 0, 10, 3, 6, 192, 0, 2, 1],
        );
        let dir = std::env::temp_dir().join(format!("dg-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.pcap");
        std::fs::write(&file, c.pcap(Timestamp::now(), t0)).unwrap();
        let out = std::process::Command::new("tshark")
            .args(["-r"])
            .arg(&file)
            .args([
                "-T",
                "fields",
                "-e",
                "ppp.direction",
                "-e",
                "frame.protocols",
            ])
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = text.lines().collect();
        // tshark's ppp.direction is 0 for sent and 1 for received (the file's octet is 1
        // for sent: libpcap's PPP_WITHDIRECTION_OUT).
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with('0') && lines[0].contains("lcp"),
            "{text}"
        );
        assert!(
            lines[1].starts_with('1') && lines[1].contains("lcp"),
            "{text}"
        );
        assert!(lines[2].contains("ipcp"), "{text}");
    }
}
