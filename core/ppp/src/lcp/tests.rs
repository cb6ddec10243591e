//! LCP option policy and LCP-only codes.

use super::*;

fn policy(config: LcpConfig) -> LcpPolicy {
    LcpPolicy::new(config, 42)
}

fn request(p: &mut LcpPolicy) -> Vec<u8> {
    let mut out = Vec::new();
    p.build_request(&mut out);
    out
}

fn check(p: &mut LcpPolicy, options: &[u8]) -> (RequestVerdict, Reply) {
    let mut reply = Reply::default();
    let v = p
        .check_request(options, &mut reply, false)
        .expect("well formed");
    (v, reply)
}

#[test]
fn rfc1661_6_default_request_asks_accm0_magic_pfc_acfc() {
    let mut p = policy(LcpConfig::default());
    let req = request(&mut p);
    let magic = p.magic().to_be_bytes();
    assert_ne!(p.magic(), 0);
    let mut want = vec![2, 6, 0, 0, 0, 0, 5, 6];
    want.extend_from_slice(&magic);
    want.extend_from_slice(&[7, 2, 8, 2]);
    assert_eq!(req, want);
}

#[test]
fn rfc1661_6_1_mru_requested_only_when_not_default() {
    let mut p = policy(LcpConfig {
        mru: 1400,
        accm: None,
        magic: false,
        pfc: false,
        acfc: false,
        ..LcpConfig::default()
    });
    assert_eq!(request(&mut p), [1, 4, 0x05, 0x78]);
}

#[test]
fn rfc1661_6_1_small_peer_mru_is_naked_to_the_floor() {
    let mut p = policy(LcpConfig::default());
    let (v, reply) = check(&mut p, &[1, 4, 0, 64]);
    assert_eq!(v, RequestVerdict::Nak);
    assert_eq!(reply.nak, [1, 4, 0, 128]);
    let (v, _) = check(&mut p, &[1, 4, 0x05, 0xdc - 100]);
    assert_eq!(v, RequestVerdict::Ack);
    assert_eq!(p.remote().mru, 1400);
}

#[test]
fn rfc1661_6_unwanted_options_are_rejected_verbatim() {
    let mut p = policy(LcpConfig::default());
    // Quality-Protocol, Callback (Windows: 0d 03 06), MRRU, Endpoint-Discriminator, type 99,
    // and an MRU with a wrong length.
    let req = [
        4, 8, 0xc0, 0x25, 0, 0, 0, 10, 13, 3, 6, 17, 4, 5, 0xdc, 19, 3, 0, 99, 2, 1, 3, 5,
    ];
    let (v, reply) = check(&mut p, &req);
    assert_eq!(v, RequestVerdict::Reject);
    assert_eq!(reply.rej, req);
}

#[test]
fn rfc1990_endpoint_discriminator_accepted_when_enabled() {
    let mut p = policy(LcpConfig {
        accept_endpoint_discriminator: true,
        ..LcpConfig::default()
    });
    let (v, _) = check(&mut p, &[19, 3, 0]);
    assert_eq!(v, RequestVerdict::Ack);
}

#[test]
fn rfc1661_6_peer_options_take_effect_only_when_acked() {
    let mut p = policy(LcpConfig::default());
    // The first request is Nak'd (MRU too small): nothing of it applies.
    let (v, _) = check(&mut p, &[1, 4, 0, 10, 2, 6, 0, 0, 0, 0, 7, 2]);
    assert_eq!(v, RequestVerdict::Nak);
    assert_eq!(p.remote().accm, DEFAULT_ACCM);
    assert!(!p.remote().pfc);
    let (v, _) = check(&mut p, &[1, 4, 5, 0, 2, 6, 0, 0, 0, 0, 7, 2, 8, 2]);
    assert_eq!(v, RequestVerdict::Ack);
    let r = p.remote();
    assert_eq!((r.mru, r.accm, r.pfc, r.acfc), (1280, 0, true, true));
}

#[test]
fn rfc1661_6_4_magic_collision_is_naked_with_another_value() {
    let mut p = policy(LcpConfig::default());
    let ours = p.magic();
    let mut req = vec![5, 6];
    req.extend_from_slice(&ours.to_be_bytes());
    let (v, reply) = check(&mut p, &req);
    assert_eq!(v, RequestVerdict::Nak);
    assert_eq!(reply.nak[..2], [5, 6]);
    let suggested = u32::from_be_bytes(reply.nak[2..6].try_into().expect("4 bytes"));
    assert!(suggested != 0 && suggested != ours);
    assert!(!p.looped_back());
}

#[test]
fn rfc1661_6_4_zero_magic_is_naked() {
    let mut p = policy(LcpConfig::default());
    let (v, reply) = check(&mut p, &[5, 6, 0, 0, 0, 0]);
    assert_eq!(v, RequestVerdict::Nak);
    assert_ne!(reply.nak[2..6], [0, 0, 0, 0]);
}

#[test]
fn rfc1661_6_4_repeated_collisions_declare_loopback() {
    let mut p = policy(LcpConfig::default());
    for round in 0..5 {
        assert!(!p.looped_back(), "round {round}");
        let mut req = vec![5, 6];
        req.extend_from_slice(&p.magic().to_be_bytes());
        check(&mut p, &req);
    }
    assert!(p.looped_back());
}

#[test]
fn rfc1661_6_4_nak_of_our_magic_picks_a_new_one() {
    let mut p = policy(LcpConfig::default());
    let before = p.magic();
    p.on_nak(&[5, 6, 1, 2, 3, 4]).expect("ok");
    assert!(p.magic() != before && p.magic() != 0x0102_0304 && p.magic() != 0);
    assert!(!p.looped_back());
}

#[test]
fn rfc1662_7_1_naked_accm_is_ored_into_ours() {
    let mut p = policy(LcpConfig::default());
    p.on_nak(&[2, 6, 0x00, 0x0a, 0x00, 0x00]).expect("ok");
    assert_eq!(request(&mut p)[..6], [2, 6, 0x00, 0x0a, 0x00, 0x00]);
}

#[test]
fn rfc1661_4_6_nak_exhausted_turns_naks_into_rejects() {
    let mut p = policy(LcpConfig::default());
    let mut reply = Reply::default();
    let v = p
        .check_request(&[1, 4, 0, 10], &mut reply, true)
        .expect("well formed");
    assert_eq!(v, RequestVerdict::Reject);
    assert_eq!(reply.rej, [1, 4, 0, 10]);
}

#[test]
fn rfc1661_5_malformed_option_list_is_an_error() {
    let mut p = policy(LcpConfig::default());
    let mut reply = Reply::default();
    assert_eq!(
        p.check_request(&[1, 4, 0], &mut reply, false),
        Err(NegotiationFailure::Malformed)
    );
    assert_eq!(
        p.check_request(&[7, 1], &mut reply, false),
        Err(NegotiationFailure::Malformed)
    );
}

fn authenticator(methods: &[Method]) -> LcpPolicy {
    policy(LcpConfig {
        auth_request: methods.to_vec(),
        ..LcpConfig::default()
    })
}

fn auth_option(req: &[u8]) -> Option<&[u8]> {
    let mut rest = req;
    while let [t, l, ..] = *rest {
        let (opt, tail) = rest.split_at(usize::from(l));
        if t == 3 {
            return Some(&opt[2..]);
        }
        rest = tail;
    }
    None
}

#[test]
fn rfc1661_6_2_authenticator_requests_the_strongest_method_first() {
    let mut p = authenticator(&[Method::MsChapV2, Method::MsChapV1, Method::Pap]);
    assert_eq!(auth_option(&request(&mut p)), Some(&[0xc2, 0x23, 0x81][..]));
}

#[test]
fn rfc1661_6_2_nak_switches_to_the_proposed_method_if_allowed() {
    let mut p = authenticator(&[Method::MsChapV2, Method::MsChapV1, Method::Pap]);
    p.on_nak(&[3, 4, 0xc0, 0x23]).expect("PAP allowed");
    assert_eq!(auth_option(&request(&mut p)), Some(&[0xc0, 0x23][..]));
}

#[test]
fn rfc1661_6_2_nak_with_a_disallowed_method_moves_to_our_next() {
    let mut p = authenticator(&[Method::MsChapV2, Method::MsChapV1]);
    p.on_nak(&[3, 4, 0xc0, 0x23]).expect("next method remains");
    assert_eq!(auth_option(&request(&mut p)), Some(&[0xc2, 0x23, 0x80][..]));
    let err = p.on_nak(&[3, 4, 0xc0, 0x23]).expect_err("nothing left");
    assert!(matches!(
        err,
        NegotiationFailure::RequiredOptionRefused { option: 3, .. }
    ));
}

#[test]
fn rfc1661_6_2_default_authenticator_never_falls_back_to_pap() {
    let mut p = authenticator(&[Method::MsChapV2]);
    assert!(p.on_nak(&[3, 4, 0xc0, 0x23]).is_err());
}

#[test]
fn rfc1661_6_2_reject_of_auth_protocol_fails_the_authenticator() {
    let mut p = authenticator(&[Method::MsChapV2]);
    assert!(p.on_reject(&[3, 5, 0xc2, 0x23, 0x81]).is_err());
}

#[test]
fn rfc1661_6_2_peer_accepts_an_allowed_method() {
    let mut p = policy(LcpConfig {
        auth_accept: vec![Method::MsChapV2],
        ..LcpConfig::default()
    });
    let (v, _) = check(&mut p, &[3, 5, 0xc2, 0x23, 0x81]);
    assert_eq!(v, RequestVerdict::Ack);
    assert_eq!(p.remote().auth, Some(Method::MsChapV2));
}

#[test]
fn rfc1661_6_2_peer_naks_a_disallowed_method_with_its_preferred() {
    let mut p = policy(LcpConfig {
        auth_accept: vec![Method::MsChapV2, Method::MsChapV1],
        ..LcpConfig::default()
    });
    let (v, reply) = check(&mut p, &[3, 4, 0xc0, 0x23]);
    assert_eq!(v, RequestVerdict::Nak);
    assert_eq!(reply.nak, [3, 5, 0xc2, 0x23, 0x81]);
}

#[test]
fn rfc1661_6_2_peer_without_credentials_rejects_authentication() {
    let mut p = policy(LcpConfig::default());
    let (v, reply) = check(&mut p, &[3, 5, 0xc2, 0x23, 0x81]);
    assert_eq!(v, RequestVerdict::Reject);
    assert_eq!(reply.rej, [3, 5, 0xc2, 0x23, 0x81]);
}

#[test]
fn rfc1661_6_ack_records_our_receive_side() {
    let mut p = authenticator(&[Method::MsChapV2]);
    let req = request(&mut p);
    p.on_ack(&req).expect("ok");
    let l = p.local();
    assert_eq!(l.accm, 0);
    assert_eq!(l.magic, p.magic());
    assert!(l.pfc && l.acfc);
    assert_eq!(l.auth, Some(Method::MsChapV2));
}

#[test]
fn rfc1661_6_rejected_options_are_not_asked_again() {
    let mut p = policy(LcpConfig::default());
    p.on_reject(&[2, 6, 0, 0, 0, 0, 7, 2, 8, 2]).expect("ok");
    let req = request(&mut p);
    assert_eq!(req[..2], [5, 6], "only the magic number is left");
    assert_eq!(req.len(), 6);
}

// ---- Lcp: LCP-only codes ----

fn opened_lcp(now: Instant) -> Lcp {
    let mut lcp = Lcp::new(LcpConfig::default(), CpConfig::default(), 1);
    lcp.cp_mut().open(now);
    lcp.cp_mut().up(now);
    let mut req = Vec::new();
    assert!(lcp.cp_mut().poll_transmit(&mut req));
    // The peer acks our request and sends an empty one, which we ack.
    req[0] = 2;
    lcp.handle_packet(now, &req);
    lcp.handle_packet(now, &[1, 77, 0, 4]);
    assert!(lcp.cp().is_open());
    let mut sink = Vec::new();
    while lcp.cp_mut().poll_transmit(&mut sink) {}
    lcp
}

fn sent(lcp: &mut Lcp) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut b = Vec::new();
        if !lcp.cp_mut().poll_transmit(&mut b) {
            return out;
        }
        out.push(b);
    }
}

#[test]
fn rfc1661_5_8_echo_request_is_answered_with_our_magic() {
    let now = Instant::now();
    let mut lcp = opened_lcp(now);
    lcp.handle_packet(now, &[9, 33, 0, 10, 0xde, 0xad, 0xbe, 0xef, 1, 2]);
    let out = sent(&mut lcp);
    let mut want = vec![10, 33, 0, 10];
    want.extend_from_slice(&lcp.policy().magic().to_be_bytes());
    want.extend_from_slice(&[1, 2]);
    assert_eq!(out, [want]);
}

#[test]
fn rfc1661_6_4_echo_request_with_our_own_magic_is_not_answered() {
    let now = Instant::now();
    let mut lcp = opened_lcp(now);
    let mut echo = vec![9, 33, 0, 8];
    echo.extend_from_slice(&lcp.policy().magic().to_be_bytes());
    lcp.handle_packet(now, &echo);
    assert!(sent(&mut lcp).is_empty());
    assert_eq!(lcp.stats().dropped, 1);
}

#[test]
fn rfc1661_5_8_echo_outside_opened_is_silently_discarded() {
    let now = Instant::now();
    let mut lcp = Lcp::new(LcpConfig::default(), CpConfig::default(), 1);
    lcp.cp_mut().open(now);
    lcp.cp_mut().up(now);
    sent(&mut lcp);
    lcp.handle_packet(now, &[9, 1, 0, 8, 1, 2, 3, 4]);
    assert!(sent(&mut lcp).is_empty());
}

#[test]
fn rfc1661_5_8_keepalive_declares_a_silent_peer_dead() {
    let start = Instant::now();
    let mut lcp = opened_lcp(start);
    lcp.start_keepalive(start);
    let mut now = start;
    let mut echoes = 0;
    while lcp.poll_notice().is_none() {
        now = lcp.poll_timeout().expect("keepalive runs");
        lcp.handle_timeout(now);
        echoes += sent(&mut lcp)
            .iter()
            .filter(|p| p[0] == ECHO_REQUEST)
            .count();
        assert!(echoes <= 4);
    }
    assert_eq!(echoes, 4);
    assert_eq!(now - start, Duration::from_secs(150));
}

#[test]
fn rfc1661_5_8_echo_reply_keeps_the_link_alive() {
    let start = Instant::now();
    let mut lcp = opened_lcp(start);
    lcp.start_keepalive(start);
    for _ in 0..10 {
        let now = lcp.poll_timeout().expect("keepalive runs");
        lcp.handle_timeout(now);
        for p in sent(&mut lcp) {
            let mut reply = p.clone();
            reply[0] = ECHO_REPLY;
            reply[4..8].copy_from_slice(&[9, 9, 9, 9]);
            lcp.handle_packet(now, &reply);
        }
    }
    assert_eq!(lcp.poll_notice(), None);
    assert_eq!(lcp.stats().echo_replies_received, 10);
}

#[test]
fn rfc1661_5_7_protocol_reject_is_reported() {
    let now = Instant::now();
    let mut lcp = opened_lcp(now);
    lcp.handle_packet(now, &[8, 5, 0, 8, 0x80, 0x57, 1, 1]);
    assert_eq!(lcp.poll_notice(), Some(LcpNotice::ProtocolRejected(0x8057)));
    lcp.handle_packet(now, &[8, 6, 0, 6, 0xc0, 0x21]);
    assert_eq!(
        lcp.cp().state(),
        State::Stopping,
        "Protocol-Reject of LCP is RXJ-"
    );
}

#[test]
fn rfc1661_5_7_protocol_reject_layout() {
    let now = Instant::now();
    let mut lcp = opened_lcp(now);
    lcp.send_protocol_reject(0x1234, &[1, 2, 3]);
    let out = sent(&mut lcp);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0][0], PROTOCOL_REJECT);
    assert_eq!(out[0][2..], [0, 9, 0x12, 0x34, 1, 2, 3]);
}

#[test]
fn rfc1570_identification_and_discard_are_consumed_silently() {
    let now = Instant::now();
    let mut lcp = opened_lcp(now);
    lcp.handle_packet(now, &[12, 1, 0, 11, 0, 0, 0, 0, b'M', b'S', b'R']);
    lcp.handle_packet(now, &[11, 2, 0, 8, 0, 0, 0, 0]);
    assert!(sent(&mut lcp).is_empty());
    assert_eq!(lcp.stats().discarded, 2);
}
