//! A miniature of the RFC 1661 automaton for policy tests: two policies exchange
//! Configure-Requests and answer them exactly as the engine would, counting Naks for
//! Max-Failure (RFC 1661 §4.6).
#![allow(dead_code)]

use dialgate_ppp::options::{NegotiationFailure, OptionPolicy, Reply, RequestVerdict};

/// RFC 1661 §4.6 Max-Failure default.
pub const MAX_FAILURE: u32 = 5;

/// Which end of the exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// The end whose request was judged (in `on_ack`/`on_nak`/`on_reject`).
    Sender(&'static str, NegotiationFailure),
    /// The end judging the request (in `check_request`).
    Receiver(&'static str, NegotiationFailure),
    /// No agreement within the round limit.
    NoConvergence,
}

impl Failed {
    /// The failure, whichever end reported it.
    pub fn failure(&self) -> Option<&NegotiationFailure> {
        match self {
            Self::Sender(_, f) | Self::Receiver(_, f) => Some(f),
            Self::NoConvergence => None,
        }
    }
}

/// One request of `from`, judged by `to`, answered back to `from`. `naks` counts the Naks
/// `to` sent in a row (reset by an Ack).
pub fn exchange(
    from: &mut dyn OptionPolicy,
    to: &mut dyn OptionPolicy,
    naks: &mut u32,
    log: &mut Vec<String>,
) -> Result<RequestVerdict, Failed> {
    let mut req = Vec::new();
    from.build_request(&mut req);
    let mut reply = Reply::default();
    let verdict = to
        .check_request(&req, &mut reply, *naks >= MAX_FAILURE)
        .map_err(|e| Failed::Receiver(to.name(), e))?;
    log.push(format!(
        "{} req {} -> {:?} nak {} rej {}",
        from.name(),
        hex(&req),
        verdict,
        hex(&reply.nak),
        hex(&reply.rej)
    ));
    let answered = match verdict {
        RequestVerdict::Ack => {
            *naks = 0;
            from.on_ack(&req)
        }
        RequestVerdict::Nak => {
            *naks += 1;
            from.on_nak(&reply.nak)
        }
        RequestVerdict::Reject => from.on_reject(&reply.rej),
    };
    answered.map_err(|e| Failed::Sender(from.name(), e))?;
    Ok(verdict)
}

/// Run both directions until each end's request is acked; returns the rounds taken and the
/// exchange log.
pub fn converge(
    a: &mut dyn OptionPolicy,
    b: &mut dyn OptionPolicy,
    max_rounds: usize,
) -> Result<(usize, Vec<String>), (Failed, Vec<String>)> {
    let mut log = Vec::new();
    let (mut a_acked, mut b_acked) = (false, false);
    let (mut naks_by_b, mut naks_by_a) = (0, 0);
    for round in 1..=max_rounds {
        if !a_acked {
            match exchange(a, b, &mut naks_by_b, &mut log) {
                Ok(v) => a_acked = v == RequestVerdict::Ack,
                Err(e) => return Err((e, log)),
            }
        }
        if !b_acked {
            match exchange(b, a, &mut naks_by_a, &mut log) {
                Ok(v) => b_acked = v == RequestVerdict::Ack,
                Err(e) => return Err((e, log)),
            }
        }
        if a_acked && b_acked {
            return Ok((round, log));
        }
    }
    Err((Failed::NoConvergence, log))
}

/// Judge `request` with `policy`: the verdict and the Nak and Reject lists.
pub fn judge(
    policy: &mut dyn OptionPolicy,
    request: &[u8],
    nak_exhausted: bool,
) -> Result<(RequestVerdict, Vec<u8>, Vec<u8>), NegotiationFailure> {
    let mut reply = Reply::default();
    let verdict = policy.check_request(request, &mut reply, nak_exhausted)?;
    Ok((verdict, reply.nak, reply.rej))
}

/// The options of `policy`'s next request.
pub fn request(policy: &mut dyn OptionPolicy) -> Vec<u8> {
    let mut out = Vec::new();
    policy.build_request(&mut out);
    out
}

/// Lowercase hex, for logs.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes from a hex string (spaces allowed); test vectors only.
pub fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not hex: {s}"),
        })
        .collect();
    assert!(digits.len().is_multiple_of(2), "odd hex length: {s}");
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

/// Small deterministic PRNG (xorshift64*) for hostile-input tests.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

/// Feed `policy` random and truncated option lists through every method: it must never
/// panic, and a list whose lengths are inconsistent must be an `Err` in `check_request`.
pub fn hostile(policy: &mut dyn OptionPolicy, seeds: &[Vec<u8>], iterations: usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..iterations {
        let mut list = seeds
            .get(i % seeds.len().max(1))
            .cloned()
            .unwrap_or_default();
        // Mutate: flip bytes, truncate, append garbage.
        for _ in 0..rng.below(4) {
            if !list.is_empty() {
                let at = rng.below(list.len());
                if let Some(b) = list.get_mut(at) {
                    *b = u8::try_from(rng.next_u64() & 0xff).unwrap_or(0);
                }
            }
        }
        if rng.below(3) == 0 {
            list.truncate(rng.below(list.len() + 1));
        }
        if rng.below(4) == 0 {
            for _ in 0..rng.below(8) {
                list.push(u8::try_from(rng.next_u64() & 0xff).unwrap_or(0));
            }
        }
        let malformed = !well_formed(&list);
        let mut reply = Reply::default();
        let judged = policy.check_request(&list, &mut reply, rng.below(2) == 0);
        if malformed {
            assert_eq!(
                judged,
                Err(NegotiationFailure::Malformed),
                "{}: malformed list {} not refused",
                policy.name(),
                hex(&list)
            );
        }
        let _ = policy.on_nak(&list);
        let _ = policy.on_reject(&list);
        let _ = policy.on_ack(&list);
        let _ = request(policy);
        if rng.below(8) == 0 {
            policy.reset();
        }
    }
}

/// RFC 1661 §5: every Length at least 2 and none running past the end.
pub fn well_formed(mut list: &[u8]) -> bool {
    while !list.is_empty() {
        match list.get(1) {
            Some(&len) if len >= 2 && usize::from(len) <= list.len() => {
                list = &list[usize::from(len)..];
            }
            _ => return false,
        }
    }
    true
}
