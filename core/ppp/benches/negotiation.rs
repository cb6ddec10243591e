//! Full negotiations per second: two engines back to back in memory, from open to the
//! Network phase on both sides. LCP only for now; extended with MS-CHAPv2, IPCP and CCP as
//! those land (target: >= 20,000 full LCP+MS-CHAPv2+IPCP+CCP negotiations/s/core).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dialgate_ppp::{Config, Engine, Phase};

/// Run one negotiation to the Network phase on both sides; returns the frames exchanged.
fn negotiate(seed: u64, buf: &mut Vec<u8>) -> usize {
    let now = Instant::now();
    let mut a = Engine::new(Config::default().with_seed(seed), now);
    let mut b = Engine::new(Config::default().with_seed(seed ^ 0xa5a5), now);
    for e in [&mut a, &mut b] {
        e.open(now);
        e.lower_up(now);
    }
    let mut frames = 0;
    loop {
        let mut moved = false;
        while a.poll_transmit(buf) {
            moved = true;
            frames += 1;
            let _ = b.handle_frame(now, buf);
        }
        while b.poll_transmit(buf) {
            moved = true;
            frames += 1;
            let _ = a.handle_frame(now, buf);
        }
        if !moved {
            break;
        }
    }
    assert!(a.phase() == Phase::Network && b.phase() == Phase::Network);
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
    frames
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("negotiation");
    group.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(1600);
    let mut seed = 0u64;
    group.bench_function("lcp_only", |bench| {
        bench.iter(|| {
            seed += 1;
            black_box(negotiate(seed, &mut buf))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
