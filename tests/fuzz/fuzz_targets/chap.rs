//! CHAP packets (RFC 1994 §4) and the MS-CHAP formats (RFC 2433, RFC 2759).
#![no_main]

use dialgate_wire::chap::{self, mschap};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(repr) = chap::Repr::parse(data) {
        let mut out = Vec::new();
        repr.push(&mut out).expect("fields of a parsed packet fit");
        assert_eq!(chap::Repr::parse(&out), Ok(repr));
    }
    // The message formats, on the raw input.
    if let Ok(s) = mschap::V2Success::parse(data) {
        let mut out = Vec::new();
        s.push(&mut out);
        assert_eq!(out.len(), s.buffer_len());
        assert_eq!(mschap::V2Success::parse(&out), Ok(s));
        assert!(out.eq_ignore_ascii_case(data));
    }
    if let Ok(f) = mschap::Failure::parse(data) {
        let mut out = Vec::new();
        f.push(&mut out);
        assert_eq!(out.len(), f.buffer_len());
        assert_eq!(mschap::Failure::parse(&out), Ok(f));
    }
    if let Ok(r) = mschap::V2Response::parse(data) {
        assert_eq!(r.to_bytes(), data);
    }
    if let Ok(r) = mschap::V1Response::parse(data) {
        assert_eq!(r.to_bytes(), data);
    }
});
