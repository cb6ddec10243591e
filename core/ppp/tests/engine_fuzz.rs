//! The engine fuzz scenario ([`common::engine_fuzz`]) under `cargo test`: the seed corpus is
//! built here from real negotiations, replayed with checks that each seed reaches what it is
//! meant to exercise, and mutated a few hundred times.
//!
//! To (re)write the committed corpus of the `engine` fuzz target:
//!
//! ```text
//! DIALGATE_FUZZ_CORPUS=tests/fuzz/corpus/engine cargo test -p dialgate-ppp --test engine_fuzz
//! ```
//! (the path is relative to `core/ppp`, so from the repository root pass an absolute one).

mod common;

use common::engine_fuzz::{Record, Scenario, Start, encode, run};
use common::{Link, Side};
use dialgate_ppp::{Phase, Protocol};
use dialgate_wire::ppp::Header;

/// The scenario's link at a start point (what the fuzz target starts from).
fn at(start: Start, target: Side) -> Link {
    Scenario::new(start.mode(target)).link
}

/// Frames `from` sends carrying `count` datagrams (encrypted as negotiated).
fn datagrams(link: &mut Link, from: Side, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let payload: Vec<u8> = (0..40).map(|j| (i * 7 + j) as u8).collect();
            let mut out = vec![0u8; 64];
            let now = link.now;
            let n = link
                .engine(from)
                .send_datagram(now, Protocol::IPV4, &payload, &mut out)
                .expect("network up");
            out.truncate(n);
            out
        })
        .collect()
}

fn frames(list: impl IntoIterator<Item = Vec<u8>>) -> Vec<Record> {
    list.into_iter().map(Record::Frame).collect()
}

/// The first frame `side` sent of `protocol` whose code is `code`.
fn sent_code(link: &Link, side: Side, protocol: Protocol, code: u8) -> Vec<u8> {
    link.sent(side, protocol)
        .into_iter()
        .find(|f| Header::parse(f).is_ok_and(|(_, p)| p.first() == Some(&code)))
        .expect("such a frame in the trace")
}

/// Frames `side` sent during a whole negotiation, optionally without LCP.
fn negotiation_frames(side: Side, skip_lcp: bool) -> Vec<Vec<u8>> {
    let link = at(Start::Network, Side::A);
    link.trace
        .iter()
        .filter(|(s, f)| {
            *s == side
                && !(skip_lcp && Header::parse(f).is_ok_and(|(h, _)| h.protocol == Protocol::LCP))
        })
        .map(|(_, f)| f.clone())
        .collect()
}

/// A seed: its file name, the input, and a check of what running it reached.
type Seed = (
    &'static str,
    Vec<u8>,
    fn(&common::engine_fuzz::Outcome) -> bool,
);

fn seeds() -> Vec<Seed> {
    let mut seeds: Vec<Seed> = Vec::new();
    let net = Start::Network;
    for target in [Side::A, Side::B] {
        let peer = target.other();
        let mut link = at(net, target);
        let data = datagrams(&mut link, peer, 8);
        let peer_magic = link.engine(peer).lcp().policy().local().magic;
        let mut echo = vec![0xc0, 0x21, 9, 0x42, 0, 12];
        echo.extend_from_slice(&peer_magic.to_be_bytes());
        echo.extend_from_slice(b"ping");
        let reset = vec![0x80, 0xfd, 14, 0x21, 0, 4];
        let lcp_request = sent_code(&link, peer, Protocol::LCP, 1);
        let ipcp_request = sent_code(&link, peer, Protocol::IPCP, 1);
        let ccp_request = sent_code(&link, peer, Protocol::CCP, 1);
        let terminate = vec![0xc0, 0x21, 5, 0x77, 0, 4];
        let (a, b) = (target == Side::A, target == Side::B);
        let mut add = |name_a: &'static str,
                       name_b: &'static str,
                       records: Vec<Record>,
                       check: fn(&common::engine_fuzz::Outcome) -> bool| {
            seeds.push((
                if a { name_a } else { name_b },
                encode(net, target, &records),
                check,
            ));
        };
        add(
            "net-a-data-1",
            "net-b-data-1",
            frames([data[0].clone()]),
            |o| o.delivered == 1,
        );
        let mut eight = frames(data.clone());
        eight.insert(4, Record::Tick(1));
        add("net-a-data-8", "net-b-data-8", eight, |o| o.delivered == 8);
        add(
            "net-a-data-reordered",
            "net-b-data-reordered",
            frames([1, 0, 3, 2].map(|i| data[i].clone())),
            |o| o.delivered == 4,
        );
        add(
            "net-a-data-duplicated",
            "net-b-data-duplicated",
            frames([0, 0, 1, 1].map(|i| data[i].clone())),
            |o| o.delivered == 2,
        );
        add(
            "net-a-reset-request",
            "net-b-reset-request",
            vec![Record::Frame(reset), Record::Send(20), Record::Send(0)],
            |o| !o.down,
        );
        add(
            "net-a-echo",
            "net-b-echo",
            vec![Record::Frame(echo), Record::Tick(40)],
            |o| !o.down,
        );
        add(
            "net-a-lcp-renegotiation",
            "net-b-lcp-renegotiation",
            frames([lcp_request]),
            |o| o.phases.first() == Some(&Phase::Establish),
        );
        add(
            "net-a-ipcp-request",
            "net-b-ipcp-request",
            frames([ipcp_request]),
            |o| !o.down,
        );
        add(
            "net-a-ccp-request",
            "net-b-ccp-request",
            frames([ccp_request]),
            |o| !o.down,
        );
        add(
            "net-a-terminate",
            "net-b-terminate",
            frames([terminate]),
            |o| o.down && o.phases.first() == Some(&Phase::Terminate),
        );
        if a {
            // Odd frames, once.
            let mut oversized = vec![0x21];
            oversized.resize(1505, 0x45);
            let odd = vec![
                vec![0xc0, 0x21, 8, 1, 0, 6, 0x80, 0x21],
                vec![0xc0, 0x21, 7, 2, 0, 6, 0x42, 0],
                vec![0x40, 0x01, 0xaa],
                vec![0x21, 0x45, 0, 0, 20],
                vec![0xfd, 0x00, 0x05, 1, 2, 3],
                vec![0x80, 0xfd, 0x42, 3, 0, 4],
                oversized,
            ];
            for (i, f) in odd.into_iter().enumerate() {
                const NAMES: [&str; 7] = [
                    "net-a-protocol-reject-ipcp",
                    "net-a-code-reject",
                    "net-a-unknown-protocol",
                    "net-a-clear-ipv4",
                    "net-a-mppe-not-encrypted",
                    "net-a-ccp-unknown-code",
                    "net-a-oversized",
                ];
                seeds.push((NAMES[i], encode(net, target, &[Record::Frame(f)]), |_| true));
            }
            let sends = [Record::Send(40), Record::Tick(4), Record::Send(0)];
            seeds.push(("net-a-send", encode(net, target, &sends), |o| !o.down));
        }
        let _ = b;
    }

    // Stateful MPPE: in order, a gap (the target asks for a reset), duplicates.
    let st = Start::NetworkStateful;
    let mut link = at(st, Side::A);
    let data = datagrams(&mut link, Side::B, 4);
    let now = link.now;
    let mut reset = vec![0x80, 0xfd, 14, 1, 0, 4];
    let _ = link.b.handle_frame(now, &mut reset);
    let flushed = datagrams(&mut link, Side::B, 1).remove(0);
    seeds.push((
        "stateful-a-data-4",
        encode(st, Side::A, &frames(data.clone())),
        |o| o.delivered == 4,
    ));
    seeds.push((
        "stateful-a-gap-then-flushed",
        encode(
            st,
            Side::A,
            &frames([data[0].clone(), data[2].clone(), data[3].clone(), flushed]),
        ),
        |o| o.delivered == 2,
    ));
    seeds.push((
        "stateful-a-duplicated",
        encode(st, Side::A, &frames([0, 0, 1].map(|i| data[i].clone()))),
        |o| o.delivered == 2,
    ));

    // Replays of a whole negotiation from the start (Establish) and from LCP Opened
    // (Authenticate): the target gets exactly what the real peer sent and opens the network.
    let reaches_network: fn(&common::engine_fuzz::Outcome) -> bool =
        |o| o.phases.contains(&Phase::Network) && !o.down;
    for (target, full, after_lcp) in [
        (Side::A, "est-a-replay", "auth-a-replay"),
        (Side::B, "est-b-replay", "auth-b-replay"),
    ] {
        let peer = target.other();
        let all = negotiation_frames(peer, false);
        seeds.push((
            full,
            encode(Start::Establish, target, &frames(all)),
            reaches_network,
        ));
        let rest = negotiation_frames(peer, true);
        seeds.push((
            after_lcp,
            encode(Start::Authenticate, target, &frames(rest)),
            reaches_network,
        ));
    }
    let all = negotiation_frames(Side::B, false);
    seeds.push((
        "est-a-lcp-request-only",
        encode(Start::Establish, Side::A, &frames(all.into_iter().take(1))),
        |o| o.down,
    ));
    // A CHAP Response with a damaged NT-Response: Failure, retry allowed, never answered.
    let mut chap: Vec<Vec<u8>> = negotiation_frames(Side::B, true);
    if let Some(response) = chap.first_mut() {
        if let Some(last) = response.last_mut() {
            *last ^= 0x55;
        }
        if let Some(b) = response.get_mut(40) {
            *b ^= 0x01;
        }
    }
    seeds.push((
        "auth-a-bad-response",
        encode(
            Start::Authenticate,
            Side::A,
            &frames(chap.into_iter().take(1)),
        ),
        |o| !o.phases.contains(&Phase::Network),
    ));
    seeds.push((
        "auth-a-timers",
        encode(
            Start::Authenticate,
            Side::A,
            &[Record::Tick(63), Record::Tick(63)],
        ),
        |o| o.down,
    ));
    seeds
}

#[test]
fn seed_corpus_reaches_what_each_seed_exercises() {
    let seeds = seeds();
    assert!(seeds.len() >= 30, "{} seeds", seeds.len());
    let dir = std::env::var_os("DIALGATE_FUZZ_CORPUS");
    for (name, input, check) in &seeds {
        let outcome = run(input);
        assert!(check(&outcome), "{name}: {outcome:?}");
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).expect("corpus directory");
            std::fs::write(std::path::Path::new(dir).join(name), input).expect("seed written");
        }
    }
}

#[test]
fn mutated_seeds_keep_every_invariant() {
    let seeds = seeds();
    let mut rng = dialgate_ppp::rng::Rng::new(0xf022);
    for round in 0..300 {
        let (_, input, _) = &seeds[round % seeds.len()];
        let mut input = input.clone();
        for _ in 0..1 + rng.next_u32() % 8 {
            if input.len() < 2 {
                break;
            }
            let i = 1 + (rng.next_u32() as usize) % (input.len() - 1);
            match rng.next_u32() % 3 {
                0 => input[i] ^= 1 << (rng.next_u32() % 8),
                1 => input[i] = rng.next_u32() as u8,
                _ => input.truncate(i),
            }
        }
        run(&input);
    }
}

#[test]
fn arbitrary_inputs_keep_every_invariant() {
    let mut rng = dialgate_ppp::rng::Rng::new(0xa7b1);
    for _ in 0..200 {
        let len = (rng.next_u32() % 300) as usize;
        let input: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        run(&input);
    }
}
