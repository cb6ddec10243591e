//! PPTP control messages (RFC 2637 §2): stream framing, the checked view and the Repr
//! round trip.
#![no_main]

use dialgate_wire::pptp::{self, Error, Packet, Repr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let framed = pptp::message_len(data);
    match Repr::parse(data) {
        Ok(repr) => {
            assert_eq!(framed, Ok(Some(repr.buffer_len())));
            let packet = Packet::new_checked(data).expect("checked view of a parsed message");
            let mut out = Vec::new();
            repr.push(&mut out).expect("emit of a parsed message");
            assert_eq!(out.len(), packet.as_bytes().len());
            assert_eq!(Repr::parse(&out), Ok(repr));
            // Reserved fields are emitted as zeros: byte-identical exactly when they were.
            let emitted =
                Packet::new_checked(&out[..]).expect("checked view of an emitted message");
            assert!(emitted.reserved_is_zero());
            assert_eq!(packet.reserved_is_zero(), out == packet.as_bytes());
        }
        Err(e) => {
            // A whole message of a known type always parses.
            if let Ok(Some(_)) = framed {
                assert!(matches!(e, Error::UnknownType(_)), "{e:?}");
            }
        }
    }

    // The same bytes as a TCP stream: frame message after message until one is partial.
    let mut rest = data;
    while let Ok(Some(len)) = pptp::message_len(rest) {
        let (message, tail) = rest.split_at(len);
        match Repr::parse(message) {
            Ok(repr) => assert_eq!(repr.buffer_len(), len),
            Err(e) => assert!(matches!(e, Error::UnknownType(_)), "{e:?}"),
        }
        rest = tail;
    }

    // Accessors of an unchecked view never panic.
    let p = Packet::new_unchecked(data);
    let _ = (
        p.length(),
        p.message_type(),
        p.body(),
        p.as_bytes(),
        p.reserved_is_zero(),
    );
});
