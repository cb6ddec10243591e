//! HDLC decode/encode throughput on 1500-octet frames (RFC 1662).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dialgate_wire::hdlc::{DEFAULT_ACCM, Decoder, Encoder, Fcs, fcs};
use std::hint::black_box;

const FRAMES: usize = 64;
const FRAME_LEN: usize = 1500;

/// Deterministic incompressible-looking payload, so escapes occur at their natural rate.
fn payload(seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    let mut frame = vec![0xff, 0x03, 0x00, 0x21];
    frame.extend((4..FRAME_LEN).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x >> 11) as u8
    }));
    frame
}

fn bench(c: &mut Criterion) {
    let frames: Vec<Vec<u8>> = (0..FRAMES as u32).map(payload).collect();
    let cases = [
        ("fcs16_accm0", Fcs::Fcs16, 0),
        ("fcs32_accm0", Fcs::Fcs32, 0),
        ("fcs16_accm_all", Fcs::Fcs16, DEFAULT_ACCM),
    ];
    let mut group = c.benchmark_group("hdlc");
    for (name, fcs, accm) in cases {
        let enc = Encoder::new().with_fcs(fcs).with_accm(accm);
        let mut wire = Vec::new();
        for f in &frames {
            enc.encode(f, &mut wire);
        }
        // Throughput counts the decoded (payload) octets, the figure a link cares about.
        group.throughput(Throughput::Bytes((FRAMES * FRAME_LEN) as u64));
        group.bench_function(format!("decode_{name}"), |b| {
            let mut dec = Decoder::new(FRAME_LEN).with_fcs(fcs).with_accm(accm);
            b.iter(|| {
                let mut n = 0usize;
                dec.feed(black_box(&wire), |f| n += f.len());
                assert_eq!(n, FRAMES * FRAME_LEN);
            })
        });
        group.bench_function(format!("encode_{name}"), |b| {
            let mut out = Vec::with_capacity(wire.len() * 2);
            b.iter(|| {
                out.clear();
                for f in &frames {
                    enc.encode(black_box(f), &mut out);
                }
                black_box(out.len())
            })
        });
    }
    let frame = payload(1);
    group.throughput(Throughput::Bytes(FRAME_LEN as u64));
    group.bench_function("fcs16", |b| {
        b.iter(|| fcs::fcs16(fcs::FCS16_INIT, black_box(&frame)))
    });
    group.bench_function("fcs32", |b| {
        b.iter(|| fcs::fcs32(fcs::FCS32_INIT, black_box(&frame)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
