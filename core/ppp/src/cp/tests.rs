//! Tests of the generic control-protocol layer with a toy option policy.

use super::*;

/// Toy policy: one option, type 1, 2-byte value. We ask for `want`; we accept the peer's value
/// if it is at least `min`, else Nak with `min`. Any other type is rejected. `required`
/// makes a Reject of our option fatal.
#[derive(Debug, Default)]
struct Toy {
    want: u16,
    min: u16,
    required: bool,
    asked: bool,
    resets: u32,
    acked: Option<u16>,
}

impl Toy {
    fn new(want: u16, min: u16) -> Self {
        Self {
            want,
            min,
            asked: true,
            ..Self::default()
        }
    }
}

impl OptionPolicy for Toy {
    fn name(&self) -> &'static str {
        "TOY"
    }
    fn reset(&mut self) {
        self.resets += 1;
        self.asked = true;
    }
    fn build_request(&mut self, out: &mut Vec<u8>) {
        if self.asked {
            out.extend_from_slice(&[1, 4]);
            out.extend_from_slice(&self.want.to_be_bytes());
        }
    }
    fn check_request(
        &mut self,
        mut options: &[u8],
        reply: &mut Reply,
        nak_exhausted: bool,
    ) -> Result<RequestVerdict, NegotiationFailure> {
        while !options.is_empty() {
            let [t, l, ..] = *options else {
                return Err(NegotiationFailure::Malformed);
            };
            let opt = options
                .get(..usize::from(l))
                .ok_or(NegotiationFailure::Malformed)?;
            if l < 2 {
                return Err(NegotiationFailure::Malformed);
            }
            if t == 1 && l == 4 {
                let v = u16::from_be_bytes([opt[2], opt[3]]);
                if v < self.min {
                    if nak_exhausted {
                        reply.rej.extend_from_slice(opt);
                    } else {
                        reply.nak.extend_from_slice(&[1, 4]);
                        reply.nak.extend_from_slice(&self.min.to_be_bytes());
                    }
                }
            } else {
                reply.rej.extend_from_slice(opt);
            }
            options = &options[usize::from(l)..];
        }
        Ok(reply.verdict())
    }
    fn on_ack(&mut self, options: &[u8]) -> Result<(), NegotiationFailure> {
        if options.len() == 4 {
            self.acked = Some(u16::from_be_bytes([options[2], options[3]]));
        }
        Ok(())
    }
    fn on_nak(&mut self, options: &[u8]) -> Result<(), NegotiationFailure> {
        if options.len() == 4 && options[0] == 1 {
            self.want = u16::from_be_bytes([options[2], options[3]]);
            Ok(())
        } else {
            Err(NegotiationFailure::Malformed)
        }
    }
    fn on_reject(&mut self, _options: &[u8]) -> Result<(), NegotiationFailure> {
        if self.required {
            return Err(NegotiationFailure::RequiredOptionRefused {
                option: 1,
                what: "toy",
            });
        }
        self.asked = false;
        Ok(())
    }
}

fn cp(want: u16, min: u16) -> ControlProtocol<Toy> {
    ControlProtocol::new(0x8021, Toy::new(want, min), CpConfig::default(), &[])
}

fn drain(cp: &mut ControlProtocol<Toy>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut buf = Vec::new();
        if !cp.poll_transmit(&mut buf) {
            return out;
        }
        out.push(buf);
    }
}

fn events(cp: &mut ControlProtocol<Toy>) -> Vec<LayerEvent> {
    core::iter::from_fn(|| cp.poll_event()).collect()
}

/// Shuttle packets both ways until both queues are empty.
fn exchange(now: Instant, a: &mut ControlProtocol<Toy>, b: &mut ControlProtocol<Toy>) {
    for _ in 0..50 {
        let from_a = drain(a);
        let from_b = drain(b);
        if from_a.is_empty() && from_b.is_empty() {
            return;
        }
        for p in from_a {
            b.handle_packet(now, &p);
        }
        for p in from_b {
            a.handle_packet(now, &p);
        }
    }
    panic!("no convergence");
}

fn opened_pair(now: Instant) -> (ControlProtocol<Toy>, ControlProtocol<Toy>) {
    let mut a = cp(100, 10);
    let mut b = cp(200, 10);
    for x in [&mut a, &mut b] {
        x.open(now);
        x.up(now);
    }
    exchange(now, &mut a, &mut b);
    assert!(a.is_open() && b.is_open());
    (a, b)
}

#[test]
fn rfc1661_5_two_layers_open_back_to_back() {
    let now = Instant::now();
    let (mut a, mut b) = opened_pair(now);
    assert_eq!(events(&mut a), [LayerEvent::Started, LayerEvent::Up]);
    assert_eq!(events(&mut b), [LayerEvent::Started, LayerEvent::Up]);
    assert_eq!(a.policy().acked, Some(100));
    assert_eq!(b.policy().acked, Some(200));
    assert_eq!(a.poll_timeout(), None, "no restart timer in Opened");
}

#[test]
fn rfc1661_5_1_first_request_layout_and_timer() {
    let now = Instant::now();
    let mut a = cp(0x1234, 10);
    a.open(now);
    a.up(now);
    let out = drain(&mut a);
    assert_eq!(out, [vec![1, 1, 0, 8, 1, 4, 0x12, 0x34]]);
    assert_eq!(a.poll_timeout(), Some(now + Duration::from_secs(3)));
    assert_eq!(a.state(), State::ReqSent);
}

#[test]
fn rfc1661_5_3_nak_adjusts_the_next_request() {
    let now = Instant::now();
    let mut a = cp(5, 10);
    let mut b = cp(50, 10);
    for x in [&mut a, &mut b] {
        x.open(now);
        x.up(now);
    }
    // a asks for 5; b requires at least 10 and Naks with 10.
    exchange(now, &mut a, &mut b);
    assert!(a.is_open() && b.is_open());
    assert_eq!(a.policy().acked, Some(10));
}

#[test]
fn rfc1661_5_2_ack_with_wrong_identifier_is_discarded() {
    let now = Instant::now();
    let mut a = cp(7, 1);
    a.open(now);
    a.up(now);
    let req = drain(&mut a).remove(0);
    let mut ack = req.clone();
    ack[0] = CONFIGURE_ACK;
    ack[1] = req[1].wrapping_add(1);
    a.handle_packet(now, &ack);
    assert_eq!(a.state(), State::ReqSent);
    assert_eq!(a.stats().rx_unmatched, 1);
}

#[test]
fn rfc1661_5_2_ack_that_does_not_echo_the_request_is_discarded() {
    let now = Instant::now();
    let mut a = cp(7, 1);
    a.open(now);
    a.up(now);
    let req = drain(&mut a).remove(0);
    let mut ack = req.clone();
    ack[0] = CONFIGURE_ACK;
    ack[7] ^= 1;
    a.handle_packet(now, &ack);
    assert_eq!(a.state(), State::ReqSent);
    assert_eq!(a.stats().rx_unmatched, 1);
    ack[7] ^= 1;
    a.handle_packet(now, &ack);
    assert_eq!(a.state(), State::AckRcvd);
    // A duplicate of the same Ack is not a new answer.
    a.handle_packet(now, &ack);
    assert_eq!(a.state(), State::AckRcvd);
    assert_eq!(a.stats().rx_unmatched, 2);
}

#[test]
fn rfc1661_4_6_retransmits_then_finishes_with_no_response() {
    let start = Instant::now();
    let mut a = cp(7, 1);
    a.open(start);
    a.up(start);
    let mut ids = vec![drain(&mut a)[0][1]];
    let mut now = start;
    while let Some(deadline) = a.poll_timeout() {
        now = deadline;
        a.handle_timeout(now);
        for p in drain(&mut a) {
            assert_eq!(p[0], CONFIGURE_REQUEST);
            ids.push(p[1]);
        }
    }
    assert_eq!(ids.len(), 10, "Max-Configure requests");
    ids.dedup();
    assert_eq!(ids.len(), 10, "each request gets a new identifier");
    assert_eq!(now - start, Duration::from_secs(30));
    assert_eq!(a.state(), State::Stopped);
    assert_eq!(
        events(&mut a).last(),
        Some(&LayerEvent::Finished(FinishReason::NoResponse))
    );
}

#[test]
fn rfc1661_5_5_terminate_handshake() {
    let now = Instant::now();
    let (mut a, mut b) = opened_pair(now);
    events(&mut a);
    events(&mut b);
    a.close(now);
    exchange(now, &mut a, &mut b);
    assert_eq!(a.state(), State::Closed);
    assert_eq!(
        events(&mut a),
        [LayerEvent::Down, LayerEvent::Finished(FinishReason::Closed)]
    );
    // b acked and waits one restart period (zrc) before finishing.
    assert_eq!(b.state(), State::Stopping);
    assert_eq!(events(&mut b), [LayerEvent::Down]);
    let later = now + Duration::from_secs(3);
    assert_eq!(b.poll_timeout(), Some(later));
    b.handle_timeout(later);
    assert_eq!(b.state(), State::Stopped);
    assert_eq!(
        events(&mut b),
        [LayerEvent::Finished(FinishReason::PeerTerminated)]
    );
}

#[test]
fn rfc1661_5_6_unknown_code_is_code_rejected_with_the_packet() {
    let now = Instant::now();
    let (mut a, _b) = opened_pair(now);
    let odd = [42, 9, 0, 6, 0xaa, 0xbb, 0xff];
    assert_eq!(a.handle_packet(now, &odd), Received::Consumed);
    let out = drain(&mut a);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0][0], CODE_REJECT);
    assert_eq!(&out[0][2..4], &[0, 10]);
    assert_eq!(
        &out[0][4..],
        &odd[..6],
        "the rejected packet, without padding"
    );
    assert!(a.is_open());
}

#[test]
fn rfc1661_5_6_extra_codes_go_to_the_owner() {
    let now = Instant::now();
    let mut a = ControlProtocol::new(0x80fd, Toy::new(1, 1), CpConfig::default(), &[14, 15]);
    let got = a.handle_packet(now, &[14, 3, 0, 5, 0x77]);
    assert_eq!(
        got,
        Received::Extra {
            code: 14,
            identifier: 3,
            data: &[0x77]
        }
    );
    assert!(drain(&mut a).is_empty());
}

#[test]
fn rfc1661_5_6_code_reject_of_configure_request_is_rxj_minus() {
    let now = Instant::now();
    let mut a = cp(7, 1);
    a.open(now);
    a.up(now);
    let req = drain(&mut a).remove(0);
    let mut cj = vec![CODE_REJECT, 1, 0, 0];
    cj.extend_from_slice(&req);
    let len = cj.len() as u16;
    cj[2..4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(
        a.handle_packet(now, &cj),
        Received::CodeRejected { code: 1 }
    );
    assert_eq!(a.state(), State::Stopped);
    assert_eq!(
        events(&mut a).last(),
        Some(&LayerEvent::Finished(FinishReason::Rejected))
    );
}

#[test]
fn rfc1661_5_6_code_reject_of_an_extra_code_is_rxj_plus() {
    let now = Instant::now();
    let (mut a, _b) = opened_pair(now);
    let cj = [CODE_REJECT, 1, 0, 8, 9, 1, 0, 4];
    assert_eq!(
        a.handle_packet(now, &cj),
        Received::CodeRejected { code: 9 }
    );
    assert!(a.is_open());
}

#[test]
fn rfc1661_5_4_reject_of_a_required_option_fails_the_layer() {
    let now = Instant::now();
    let mut a = cp(7, 1);
    a.policy_mut().required = true;
    a.open(now);
    a.up(now);
    let req = drain(&mut a).remove(0);
    let mut rej = req.clone();
    rej[0] = CONFIGURE_REJECT;
    a.handle_packet(now, &rej);
    assert_eq!(a.state(), State::Closing);
    let out = drain(&mut a);
    assert_eq!(out[0][0], TERMINATE_REQUEST);
    // The peer acks the termination: the layer finishes with the policy's reason.
    a.handle_packet(now, &[TERMINATE_ACK, out[0][1], 0, 4]);
    let evs = events(&mut a);
    assert!(matches!(
        evs.last(),
        Some(LayerEvent::Finished(FinishReason::NegotiationFailed(
            NegotiationFailure::RequiredOptionRefused { option: 1, .. }
        )))
    ));
}

#[test]
fn rfc1661_4_6_max_failure_turns_naks_into_rejects() {
    let now = Instant::now();
    let mut a = cp(7, 10);
    a.open(now);
    a.up(now);
    drain(&mut a);
    // The peer insists on a value below our minimum.
    let bad = [CONFIGURE_REQUEST, 0, 0, 8, 1, 4, 0, 1];
    let mut codes = Vec::new();
    for id in 0..7u8 {
        let mut p = bad;
        p[1] = id;
        a.handle_packet(now, &p);
        codes.extend(drain(&mut a).iter().map(|p| p[0]));
    }
    assert_eq!(
        codes,
        [3, 3, 3, 3, 3, 4, 4],
        "five Naks (Max-Failure), then Rejects"
    );
}

#[test]
fn rfc1661_5_malformed_packets_are_counted_not_fatal() {
    let now = Instant::now();
    let (mut a, _b) = opened_pair(now);
    for junk in [&[][..], &[1], &[1, 2, 0], &[1, 2, 0, 3], &[1, 2, 0, 9, 0]] {
        assert_eq!(a.handle_packet(now, junk), Received::Consumed);
    }
    assert_eq!(a.stats().rx_malformed, 5);
    // A Configure-Request with a broken option list is discarded silently.
    a.handle_packet(now, &[1, 5, 0, 7, 1, 9, 0]);
    assert_eq!(a.stats().rx_bad_options, 1);
    assert!(a.is_open());
    assert!(drain(&mut a).is_empty());
}

#[test]
fn transmit_queue_is_bounded() {
    let now = Instant::now();
    let (mut a, _b) = opened_pair(now);
    for i in 0..100u8 {
        a.handle_packet(now, &[77, i, 0, 4]);
    }
    assert_eq!(drain(&mut a).len(), CpConfig::default().max_queued);
    assert_eq!(a.stats().tx_dropped, 100 - 32);
}

#[test]
fn rfc1661_5_7_protocol_rejected_layer_sends_nothing_more() {
    let now = Instant::now();
    let mut a = cp(7, 1);
    a.open(now);
    a.up(now);
    drain(&mut a);
    a.protocol_rejected(now);
    assert_eq!(a.state(), State::Stopped);
    assert!(a.is_rejected());
    a.handle_packet(now, &[1, 1, 0, 8, 1, 4, 0, 9]);
    assert!(drain(&mut a).is_empty());
    assert_eq!(
        events(&mut a).last(),
        Some(&LayerEvent::Finished(FinishReason::Rejected))
    );
}
