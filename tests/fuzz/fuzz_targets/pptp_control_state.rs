//! The PPTP control connection's state machine (RFC 2637 §3), driven by arbitrary bytes from
//! the peer, owner actions and time, in both roles.
//!
//! Input: one byte picks the role (bit 0: initiator), then commands of `[op][len][len bytes]`:
//! feed bytes from the peer, let time pass and run the timers, accept / refuse / clear a
//! call, place a call, set link info, close, the TCP connection closing.
//!
//! Checked: nothing panics; everything the connection sends is a stream of whole messages
//! that parse (RFC 2637 §2); every call the owner hears of goes down at most once and only
//! after it was announced; once `Closed` is reported the connection is closed and every call
//! is down; pending output stays bounded.
#![no_main]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use dialgate_pptp::control::{
    CallId, ClearCause, ControlConfig, ControlConnection, Event, IncomingCallParams,
    MAX_PENDING_OUTPUT, OutgoingCallParams, Refusal, Role,
};
use dialgate_wire::pptp::{self, Repr, StopReason};
use libfuzzer_sys::fuzz_target;

fn check_output(cc: &mut ControlConnection, out: &mut Vec<u8>) {
    cc.poll_transmit(out);
    assert!(out.len() <= MAX_PENDING_OUTPUT + pptp::MAX_MESSAGE_LEN * 4);
    // Whole messages only, each of which parses.
    let mut rest = &out[..];
    while !rest.is_empty() {
        let len = match pptp::message_len(rest) {
            Ok(Some(len)) => len,
            other => panic!("we sent a broken stream: {other:?}"),
        };
        let (message, tail) = rest.split_at(len);
        Repr::parse(message).expect("every message we send parses");
        rest = tail;
    }
    out.clear();
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let role = if first & 1 == 1 {
        Role::Initiator
    } else {
        Role::Responder
    };
    let config = ControlConfig {
        max_calls: 4,
        seed: u64::from(first),
        ..ControlConfig::default()
    };
    let mut now = Instant::now();
    let mut cc = ControlConnection::new(role, config, now);
    let mut out = Vec::new();
    // Calls the owner knows of (requested by the peer, placed, or up), and those it saw go
    // down.
    let mut live: BTreeSet<u16> = BTreeSet::new();
    let mut pending: Vec<CallId> = Vec::new();
    let mut closed = false;
    while let [op, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (arg, tail) = tail.split_at(n);
        rest = tail;
        match op % 10 {
            0 | 1 | 2 => cc.handle_bytes(now, arg),
            3 => {
                now += Duration::from_millis(u64::from(*len) * 500);
                cc.handle_timeout(now);
            }
            4 => {
                if let Some(call) = pending.pop() {
                    let _ = cc.accept_call(now, call);
                }
            }
            5 => {
                if let Some(call) = pending.pop() {
                    let refusal = match len % 3 {
                        0 => Refusal::DoNotAccept,
                        1 => Refusal::Busy,
                        _ => Refusal::NoResource,
                    };
                    let _ = cc.refuse_call(call, refusal);
                }
            }
            6 => {
                if let Some(&id) = live.iter().nth(usize::from(*len) % live.len().max(1)) {
                    let _ = cc.clear_call(now, CallId(id), ClearCause::AdminShutdown);
                    let _ = cc.set_link_info(CallId(id), 0, u32::MAX);
                }
            }
            7 => {
                let placed = if len % 2 == 0 {
                    cc.place_outgoing_call(now, &OutgoingCallParams::default())
                } else {
                    cc.place_incoming_call(now, &IncomingCallParams::default())
                };
                if let Ok(id) = placed {
                    assert!(live.insert(id.0), "a placed call reuses a live Call ID");
                }
            }
            8 => cc.close(now, StopReason::None),
            _ => cc.handle_tcp_closed(),
        }
        while let Some(event) = cc.poll_event() {
            assert!(!closed, "an event after Closed: {event:?}");
            match event {
                Event::CallRequested { call, .. } => {
                    assert!(
                        live.insert(call.0),
                        "a requested call reuses a live Call ID"
                    );
                    pending.push(call);
                }
                Event::CallUp(info) => assert!(live.contains(&info.call.0), "{info:?}"),
                Event::CallDown { call, .. } => {
                    assert!(
                        live.remove(&call.0),
                        "call {} down twice or unknown",
                        call.0
                    );
                    pending.retain(|c| *c != call);
                }
                Event::Closed(_) => {
                    closed = true;
                    assert!(live.is_empty(), "calls left at Closed: {live:?}");
                }
                _ => {}
            }
        }
        check_output(&mut cc, &mut out);
        if closed {
            assert!(cc.is_closed());
            assert_eq!(cc.call_count(), 0);
        }
    }
});
