//! Every control packet in the reference captures (real pppd/pptpd/pptp-linux sessions, see
//! `tests/ref-pcaps/README.md`) parses and re-emits byte-identically, and carries the values
//! the README documents.

// Test-only helpers outside #[test] functions: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;

use dialgate_test_support::{GrePacket, ref_pcap_names, ref_ppp_frames};
use dialgate_wire::ccp::{CcpOption, MppeBits, MppeHeader};
use dialgate_wire::chap::{self, mschap};
use dialgate_wire::cp::{self, Code, OptionRepr};
use dialgate_wire::ipcp::IpcpOption;
use dialgate_wire::ipv6cp::Ipv6cpOption;
use dialgate_wire::ipxcp::IpxcpOption;
use dialgate_wire::lcp::{self, AuthProtocol, ChapAlgorithm, LcpOption};
use dialgate_wire::nbfcp::NbfcpOption;
use dialgate_wire::pap;
use dialgate_wire::ppp::{Header, Protocol};

/// What one capture contained, for the per-capture assertions.
#[derive(Debug, Default)]
struct Seen {
    control_packets: usize,
    data_frames: usize,
    auth: Vec<AuthProtocol<'static>>,
    chap_names: Vec<Vec<u8>>,
    pap_requests: Vec<(Vec<u8>, Vec<u8>)>,
    pap_acks: Vec<Vec<u8>>,
    v2_success_messages: Vec<Vec<u8>>,
    v2_responses: usize,
    mppe_bits: Vec<MppeBits>,
    ipcp_naks: Vec<Ipv4Addr>,
    interface_ids: usize,
    /// (LCP code, had FF 03) for every LCP frame.
    lcp_address_control: Vec<(u8, bool)>,
    /// Non-LCP frames that carried FF 03.
    other_with_address_control: usize,
    /// Data frames with a two-octet protocol field.
    data_uncompressed_protocol: usize,
}

fn reemit_options<'a, O: OptionRepr<'a> + std::fmt::Debug>(data: &'a [u8], frame: usize) -> Vec<O> {
    let mut out = Vec::new();
    let mut parsed = Vec::new();
    for opt in O::parse_list(data) {
        let opt = opt.unwrap_or_else(|e| panic!("frame {frame}: option: {e}"));
        opt.push(&mut out).unwrap();
        parsed.push(opt);
    }
    assert_eq!(out, data, "frame {frame}: options re-emit");
    parsed
}

fn static_auth(a: AuthProtocol<'_>) -> AuthProtocol<'static> {
    match a {
        AuthProtocol::Pap => AuthProtocol::Pap,
        AuthProtocol::Chap(alg) => AuthProtocol::Chap(alg),
        AuthProtocol::Other { protocol, .. } => AuthProtocol::Other {
            protocol,
            data: &[],
        },
    }
}

fn check_frame(f: &GrePacket, seen: &mut Seen) {
    let n = f.number;
    let (header, payload) = Header::parse(&f.payload).unwrap_or_else(|e| panic!("frame {n}: {e}"));
    let mut again = Vec::new();
    header.push_frame(payload, &mut again);
    assert_eq!(again, f.payload, "frame {n}: PPP header re-emit");
    let has_ac = !header.acfc;

    let proto = header.protocol;
    if proto.is_network_layer() {
        seen.data_frames += 1;
        if !header.pfc {
            seen.data_uncompressed_protocol += 1;
        }
        if has_ac {
            seen.other_with_address_control += 1;
        }
        if proto == Protocol::COMPRESSED {
            let h = MppeHeader::parse(payload).unwrap();
            assert!(h.encrypted, "frame {n}: MPPE data must be encrypted");
            let mut buf = [0u8; 2];
            h.emit(&mut buf).unwrap();
            assert_eq!(buf, payload[..2]);
        }
        return;
    }

    seen.control_packets += 1;
    match proto {
        Protocol::PAP => {
            let repr = pap::Repr::parse(payload).unwrap();
            let mut out = Vec::new();
            repr.push(&mut out).unwrap();
            assert_eq!(out, payload, "frame {n}: PAP re-emit");
            match repr.body {
                pap::Body::Request { peer_id, password } => seen
                    .pap_requests
                    .push((peer_id.to_vec(), password.to_vec())),
                pap::Body::Ack { message } => seen.pap_acks.push(message.to_vec()),
                pap::Body::Nak { .. } => {}
            }
        }
        Protocol::CHAP => {
            let repr = chap::Repr::parse(payload).unwrap();
            let mut out = Vec::new();
            repr.push(&mut out).unwrap();
            assert_eq!(out, payload, "frame {n}: CHAP re-emit");
            match repr.body {
                chap::Body::Challenge { name, .. } => seen.chap_names.push(name.to_vec()),
                chap::Body::Response { value, name } => {
                    seen.chap_names.push(name.to_vec());
                    if value.len() == mschap::RESPONSE_LEN {
                        let r = mschap::V2Response::parse(value).unwrap();
                        assert_eq!((r.reserved, r.flags), ([0; 8], 0), "frame {n}");
                        assert_eq!(r.to_bytes(), value);
                        seen.v2_responses += 1;
                    }
                }
                chap::Body::Success { message } if message.starts_with(b"S=") => {
                    let s = mschap::V2Success::parse(message).unwrap();
                    let mut out = Vec::new();
                    s.push(&mut out);
                    assert_eq!(out, message, "frame {n}: MS-CHAPv2 Success re-format");
                    seen.v2_success_messages
                        .push(s.message.unwrap_or_default().to_vec());
                }
                _ => {}
            }
        }
        _ => {
            let repr = cp::Repr::parse(payload).unwrap_or_else(|e| panic!("frame {n}: {e}"));
            let mut out = Vec::new();
            repr.push(&mut out).unwrap();
            assert_eq!(
                out, payload,
                "frame {n}: control packet re-emit (no padding expected)"
            );
            let code = u8::from(repr.code);
            if proto == Protocol::LCP {
                seen.lcp_address_control.push((code, has_ac));
            } else if has_ac {
                seen.other_with_address_control += 1;
            }
            if repr.code.carries_options() {
                check_options(proto, repr.code, repr.data, n, seen);
            } else if proto == Protocol::LCP
                && matches!(
                    repr.code,
                    Code::EchoRequest | Code::EchoReply | Code::DiscardRequest
                )
            {
                let echo = lcp::MagicData::parse(repr.data).unwrap();
                let mut out = Vec::new();
                echo.push_packet(&mut out, repr.code, repr.identifier)
                    .unwrap();
                assert_eq!(out, payload, "frame {n}: echo re-emit");
            } else if proto == Protocol::LCP && repr.code == Code::ProtocolReject {
                let pr = lcp::ProtocolReject::parse(repr.data).unwrap();
                assert!(pr.protocol.is_valid());
            }
        }
    }
}

fn check_options(proto: Protocol, code: Code, data: &[u8], n: usize, seen: &mut Seen) {
    match proto {
        Protocol::LCP => {
            for opt in reemit_options::<LcpOption<'_>>(data, n) {
                if let (LcpOption::AuthProtocol(a), Code::ConfigureRequest) = (opt, code) {
                    seen.auth.push(static_auth(a));
                }
            }
        }
        Protocol::IPCP => {
            for opt in reemit_options::<IpcpOption<'_>>(data, n) {
                if let (IpcpOption::IpAddress(a), Code::ConfigureNak) = (opt, code) {
                    seen.ipcp_naks.push(a);
                }
            }
        }
        Protocol::IPV6CP => {
            for opt in reemit_options::<Ipv6cpOption<'_>>(data, n) {
                if matches!(opt, Ipv6cpOption::InterfaceIdentifier(_)) {
                    seen.interface_ids += 1;
                }
            }
        }
        Protocol::CCP => {
            for opt in reemit_options::<CcpOption<'_>>(data, n) {
                if let CcpOption::Mppe(bits) = opt {
                    seen.mppe_bits.push(bits);
                }
            }
        }
        Protocol::IPXCP => {
            reemit_options::<IpxcpOption<'_>>(data, n);
        }
        Protocol::NBFCP => {
            reemit_options::<NbfcpOption<'_>>(data, n);
        }
        other => panic!("frame {n}: unexpected control protocol {other:?}"),
    }
}

fn scan(name: &str) -> Seen {
    let mut seen = Seen::default();
    for f in ref_ppp_frames(name) {
        check_frame(&f, &mut seen);
    }
    seen
}

/// The README's ACFC fact: after negotiation only LCP codes 1-7 keep `FF 03`; Echo, CHAP,
/// NCPs and data drop it, and data uses a one-octet protocol field.
fn assert_real_peer_framing(seen: &Seen) {
    assert!(!seen.lcp_address_control.is_empty());
    for &(code, has_ac) in &seen.lcp_address_control {
        assert_eq!(has_ac, (1..=7).contains(&code), "LCP code {code}");
    }
    assert!(
        seen.lcp_address_control
            .iter()
            .any(|&(c, _)| c == 9 || c == 10)
    );
    assert_eq!(seen.other_with_address_control, 0);
    assert!(seen.data_frames > 0);
    assert_eq!(seen.data_uncompressed_protocol, 0);
}

fn assert_ipcp_and_ipv6cp(seen: &Seen) {
    assert!(
        seen.ipcp_naks.contains(&Ipv4Addr::new(10, 77, 1, 100)),
        "{:?}",
        seen.ipcp_naks
    );
    assert!(seen.interface_ids > 0);
}

#[test]
fn every_capture_round_trips() {
    let mut total = 0;
    for name in ref_pcap_names() {
        let seen = scan(&name);
        assert!(seen.control_packets > 0, "{name}");
        total += seen.control_packets;
    }
    assert!(total >= 60, "only {total} control packets");
}

#[test]
fn chap_md5_session() {
    let seen = scan("pptpd-vs-pptp-linux-chap.pcap");
    assert!(
        seen.auth.contains(&AuthProtocol::Chap(ChapAlgorithm::Md5)),
        "{:?}",
        seen.auth
    );
    assert!(seen.chap_names.contains(&b"pptpd".to_vec()));
    assert!(seen.chap_names.contains(&b"testuser".to_vec()));
    assert_real_peer_framing(&seen);
    assert_ipcp_and_ipv6cp(&seen);
}

#[test]
fn mschapv2_session_rfc2759() {
    let seen = scan("pptpd-vs-pptp-linux-mschapv2.pcap");
    assert!(
        seen.auth
            .contains(&AuthProtocol::Chap(ChapAlgorithm::MsChapV2))
    );
    assert!(seen.chap_names.contains(&b"pptpd".to_vec()));
    assert!(seen.chap_names.contains(&b"testuser".to_vec()));
    assert_eq!(seen.v2_responses, 1);
    assert_eq!(seen.v2_success_messages, [b"Access granted".to_vec()]);
    assert_real_peer_framing(&seen);
    assert_ipcp_and_ipv6cp(&seen);
}

#[test]
fn mschapv2_mppe128_session_rfc3078() {
    let seen = scan("pptpd-vs-pptp-linux-mschapv2-mppe128.pcap");
    assert!(
        seen.auth
            .contains(&AuthProtocol::Chap(ChapAlgorithm::MsChapV2))
    );
    assert_eq!(seen.v2_success_messages, [b"Access granted".to_vec()]);
    // pppd's default "+H -M +S": stateless, 128-bit, in every Request and Ack.
    assert_eq!(seen.mppe_bits.len(), 4);
    for bits in &seen.mppe_bits {
        assert_eq!(*bits, MppeBits::H | MppeBits::S);
    }
    assert_real_peer_framing(&seen);
    assert_ipcp_and_ipv6cp(&seen);
}

#[test]
fn pap_session_rfc1334() {
    let seen = scan("pptpd-vs-pptp-linux-pap.pcap");
    assert!(seen.auth.contains(&AuthProtocol::Pap));
    assert_eq!(
        seen.pap_requests,
        [(b"testuser".to_vec(), b"testpass".to_vec())]
    );
    assert_eq!(seen.pap_acks, [b"Login ok".to_vec()]);
    assert_real_peer_framing(&seen);
    assert_ipcp_and_ipv6cp(&seen);
}

#[test]
fn nolaunchpppd_lcp_only() {
    let seen = scan("pptp-linux-nolaunchpppd-to-pptpd.pcap");
    assert_eq!(seen.data_frames, 0);
    assert_eq!(seen.control_packets, seen.lcp_address_control.len());
}

/// Writes real packets from the captures as fuzz seeds. Run by hand:
/// `cargo test -p dialgate-wire --test ref_pcaps -- --ignored export_fuzz_seeds`.
#[test]
#[ignore]
fn export_fuzz_seeds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz/corpus");
    let mut written = std::collections::BTreeSet::new();
    for name in ref_pcap_names() {
        for f in ref_ppp_frames(&name) {
            let (header, payload) = Header::parse(&f.payload).unwrap();
            let target = match header.protocol {
                Protocol::LCP => "lcp",
                Protocol::PAP => "pap",
                Protocol::CHAP => "chap",
                Protocol::IPCP => "ipcp",
                Protocol::IPV6CP => "ipv6cp",
                Protocol::CCP => "ccp",
                _ => continue,
            };
            // One seed per distinct (target, code, length) keeps the corpus small.
            let key = (target, payload.first().copied(), payload.len());
            if !written.insert(key) {
                continue;
            }
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            let name = format!("pcap-{:02x}-{}", payload[0], payload.len());
            std::fs::write(dir.join(name), payload).unwrap();
            let ppp_dir = root.join("ppp");
            std::fs::create_dir_all(&ppp_dir).unwrap();
            std::fs::write(
                ppp_dir.join(format!(
                    "pcap-{target}-{:02x}-{}",
                    payload[0],
                    payload.len()
                )),
                &f.payload,
            )
            .unwrap();
        }
    }
}
