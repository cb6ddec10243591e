//! PPP header (RFC 1661 §2, §6.5-6.6): parse then emit reproduces the frame.
#![no_main]

use dialgate_wire::ppp::{Frame, Header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let view = Frame::new_unchecked(data);
    let _ = (view.protocol(), view.payload(), view.header_len());
    let Ok((header, payload)) = Header::parse(data) else {
        return;
    };
    assert!(header.protocol.is_valid());
    let mut out = Vec::new();
    header.push_frame(payload, &mut out);
    assert_eq!(out, data);
    assert_eq!(Header::parse(&out), Ok((header, payload)));
});
