//! CCP/MPPE policy (RFC 1962, RFC 3078 §2 and §2.1, RFC 3079) against itself, against pppd's
//! captured exchange, and against every refusal rule.

mod ncp_common;

use dialgate_ppp::ncp::{CcpConfig, CcpPolicy, MppeKeyLength, MppeParams, MppePolicy};
use dialgate_ppp::options::{NegotiationFailure, OptionPolicy, RequestVerdict};
use ncp_common::{Failed, converge, hostile, judge, request, unhex};

const H: u32 = 0x0100_0000;
const M: u32 = 0x80;
const S: u32 = 0x40;
const L: u32 = 0x20;
const D: u32 = 0x10;
const C: u32 = 0x01;

fn mppe(bits: u32) -> Vec<u8> {
    let mut v = vec![18, 6];
    v.extend_from_slice(&bits.to_be_bytes());
    v
}

fn keyed() -> CcpConfig {
    CcpConfig {
        keys_available: true,
        ..CcpConfig::default()
    }
}

const REFUSED: NegotiationFailure = NegotiationFailure::RequiredOptionRefused {
    option: 18,
    what: "MPPE encryption",
};

const STATELESS_128: MppeParams = MppeParams {
    key_length: MppeKeyLength::Bits128,
    stateless: true,
};

#[test]
fn ccp_rfc3078_2_1_replays_pppd_capture() {
    // pptpd-vs-pptp-linux-mschapv2-mppe128.pcap frames 24-27: both pppd ends request
    // 12 06 01000040 (+H -M +S: stateless, 128-bit) and both ack.
    let mut ours = CcpPolicy::new(keyed());
    assert_eq!(request(&mut ours), unhex("120601000040"), "frames 24/25");
    let (v, nak, rej) = judge(&mut ours, &unhex("120601000040"), false).unwrap();
    assert_eq!(
        (v, nak, rej),
        (RequestVerdict::Ack, vec![], vec![]),
        "frames 26/27"
    );
    ours.on_ack(&unhex("120601000040")).unwrap();
    let got = ours.negotiated().unwrap();
    assert_eq!(got.transmit, Some(STATELESS_128));
    assert_eq!(got.mppe(), Some(STATELESS_128));
}

#[test]
fn ccp_rfc3078_2_1_several_strengths_naked_to_strongest() {
    // A Windows-style request offering everything (H, M, S, L, D, C) gets what pppd answers:
    // the single strongest length we accept, H, nothing else.
    let mut ours = CcpPolicy::new(keyed());
    let (v, nak, _) = judge(&mut ours, &mppe(H | M | S | L | D | C), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, mppe(H | S)));
    // S with L: still Nak'd down to S alone.
    let (v, nak, _) = judge(&mut ours, &mppe(H | S | L), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, mppe(H | S)));
    // With 40-bit allowed the answer is the same: the strongest wins.
    let mut weak = CcpPolicy::new(CcpConfig {
        allow_weak_mppe_40: true,
        ..keyed()
    });
    assert_eq!(
        request(&mut weak),
        mppe(H | S | L),
        "our request lists what we can do"
    );
    let (v, nak, _) = judge(&mut weak, &mppe(H | S | L), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, mppe(H | S)));
    let (v, _, _) = judge(&mut weak, &mppe(H | L), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack, "one acceptable strength: Ack");
}

#[test]
fn ccp_rfc3078_2_1_weak_lengths_need_opt_in() {
    let mut ours = CcpPolicy::new(keyed());
    for weak in [L, M] {
        let (v, nak, _) = judge(&mut ours, &mppe(H | weak), false).unwrap();
        assert_eq!((v, nak), (RequestVerdict::Nak, mppe(H | S)), "{weak:#x}");
    }
    let mut m56 = CcpPolicy::new(CcpConfig {
        allow_weak_mppe_56: true,
        ..keyed()
    });
    let (v, _, _) = judge(&mut m56, &mppe(H | M), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
}

#[test]
fn ccp_rfc3078_2_1_mppc_bit_cleared_by_nak_and_alone_rejected() {
    let mut ours = CcpPolicy::new(keyed());
    let (v, nak, _) = judge(&mut ours, &mppe(H | S | C), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, mppe(H | S)));
    let (v, _, rej) = judge(&mut ours, &mppe(C), false).unwrap();
    assert_eq!((v, rej), (RequestVerdict::Reject, mppe(C)));
}

#[test]
fn ccp_rfc1962_other_compressors_rejected() {
    let mut ours = CcpPolicy::new(keyed());
    let deflate = unhex("1a047800");
    let bsd = unhex("15032f");
    let predictor1 = unhex("0102");
    let list = [deflate, mppe(H | S), bsd, predictor1].concat();
    let (v, _, rej) = judge(&mut ours, &list, false).unwrap();
    assert_eq!(v, RequestVerdict::Reject);
    assert_eq!(rej, unhex("1a047800 15032f 0102"));
    // A malformed option 18 is rejected, not misread.
    let (v, _, rej) = judge(&mut ours, &unhex("1205010000"), false).unwrap();
    assert_eq!((v, rej), (RequestVerdict::Reject, unhex("1205010000")));
}

#[test]
fn ccp_rfc3078_2_1_default_against_itself() {
    let mut a = CcpPolicy::new(keyed());
    let mut b = CcpPolicy::new(keyed());
    let (rounds, _) = converge(&mut a, &mut b, 4).unwrap();
    assert_eq!(rounds, 1);
    assert_eq!(a.negotiated().unwrap().mppe(), Some(STATELESS_128));
    assert_eq!(b.negotiated().unwrap().mppe(), Some(STATELESS_128));
}

fn lengths(l40: bool, l56: bool, l128: bool) -> CcpPolicy {
    CcpPolicy::new(CcpConfig {
        allow_weak_mppe_40: l40,
        allow_weak_mppe_56: l56,
        allow_mppe_128: l128,
        ..keyed()
    })
}

#[test]
fn ccp_rfc3078_2_1_both_directions_agree_on_one_strength() {
    // (a's lengths, b's lengths, expected)
    let cases = [
        (
            (true, false, true),
            (true, false, false),
            MppeKeyLength::Bits40,
        ),
        (
            (true, true, true),
            (false, true, true),
            MppeKeyLength::Bits128,
        ),
        (
            (true, true, false),
            (true, true, true),
            MppeKeyLength::Bits56,
        ),
        (
            (true, false, true),
            (true, false, true),
            MppeKeyLength::Bits128,
        ),
    ];
    for (x, y, want) in cases {
        for swap in [false, true] {
            let mut a = lengths(x.0, x.1, x.2);
            let mut b = lengths(y.0, y.1, y.2);
            let (a, b) = if swap {
                (&mut b, &mut a)
            } else {
                (&mut a, &mut b)
            };
            let (_, log) = converge(a, b, 6).unwrap();
            let want = Some(MppeParams {
                key_length: want,
                stateless: true,
            });
            assert_eq!(a.negotiated().unwrap().mppe(), want, "{log:#?}");
            assert_eq!(b.negotiated().unwrap().mppe(), want, "{log:#?}");
        }
    }
}

#[test]
fn ccp_rfc3078_2_1_no_common_strength_fails() {
    let mut a = lengths(false, false, true);
    let mut b = lengths(true, false, false);
    let (failed, log) = converge(&mut a, &mut b, 12).unwrap_err();
    assert_eq!(failed.failure(), Some(&REFUSED), "{log:#?}");
}

#[test]
fn ccp_rfc3078_2_stateful_only_by_opt_in() {
    // Stateful requests are Nak'd to stateless.
    let mut ours = CcpPolicy::new(keyed());
    let (v, nak, _) = judge(&mut ours, &mppe(S), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, mppe(H | S)));
    // A peer naking us to stateful is not followed without the opt-in: we keep asking for
    // stateless (the peer's Max-Failure ends it, see the test below) ...
    assert_eq!(request(&mut ours), mppe(H | S));
    ours.on_nak(&mppe(S)).unwrap();
    assert_eq!(request(&mut ours), mppe(H | S));
    // ... and followed with it; a stateful request is acked at once and steers our own
    // direction to stateful, so both agree.
    let mut ours = CcpPolicy::new(CcpConfig {
        allow_stateful: true,
        ..keyed()
    });
    assert_eq!(
        request(&mut ours),
        mppe(H | S),
        "stateless is still what we ask for"
    );
    ours.on_nak(&mppe(S)).unwrap();
    assert_eq!(request(&mut ours), mppe(S));
    let (v, _, _) = judge(&mut ours, &mppe(S), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
    ours.on_ack(&mppe(S)).unwrap();
    assert_eq!(ours.negotiated().unwrap().mppe(), Some(STATEFUL_128));
    let mut ours = CcpPolicy::new(CcpConfig {
        allow_stateful: true,
        ..keyed()
    });
    request(&mut ours);
    let (v, _, _) = judge(&mut ours, &mppe(S), false).unwrap();
    assert_eq!(
        v,
        RequestVerdict::Ack,
        "allowed stateful request taken as is"
    );
    assert_eq!(
        request(&mut ours),
        mppe(S),
        "our direction steered to stateful"
    );
}

const STATEFUL_128: MppeParams = MppeParams {
    key_length: MppeKeyLength::Bits128,
    stateless: false,
};

fn stateful(allow: bool, prefer: bool) -> CcpPolicy {
    CcpPolicy::new(CcpConfig {
        allow_stateful: allow,
        prefer_weak_stateful: prefer,
        ..keyed()
    })
}

#[test]
fn ccp_rfc3078_2_1_prefer_stateful_requests_h_clear() {
    let mut ours = stateful(false, true);
    assert_eq!(request(&mut ours), mppe(S));
    // A stateless request is pushed towards stateful ...
    let (v, nak, _) = judge(&mut ours, &mppe(H | S), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, mppe(S)));
    // ... until the peer naks ours back to stateless: then we fall back for both directions.
    ours.on_nak(&mppe(H | S)).unwrap();
    assert_eq!(request(&mut ours), mppe(H | S));
    let (v, _, _) = judge(&mut ours, &mppe(H | S), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
}

#[test]
fn ccp_rfc3078_2_1_stateful_negotiated_only_when_one_prefers_and_the_other_allows() {
    // (a: allow, prefer), (b: allow, prefer), expected mode; both orders of who speaks first.
    let cases = [
        ((false, true), (true, false), false),
        ((false, true), (false, true), false),
        ((true, true), (true, false), false),
        ((false, true), (false, false), true),
        ((true, false), (true, false), true),
        ((false, false), (false, false), true),
    ];
    for ((aa, ap), (ba, bp), want_stateless) in cases {
        for swap in [false, true] {
            let mut a = stateful(aa, ap);
            let mut b = stateful(ba, bp);
            let (a, b) = if swap {
                (&mut b, &mut a)
            } else {
                (&mut a, &mut b)
            };
            let (rounds, log) = converge(a, b, 6).unwrap();
            let want = Some(MppeParams {
                key_length: MppeKeyLength::Bits128,
                stateless: want_stateless,
            });
            let case = format!("a=({aa},{ap}) b=({ba},{bp}) swap={swap}: {log:#?}");
            assert_eq!(a.negotiated().unwrap().mppe(), want, "{case}");
            assert_eq!(b.negotiated().unwrap().mppe(), want, "{case}");
            assert!(rounds <= 2, "{case}");
        }
    }
}

#[test]
fn ccp_rfc3078_2_1_prefer_stateful_steers_every_strength() {
    for (l40, l56, l128, want) in [
        (true, false, false, MppeKeyLength::Bits40),
        (false, true, false, MppeKeyLength::Bits56),
        (false, false, true, MppeKeyLength::Bits128),
    ] {
        let config = CcpConfig {
            allow_weak_mppe_40: l40,
            allow_weak_mppe_56: l56,
            allow_mppe_128: l128,
            ..keyed()
        };
        let mut a = CcpPolicy::new(CcpConfig {
            prefer_weak_stateful: true,
            ..config
        });
        let mut b = CcpPolicy::new(CcpConfig {
            allow_stateful: true,
            ..config
        });
        let (_, log) = converge(&mut a, &mut b, 6).unwrap();
        let want = Some(MppeParams {
            key_length: want,
            stateless: false,
        });
        assert_eq!(a.negotiated().unwrap().mppe(), want, "{log:#?}");
        assert_eq!(b.negotiated().unwrap().mppe(), want, "{log:#?}");
    }
}

#[test]
fn ccp_rfc1661_4_6_peer_insisting_on_stateful_is_refused_without_opt_in() {
    // A peer that only does stateful mode keeps naking our stateless request; on Max-Failure
    // it rejects MPPE and, MPPE being required, we fail.
    let mut ours = CcpPolicy::new(keyed());
    let mut naks = 0;
    loop {
        assert_eq!(request(&mut ours), mppe(H | S));
        if naks == ncp_common::MAX_FAILURE {
            assert_eq!(ours.on_reject(&mppe(H | S)), Err(REFUSED));
            break;
        }
        ours.on_nak(&mppe(S)).unwrap();
        naks += 1;
    }
}

#[test]
fn ccp_rfc3078_2_1_required_refused_by_reject() {
    let mut ours = CcpPolicy::new(keyed());
    let req = request(&mut ours);
    assert_eq!(ours.on_reject(&req), Err(REFUSED));
}

#[test]
fn ccp_rfc3078_2_1_required_refused_by_unacceptable_nak() {
    for bad in [H | L, H | M, H, 0, C] {
        let mut ours = CcpPolicy::new(keyed());
        request(&mut ours);
        assert_eq!(ours.on_nak(&mppe(bad)), Err(REFUSED), "{bad:#x}");
    }
    // A Nak to an acceptable single strength is followed.
    let mut ours = lengths(true, false, true);
    request(&mut ours);
    ours.on_nak(&mppe(H | L)).unwrap();
    assert_eq!(request(&mut ours), mppe(H | L));
}

#[test]
fn ccp_rfc1661_5_3_required_peer_without_mppe_prompted_then_refused() {
    let mut ours = CcpPolicy::new(keyed());
    let (v, nak, _) = judge(&mut ours, &[], false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, mppe(H | S)));
    assert_eq!(judge(&mut ours, &[], false), Err(REFUSED));
    // A reject in the same answer hides the prompt, so it is not spent on it.
    let mut ours = CcpPolicy::new(keyed());
    let (v, _, _) = judge(&mut ours, &unhex("1a047800"), false).unwrap();
    assert_eq!(v, RequestVerdict::Reject);
    let (v, nak, _) = judge(&mut ours, &[], false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, mppe(H | S)));
}

#[test]
fn ccp_rfc1661_4_6_max_failure_rejects_or_refuses() {
    let mut required = CcpPolicy::new(keyed());
    assert_eq!(judge(&mut required, &mppe(H | S | L), true), Err(REFUSED));
    assert_eq!(judge(&mut required, &[], true), Err(REFUSED));
    let mut allowed = CcpPolicy::new(CcpConfig {
        mppe: MppePolicy::Allowed,
        ..keyed()
    });
    let (v, nak, rej) = judge(&mut allowed, &mppe(H | S | L), true).unwrap();
    assert_eq!(
        (v, nak, rej),
        (RequestVerdict::Reject, vec![], mppe(H | S | L))
    );
    assert_eq!(
        request(&mut allowed),
        Vec::<u8>::new(),
        "no MPPE one way only"
    );
}

#[test]
fn ccp_rfc3078_allowed_falls_back_to_no_encryption() {
    let mut ours = CcpPolicy::new(CcpConfig {
        mppe: MppePolicy::Allowed,
        ..keyed()
    });
    let req = request(&mut ours);
    ours.on_reject(&req).unwrap();
    assert_eq!(request(&mut ours), Vec::<u8>::new());
    // The peer's MPPE is then rejected too: both directions run in clear.
    let (v, _, _) = judge(&mut ours, &mppe(H | S), false).unwrap();
    assert_eq!(v, RequestVerdict::Reject);
    let (v, _, _) = judge(&mut ours, &[], false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
    ours.on_ack(&[]).unwrap();
    let got = ours.negotiated().unwrap();
    assert_eq!((got.transmit, got.receive, got.mppe()), (None, None, None));
}

#[test]
fn ccp_rfc3079_no_keys_required_fails_allowed_skips() {
    let mut required = CcpPolicy::new(CcpConfig::default());
    assert!(matches!(
        required.check_config(),
        Err(NegotiationFailure::RequiredOptionRefused { option: 18, .. })
    ));
    assert!(matches!(
        judge(&mut required, &mppe(H | S), false),
        Err(NegotiationFailure::RequiredOptionRefused { option: 18, .. })
    ));
    let mut allowed = CcpPolicy::new(CcpConfig {
        mppe: MppePolicy::Allowed,
        ..CcpConfig::default()
    });
    assert_eq!(allowed.check_config(), Ok(()));
    assert_eq!(request(&mut allowed), Vec::<u8>::new());
    let (v, _, _) = judge(&mut allowed, &mppe(H | S), false).unwrap();
    assert_eq!(v, RequestVerdict::Reject);
    let mut peer = CcpPolicy::new(CcpConfig {
        mppe: MppePolicy::Allowed,
        ..keyed()
    });
    converge(&mut allowed, &mut peer, 6).unwrap();
    assert_eq!(allowed.negotiated().unwrap().mppe(), None);
    assert_eq!(peer.negotiated().unwrap().mppe(), None);
}

#[test]
fn ccp_rfc3078_required_against_no_keys_peer_fails() {
    let mut required = CcpPolicy::new(keyed());
    let mut keyless = CcpPolicy::new(CcpConfig {
        mppe: MppePolicy::Allowed,
        ..CcpConfig::default()
    });
    let (failed, log) = converge(&mut required, &mut keyless, 8).unwrap_err();
    assert!(
        matches!(failed, Failed::Sender("CCP", ref f) | Failed::Receiver("CCP", ref f) if *f == REFUSED),
        "{failed:?} {log:#?}"
    );
}

#[test]
fn ccp_refused_rejects_mppe() {
    let mut ours = CcpPolicy::new(CcpConfig {
        mppe: MppePolicy::Refused,
        ..keyed()
    });
    assert_eq!(request(&mut ours), Vec::<u8>::new());
    let (v, _, rej) = judge(&mut ours, &mppe(H | S), false).unwrap();
    assert_eq!((v, rej), (RequestVerdict::Reject, mppe(H | S)));
}

#[test]
fn ccp_rfc3078_2_1_ambiguous_ack_follows_other_direction() {
    // We offered S+L, acked the peer's L, then the peer acks our S+L: we use 40-bit too.
    let mut ours = lengths(true, false, true);
    let req = request(&mut ours);
    assert_eq!(req, mppe(H | S | L));
    let (v, _, _) = judge(&mut ours, &mppe(H | L), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
    ours.on_ack(&req).unwrap();
    let got = ours.negotiated().unwrap();
    assert_eq!(
        got.transmit.map(|p| p.key_length),
        Some(MppeKeyLength::Bits40)
    );
    assert!(got.mppe().is_some());
}

#[test]
fn ccp_rfc3078_2_1_settled_direction_steers_the_other() {
    // Our 128-bit request is acked first; the peer then offers L+S: Nak'd to S, and a peer
    // asking L alone is Nak'd to S as well (both directions must match).
    let mut ours = lengths(true, false, true);
    request(&mut ours);
    ours.on_nak(&mppe(H | S)).unwrap();
    let req = request(&mut ours);
    ours.on_ack(&req).unwrap();
    let (v, nak, _) = judge(&mut ours, &mppe(H | L), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, mppe(H | S)));
}

#[test]
fn ccp_rfc1661_5_2_ack_must_match_request() {
    let mut ours = CcpPolicy::new(keyed());
    request(&mut ours);
    assert_eq!(
        ours.on_ack(&mppe(H | L)),
        Err(NegotiationFailure::Malformed)
    );
    assert_eq!(
        ours.on_reject(&unhex("1a047800")),
        Err(NegotiationFailure::Malformed)
    );
    assert_eq!(
        ours.on_nak(&unhex("120401")),
        Err(NegotiationFailure::Malformed)
    );
}

#[test]
fn ccp_rfc1661_5_hostile_lists_never_panic() {
    let seeds = vec![
        mppe(H | S),
        mppe(0xffff_ffff),
        [mppe(H | S | L | C), unhex("1a047800 15032f")].concat(),
        unhex("1206"),
        unhex("12ff01000040"),
        unhex("1201"),
    ];
    for config in [
        keyed(),
        CcpConfig {
            prefer_weak_stateful: true,
            ..keyed()
        },
        CcpConfig {
            mppe: MppePolicy::Allowed,
            allow_stateful: true,
            allow_weak_mppe_40: true,
            allow_weak_mppe_56: true,
            ..keyed()
        },
        CcpConfig::default(),
    ] {
        hostile(&mut CcpPolicy::new(config), &seeds, 3000);
    }
}
