//! Round-trip checks shared by the fuzz targets. Each panics (a fuzz crash) when a parser
//! accepts bytes that its emitter does not reproduce.

use dialgate_wire::cp::{self, OptionRepr, RawOption};

/// Every option of `data` that parses re-emits to exactly its own bytes.
pub fn options_round_trip<'a, O>(data: &'a [u8])
where
    O: OptionRepr<'a> + PartialEq + core::fmt::Debug,
{
    for raw in cp::options(data) {
        let Ok(raw): Result<RawOption<'a>, _> = raw else {
            break;
        };
        let Ok(opt) = O::parse(raw) else { continue };
        assert_eq!(opt.buffer_len(), raw.as_bytes().len());
        let mut out = Vec::new();
        opt.push(&mut out).expect("emit of a parsed option");
        // Byte-identical re-emission; parsing is deterministic, so re-parsing gives `opt`.
        assert_eq!(out, raw.as_bytes(), "{opt:?}");
    }
}

/// A control packet re-emits to its bytes up to Length, and its options round-trip as `O`
/// when its code carries options.
pub fn packet_round_trip<'a, O>(data: &'a [u8])
where
    O: OptionRepr<'a> + PartialEq + core::fmt::Debug,
{
    let Ok(repr) = cp::Repr::parse(data) else {
        return;
    };
    let mut out = Vec::new();
    repr.push(&mut out).expect("emit of a parsed packet");
    let packet = cp::Packet::new_checked(data).expect("checked view of a parsed packet");
    assert_eq!(out, packet.as_bytes());
    assert_eq!(cp::Repr::parse(&out), Ok(repr));
    if repr.code.carries_options() {
        options_round_trip::<O>(repr.data);
    }
}
