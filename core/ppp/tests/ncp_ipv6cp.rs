//! IPV6CP policy (RFC 5072 §4.1 Interface-Identifier, §4.2 compression) against itself, against
//! pppd's captured requests, and against the §4.1 collision rules.

mod ncp_common;

use dialgate_ppp::ncp::{InterfaceIdSource, Ipv6cpConfig, Ipv6cpPolicy};
use dialgate_ppp::options::{NegotiationFailure, OptionPolicy, RequestVerdict};
use ncp_common::{Rng, converge, hostile, judge, request, unhex};

fn iid(id: u64) -> Vec<u8> {
    let mut v = vec![1, 10];
    v.extend_from_slice(&id.to_be_bytes());
    v
}

fn rng(seed: u64) -> InterfaceIdSource {
    let mut r = Rng(seed);
    Box::new(move || r.next_u64())
}

/// A source replaying `values`, then counting up from 0x1000.
fn scripted(values: &[u64]) -> InterfaceIdSource {
    let mut values = std::collections::VecDeque::from(values.to_vec());
    let mut n = 0x1000;
    Box::new(move || {
        values.pop_front().unwrap_or_else(|| {
            n += 1;
            n
        })
    })
}

fn with_id(id: u64, random: InterfaceIdSource) -> Ipv6cpPolicy {
    Ipv6cpPolicy::new(
        Ipv6cpConfig {
            interface_id: Some(id),
        },
        random,
    )
}

#[test]
fn ipv6cp_rfc5072_4_1_replays_pppd_capture() {
    // pptpd-vs-pptp-linux-mschapv2-mppe128.pcap frames 29/32/33/36: each pppd end requests its
    // random identifier and the other acks it.
    let client = 0x7c23_f4f0_6b7b_f6df;
    let server = 0xa85d_c8f2_bea5_ac5c;
    let mut ours = with_id(server, rng(1));
    assert_eq!(
        request(&mut ours),
        unhex("010aa85dc8f2bea5ac5c"),
        "frame 32"
    );
    let (v, _, _) = judge(&mut ours, &unhex("010a7c23f4f06b7bf6df"), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack, "frame 36");
    ours.on_ack(&unhex("010aa85dc8f2bea5ac5c")).unwrap();
    let got = ours.negotiated().unwrap();
    assert_eq!((got.local, got.peer), (server, Some(client)));
}

#[test]
fn ipv6cp_rfc5072_4_1_random_nonzero_against_itself() {
    let mut a = Ipv6cpPolicy::new(Ipv6cpConfig::default(), rng(7));
    let mut b = Ipv6cpPolicy::new(Ipv6cpConfig::default(), rng(8));
    assert_ne!(a.local_id(), 0);
    let (rounds, _) = converge(&mut a, &mut b, 4).unwrap();
    assert_eq!(rounds, 1);
    let (na, nb) = (a.negotiated().unwrap(), b.negotiated().unwrap());
    assert_eq!(na.peer, Some(nb.local));
    assert_eq!(nb.peer, Some(na.local));
    assert_ne!(na.local, nb.local);
}

#[test]
fn ipv6cp_rfc5072_4_1_zero_source_still_nonzero() {
    let mut p = Ipv6cpPolicy::new(Ipv6cpConfig::default(), Box::new(|| 0));
    assert_ne!(p.local_id(), 0);
    let (v, nak, _) = judge(&mut p, &iid(0), false).unwrap();
    assert_eq!(v, RequestVerdict::Nak);
    assert_ne!(nak, iid(0));
    assert_ne!(nak, iid(p.local_id()));
}

#[test]
fn ipv6cp_rfc5072_4_1_zero_id_naked_with_suggestion() {
    let mut p = with_id(0x1111, scripted(&[0x1111, 0, 0x2222]));
    let (v, nak, _) = judge(&mut p, &iid(0), false).unwrap();
    // The source's 0x1111 (ours) and 0 are skipped: the suggestion differs from both.
    assert_eq!((v, nak), (RequestVerdict::Nak, iid(0x2222)));
}

#[test]
fn ipv6cp_rfc5072_4_1_collision_naked_with_different_id() {
    let mut p = with_id(0x1111, scripted(&[0x1111, 0x3333]));
    let (v, nak, _) = judge(&mut p, &iid(0x1111), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, iid(0x3333)));
}

#[test]
fn ipv6cp_rfc5072_4_1_same_fixed_ids_converge_apart() {
    let mut a = with_id(0x42, rng(1));
    let mut b = with_id(0x42, rng(1));
    let (rounds, log) = converge(&mut a, &mut b, 6).unwrap();
    assert!(rounds <= 3, "{log:#?}");
    let (na, nb) = (a.negotiated().unwrap(), b.negotiated().unwrap());
    assert_ne!(na.local, nb.local, "{log:#?}");
    assert_eq!(na.peer, Some(nb.local));
    assert_eq!(nb.peer, Some(na.local));
}

#[test]
fn ipv6cp_rfc5072_4_1_nak_echoing_our_suggestion_picks_new_id() {
    let mut p = with_id(0x1111, scripted(&[0x5555, 0x6666]));
    // We suggest 0x5555 to the peer (its id collided with ours) ...
    let (_, nak, _) = judge(&mut p, &iid(0x1111), false).unwrap();
    assert_eq!(nak, iid(0x5555));
    // ... and the peer suggests the same 0x5555 to us: §4.1 says choose a new one.
    request(&mut p);
    p.on_nak(&iid(0x5555)).unwrap();
    assert_eq!(p.local_id(), 0x6666);
    // A plain suggestion is taken as is.
    p.on_nak(&iid(0x7777)).unwrap();
    assert_eq!(request(&mut p), iid(0x7777));
}

#[test]
fn ipv6cp_rfc5072_4_2_compression_rejected() {
    let mut p = with_id(0x1111, rng(3));
    let iphc = unhex("0206004f");
    let list = [iid(0x2222), iphc.clone(), unhex("0302")].concat();
    let (v, _, rej) = judge(&mut p, &list, false).unwrap();
    assert_eq!(
        (v, rej),
        (RequestVerdict::Reject, [iphc, unhex("0302")].concat())
    );
    let short = unhex("010600000000");
    let (v, _, rej) = judge(&mut p, &short, false).unwrap();
    assert_eq!((v, rej), (RequestVerdict::Reject, short));
}

#[test]
fn ipv6cp_rfc1661_4_6_max_failure_rejects_instead_of_nak() {
    let mut p = with_id(0x1111, rng(3));
    let (v, nak, rej) = judge(&mut p, &iid(0), true).unwrap();
    assert_eq!((v, nak, rej), (RequestVerdict::Reject, vec![], iid(0)));
}

#[test]
fn ipv6cp_rfc5072_4_1_rejected_identifier_not_sent_again() {
    let mut p = with_id(0x1111, rng(3));
    let req = request(&mut p);
    p.on_reject(&req).unwrap();
    assert_eq!(request(&mut p), Vec::<u8>::new());
    p.on_ack(&[]).unwrap();
    judge(&mut p, &[], false).unwrap();
    let got = p.negotiated().unwrap();
    assert_eq!((got.local, got.peer), (0x1111, None));
    // Reset goes back to the configured identifier and sends it again.
    p.reset();
    assert_eq!(request(&mut p), iid(0x1111));
}

#[test]
fn ipv6cp_rfc1661_5_2_ack_must_match_request() {
    let mut p = with_id(0x1111, rng(3));
    request(&mut p);
    assert_eq!(p.on_ack(&iid(0x2222)), Err(NegotiationFailure::Malformed));
    assert_eq!(
        p.on_reject(&unhex("0206004f")),
        Err(NegotiationFailure::Malformed)
    );
    assert_eq!(
        p.on_nak(&unhex("0104aaaa")),
        Err(NegotiationFailure::Malformed)
    );
}

#[test]
fn ipv6cp_rfc1661_5_hostile_lists_never_panic() {
    let seeds = vec![
        iid(0),
        iid(0x1111),
        unhex("0206004f"),
        unhex("010a00"),
        unhex("0100"),
    ];
    hostile(&mut with_id(0x1111, rng(9)), &seeds, 3000);
    hostile(
        &mut Ipv6cpPolicy::new(Ipv6cpConfig::default(), Box::new(|| 0)),
        &seeds,
        500,
    );
}
