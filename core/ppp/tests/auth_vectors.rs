//! Known-answer tests: the RFC 2759 §9.2 vector, real pppd exchanges captured in
//! `tests/ref-pcaps`, and hostile input.

// Test code: a failed unwrap is a failed test (helpers sit outside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use dialgate_ppp::auth::*;
use dialgate_test_support::ref_ppp_frames;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Randomness that replays `bytes` in order (and fails the test if more is drawn).
fn script(bytes: Vec<u8>) -> FillRandom {
    let mut pos = 0;
    Box::new(move |buf: &mut [u8]| {
        let end = pos + buf.len();
        assert!(
            end <= bytes.len(),
            "test drew more randomness than scripted"
        );
        buf.copy_from_slice(&bytes[pos..end]);
        pos = end;
    })
}

fn ctx() -> RequestContext {
    RequestContext {
        session: 0,
        attempt: 0,
    }
}

// RFC 2759 §9.2.
const USER: &str = "User";
const PASSWORD: &str = "clientPass";
const AUTH_CHALLENGE: &str = "5B5D7C7D7B3F2F3E3C2C602132262628";
const PEER_CHALLENGE: &str = "21402324255E262A28295F2B3A337C7E";
const NT_RESPONSE: &str = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF";
const AUTH_RESPONSE: &str = "407A5589115FD0D6209F510FE9C04566932CDA56";

fn rfc_store() -> Arc<LocalUsers> {
    let mut u = LocalUsers::new();
    u.add_password(USER, PASSWORD).unwrap();
    Arc::new(u)
}

#[test]
fn mschapv2_rfc2759_9_2_through_local_users() {
    let v = rfc_store().verify(
        ctx(),
        &AuthRequest::MsChapV2 {
            user: USER.as_bytes(),
            authenticator_challenge: hex(AUTH_CHALLENGE).try_into().unwrap(),
            peer_challenge: hex(PEER_CHALLENGE).try_into().unwrap(),
            nt_response: hex(NT_RESPONSE).try_into().unwrap(),
        },
    );
    let Verdict::Accept(a) = v else {
        panic!("{v:?}")
    };
    assert_eq!(
        a.authenticator_response.unwrap().to_vec(),
        hex(AUTH_RESPONSE)
    );

    // One flipped bit of the NT-Response is a wrong password.
    let mut bad: [u8; 24] = hex(NT_RESPONSE).try_into().unwrap();
    bad[23] ^= 1;
    let v = rfc_store().verify(
        ctx(),
        &AuthRequest::MsChapV2 {
            user: USER.as_bytes(),
            authenticator_challenge: hex(AUTH_CHALLENGE).try_into().unwrap(),
            peer_challenge: hex(PEER_CHALLENGE).try_into().unwrap(),
            nt_response: bad,
        },
    );
    assert_eq!(
        v,
        Verdict::Reject(Rejected::auth_failure(RejectReason::WrongPassword))
    );
}

/// The §9.2 vector end to end: our Authenticator with the RFC's challenge and our Peer with
/// the RFC's peer challenge produce exactly the RFC's NT-Response and S= value.
#[test]
fn mschapv2_rfc2759_9_2_authenticator_and_peer() {
    let now = Instant::now();
    let mut a_rng = vec![0x2a];
    a_rng.extend(hex(AUTH_CHALLENGE));
    let cfg = AuthenticatorConfig {
        name: "srv".into(),
        ..AuthenticatorConfig::default()
    };
    let mut auth = Authenticator::new(Method::MsChapV2, cfg, rfc_store(), script(a_rng));
    let creds = Credentials::new(USER, PASSWORD).unwrap();
    let mut peer = Peer::new(
        Method::MsChapV2,
        &AuthPolicy::default(),
        PeerConfig::default(),
        creds,
        script(hex(PEER_CHALLENGE)),
    )
    .unwrap();
    peer.start(now);
    auth.start(now);
    let challenge = auth.poll_transmit().unwrap();
    let mut want = hex("01 2a 00 18 10");
    want.extend(hex(AUTH_CHALLENGE));
    want.extend(b"srv");
    assert_eq!(challenge.data, want);
    assert_eq!(challenge.protocol, PROTO_CHAP);

    peer.handle_packet(now, challenge.protocol, &challenge.data);
    let response = peer.poll_transmit().unwrap();
    let mut want = hex("02 2a 00 3a 31");
    want.extend(hex(PEER_CHALLENGE));
    want.extend([0; 8]);
    want.extend(hex(NT_RESPONSE));
    want.push(0);
    want.extend(USER.as_bytes());
    assert_eq!(response.data, want);

    auth.handle_packet(now, response.protocol, &response.data);
    let success = auth.poll_transmit().unwrap();
    let text = format!("S={AUTH_RESPONSE} M=Access granted");
    let mut want = vec![3, 0x2a, 0, (4 + text.len()) as u8];
    want.extend(text.as_bytes());
    assert_eq!(success.data, want);

    peer.handle_packet(now, success.protocol, &success.data);
    let p = peer.poll_outcome().unwrap().unwrap();
    let a = auth.poll_outcome().unwrap().unwrap();
    assert_eq!(a.user, USER);
    // RFC 3079 §3.5.3: the server's send key is the client's receive key.
    let (ak, pk) = (a.mppe.unwrap(), p.mppe.unwrap());
    assert_eq!(ak.send.to_vec(), hex("8B7CDC149B993A1BA118CB153F56DCCB"));
    assert_eq!((pk.recv, pk.send), (ak.send, ak.recv));
}

// ---------------------------------------------------------------------------------------
// pppd interop, from tests/ref-pcaps (user testuser, password testpass, server pptpd).
// ---------------------------------------------------------------------------------------

/// The PAP/CHAP packets of a capture, in order: (protocol, packet from its Code octet to
/// the end its Length field gives).
fn auth_packets(file: &str) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    for f in ref_ppp_frames(file) {
        let proto = u16::from(f.protocol());
        if proto == PROTO_PAP || proto == PROTO_CHAP {
            let body = f.info();
            let len = usize::from(u16::from_be_bytes([body[2], body[3]]));
            out.push((proto, body[..len].to_vec()));
        }
    }
    out
}

fn pppd_store() -> Arc<LocalUsers> {
    let mut u = LocalUsers::with_weak_cleartext_secrets();
    u.add_weak_cleartext_secret("testuser", "testpass").unwrap();
    Arc::new(u)
}

fn pptpd_cfg(success: &str) -> AuthenticatorConfig {
    AuthenticatorConfig {
        name: "pptpd".into(),
        success_message: success.into(),
        ..AuthenticatorConfig::default()
    }
}

fn weak() -> AuthPolicy {
    AuthPolicy {
        allow_weak_mschap_v1: true,
        allow_weak_chap_md5: true,
        allow_weak_pap_cleartext: true,
    }
}

/// Replays one captured CHAP exchange: our Authenticator, primed with pppd's identifier and
/// challenge, must send pppd's Challenge and answer the captured Response with exactly the
/// Success pppd sent; our Peer, primed with pptp-linux's peer challenge, must send exactly the
/// captured Response and accept the captured Success.
fn replay_chap(file: &str, method: Method, challenge_len: usize) {
    let pkts = auth_packets(file);
    let [(_, challenge), (_, response), (_, success)] = &pkts[..] else {
        panic!("expected Challenge, Response, Success in {file}: {pkts:?}")
    };
    let now = Instant::now();

    let mut a_rng = vec![challenge[1]];
    a_rng.extend_from_slice(&challenge[5..5 + challenge_len]);
    let cfg = AuthenticatorConfig {
        chap_md5_challenge_len: challenge_len,
        ..pptpd_cfg("Access granted")
    };
    let mut auth = Authenticator::new(method, cfg, pppd_store(), script(a_rng));
    auth.start(now);
    assert_eq!(
        &auth.poll_transmit().unwrap().data,
        challenge,
        "{file}: Challenge"
    );
    auth.handle_packet(now, PROTO_CHAP, response);
    let ours = auth.poll_transmit().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours.data[4..]),
        String::from_utf8_lossy(&success[4..]),
        "{file}: Success message"
    );
    assert_eq!(&ours.data, success, "{file}: Success packet");
    assert_eq!(auth.poll_outcome().unwrap().unwrap().user, "testuser");

    // MS-CHAPv2: pptp-linux's peer challenge opens the captured Response value.
    let peer_rng = match method {
        Method::MsChapV2 => response[5..21].to_vec(),
        _ => vec![],
    };
    let creds = Credentials::new("testuser", "testpass").unwrap();
    let mut peer = Peer::new(
        method,
        &weak(),
        PeerConfig::default(),
        creds,
        script(peer_rng),
    )
    .unwrap();
    peer.start(now);
    peer.handle_packet(now, PROTO_CHAP, challenge);
    assert_eq!(
        &peer.poll_transmit().unwrap().data,
        response,
        "{file}: Response"
    );
    peer.handle_packet(now, PROTO_CHAP, success);
    let out = peer.poll_outcome().unwrap().unwrap();
    assert_eq!((out.user.as_str(), out.method), ("testuser", method));
}

#[test]
fn pppd_interop_mschapv2_rfc2759() {
    replay_chap("pptpd-vs-pptp-linux-mschapv2.pcap", Method::MsChapV2, 16);
}

#[test]
fn pppd_interop_chap_md5_rfc1994() {
    // pppd sends a 20-octet challenge.
    replay_chap("pptpd-vs-pptp-linux-chap.pcap", Method::ChapMd5, 20);
}

#[test]
fn pppd_interop_pap_rfc1334() {
    let pkts = auth_packets("pptpd-vs-pptp-linux-pap.pcap");
    let [(_, request), (_, ack)] = &pkts[..] else {
        panic!("{pkts:?}")
    };
    let now = Instant::now();

    let mut auth = Authenticator::new(
        Method::Pap,
        pptpd_cfg("Login ok"),
        pppd_store(),
        script(vec![]),
    );
    auth.start(now);
    auth.handle_packet(now, PROTO_PAP, request);
    assert_eq!(&auth.poll_transmit().unwrap().data, ack);
    assert!(auth.poll_outcome().unwrap().is_ok());

    let creds = Credentials::new("testuser", "testpass").unwrap();
    let mut peer = Peer::new(
        Method::Pap,
        &weak(),
        PeerConfig::default(),
        creds,
        script(vec![request[1]]),
    )
    .unwrap();
    peer.start(now);
    assert_eq!(&peer.poll_transmit().unwrap().data, request);
    peer.handle_packet(now, PROTO_PAP, ack);
    assert!(peer.poll_outcome().unwrap().is_ok());
}

// ---------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------

fn fresh_pair(method: Method) -> (Authenticator, Peer, Vec<u8>) {
    let now = Instant::now();
    let mut a_rng = vec![7];
    a_rng.extend([0x55; 64]);
    a_rng.extend([0x66; 64 * 8]);
    let mut auth = Authenticator::new(method, pptpd_cfg("ok"), pppd_store(), script(a_rng));
    auth.start(now);
    let challenge = auth.poll_transmit().map(|t| t.data).unwrap_or_default();
    let creds = Credentials::new("testuser", "testpass").unwrap();
    let mut peer = Peer::new(
        method,
        &weak(),
        PeerConfig::default(),
        creds,
        script(vec![9; 64]),
    )
    .unwrap();
    peer.start(now);
    peer.poll_transmit();
    (auth, peer, challenge)
}

#[test]
fn hostile_packets_are_dropped_and_counted() {
    let now = Instant::now();
    for method in Method::STRONGEST_FIRST {
        let proto = method.protocol();
        let other = if proto == PROTO_PAP {
            PROTO_CHAP
        } else {
            PROTO_PAP
        };
        let (mut auth, mut peer, _challenge) = fresh_pair(method);
        let cases: Vec<(&str, u16, Vec<u8>)> = vec![
            ("empty", proto, vec![]),
            ("short header", proto, vec![2, 7, 0]),
            ("length below 4", proto, vec![2, 7, 0, 3]),
            ("length past the end", proto, vec![2, 7, 0, 40, 1, 2]),
            ("oversized", proto, {
                let mut v = vec![2, 7, 0x07, 0xd0];
                v.resize(2000, 0x41);
                v
            }),
            ("unknown code", proto, vec![9, 7, 0, 4]),
            ("code 0", proto, vec![0, 7, 0, 4]),
            ("other protocol", other, vec![1, 7, 0, 4]),
            (
                "CHAP value size past the end",
                proto,
                vec![2, 7, 0, 6, 200, 1],
            ),
        ];
        for (what, p, pkt) in &cases {
            let before = (auth.stats().dropped(), peer.stats().dropped());
            auth.handle_packet(now, *p, pkt);
            peer.handle_packet(now, *p, pkt);
            assert_eq!(
                auth.stats().dropped(),
                before.0 + 1,
                "{method} authenticator: {what}"
            );
            assert_eq!(
                peer.stats().dropped(),
                before.1 + 1,
                "{method} peer: {what}"
            );
            assert!(
                auth.poll_transmit().is_none() && peer.poll_transmit().is_none(),
                "{what}"
            );
            assert!(
                auth.outcome().is_none() && peer.outcome().is_none(),
                "{what}"
            );
        }
        assert_eq!(auth.stats().rx_packets, cases.len() as u64);
        assert_eq!(auth.stats().dropped_wrong_protocol, 1);
        assert_eq!(peer.stats().dropped_wrong_protocol, 1);
    }
}

#[test]
fn hostile_chap_exchanges() {
    let now = Instant::now();
    let (mut auth, mut peer, challenge) = fresh_pair(Method::MsChapV2);
    // A Response with the wrong identifier.
    let mut resp = vec![2, 8, 0, 0x3a, 0x31];
    resp.extend([0; 49]);
    resp.extend(b"testuser");
    auth.handle_packet(now, PROTO_CHAP, &resp);
    assert_eq!(auth.stats().dropped_wrong_id, 1);
    // The right identifier but a value of the wrong size.
    let mut short = vec![2, 7, 0, 0x0d, 0x08];
    short.extend([0; 8]);
    auth.handle_packet(now, PROTO_CHAP, &short);
    assert_eq!(auth.stats().dropped_malformed, 1);
    // A name longer than MAX_NAME_LEN.
    let mut long = vec![2, 7, 0, 0, 0x31];
    long.extend([0; 49]);
    long.extend([b'a'; 300]);
    let len = long.len() as u16;
    long[2..4].copy_from_slice(&len.to_be_bytes());
    auth.handle_packet(now, PROTO_CHAP, &long);
    assert_eq!(auth.stats().dropped_malformed, 2);
    // A Challenge, Success and Failure are not for the authenticator.
    auth.handle_packet(now, PROTO_CHAP, &challenge);
    auth.handle_packet(now, PROTO_CHAP, &[3, 7, 0, 4]);
    auth.handle_packet(now, PROTO_CHAP, &[4, 7, 0, 4]);
    assert_eq!(auth.stats().dropped_wrong_code, 3);
    assert!(auth.poll_transmit().is_none() && auth.outcome().is_none());

    // Peer: an MS-CHAPv2 Challenge with an 8-octet value; Success/Failure before any
    // Response; a Response.
    let mut bad_chal = vec![1, 3, 0, 0x0d, 0x08];
    bad_chal.extend([1; 8]);
    peer.handle_packet(now, PROTO_CHAP, &bad_chal);
    assert_eq!(peer.stats().dropped_malformed, 1);
    peer.handle_packet(now, PROTO_CHAP, b"\x03\x07\x00\x06S=");
    peer.handle_packet(now, PROTO_CHAP, b"\x04\x07\x00\x04");
    assert_eq!(peer.stats().dropped_unexpected, 2);
    peer.handle_packet(now, PROTO_CHAP, &resp);
    assert_eq!(peer.stats().dropped_wrong_code, 1);
    // Now a real exchange: a Success with the wrong identifier is dropped.
    peer.handle_packet(now, PROTO_CHAP, &challenge);
    assert!(peer.poll_transmit().is_some());
    peer.handle_packet(now, PROTO_CHAP, b"\x03\x08\x00\x04");
    assert_eq!(peer.stats().dropped_wrong_id, 1);
    // A Failure with garbage text is a refusal, not a panic.
    peer.handle_packet(now, PROTO_CHAP, b"\x04\x07\x00\x0bE=x R=1");
    assert!(matches!(
        peer.outcome(),
        Some(Err(AuthFailure::Refused { .. }))
    ));
}

#[test]
fn random_bytes_never_panic() {
    let now = Instant::now();
    let mut n = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        n ^= n << 13;
        n ^= n >> 7;
        n ^= n << 17;
        n
    };
    for method in Method::STRONGEST_FIRST {
        let (mut auth, mut peer, challenge) = fresh_pair(method);
        for i in 0..20_000u64 {
            let r = next();
            let len = (r % 80) as usize;
            let mut pkt: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Make half of them plausible: a valid length field and a small code.
            if i % 2 == 0 && pkt.len() >= 4 {
                pkt[0] = (r >> 8) as u8 % 6;
                pkt[1] = if i % 4 == 0 { 7 } else { pkt[1] };
                pkt[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            }
            auth.handle_packet(now, method.protocol(), &pkt);
            peer.handle_packet(now, method.protocol(), &pkt);
            while auth.poll_transmit().is_some() {}
            while peer.poll_transmit().is_some() {}
            if i % 1000 == 0 {
                auth.handle_timeout(now + std::time::Duration::from_secs(i));
                peer.handle_timeout(now + std::time::Duration::from_secs(i));
            }
        }
        assert_eq!(auth.stats().rx_packets, 20_000);
        assert!(
            auth.stats().dropped() > 10_000,
            "{method}: {:?}",
            auth.stats()
        );
        let _ = challenge;
    }
}
