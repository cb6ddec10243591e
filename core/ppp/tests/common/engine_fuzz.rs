//! The engine fuzz scenario, shared by the cargo-fuzz target `tests/fuzz/fuzz_targets/engine.rs`
//! (which includes this file and [`super`]'s harness with `#[path]`) and by
//! `core/ppp/tests/engine_fuzz.rs` (which writes the seed corpus and replays it, with random
//! inputs, under `cargo test`).
//!
//! Two engines (the harness's `server(1)` and `client(2, "alice", "correct horse")`:
//! MS-CHAPv2, MPPE-128, IPCP) are brought to a start point on the virtual clock, then the
//! input drives one of them, the *target*, checking after every step that nothing panicked
//! and that the counters and events stay consistent.
//!
//! Input format:
//!
//! ```text
//! mode: u8     bit 0: target (0 = A the server, 1 = B the client)
//!              bits 1-2: start point: 0 Network phase (stateless MPPE), 1 Establish (both
//!              opened, nothing delivered yet), 2 Authenticate (the target's LCP just
//!              opened), 3 Network phase with stateful MPPE
//! records:     tag: u8, by tag % 4:
//!              0  a frame for the target, 1-octet length, then the frame
//!              1  a frame for the target, 2-octet length (big-endian), then the frame
//!              2  advance the clock by (tag >> 2) * 250 ms, firing deadlines
//!              3  the target sends an IPv4 datagram of (tag >> 2) octets
//! ```
//!
//! In the Network start points the peer stays connected (the target's output reaches it and
//! its answers come back); in Establish and Authenticate it is cut off after the start
//! point, so only the input speaks to the target.

use std::time::Duration;

use super::{Link, Side, client, server};
use dialgate_ppp::{Event, Phase, Protocol};

/// Where the scenario starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Both engines in the Network phase, IPCP and stateless MPPE-128 up.
    Network,
    /// Both opened; only the target's first Configure-Request was sent (and lost).
    Establish,
    /// Negotiated frame by frame until the target's LCP opened (authentication running).
    Authenticate,
    /// As [`Start::Network`] with stateful MPPE (the client prefers it, the server allows it).
    NetworkStateful,
}

impl Start {
    fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => Self::Network,
            1 => Self::Establish,
            2 => Self::Authenticate,
            _ => Self::NetworkStateful,
        }
    }

    /// The mode octet for this start point and target.
    pub fn mode(self, target: Side) -> u8 {
        let start = match self {
            Self::Network => 0,
            Self::Establish => 1,
            Self::Authenticate => 2,
            Self::NetworkStateful => 3,
        };
        start << 1 | u8::from(target == Side::B)
    }
}

/// A record of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A frame for the target.
    Frame(Vec<u8>),
    /// Advance the clock by this many 250 ms units (0-63).
    Tick(u8),
    /// The target sends a datagram of this many octets (0-63).
    Send(u8),
}

impl Record {
    /// Append this record's encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Frame(frame) => match u8::try_from(frame.len()) {
                Ok(len) => {
                    out.extend_from_slice(&[0, len]);
                    out.extend_from_slice(frame);
                }
                Err(_) => {
                    let len = u16::try_from(frame.len()).unwrap_or(u16::MAX);
                    out.push(1);
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(&frame[..usize::from(len)]);
                }
            },
            Self::Tick(units) => out.push((units & 0x3f) << 2 | 2),
            Self::Send(len) => out.push((len & 0x3f) << 2 | 3),
        }
    }
}

/// Encode a whole input.
pub fn encode(start: Start, target: Side, records: &[Record]) -> Vec<u8> {
    let mut out = vec![start.mode(target)];
    for r in records {
        r.encode(&mut out);
    }
    out
}

/// Split the next record off `data`; `None` at the end (a truncated frame is cut short).
fn next_record(data: &mut &[u8]) -> Option<Record> {
    let (&tag, rest) = data.split_first()?;
    *data = rest;
    let frame = |data: &mut &[u8], len: usize| {
        let len = len.min(data.len());
        let (frame, rest) = data.split_at(len);
        *data = rest;
        Record::Frame(frame.to_vec())
    };
    Some(match tag % 4 {
        0 => {
            let (&len, rest) = data.split_first()?;
            *data = rest;
            frame(data, usize::from(len))
        }
        1 => {
            let len = data.get(..2)?;
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            *data = &data[2..];
            frame(data, len)
        }
        2 => Record::Tick(tag >> 2),
        _ => Record::Send(tag >> 2),
    })
}

/// What a run reached (for the seed corpus's own checks).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Phases the target went through after the start point.
    pub phases: Vec<Phase>,
    /// Datagrams the target delivered from the input.
    pub delivered: usize,
    /// The target reported LinkDown.
    pub down: bool,
}

/// Per-side event bookkeeping.
#[derive(Debug, Clone, Copy)]
struct Seen {
    phase: Phase,
    link_downs: usize,
    up_after_down: bool,
}

/// The running scenario.
pub struct Scenario {
    /// The two engines and the wire.
    pub link: Link,
    target: Side,
    /// Frames handed to the target other than by the link (the input's).
    fed: u64,
    /// The target's `rx_frames` at the start point.
    base_rx: u64,
    /// The peer's frames delivered to the target since, and the trace length when counted.
    from_peer: u64,
    trace_start: usize,
    events_checked: usize,
    seen: [Seen; 2],
    outcome: Outcome,
}

fn index(side: Side) -> usize {
    match side {
        Side::A => 0,
        Side::B => 1,
    }
}

impl Scenario {
    /// Bring the engines to the start point `mode` describes.
    pub fn new(mode: u8) -> Self {
        let target = if mode & 1 == 0 { Side::A } else { Side::B };
        let start = Start::from_bits(mode >> 1);
        let mut a = server(1);
        let mut b = client(2, "alice", "correct horse");
        if start == Start::NetworkStateful {
            a.allow_mppe_stateful = true;
            b.prefer_weak_mppe_stateful = true;
        }
        let mut link = Link::new(a, b);
        link.open_both();
        match start {
            Start::Network | Start::NetworkStateful => {
                let up = link.run_until(Duration::from_secs(60), |l| {
                    l.network_up(Side::A, Protocol::IPCP) && l.network_up(Side::B, Protocol::IPCP)
                });
                assert!(up, "deterministic negotiation failed: {:?}", link.events);
            }
            Start::Establish => {
                link.dead = Some(target.other());
                link.exchange();
            }
            Start::Authenticate => {
                while link.engine(target).phase() != Phase::Authenticate {
                    assert!(step(&mut link), "stalled before Authenticate");
                }
                link.dead = Some(target.other());
            }
        }
        link.collect_events();
        let mut s = Self {
            base_rx: link.engine(target).counters().rx_frames,
            from_peer: 0,
            trace_start: link.trace.len(),
            link,
            target,
            fed: 0,
            events_checked: 0,
            seen: [Seen {
                phase: Phase::Dead,
                link_downs: 0,
                up_after_down: false,
            }; 2],
            outcome: Outcome::default(),
        };
        s.check();
        s.outcome.phases.clear();
        s
    }

    /// Apply one record, then check every invariant.
    pub fn apply(&mut self, record: &Record) {
        let target = self.target;
        match record {
            Record::Frame(frame) => {
                self.fed += 1;
                if self.link.inject(target, frame).is_some() {
                    self.outcome.delivered += 1;
                }
                self.link.exchange();
            }
            Record::Tick(units) => {
                let step = Duration::from_millis(250) * u32::from(*units);
                assert!(self.link.tick(step), "a deadline did not move when fired");
            }
            Record::Send(len) => {
                let payload = vec![0x45; usize::from(*len)];
                let mut out = vec![0u8; payload.len() + 16];
                let now = self.link.now;
                if let Ok(n) =
                    self.link
                        .engine(target)
                        .send_datagram(now, Protocol::IPV4, &payload, &mut out)
                {
                    out.truncate(n);
                    self.link.trace.push((target, out.clone()));
                    if self.link.dead.is_none() {
                        self.link.inject(target.other(), &out);
                    }
                }
                self.link.exchange();
            }
        }
        self.check();
    }

    /// Let the timers run out (two minutes of virtual time), checking as it goes.
    pub fn finish(mut self) -> Outcome {
        for _ in 0..8 {
            self.apply(&Record::Tick(60));
        }
        self.outcome
    }

    /// The invariants.
    fn check(&mut self) {
        self.link.collect_events();
        // Every frame the target was handed is counted once, and accounted for once.
        if self.link.dead.is_none() {
            let peer = self.target.other();
            let new = &self.link.trace[self.trace_start..];
            self.from_peer += new.iter().filter(|(s, _)| *s == peer).count() as u64;
        }
        self.trace_start = self.link.trace.len();
        let c = self.link.engine(self.target).counters();
        assert_eq!(
            c.rx_frames,
            self.base_rx + self.fed + self.from_peer,
            "{c:?}"
        );
        for side in [Side::A, Side::B] {
            let c = self.link.engine(side).counters();
            assert_eq!(
                c.rx_frames,
                c.rx_datagrams + c.rx_control + c.dropped(),
                "{side:?}: {c:?}"
            );
            assert!(
                c.mppe_resync_discards + c.mppe_stale <= c.drop_decrypt,
                "{c:?}"
            );
            assert!(c.tx_datagrams <= c.tx_frames, "{c:?}");
        }
        // Phases chain (each change starts where the previous ended); LinkDown once; no
        // LinkUp after it (the driver may already have released the line).
        for (side, event) in &self.link.events[self.events_checked..] {
            let seen = &mut self.seen[index(*side)];
            match event {
                Event::PhaseChanged { from, to } => {
                    assert_eq!(*from, seen.phase, "{side:?}: {event:?}");
                    seen.phase = *to;
                    if *side == self.target {
                        self.outcome.phases.push(*to);
                    }
                }
                Event::LinkDown { .. } => {
                    seen.link_downs += 1;
                    if *side == self.target {
                        self.outcome.down = true;
                    }
                }
                Event::LinkUp if seen.link_downs > 0 => seen.up_after_down = true,
                _ => {}
            }
            assert!(seen.link_downs <= 1, "{side:?}: LinkDown twice");
            assert!(!seen.up_after_down, "{side:?}: LinkUp after LinkDown");
        }
        self.events_checked = self.link.events.len();
        for side in [Side::A, Side::B] {
            assert_eq!(self.seen[index(side)].phase, self.link.engine(side).phase());
        }
    }
}

/// Move one queued frame (A's first, then B's) across the wire; false when both are quiet.
fn step(link: &mut Link) -> bool {
    for side in [Side::A, Side::B] {
        let mut buf = Vec::new();
        if link.engine(side).poll_transmit(&mut buf) {
            link.trace.push((side, buf.clone()));
            link.inject(side.other(), &buf);
            return true;
        }
    }
    false
}

/// Run one fuzz input: set up, apply every record, let the timers run out.
pub fn run(data: &[u8]) -> Outcome {
    let Some((&mode, mut rest)) = data.split_first() else {
        return Outcome::default();
    };
    let mut scenario = Scenario::new(mode);
    while let Some(record) = next_record(&mut rest) {
        scenario.apply(&record);
    }
    scenario.finish()
}
