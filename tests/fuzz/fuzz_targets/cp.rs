//! Generic control-protocol packet and option TLVs (RFC 1661 §5-6).
#![no_main]

use dialgate_wire::cp::{self, RawOption};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let view = cp::Packet::new_unchecked(data);
    let _ = (view.code(), view.identifier(), view.length(), view.data());
    if let Ok(repr) = cp::Repr::parse(data) {
        let mut buf = vec![0; repr.buffer_len()];
        assert_eq!(repr.emit(&mut buf), Ok(buf.len()));
        assert_eq!(cp::Repr::parse(&buf), Ok(repr));
    }
    // Raw options: every accepted TLV re-emits to itself.
    let mut out = Vec::new();
    let mut ok = 0;
    for opt in cp::options(data) {
        let Ok(opt): Result<RawOption<'_>, _> = opt else {
            break;
        };
        cp::push_option(&mut out, opt.kind(), opt.value()).expect("TLV value <= 253");
        ok += opt.as_bytes().len();
    }
    assert_eq!(out, &data[..ok]);
});
