//! Replays of the reference captures (tests/ref-pcaps): what pptp-linux sent to pptpd goes
//! through a `ControlConnection` in the responder role, and its answers are compared with
//! pptpd's.

use std::time::Instant;

use dialgate_pptp::control::{CallRequest, ControlConfig, ControlConnection, Event, Role, State};
use dialgate_test_support::{PPTPD, ref_pcap_names, ref_pptp_segments};
use dialgate_wire::pptp::{
    self, DisconnectResult, MessageType, OutgoingCallResult, Repr, StartResult,
};

/// Split a byte stream into its messages.
fn messages(mut bytes: &[u8]) -> Vec<Repr> {
    let mut out = Vec::new();
    while let Ok(Some(len)) = pptp::message_len(bytes) {
        out.push(Repr::parse(&bytes[..len]).expect("a valid message"));
        bytes = &bytes[len..];
    }
    assert!(bytes.is_empty(), "trailing bytes {bytes:?}");
    out
}

/// Every capture: the client's messages in, ours out; pptpd's answers for comparison.
#[test]
fn responder_answers_like_pptpd_rfc2637_3_1_2_and_3_2_4_1() {
    for name in ref_pcap_names() {
        let segments = ref_pptp_segments(&name);
        assert!(!segments.is_empty(), "{name}");
        let t0 = Instant::now();
        let first = segments[0].timestamp;
        let mut conn = ControlConnection::new(Role::Responder, ControlConfig::default(), t0);
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        let mut client = Vec::new();
        for segment in &segments {
            let now = t0 + segment.timestamp.saturating_sub(first);
            if segment.src == PPTPD {
                theirs.extend(messages(&segment.payload));
                continue;
            }
            client.extend(messages(&segment.payload));
            conn.handle_timeout(now);
            conn.handle_bytes(now, &segment.payload);
            while let Some(event) = conn.poll_event() {
                if let Event::CallRequested { call, request } = event {
                    let CallRequest::Outgoing(r) = request else {
                        panic!("{name}: {request:?}");
                    };
                    // pptp-linux plays the PNS: window 3, no processing delay.
                    assert_eq!(r.receive_window, 3, "{name}");
                    conn.accept_call(now, call).unwrap();
                }
            }
            let mut out = Vec::new();
            conn.poll_transmit(&mut out);
            ours.extend(messages(&out));
        }
        let types = |v: &[Repr]| v.iter().map(Repr::message_type).collect::<Vec<_>>();
        assert_eq!(
            types(&client),
            [
                MessageType::StartControlConnectionRequest,
                MessageType::OutgoingCallRequest,
                MessageType::CallClearRequest
            ],
            "{name}"
        );
        // pptpd answers the start and the call; on the Call-Clear-Request pptp-linux closes
        // TCP before pptpd says anything. We answer it with Call-Disconnect-Notify as the
        // PAC must (RFC 2637 §3.2.4.1).
        assert_eq!(types(&theirs), types(&ours)[..2], "{name}");
        assert_eq!(
            types(&ours),
            [
                MessageType::StartControlConnectionReply,
                MessageType::OutgoingCallReply,
                MessageType::CallDisconnectNotify
            ],
            "{name}"
        );
        let Repr::StartControlConnectionReply(sccrp) = ours[0] else {
            unreachable!()
        };
        let Repr::StartControlConnectionReply(pptpd_sccrp) = theirs[0] else {
            unreachable!()
        };
        assert_eq!(sccrp.result, StartResult::Success);
        assert_eq!(sccrp.result, pptpd_sccrp.result);
        assert_eq!(sccrp.protocol_version, pptpd_sccrp.protocol_version);

        // Call IDs: the reply names the client's Call ID as the peer's; ours is our own
        // (pptpd always uses 0); the Call-Disconnect-Notify names ours again.
        let Repr::OutgoingCallRequest(ocrq) = client[1] else {
            unreachable!()
        };
        let Repr::OutgoingCallReply(ocrp) = ours[1] else {
            unreachable!()
        };
        let Repr::OutgoingCallReply(pptpd_ocrp) = theirs[1] else {
            unreachable!()
        };
        assert_eq!(pptpd_ocrp.peer_call_id, ocrq.call_id, "{name}");
        assert_eq!(pptpd_ocrp.call_id, 0, "{name}: pptpd's Call ID");
        assert_eq!(ocrp.peer_call_id, ocrq.call_id, "{name}");
        assert_eq!(ocrp.result, OutgoingCallResult::Connected);
        assert_eq!(ocrp.result, pptpd_ocrp.result);
        let Repr::CallClearRequest(ccrq) = client[2] else {
            unreachable!()
        };
        assert_eq!(
            ccrq.call_id, ocrq.call_id,
            "{name}: the PNS names its own Call ID"
        );
        let Repr::CallDisconnectNotify(cdn) = ours[2] else {
            unreachable!()
        };
        assert_eq!(
            cdn.call_id, ocrp.call_id,
            "{name}: the PAC names its own Call ID"
        );
        assert_eq!(cdn.result, DisconnectResult::Request);

        // The TCP close that follows.
        conn.handle_tcp_closed();
        assert_eq!(conn.state(), State::Closed);
        assert_eq!(conn.counters().malformed + conn.counters().out_of_state, 0);
    }
}

/// The same captures, the other way round: our initiator's requests get the answers pptpd
/// gave, and it comes up with the call's parameters pptpd announced.
#[test]
fn initiator_accepts_pptpd_answers_rfc2637_3_1_1_and_3_2_4_2() {
    use dialgate_pptp::control::OutgoingCallParams;
    for name in ref_pcap_names() {
        let segments = ref_pptp_segments(&name);
        let now = Instant::now();
        let mut conn = ControlConnection::new(Role::Initiator, ControlConfig::default(), now);
        let mut out = Vec::new();
        conn.poll_transmit(&mut out);
        let mut replies = segments
            .iter()
            .filter(|s| s.src == PPTPD)
            .flat_map(|s| messages(&s.payload));
        let sccrp = replies.next().unwrap();
        let mut bytes = Vec::new();
        sccrp.push(&mut bytes).unwrap();
        conn.handle_bytes(now, &bytes);
        assert!(
            matches!(conn.poll_event(), Some(Event::Established(_))),
            "{name}"
        );
        let call = conn
            .place_outgoing_call(now, &OutgoingCallParams::default())
            .unwrap();
        // pptpd's reply, addressed to our Call ID.
        let Some(Repr::OutgoingCallReply(mut ocrp)) = replies.next() else {
            panic!("{name}")
        };
        ocrp.peer_call_id = call.0;
        bytes.clear();
        Repr::from(ocrp).push(&mut bytes).unwrap();
        conn.handle_bytes(now, &bytes);
        let Some(Event::CallUp(info)) = conn.poll_event() else {
            panic!("{name}")
        };
        assert_eq!(info.peer_call_id, 0, "{name}: pptpd's Call ID");
        assert_eq!(info.peer_window, ocrp.receive_window);
        assert_eq!(info.gre_params().peer_call_id, 0);
    }
}
