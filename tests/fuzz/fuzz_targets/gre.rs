//! Enhanced GRE (RFC 2637 §4.1): the checked view, the Repr round trip, and serial number
//! arithmetic (RFC 1982).
#![no_main]

use dialgate_wire::gre::{Packet, Repr, SeqNumber};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(repr) = Repr::parse(data) {
        let packet = Packet::new_checked(data).expect("checked view of a parsed packet");
        assert_eq!(repr.is_ack_only(), repr.payload.is_empty());
        let mut out = Vec::new();
        repr.push(&mut out).expect("emit of a parsed packet");
        assert_eq!(out, packet.as_bytes());
        assert_eq!(Repr::parse(&out), Ok(repr));
        let mut header = [0; 16];
        assert_eq!(repr.emit_header(&mut header), Ok(packet.header_len()));
    }

    // Accessors of an unchecked view never panic.
    let p = Packet::new_unchecked(data);
    let _ = (
        p.sequence(),
        p.ack(),
        p.payload(),
        p.as_bytes(),
        p.call_id(),
    );

    // Serial number comparisons are consistent.
    if let Some((a, b)) = data.split_first_chunk::<4>().and_then(|(a, rest)| {
        rest.first_chunk::<4>()
            .map(|b| (u32::from_be_bytes(*a), u32::from_be_bytes(*b)))
    }) {
        let (a, b) = (SeqNumber(a), SeqNumber(b));
        assert_eq!(a.is_before(b), b.is_after(a));
        assert!(!(a.is_before(b) && b.is_before(a)));
        let ordered = a != b && a.distance_from(b) != 1 << 31;
        assert_eq!(ordered, a.is_before(b) || b.is_before(a));
        assert!(a.add(b.0).is_within(a, b.0.saturating_add(1)) || b.0 == u32::MAX);
    }
});
