//! MPPE-128 throughput on 1400-octet packets, stateful and stateless, both directions.
//!
//! Time is the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time:
//! `openssl speed`, the baseline `tests/bench/mppe-vs-openssl.sh` compares against, divides
//! by CPU time too, so both sides are equally immune to other processes taking the CPU. Throughput is printed in decimal MB/s, like OpenSSL's "k" (1000 bytes).

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dialgate_crypto::mppe::{Decrypter, Encrypter, KeyLength, MppeHeader};
use std::hint::black_box;

const PACKET: usize = 1400;
const START: [u8; 16] = *b"0123456789abcdef";

/// Nanoseconds this thread has run on a CPU (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux defines.
    // This is the benchmark harness only: the library itself has no unsafe code.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuNanos
    }
}

struct CpuNanos;

impl ValueFormatter for CpuNanos {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        for v in values.iter_mut() {
            *v /= 1000.0;
        }
        "µs cpu"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let units = match throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => *n as f64,
            Throughput::Elements(n) => *n as f64,
            _ => 1.0,
        };
        for v in values.iter_mut() {
            *v = units * 1e9 / *v / 1e6;
        }
        "MB/s"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn encrypt(c: &mut Criterion<CpuTime>) {
    let mut g = c.benchmark_group("mppe128_encrypt");
    g.throughput(Throughput::Bytes(PACKET as u64));
    for (name, stateless) in [("stateful", false), ("stateless", true)] {
        let mut tx = Encrypter::new(&START, KeyLength::Bits128, stateless);
        let mut buf = vec![0x5au8; PACKET];
        g.bench_function(name, |b| {
            b.iter(|| black_box(tx.encrypt(black_box(&mut buf))));
        });
    }
    g.finish();
}

fn decrypt(c: &mut Criterion<CpuTime>) {
    let mut g = c.benchmark_group("mppe128_decrypt");
    g.throughput(Throughput::Bytes(PACKET as u64));
    for (name, stateless) in [("stateful", false), ("stateless", true)] {
        let mut rx = Decrypter::new(&START, KeyLength::Bits128, stateless);
        let mut buf = vec![0x5au8; PACKET];
        let mut count: u16 = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                // The next in-sequence header, as the peer's encrypter would send it.
                let mut bits = MppeHeader::ENCRYPTED | count;
                if stateless || count & 0xff == 0xff {
                    bits |= MppeHeader::FLUSHED;
                }
                count = (count + 1) & 0x0fff;
                black_box(rx.decrypt(bits, black_box(&mut buf)))
            });
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = encrypt, decrypt
}
criterion_main!(benches);
