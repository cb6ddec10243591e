//! NBFCP policy (RFC 2097) against itself and against each option rule.

mod ncp_common;

use dialgate_ppp::ncp::{
    MulticastFiltering, NbfcpConfig, NbfcpPolicy, PeerInformation, ProjectedName,
};
use dialgate_ppp::options::{NegotiationFailure, OptionPolicy, RequestVerdict};
use ncp_common::{converge, hostile, judge, request, unhex};

fn name(text: &[u8; 15], suffix: u8, kind: u8) -> ([u8; 16], u8) {
    let mut n = [0u8; 16];
    n[..15].copy_from_slice(text);
    n[15] = suffix;
    (n, kind)
}

fn projection(names: &[([u8; 16], u8)]) -> Vec<u8> {
    let mut v = vec![1, u8::try_from(2 + 17 * names.len()).unwrap_or(u8::MAX)];
    for (n, k) in names {
        v.extend_from_slice(n);
        v.push(*k);
    }
    v
}

fn multicast(period: u16, priority: u8) -> Vec<u8> {
    [vec![3, 5], period.to_be_bytes().to_vec(), vec![priority]].concat()
}

fn config(min: u16, ours: Option<(u16, u8)>) -> NbfcpConfig {
    NbfcpConfig {
        multicast: ours.map(|(period, priority)| MulticastFiltering { period, priority }),
        min_peer_forwarding_period: min,
    }
}

#[test]
fn nbfcp_rfc2097_against_itself() {
    let mut a = NbfcpPolicy::new(config(10, Some((20, 1))));
    let mut b = NbfcpPolicy::new(config(30, Some((5, 0))));
    let (_, log) = converge(&mut a, &mut b, 4).unwrap();
    // b accepts periods of at least 30, so a's 20 is Nak'd up to 30; a's minimum is 10, so
    // b's 5 is Nak'd up to 10.
    let (na, nb) = (a.negotiated().unwrap(), b.negotiated().unwrap());
    assert_eq!(na.local_multicast.map(|m| m.period), Some(30), "{log:#?}");
    assert_eq!(nb.local_multicast.map(|m| m.period), Some(10), "{log:#?}");
    assert_eq!(na.peer_multicast, nb.local_multicast);
    assert_eq!(nb.peer_multicast, na.local_multicast);
}

#[test]
fn nbfcp_rfc2097_3_1_name_projection_recorded() {
    let mut p = NbfcpPolicy::new(config(0, None));
    let names = [
        name(b"WORKSTATION1   ", 0x00, 1),
        name(b"WORKGROUP      ", 0x00, 2),
    ];
    let (v, _, _) = judge(&mut p, &projection(&names), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
    assert_eq!(request(&mut p), Vec::<u8>::new(), "we project no names");
    p.on_ack(&[]).unwrap();
    let got = p.negotiated().unwrap();
    let want: Vec<ProjectedName> = names
        .iter()
        .map(|(n, k)| ProjectedName { name: *n, kind: *k })
        .collect();
    assert_eq!(got.projected_names, want);
    // A list that is not a whole number of names is rejected.
    let bad = [vec![1, 5], vec![0x41, 0x42, 0x43]].concat();
    let (v, _, rej) = judge(&mut p, &bad, false).unwrap();
    assert_eq!((v, rej), (RequestVerdict::Reject, bad));
}

#[test]
fn nbfcp_rfc2097_3_2_peer_information_recorded() {
    let mut p = NbfcpPolicy::new(config(0, None));
    let info = unhex("020e 0002 0004 0000 524153434c49");
    let (v, _, _) = judge(&mut p, &info, false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
    let req = request(&mut p);
    p.on_ack(&req).unwrap();
    assert_eq!(
        p.negotiated().unwrap().peer_information,
        Some(PeerInformation {
            class: 2,
            version_major: 4,
            version_minor: 0,
            name: b"RASCLI".to_vec(),
        })
    );
}

#[test]
fn nbfcp_rfc2097_3_3_multicast_period_naked_up_to_minimum() {
    let mut p = NbfcpPolicy::new(config(60, None));
    let (v, nak, _) = judge(&mut p, &multicast(10, 1), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, multicast(60, 1)));
    let (v, _, _) = judge(&mut p, &multicast(60, 1), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
    // Our own request follows the peer's Nak, and is dropped on Reject.
    let mut q = NbfcpPolicy::new(config(0, Some((5, 0))));
    assert_eq!(request(&mut q), multicast(5, 0));
    q.on_nak(&multicast(90, 0)).unwrap();
    assert_eq!(request(&mut q), multicast(90, 0));
    q.on_reject(&multicast(90, 0)).unwrap();
    assert_eq!(request(&mut q), Vec::<u8>::new());
}

#[test]
fn nbfcp_rfc2097_3_4_mac_headers_accepted() {
    let mut p = NbfcpPolicy::new(config(0, None));
    let (v, _, _) = judge(&mut p, &unhex("0402"), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
    let req = request(&mut p);
    p.on_ack(&req).unwrap();
    assert!(p.negotiated().unwrap().mac_headers);
    let (v, _, rej) = judge(&mut p, &unhex("0403 00"), false).unwrap();
    assert_eq!((v, rej), (RequestVerdict::Reject, unhex("040300")));
}

#[test]
fn nbfcp_rfc1661_5_4_unknown_rejected() {
    let mut p = NbfcpPolicy::new(config(0, None));
    let (v, _, rej) = judge(&mut p, &[unhex("0402"), unhex("0904 beef")].concat(), false).unwrap();
    assert_eq!((v, rej), (RequestVerdict::Reject, unhex("0904beef")));
}

#[test]
fn nbfcp_rfc1661_4_6_max_failure_rejects_instead_of_nak() {
    let mut p = NbfcpPolicy::new(config(60, None));
    let (v, nak, rej) = judge(&mut p, &multicast(1, 0), true).unwrap();
    assert_eq!(
        (v, nak, rej),
        (RequestVerdict::Reject, vec![], multicast(1, 0))
    );
}

#[test]
fn nbfcp_rfc1661_5_2_ack_and_nak_checked() {
    let mut p = NbfcpPolicy::new(config(0, Some((5, 0))));
    request(&mut p);
    assert_eq!(
        p.on_ack(&multicast(6, 0)),
        Err(NegotiationFailure::Malformed)
    );
    assert_eq!(
        p.on_nak(&unhex("0304 0000")),
        Err(NegotiationFailure::Malformed)
    );
    assert_eq!(
        p.on_reject(&unhex("0402")),
        Err(NegotiationFailure::Malformed)
    );
}

#[test]
fn nbfcp_rfc1661_5_hostile_lists_never_panic() {
    let names = [name(b"A              ", 0x20, 1)];
    let seeds = vec![
        [projection(&names), multicast(1, 1), unhex("0402")].concat(),
        unhex("020e 0002 0004 0000 524153434c49"),
        unhex("01ff"),
        unhex("0300"),
    ];
    hostile(
        &mut NbfcpPolicy::new(config(30, Some((10, 1)))),
        &seeds,
        3000,
    );
}
