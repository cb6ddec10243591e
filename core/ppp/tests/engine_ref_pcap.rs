//! Interoperability with real peers: the LCP Configure-Requests that pppd 2.4.9 (pptpd server
//! and pptp-linux client) put on the wire (`tests/ref-pcaps`) are acked by our engine in the
//! matching role, and our own request asks for what pppd asks for (RFC 1661 §6).

mod common;

use std::path::PathBuf;

use dialgate_ppp::auth::Method;
use dialgate_ppp::{Config, Engine};

const SERVER: [u8; 4] = [10, 77, 0, 10];
const CLIENT: [u8; 4] = [10, 77, 0, 11];

fn capture(name: &str) -> Option<Vec<u8>> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("tests/ref-pcaps").join(name))
        .find(|p| p.is_file())
        .and_then(|p| std::fs::read(p).ok())
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The PPP frames of a classic little-endian pcap of Ethernet/IPv4/enhanced GRE
/// (RFC 2637 §4.1), with their IPv4 source.
fn ppp_frames(pcap: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 24;
    while let Some(hdr) = pcap.get(at..at + 16) {
        let caplen = u32::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]) as usize;
        let Some(rec) = pcap.get(at + 16..at + 16 + caplen) else {
            break;
        };
        at += 16 + caplen;
        let parsed = (|| {
            if be16(rec, 12)? != 0x0800 {
                return None;
            }
            let ip = rec.get(14..)?;
            if *ip.get(9)? != 47 {
                return None;
            }
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let gre = ip.get(ihl..usize::from(be16(ip, 2)?))?;
            let flags = be16(gre, 0)?;
            let len = usize::from(be16(gre, 4)?);
            let mut header = 8;
            if flags & 0x1000 != 0 {
                header += 4;
            }
            if flags & 0x0080 != 0 {
                header += 4;
            }
            Some((src, gre.get(header..header + len)?.to_vec()))
        })();
        out.extend(parsed);
    }
    out
}

/// The first LCP Configure-Request `src` sent: its options.
fn first_lcp_request(frames: &[([u8; 4], Vec<u8>)], src: [u8; 4]) -> Option<Vec<u8>> {
    frames.iter().find_map(|(s, f)| {
        let info = f.strip_prefix(&[0xff, 0x03, 0xc0, 0x21])?;
        (*s == src && info.first() == Some(&1)).then(|| {
            let len = usize::from(be16(info, 2).unwrap_or(4));
            info.get(4..len).unwrap_or_default().to_vec()
        })
    })
}

/// Open `engine`, hand it a Configure-Request with `options`, and return its answer.
fn answer(engine: &mut Engine, options: &[u8]) -> Vec<u8> {
    let now = std::time::Instant::now();
    engine.open(now);
    engine.lower_up(now);
    let mut buf = Vec::new();
    while engine.poll_transmit(&mut buf) {}
    let mut frame = vec![0xff, 0x03, 0xc0, 0x21, 1, 0x42];
    frame.extend_from_slice(&((options.len() + 4) as u16).to_be_bytes());
    frame.extend_from_slice(options);
    let _ = engine.handle_frame(now, &mut frame);
    assert!(engine.poll_transmit(&mut buf), "an answer");
    buf
}

fn ack_of(options: &[u8]) -> Vec<u8> {
    let mut want = vec![0xff, 0x03, 0xc0, 0x21, 2, 0x42];
    want.extend_from_slice(&((options.len() + 4) as u16).to_be_bytes());
    want.extend_from_slice(options);
    want
}

/// (capture, what the authenticator's policy must allow)
const CAPTURES: [(&str, Option<Method>); 4] = [
    ("pptpd-vs-pptp-linux-pap.pcap", Some(Method::Pap)),
    ("pptpd-vs-pptp-linux-chap.pcap", Some(Method::ChapMd5)),
    ("pptpd-vs-pptp-linux-mschapv2.pcap", None),
    ("pptpd-vs-pptp-linux-mschapv2-mppe128.pcap", None),
];

fn allow(c: Config, method: Option<Method>) -> Config {
    Config {
        allow_weak_pap_cleartext: method == Some(Method::Pap),
        allow_weak_chap_md5: method == Some(Method::ChapMd5),
        ..c
    }
}

#[test]
fn rfc1661_6_our_server_acks_the_pppd_clients_lcp_request() {
    for (name, method) in CAPTURES {
        let Some(pcap) = capture(name) else {
            panic!("missing capture {name}");
        };
        let frames = ppp_frames(&pcap);
        let options = first_lcp_request(&frames, CLIENT).expect("client LCP request");
        let mut server = Engine::new(allow(common::server(1), method), std::time::Instant::now());
        assert_eq!(answer(&mut server, &options), ack_of(&options), "{name}");
    }
}

#[test]
fn rfc1661_6_2_our_client_acks_the_pptpd_servers_lcp_request() {
    for (name, method) in CAPTURES {
        let pcap = capture(name).expect("capture");
        let frames = ppp_frames(&pcap);
        let options = first_lcp_request(&frames, SERVER).expect("server LCP request");
        let mut client = Engine::new(
            allow(common::client(2, "testuser", "testpass"), method),
            std::time::Instant::now(),
        );
        assert_eq!(answer(&mut client, &options), ack_of(&options), "{name}");
    }
}

#[test]
fn rfc1661_6_our_server_asks_for_what_pppd_asks_for() {
    let pcap = capture("pptpd-vs-pptp-linux-mschapv2-mppe128.pcap").expect("capture");
    let frames = ppp_frames(&pcap);
    let theirs = first_lcp_request(&frames, SERVER).expect("server LCP request");
    let now = std::time::Instant::now();
    let mut server = Engine::new(common::server(1), now);
    server.open(now);
    server.lower_up(now);
    let mut buf = Vec::new();
    assert!(server.poll_transmit(&mut buf));
    let ours = buf.get(8..).expect("options").to_vec();
    // Same options in the same order; only the magic number (type 5) differs.
    let strip_magic = |opts: &[u8]| -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = opts;
        while let [t, l, ..] = *rest {
            let (opt, tail) = rest.split_at(usize::from(l).max(2).min(rest.len()));
            if t != 5 {
                out.push(opt.to_vec());
            }
            rest = tail;
        }
        out
    };
    assert_eq!(
        strip_magic(&ours),
        strip_magic(&theirs),
        "ours {ours:02x?} theirs {theirs:02x?}"
    );
}
