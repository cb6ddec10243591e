//! PAP packets (RFC 1334 §2.2): parse -> emit -> parse gives the same packet.
#![no_main]

use dialgate_wire::pap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(repr) = pap::Repr::parse(data) else {
        return;
    };
    let mut out = Vec::new();
    repr.push(&mut out).expect("fields of a parsed packet fit");
    assert_eq!(pap::Repr::parse(&out), Ok(repr));
    let _ = format!("{repr:?}");
});
