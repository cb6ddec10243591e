//! HDLC-like framing for PPP on asynchronous links (RFC 1662).
//!
//! Frames are delimited by the Flag Sequence `0x7e` (§3.1). Inside a frame, the Control Escape
//! `0x7d` means "XOR the next octet with `0x20`" (§4.2); a sender escapes the flag, the escape
//! and every control character flagged in the peer's Async-Control-Character-Map (ACCM, §7.1).
//! A receiver drops control characters that arrive unescaped while their ACCM bit is set, since
//! intervening equipment (XON/XOFF flow control) may have inserted them.
//!
//! [`Decoder`] is a streaming, allocation-free deframer: feed it chunks of any size and it yields
//! each complete frame (address/control/protocol/information, unescaped, FCS checked and
//! stripped). [`Encoder`] does the reverse.

pub mod fcs;

use crate::{Error, Result};

/// The Flag Sequence that opens and closes every frame (RFC 1662 §3.1).
pub const FLAG: u8 = 0x7e;
/// The Control Escape octet (RFC 1662 §4.2).
pub const ESCAPE: u8 = 0x7d;
/// The value XORed into an escaped octet (RFC 1662 §4.2).
pub const ESCAPE_XOR: u8 = 0x20;
/// The ACCM both directions start with until LCP negotiates another (RFC 1662 §7.1).
pub const DEFAULT_ACCM: u32 = 0xffff_ffff;

/// Which Frame Check Sequence a link uses (RFC 1662 §3.1; FCS-32 via LCP option 9, RFC 1570).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Fcs {
    /// The 16-bit FCS, the default.
    #[default]
    Fcs16,
    /// The 32-bit FCS.
    Fcs32,
}

impl Fcs {
    /// Length of the FCS field in octets.
    pub const fn octets(self) -> usize {
        match self {
            Fcs::Fcs16 => 2,
            Fcs::Fcs32 => 4,
        }
    }

    /// Smallest valid frame between flags, FCS included: "less than 4 octets when using the
    /// 16-bit FCS" is too short (RFC 1662 §4.3); the same two content octets with FCS-32.
    const fn min_frame(self) -> usize {
        self.octets() + 2
    }

    /// Whether `frame` (content followed by its FCS) carries a correct FCS.
    fn check(self, frame: &[u8]) -> bool {
        match self {
            Fcs::Fcs16 => fcs::fcs16(fcs::FCS16_INIT, frame) == fcs::FCS16_GOOD,
            Fcs::Fcs32 => fcs::fcs32(fcs::FCS32_INIT, frame) == fcs::FCS32_GOOD,
        }
    }

    /// The FCS to transmit after `frame`, least significant octet first, and its length.
    fn compute(self, frame: &[u8]) -> ([u8; 4], usize) {
        match self {
            Fcs::Fcs16 => {
                let [a, b] = (fcs::fcs16(fcs::FCS16_INIT, frame) ^ 0xffff).to_le_bytes();
                ([a, b, 0, 0], 2)
            }
            Fcs::Fcs32 => (
                (fcs::fcs32(fcs::FCS32_INIT, frame) ^ 0xffff_ffff).to_le_bytes(),
                4,
            ),
        }
    }
}

/// Whether octet `b` is a control character flagged in `accm` (RFC 1662 §7.1: bit `n` of the
/// 32-bit map stands for character `n`).
#[inline]
fn in_accm(b: u8, accm: u32) -> bool {
    b < 0x20 && accm & (1 << b) != 0
}

/// Index of the first octet that is a flag, an escape, or a control character flagged in
/// `accm`: the octets framing must treat specially. Everything before it is plain data.
#[inline]
fn find_special(data: &[u8], accm: u32) -> Option<usize> {
    if accm == 0 {
        return memchr::memchr2(FLAG, ESCAPE, data);
    }
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let (blocks, rest) = data.as_chunks::<8>();
    for (n, block) in blocks.iter().enumerate() {
        let v = u64::from_le_bytes(*block);
        // Word-at-a-time tests; each is exact about *whether* some byte matches.
        let below_0x20 = v.wrapping_sub(LO * 0x20) & !v & HI;
        let x = v ^ (LO * u64::from(FLAG));
        let is_flag = x.wrapping_sub(LO) & !x & HI;
        let x = v ^ (LO * u64::from(ESCAPE));
        let is_escape = x.wrapping_sub(LO) & !x & HI;
        if below_0x20 | is_flag | is_escape != 0 {
            let hit = block
                .iter()
                .position(|&b| b == FLAG || b == ESCAPE || in_accm(b, accm));
            if let Some(i) = hit {
                return Some(n * 8 + i);
            }
        }
    }
    rest.iter()
        .position(|&b| b == FLAG || b == ESCAPE || in_accm(b, accm))
        .map(|i| blocks.len() * 8 + i)
}

/// Counters kept by a [`Decoder`]; every discarded frame is counted under one reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Frames delivered with a good FCS.
    pub frames: u64,
    /// Frames discarded because the FCS did not check (RFC 1662 §4.3).
    pub bad_fcs: u64,
    /// Frames aborted by a Control Escape immediately followed by a flag (RFC 1662 §4.3).
    pub aborts: u64,
    /// Frames too short to hold two content octets and an FCS (RFC 1662 §4.3).
    pub runts: u64,
    /// Frames longer than the configured maximum; dropped up to the next flag.
    pub overlong: u64,
    /// Unescaped control characters dropped because the receive ACCM flags them (§7.1).
    pub accm_dropped: u64,
    /// Octets discarded while hunting for the first flag after start-up or reset.
    pub hunt_discarded: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Discarding until the first flag (start-up or reset); these octets are counted.
    Hunt,
    /// Discarding the rest of an over-long frame until the next flag.
    Discard,
    /// Inside a frame.
    Data,
    /// Inside a frame, right after a Control Escape.
    Escaped,
}

/// Streaming HDLC deframer (RFC 1662 §4).
///
/// The decoder owns a single buffer of `max_frame` plus FCS octets and never allocates after
/// construction. It starts out hunting for a flag; octets before the first flag are discarded.
///
/// ```
/// use dialgate_wire::hdlc::{Decoder, Encoder};
/// let mut wire = Vec::new();
/// Encoder::new().encode(&[0xff, 0x03, 0xc0, 0x21, 0x09], &mut wire);
/// let mut dec = Decoder::new(1504);
/// let mut input = &wire[..];
/// let frame = dec.decode(&mut input).unwrap();
/// assert_eq!(frame, &[0xff, 0x03, 0xc0, 0x21, 0x09]);
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: Box<[u8]>,
    len: usize,
    max_frame: usize,
    state: State,
    fcs: Fcs,
    accm: u32,
    stats: DecoderStats,
}

impl Decoder {
    /// A decoder for frames of at most `max_frame` octets (address through information, FCS
    /// excluded), with FCS-16 and the default receive ACCM of `0xffffffff` (RFC 1662 §7.1).
    pub fn new(max_frame: usize) -> Self {
        Decoder {
            buf: vec![0; max_frame.saturating_add(4)].into_boxed_slice(),
            len: 0,
            max_frame,
            state: State::Hunt,
            fcs: Fcs::Fcs16,
            accm: DEFAULT_ACCM,
            stats: DecoderStats::default(),
        }
    }

    /// Builder form of [`set_fcs`](Self::set_fcs).
    pub fn with_fcs(mut self, fcs: Fcs) -> Self {
        self.fcs = fcs;
        self
    }

    /// Builder form of [`set_accm`](Self::set_accm).
    pub fn with_accm(mut self, accm: u32) -> Self {
        self.accm = accm;
        self
    }

    /// Switch the FCS checked on frames completed from now on (after LCP negotiates it).
    pub fn set_fcs(&mut self, fcs: Fcs) {
        self.fcs = fcs;
    }

    /// Set the receive ACCM: unescaped control characters whose bit is set are dropped.
    pub fn set_accm(&mut self, accm: u32) {
        self.accm = accm;
    }

    /// The FCS in use.
    pub fn fcs(&self) -> Fcs {
        self.fcs
    }

    /// The receive ACCM in use.
    pub fn accm(&self) -> u32 {
        self.accm
    }

    /// The largest frame delivered, in octets, FCS excluded.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Counters since construction.
    pub fn stats(&self) -> &DecoderStats {
        &self.stats
    }

    /// Forget any partial frame and hunt for the next flag.
    pub fn reset(&mut self) {
        self.len = 0;
        self.state = State::Hunt;
    }

    /// Capacity of a frame between flags: content plus FCS.
    fn capacity(&self) -> usize {
        self.max_frame.saturating_add(self.fcs.octets())
    }

    /// Append plain octets to the frame, or start discarding if it grows too long.
    #[inline]
    fn push_run(&mut self, run: &[u8]) {
        let end = self.len + run.len();
        let cap = self.capacity();
        match self.buf.get_mut(self.len..end) {
            Some(dst) if end <= cap => {
                dst.copy_from_slice(run);
                self.len = end;
            }
            _ => self.overlong(),
        }
    }

    #[inline]
    fn push(&mut self, b: u8) {
        let cap = self.capacity();
        if self.len < cap
            && let Some(slot) = self.buf.get_mut(self.len)
        {
            *slot = b;
            self.len += 1;
        } else {
            self.overlong();
        }
    }

    fn overlong(&mut self) {
        self.stats.overlong += 1;
        self.len = 0;
        self.state = State::Discard;
    }

    /// A flag closed the current frame: deliver its length without FCS, or count the discard.
    fn close(&mut self) -> Option<usize> {
        let len = core::mem::take(&mut self.len);
        let aborted = self.state == State::Escaped;
        self.state = State::Data;
        if aborted {
            self.stats.aborts += 1;
            return None;
        }
        if len == 0 {
            // Back-to-back flags: inter-frame fill (RFC 1662 §4.1), not a frame.
            return None;
        }
        if len < self.fcs.min_frame() {
            self.stats.runts += 1;
            return None;
        }
        let frame = self.buf.get(..len)?;
        if !self.fcs.check(frame) {
            self.stats.bad_fcs += 1;
            return None;
        }
        self.stats.frames += 1;
        Some(len - self.fcs.octets())
    }

    /// Consume octets from the front of `input` until a frame completes, and return it.
    ///
    /// On `Some(frame)`, `input` has been advanced past the closing flag and may hold more
    /// frames: call again. On `None`, all of `input` has been consumed and the decoder holds
    /// any partial frame until the next call. The returned frame is address, control, protocol
    /// and information, unescaped, with the FCS checked and removed. It is mutable so that the
    /// engine can decrypt it in place (`dialgate_ppp::Engine::handle_frame`) without a copy.
    pub fn decode<'d>(&'d mut self, input: &mut &[u8]) -> Option<&'d mut [u8]> {
        let mut data: &[u8] = input;
        let result = loop {
            match self.state {
                State::Hunt | State::Discard => {
                    let skipped = memchr::memchr(FLAG, data);
                    if self.state == State::Hunt {
                        let n = skipped.unwrap_or(data.len());
                        self.stats.hunt_discarded += n as u64;
                    }
                    let Some(i) = skipped else {
                        data = &[];
                        break None;
                    };
                    self.state = State::Data;
                    self.len = 0;
                    data = data.get(i + 1..).unwrap_or_default();
                }
                State::Data => {
                    let Some(i) = find_special(data, self.accm) else {
                        self.push_run(data);
                        data = &[];
                        break None;
                    };
                    let (run, tail) = data.split_at(i);
                    let Some((&b, tail)) = tail.split_first() else {
                        break None;
                    };
                    self.push_run(run);
                    data = tail;
                    if self.state == State::Discard {
                        // The run made the frame over-long; `b` may be the flag that ends it.
                        if b == FLAG {
                            self.state = State::Data;
                        }
                        continue;
                    }
                    match b {
                        FLAG => {
                            if let Some(n) = self.close() {
                                break Some(n);
                            }
                        }
                        ESCAPE => self.state = State::Escaped,
                        _ => self.stats.accm_dropped += 1,
                    }
                }
                State::Escaped => {
                    let Some((&b, tail)) = data.split_first() else {
                        break None;
                    };
                    data = tail;
                    if b == FLAG {
                        // Escape + flag aborts the frame (RFC 1662 §4.3).
                        self.close();
                    } else if in_accm(b, self.accm) {
                        self.stats.accm_dropped += 1;
                    } else {
                        self.state = State::Data;
                        self.push(b ^ ESCAPE_XOR);
                    }
                }
            }
        };
        *input = data;
        let n = result?;
        self.buf.get_mut(..n)
    }

    /// Feed one chunk and call `on_frame` for every frame it completes.
    pub fn feed(&mut self, mut input: &[u8], mut on_frame: impl FnMut(&[u8])) {
        while !input.is_empty() {
            match self.decode(&mut input) {
                Some(frame) => on_frame(frame),
                None => break,
            }
        }
    }
}

/// HDLC framer (RFC 1662 §4): escapes, appends the FCS and delimits frames with flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoder {
    fcs: Fcs,
    accm: u32,
    opening_flag: bool,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// FCS-16, the default send ACCM `0xffffffff`, and an opening flag before every frame.
    pub const fn new() -> Self {
        Encoder {
            fcs: Fcs::Fcs16,
            accm: DEFAULT_ACCM,
            opening_flag: true,
        }
    }

    /// Use this FCS.
    pub const fn with_fcs(mut self, fcs: Fcs) -> Self {
        self.fcs = fcs;
        self
    }

    /// Escape the control characters flagged in this send ACCM (the peer's negotiated map).
    /// `0x7d` and `0x7e` are always escaped.
    pub const fn with_accm(mut self, accm: u32) -> Self {
        self.accm = accm;
        self
    }

    /// Whether to write a flag before each frame. Back-to-back frames may share one flag
    /// (RFC 1662 §4.1); a sender that has been idle should open with one.
    pub const fn with_opening_flag(mut self, yes: bool) -> Self {
        self.opening_flag = yes;
        self
    }

    /// The FCS in use.
    pub const fn fcs(&self) -> Fcs {
        self.fcs
    }

    /// The send ACCM in use.
    pub const fn accm(&self) -> u32 {
        self.accm
    }

    /// Upper bound on the encoded size of a frame of `len` octets: every octet escaped.
    pub const fn max_encoded_len(&self, len: usize) -> usize {
        2 * (len + self.fcs.octets()) + 2
    }

    /// Append the encoded frame to `out`: optional opening flag, escaped `frame` and FCS,
    /// closing flag.
    pub fn encode(&self, frame: &[u8], out: &mut Vec<u8>) {
        out.reserve(self.max_encoded_len(frame.len()));
        let (fcs, n) = self.fcs.compute(frame);
        if self.opening_flag {
            out.push(FLAG);
        }
        for part in [frame, fcs.get(..n).unwrap_or_default()] {
            let mut data = part;
            while let Some(i) = find_special(data, self.accm) {
                let (run, tail) = data.split_at(i);
                out.extend_from_slice(run);
                let Some((&b, tail)) = tail.split_first() else {
                    break;
                };
                out.extend_from_slice(&[ESCAPE, b ^ ESCAPE_XOR]);
                data = tail;
            }
            out.extend_from_slice(data);
        }
        out.push(FLAG);
    }

    /// Write the encoded frame to the start of `out`; returns the number of octets written, or
    /// [`Error::BufferTooSmall`] (with `out` partly written).
    pub fn encode_to_slice(&self, frame: &[u8], out: &mut [u8]) -> Result<usize> {
        let (fcs, n) = self.fcs.compute(frame);
        let mut w = SliceWriter { out, pos: 0 };
        if self.opening_flag {
            w.put(&[FLAG])?;
        }
        for part in [frame, fcs.get(..n).unwrap_or_default()] {
            let mut data = part;
            while let Some(i) = find_special(data, self.accm) {
                let (run, tail) = data.split_at(i);
                w.put(run)?;
                let Some((&b, tail)) = tail.split_first() else {
                    break;
                };
                w.put(&[ESCAPE, b ^ ESCAPE_XOR])?;
                data = tail;
            }
            w.put(data)?;
        }
        w.put(&[FLAG])?;
        Ok(w.pos)
    }
}

struct SliceWriter<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl SliceWriter<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.pos + bytes.len();
        let dst = self
            .out
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
