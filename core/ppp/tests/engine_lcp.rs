//! Engine-level tests of link establishment and teardown: two engines back to back on a
//! virtual clock (RFC 1661 §3, §5, §6).

mod common;

use std::time::{Duration, Instant};

use common::{Impairments, Link, Side, run_looped};
use dialgate_ppp::{Config, DownReason, Engine, Event, FailureCause, Phase, Protocol};

const SECOND: Duration = Duration::from_secs(1);

fn config(seed: u64) -> Config {
    Config::default().with_seed(seed)
}

fn opened(a: Config, b: Config) -> Link {
    let mut link = Link::new(a, b);
    link.open_both();
    assert!(
        link.run_until(10 * SECOND, |l| l.a.phase() == Phase::Network
            && l.b.phase() == Phase::Network),
        "LCP did not open: {:?}",
        link.events
    );
    link
}

#[test]
fn rfc1661_3_lcp_opens_back_to_back_and_reaches_network_phase() {
    let link = opened(config(1), config(2));
    assert_eq!(link.elapsed(), Duration::ZERO, "no retransmission needed");
    for side in [Side::A, Side::B] {
        let phases: Vec<Phase> = link
            .events_of(side)
            .iter()
            .filter_map(|e| match e {
                Event::PhaseChanged { to, .. } => Some(*to),
                _ => None,
            })
            .collect();
        assert_eq!(phases, [Phase::Establish, Phase::Network]);
        assert!(link.saw(side, |e| *e == Event::LinkUp));
    }
    let p = link.a.link_params();
    assert_eq!((p.tx_accm, p.rx_accm), (0, 0));
    assert!(p.tx_pfc && p.tx_acfc && p.rx_pfc && p.rx_acfc);
    assert_eq!((p.tx_mru, p.rx_mru), (1500, 1500));
}

#[test]
fn rfc1661_6_negotiated_mru_reaches_link_params() {
    let mut a = config(1);
    a.lcp.mru = 1400;
    let link = opened(a, config(2));
    assert_eq!(link.a.link_params().rx_mru, 1400);
    assert_eq!(link.b.link_params().tx_mru, 1400);
}

#[test]
fn rfc1661_6_6_only_lcp_codes_1_to_7_keep_ff03_after_acfc() {
    let mut link = opened(config(1), config(2));
    // Configure packets before and after ACFC carry FF 03.
    for f in link.sent(Side::A, Protocol::LCP) {
        assert_eq!(f[..2], [0xff, 0x03], "{f:02x?}");
    }
    // An Echo-Request after LCP opened drops FF 03.
    link.run_for(31 * SECOND);
    let echoes: Vec<_> = link
        .sent(Side::A, Protocol::LCP)
        .into_iter()
        .filter(|f| f.len() > 2 && f[2] == 9)
        .collect();
    assert!(!echoes.is_empty());
    assert_eq!(echoes[0][..2], [0xc0, 0x21]);
}

#[test]
fn rfc1661_4_lcp_opens_despite_loss_duplication_and_reordering() {
    for seed in 0..20 {
        let mut link = Link::new(config(seed * 2 + 1), config(seed * 2 + 2)).with_impairments(
            Impairments {
                loss_ppm: 200_000,
                duplicate_ppm: 200_000,
                reorder_ppm: 300_000,
            },
            seed,
        );
        link.open_both();
        let ok = link.run_until(60 * SECOND, |l| {
            l.a.phase() == Phase::Network && l.b.phase() == Phase::Network
        });
        assert!(ok, "seed {seed}: {:?}", link.events);
    }
}

#[test]
fn rfc1661_5_8_echo_keepalive_keeps_a_live_link_up() {
    let mut link = opened(config(1), config(2));
    link.run_for(600 * SECOND);
    assert_eq!(link.down_reason(Side::A), None);
    assert_eq!(link.down_reason(Side::B), None);
    let echo_replies = link
        .sent(Side::B, Protocol::LCP)
        .iter()
        .filter(|f| f.get(2) == Some(&10))
        .count();
    assert!(
        echo_replies >= 19,
        "{echo_replies} echo replies in 10 minutes"
    );
    assert_eq!(
        link.a.lcp().stats().echo_replies_received,
        echo_replies as u64
    );
}

#[test]
fn rfc1661_5_8_echo_keepalive_detects_a_dead_peer() {
    let mut link = opened(
        config(1).with_echo(Some(10 * SECOND), 3),
        config(2).with_echo(None, 0),
    );
    link.dead = Some(Side::B);
    let down = link.run_until(600 * SECOND, |l| l.down_reason(Side::A).is_some());
    assert!(down);
    assert_eq!(link.down_reason(Side::A), Some(DownReason::EchoTimeout));
    // 3 unanswered echoes at 10 s intervals, the 4th interval declares the peer dead, then
    // two Terminate-Requests 3 s apart.
    assert_eq!(link.elapsed(), 40 * SECOND + 6 * SECOND);
    assert_eq!(link.a.phase(), Phase::Dead);
}

#[test]
fn rfc1661_6_4_magic_number_detects_a_looped_back_link() {
    let start = Instant::now();
    let mut engine = Engine::new(config(7), start);
    let events = run_looped(&mut engine, start, 120 * SECOND);
    assert!(
        events.contains(&Event::LinkDown {
            reason: DownReason::LoopedBack
        }),
        "{events:?}"
    );
}

#[test]
fn rfc1661_5_7_unknown_protocol_is_protocol_rejected_in_network_phase() {
    let mut link = opened(config(1), config(2));
    // An IPV6CP Configure-Request (we run no IPV6CP) and a frame of an unknown protocol.
    let ipv6cp = [0xff, 0x03, 0x80, 0x57, 1, 1, 0, 4];
    assert_eq!(link.inject(Side::A, &ipv6cp), None);
    let odd = [0x40, 0x01, 0xaa, 0xbb];
    assert_eq!(link.inject(Side::A, &odd), None);
    let mut out = Vec::new();
    let mut rejects = Vec::new();
    while link.a.poll_transmit(&mut out) {
        // Identifiers are the engine's own choice: mask them.
        out[3] = 0;
        rejects.push(out.clone());
    }
    // ACFC negotiated: no FF 03; Protocol-Reject is LCP code 8 carrying the rejected protocol
    // and information field.
    assert_eq!(
        rejects,
        [
            vec![0xc0, 0x21, 8, 0, 0, 10, 0x80, 0x57, 1, 1, 0, 4],
            vec![0xc0, 0x21, 8, 0, 0, 8, 0x40, 0x01, 0xaa, 0xbb],
        ]
    );
    assert_eq!(link.a.counters().protocol_rejects_sent, 2);
    assert_eq!(link.a.counters().drop_bad_protocol, 2);
}

#[test]
fn rfc1661_3_4_non_lcp_frames_before_lcp_opens_are_silently_discarded() {
    let mut link = Link::new(config(1), config(2));
    link.a.open(link.now);
    link.a.lower_up(link.now);
    let ipcp = [0xff, 0x03, 0x80, 0x21, 1, 1, 0, 4];
    assert_eq!(link.inject(Side::A, &ipcp), None);
    assert_eq!(link.a.counters().drop_wrong_phase, 1);
    let mut out = Vec::new();
    let mut n = 0;
    while link.a.poll_transmit(&mut out) {
        assert_eq!(out[4], 1, "only our Configure-Request goes out");
        n += 1;
    }
    assert_eq!(n, 1);
}

#[test]
fn rfc1661_5_6_unknown_lcp_code_is_code_rejected() {
    let mut link = opened(config(1), config(2));
    let odd = [0xff, 0x03, 0xc0, 0x21, 0x42, 7, 0, 6, 0xde, 0xad];
    link.inject(Side::B, &odd);
    let mut out = Vec::new();
    assert!(link.b.poll_transmit(&mut out));
    // Code-Reject is an LCP code 1-7: FF 03 kept; it carries the rejected packet.
    assert_eq!(out[..5], [0xff, 0x03, 0xc0, 0x21, 7]);
    assert_eq!(out[6..8], [0, 10]);
    assert_eq!(out[8..], odd[4..]);
    assert_eq!(link.b.phase(), Phase::Network, "the link stays up");
}

#[test]
fn rfc1661_5_5_terminate_handshake() {
    let mut link = opened(config(1), config(2));
    let now = link.now;
    link.a.close(now, DownReason::AdminClose);
    link.collect_events();
    assert_eq!(link.a.phase(), Phase::Terminate);
    assert!(link.run_until(30 * SECOND, |l| l.down_reason(Side::B).is_some()));
    assert_eq!(link.down_reason(Side::A), Some(DownReason::AdminClose));
    assert_eq!(link.down_reason(Side::B), Some(DownReason::PeerTerminated));
    // The peer waits one restart period after acking (zrc) before finishing.
    assert_eq!(link.elapsed(), 3 * SECOND);
    assert_eq!(link.a.phase(), Phase::Dead);
    assert_eq!(link.b.phase(), Phase::Dead);
    let terms: Vec<u8> = link
        .trace
        .iter()
        .filter(|(_, f)| f.get(2..4) == Some(&[0xc0, 0x21]))
        .filter_map(|(_, f)| f.get(4).copied())
        .filter(|c| *c == 5 || *c == 6)
        .collect();
    assert_eq!(terms, [5, 6]);
}

#[test]
fn rfc1661_5_5_close_against_a_dead_peer_gives_up_after_max_terminate() {
    let mut link = opened(config(1), config(2));
    link.dead = Some(Side::B);
    let now = link.now;
    link.a.close(now, DownReason::AdminClose);
    assert!(link.run_until(30 * SECOND, |l| l.down_reason(Side::A).is_some()));
    assert_eq!(link.elapsed(), 6 * SECOND);
    let terminate_requests = link
        .sent(Side::A, Protocol::LCP)
        .iter()
        .filter(|f| f[4] == 5)
        .count();
    assert_eq!(terminate_requests, 2);
}

#[test]
fn idle_timeout_closes_the_link() {
    let mut link = opened(config(1).with_idle_timeout(120 * SECOND), config(2));
    assert!(link.run_until(600 * SECOND, |l| l.down_reason(Side::A).is_some()));
    // Keepalive echoes are not data: the link idles out at 120 s.
    assert_eq!(link.elapsed(), 120 * SECOND);
    assert!(link.run_until(600 * SECOND, |l| l.down_reason(Side::B).is_some()));
    assert_eq!(link.down_reason(Side::A), Some(DownReason::IdleTimeout));
    assert_eq!(link.down_reason(Side::B), Some(DownReason::PeerTerminated));
}

#[test]
fn session_timeout_closes_the_link() {
    let mut link = opened(config(1), config(2).with_session_timeout(3600 * SECOND));
    assert!(link.run_until(7200 * SECOND, |l| l.down_reason(Side::B).is_some()));
    assert_eq!(link.elapsed(), 3600 * SECOND);
    assert!(link.run_until(7200 * SECOND, |l| l.down_reason(Side::A).is_some()));
    assert_eq!(link.down_reason(Side::B), Some(DownReason::SessionTimeout));
    assert_eq!(link.down_reason(Side::A), Some(DownReason::PeerTerminated));
}

#[test]
fn lower_down_takes_the_link_down_at_once() {
    let mut link = opened(config(1), config(2));
    let now = link.now;
    link.a.lower_down(now);
    link.collect_events();
    assert_eq!(link.down_reason(Side::A), Some(DownReason::LowerDown));
    assert_eq!(link.a.phase(), Phase::Dead);
}

#[test]
fn rfc1661_4_6_silent_peer_fails_lcp_with_no_response() {
    let mut link = Link::new(config(1), config(2));
    link.dead = Some(Side::B);
    link.open_both();
    assert!(link.run_until(60 * SECOND, |l| l.down_reason(Side::A).is_some()));
    assert_eq!(
        link.down_reason(Side::A),
        Some(DownReason::NegotiationFailed {
            protocol: Protocol::LCP,
            why: FailureCause::NoResponse
        })
    );
    assert_eq!(
        link.elapsed(),
        30 * SECOND,
        "10 Configure-Requests, 3 s apart"
    );
}

#[test]
fn rfc1661_6_2_authenticator_fails_closed_when_the_peer_refuses_authentication() {
    let a = config(1)
        .with_authenticator(common::users(&[("alice", "secret")]), "dialgate")
        .with_random(common::random(1));
    let mut link = Link::new(a, config(2));
    link.open_both();
    assert!(link.run_until(60 * SECOND, |l| l.down_reason(Side::A).is_some()));
    assert!(matches!(
        link.down_reason(Side::A),
        Some(DownReason::NegotiationFailed {
            protocol: Protocol::LCP,
            why: FailureCause::Refused(_)
        })
    ));
    assert!(!link.saw(Side::A, |e| matches!(
        e,
        Event::PhaseChanged {
            to: Phase::Network,
            ..
        }
    )));
}

#[test]
fn handle_frame_never_panics_on_arbitrary_frames() {
    let mut link = opened(config(1), config(2));
    let mut rng = dialgate_ppp::rng::Rng::new(99);
    let protocols: [&[u8]; 6] = [
        &[0xff, 0x03, 0xc0, 0x21],
        &[0xc0, 0x21],
        &[0x80, 0x21],
        &[0x21],
        &[0xc2, 0x23],
        &[],
    ];
    for i in 0..20_000u32 {
        let prefix = protocols[(rng.next_u32() % 6) as usize];
        let len = (rng.next_u32() % 40) as usize;
        let mut frame = prefix.to_vec();
        frame.extend((0..len).map(|_| rng.next_u32() as u8));
        if i % 2 == 0 && frame.len() > prefix.len() + 3 {
            // Make the Length field plausible half of the time.
            let l = (frame.len() - prefix.len()) as u16;
            frame[prefix.len() + 2..prefix.len() + 4].copy_from_slice(&l.to_be_bytes());
        }
        let side = if i % 3 == 0 { Side::B } else { Side::A };
        link.inject(side, &frame);
        link.exchange();
        if i % 1000 == 0 {
            link.run_for(SECOND);
        }
    }
}

#[test]
fn rfc1661_5_5_peer_terminate_then_hang_up_is_peer_terminated() {
    // A real peer sends Terminate-Request, gets our Terminate-Ack and closes the line at
    // once: we are in Stopping when the lower layer drops. The first cause wins.
    let mut link = opened(config(1), config(2));
    let now = link.now;
    link.a.close(now, DownReason::AdminClose);
    link.exchange();
    assert_eq!(
        link.b.phase(),
        Phase::Terminate,
        "B acked and waits (Stopping)"
    );
    assert_eq!(link.down_reason(Side::B), None);
    let now = link.now;
    link.b.lower_down(now);
    link.a.lower_down(now);
    link.collect_events();
    assert_eq!(link.down_reason(Side::B), Some(DownReason::PeerTerminated));
    assert_eq!(link.down_reason(Side::A), Some(DownReason::AdminClose));
    assert_eq!(link.a.phase(), Phase::Dead);
    assert_eq!(link.b.phase(), Phase::Dead);
    let downs = link
        .events_of(Side::B)
        .iter()
        .filter(|e| matches!(e, Event::LinkDown { .. }))
        .count();
    assert_eq!(downs, 1, "LinkDown is reported once");
}

#[test]
fn rfc1661_5_5_hang_up_while_closing_keeps_the_close_reason() {
    let mut link = opened(config(1), config(2));
    link.dead = Some(Side::B);
    let now = link.now;
    link.a.close(now, DownReason::IdleTimeout);
    link.exchange();
    assert_eq!(link.a.phase(), Phase::Terminate);
    link.a.lower_down(now);
    link.collect_events();
    assert_eq!(link.down_reason(Side::A), Some(DownReason::IdleTimeout));
}

#[test]
fn lower_down_in_establish_after_a_stray_terminate_request_is_lower_down() {
    // A Terminate-Request in Req-Sent is answered but leaves LCP negotiating: the lower
    // layer dropping then is LowerDown, not PeerTerminated.
    let mut link = Link::new(config(1), config(2));
    link.a.open(link.now);
    link.a.lower_up(link.now);
    link.inject(Side::A, &[0xff, 0x03, 0xc0, 0x21, 5, 9, 0, 4]);
    assert_eq!(link.a.phase(), Phase::Establish);
    let now = link.now;
    link.a.lower_down(now);
    link.collect_events();
    assert_eq!(link.down_reason(Side::A), Some(DownReason::LowerDown));
}

/// An LCP Echo-Request padded to `len` octets in all (ACFC: no FF 03).
fn echo_request(len: usize, magic: u32) -> Vec<u8> {
    let mut f = vec![0xc0, 0x21, 9, 0x42, 0, 0];
    f.extend_from_slice(&magic.to_be_bytes());
    f.resize(len, 0xaa);
    let l = (len - 2) as u16;
    f[4..6].copy_from_slice(&l.to_be_bytes());
    f
}

#[test]
fn rfc1661_6_1_frames_beyond_the_mru_are_dropped_and_counted() {
    let mut link = opened(config(1), config(2));
    let magic = link.b.lcp().policy().local().magic;
    let limit = 1500 + dialgate_ppp::FRAME_HEADER_ALLOWANCE;
    let before = link.a.counters();
    link.inject(Side::A, &echo_request(limit + 1, magic));
    link.inject(Side::A, &vec![0x21; 70_000]);
    let after = link.a.counters();
    assert_eq!(after.drop_too_long - before.drop_too_long, 2);
    assert_eq!(after.rx_control, before.rx_control);
    let mut out = Vec::new();
    assert!(!link.a.poll_transmit(&mut out), "nothing answered");
    // The longest acceptable frame is answered (Echo-Reply).
    link.inject(Side::A, &echo_request(limit, magic));
    assert_eq!(link.a.counters().rx_control, after.rx_control + 1);
    assert!(link.a.poll_transmit(&mut out));
    assert_eq!(out[2], 10, "Echo-Reply");
}

#[test]
fn rfc1661_6_1_a_smaller_mru_still_receives_1500_and_a_larger_one_more() {
    let mut small = config(1);
    small.lcp.mru = 1000;
    let mut large = config(2);
    large.lcp.mru = 4000;
    let mut link = opened(small, large);
    let allowance = dialgate_ppp::FRAME_HEADER_ALLOWANCE;
    let magic_b = link.b.lcp().policy().local().magic;
    let magic_a = link.a.lcp().policy().local().magic;
    link.inject(Side::A, &echo_request(1500 + allowance, magic_b));
    assert_eq!(link.a.counters().drop_too_long, 0);
    link.inject(Side::A, &echo_request(1501 + allowance, magic_b));
    assert_eq!(link.a.counters().drop_too_long, 1);
    link.inject(Side::B, &echo_request(4000 + allowance, magic_a));
    assert_eq!(link.b.counters().drop_too_long, 0);
    link.inject(Side::B, &echo_request(4001 + allowance, magic_a));
    assert_eq!(link.b.counters().drop_too_long, 1);
}

#[test]
fn every_frame_is_delivered_consumed_or_dropped_exactly_once() {
    let mut link = opened(config(1), config(2));
    let mut rng = dialgate_ppp::rng::Rng::new(5);
    for _ in 0..5_000 {
        let len = (rng.next_u32() % 40) as usize;
        let mut frame: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        if let Some(first) = frame.first_mut()
            && rng.next_u32().is_multiple_of(2)
        {
            *first = 0xc0;
        }
        link.inject(Side::A, &frame);
        link.exchange();
    }
    let c = link.a.counters();
    assert_eq!(c.rx_frames, c.rx_datagrams + c.rx_control + c.dropped());
    assert!(c.rx_frames > 5_000);
}

#[test]
fn rfc1661_6_4_authenticating_server_talking_to_itself_is_looped_back() {
    let start = Instant::now();
    let mut engine = Engine::new(common::server(3), start);
    let events = run_looped(&mut engine, start, 120 * SECOND);
    // Its own Authentication-Protocol option comes back and it rejects it (it does not
    // authenticate itself): that refusal is reported as what it is, a loop.
    let downs: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::LinkDown { .. }))
        .collect();
    assert_eq!(
        downs,
        [&Event::LinkDown {
            reason: DownReason::LoopedBack
        }],
        "{events:?}"
    );
    assert!(!events.iter().any(|e| matches!(e, Event::LinkUp)));
}

#[test]
fn rfc1661_6_4_two_ends_drawing_the_same_magic_numbers_are_looped_back() {
    // Same seed: both ends pick the same magic number and, after every Nak, the same new
    // one, which is indistinguishable from a looped-back line.
    let mut link = Link::new(config(9), config(9));
    link.open_both();
    assert!(
        link.run_until(120 * SECOND, |l| l.down_reason(Side::A).is_some()
            && l.down_reason(Side::B).is_some())
    );
    assert_eq!(link.down_reason(Side::A), Some(DownReason::LoopedBack));
    assert_eq!(link.down_reason(Side::B), Some(DownReason::LoopedBack));
}

#[test]
fn rfc1661_4_2_after_link_down_a_configure_request_does_not_reopen_the_link() {
    // Fuzz finding: a stray Terminate-Request takes A down; B, acked while Opened,
    // renegotiates (RFC 1661 RTA in Opened: tld/scr). A's LCP is then Stopped, where a
    // Configure-Request may restart it passively, but A already reported LinkDown.
    let mut link = opened(config(1), config(2));
    link.inject(Side::A, &[0xc0, 0x21, 5, 0x77, 0, 4]);
    link.run_for(120 * SECOND);
    assert_eq!(link.down_reason(Side::A), Some(DownReason::PeerTerminated));
    let ups = link
        .events_of(Side::A)
        .iter()
        .filter(|e| **e == Event::LinkUp)
        .count();
    assert_eq!(ups, 1, "{:?}", link.events_of(Side::A));
    assert_eq!(link.a.phase(), Phase::Dead);
    assert!(
        link.a.counters().drop_wrong_phase > 0,
        "B's requests were dropped"
    );
    assert!(matches!(
        link.down_reason(Side::B),
        Some(DownReason::NegotiationFailed {
            why: FailureCause::NoResponse,
            ..
        })
    ));
    // The driver hangs up; a new call brings it back, with a fresh reason next time.
    let now = link.now;
    link.a.lower_down(now);
    link.b.lower_down(now);
    link.a.open(now);
    link.a.lower_up(now);
    link.b.open(now);
    link.b.lower_up(now);
    assert!(link.run_until(link.elapsed() + 60 * SECOND, |l| {
        l.a.phase() == Phase::Network && l.b.phase() == Phase::Network
    }));
    let downs = |l: &Link| {
        l.events_of(Side::A)
            .into_iter()
            .filter_map(|e| match e {
                Event::LinkDown { reason } => Some(reason),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(downs(&link), [DownReason::PeerTerminated]);
    let now = link.now;
    link.b.close(now, DownReason::AdminClose);
    assert!(link.run_until(link.elapsed() + 60 * SECOND, |l| downs(l).len() == 2));
    assert_eq!(
        downs(&link),
        [DownReason::PeerTerminated, DownReason::PeerTerminated]
    );
}
