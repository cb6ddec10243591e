//! Unit tests of the GRE state (RFC 2637 §4) on parsed headers; the byte-level tests with
//! impairments live in `tests/gre.rs`.

use super::*;

const LOCAL: u16 = 7;
const PEER: u16 = 9;

fn params(peer_window: u16) -> GreParams {
    GreParams {
        local_call_id: LOCAL,
        peer_call_id: PEER,
        local_window: 16,
        peer_window,
        peer_processing_delay: 0,
    }
}

fn config() -> GreConfig {
    GreConfig {
        min_ack_timeout: Duration::from_millis(10),
        ..GreConfig::default()
    }
}

/// Receive data packet `seq` (payload: the sequence number) and return every frame delivered
/// as a result (direct, then drained), as the sequence numbers they carry.
fn recv(call: &mut GreCall, now: Instant, seq: u32) -> Result<Vec<u32>, RxDrop> {
    recv_ack(call, now, Some(seq), None)
}

fn recv_ack(
    call: &mut GreCall,
    now: Instant,
    seq: Option<u32>,
    ack: Option<u32>,
) -> Result<Vec<u32>, RxDrop> {
    let mut payload = seq.map(|s| s.to_be_bytes().to_vec()).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(frame) = call.handle_parsed(now, LOCAL, seq, ack, &mut payload)? {
        out.push(u32::from_be_bytes(frame[..4].try_into().unwrap()));
    }
    out.extend(drain(call));
    Ok(out)
}

fn drain(call: &mut GreCall) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some(frame) = call.poll_deliver() {
        out.push(u32::from_be_bytes(frame[..4].try_into().unwrap()));
    }
    out
}

#[test]
fn first_packet_sets_sequence_rfc2637_4_1() {
    // pptpd starts at 0, pptp-linux at 1: either is in sequence.
    for start in [0, 1, 77] {
        let now = Instant::now();
        let mut call = GreCall::new(params(8), &config(), now);
        assert_eq!(recv(&mut call, now, start), Ok(vec![start]));
        assert_eq!(recv(&mut call, now, start + 1), Ok(vec![start + 1]));
        assert_eq!(call.counters().rx_delivered, 2);
        assert_eq!(call.counters().rx_lost, 0);
    }
}

#[test]
fn wrong_call_id_dropped_rfc2637_4_1() {
    let now = Instant::now();
    let mut call = GreCall::new(params(8), &config(), now);
    let mut payload = [1, 2, 3];
    assert_eq!(
        call.handle_parsed(now, PEER, Some(0), None, &mut payload),
        Err(RxDrop::WrongCall)
    );
    assert_eq!(call.counters().rx_wrong_call, 1);
}

#[test]
fn unsequenced_payload_dropped_rfc2637_4_1() {
    let now = Instant::now();
    let mut call = GreCall::new(params(8), &config(), now);
    let mut payload = [1, 2, 3];
    assert_eq!(
        call.handle_parsed(now, LOCAL, None, None, &mut payload),
        Err(RxDrop::Malformed(
            dialgate_wire::gre::Error::PayloadWithoutSequence
        ))
    );
    assert_eq!(recv_ack(&mut call, now, None, None), Ok(vec![]));
    assert_eq!(call.counters().rx_ack_only, 1);
}

#[test]
fn duplicates_dropped_rfc2637_4_3() {
    let now = Instant::now();
    let mut call = GreCall::new(params(8), &config(), now);
    assert_eq!(recv(&mut call, now, 10), Ok(vec![10]));
    assert_eq!(recv(&mut call, now, 11), Ok(vec![11]));
    assert_eq!(recv(&mut call, now, 10), Err(RxDrop::Duplicate));
    assert_eq!(recv(&mut call, now, 11), Err(RxDrop::Duplicate));
    // A held frame's duplicate too.
    assert_eq!(recv(&mut call, now, 13), Ok(vec![]));
    assert_eq!(recv(&mut call, now, 13), Err(RxDrop::Duplicate));
    assert_eq!(call.counters().rx_duplicate, 3);
}

#[test]
fn out_of_order_reordered_rfc2637_4_3() {
    let now = Instant::now();
    let mut call = GreCall::new(params(8), &config(), now);
    assert_eq!(recv(&mut call, now, 0), Ok(vec![0]));
    assert_eq!(recv(&mut call, now, 3), Ok(vec![]));
    assert_eq!(recv(&mut call, now, 2), Ok(vec![]));
    assert_eq!(recv(&mut call, now, 1), Ok(vec![1, 2, 3]));
    assert_eq!(recv(&mut call, now, 4), Ok(vec![4]));
    let c = call.counters();
    assert_eq!((c.rx_delivered, c.rx_reordered, c.rx_lost), (5, 2, 0));
    assert!(call.poll_timeout().is_some(), "an ack is owed");
}

#[test]
fn reorder_hold_times_out_and_skips_gap_rfc2637_4_3() {
    let t0 = Instant::now();
    let cfg = config();
    let mut call = GreCall::new(params(8), &cfg, t0);
    assert_eq!(recv(&mut call, t0, 0), Ok(vec![0]));
    let t1 = t0 + Duration::from_millis(5);
    assert_eq!(recv(&mut call, t1, 2), Ok(vec![]));
    assert_eq!(recv(&mut call, t1, 3), Ok(vec![]));
    // Deadlines: the owed ack comes first, then the hold limit.
    let hold = t1 + cfg.reorder_timeout;
    while let Some(deadline) = call.poll_timeout() {
        assert!(deadline <= hold);
        if deadline == hold {
            break;
        }
        call.handle_timeout(deadline);
        assert_eq!(call.take_due_ack(deadline), Some(3));
    }
    call.handle_timeout(hold);
    assert_eq!(drain(&mut call), vec![2, 3]);
    assert_eq!(call.counters().rx_lost, 1);
    // The missing frame turns up late: PPP never sees it.
    assert_eq!(recv(&mut call, hold, 1), Err(RxDrop::Late));
    assert_eq!(recv(&mut call, hold, 4), Ok(vec![4]));
}

#[test]
fn hold_timeout_releases_only_expired_gaps_rfc2637_4_3() {
    let t0 = Instant::now();
    let cfg = config();
    let mut call = GreCall::new(params(8), &cfg, t0);
    recv(&mut call, t0, 0).unwrap();
    recv(&mut call, t0, 2).unwrap();
    let t1 = t0 + cfg.reorder_timeout / 2;
    recv(&mut call, t1, 5).unwrap();
    call.handle_timeout(t0 + cfg.reorder_timeout);
    // 2 waited long enough, 5 did not: 1 is given up on, 3 and 4 still awaited.
    assert_eq!(drain(&mut call), vec![2]);
    assert_eq!(recv(&mut call, t1, 3), Ok(vec![3]));
    assert_eq!(recv(&mut call, t1, 4), Ok(vec![4, 5]));
    assert_eq!(call.counters().rx_lost, 1);
}

#[test]
fn far_ahead_flushes_held_frames_first_rfc2637_4_3() {
    let now = Instant::now();
    let mut call = GreCall::new(params(8), &config(), now);
    recv(&mut call, now, 0).unwrap();
    assert_eq!(recv(&mut call, now, 2), Ok(vec![]));
    assert_eq!(recv(&mut call, now, 4), Ok(vec![]));
    // 1000 is far beyond the ring: give up on the gaps, deliver in order.
    assert_eq!(recv(&mut call, now, 1000), Ok(vec![2, 4, 1000]));
    assert_eq!(call.counters().rx_lost, 1 + 1 + 995);
    assert_eq!(recv(&mut call, now, 1001), Ok(vec![1001]));
    assert_eq!(recv(&mut call, now, 3), Err(RxDrop::Late));
}

#[test]
fn oversized_out_of_order_frame_counted_rfc2637_4_2_4() {
    let now = Instant::now();
    let cfg = GreConfig {
        slot_size: 8,
        ..config()
    };
    let mut call = GreCall::new(params(8), &cfg, now);
    recv(&mut call, now, 0).unwrap();
    let mut big = [0u8; 9];
    assert_eq!(
        call.handle_parsed(now, LOCAL, Some(2), None, &mut big),
        Err(RxDrop::NoRoom)
    );
    // In sequence, size does not matter: it is never copied.
    assert!(
        call.handle_parsed(now, LOCAL, Some(1), None, &mut big)
            .unwrap()
            .is_some()
    );
    assert_eq!(call.counters().rx_no_room, 1);
}

#[test]
fn no_reorder_slots_deliver_at_once_rfc2637_4_3() {
    let now = Instant::now();
    let cfg = GreConfig {
        reorder_slots: 0,
        ..config()
    };
    let mut call = GreCall::new(params(8), &cfg, now);
    assert_eq!(recv(&mut call, now, 0), Ok(vec![0]));
    assert_eq!(recv(&mut call, now, 2), Ok(vec![2]));
    assert_eq!(recv(&mut call, now, 1), Err(RxDrop::Late));
    assert_eq!(call.counters().rx_lost, 1);
}

#[test]
fn zero_window_peer_runs_compat_mode_rfc2637_4_2() {
    // Windows advertises a receive window of 0 and runs no window.
    let now = Instant::now();
    let mut call = GreCall::new(params(0), &config(), now);
    assert_eq!(call.mode(), Mode::Compat(CompatReason::ZeroWindow));
    for _ in 0..1000 {
        call.next_data(now).unwrap();
    }
    assert_eq!(call.counters().tx_window_full, 0);
    assert_eq!(
        call.poll_timeout(),
        None,
        "no acknowledgment timer in compat mode"
    );
    // Delivered at once, late frames dropped.
    assert_eq!(recv(&mut call, now, 0), Ok(vec![0]));
    assert_eq!(recv(&mut call, now, 2), Ok(vec![2]));
    assert_eq!(recv(&mut call, now, 1), Err(RxDrop::Late));
}

#[test]
fn compat_mode_can_keep_reordering() {
    let now = Instant::now();
    let cfg = GreConfig {
        compat_reorder: true,
        ..config()
    };
    let mut call = GreCall::new(params(0), &cfg, now);
    assert_eq!(recv(&mut call, now, 0), Ok(vec![0]));
    assert_eq!(recv(&mut call, now, 2), Ok(vec![]));
    assert_eq!(recv(&mut call, now, 1), Ok(vec![1, 2]));
}

#[test]
fn compat_policy_never_treats_zero_window_as_one() {
    let now = Instant::now();
    let cfg = GreConfig {
        compat: CompatPolicy::Never,
        ..config()
    };
    let mut call = GreCall::new(params(0), &cfg, now);
    assert_eq!(call.mode(), Mode::Rfc);
    assert!(call.next_data(now).is_ok());
    assert_eq!(call.next_data(now), Err(SendError::WindowFull));
}

#[test]
fn initial_window_is_half_the_peers_rfc2637_4_2_1() {
    for (peer, initial) in [(1, 1), (2, 1), (3, 2), (8, 4), (64, 32)] {
        let now = Instant::now();
        let mut call = GreCall::new(params(peer), &config(), now);
        assert_eq!(call.send_window(), initial, "peer window {peer}");
        for _ in 0..initial {
            call.next_data(now).unwrap();
        }
        assert_eq!(call.in_flight(), initial);
        assert_eq!(call.next_data(now), Err(SendError::WindowFull));
        assert_eq!(call.counters().tx_window_full, 1);
    }
}

#[test]
fn acknowledgment_reopens_window_rfc2637_4_2_5() {
    let now = Instant::now();
    let mut call = GreCall::new(params(8), &config(), now);
    let seqs: Vec<u32> = (0..4).map(|_| call.next_data(now).unwrap().0).collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
    assert!(!call.can_send());
    // One acknowledgment clears every packet up to it.
    recv_ack(&mut call, now, None, Some(2)).unwrap();
    assert_eq!(call.in_flight(), 1);
    assert!(call.can_send());
}

#[test]
fn window_grows_per_window_acknowledged_rfc2637_4_2_3() {
    let mut now = Instant::now();
    let mut call = GreCall::new(params(8), &config(), now);
    let mut last = 0;
    for expected in [4, 5, 6, 7, 8, 8] {
        assert_eq!(call.send_window(), expected);
        for _ in 0..expected {
            last = call.next_data(now).unwrap().0;
        }
        assert!(!call.can_send());
        now += Duration::from_millis(1);
        recv_ack(&mut call, now, None, Some(last)).unwrap();
    }
}

#[test]
fn timeout_halves_window_and_backs_off_rfc2637_4_2_2() {
    let t0 = Instant::now();
    let mut call = GreCall::new(params(16), &config(), t0);
    assert_eq!(call.send_window(), 8);
    // The peer acknowledges once (so it is no silent peer), then goes quiet.
    let (first, _) = call.next_data(t0).unwrap();
    recv_ack(&mut call, t0, None, Some(first)).unwrap();
    let ato = call.ack_timeout();
    for _ in 0..8 {
        call.next_data(t0).unwrap();
    }
    let deadline = call.poll_timeout().unwrap();
    assert_eq!(deadline, t0 + ato);
    call.handle_timeout(deadline);
    assert_eq!(call.counters().ack_timeouts, 1);
    assert_eq!(call.send_window(), 4);
    assert_eq!(
        call.in_flight(),
        0,
        "no retransmission: the window is given up on"
    );
    assert_eq!(call.ack_timeout(), ato * 2);
    // A late acknowledgment of the abandoned packets changes nothing.
    recv_ack(&mut call, deadline, None, Some(8)).unwrap();
    assert_eq!(call.in_flight(), 0);
    // Rounding up, never below one.
    for window in [2, 1, 1] {
        let now = call.poll_timeout().map_or(deadline, |d| d);
        call.next_data(now).unwrap();
        let d = call.poll_timeout().unwrap();
        call.handle_timeout(d);
        assert_eq!(call.send_window(), window);
    }
    assert!(call.ack_timeout() <= config().max_ack_timeout);
}

#[test]
fn ack_timeout_adapts_to_rtt_rfc2637_appendix_a() {
    for rtt_ms in [20u64, 300] {
        let rtt = Duration::from_millis(rtt_ms);
        let mut now = Instant::now();
        let mut call = GreCall::new(params(64), &config(), now);
        for _ in 0..200 {
            let (seq, _) = call.next_data(now).unwrap();
            now += rtt;
            recv_ack(&mut call, now, None, Some(seq)).unwrap();
        }
        let est = call.rtt();
        assert!(
            est.abs_diff(rtt) < rtt / 10,
            "estimate {est:?} for a {rtt:?} path"
        );
        // A steady path: the deviation decays, ATO approaches the RTT (within its floor).
        let ato = call.ack_timeout();
        assert!(ato >= rtt.max(config().min_ack_timeout), "{ato:?}");
        assert!(ato < rtt * 2 + config().min_ack_timeout, "{ato:?}");
    }
}

#[test]
fn ack_timeout_seeded_by_processing_delay_rfc2637_appendix_a() {
    let now = Instant::now();
    let mut p = params(8);
    p.peer_processing_delay = 30; // 3 s
    let call = GreCall::new(p, &config(), now);
    assert_eq!(call.rtt(), Duration::from_secs(3));
    assert_eq!(call.ack_timeout(), Duration::from_secs(3));
    p.peer_processing_delay = 1000; // 100 s: bounded by MaxTimeOut
    let call = GreCall::new(p, &config(), now);
    assert_eq!(call.ack_timeout(), config().max_ack_timeout);
}

#[test]
fn acknowledgment_piggybacked_on_data_rfc2637_4_2() {
    let now = Instant::now();
    let mut call = GreCall::new(params(8), &config(), now);
    assert_eq!(call.next_data(now), Ok((0, None)), "nothing owed yet");
    recv(&mut call, now, 41).unwrap();
    recv(&mut call, now, 42).unwrap();
    assert_eq!(call.next_data(now), Ok((1, Some(42))));
    assert_eq!(call.next_data(now), Ok((2, None)), "owed once");
    assert_eq!(call.take_due_ack(now + Duration::from_secs(1)), None);
}

#[test]
fn ack_only_after_delay_rfc2637_4_2() {
    let t0 = Instant::now();
    let cfg = config();
    let mut call = GreCall::new(params(8), &cfg, t0);
    recv(&mut call, t0, 5).unwrap();
    let deadline = call.poll_timeout().unwrap();
    assert_eq!(deadline, t0 + cfg.ack_delay.min(call.ack_timeout() / 2));
    assert_eq!(call.take_due_ack(t0), None, "not before the delay");
    assert_eq!(call.take_due_ack(deadline), Some(5));
    assert_eq!(call.poll_timeout(), None);
    assert_eq!(call.counters().tx_ack_only, 1);
}

#[test]
fn ack_due_at_once_when_a_quarter_of_our_window_is_owed_rfc2637_4_2() {
    let now = Instant::now();
    let mut call = GreCall::new(params(8), &config(), now);
    for seq in 0..3 {
        recv(&mut call, now, seq).unwrap();
        assert_eq!(call.take_due_ack(now), None);
    }
    // Our window is 16: the peer starts at 8 (§4.2.1) and may drop to 4 (§4.2.2); at 4
    // owed it hears from us before it stalls.
    recv(&mut call, now, 3).unwrap();
    assert_eq!(call.take_due_ack(now), Some(3));
    for seq in 4..7 {
        recv(&mut call, now, seq).unwrap();
        assert_eq!(call.take_due_ack(now), None);
    }
    recv(&mut call, now, 7).unwrap();
    assert_eq!(call.take_due_ack(now), Some(7));
}

#[test]
fn ack_for_unsent_packet_ignored() {
    let now = Instant::now();
    let mut call = GreCall::new(params(8), &config(), now);
    call.next_data(now).unwrap();
    call.next_data(now).unwrap();
    recv_ack(&mut call, now, None, Some(5)).unwrap();
    recv_ack(&mut call, now, None, Some(0x8000_0000)).unwrap();
    assert_eq!(call.counters().rx_bad_ack, 2);
    assert_eq!(call.in_flight(), 2);
}

#[test]
fn silent_peer_switches_to_compat_mode() {
    let mut now = Instant::now();
    let mut call = GreCall::new(params(8), &config(), now);
    assert_eq!(call.mode(), Mode::Rfc);
    for _ in 0..2 {
        while call.can_send() {
            call.next_data(now).unwrap();
        }
        now = call.poll_timeout().unwrap();
        call.handle_timeout(now);
    }
    assert_eq!(call.mode(), Mode::Compat(CompatReason::NoAcks));
    for _ in 0..100 {
        call.next_data(now).unwrap();
    }
}

#[test]
fn acknowledging_peer_stays_in_rfc_mode() {
    let mut now = Instant::now();
    let mut call = GreCall::new(params(2), &config(), now);
    let (seq, _) = call.next_data(now).unwrap();
    recv_ack(&mut call, now, None, Some(seq)).unwrap();
    for _ in 0..5 {
        while call.can_send() {
            call.next_data(now).unwrap();
        }
        now = call.poll_timeout().unwrap();
        call.handle_timeout(now);
    }
    assert_eq!(call.mode(), Mode::Rfc);
}

#[test]
fn sequence_wraps_at_2_32_rfc2637_4_1() {
    let now = Instant::now();
    let cfg = GreConfig {
        initial_seq: u32::MAX - 1,
        ..config()
    };
    let mut call = GreCall::new(params(8), &cfg, now);
    let sent: Vec<u32> = (0..4).map(|_| call.next_data(now).unwrap().0).collect();
    assert_eq!(sent, [u32::MAX - 1, u32::MAX, 0, 1]);
    recv_ack(&mut call, now, None, Some(0)).unwrap();
    assert_eq!(call.in_flight(), 1);
    assert_eq!(call.counters().rx_bad_ack, 0);

    // Receive side across the wrap, with reordering over it.
    assert_eq!(recv(&mut call, now, u32::MAX - 1), Ok(vec![u32::MAX - 1]));
    assert_eq!(recv(&mut call, now, 0), Ok(vec![]));
    assert_eq!(recv(&mut call, now, 1), Ok(vec![]));
    assert_eq!(recv(&mut call, now, u32::MAX), Ok(vec![u32::MAX, 0, 1]));
    assert_eq!(recv(&mut call, now, u32::MAX), Err(RxDrop::Duplicate));
    assert_eq!(
        call.next_data(now).unwrap().1,
        Some(1),
        "highest across the wrap"
    );
}

/// Sends frame `n` (four octets, big-endian) through [`GreCall::send`]: `Some((seq, ack))`
/// of the packet when it went out at once, `None` when it was queued.
fn send_frame(call: &mut GreCall, now: Instant, n: u32) -> Result<Option<(u32, u32)>, SendError> {
    let mut buf = vec![0u8; HEADER_ROOM + 4];
    buf[HEADER_ROOM..].copy_from_slice(&n.to_be_bytes());
    match call.send(now, &mut buf, 4)? {
        Sent::Now(packet) => Ok(Some(sent(packet, n))),
        Sent::Queued => Ok(None),
    }
}

/// The sequence and acknowledgment numbers of a packet we built, checking it carries frame
/// `n` (acknowledgment `u32::MAX` when none rides on it).
fn sent(packet: &[u8], n: u32) -> (u32, u32) {
    let p = gre::Packet::new_checked(packet).unwrap();
    assert_eq!(p.payload(), n.to_be_bytes(), "frame {n}");
    (p.sequence().unwrap(), p.ack().unwrap_or(u32::MAX))
}

/// Every queued frame the window lets out now: (frame, sequence number).
fn poll_all(call: &mut GreCall, now: Instant) -> Vec<(u32, u32)> {
    let mut buf = vec![0u8; HEADER_ROOM + 1600];
    let mut out = Vec::new();
    while let Some(packet) = call.poll_send(now, &mut buf) {
        let p = gre::Packet::new_checked(packet).unwrap();
        let n = u32::from_be_bytes(p.payload().try_into().unwrap());
        out.push((n, p.sequence().unwrap()));
    }
    out
}

fn queue_config(capacity: u16, high: u16, low: u16) -> GreConfig {
    GreConfig {
        tx_queue: capacity,
        tx_queue_high: high,
        tx_queue_low: low,
        ..config()
    }
}

#[test]
fn full_window_queues_frames_until_acknowledged_rfc2637_4_2() {
    // pptp-linux advertises a window of 3: we start at 2 (§4.2.1).
    let now = Instant::now();
    let mut call = GreCall::new(params(3), &queue_config(8, 4, 1), now);
    assert_eq!(send_frame(&mut call, now, 100), Ok(Some((0, u32::MAX))));
    assert_eq!(send_frame(&mut call, now, 101), Ok(Some((1, u32::MAX))));
    // The window is full: the next frames wait, in order, without sequence numbers.
    for n in 102..105 {
        assert_eq!(send_frame(&mut call, now, n), Ok(None));
    }
    assert_eq!((call.queued(), call.in_flight()), (3, 2));
    assert_eq!(
        poll_all(&mut call, now),
        [],
        "nothing goes while the window is full"
    );
    // The peer acknowledges packet 0 (§4.2.5): one slot opens, one frame goes.
    recv_ack(&mut call, now, None, Some(0)).unwrap();
    assert_eq!(poll_all(&mut call, now), [(102, 2)]);
    // Acknowledging through 2 opens two more.
    recv_ack(&mut call, now, None, Some(2)).unwrap();
    assert_eq!(poll_all(&mut call, now), [(103, 3), (104, 4)]);
    assert_eq!(call.queued(), 0);
    let c = call.counters();
    assert_eq!((c.tx_packets, c.tx_queued, c.tx_window_full), (5, 3, 0));
}

#[test]
fn queued_frames_keep_their_order_and_carry_the_owed_ack_rfc2637_4_2() {
    let now = Instant::now();
    let mut call = GreCall::new(params(1), &queue_config(8, 8, 1), now);
    assert_eq!(send_frame(&mut call, now, 1), Ok(Some((0, u32::MAX))));
    assert_eq!(send_frame(&mut call, now, 2), Ok(None));
    // The peer's data packet 40 carries an acknowledgment of our 0: the window opens, but a
    // new frame still queues behind the waiting one.
    recv_ack(&mut call, now, Some(40), Some(0)).unwrap();
    assert!(call.can_send());
    assert_eq!(send_frame(&mut call, now, 3), Ok(None));
    // The queued frame goes first, and piggy-backs the acknowledgment of 40 we owe.
    let mut buf = vec![0u8; HEADER_ROOM + 1600];
    let packet = call.poll_send(now, &mut buf).unwrap();
    assert_eq!(sent(packet, 2), (1, 40));
    assert!(call.poll_send(now, &mut buf).is_none(), "window full again");
    recv_ack(&mut call, now, None, Some(1)).unwrap();
    assert_eq!(poll_all(&mut call, now), [(3, 2)]);
}

#[test]
fn full_queue_drops_and_counts_rfc2637_4_2() {
    let now = Instant::now();
    let mut call = GreCall::new(params(1), &queue_config(2, 2, 0), now);
    assert_eq!(send_frame(&mut call, now, 1), Ok(Some((0, u32::MAX))));
    assert_eq!(send_frame(&mut call, now, 2), Ok(None));
    assert_eq!(send_frame(&mut call, now, 3), Ok(None));
    assert_eq!(send_frame(&mut call, now, 4), Err(SendError::WindowFull));
    assert_eq!(call.counters().tx_window_full, 1);
    // A frame longer than a slot cannot wait either.
    let mut big = vec![1u8; HEADER_ROOM + 1601];
    let mut call2 = GreCall::new(params(1), &queue_config(4, 4, 0), now);
    assert!(matches!(call2.send(now, &mut big, 1601), Ok(Sent::Now(_))));
    assert_eq!(call2.send(now, &mut big, 1601), Err(SendError::WindowFull));
    // No queue configured: the old behaviour, drop at once.
    let mut call3 = GreCall::new(params(1), &queue_config(0, 1, 0), now);
    assert_eq!(send_frame(&mut call3, now, 1), Ok(Some((0, u32::MAX))));
    assert_eq!(send_frame(&mut call3, now, 2), Err(SendError::WindowFull));
    assert_eq!(call3.queued(), 0);
}

#[test]
fn congestion_rises_at_high_water_and_falls_at_low_water() {
    let now = Instant::now();
    // A window of one packet, for good (the peer's is 1).
    let mut call = GreCall::new(params(1), &queue_config(8, 4, 1), now);
    send_frame(&mut call, now, 0).unwrap();
    let mut states = Vec::new();
    for n in 1..=6 {
        assert_eq!(send_frame(&mut call, now, n), Ok(None));
        states.push((call.queued(), call.congested()));
    }
    assert_eq!(
        states,
        [
            (1, false),
            (2, false),
            (3, false),
            (4, true),
            (5, true),
            (6, true)
        ]
    );
    // Each acknowledgment lets one frame out (the window is 1): congested until only one
    // frame waits.
    let mut states = Vec::new();
    for ack in 0..5 {
        recv_ack(&mut call, now, None, Some(ack)).unwrap();
        assert_eq!(poll_all(&mut call, now).len(), 1);
        states.push((call.queued(), call.congested()));
    }
    assert_eq!(
        states,
        [(5, true), (4, true), (3, true), (2, true), (1, false)]
    );
    // Rising again counts again.
    for n in 7..10 {
        send_frame(&mut call, now, n).unwrap();
    }
    assert!(call.congested());
    assert_eq!(call.counters().tx_congested, 2);
}

#[test]
fn ack_timeout_releases_the_queue_rfc2637_4_2_2() {
    let t0 = Instant::now();
    let mut call = GreCall::new(params(4), &queue_config(8, 8, 1), t0);
    // The peer acknowledged once (no silent peer), then goes quiet.
    assert_eq!(send_frame(&mut call, t0, 0), Ok(Some((0, u32::MAX))));
    recv_ack(&mut call, t0, None, Some(0)).unwrap();
    assert_eq!(send_frame(&mut call, t0, 1), Ok(Some((1, u32::MAX))));
    assert_eq!(send_frame(&mut call, t0, 2), Ok(Some((2, u32::MAX))));
    for n in 3..6 {
        assert_eq!(send_frame(&mut call, t0, n), Ok(None));
    }
    // §4.2.2: the time-out gives up on what is in flight and halves the window to 1; the
    // queue goes on from there.
    let deadline = call.poll_timeout().unwrap();
    call.handle_timeout(deadline);
    assert_eq!(call.send_window(), 1);
    assert_eq!(poll_all(&mut call, deadline), [(3, 3)]);
    // §4.2.3: a window acknowledged in time grows it by one: two frames go.
    recv_ack(&mut call, deadline, None, Some(3)).unwrap();
    assert_eq!(call.send_window(), 2);
    assert_eq!(poll_all(&mut call, deadline), [(4, 4), (5, 5)]);
}

#[test]
fn compat_mode_never_queues_rfc2637_4_2() {
    let now = Instant::now();
    let mut call = GreCall::new(params(0), &queue_config(8, 4, 1), now);
    for n in 0..100 {
        assert_eq!(send_frame(&mut call, now, n), Ok(Some((n, u32::MAX))));
    }
    assert_eq!(call.counters().tx_queued, 0);
}
