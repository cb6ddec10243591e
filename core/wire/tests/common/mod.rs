//! Test-only reader for the reference captures: classic pcap, Ethernet, IPv4, enhanced GRE
//! (RFC 2637 §4.1), down to the PPP frames.

#![allow(dead_code)]

use std::path::PathBuf;

/// The directory of the reference captures: `shared/ref-pcaps` beside the repository (or
/// beside any of its ancestors, for worktrees), or `$DIALGATE_REF_PCAPS`.
pub fn ref_pcaps_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DIALGATE_REF_PCAPS") {
        return PathBuf::from(dir);
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/ref-pcaps"))
        .find(|d| d.join("README.md").is_file())
        .expect("shared/ref-pcaps not found beside the repository; set DIALGATE_REF_PCAPS")
}

/// Every `*.pcap` in the reference directory, sorted.
pub fn ref_pcaps() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(ref_pcaps_dir())
        .expect("read ref-pcaps")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no captures found");
    files
}

/// One PPP frame carried in GRE.
#[derive(Debug, Clone)]
pub struct GreFrame {
    /// 1-based frame number in the capture (as tshark counts).
    pub number: usize,
    /// IPv4 source address.
    pub src: [u8; 4],
    /// The GRE Call ID.
    pub call_id: u16,
    /// The PPP frame: address/control (if present), protocol, information.
    pub ppp: Vec<u8>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The raw records of a classic pcap file.
pub fn records(bytes: &[u8]) -> Vec<Vec<u8>> {
    let magic = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        other => panic!("not a classic pcap: magic {other:#x}"),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    assert_eq!(u32_at(20), 1, "link type must be Ethernet");
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = u32_at(at + 8) as usize;
        let start = at + 16;
        out.push(bytes[start..start + caplen].to_vec());
        at = start + caplen;
    }
    assert_eq!(at, bytes.len(), "trailing bytes in pcap");
    out
}

/// Walk Ethernet / IPv4 / GRE (protocol 0x880b) to the PPP frames. GRE packets without a
/// payload (acknowledgement only) are skipped.
pub fn gre_frames(bytes: &[u8]) -> Vec<GreFrame> {
    let mut frames = Vec::new();
    for (i, rec) in records(bytes).iter().enumerate() {
        if rec.len() < 14 || be16(rec, 12) != 0x0800 {
            continue;
        }
        let ip = &rec[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let total = usize::from(be16(ip, 2));
        if ip[9] != 47 {
            continue;
        }
        let src = ip[12..16].try_into().unwrap();
        let gre = &ip[ihl..total];
        let flags = be16(gre, 0);
        assert_eq!(be16(gre, 2), 0x880b, "GRE protocol must be PPP");
        assert_eq!(flags & 0x2000, 0x2000, "enhanced GRE always has the key");
        let payload_len = usize::from(be16(gre, 4));
        let call_id = be16(gre, 6);
        let mut header = 8;
        if flags & 0x1000 != 0 {
            header += 4; // sequence number
        }
        if flags & 0x0080 != 0 {
            header += 4; // acknowledgement number
        }
        if payload_len == 0 {
            continue;
        }
        let ppp = gre[header..header + payload_len].to_vec();
        frames.push(GreFrame {
            number: i + 1,
            src,
            call_id,
            ppp,
        });
    }
    frames
}
