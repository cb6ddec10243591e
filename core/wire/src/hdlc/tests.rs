use super::*;

fn decode_all(dec: &mut Decoder, input: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    dec.feed(input, |f| frames.push(f.to_vec()));
    frames
}

fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 7) as u8
        })
        .collect()
}

#[test]
fn encode_check_string_rfc1662_c2() {
    // CRC-16/X-25 of "123456789" is 0x906e, sent least significant octet first (§3.1, C.2).
    let mut out = Vec::new();
    Encoder::new().with_accm(0).encode(b"123456789", &mut out);
    assert_eq!(out, b"\x7e123456789\x6e\x90\x7e");

    // CRC-32 of "123456789" is 0xcbf43926 (C.3).
    let mut out = Vec::new();
    Encoder::new()
        .with_accm(0)
        .with_fcs(Fcs::Fcs32)
        .encode(b"123456789", &mut out);
    assert_eq!(out, b"\x7e123456789\x26\x39\xf4\xcb\x7e");
}

#[test]
fn encoder_escapes_flag_escape_and_accm_rfc1662_4_2() {
    let frame = [0x7e, 0x7d, 0x00, 0x11, 0x13, 0x1f, 0x20, 0x41];
    let mut out = Vec::new();
    Encoder::new()
        .with_opening_flag(false)
        .encode(&frame, &mut out);
    // Default ACCM 0xffffffff: every control character is escaped.
    assert_eq!(
        &out[..14],
        &[
            0x7d, 0x5e, 0x7d, 0x5d, 0x7d, 0x20, 0x7d, 0x31, 0x7d, 0x33, 0x7d, 0x3f, 0x20, 0x41
        ]
    );
    assert_eq!(out.last(), Some(&FLAG));

    // ACCM with only XON/XOFF (0x000a0000): other control characters pass through.
    let mut out = Vec::new();
    Encoder::new()
        .with_opening_flag(false)
        .with_accm(0x000a_0000)
        .encode(&frame, &mut out);
    assert_eq!(
        &out[..11],
        &[
            0x7d, 0x5e, 0x7d, 0x5d, 0x00, 0x7d, 0x31, 0x7d, 0x33, 0x1f, 0x20
        ]
    );
}

#[test]
fn round_trip_every_accm_and_fcs() {
    for fcs in [Fcs::Fcs16, Fcs::Fcs32] {
        for accm in [0, DEFAULT_ACCM, 0x000a_0000, 0x8000_0001] {
            for len in [2usize, 3, 7, 8, 9, 64, 1500] {
                let frame = pseudo_random(len, (len as u32 * 7).wrapping_add(accm));
                let enc = Encoder::new().with_fcs(fcs).with_accm(accm);
                let mut wire = Vec::new();
                enc.encode(&frame, &mut wire);
                // Nothing flagged in the ACCM may appear unescaped.
                let inner = &wire[1..wire.len() - 1];
                assert!(!inner.iter().any(|&b| b == FLAG || in_accm(b, accm)));
                let mut dec = Decoder::new(1500).with_fcs(fcs).with_accm(accm);
                assert_eq!(decode_all(&mut dec, &wire), vec![frame.clone()]);
                assert_eq!(dec.stats().frames, 1);

                let mut slice = vec![0u8; enc.max_encoded_len(len)];
                let n = enc.encode_to_slice(&frame, &mut slice).unwrap();
                assert_eq!(&slice[..n], &wire[..]);
            }
        }
    }
}

#[test]
fn encode_to_slice_too_small() {
    let enc = Encoder::new();
    let mut out = [0u8; 8];
    assert_eq!(
        enc.encode_to_slice(&[1, 2, 3, 4, 5, 6], &mut out),
        Err(Error::BufferTooSmall)
    );
}

#[test]
fn byte_at_a_time_equals_whole() {
    let enc = Encoder::new().with_accm(DEFAULT_ACCM);
    let mut wire = Vec::new();
    let frames: Vec<Vec<u8>> = (0..20)
        .map(|i| pseudo_random(10 + i * 13, i as u32 + 1))
        .collect();
    for f in &frames {
        enc.encode(f, &mut wire);
    }
    let mut whole = Decoder::new(2000);
    assert_eq!(decode_all(&mut whole, &wire), frames);
    let mut bytewise = Decoder::new(2000);
    let mut got = Vec::new();
    for b in &wire {
        got.extend(decode_all(&mut bytewise, std::slice::from_ref(b)));
    }
    assert_eq!(got, frames);
    assert_eq!(whole.stats(), bytewise.stats());
}

#[test]
fn shared_flags_between_frames_rfc1662_4_1() {
    let enc = Encoder::new().with_opening_flag(false);
    let mut wire = vec![FLAG, FLAG, FLAG]; // idle fill
    enc.encode(b"\xff\x03abc", &mut wire);
    enc.encode(b"\xff\x03def", &mut wire);
    let mut dec = Decoder::new(100);
    assert_eq!(
        decode_all(&mut dec, &wire),
        vec![b"\xff\x03abc".to_vec(), b"\xff\x03def".to_vec()]
    );
    assert_eq!(dec.stats().runts, 0);
}

#[test]
fn garbage_before_first_flag_is_hunted_over() {
    let mut wire = b"noise\x7d\x7d".to_vec();
    Encoder::new().encode(b"\xff\x03hello", &mut wire);
    let mut dec = Decoder::new(100);
    assert_eq!(decode_all(&mut dec, &wire), vec![b"\xff\x03hello".to_vec()]);
    assert_eq!(dec.stats().hunt_discarded, 7);
}

#[test]
fn abort_sequence_rfc1662_4_3() {
    let mut wire = vec![FLAG, 0xff, 0x03, 0x01, 0x02, ESCAPE, FLAG];
    Encoder::new()
        .with_opening_flag(false)
        .encode(b"\xff\x03ok", &mut wire);
    let mut dec = Decoder::new(100);
    assert_eq!(decode_all(&mut dec, &wire), vec![b"\xff\x03ok".to_vec()]);
    assert_eq!(dec.stats().aborts, 1);
    assert_eq!(dec.stats().bad_fcs, 0);
}

#[test]
fn runts_rfc1662_4_3() {
    // Three octets between flags is too short with FCS-16; five with FCS-32.
    let mut dec = Decoder::new(100);
    assert!(decode_all(&mut dec, &[FLAG, 0x41, 0x42, 0x43, FLAG]).is_empty());
    assert_eq!(dec.stats().runts, 1);
    let mut dec = Decoder::new(100).with_fcs(Fcs::Fcs32);
    assert!(decode_all(&mut dec, &[FLAG, 0x41, 0x42, 0x43, 0x44, 0x45, FLAG]).is_empty());
    assert_eq!(dec.stats().runts, 1);
    // The shortest valid frame: two octets and the FCS.
    let mut wire = Vec::new();
    Encoder::new().encode(&[0xc0, 0x21], &mut wire);
    let mut dec = Decoder::new(100);
    assert_eq!(decode_all(&mut dec, &wire), vec![vec![0xc0, 0x21]]);
}

#[test]
fn bad_fcs_is_counted_and_next_frame_decodes() {
    let enc = Encoder::new();
    let mut wire = Vec::new();
    enc.encode(b"\xff\x03first", &mut wire);
    wire[3] ^= 0x01; // corrupt a payload octet
    enc.encode(b"\xff\x03second", &mut wire);
    let mut dec = Decoder::new(100);
    assert_eq!(
        decode_all(&mut dec, &wire),
        vec![b"\xff\x03second".to_vec()]
    );
    assert_eq!(dec.stats().bad_fcs, 1);
    assert_eq!(dec.stats().frames, 1);
}

#[test]
fn fcs_mismatch_between_ends() {
    let mut wire = Vec::new();
    Encoder::new()
        .with_fcs(Fcs::Fcs32)
        .encode(b"\xff\x03data", &mut wire);
    let mut dec = Decoder::new(100);
    assert!(decode_all(&mut dec, &wire).is_empty());
    assert_eq!(dec.stats().bad_fcs, 1);
    dec.set_fcs(Fcs::Fcs32);
    assert_eq!(decode_all(&mut dec, &wire), vec![b"\xff\x03data".to_vec()]);
}

#[test]
fn overlong_frame_is_dropped_and_decoder_resyncs() {
    let enc = Encoder::new();
    let mut wire = Vec::new();
    enc.encode(&[0x55; 101], &mut wire);
    enc.encode(&[0x11; 100], &mut wire); // escaped octets: exercises the escaped path
    enc.encode(&[0x11; 101], &mut wire);
    enc.encode(&[0x66; 100], &mut wire);
    let mut dec = Decoder::new(100);
    assert_eq!(
        decode_all(&mut dec, &wire),
        vec![vec![0x11; 100], vec![0x66; 100]]
    );
    assert_eq!(dec.stats().overlong, 2);
    assert_eq!(dec.stats().frames, 2);
    // The same, fed one octet at a time, with garbage first: identical counters (a fuzz
    // finding: the octets of an over-long frame were once counted as hunt octets, so the
    // counters depended on how the input was chunked).
    let mut input = b"junk".to_vec();
    input.extend_from_slice(&wire);
    let mut whole = Decoder::new(100);
    decode_all(&mut whole, &input);
    let mut dec = Decoder::new(100);
    let mut n = 0;
    for b in &input {
        n += decode_all(&mut dec, std::slice::from_ref(b)).len();
    }
    assert_eq!((n, dec.stats().overlong), (2, 2));
    assert_eq!(dec.stats(), whole.stats());
    assert_eq!(whole.stats().hunt_discarded, 4);
}

#[test]
fn unescaped_accm_characters_are_dropped_rfc1662_7_1() {
    let mut wire = Vec::new();
    Encoder::new().encode(b"\xff\x03abcdefghij", &mut wire);
    // XON/XOFF inserted by a modem, including right after an escape (the address 0xff is
    // not escaped, but the control octet 0x03 is: "7d 23").
    let esc = wire.iter().position(|&b| b == ESCAPE).unwrap();
    wire.insert(esc + 1, 0x11);
    wire.insert(6, 0x13);
    let mut dec = Decoder::new(100);
    assert_eq!(
        decode_all(&mut dec, &wire),
        vec![b"\xff\x03abcdefghij".to_vec()]
    );
    assert_eq!(dec.stats().accm_dropped, 2);

    // With a zero receive ACCM the same octets are data, so the FCS fails.
    let mut dec = Decoder::new(100).with_accm(0);
    assert!(decode_all(&mut dec, &wire).is_empty());
    assert_eq!(dec.stats().bad_fcs, 1);
}

#[test]
fn escape_split_across_chunks() {
    let mut wire = Vec::new();
    Encoder::new().encode(&[0x7e, 0x7d, 0x7e, 0x7d], &mut wire);
    for split in 0..wire.len() {
        let mut dec = Decoder::new(100);
        let mut got = decode_all(&mut dec, &wire[..split]);
        got.extend(decode_all(&mut dec, &wire[split..]));
        assert_eq!(got, vec![vec![0x7e, 0x7d, 0x7e, 0x7d]], "split at {split}");
    }
}

#[test]
fn decode_leaves_remaining_input() {
    let enc = Encoder::new();
    let mut wire = Vec::new();
    enc.encode(b"\xff\x03one", &mut wire);
    let first_len = wire.len();
    enc.encode(b"\xff\x03two", &mut wire);
    let mut dec = Decoder::new(100);
    let mut input = &wire[..];
    assert_eq!(dec.decode(&mut input).as_deref(), Some(&b"\xff\x03one"[..]));
    assert_eq!(input.len(), wire.len() - first_len);
    assert_eq!(dec.decode(&mut input).as_deref(), Some(&b"\xff\x03two"[..]));
    assert!(input.is_empty());
    assert_eq!(dec.decode(&mut input).as_deref(), None);
}

#[test]
fn find_special_matches_naive() {
    for accm in [0, DEFAULT_ACCM, 0x000a_0000, 0x0000_0001, 0x8000_0000] {
        for seed in 1..50u32 {
            let data = pseudo_random(seed as usize * 3, seed);
            let naive = data
                .iter()
                .position(|&b| b == FLAG || b == ESCAPE || in_accm(b, accm));
            assert_eq!(
                find_special(&data, accm),
                naive,
                "accm {accm:#x} seed {seed}"
            );
        }
    }
}

#[test]
fn hostile_input_never_panics() {
    let mut dec = Decoder::new(16);
    for seed in 1..200u32 {
        let mut data = pseudo_random(seed as usize, seed);
        // Sprinkle flags and escapes.
        for (i, b) in data.iter_mut().enumerate() {
            if i % 5 == 0 {
                *b = if seed % 2 == 0 { FLAG } else { ESCAPE };
            }
        }
        decode_all(&mut dec, &data);
    }
    let s = dec.stats();
    assert!(s.runts + s.bad_fcs + s.aborts + s.overlong > 0);
}
