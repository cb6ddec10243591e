//! Full negotiations per second: two engines back to back in memory, from open to the
//! Network phase on both sides, on one core.
//!
//! - `lcp_only`: LCP alone.
//! - `lcp_mschapv2_ipcp_ccp`: LCP, MS-CHAPv2 (local users), CCP with MPPE-128 stateless and
//!   IPCP with an address pool, until IPCP is reported up on both sides (target: >= 20,000/s).

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dialgate_ppp::auth::{Credentials, LocalUsers};
use dialgate_ppp::ncp::{AddressPool, IpcpClientConfig, IpcpServerConfig};
use dialgate_ppp::rng::Rng;
use dialgate_ppp::{Config, Engine, Event, Phase, Protocol};

/// Run one negotiation until `done` holds for both engines; returns the frames exchanged.
fn negotiate(
    a: Config,
    b: Config,
    buf: &mut Vec<u8>,
    done: impl Fn(&Engine, bool) -> bool,
) -> usize {
    let now = Instant::now();
    let mut a = Engine::new(a, now);
    let mut b = Engine::new(b, now);
    for e in [&mut a, &mut b] {
        e.open(now);
        e.lower_up(now);
    }
    let (mut up_a, mut up_b) = (false, false);
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
        while let Some(e) = a.poll_event() {
            up_a |= matches!(
                e,
                Event::NetworkUp {
                    protocol: Protocol::IPCP,
                    ..
                }
            );
        }
        while let Some(e) = b.poll_event() {
            up_b |= matches!(
                e,
                Event::NetworkUp {
                    protocol: Protocol::IPCP,
                    ..
                }
            );
        }
        if !moved {
            break;
        }
    }
    assert!(
        done(&a, up_a) && done(&b, up_b),
        "negotiation did not complete"
    );
    frames
}

#[derive(Debug)]
struct Pool(Mutex<u32>);

impl AddressPool for Pool {
    fn allocate(&self, _user: &str, _hint: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        let mut n = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *n = n.wrapping_add(1);
        Some(Ipv4Addr::from(0x0a01_0000 | (*n & 0xffff)))
    }
    fn release(&self, _addr: Ipv4Addr) {}
}

fn random(seed: u64) -> dialgate_ppp::config::RandomSource {
    let rng = Mutex::new(Rng::new(seed));
    Arc::new(move |buf: &mut [u8]| {
        let mut rng = rng.lock().unwrap_or_else(PoisonError::into_inner);
        for b in buf.iter_mut() {
            *b = rng.next_u32() as u8;
        }
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("negotiation");
    group.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(1600);
    let mut seed = 0u64;
    group.bench_function("lcp_only", |bench| {
        bench.iter(|| {
            seed += 1;
            let a = Config::default().with_seed(seed);
            let b = Config::default().with_seed(seed ^ 0xa5a5);
            black_box(negotiate(a, b, &mut buf, |e, _| {
                e.phase() == Phase::Network
            }))
        })
    });

    let mut users = LocalUsers::new();
    users
        .add_password("alice", "correct horse")
        .expect("valid password");
    let server = Config::default()
        .with_random(random(1))
        .with_authenticator(Arc::new(users), "dialgate")
        .with_ipcp_server(
            IpcpServerConfig {
                local: Ipv4Addr::new(10, 0, 0, 1),
                dns: [Some(Ipv4Addr::new(10, 0, 0, 53)), None],
                nbns: [None, None],
            },
            Arc::new(Pool(Mutex::new(0))),
        );
    let client = Config::default()
        .with_random(random(2))
        .with_credentials(Credentials::new("alice", "correct horse").expect("valid password"))
        .with_ipcp_client(IpcpClientConfig {
            address: None,
            request_dns: true,
            request_nbns: false,
        });
    group.bench_function("lcp_mschapv2_ipcp_ccp", |bench| {
        bench.iter(|| {
            seed += 1;
            let a = server.clone().with_seed(seed);
            let b = client.clone().with_seed(seed ^ 0xa5a5);
            black_box(negotiate(a, b, &mut buf, |e, ipcp_up| {
                ipcp_up && e.mppe().is_some()
            }))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
