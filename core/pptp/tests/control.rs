//! The control connection (RFC 2637 §3) end to end: two `ControlConnection`s back to back on
//! a virtual clock, every call role, collisions, keep-alives, teardown, hostile input.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use dialgate_pptp::control::{
    CallDownReason, CallError, CallId, CallInfo, CallRequest, CallRole, CallState, ClearCause,
    CloseReason, ControlConfig, ControlConnection, Event, IncomingCallParams, OutgoingCallParams,
    Refusal, Role, State, WanErrors,
};
use dialgate_wire::pptp::{
    self, DisconnectResult, GeneralError, IncomingCallResult, MessageType, OutgoingCallResult,
    Repr, StartResult, StopReason,
};

/// Two connections joined by a perfect TCP stream, with the events each produced.
struct Pair {
    now: Instant,
    a: ControlConnection,
    b: ControlConnection,
    ev_a: Vec<Event>,
    ev_b: Vec<Event>,
    /// Messages that crossed, in order, as (from_a, type).
    wire: Vec<(bool, MessageType)>,
    /// Drop everything B sends (a dead peer).
    b_mute: bool,
}

fn config(seed: u64) -> ControlConfig {
    ControlConfig {
        seed,
        ..ControlConfig::default()
    }
}

impl Pair {
    fn new(ca: ControlConfig, cb: ControlConfig) -> Self {
        let now = Instant::now();
        let mut p = Pair {
            now,
            a: ControlConnection::new(Role::Initiator, ca, now),
            b: ControlConnection::new(Role::Responder, cb, now),
            ev_a: Vec::new(),
            ev_b: Vec::new(),
            wire: Vec::new(),
            b_mute: false,
        };
        p.pump();
        p
    }

    fn established() -> Self {
        let p = Pair::new(config(1), config(2));
        assert_eq!(p.a.state(), State::Established);
        assert_eq!(p.b.state(), State::Established);
        p
    }

    /// Move bytes both ways until both are quiet; collect events.
    fn pump(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            let mut buf = Vec::new();
            if self.a.poll_transmit(&mut buf) {
                moved = true;
                self.note(true, &buf);
                self.b.handle_bytes(self.now, &buf);
            }
            buf.clear();
            if self.b.poll_transmit(&mut buf) {
                moved = true;
                if !self.b_mute {
                    self.note(false, &buf);
                    self.a.handle_bytes(self.now, &buf);
                }
            }
            while let Some(e) = self.a.poll_event() {
                self.ev_a.push(e);
            }
            while let Some(e) = self.b.poll_event() {
                self.ev_b.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("the connections never went quiet");
    }

    fn note(&mut self, from_a: bool, mut bytes: &[u8]) {
        while let Ok(Some(len)) = pptp::message_len(bytes) {
            let t = pptp::Packet::new_unchecked(&bytes[..len]).message_type();
            self.wire.push((from_a, t));
            bytes = &bytes[len..];
        }
    }

    /// Run the virtual clock forward by `d`, firing every timer on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn take_a(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.ev_a)
    }

    fn take_b(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.ev_b)
    }

    fn take_wire(&mut self) -> Vec<(bool, MessageType)> {
        std::mem::take(&mut self.wire)
    }
}

fn requested(events: &[Event]) -> Vec<(CallId, CallRequest)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CallRequested { call, request } => Some((*call, *request)),
            _ => None,
        })
        .collect()
}

fn ups(events: &[Event]) -> Vec<CallInfo> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CallUp(info) => Some(*info),
            _ => None,
        })
        .collect()
}

fn downs(events: &[Event]) -> Vec<(CallId, CallDownReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CallDown { call, reason } => Some((*call, *reason)),
            _ => None,
        })
        .collect()
}

fn closed(events: &[Event]) -> Option<CloseReason> {
    events.iter().find_map(|e| match e {
        Event::Closed(r) => Some(*r),
        _ => None,
    })
}

#[test]
fn establish_rfc2637_3_1_1_and_3_1_2() {
    let mut p = Pair::established();
    assert_eq!(
        p.take_wire(),
        [
            (true, MessageType::StartControlConnectionRequest),
            (false, MessageType::StartControlConnectionReply)
        ]
    );
    for events in [p.take_a(), p.take_b()] {
        let [Event::Established(info)] = events[..] else {
            panic!("{events:?}");
        };
        assert_eq!(info.protocol_version, pptp::PROTOCOL_VERSION);
        assert_eq!(info.host_name.trimmed(), b"dialgate");
    }
}

/// Place one call of each of the four roles (RFC 2637 §3.2.3-§3.2.4), in both directions,
/// and check both ends agree on the Call IDs.
#[test]
fn many_calls_all_four_roles_rfc2637_3_2() {
    let mut p = Pair::established();
    p.take_a();
    p.take_b();
    let mut a_calls = Vec::new();
    let mut b_calls = Vec::new();
    let (mut all_a, mut all_b) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        // A as PNS asks B (PAC) for an outgoing call; B as PAC announces an incoming call.
        let now = p.now;
        a_calls.push(
            p.a.place_outgoing_call(now, &OutgoingCallParams::default())
                .unwrap(),
        );
        b_calls.push(
            p.b.place_incoming_call(now, &IncomingCallParams::default())
                .unwrap(),
        );
        // And the other way round.
        b_calls.push(
            p.b.place_outgoing_call(now, &OutgoingCallParams::default())
                .unwrap(),
        );
        a_calls.push(
            p.a.place_incoming_call(now, &IncomingCallParams::default())
                .unwrap(),
        );
        p.pump();
        let (ea, eb) = (p.take_a(), p.take_b());
        for (call, _) in requested(&ea) {
            p.a.accept_call(now, call).unwrap();
        }
        for (call, _) in requested(&eb) {
            p.b.accept_call(now, call).unwrap();
        }
        all_a.extend(ea);
        all_b.extend(eb);
        p.pump();
    }
    all_a.extend(p.take_a());
    all_b.extend(p.take_b());
    let (ev_a, ev_b) = (all_a, all_b);
    let (up_a, up_b) = (ups(&ev_a), ups(&ev_b));
    assert_eq!(up_a.len(), 20);
    assert_eq!(up_b.len(), 20);
    assert_eq!(p.a.call_count(), 20);
    // Every call A sees has its mirror at B: IDs crossed, roles complementary.
    for a in &up_a {
        let b = up_b
            .iter()
            .find(|b| b.call.0 == a.peer_call_id && b.peer_call_id == a.call.0)
            .unwrap_or_else(|| panic!("no mirror for {a:?}"));
        let mirror = match a.role {
            CallRole::PnsOutgoing => CallRole::PacOutgoing,
            CallRole::PacOutgoing => CallRole::PnsOutgoing,
            CallRole::PnsIncoming => CallRole::PacIncoming,
            CallRole::PacIncoming => CallRole::PnsIncoming,
        };
        assert_eq!(b.role, mirror);
        assert_eq!(a.peer_window, 64);
        assert_eq!(a.gre_params().local_call_id, a.call.0);
    }
    for role in [
        CallRole::PnsOutgoing,
        CallRole::PacOutgoing,
        CallRole::PnsIncoming,
        CallRole::PacIncoming,
    ] {
        assert_eq!(up_a.iter().filter(|i| i.role == role).count(), 5);
    }
    // Call IDs are unique per connection.
    let mut ids: Vec<u16> = up_a.iter().map(|i| i.call.0).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);

    // Clear every call from the end that placed it.
    p.take_wire();
    for info in &up_a {
        if !info.role.is_answer() {
            p.a.clear_call(p.now, info.call, ClearCause::AdminShutdown)
                .unwrap();
        }
    }
    for info in &up_b {
        if !info.role.is_answer() {
            p.b.clear_call(p.now, info.call, ClearCause::LostCarrier)
                .unwrap();
        }
    }
    p.pump();
    let (ev_a, ev_b) = (p.take_a(), p.take_b());
    assert_eq!(downs(&ev_a).len(), 20, "{ev_a:?}");
    assert_eq!(downs(&ev_b).len(), 20, "{ev_b:?}");
    assert_eq!(p.a.call_count(), 0);
    assert_eq!(p.b.call_count(), 0);
    // PNS-placed calls: Call-Clear-Request answered by Call-Disconnect-Notify; PAC-placed
    // calls: Call-Disconnect-Notify alone.
    let wire = p.take_wire();
    let count = |t| wire.iter().filter(|(_, m)| *m == t).count();
    assert_eq!(count(MessageType::CallClearRequest), 10);
    assert_eq!(count(MessageType::CallDisconnectNotify), 20);
    for (call, reason) in downs(&ev_a) {
        let role = up_a.iter().find(|i| i.call == call).unwrap().role;
        let expected = if role.is_answer() {
            match role {
                // B (PNS of our PAC-outgoing call) sent Call-Clear-Request.
                CallRole::PacOutgoing => matches!(reason, CallDownReason::ClearedByPeer),
                _ => matches!(reason, CallDownReason::Disconnected { .. }),
            }
        } else {
            reason == CallDownReason::Cleared
        };
        assert!(expected, "{role:?}: {reason:?}");
    }
}

#[test]
fn pptpd_style_outgoing_call_rfc2637_3_2_4() {
    let mut p = Pair::established();
    p.take_a();
    p.take_b();
    let call =
        p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
            .unwrap();
    assert_eq!(
        p.a.call_state(call),
        Some((CallRole::PnsOutgoing, CallState::WaitReply))
    );
    p.pump();
    let [(b_call, CallRequest::Outgoing(request))] = requested(&p.take_b())[..] else {
        panic!()
    };
    assert_eq!(request.call_id, call.0);
    assert_eq!(request.receive_window, 64);
    assert_eq!(
        p.b.call_state(b_call),
        Some((CallRole::PacOutgoing, CallState::WaitAnswer))
    );
    p.b.accept_call(p.now, b_call).unwrap();
    assert_eq!(p.b.accept_call(p.now, b_call), Err(CallError::WrongState));
    p.pump();
    let [up] = ups(&p.take_a())[..] else { panic!() };
    assert_eq!(ups(&p.take_b())[0].call, b_call);
    assert_eq!((up.call, up.peer_call_id), (call, b_call.0));
    assert_eq!(
        p.a.call_state(call),
        Some((CallRole::PnsOutgoing, CallState::Established))
    );

    // Set-Link-Info from the PNS, WAN-Error-Notify from the PAC (RFC 2637 §2.14-§2.15).
    p.a.set_link_info(call, 0, 0xffff_ffff).unwrap();
    let errors = WanErrors {
        crc: 1,
        framing: 2,
        hardware_overruns: 3,
        buffer_overruns: 4,
        timeouts: 5,
        alignment: 6,
    };
    p.b.wan_error_notify(b_call, errors).unwrap();
    p.pump();
    assert_eq!(
        p.take_b(),
        [Event::SetLinkInfo {
            call: b_call,
            send_accm: 0,
            receive_accm: 0xffff_ffff
        }]
    );
    assert_eq!(p.take_a(), [Event::WanError { call, errors }]);
}

#[test]
fn refused_calls_rfc2637_2_8_and_2_10() {
    let mut p = Pair::established();
    p.take_a();
    p.take_b();
    let out =
        p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
            .unwrap();
    let inc =
        p.a.place_incoming_call(p.now, &IncomingCallParams::default())
            .unwrap();
    p.pump();
    let reqs = requested(&p.take_b());
    p.b.refuse_call(reqs[0].0, Refusal::Busy).unwrap();
    p.b.refuse_call(reqs[1].0, Refusal::DoNotAccept).unwrap();
    p.pump();
    assert_eq!(
        downs(&p.take_b()),
        [
            (reqs[0].0, CallDownReason::Refused),
            (reqs[1].0, CallDownReason::Refused)
        ]
    );
    assert_eq!(
        downs(&p.take_a()),
        [
            (
                out,
                CallDownReason::OutgoingRefused {
                    result: OutgoingCallResult::Busy,
                    error: GeneralError::None,
                    cause: 0
                }
            ),
            (
                inc,
                CallDownReason::IncomingRefused {
                    result: IncomingCallResult::DoNotAccept,
                    error: GeneralError::None
                }
            )
        ]
    );
    assert_eq!(p.a.call_count() + p.b.call_count(), 0);
}

#[test]
fn call_limit_refuses_with_no_resource_rfc2637_2_16() {
    let mut cb = config(2);
    cb.max_calls = 2;
    let mut p = Pair::new(config(1), cb);
    p.take_a();
    p.take_b();
    let calls: Vec<CallId> = (0..3)
        .map(|_| {
            p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
                .unwrap()
        })
        .collect();
    p.pump();
    assert_eq!(requested(&p.take_b()).len(), 2);
    assert_eq!(p.b.counters().calls_refused, 1);
    assert_eq!(
        downs(&p.take_a()),
        [(
            calls[2],
            CallDownReason::OutgoingRefused {
                result: OutgoingCallResult::GeneralError,
                error: GeneralError::NoResource,
                cause: 0
            }
        )]
    );
    // Our own limit refuses locally.
    let mut ca = config(3);
    ca.max_calls = 1;
    let mut q = Pair::new(ca, config(4));
    q.a.place_outgoing_call(q.now, &OutgoingCallParams::default())
        .unwrap();
    assert_eq!(
        q.a.place_outgoing_call(q.now, &OutgoingCallParams::default()),
        Err(CallError::TooManyCalls)
    );
}

#[test]
fn reused_peer_call_id_refused_rfc2637_3_2_2() {
    let mut p = Pair::established();
    p.take_b();
    // Two Outgoing-Call-Requests with the same Call ID from the same PNS.
    let mut bytes = Vec::new();
    for _ in 0..2 {
        Repr::from(outgoing_request(0x4242))
            .push(&mut bytes)
            .unwrap();
    }
    p.b.handle_bytes(p.now, &bytes);
    p.pump();
    assert_eq!(requested(&p.take_b()).len(), 1);
    assert_eq!(p.b.counters().calls_refused, 1);
}

/// A requested call not answered yet may move to another of our Call IDs (it reaches the
/// peer only in the reply); the peer then sends GRE with the new one.
#[test]
fn renumbered_call_is_answered_with_its_new_id_rfc2637_2_8_and_2_10() {
    let mut p = Pair::established();
    p.take_a();
    p.take_b();
    let out =
        p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
            .unwrap();
    let inc =
        p.a.place_incoming_call(p.now, &IncomingCallParams::default())
            .unwrap();
    p.pump();
    let reqs = requested(&p.take_b());
    let (old_out, old_inc) = (reqs[0].0, reqs[1].0);
    // The next free ID (old_inc + 1) is "taken elsewhere": the one after it is chosen.
    let taken = old_inc.0.wrapping_add(1);
    let new_out = p.b.renumber_call(old_out, 4, |id| id == taken).unwrap();
    assert_eq!(new_out.0, taken.wrapping_add(1));
    assert_eq!(p.b.call_state(old_out), None);
    assert_eq!(
        p.b.call_state(new_out),
        Some((CallRole::PacOutgoing, CallState::WaitAnswer))
    );
    // No acceptable ID within the tries: an error, the call unchanged.
    assert_eq!(
        p.b.renumber_call(old_inc, 3, |_| true),
        Err(CallError::TooManyCalls)
    );
    assert_eq!(
        p.b.call_state(old_inc),
        Some((CallRole::PnsIncoming, CallState::WaitAnswer))
    );
    assert_eq!(
        p.b.renumber_call(old_out, 4, |_| false),
        Err(CallError::UnknownCall)
    );
    p.b.accept_call(p.now, new_out).unwrap();
    p.b.accept_call(p.now, old_inc).unwrap();
    p.pump();
    // The peer learnt the new ID from the reply.
    let up_a = ups(&p.take_a());
    let peer_ids: Vec<(CallId, u16)> = up_a.iter().map(|u| (u.call, u.peer_call_id)).collect();
    assert!(peer_ids.contains(&(out, new_out.0)), "{peer_ids:?}");
    assert!(peer_ids.contains(&(inc, old_inc.0)), "{peer_ids:?}");
    let up_b: Vec<CallId> = ups(&p.take_b()).iter().map(|u| u.call).collect();
    assert!(
        up_b.contains(&new_out) && up_b.contains(&old_inc),
        "{up_b:?}"
    );
    // An answered call keeps its ID.
    assert_eq!(
        p.b.renumber_call(new_out, 4, |_| false),
        Err(CallError::WrongState)
    );
}

/// The owner may choose the ID of the next call it places, away from IDs it uses elsewhere.
#[test]
fn chosen_call_id_is_the_one_placed_rfc2637_2_7() {
    let mut p = Pair::established();
    p.take_a();
    let first =
        p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
            .unwrap();
    let avoided = [first.0.wrapping_add(1), first.0.wrapping_add(2)];
    let chosen =
        p.a.choose_next_call_id(8, |id| avoided.contains(&id))
            .unwrap();
    assert_eq!(chosen.0, first.0.wrapping_add(3));
    let placed =
        p.a.place_incoming_call(p.now, &IncomingCallParams::default())
            .unwrap();
    assert_eq!(placed, chosen);
    // The peer learns it from the request.
    p.pump();
    let reqs = requested(&p.take_b());
    assert_eq!(reqs.len(), 2);
    match reqs[1].1 {
        CallRequest::Incoming(r) => assert_eq!(r.call_id, chosen.0),
        other => panic!("an Incoming-Call-Request, not {other:?}"),
    }
    assert_eq!(p.a.choose_next_call_id(4, |_| true), None);
}

fn outgoing_request(call_id: u16) -> pptp::OutgoingCallRequest {
    pptp::OutgoingCallRequest {
        call_id,
        call_serial_number: 0,
        minimum_bps: 2400,
        maximum_bps: 10_000_000,
        bearer_type: pptp::BearerType::Any,
        framing_type: pptp::FramingType::Any,
        receive_window: 3,
        processing_delay: 0,
        phone_number_len: 0,
        phone_number: pptp::FixedStr::empty(),
        subaddress: pptp::FixedStr::empty(),
    }
}

#[test]
fn call_request_before_start_gets_not_connected_rfc2637_2_16() {
    let now = Instant::now();
    let mut b = ControlConnection::new(Role::Responder, config(2), now);
    let mut bytes = Vec::new();
    Repr::from(outgoing_request(7)).push(&mut bytes).unwrap();
    b.handle_bytes(now, &bytes);
    let mut out = Vec::new();
    assert!(b.poll_transmit(&mut out));
    let Ok(Repr::OutgoingCallReply(reply)) = Repr::parse(&out) else {
        panic!("{out:?}")
    };
    assert_eq!(reply.peer_call_id, 7);
    assert_eq!(reply.result, OutgoingCallResult::GeneralError);
    assert_eq!(reply.error, GeneralError::NotConnected);
    assert_eq!(b.state(), State::Idle);
}

#[test]
fn unanswered_call_request_times_out_rfc2637_3() {
    let mut p = Pair::established();
    p.take_a();
    p.take_b();
    let call =
        p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
            .unwrap();
    p.pump();
    assert_eq!(requested(&p.take_b()).len(), 1);
    // B's owner never answers: B's PAC "dial" times out (result 6, Time-out).
    p.advance(Duration::from_secs(31));
    assert_eq!(downs(&p.take_b())[0].1, CallDownReason::Timeout);
    assert_eq!(
        downs(&p.take_a()),
        [(
            call,
            CallDownReason::OutgoingRefused {
                result: OutgoingCallResult::TimeOut,
                error: GeneralError::None,
                cause: 0
            }
        )]
    );
}

#[test]
fn unanswered_outgoing_call_request_aborts_rfc2637_3_2_4_2() {
    let mut p = Pair::established();
    p.take_a();
    p.b_mute = true;
    let call =
        p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
            .unwrap();
    p.pump();
    p.take_wire();
    // No reply within 60 s: Call-Clear-Request (wait_disconnect), the call is down.
    p.advance(Duration::from_secs(61));
    let ev = p.take_a();
    assert_eq!(downs(&ev), [(call, CallDownReason::Timeout)]);
    assert!(
        p.take_wire()
            .contains(&(true, MessageType::CallClearRequest))
    );
    assert_eq!(
        p.a.call_state(call),
        Some((CallRole::PnsOutgoing, CallState::WaitDisconnect))
    );
    // Still nothing: the Call ID is freed without a second event.
    p.b_mute = false;
    let echo_free = Duration::from_secs(59);
    p.advance(echo_free);
    assert_eq!(p.a.call_state(call), None);
    assert!(downs(&p.take_a()).is_empty());
}

#[test]
fn crossing_start_requests_rfc2637_3_1_3() {
    let now = Instant::now();
    let low = IpAddr::V4(Ipv4Addr::new(192, 33, 45, 17));
    let high = IpAddr::V4(Ipv4Addr::new(192, 33, 45, 89));
    let cfg = |local, peer, seed| ControlConfig {
        local_addr: Some(local),
        peer_addr: Some(peer),
        ..config(seed)
    };
    // Each side opened a connection to the other.
    let mut low_out = ControlConnection::new(Role::Initiator, cfg(low, high, 1), now);
    let mut high_out = ControlConnection::new(Role::Initiator, cfg(high, low, 2), now);
    let mut low_in = ControlConnection::new(Role::Responder, cfg(low, high, 3), now);
    let mut high_in = ControlConnection::new(Role::Responder, cfg(high, low, 4), now);
    low_in.set_crossing_request(true);
    high_in.set_crossing_request(true);
    let mut buf = Vec::new();
    low_out.poll_transmit(&mut buf);
    high_in.handle_bytes(now, &buf);
    buf.clear();
    high_out.poll_transmit(&mut buf);
    low_in.handle_bytes(now, &buf);

    // The higher address wins: it says nothing on the loser's connection.
    assert_eq!(high_in.poll_event(), Some(Event::Collision { won: true }));
    assert_eq!(
        high_in.poll_event(),
        Some(Event::Closed(CloseReason::Collision))
    );
    buf.clear();
    assert!(!high_in.poll_transmit(&mut buf));
    // The loser answers the winner's request and drops its own connection silently.
    assert_eq!(low_in.poll_event(), Some(Event::Collision { won: false }));
    assert!(matches!(low_in.poll_event(), Some(Event::Established(_))));
    low_out.abort();
    assert!(!low_out.poll_transmit(&mut buf));
    assert_eq!(
        low_out.poll_event(),
        Some(Event::Closed(CloseReason::Aborted))
    );
    assert!(low_in.poll_transmit(&mut buf));
    high_out.handle_bytes(now, &buf);
    assert_eq!(high_out.state(), State::Established);
    assert_eq!(low_in.state(), State::Established);
}

#[test]
fn collision_rule_compares_addresses_rfc2637_3_1_3() {
    use dialgate_pptp::control::wins_collision;
    let a = |s: &str| Some(s.parse::<IpAddr>().unwrap());
    assert!(wins_collision(a("192.33.45.89"), a("192.33.45.17")));
    assert!(!wins_collision(a("192.33.45.17"), a("192.33.45.89")));
    // Network number more significant: 10.0.0.2 < 192.0.0.1.
    assert!(wins_collision(a("192.0.0.1"), a("10.0.0.2")));
    assert!(!wins_collision(None, a("10.0.0.2")));
}

#[test]
fn echo_keepalive_after_silence_rfc2637_3_1_4() {
    let mut p = Pair::established();
    p.take_wire();
    p.advance(Duration::from_secs(59));
    assert!(p.take_wire().is_empty());
    p.advance(Duration::from_secs(2));
    let wire = p.take_wire();
    // Both ends were silent for 60 s: each asks, each answers.
    assert_eq!(
        wire.iter()
            .filter(|w| w.1 == MessageType::EchoRequest)
            .count(),
        2
    );
    assert_eq!(
        wire.iter()
            .filter(|w| w.1 == MessageType::EchoReply)
            .count(),
        2
    );
    p.advance(Duration::from_secs(600));
    assert_eq!(p.a.state(), State::Established);
    assert!(closed(&p.take_a()).is_none());
    assert!(p.a.counters().echo_requests >= 10);
}

#[test]
fn dead_peer_detected_rfc2637_3_1_4() {
    let mut p = Pair::established();
    p.take_a();
    let call =
        p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
            .unwrap();
    p.pump();
    let b_call = requested(&p.take_b())[0].0;
    p.b.accept_call(p.now, b_call).unwrap();
    p.pump();
    p.take_a();
    p.b_mute = true;
    let start = p.now;
    p.advance(Duration::from_secs(200));
    let ev = p.take_a();
    assert_eq!(downs(&ev), [(call, CallDownReason::ControlClosed)]);
    assert_eq!(closed(&ev), Some(CloseReason::EchoTimeout));
    assert!(p.a.is_closed());
    // 60 s of silence, then 60 s without an Echo-Reply.
    let _ = start;
    assert_eq!(p.a.counters().echo_requests, 1);
}

#[test]
fn stop_handshake_rfc2637_3_1_1() {
    let mut p = Pair::established();
    let call =
        p.a.place_incoming_call(p.now, &IncomingCallParams::default())
            .unwrap();
    p.pump();
    let b_call = requested(&p.take_b())[0].0;
    p.b.accept_call(p.now, b_call).unwrap();
    p.pump();
    p.take_a();
    p.take_b();
    p.take_wire();
    p.a.close(p.now, StopReason::LocalShutdown);
    assert_eq!(p.a.state(), State::WaitStopReply);
    p.pump();
    assert_eq!(
        p.take_wire(),
        [
            (true, MessageType::StopControlConnectionRequest),
            (false, MessageType::StopControlConnectionReply)
        ]
    );
    let (ea, eb) = (p.take_a(), p.take_b());
    assert_eq!(downs(&ea), [(call, CallDownReason::ControlClosed)]);
    assert_eq!(closed(&ea), Some(CloseReason::Local));
    assert_eq!(downs(&eb), [(b_call, CallDownReason::ControlClosed)]);
    assert_eq!(
        closed(&eb),
        Some(CloseReason::PeerStopped(StopReason::LocalShutdown))
    );
    assert!(p.a.is_closed() && p.b.is_closed());
    assert_eq!(p.a.poll_timeout(), None);
}

#[test]
fn stop_reply_timeout_rfc2637_3() {
    let mut p = Pair::established();
    p.take_a();
    p.b_mute = true;
    p.a.close(p.now, StopReason::None);
    p.pump();
    p.advance(Duration::from_secs(59));
    assert_eq!(p.a.state(), State::WaitStopReply);
    p.advance(Duration::from_secs(2));
    assert_eq!(closed(&p.take_a()), Some(CloseReason::StopTimeout));
}

#[test]
fn crossing_stop_requests_rfc2637_3_1() {
    let mut p = Pair::established();
    p.a.close(p.now, StopReason::None);
    p.b.close(p.now, StopReason::None);
    p.pump();
    assert!(p.a.is_closed() && p.b.is_closed());
    assert_eq!(closed(&p.take_a()), Some(CloseReason::Local));
    assert_eq!(closed(&p.take_b()), Some(CloseReason::Local));
}

#[test]
fn setup_timeout_rfc2637_3_1_4() {
    let now = Instant::now();
    for role in [Role::Initiator, Role::Responder] {
        let mut c = ControlConnection::new(role, config(1), now);
        let deadline = c.poll_timeout().unwrap();
        assert_eq!(deadline, now + Duration::from_secs(60));
        c.handle_timeout(deadline);
        assert_eq!(
            c.poll_event(),
            Some(Event::Closed(CloseReason::SetupTimeout))
        );
    }
}

#[test]
fn older_protocol_version_refused_rfc2637_3_1_2() {
    let now = Instant::now();
    let mut b = ControlConnection::new(Role::Responder, config(2), now);
    let mut a = ControlConnection::new(Role::Initiator, config(1), now);
    let mut bytes = Vec::new();
    a.poll_transmit(&mut bytes);
    bytes[12..14].copy_from_slice(&0x00ffu16.to_be_bytes());
    b.handle_bytes(now, &bytes);
    let mut out = Vec::new();
    b.poll_transmit(&mut out);
    let Ok(Repr::StartControlConnectionReply(reply)) = Repr::parse(&out) else {
        panic!()
    };
    assert_eq!(reply.result, StartResult::UnsupportedVersion);
    assert_eq!(
        b.poll_event(),
        Some(Event::Closed(CloseReason::Version(0x00ff)))
    );
    // The originator, told an older version it cannot speak, sends Stop-Protocol.
    let mut reply = reply;
    reply.result = StartResult::Success;
    reply.protocol_version = 0x00ff;
    let mut bytes = Vec::new();
    Repr::from(reply).push(&mut bytes).unwrap();
    a.handle_bytes(now, &bytes);
    assert_eq!(a.state(), State::WaitStopReply);
    let mut out = Vec::new();
    a.poll_transmit(&mut out);
    let Ok(Repr::StopControlConnectionRequest(stop)) = Repr::parse(&out) else {
        panic!()
    };
    assert_eq!(stop.reason, StopReason::StopProtocol);
}

#[test]
fn start_refusal_rfc2637_2_2() {
    let now = Instant::now();
    let mut a = ControlConnection::new(Role::Initiator, config(1), now);
    let mut b = ControlConnection::new(Role::Responder, config(2), now);
    b.refuse_start(StartResult::NotAuthorized);
    let mut bytes = Vec::new();
    a.poll_transmit(&mut bytes);
    b.handle_bytes(now, &bytes);
    bytes.clear();
    b.poll_transmit(&mut bytes);
    a.handle_bytes(now, &bytes);
    assert_eq!(
        b.poll_event(),
        Some(Event::Closed(CloseReason::StartDeclined(
            StartResult::NotAuthorized
        )))
    );
    assert_eq!(
        a.poll_event(),
        Some(Event::Closed(CloseReason::StartRefused {
            result: StartResult::NotAuthorized,
            error: GeneralError::None
        }))
    );
}

#[test]
fn peer_tcp_close_takes_calls_down() {
    // pptp-linux on SIGTERM: Call-Clear-Request, then the TCP close, no Stop.
    let mut p = Pair::established();
    let call =
        p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
            .unwrap();
    p.pump();
    let b_call = requested(&p.take_b())[0].0;
    p.b.accept_call(p.now, b_call).unwrap();
    p.pump();
    p.take_b();
    p.a.clear_call(p.now, call, ClearCause::AdminShutdown)
        .unwrap();
    p.pump();
    p.b.handle_tcp_closed();
    p.pump();
    let eb = p.take_b();
    assert_eq!(downs(&eb), [(b_call, CallDownReason::ClearedByPeer)]);
    assert_eq!(closed(&eb), Some(CloseReason::TcpClosed));
}

#[test]
fn unknown_message_type_skipped_rfc2637_2() {
    let mut p = Pair::established();
    let mut bytes = vec![0u8; 20];
    bytes[0..2].copy_from_slice(&20u16.to_be_bytes());
    bytes[2..4].copy_from_slice(&1u16.to_be_bytes());
    bytes[4..8].copy_from_slice(&pptp::MAGIC_COOKIE.to_be_bytes());
    bytes[8..10].copy_from_slice(&99u16.to_be_bytes());
    p.b.handle_bytes(p.now, &bytes);
    assert_eq!(p.b.state(), State::Established);
    assert_eq!(p.b.counters().unknown_type, 1);
}

#[test]
fn bad_cookie_closes_with_stop_rfc2637_3() {
    let mut p = Pair::established();
    p.take_b();
    p.take_wire();
    let mut bytes = Vec::new();
    Repr::from(pptp::EchoRequest { identifier: 1 })
        .push(&mut bytes)
        .unwrap();
    bytes[4] ^= 0xff;
    p.b.handle_bytes(p.now, &bytes);
    assert!(p.b.is_closed());
    assert_eq!(p.b.counters().malformed, 1);
    p.pump();
    assert!(matches!(
        closed(&p.take_b()),
        Some(CloseReason::Malformed(_))
    ));
    // B says why and closes; A, whose stream is intact, answers and closes too.
    assert_eq!(
        p.take_wire(),
        [
            (false, MessageType::StopControlConnectionRequest),
            (true, MessageType::StopControlConnectionReply)
        ]
    );
    assert_eq!(
        closed(&p.take_a()),
        Some(CloseReason::PeerStopped(StopReason::None))
    );
}

/// The same message stream cut at every point gives the same result (TCP may split or
/// coalesce messages anywhere).
#[test]
fn stream_reassembly_at_every_split_point_rfc2637_2() {
    let mut stream = Vec::new();
    let mut a = ControlConnection::new(Role::Initiator, config(1), Instant::now());
    a.poll_transmit(&mut stream);
    Repr::from(pptp::EchoRequest { identifier: 9 })
        .push(&mut stream)
        .unwrap();
    Repr::from(outgoing_request(0x1234))
        .push(&mut stream)
        .unwrap();
    let run = |cuts: &[usize]| {
        let now = Instant::now();
        let mut b = ControlConnection::new(Role::Responder, config(2), now);
        let mut last = 0;
        for &cut in cuts.iter().chain([stream.len()].iter()) {
            b.handle_bytes(now, &stream[last..cut]);
            last = cut;
        }
        let mut out = Vec::new();
        b.poll_transmit(&mut out);
        let mut events = Vec::new();
        while let Some(e) = b.poll_event() {
            events.push(e);
        }
        (out, events, b.counters().rx_messages)
    };
    let whole = run(&[]);
    assert_eq!(whole.2, 3);
    assert_eq!(whole.1.len(), 2, "{:?}", whole.1);
    for cut in 0..=stream.len() {
        assert_eq!(run(&[cut]), whole, "cut at {cut}");
    }
    let bytewise: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(run(&bytewise), whole);
}

/// Arbitrary bytes, cut at arbitrary points, never panic and never grow the buffers.
#[test]
fn hostile_byte_streams_never_panic() {
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let valid = {
        let mut s = Vec::new();
        let mut a = ControlConnection::new(Role::Initiator, config(1), Instant::now());
        a.poll_transmit(&mut s);
        Repr::from(outgoing_request(1)).push(&mut s).unwrap();
        s
    };
    for round in 0..3000 {
        let now = Instant::now();
        let role = if round % 2 == 0 {
            Role::Responder
        } else {
            Role::Initiator
        };
        let mut c = ControlConnection::new(role, config(round), now);
        // Half the rounds: a valid start mutated in a few places; else pure noise.
        let mut bytes: Vec<u8> = if round % 2 == 0 {
            let mut v = valid.clone();
            for _ in 0..(rand() % 4) {
                let i = (rand() as usize) % v.len();
                v[i] = rand() as u8;
            }
            v
        } else {
            (0..(rand() % 600)).map(|_| rand() as u8).collect()
        };
        // Sometimes a plausible header in front of noise.
        if round % 5 == 0 && bytes.len() >= 12 {
            bytes[2..4].copy_from_slice(&1u16.to_be_bytes());
            bytes[4..8].copy_from_slice(&pptp::MAGIC_COOKIE.to_be_bytes());
        }
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = 1 + (rand() as usize) % rest.len();
            c.handle_bytes(now, &rest[..n]);
            rest = &rest[n..];
            let mut out = Vec::new();
            c.poll_transmit(&mut out);
            assert!(out.len() <= 4 * pptp::MAX_MESSAGE_LEN);
        }
        c.handle_timeout(now + Duration::from_secs(3600));
        while c.poll_event().is_some() {}
    }
}

#[test]
fn output_flood_is_bounded() {
    let mut p = Pair::established();
    let mut bytes = Vec::new();
    for i in 0..5000 {
        Repr::from(pptp::EchoRequest { identifier: i })
            .push(&mut bytes)
            .unwrap();
    }
    // 5000 Echo-Requests in one read without the owner sending anything.
    p.b.handle_bytes(p.now, &bytes);
    assert!(p.b.is_closed());
    p.pump();
    assert!(matches!(closed(&p.take_b()), Some(CloseReason::Overload)));
}

#[test]
fn echo_request_before_start_gets_not_connected_rfc2637_2_6() {
    let now = Instant::now();
    let mut b = ControlConnection::new(Role::Responder, config(2), now);
    let mut bytes = Vec::new();
    Repr::from(pptp::EchoRequest { identifier: 77 })
        .push(&mut bytes)
        .unwrap();
    b.handle_bytes(now, &bytes);
    let mut out = Vec::new();
    b.poll_transmit(&mut out);
    let Ok(Repr::EchoReply(reply)) = Repr::parse(&out) else {
        panic!("{out:?}")
    };
    assert_eq!(reply.identifier, 77);
    assert_eq!(reply.result, pptp::EchoResult::GeneralError);
    assert_eq!(reply.error, GeneralError::NotConnected);
    assert_eq!(b.counters().out_of_state, 1);
}

#[test]
fn echo_request_answered_with_its_identifier_rfc2637_2_5() {
    let mut p = Pair::established();
    let mut bytes = Vec::new();
    Repr::from(pptp::EchoRequest {
        identifier: 0xdead_beef,
    })
    .push(&mut bytes)
    .unwrap();
    p.b.handle_bytes(p.now, &bytes);
    let mut out = Vec::new();
    p.b.poll_transmit(&mut out);
    let Ok(Repr::EchoReply(reply)) = Repr::parse(&out) else {
        panic!("{out:?}")
    };
    assert_eq!(reply.identifier, 0xdead_beef);
    assert_eq!(reply.result, pptp::EchoResult::Ok);
}

#[test]
fn call_operations_need_an_established_call_rfc2637_3_2() {
    let now = Instant::now();
    let mut a = ControlConnection::new(Role::Initiator, config(1), now);
    assert_eq!(
        a.place_outgoing_call(now, &OutgoingCallParams::default()),
        Err(CallError::NotEstablished)
    );
    assert_eq!(
        a.place_incoming_call(now, &IncomingCallParams::default()),
        Err(CallError::NotEstablished)
    );
    let mut p = Pair::established();
    let call =
        p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
            .unwrap();
    // Not up yet: no Set-Link-Info, no WAN-Error-Notify, no accepting our own request.
    assert_eq!(p.a.set_link_info(call, 0, 0), Err(CallError::WrongState));
    assert_eq!(
        p.a.wan_error_notify(call, WanErrors::default()),
        Err(CallError::WrongState)
    );
    assert_eq!(p.a.accept_call(p.now, call), Err(CallError::WrongState));
    assert_eq!(
        p.a.accept_call(p.now, CallId(call.0 ^ 1)),
        Err(CallError::UnknownCall)
    );
    assert_eq!(
        p.a.refuse_call(call, Refusal::Busy),
        Err(CallError::WrongState)
    );
}

#[test]
fn abort_while_waiting_for_reply_rfc2637_3_2_4_2_and_3_2_3_1() {
    let mut p = Pair::established();
    p.take_a();
    p.b_mute = true;
    // PNS outgoing, wait_reply: Abort / Call-Clear-Request, wait_disconnect.
    let out =
        p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
            .unwrap();
    // PAC incoming, wait_reply: Abort / Call-Disconnect-Notify, idle.
    let inc =
        p.a.place_incoming_call(p.now, &IncomingCallParams::default())
            .unwrap();
    p.pump();
    p.take_wire();
    p.a.clear_call(p.now, out, ClearCause::AdminShutdown)
        .unwrap();
    p.a.clear_call(p.now, inc, ClearCause::AdminShutdown)
        .unwrap();
    assert_eq!(
        p.a.clear_call(p.now, out, ClearCause::AdminShutdown),
        Err(CallError::WrongState),
        "already clearing"
    );
    p.pump();
    assert_eq!(
        p.take_wire(),
        [
            (true, MessageType::CallClearRequest),
            (true, MessageType::CallDisconnectNotify)
        ]
    );
    assert_eq!(
        downs(&p.take_a()),
        [
            (out, CallDownReason::Cleared),
            (inc, CallDownReason::Cleared)
        ]
    );
    assert_eq!(
        p.a.call_state(out),
        Some((CallRole::PnsOutgoing, CallState::WaitDisconnect))
    );
    assert_eq!(p.a.call_state(inc), None);
}

#[test]
fn incoming_call_without_connected_times_out_rfc2637_3_2_3_2() {
    let mut p = Pair::established();
    p.take_a();
    // B announces a call, A (PNS) accepts, B never sends Incoming-Call-Connected.
    p.b.place_incoming_call(p.now, &IncomingCallParams::default())
        .unwrap();
    let mut out = Vec::new();
    p.b.poll_transmit(&mut out);
    p.a.handle_bytes(p.now, &out);
    let (call, _) = requested(&{
        let mut v = Vec::new();
        while let Some(e) = p.a.poll_event() {
            v.push(e);
        }
        v
    })[0];
    p.a.accept_call(p.now, call).unwrap();
    assert_eq!(
        p.a.call_state(call),
        Some((CallRole::PnsIncoming, CallState::WaitConnect))
    );
    p.b_mute = true;
    p.pump();
    p.take_wire();
    p.advance(Duration::from_secs(61));
    assert_eq!(downs(&p.take_a()), [(call, CallDownReason::Timeout)]);
    assert!(
        p.take_wire()
            .contains(&(true, MessageType::CallClearRequest))
    );
}

#[test]
fn clear_of_unknown_call_counted_rfc2637_2_12() {
    let mut p = Pair::established();
    let mut bytes = Vec::new();
    Repr::from(pptp::CallClearRequest { call_id: 999 })
        .push(&mut bytes)
        .unwrap();
    Repr::from(pptp::SetLinkInfo {
        peer_call_id: 999,
        send_accm: 0,
        receive_accm: 0,
    })
    .push(&mut bytes)
    .unwrap();
    p.b.handle_bytes(p.now, &bytes);
    assert_eq!(p.b.counters().unknown_call, 2);
    assert_eq!(p.b.state(), State::Established);
}

#[test]
fn disconnect_from_the_wrong_end_is_obeyed_rfc2637_2_13() {
    // We are the PAC of a call and the PNS sends Call-Disconnect-Notify (only a PAC should):
    // the call goes down anyway, counted.
    let mut p = Pair::established();
    p.take_b();
    let call =
        p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
            .unwrap();
    p.pump();
    let b_call = requested(&p.take_b())[0].0;
    p.b.accept_call(p.now, b_call).unwrap();
    p.pump();
    p.take_b();
    let mut bytes = Vec::new();
    Repr::from(pptp::CallDisconnectNotify {
        call_id: call.0,
        result: pptp::DisconnectResult::LostCarrier,
        error: GeneralError::None,
        cause_code: 0,
        call_statistics: pptp::FixedStr::empty(),
    })
    .push(&mut bytes)
    .unwrap();
    p.b.handle_bytes(p.now, &bytes);
    p.pump();
    assert_eq!(p.b.counters().wrong_direction, 1);
    assert!(matches!(
        downs(&p.take_b())[..],
        [(c, CallDownReason::Disconnected { .. })] if c == b_call
    ));
}

#[test]
fn pac_clear_cause_picks_the_disconnect_result_rfc2637_2_13() {
    for (cause, result) in [
        (ClearCause::LostCarrier, DisconnectResult::LostCarrier),
        (ClearCause::GeneralError, DisconnectResult::GeneralError),
        (ClearCause::AdminShutdown, DisconnectResult::AdminShutdown),
        (ClearCause::Request, DisconnectResult::Request),
    ] {
        // A is the PNS placing an outgoing call, B the PAC that answers it and then ends
        // it with Call-Disconnect-Notify.
        let mut p = Pair::established();
        let call =
            p.a.place_outgoing_call(p.now, &OutgoingCallParams::default())
                .unwrap();
        p.pump();
        let b_call = requested(&p.take_b())[0].0;
        p.b.accept_call(p.now, b_call).unwrap();
        p.pump();
        p.take_a();
        p.take_wire();
        p.b.clear_call(p.now, b_call, cause).unwrap();
        p.pump();
        let wire = p.take_wire();
        assert_eq!(
            wire,
            [(false, MessageType::CallDisconnectNotify)],
            "{cause:?}"
        );
        let down = downs(&p.take_a());
        assert_eq!(down.len(), 1, "{cause:?}");
        assert_eq!(down[0].0, call);
        assert!(
            matches!(down[0].1, CallDownReason::Disconnected { result: r, .. } if r == result),
            "{cause:?}: {:?}",
            down[0].1
        );
    }
}
