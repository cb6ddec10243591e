//! Encrypter/Decrypter behaviour (RFC 3078 §7, §8) for every key length and both modes.

use super::*;
use crate::mppe::keys::{change_key, initial_session_key};
use cipher::{KeyInit, StreamCipher};

const START: [u8; 16] = [
    0x8b, 0x7c, 0xdc, 0x14, 0x9b, 0x99, 0x3a, 0x1b, 0xa1, 0x18, 0xcb, 0x15, 0x3f, 0x56, 0xdc, 0xcb,
];
const LENGTHS: [KeyLength; 3] = [KeyLength::Bits40, KeyLength::Bits56, KeyLength::Bits128];

/// Deterministic test payloads: packet `i` is a protocol field then `i`-dependent bytes.
fn plaintext(i: usize) -> Vec<u8> {
    let len = 2 + (i * 37) % 1500;
    let mut x = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut v = vec![0x00, 0x21];
    v.extend((2..len).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    v
}

struct Sent {
    header: MppeHeader,
    data: Vec<u8>,
    plain: Vec<u8>,
}

fn send(tx: &mut Encrypter, i: usize) -> Sent {
    let plain = plaintext(i);
    let mut data = plain.clone();
    let header = tx.encrypt(&mut data);
    Sent {
        header,
        data,
        plain,
    }
}

fn deliver(rx: &mut Decrypter, p: &Sent) -> Result<(), MppeError> {
    let mut buf = p.data.clone();
    let r = rx.decrypt(p.header.bits(), &mut buf);
    match r {
        Ok(()) => assert_eq!(buf, p.plain, "count {}", p.header.coherency_count()),
        Err(_) => assert_eq!(buf, p.data, "a rejected packet must be left untouched"),
    }
    r
}

fn pair(length: KeyLength, stateless: bool) -> (Encrypter, Decrypter) {
    (
        Encrypter::new(&START, length, stateless),
        Decrypter::new(&START, length, stateless),
    )
}

fn oracle(key: &[u8], data: &mut [u8]) {
    ::rc4::Rc4::new_from_slice(key)
        .unwrap()
        .apply_keystream(data);
}

#[test]
fn mppe_rfc3078_3_header_bits() {
    let h = MppeHeader::from_bytes([0x90, 0x05]);
    assert!(h.flushed() && h.encrypted() && !h.compressed());
    assert_eq!(h.coherency_count(), 5);
    assert_eq!(h.to_bytes(), [0x90, 0x05]);
    assert_eq!(MppeHeader::from_bits(0x1fff).coherency_count(), 0xfff);
    assert!(MppeHeader::from_bits(0x2000).compressed());
    assert!(MppeHeader::from_bits(0x4000).compressed());
}

#[test]
fn mppe_rfc3078_roundtrip_all_lengths_both_modes() {
    for length in LENGTHS {
        for stateless in [false, true] {
            let (mut tx, mut rx) = pair(length, stateless);
            for i in 0..700 {
                let p = send(&mut tx, i);
                assert_eq!(p.header.coherency_count(), i as u16);
                assert!(p.header.encrypted());
                assert_ne!(p.data, p.plain);
                deliver(&mut rx, &p).unwrap();
            }
        }
    }
}

#[test]
fn mppe_rfc3078_3_coherency_count_wraps_at_4096() {
    for stateless in [false, true] {
        let (mut tx, mut rx) = pair(KeyLength::Bits128, stateless);
        for i in 0..4100usize {
            let p = send(&mut tx, i % 7);
            assert_eq!(p.header.coherency_count(), (i % 4096) as u16);
            deliver(&mut rx, &p).unwrap();
        }
        // 4100 packets: stateless changes the key each time; stateful at the 16 flag
        // packets 0x0ff, 0x1ff, ..., 0xfff.
        let expected = if stateless { 4100 } else { 16 };
        assert_eq!(rx.key_changes(), expected);
    }
}

#[test]
fn mppe_rfc3078_7_1_stateless_flushes_and_rekeys_every_packet() {
    for length in LENGTHS {
        let n = length.octets();
        let mut tx = Encrypter::new(&START, length, true);
        let mut key = initial_session_key(&START, length);
        for i in 0..5 {
            let p = send(&mut tx, i);
            assert!(p.header.flushed(), "A is set on every stateless packet");
            // Packet i is under the session key changed i+1 times, with fresh RC4.
            change_key(&START, &mut key, length);
            let mut expect = p.plain.clone();
            oracle(&key[..n], &mut expect);
            assert_eq!(p.data, expect, "{length:?} packet {i}");
        }
    }
}

#[test]
fn mppe_rfc3078_7_2_stateful_stream_and_flag_packet() {
    for length in LENGTHS {
        let n = length.octets();
        let mut tx = Encrypter::new(&START, length, false);
        // Packets 0..=254 are one RC4 stream under the initial session key.
        let initial = initial_session_key(&START, length);
        let mut stream = ::rc4::Rc4::new_from_slice(&initial[..n]).unwrap();
        for i in 0..255 {
            let p = send(&mut tx, i);
            // Linux does not set A on the first packet, and nor do we.
            assert!(!p.header.flushed(), "packet {i}");
            let mut expect = p.plain.clone();
            stream.apply_keystream(&mut expect);
            assert_eq!(p.data, expect, "{length:?} packet {i}");
        }
        // Packet 255 is the flag packet: new key, fresh RC4, A set.
        let mut key = initial;
        change_key(&START, &mut key, length);
        let p = send(&mut tx, 255);
        assert_eq!(p.header.coherency_count(), 0xff);
        assert!(p.header.flushed());
        let mut stream = ::rc4::Rc4::new_from_slice(&key[..n]).unwrap();
        let mut expect = p.plain.clone();
        stream.apply_keystream(&mut expect);
        assert_eq!(p.data, expect);
        // Packet 256 continues that stream without A.
        let p = send(&mut tx, 256);
        assert!(!p.header.flushed());
        let mut expect = p.plain.clone();
        stream.apply_keystream(&mut expect);
        assert_eq!(p.data, expect);
    }
}

#[test]
fn mppe_rfc3078_8_2_reset_reinitialises_rc4_without_key_change() {
    let length = KeyLength::Bits128;
    let mut tx = Encrypter::new(&START, length, false);
    for i in 0..10 {
        send(&mut tx, i);
    }
    tx.reset();
    tx.reset(); // A second Reset-Request before the next packet changes nothing more.
    let p = send(&mut tx, 10);
    assert!(p.header.flushed());
    let initial = initial_session_key(&START, length);
    let mut expect = p.plain.clone();
    oracle(&initial, &mut expect);
    assert_eq!(p.data, expect, "same session key, RC4 restarted");
    let p = send(&mut tx, 11);
    assert!(
        !p.header.flushed(),
        "A only on the one packet after the reset"
    );
}

#[test]
fn mppe_rfc3078_8_1_stateless_loss_costs_nothing() {
    for length in LENGTHS {
        let (mut tx, mut rx) = pair(length, true);
        for i in 0..1200 {
            let p = send(&mut tx, i);
            // Lose a varying pattern, including a burst of 300 across flag packets.
            let lost = i % 3 == 1 || (500..800).contains(&i);
            if !lost {
                deliver(&mut rx, &p).unwrap();
            }
        }
        // Packet 1199 arrived: the key for count n is n + 1 changes from the initial one.
        assert_eq!(rx.key_changes(), 1200);
    }
}

#[test]
fn mppe_rfc3078_8_1_stateless_reordering_within_window() {
    for length in LENGTHS {
        let (mut tx, mut rx) = pair(length, true);
        let packets: Vec<Sent> = (0..100).map(|i| send(&mut tx, i)).collect();
        // Deliver in blocks of 8, each block reversed.
        for block in packets.chunks(8) {
            for p in block.iter().rev() {
                deliver(&mut rx, p).unwrap();
            }
        }
        // A packet delivered twice is refused the second time, inside the window...
        assert_eq!(deliver(&mut rx, &packets[99]), Err(MppeError::Replayed));
        assert_eq!(deliver(&mut rx, &packets[90]), Err(MppeError::Replayed));
        // ...and beyond it counts as stale.
        assert_eq!(deliver(&mut rx, &packets[10]), Err(MppeError::Stale));
        // The stream goes on.
        let p = send(&mut tx, 100);
        deliver(&mut rx, &p).unwrap();
    }
}

#[test]
fn mppe_rfc3078_8_1_stateless_reorder_window_edge() {
    let (mut tx, mut rx) = pair(KeyLength::Bits128, true);
    let packets: Vec<Sent> = (0..100).map(|i| send(&mut tx, i)).collect();
    deliver(&mut rx, &packets[99]).unwrap();
    let w = usize::from(REORDER_WINDOW);
    // 99 - (w - 1) is the oldest count still in the window; one more is out.
    deliver(&mut rx, &packets[99 - (w - 1)]).unwrap();
    assert_eq!(deliver(&mut rx, &packets[99 - w]), Err(MppeError::Stale));
    // A packet reordered past a large jump still has its key.
    let mut later: Vec<Sent> = (100..200).map(|i| send(&mut tx, i)).collect();
    let last = later.pop().unwrap();
    deliver(&mut rx, &last).unwrap();
    deliver(&mut rx, &later[98]).unwrap();
    deliver(&mut rx, &later[80]).unwrap();
}

#[test]
fn mppe_rfc3078_8_1_stateless_first_packets_out_of_order() {
    let (mut tx, mut rx) = pair(KeyLength::Bits40, true);
    let p0 = send(&mut tx, 0);
    let p1 = send(&mut tx, 1);
    deliver(&mut rx, &p1).unwrap();
    deliver(&mut rx, &p0).unwrap();
    assert_eq!(deliver(&mut rx, &p0), Err(MppeError::Replayed));
}

#[test]
fn mppe_rfc3078_8_1_stateless_old_packet_is_not_a_wrap() {
    let (mut tx, mut rx) = pair(KeyLength::Bits128, true);
    let packets: Vec<Sent> = (0..300).map(|i| send(&mut tx, i)).collect();
    for p in &packets[..200] {
        deliver(&mut rx, p).unwrap();
    }
    let before = rx.key_changes();
    // Count 5 is 195 behind: refused without 3901 key changes.
    assert_eq!(deliver(&mut rx, &packets[5]), Err(MppeError::Stale));
    assert_eq!(rx.key_changes(), before);
    for p in &packets[200..] {
        deliver(&mut rx, p).unwrap();
    }
}

#[test]
fn mppe_rfc3078_8_1_stateless_forward_jump_is_bounded() {
    let (mut tx, mut rx) = pair(KeyLength::Bits128, true);
    let first = send(&mut tx, 0);
    deliver(&mut rx, &first).unwrap();
    let mut packets: Vec<Sent> = (1..=usize::from(MAX_FORWARD) + 1)
        .map(|i| send(&mut tx, i))
        .collect();
    // A jump of exactly MAX_FORWARD is accepted and costs MAX_FORWARD key changes.
    let at_max = packets.remove(usize::from(MAX_FORWARD) - 1);
    assert_eq!(at_max.header.coherency_count(), MAX_FORWARD);
    let before = rx.key_changes();
    deliver(&mut rx, &at_max).unwrap();
    assert_eq!(rx.key_changes() - before, u64::from(MAX_FORWARD));
    // From a fresh receiver, MAX_FORWARD + 1 ahead reads as old and costs nothing.
    let mut rx2 = Decrypter::new(&START, KeyLength::Bits128, true);
    deliver(&mut rx2, &first).unwrap();
    let beyond = packets.pop().unwrap();
    assert_eq!(beyond.header.coherency_count(), MAX_FORWARD + 1);
    assert_eq!(deliver(&mut rx2, &beyond), Err(MppeError::Stale));
    assert_eq!(rx2.key_changes(), 1);
}

#[test]
fn mppe_rfc3078_8_1_stateless_resync_after_3000_lost() {
    for length in LENGTHS {
        let (mut tx, mut rx) = pair(length, true);
        for i in 0..10 {
            deliver(&mut rx, &send(&mut tx, i)).unwrap();
        }
        // A flood: 3000 packets in a row lost, more than MAX_FORWARD.
        for i in 10..3010 {
            send(&mut tx, i);
        }
        let after: Vec<Sent> = (3010..3020).map(|i| send(&mut tx, i)).collect();
        // Each looks old on its own; the first RESYNC_EVIDENCE - 1 are dropped...
        for p in &after[..RESYNC_EVIDENCE - 1] {
            assert_eq!(deliver(&mut rx, p), Err(MppeError::Stale));
        }
        assert_eq!(rx.coherency_count(), 9);
        assert_eq!(rx.resyncs(), 0);
        // ...and the next consecutive one resynchronises (one walk of at most 4095 changes).
        let before = rx.key_changes();
        deliver(&mut rx, &after[RESYNC_EVIDENCE - 1]).unwrap();
        assert_eq!(rx.resyncs(), 1);
        assert_eq!(rx.coherency_count(), 3010 + RESYNC_EVIDENCE as u16 - 1);
        assert!(rx.key_changes() - before < u64::from(COUNT_SPACE));
        // The stream goes on, and a dropped evidence packet still decrypts once, reordered.
        for p in &after[RESYNC_EVIDENCE..] {
            deliver(&mut rx, p).unwrap();
        }
        deliver(&mut rx, &after[0]).unwrap();
        assert_eq!(deliver(&mut rx, &after[0]), Err(MppeError::Replayed));
        assert_eq!(rx.key_changes(), 3020);
        assert_eq!(rx.resyncs(), 1);
    }
}

#[test]
fn mppe_rfc3078_8_1_stateless_single_far_packet_does_not_resync() {
    let (mut tx, mut rx) = pair(KeyLength::Bits128, true);
    let packets: Vec<Sent> = (0..3200).map(|i| send(&mut tx, i)).collect();
    for p in &packets[..200] {
        deliver(&mut rx, p).unwrap();
    }
    let before = rx.key_changes();
    // A replayed old packet, and a genuine one 3000 ahead (as an attacker could inject):
    // each is dropped, moves nothing, and costs nothing.
    for p in [&packets[5], &packets[150], &packets[3199]] {
        assert_eq!(deliver(&mut rx, p), Err(MppeError::Stale));
        assert_eq!(rx.coherency_count(), 199);
        assert_eq!(rx.key_changes(), before);
    }
    // Far packets interleaved with the live stream never add up to evidence.
    for (i, p) in packets[200..240].iter().enumerate() {
        assert_eq!(deliver(&mut rx, &packets[3100 + i]), Err(MppeError::Stale));
        deliver(&mut rx, p).unwrap();
    }
    assert_eq!(rx.resyncs(), 0);
    assert_eq!(rx.coherency_count(), 239);
}

#[test]
fn mppe_rfc3078_8_1_stateless_replayed_old_run_fails_content_check() {
    let (mut tx, mut rx) = pair(KeyLength::Bits128, true);
    let packets: Vec<Sent> = (0..300).map(|i| send(&mut tx, i)).collect();
    for p in &packets[..200] {
        deliver(&mut rx, p).unwrap();
    }
    // A replayed burst of consecutive old packets is evidence by count, but decrypted at the
    // count it would claim (4096 later) its protocol field is noise: no resync.
    for p in &packets[100..100 + 3 * RESYNC_EVIDENCE] {
        assert_eq!(deliver(&mut rx, p), Err(MppeError::Stale));
    }
    // Forged packets with consecutive far counts and random contents fail the same way.
    for c in 0..RESYNC_EVIDENCE as u16 {
        let forged = Sent {
            header: MppeHeader::from_bits(MppeHeader::ENCRYPTED | MppeHeader::FLUSHED | (3000 + c)),
            data: plaintext(usize::from(c) + 7)
                .iter()
                .map(|b| b ^ 0x5a)
                .collect(),
            plain: Vec::new(),
        };
        assert_eq!(deliver(&mut rx, &forged), Err(MppeError::Stale));
    }
    assert_eq!(rx.resyncs(), 0);
    assert_eq!(rx.coherency_count(), 199);
    for p in &packets[200..] {
        deliver(&mut rx, p).unwrap();
    }
}

#[test]
fn mppe_rfc3078_8_2_stateful_loss_resyncs_via_reset() {
    for length in LENGTHS {
        let (mut tx, mut rx) = pair(length, false);
        for i in 0..20 {
            let p = send(&mut tx, i);
            deliver(&mut rx, &p).unwrap();
        }
        let _lost = send(&mut tx, 20);
        let p = send(&mut tx, 21);
        assert_eq!(deliver(&mut rx, &p), Err(MppeError::NeedReset));
        assert!(rx.is_discarding());
        // Until the Reset-Request reaches the sender, packets are dropped quietly.
        for i in 22..30 {
            let p = send(&mut tx, i);
            assert_eq!(deliver(&mut rx, &p), Err(MppeError::AwaitingFlush));
        }
        tx.reset();
        for i in 30..700 {
            let p = send(&mut tx, i);
            assert_eq!(p.header.flushed(), i == 30 || i % 256 == 255);
            deliver(&mut rx, &p).unwrap();
        }
        assert!(!rx.is_discarding());
    }
}

#[test]
fn mppe_rfc3078_8_2_stateful_loss_across_flag_packets() {
    for length in LENGTHS {
        let (mut tx, mut rx) = pair(length, false);
        for i in 0..200 {
            deliver(&mut rx, &send(&mut tx, i)).unwrap();
        }
        // Lose 200..=700: the flag packets 255 and 511 among them.
        for i in 200..=700 {
            send(&mut tx, i);
        }
        let p = send(&mut tx, 701);
        assert_eq!(deliver(&mut rx, &p), Err(MppeError::NeedReset));
        tx.reset();
        let p = send(&mut tx, 702);
        assert!(p.header.flushed());
        deliver(&mut rx, &p).unwrap();
        assert_eq!(rx.key_changes(), 2, "one key change per missed flag packet");
        for i in 703..1100 {
            deliver(&mut rx, &send(&mut tx, i)).unwrap();
        }
    }
}

#[test]
fn mppe_rfc3078_8_2_stateful_resync_on_flag_packet_without_reset() {
    let (mut tx, mut rx) = pair(KeyLength::Bits128, false);
    for i in 0..100 {
        deliver(&mut rx, &send(&mut tx, i)).unwrap();
    }
    send(&mut tx, 100);
    assert_eq!(
        deliver(&mut rx, &send(&mut tx, 101)),
        Err(MppeError::NeedReset)
    );
    for i in 102..255 {
        assert_eq!(
            deliver(&mut rx, &send(&mut tx, i)),
            Err(MppeError::AwaitingFlush)
        );
    }
    // The flag packet is flushed by nature: it resynchronises the receiver by itself.
    deliver(&mut rx, &send(&mut tx, 255)).unwrap();
    deliver(&mut rx, &send(&mut tx, 256)).unwrap();
}

#[test]
fn mppe_rfc3078_8_2_stateful_flushed_packet_after_gap_resyncs_directly() {
    let (mut tx, mut rx) = pair(KeyLength::Bits56, false);
    for i in 0..10 {
        deliver(&mut rx, &send(&mut tx, i)).unwrap();
    }
    send(&mut tx, 10);
    // The sender was reset for some other reason; its next packet is flushed.
    tx.reset();
    deliver(&mut rx, &send(&mut tx, 11)).unwrap();
    deliver(&mut rx, &send(&mut tx, 12)).unwrap();
}

#[test]
fn mppe_rfc3078_8_2_stateful_duplicate_and_reorder() {
    let (mut tx, mut rx) = pair(KeyLength::Bits128, false);
    let packets: Vec<Sent> = (0..10).map(|i| send(&mut tx, i)).collect();
    for p in &packets[..5] {
        deliver(&mut rx, p).unwrap();
    }
    // A duplicate is dropped without spending keystream: the stream stays in sync.
    assert_eq!(deliver(&mut rx, &packets[4]), Err(MppeError::Stale));
    assert_eq!(deliver(&mut rx, &packets[2]), Err(MppeError::Stale));
    deliver(&mut rx, &packets[5]).unwrap();
    // Reordering looks like loss: 7 before 6.
    assert_eq!(deliver(&mut rx, &packets[7]), Err(MppeError::NeedReset));
    // 6 is not behind the last packet accepted (5), but we are discarding now.
    assert_eq!(deliver(&mut rx, &packets[6]), Err(MppeError::AwaitingFlush));
    assert_eq!(deliver(&mut rx, &packets[8]), Err(MppeError::AwaitingFlush));
    tx.reset();
    for i in 10..20 {
        deliver(&mut rx, &send(&mut tx, i)).unwrap();
    }
}

#[test]
fn mppe_rfc3078_stateful_flag_packet_without_a_bit_is_accepted() {
    // Some senders (FreeBSD's ng_mppc) change the key on the flag packet without setting A.
    let (mut tx, mut rx) = pair(KeyLength::Bits128, false);
    for i in 0..300 {
        let p = send(&mut tx, i);
        let mut buf = p.data.clone();
        rx.decrypt(p.header.bits() & !MppeHeader::FLUSHED, &mut buf)
            .unwrap();
        assert_eq!(buf, p.plain);
    }
}

#[test]
fn mppe_rfc3078_3_rejects_unencrypted_and_compressed() {
    for stateless in [false, true] {
        let (mut tx, mut rx) = pair(KeyLength::Bits128, stateless);
        let p = send(&mut tx, 0);
        let mut buf = p.data.clone();
        let clear = p.header.bits() & !MppeHeader::ENCRYPTED;
        assert_eq!(rx.decrypt(clear, &mut buf), Err(MppeError::NotEncrypted));
        let mppc = p.header.bits() | MppeHeader::COMPRESSED;
        assert_eq!(rx.decrypt(mppc, &mut buf), Err(MppeError::Compressed));
        assert_eq!(buf, p.data);
        // Nothing changed: the packet still decrypts.
        deliver(&mut rx, &p).unwrap();
    }
}

#[test]
fn mppe_rfc3078_stateless_receiver_rejects_stateful_sender() {
    let mut tx = Encrypter::new(&START, KeyLength::Bits128, false);
    let mut rx = Decrypter::new(&START, KeyLength::Bits128, true);
    let p = send(&mut tx, 0);
    assert_eq!(deliver(&mut rx, &p), Err(MppeError::NotFlushed));
}

#[test]
fn mppe_empty_payload_is_harmless() {
    for stateless in [false, true] {
        let (mut tx, mut rx) = pair(KeyLength::Bits40, stateless);
        let mut empty = [];
        let h = tx.encrypt(&mut empty);
        rx.decrypt(h.bits(), &mut empty).unwrap();
        deliver(&mut rx, &send(&mut tx, 1)).unwrap();
    }
}

#[test]
fn flag_count_arithmetic() {
    assert_eq!(flag_counts_after(0x0fe, 1), 1);
    assert_eq!(flag_counts_after(0x0fe, 0), 0);
    assert_eq!(flag_counts_after(0x0ff, 255), 0);
    assert_eq!(flag_counts_after(0x0ff, 256), 1);
    assert_eq!(flag_counts_after(0xfff, 1), 0);
    assert_eq!(flag_counts_after(0x010, 0x2ef), 3);
    assert_eq!(flag_counts_after(0x010, 0x2ee), 2);
    // Brute-force cross-check.
    for from in (0..4096u16).step_by(37) {
        for d in (0..=2048u16).step_by(13) {
            let brute = (1..=d).filter(|k| (from + k) & 0xff == 0xff).count() as u16;
            assert_eq!(flag_counts_after(from, d), brute, "from {from} d {d}");
        }
    }
}

fn linux_pair(length: KeyLength) -> (Encrypter, Decrypter) {
    let (mut tx, mut rx) = pair(length, false);
    tx.set_reset_style(ResetStyle::ChangeKey);
    rx.set_reset_style(ResetStyle::ChangeKey);
    (tx, rx)
}

#[test]
fn mppe_linux_reset_changes_the_key() {
    let length = KeyLength::Bits128;
    let mut tx = Encrypter::new(&START, length, false);
    tx.set_reset_style(ResetStyle::ChangeKey);
    for i in 0..10 {
        send(&mut tx, i);
    }
    tx.reset();
    let p = send(&mut tx, 10);
    assert!(p.header.flushed());
    let mut key = initial_session_key(&START, length);
    change_key(&START, &mut key, length);
    let mut expect = p.plain.clone();
    oracle(&key, &mut expect);
    assert_eq!(p.data, expect, "changed key, RC4 restarted");
}

#[test]
fn mppe_linux_style_stateful_loss_and_flag_packets() {
    for length in LENGTHS {
        let (mut tx, mut rx) = linux_pair(length);
        for i in 0..100 {
            deliver(&mut rx, &send(&mut tx, i)).unwrap();
        }
        // A reset with no loss (a duplicate Reset-Request, say): one flushed packet in sync.
        tx.reset();
        for i in 100..200 {
            deliver(&mut rx, &send(&mut tx, i)).unwrap();
        }
        // Loss across the flag packets 255 and 511, then a reset.
        for i in 200..=600 {
            send(&mut tx, i);
        }
        assert_eq!(
            deliver(&mut rx, &send(&mut tx, 601)),
            Err(MppeError::NeedReset)
        );
        tx.reset();
        for i in 602..1200 {
            deliver(&mut rx, &send(&mut tx, i)).unwrap();
        }
        // Loss that ends exactly on a flag packet, which resynchronises by itself.
        for i in 1200..1400 {
            send(&mut tx, i);
        }
        assert_eq!(
            deliver(&mut rx, &send(&mut tx, 1400)),
            Err(MppeError::NeedReset)
        );
        for i in 1401..1535 {
            assert_eq!(
                deliver(&mut rx, &send(&mut tx, i)),
                Err(MppeError::AwaitingFlush)
            );
        }
        let flag = send(&mut tx, 1535);
        assert_eq!(flag.header.coherency_count() & 0xff, 0xff);
        deliver(&mut rx, &flag).unwrap();
        deliver(&mut rx, &send(&mut tx, 1536)).unwrap();
    }
}

#[test]
fn mppe_reset_styles_do_not_mix() {
    // An RFC sender's reset packet read by a Linux-style receiver (and vice versa) decrypts
    // to garbage: the two must be configured alike.
    for (tx_style, rx_style) in [
        (ResetStyle::Rfc3078, ResetStyle::ChangeKey),
        (ResetStyle::ChangeKey, ResetStyle::Rfc3078),
    ] {
        let (mut tx, mut rx) = pair(KeyLength::Bits128, false);
        tx.set_reset_style(tx_style);
        rx.set_reset_style(rx_style);
        for i in 0..5 {
            deliver(&mut rx, &send(&mut tx, i)).unwrap();
        }
        tx.reset();
        let p = send(&mut tx, 5);
        let mut buf = p.data.clone();
        rx.decrypt(p.header.bits(), &mut buf).unwrap();
        assert_ne!(buf, p.plain);
    }
}
