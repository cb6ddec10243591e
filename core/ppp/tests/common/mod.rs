//! Test harness: two engines wired back to back in memory on a virtual clock.
//!
//! [`Link`] shuttles frames between engine `a` and engine `b`, optionally losing, duplicating
//! and reordering them from a seeded generator, and advances a virtual clock from deadline to
//! deadline (never sleeping). Every frame put on the wire is kept in [`Link::trace`], every
//! event in [`Link::events`], every datagram delivered in [`Link::datagrams`].
//!
//! Reused by the full negotiation matrix (every auth method × MPPE strength × statefulness).
#![allow(dead_code)]

pub mod engine_fuzz;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dialgate_ppp::auth::LocalUsers;
use dialgate_ppp::config::RandomSource;
use dialgate_ppp::rng::Rng;
use dialgate_ppp::{Config, Engine, Event, Protocol};

/// A deterministic "random" source for tests (an xorshift stream; never use in production).
pub fn random(seed: u64) -> RandomSource {
    let rng = Mutex::new(Rng::new(seed));
    Arc::new(move |buf: &mut [u8]| {
        let mut rng = rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for b in buf.iter_mut() {
            *b = rng.next_u32() as u8;
        }
    })
}

/// A local user store with these users and passwords.
pub fn users(list: &[(&str, &str)]) -> Arc<LocalUsers> {
    let mut users = LocalUsers::new();
    for (user, password) in list {
        users.add_password(user, password).expect("valid password");
    }
    Arc::new(users)
}

/// One end of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Engine `a`.
    A,
    /// Engine `b`.
    B,
}

impl Side {
    /// The other end.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// Impairments applied to every frame, in parts per million.
#[derive(Debug, Clone, Copy, Default)]
pub struct Impairments {
    /// Probability a frame is lost.
    pub loss_ppm: u32,
    /// Probability a frame is delivered twice.
    pub duplicate_ppm: u32,
    /// Probability a batch of frames is delivered in reverse order.
    pub reorder_ppm: u32,
}

/// Two engines and the wire between them.
#[derive(Debug)]
pub struct Link {
    /// Engine `a`.
    pub a: Engine,
    /// Engine `b`.
    pub b: Engine,
    /// When the link was created.
    pub start: Instant,
    /// The virtual clock.
    pub now: Instant,
    /// Impairments on both directions.
    pub impairments: Impairments,
    /// When set, that side is dead: it receives nothing and sends nothing.
    pub dead: Option<Side>,
    /// Every frame sent, by sender, in order.
    pub trace: Vec<(Side, Vec<u8>)>,
    /// Every event, by engine, in order.
    pub events: Vec<(Side, Event)>,
    /// Every datagram delivered, by receiving engine.
    pub datagrams: Vec<(Side, Protocol, Vec<u8>)>,
    rng: Rng,
}

impl Link {
    /// Two engines with these configurations; the clock starts at an arbitrary instant.
    pub fn new(a: Config, b: Config) -> Self {
        let start = Instant::now();
        Self {
            a: Engine::new(a, start),
            b: Engine::new(b, start),
            start,
            now: start,
            impairments: Impairments::default(),
            dead: None,
            trace: Vec::new(),
            events: Vec::new(),
            datagrams: Vec::new(),
            rng: Rng::new(0x5eed),
        }
    }

    /// Seed the impairment generator.
    pub fn with_impairments(mut self, impairments: Impairments, seed: u64) -> Self {
        self.impairments = impairments;
        self.rng = Rng::new(seed);
        self
    }

    /// Change the impairments from now on (e.g. once negotiation is over), reseeding them.
    pub fn set_impairments(&mut self, impairments: Impairments, seed: u64) {
        self.impairments = impairments;
        self.rng = Rng::new(seed);
    }

    /// Exchange frames, then advance the clock by `step`, firing every deadline on the way
    /// (and exchanging what each produces). Returns false if a deadline kept firing without
    /// moving (a timer bug); the clock is advanced anyway.
    pub fn tick(&mut self, step: Duration) -> bool {
        self.exchange();
        let target = self.now + step;
        // Bounded: a deadline that handle_timeout does not move would otherwise spin.
        let mut settled = false;
        for _ in 0..10_000 {
            let Some(deadline) = self.next_deadline().filter(|d| *d <= target) else {
                settled = true;
                break;
            };
            self.now = self.now.max(deadline);
            let now = self.now;
            self.a.handle_timeout(now);
            self.b.handle_timeout(now);
            self.collect_events();
            self.exchange();
        }
        self.now = target;
        settled
    }

    /// The engine at `side`.
    pub fn engine(&mut self, side: Side) -> &mut Engine {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Time elapsed on the virtual clock.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Open both engines and bring the lower layer up on both.
    pub fn open_both(&mut self) {
        let now = self.now;
        for side in [Side::A, Side::B] {
            let e = self.engine(side);
            e.open(now);
            e.lower_up(now);
        }
        self.collect_events();
    }

    /// Hand a raw frame to `side` as if it came from the wire; returns the datagram, if any.
    pub fn inject(&mut self, side: Side, frame: &[u8]) -> Option<(Protocol, Vec<u8>)> {
        let now = self.now;
        let mut buf = frame.to_vec();
        let got = self
            .engine(side)
            .handle_frame(now, &mut buf)
            .map(|d| (d.protocol, d.payload.to_vec()));
        if let Some((p, d)) = &got {
            self.datagrams.push((side, *p, d.clone()));
        }
        self.collect_events();
        got
    }

    fn chance(&mut self, ppm: u32) -> bool {
        ppm > 0 && (self.rng.next_u32() % 1_000_000) < ppm
    }

    /// Move every queued frame across the wire until both sides are quiet (or `max_rounds`).
    /// Returns the number of frames sent.
    pub fn exchange(&mut self) -> usize {
        let mut total = 0;
        for _ in 0..1000 {
            let mut moved = 0;
            for side in [Side::A, Side::B] {
                let mut batch = Vec::new();
                let mut buf = Vec::new();
                while self.engine(side).poll_transmit(&mut buf) {
                    self.trace.push((side, buf.clone()));
                    batch.push(buf.clone());
                }
                moved += batch.len();
                if self.dead == Some(side) || self.dead == Some(side.other()) {
                    continue;
                }
                if batch.len() > 1 && self.chance(self.impairments.reorder_ppm) {
                    batch.reverse();
                }
                for frame in batch {
                    if self.chance(self.impairments.loss_ppm) {
                        continue;
                    }
                    let copies = if self.chance(self.impairments.duplicate_ppm) {
                        2
                    } else {
                        1
                    };
                    for _ in 0..copies {
                        self.deliver(side.other(), &frame);
                    }
                }
            }
            self.collect_events();
            total += moved;
            if moved == 0 {
                break;
            }
        }
        total
    }

    fn deliver(&mut self, to: Side, frame: &[u8]) {
        let now = self.now;
        let mut buf = frame.to_vec();
        if let Some(d) = self.engine(to).handle_frame(now, &mut buf) {
            let (p, payload) = (d.protocol, d.payload.to_vec());
            self.datagrams.push((to, p, payload));
        }
    }

    /// Drain both engines' events into [`Link::events`].
    pub fn collect_events(&mut self) {
        for side in [Side::A, Side::B] {
            while let Some(e) = self.engine(side).poll_event() {
                self.events.push((side, e));
            }
        }
    }

    /// The earliest deadline of either engine.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Exchange frames, then jump the clock to the next deadline and fire it; repeat until
    /// `done` holds or the virtual time `limit` has elapsed. Returns whether `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Link) -> bool) -> bool {
        let end = self.start + limit;
        loop {
            self.exchange();
            if done(self) {
                return true;
            }
            let Some(deadline) = self.next_deadline() else {
                return false;
            };
            if deadline > end {
                self.now = end;
                return false;
            }
            self.now = self.now.max(deadline);
            let now = self.now;
            self.a.handle_timeout(now);
            self.b.handle_timeout(now);
            self.collect_events();
        }
    }

    /// Run for `duration` of virtual time from now.
    pub fn run_for(&mut self, duration: Duration) {
        let limit = self.elapsed() + duration;
        self.run_until(limit, |_| false);
    }

    /// The events of one side.
    pub fn events_of(&self, side: Side) -> Vec<Event> {
        self.events
            .iter()
            .filter(|(s, _)| *s == side)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Whether `side` reported an event matching `pred`.
    pub fn saw(&self, side: Side, pred: impl Fn(&Event) -> bool) -> bool {
        self.events.iter().any(|(s, e)| *s == side && pred(e))
    }

    /// The LinkDown reason of `side`, if it went down.
    pub fn down_reason(&self, side: Side) -> Option<dialgate_ppp::DownReason> {
        self.events.iter().find_map(|(s, e)| match e {
            Event::LinkDown { reason } if *s == side => Some(reason.clone()),
            _ => None,
        })
    }

    /// Frames `side` sent whose PPP protocol is `protocol` (any header compression).
    pub fn sent(&self, side: Side, protocol: Protocol) -> Vec<Vec<u8>> {
        self.trace
            .iter()
            .filter(|(s, f)| {
                *s == side && dialgate_wire::ppp::Frame::new_unchecked(f).protocol() == protocol
            })
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// One engine whose output is fed back to its own input (a looped-back line).
pub fn run_looped(engine: &mut Engine, start: Instant, limit: Duration) -> Vec<Event> {
    let mut now = start;
    let mut events = Vec::new();
    engine.open(now);
    engine.lower_up(now);
    loop {
        let mut moved = false;
        let mut buf = Vec::new();
        while engine.poll_transmit(&mut buf) {
            moved = true;
            let _ = engine.handle_frame(now, &mut buf);
        }
        while let Some(e) = engine.poll_event() {
            events.push(e);
        }
        if events.iter().any(|e| matches!(e, Event::LinkDown { .. })) {
            return events;
        }
        if moved {
            continue;
        }
        match engine.poll_timeout() {
            Some(d) if d <= start + limit => {
                now = now.max(d);
                engine.handle_timeout(now);
            }
            _ => return events,
        }
    }
}

/// A pool handing out 10.0.0.100, 10.0.0.101, ... and taking addresses back.
#[derive(Debug, Default)]
pub struct TestPool {
    state: Mutex<(u8, Vec<std::net::Ipv4Addr>)>,
}

impl dialgate_ppp::ncp::AddressPool for TestPool {
    fn allocate(
        &self,
        _user: &str,
        _hint: Option<std::net::Ipv4Addr>,
    ) -> Option<std::net::Ipv4Addr> {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(a) = s.1.pop() {
            return Some(a);
        }
        let n = s.0;
        s.0 = n.checked_add(1)?;
        Some(std::net::Ipv4Addr::new(10, 0, 0, 100u8.checked_add(n)?))
    }

    fn release(&self, addr: std::net::Ipv4Addr) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.1.push(addr);
    }
}

/// A RAS server: authenticates `alice`/`correct horse` (and `bob`/`hunter2`), grants an
/// address from a pool, hands out one DNS server, MPPE per the defaults.
pub fn server(seed: u64) -> Config {
    Config::default()
        .with_seed(seed)
        .with_random(random(seed))
        .with_authenticator(
            users(&[("alice", "correct horse"), ("bob", "hunter2")]),
            "dialgate",
        )
        .with_ipcp_server(
            dialgate_ppp::ncp::IpcpServerConfig {
                local: std::net::Ipv4Addr::new(10, 0, 0, 1),
                dns: [Some(std::net::Ipv4Addr::new(10, 0, 0, 53)), None],
                nbns: [None, None],
            },
            Arc::new(TestPool::default()),
        )
}

/// A dial-in client with these credentials, asking for an address and DNS.
pub fn client(seed: u64, user: &str, password: &str) -> Config {
    Config::default()
        .with_seed(seed)
        .with_random(random(seed))
        .with_credentials(
            dialgate_ppp::auth::Credentials::new(user, password).expect("valid password"),
        )
        .with_ipcp_client(dialgate_ppp::ncp::IpcpClientConfig {
            address: None,
            request_dns: true,
            request_nbns: false,
        })
}

impl Link {
    /// Whether both sides report the network protocol `protocol` up (and not down since).
    pub fn network_up(&self, side: Side, protocol: Protocol) -> bool {
        let mut up = false;
        for (s, e) in &self.events {
            if *s != side {
                continue;
            }
            match e {
                Event::NetworkUp { protocol: p, .. } if *p == protocol => up = true,
                Event::NetworkDown { protocol: p } if *p == protocol => up = false,
                _ => {}
            }
        }
        up
    }

    /// Send `payload` of `protocol` from `side` through its engine and deliver the frame to
    /// the other side (with the link's impairments off); returns what the other side got.
    pub fn send(&mut self, side: Side, protocol: Protocol, payload: &[u8]) -> Option<Vec<u8>> {
        let now = self.now;
        let mut out = vec![0u8; payload.len() + 16];
        let len = self
            .engine(side)
            .send_datagram(now, protocol, payload, &mut out)
            .ok()?;
        out.truncate(len);
        self.trace.push((side, out.clone()));
        self.inject(side.other(), &out)
            .filter(|(p, _)| *p == protocol)
            .map(|(_, d)| d)
    }
}
