//! Interoperability with real peers: the LCP Configure-Requests that pppd 2.4.9 (pptpd server
//! and pptp-linux client) put on the wire (`tests/ref-pcaps`) are acked by our engine in the
//! matching role, and our own request asks for what pppd asks for (RFC 1661 §6).

mod common;

use std::net::Ipv4Addr;

use dialgate_ppp::auth::Method;
use dialgate_ppp::{Config, Engine};
use dialgate_test_support::{GrePacket, PPTP_LINUX as CLIENT, PPTPD as SERVER, ref_ppp_frames};

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The first LCP Configure-Request `src` sent: its options.
fn first_lcp_request(frames: &[GrePacket], src: Ipv4Addr) -> Option<Vec<u8>> {
    frames.iter().find_map(|f| {
        let info = f.payload.strip_prefix(&[0xff, 0x03, 0xc0, 0x21])?;
        (f.src == src && info.first() == Some(&1)).then(|| {
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
        let frames = ref_ppp_frames(name);
        let options = first_lcp_request(&frames, CLIENT).expect("client LCP request");
        let mut server = Engine::new(allow(common::server(1), method), std::time::Instant::now());
        assert_eq!(answer(&mut server, &options), ack_of(&options), "{name}");
    }
}

#[test]
fn rfc1661_6_2_our_client_acks_the_pptpd_servers_lcp_request() {
    for (name, method) in CAPTURES {
        let frames = ref_ppp_frames(name);
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
    let frames = ref_ppp_frames("pptpd-vs-pptp-linux-mschapv2-mppe128.pcap");
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
