//! HDLC deframer (RFC 1662): arbitrary bytes fed in chunks split where the input says; every
//! frame that decodes must survive encoder -> decoder unchanged, and chunking must not change
//! the result.
#![no_main]

use dialgate_wire::hdlc::{DEFAULT_ACCM, Decoder, Encoder, Fcs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let [config, split_a, split_b, data @ ..] = input else {
        return;
    };
    let fcs = if config & 1 == 0 {
        Fcs::Fcs16
    } else {
        Fcs::Fcs32
    };
    let accm = match (config >> 1) & 3 {
        0 => 0,
        1 => DEFAULT_ACCM,
        2 => 0x000a_0000,
        _ => u32::from(*split_a) << 24 | u32::from(*split_b),
    };
    let max_frame = usize::from(config >> 3) * 8 + 2;

    let mut chunked = Decoder::new(max_frame).with_fcs(fcs).with_accm(accm);
    let mut frames = Vec::new();
    let step_a = usize::from(*split_a).max(1);
    let step_b = usize::from(*split_b).max(1);
    let mut rest = data;
    let mut toggle = false;
    while !rest.is_empty() {
        let step = if toggle { step_a } else { step_b }.min(rest.len());
        toggle = !toggle;
        let (chunk, tail) = rest.split_at(step);
        chunked.feed(chunk, |f| frames.push(f.to_vec()));
        rest = tail;
    }

    let mut whole = Decoder::new(max_frame).with_fcs(fcs).with_accm(accm);
    let mut whole_frames = Vec::new();
    whole.feed(data, |f| whole_frames.push(f.to_vec()));
    assert_eq!(frames, whole_frames);
    assert_eq!(chunked.stats(), whole.stats());

    let enc = Encoder::new().with_fcs(fcs).with_accm(accm);
    for frame in &frames {
        assert!(frame.len() <= max_frame);
        let mut wire = Vec::new();
        enc.encode(frame, &mut wire);
        let mut slice = vec![0; enc.max_encoded_len(frame.len())];
        let n = enc
            .encode_to_slice(frame, &mut slice)
            .expect("worst-case buffer");
        assert_eq!(&slice[..n], &wire[..]);
        let mut dec = Decoder::new(max_frame).with_fcs(fcs).with_accm(accm);
        let mut out = Vec::new();
        dec.feed(&wire, |f| out.push(f.to_vec()));
        assert_eq!(out, [frame.clone()]);
    }
});
