//! The negotiation matrix: every authentication method (MS-CHAPv2 RFC 2759, MS-CHAPv1
//! RFC 2433, CHAP-MD5 RFC 1994, PAP RFC 1334) × every MPPE strength (40, 56, 128 bits,
//! RFC 3078 §2 / RFC 3079) × stateless/stateful, between two of our engines on the virtual
//! clock, each combination its own test.
//!
//! MS-CHAP combinations bring the link up, check the negotiated method, strength and mode on
//! both sides, then stream [`DATAGRAMS`] distinct datagrams each way through a channel that
//! loses, duplicates and reorders them (impairments only after negotiation, seeded; the
//! control frames, Reset-Requests included, are impaired too) and account for every one:
//!
//! - stateless (RFC 3078 §8.1): every datagram not lost is delivered exactly once and
//!   byte-identical, reordered ones included (the key depends only on the coherency count);
//!   duplicates are dropped as replays;
//! - stateful (RFC 3078 §8.2): a gap makes the receiver send a CCP Reset-Request and drop
//!   packets until one arrives flushed (A bit); the sender flushes the packet after each
//!   Reset-Request it receives. What is discarded is exactly what §8.2 prescribes (an
//!   independent model of the receiver rules, fed the headers as they arrive, must agree with
//!   the engine's counters), and every datagram delivered is correct and in order.
//!
//! PAP and CHAP-MD5 produce no MPPE keys, so MPPE cannot be negotiated at any strength: with
//! encryption required the link goes down with `EncryptionRequiredRefused`, and with
//! `allow_insecure_no_encryption` the same stream crosses in clear.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Impairments, Link, Side, client, random, server};
use dialgate_ppp::auth::{LocalUsers, Method};
use dialgate_ppp::ncp::{CcpNegotiated, MppeKeyLength, MppeParams};
use dialgate_ppp::rng::Rng;
use dialgate_ppp::{Config, DownReason, Event, NetworkParams, Protocol};
use dialgate_wire::ppp::Header;

const SECOND: Duration = Duration::from_secs(1);
/// Datagrams sent each way.
const DATAGRAMS: u32 = 2000;
/// Virtual time between two datagrams of one direction.
const STEP: Duration = Duration::from_millis(10);
/// MPPE header A bit (flushed), RFC 3078 §3.
const FLUSHED: u16 = 0x8000;

/// Impairments on the data stream and the control frames once the link is up.
const IMPAIRED: Impairments = Impairments {
    loss_ppm: 20_000,
    duplicate_ppm: 20_000,
    reorder_ppm: 20_000,
};

/// One cell of the matrix.
#[derive(Debug, Clone, Copy)]
struct Combo {
    method: Method,
    strength: MppeKeyLength,
    stateful: bool,
}

impl Combo {
    fn seed(self) -> u64 {
        let m = Method::STRONGEST_FIRST
            .iter()
            .position(|m| *m == self.method)
            .unwrap_or(0) as u64;
        let s = match self.strength {
            MppeKeyLength::Bits40 => 0,
            MppeKeyLength::Bits56 => 1,
            MppeKeyLength::Bits128 => 2,
        };
        1 + m * 100 + s * 10 + u64::from(self.stateful)
    }

    fn gives_keys(self) -> bool {
        matches!(self.method, Method::MsChapV2 | Method::MsChapV1)
    }

    /// Both ends allow exactly this method and this strength; in stateful cells the client
    /// asks for stateful MPPE and the server accepts it.
    fn configure(self, c: Config, client_side: bool) -> Config {
        Config {
            auth_methods: Some(vec![self.method]),
            allow_weak_mschap_v1: self.method == Method::MsChapV1,
            allow_weak_chap_md5: self.method == Method::ChapMd5,
            allow_weak_pap_cleartext: self.method == Method::Pap,
            mppe_key_lengths: Some(vec![self.strength]),
            allow_weak_mppe_40: self.strength == MppeKeyLength::Bits40,
            allow_weak_mppe_56: self.strength == MppeKeyLength::Bits56,
            allow_mppe_stateful: self.stateful && !client_side,
            prefer_weak_mppe_stateful: self.stateful && client_side,
            ..c
        }
    }

    fn link(self, insecure: bool) -> Link {
        let seed = self.seed();
        let mut a = self.configure(server(seed * 2), false);
        if self.method == Method::ChapMd5 {
            // CHAP-MD5 needs the clear-text secret on the authenticator.
            let mut users = LocalUsers::with_weak_cleartext_secrets();
            users
                .add_weak_cleartext_secret("alice", "correct horse")
                .expect("valid secret");
            a = a.with_authenticator(Arc::new(users), "dialgate");
        }
        let mut b = self.configure(client(seed * 2 + 1, "alice", "correct horse"), true);
        b.random = Some(random(seed * 2 + 1));
        a.allow_insecure_no_encryption = insecure;
        b.allow_insecure_no_encryption = insecure;
        Link::new(a, b)
    }
}

fn up(link: &mut Link) -> bool {
    link.open_both();
    link.run_until(60 * SECOND, |l| {
        l.network_up(Side::A, Protocol::IPCP) && l.network_up(Side::B, Protocol::IPCP)
    })
}

/// Datagram `index` of the direction sent by `from`: an IPv4-looking header, the direction
/// and index, then pseudo-random octets; lengths vary from 24 to 1023 octets.
fn payload(from: Side, index: u32) -> Vec<u8> {
    let dir = match from {
        Side::A => 0xa,
        Side::B => 0xb,
    };
    let len = 24 + (index as usize * 389) % 1000;
    let mut rng = Rng::new(u64::from(index) << 8 | dir);
    let mut v = vec![0x45, dir as u8];
    v.extend_from_slice(&index.to_be_bytes());
    v.extend((6..len).map(|_| rng.next_u32() as u8));
    v
}

/// The index a delivered datagram claims, if it looks like one of ours from `from`.
fn claimed_index(from: Side, datagram: &[u8]) -> Option<u32> {
    let index = u32::from_be_bytes(datagram.get(2..6)?.try_into().ok()?);
    (index < DATAGRAMS + 100 && payload(from, index) == datagram).then_some(index)
}

/// One direction's lossy, duplicating, reordering wire (seeded).
struct Channel {
    rng: Rng,
    /// A frame held back to be delivered after the next one (reordering).
    held: Vec<(Vec<u8>, bool)>,
    lost: u64,
    duplicated: u64,
    reordered: u64,
    impaired: bool,
}

impl Channel {
    fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            held: Vec::new(),
            lost: 0,
            duplicated: 0,
            reordered: 0,
            impaired: true,
        }
    }

    fn chance(&mut self, ppm: u32) -> bool {
        self.impaired && self.rng.next_u32() % 1_000_000 < ppm
    }

    /// Put `frame` on the wire; returns the frames arriving now, in order, each with whether
    /// it is a duplicate copy.
    fn push(&mut self, frame: Vec<u8>) -> Vec<(Vec<u8>, bool)> {
        if self.chance(IMPAIRED.loss_ppm) {
            self.lost += 1;
            return Vec::new();
        }
        let mut copies = vec![(frame.clone(), false)];
        if self.chance(IMPAIRED.duplicate_ppm) {
            self.duplicated += 1;
            copies.push((frame, true));
        }
        if !self.held.is_empty() {
            copies.append(&mut self.held);
            return copies;
        }
        if self.chance(IMPAIRED.reorder_ppm) {
            self.reordered += 1;
            self.held = copies;
            return Vec::new();
        }
        copies
    }

    fn flush(&mut self) -> Vec<(Vec<u8>, bool)> {
        std::mem::take(&mut self.held)
    }
}

/// RFC 3078 §8.2, the stateful receiver's rules, restated over the MPPE headers as they
/// arrive: the oracle the engine's counters are checked against.
#[derive(Debug, Default)]
struct StatefulModel {
    last: Option<u16>,
    discarding: bool,
    delivered: u64,
    resync_discards: u64,
    stale: u64,
    /// Of `resync_discards` and `stale`: original frames (not duplicate copies).
    resync_originals: u64,
    late_originals: u64,
    /// Gaps detected (each one calls for a Reset-Request).
    gaps: u64,
}

impl StatefulModel {
    fn arrive(&mut self, header: u16, duplicate: bool) {
        let count = header & 0x0fff;
        let last = self.last.unwrap_or(0x0fff);
        let distance = count.wrapping_sub(last) & 0x0fff;
        if distance == 0 || distance > 0x0800 {
            // Old or duplicated: its part of the RC4 stream is gone; dropped, no harm done.
            self.stale += 1;
            self.late_originals += u64::from(!duplicate);
            return;
        }
        if header & FLUSHED == 0 && (self.discarding || distance != 1) {
            // A gap (the packet after a loss, or overtaken by a later one): ask for a reset
            // and drop everything until a flushed packet.
            self.gaps += u64::from(!self.discarding);
            self.discarding = true;
            self.resync_discards += 1;
            self.resync_originals += u64::from(!duplicate);
            return;
        }
        self.last = Some(count);
        self.discarding = false;
        self.delivered += 1;
    }
}

/// What one direction of the stream saw.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    arrivals: u64,
    delivered: Vec<u32>,
    model: StatefulModel,
    /// The sender's Reset-Requests received as of its previous frame.
    resets_seen: u64,
    /// Frames sent right after a Reset-Request reached the sender, and how many of them were
    /// flushed.
    after_reset: u64,
    after_reset_flushed: u64,
    /// Stateless frames without the A bit (must be none, RFC 3078 §3).
    unflushed_stateless: u64,
    /// Encrypted frames in which a run of the plaintext shows.
    plaintext_on_wire: u64,
    /// Frames that were not MPPE.
    clear_frames: u64,
}

/// The 2-octet MPPE header of an MPPE frame, if `frame` is one.
fn mppe_header(frame: &[u8]) -> Option<u16> {
    let (header, rest) = Header::parse(frame).ok()?;
    if header.protocol != Protocol::COMPRESSED {
        return None;
    }
    Some(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?))
}

/// Send datagram `index` from `from`, carry it over `channel` and deliver what arrives.
fn send_one(link: &mut Link, channel: &mut Channel, tally: &mut Tally, from: Side, index: u32) {
    let data = payload(from, index);
    let resets = link.engine(from).counters().ccp_reset_requests_received;
    let stateless = link.engine(from).mppe().is_some_and(|p| p.stateless);
    let mut out = vec![0u8; data.len() + 16];
    let now = link.now;
    let len = link
        .engine(from)
        .send_datagram(now, Protocol::IPV4, &data, &mut out)
        .expect("network up");
    out.truncate(len);
    tally.sent += 1;
    match mppe_header(&out) {
        Some(header) => {
            let flushed = header & FLUSHED != 0;
            if stateless && !flushed {
                tally.unflushed_stateless += 1;
            }
            if resets > tally.resets_seen {
                tally.after_reset += 1;
                tally.after_reset_flushed += u64::from(flushed);
            }
            if out.windows(16).any(|w| w == &data[8..24]) {
                tally.plaintext_on_wire += 1;
            }
        }
        None => tally.clear_frames += 1,
    }
    tally.resets_seen = resets;
    for (frame, duplicate) in channel.push(out) {
        deliver(link, tally, from.other(), &frame, duplicate);
    }
}

fn deliver(link: &mut Link, tally: &mut Tally, to: Side, frame: &[u8], duplicate: bool) {
    tally.arrivals += 1;
    if let Some(header) = mppe_header(frame) {
        tally.model.arrive(header, duplicate);
    }
    let now = link.now;
    let mut buf = frame.to_vec();
    let got = link
        .engine(to)
        .handle_frame(now, &mut buf)
        .map(|d| (d.protocol, d.payload.to_vec()));
    if let Some((protocol, datagram)) = got {
        assert_eq!(protocol, Protocol::IPV4);
        let index = claimed_index(to.other(), &datagram)
            .unwrap_or_else(|| panic!("corrupted datagram delivered: {datagram:02x?}"));
        tally.delivered.push(index);
    }
    link.collect_events();
}

/// Stream [`DATAGRAMS`] datagrams each way over impaired channels, then a few more over clean
/// ones (with time for a lost Reset-Request to be repeated); returns both tallies and
/// channels, indexed by sender (A, B).
fn stream(link: &mut Link, seed: u64) -> ([Tally; 2], [Channel; 2]) {
    link.set_impairments(IMPAIRED, seed ^ 0xc0_417a01);
    let mut tallies = [Tally::default(), Tally::default()];
    let mut channels = [Channel::new(seed ^ 0xa), Channel::new(seed ^ 0xb)];
    let sides = [Side::A, Side::B];
    for index in 0..DATAGRAMS {
        for (i, from) in sides.into_iter().enumerate() {
            send_one(link, &mut channels[i], &mut tallies[i], from, index);
        }
        assert!(link.tick(STEP));
    }
    // Clean tail: a stateful receiver still waiting for a flushed packet recovers (its
    // Reset-Request is repeated after the restart period, RFC 1962 §2.1 / RFC 3078 §8.2).
    link.set_impairments(Impairments::default(), 0);
    for (i, from) in sides.into_iter().enumerate() {
        for (frame, duplicate) in channels[i].flush() {
            deliver(link, &mut tallies[i], from.other(), &frame, duplicate);
        }
        channels[i].impaired = false;
    }
    for index in DATAGRAMS..DATAGRAMS + 8 {
        for (i, from) in sides.into_iter().enumerate() {
            send_one(link, &mut channels[i], &mut tallies[i], from, index);
        }
        assert!(link.tick(4 * SECOND));
    }
    (tallies, channels)
}

/// The negotiated CCP parameters `side` reported.
fn ccp_params(link: &Link, side: Side) -> Option<CcpNegotiated> {
    link.events_of(side).into_iter().find_map(|e| match e {
        Event::NetworkUp {
            params: NetworkParams::Ccp(p),
            ..
        } => Some(p),
        _ => None,
    })
}

/// An MS-CHAP cell: negotiate, check, stream, account.
fn encrypted(combo: Combo) {
    let mut link = combo.link(false);
    assert!(up(&mut link), "{combo:?}: {:#?}", link.events);
    // The method, both directions of LCP.
    assert_eq!(link.a.lcp().policy().local().auth, Some(combo.method));
    assert_eq!(link.b.lcp().policy().remote().auth, Some(combo.method));
    for side in [Side::A, Side::B] {
        assert!(link.saw(side, |e| *e
            == Event::Authenticated {
                user: "alice".into()
            }));
    }
    // Strength and mode, both sides, both directions.
    let want = MppeParams {
        key_length: combo.strength,
        stateless: !combo.stateful,
    };
    for side in [Side::A, Side::B] {
        assert_eq!(link.engine(side).mppe(), Some(want), "{combo:?} {side:?}");
        let ccp = ccp_params(&link, side).expect("CCP up");
        assert_eq!((ccp.transmit, ccp.receive), (Some(want), Some(want)));
    }

    let (tallies, channels) = stream(&mut link, combo.seed());
    for (i, from) in [Side::A, Side::B].into_iter().enumerate() {
        let (t, ch) = (&tallies[i], &channels[i]);
        let rx = link.engine(from.other()).counters();
        let tx = link.engine(from).counters();
        let what = format!(
            "{combo:?} from {from:?}: {t:?} lost {} dup {} reord {} rx {rx:?}",
            ch.lost, ch.duplicated, ch.reordered
        );
        assert!(
            ch.lost > 10 && ch.duplicated > 10 && ch.reordered > 10,
            "{what}"
        );
        assert_eq!(t.clear_frames, 0, "{what}");
        assert_eq!(t.plaintext_on_wire, 0, "{what}");
        // Every arrival is delivered, discarded for resynchronisation, or stale.
        let delivered = t.delivered.len() as u64;
        assert_eq!(rx.rx_datagrams, delivered, "{what}");
        assert_eq!(t.arrivals, t.sent - ch.lost + ch.duplicated, "{what}");
        assert_eq!(
            rx.drop_decrypt,
            rx.mppe_resync_discards + rx.mppe_stale,
            "{what}"
        );
        assert_eq!(
            delivered,
            t.arrivals - rx.mppe_resync_discards - rx.mppe_stale,
            "{what}"
        );
        let mut seen = t.delivered.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), t.delivered.len(), "no datagram twice: {what}");
        if combo.stateful {
            // RFC 3078 §8.2: exactly the discards the rules prescribe, and in order.
            assert_eq!(t.model.delivered, delivered, "{what}");
            assert_eq!(t.model.resync_discards, rx.mppe_resync_discards, "{what}");
            assert_eq!(t.model.stale, rx.mppe_stale, "{what}");
            let m = &t.model;
            assert_eq!(
                rx.rx_datagrams,
                t.sent - ch.lost - m.resync_originals - m.late_originals,
                "delivered == sent - lost - discarded during resync - late: {what}"
            );
            assert!(t.delivered.windows(2).all(|w| w[0] < w[1]), "{what}");
            // A Reset-Request for every gap (more when one was lost and repeated), and the
            // sender flushed right after each one it received.
            assert!(t.model.gaps > 0, "{what}");
            assert!(rx.ccp_reset_requests_sent >= t.model.gaps, "{what}");
            assert!(tx.ccp_reset_requests_received > 0, "{what}");
            // The counters agree with the wire: Reset-Requests the receiver put on it, and a
            // Reset-Ack (RFC 1962 §2.1) for every one that reached the sender (duplicates
            // on the control path included).
            let ccp_codes = |side: Side, code: u8| {
                link.sent(side, Protocol::CCP)
                    .iter()
                    .filter(|f| Header::parse(f).is_ok_and(|(_, rest)| rest.first() == Some(&code)))
                    .count() as u64
            };
            assert_eq!(
                ccp_codes(from.other(), 14),
                rx.ccp_reset_requests_sent,
                "{what}"
            );
            assert_eq!(
                ccp_codes(from, 15),
                tx.ccp_reset_requests_received,
                "{what}"
            );
            assert!(t.after_reset > 0, "{what}");
            assert_eq!(t.after_reset_flushed, t.after_reset, "{what}");
            // Recovered: the clean tail's last datagrams made it.
            assert!(
                t.delivered.ends_with(&[DATAGRAMS + 6, DATAGRAMS + 7]),
                "{what}"
            );
        } else {
            // RFC 3078 §8.1: nothing to resynchronise; every datagram not lost arrives once,
            // reordered ones too; duplicates are replays.
            assert_eq!(t.unflushed_stateless, 0, "{what}");
            assert_eq!(rx.mppe_resync_discards, 0, "{what}");
            assert_eq!(rx.ccp_reset_requests_sent, 0, "{what}");
            assert_eq!(rx.mppe_stale, ch.duplicated, "{what}");
            assert_eq!(delivered, t.sent - ch.lost, "{what}");
        }
    }
    assert_eq!(link.down_reason(Side::A), None);
    assert_eq!(link.down_reason(Side::B), None);
}

/// A PAP or CHAP-MD5 cell: no keys, so no MPPE at any strength.
fn unencrypted(combo: Combo) {
    // Encryption required: refused on both sides, after authentication succeeded.
    let mut link = combo.link(false);
    link.open_both();
    assert!(
        link.run_until(60 * SECOND, |l| l.down_reason(Side::A).is_some()
            && l.down_reason(Side::B).is_some())
    );
    for side in [Side::A, Side::B] {
        assert_eq!(
            link.down_reason(side),
            Some(DownReason::EncryptionRequiredRefused),
            "{combo:?} {side:?}: {:#?}",
            link.events
        );
        assert!(link.saw(side, |e| *e
            == Event::Authenticated {
                user: "alice".into()
            }));
        assert!(!link.network_up(side, Protocol::IPCP));
        assert_eq!(link.engine(side).mppe(), None);
        assert_eq!(link.engine(side).counters().tx_datagrams, 0);
    }
    assert_eq!(link.a.lcp().policy().local().auth, Some(combo.method));

    // Encryption optional: the stream crosses in clear, duplicates and all (no MPPE means no
    // coherency count to drop them by).
    let mut link = combo.link(true);
    assert!(up(&mut link), "{combo:?}: {:#?}", link.events);
    assert_eq!(link.a.lcp().policy().local().auth, Some(combo.method));
    for side in [Side::A, Side::B] {
        assert_eq!(link.engine(side).mppe(), None);
        assert_eq!(ccp_params(&link, side), None);
    }
    assert!(link.sent(Side::A, Protocol::CCP).is_empty());
    let (tallies, channels) = stream(&mut link, combo.seed());
    for (i, from) in [Side::A, Side::B].into_iter().enumerate() {
        let (t, ch) = (&tallies[i], &channels[i]);
        let rx = link.engine(from.other()).counters();
        let what = format!("{combo:?} from {from:?}: {t:?} rx {rx:?}");
        assert_eq!(t.clear_frames, t.sent, "{what}");
        assert_eq!(t.arrivals, t.sent - ch.lost + ch.duplicated, "{what}");
        assert_eq!(t.delivered.len() as u64, t.arrivals, "{what}");
        assert_eq!(rx.rx_datagrams, t.arrivals, "{what}");
        assert_eq!(rx.dropped(), 0, "{what}");
    }
    assert_eq!(link.down_reason(Side::A), None);
}

fn run(method: Method, strength: MppeKeyLength, stateful: bool) {
    let combo = Combo {
        method,
        strength,
        stateful,
    };
    if combo.gives_keys() {
        encrypted(combo);
    } else {
        unencrypted(combo);
    }
}

macro_rules! matrix {
    ($($name:ident: $method:ident, $bits:ident, $stateful:literal;)*) => {
        $(
            #[test]
            fn $name() {
                run(Method::$method, MppeKeyLength::$bits, $stateful);
            }
        )*
    };
}

matrix! {
    rfc2759_mschapv2_mppe40_stateless: MsChapV2, Bits40, false;
    rfc2759_mschapv2_mppe40_stateful: MsChapV2, Bits40, true;
    rfc2759_mschapv2_mppe56_stateless: MsChapV2, Bits56, false;
    rfc2759_mschapv2_mppe56_stateful: MsChapV2, Bits56, true;
    rfc2759_mschapv2_mppe128_stateless: MsChapV2, Bits128, false;
    rfc2759_mschapv2_mppe128_stateful: MsChapV2, Bits128, true;
    rfc2433_mschapv1_mppe40_stateless: MsChapV1, Bits40, false;
    rfc2433_mschapv1_mppe40_stateful: MsChapV1, Bits40, true;
    rfc2433_mschapv1_mppe56_stateless: MsChapV1, Bits56, false;
    rfc2433_mschapv1_mppe56_stateful: MsChapV1, Bits56, true;
    rfc2433_mschapv1_mppe128_stateless: MsChapV1, Bits128, false;
    rfc2433_mschapv1_mppe128_stateful: MsChapV1, Bits128, true;
    rfc1994_chap_md5_mppe40_stateless: ChapMd5, Bits40, false;
    rfc1994_chap_md5_mppe40_stateful: ChapMd5, Bits40, true;
    rfc1994_chap_md5_mppe56_stateless: ChapMd5, Bits56, false;
    rfc1994_chap_md5_mppe56_stateful: ChapMd5, Bits56, true;
    rfc1994_chap_md5_mppe128_stateless: ChapMd5, Bits128, false;
    rfc1994_chap_md5_mppe128_stateful: ChapMd5, Bits128, true;
    rfc1334_pap_mppe40_stateless: Pap, Bits40, false;
    rfc1334_pap_mppe40_stateful: Pap, Bits40, true;
    rfc1334_pap_mppe56_stateless: Pap, Bits56, false;
    rfc1334_pap_mppe56_stateful: Pap, Bits56, true;
    rfc1334_pap_mppe128_stateless: Pap, Bits128, false;
    rfc1334_pap_mppe128_stateful: Pap, Bits128, true;
}
