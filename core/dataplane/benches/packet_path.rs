//! The per-packet work of the data plane on 1400-octet packets: the address -> session
//! lookup of a packet read from the TUN (10,000 sessions in the table), anti-spoofing of a
//! packet from a session, and TCP MSS clamping (the common non-SYN case and a SYN rewrite).

use core::net::{Ipv4Addr, Ipv6Addr};
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dialgate_dataplane::{AddressTable, MssOutcome, clamp_mss, ip};

const PACKET_LEN: usize = 1400;
const SESSIONS: u32 = 10_000;
const MTU: u16 = 1400;

/// An IPv4 TCP packet of `PACKET_LEN` octets from `src` to `dst` with `flags`; SYNs carry
/// an MSS option of 1460. Checksums are valid.
fn tcp_v4(src: Ipv4Addr, dst: Ipv4Addr, flags: u8) -> Vec<u8> {
    let mut p = vec![0u8; PACKET_LEN];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(PACKET_LEN as u16).to_be_bytes());
    p[8] = 64;
    p[9] = ip::PROTO_TCP;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let c = ip::finish(ip::sum(&p[..20]));
    p[10..12].copy_from_slice(&c.to_be_bytes());
    let t = 20;
    p[t..t + 2].copy_from_slice(&443u16.to_be_bytes());
    p[t + 2..t + 4].copy_from_slice(&50000u16.to_be_bytes());
    p[t + 12] = 6 << 4; // 24-octet header: 4 octets of options
    p[t + 13] = flags;
    p[t + 20..t + 24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
    for (i, b) in p[t + 24..].iter_mut().enumerate() {
        *b = (i * 31) as u8;
    }
    let seg_len = (PACKET_LEN - t) as u16;
    let acc = ip::add(
        ip::ipv4_pseudo_sum(&src, &dst, ip::PROTO_TCP, seg_len),
        ip::sum(&p[t..]),
    );
    let c = ip::finish(acc);
    p[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
    p
}

fn bench(c: &mut Criterion) {
    let mut table = AddressTable::new();
    for i in 0..SESSIONS {
        table
            .insert_v4(Ipv4Addr::from_bits(0x0a00_0000 + i), i)
            .unwrap_or_default();
        let prefix = Ipv6Addr::from_bits((0x2001_0db8_0100u128 << 80) | (u128::from(i) << 64));
        table.insert_v6(prefix, i).unwrap_or_default();
    }
    let server = Ipv4Addr::new(192, 0, 2, 80);
    let client = Ipv4Addr::from_bits(0x0a00_0000 + 4321);
    let to_client = tcp_v4(server, client, 0x10);
    let from_client = tcp_v4(client, server, 0x10);
    let syn = tcp_v4(client, server, 0x02);
    let mut v6 = vec![0u8; PACKET_LEN];
    v6[0] = 0x60;
    v6[24..40].copy_from_slice(
        &Ipv6Addr::from_bits((0x2001_0db8_0100u128 << 80) | (4321u128 << 64) | 1).octets(),
    );

    let mut group = c.benchmark_group("packet_path");
    group.throughput(Throughput::Bytes(PACKET_LEN as u64));
    group.bench_function("lookup_v4_1400", |b| {
        b.iter(|| table.route_from_tun(black_box(&to_client)))
    });
    group.bench_function("lookup_v6_1400", |b| {
        b.iter(|| table.route_from_tun(black_box(&v6)))
    });
    group.bench_function("anti_spoof_v4_1400", |b| {
        b.iter(|| table.check_from_session(black_box(4321), black_box(&from_client)))
    });
    group.bench_function("mss_clamp_data_1400", |b| {
        let mut p = to_client.clone();
        b.iter(|| clamp_mss(black_box(&mut p), black_box(MTU)))
    });
    group.bench_function("mss_clamp_syn_rewrite", |b| {
        let mut p = syn.clone();
        b.iter(|| {
            // Restore the advertised 1460 so every iteration rewrites (and fixes the
            // checksum) again; the 60-octet copy is part of the measured cost.
            p[..60].copy_from_slice(&syn[..60]);
            let out = clamp_mss(black_box(&mut p), black_box(MTU));
            debug_assert!(matches!(out, MssOutcome::Clamped { .. }));
            out
        })
    });
    group.bench_function("tun_to_session_1400", |b| {
        // What routerd does per packet read from the TUN: find the session, clamp.
        let mut p = to_client.clone();
        b.iter(|| {
            let s = table.route_from_tun(black_box(&p));
            (s, clamp_mss(black_box(&mut p), MTU))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
