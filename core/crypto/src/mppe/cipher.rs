//! The MPPE packet cipher (RFC 3078 §3-§8): coherency count, key changes and resynchronisation.
//!
//! An MPPE packet (PPP protocol 0x00FD) is a 2-octet header followed by the encrypted
//! original PPP protocol field and payload:
//!
//! ```text
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |A|B|C|D|    Coherency Count    |   then RC4(protocol ‖ data)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! [`Encrypter`] and [`Decrypter`] work in place on the protocol-plus-data part and allocate
//! nothing. How keys move, as implemented here:
//!
//! - The coherency count is 12 bits, +1 per packet, wrapping at 4096; the first packet is 0.
//! - **Stateless** (H bit negotiated, RFC 3078 §7.1/§8.1): the sender changes the session key
//!   before every packet and sets A on every packet; the receiver changes its key once per
//!   count step (the key depends only on the count), so losses cost nothing.
//! - **Stateful** (RFC 3078 §7.2/§8.2): the RC4 state runs on across packets; the key changes
//!   before the "flag" packet, whose count ends in 0xFF (that packet carries A). On loss the
//!   receiver reports [`MppeError::NeedReset`] (send a CCP Reset-Request) and drops packets
//!   until one arrives with A set; the sender, on [`Encrypter::reset`] (a Reset-Request came
//!   in), re-initialises RC4 from its current session key and sets A on its next packet. On a
//!   flushed packet the receiver changes its key once for each flag packet it missed,
//!   re-initialises RC4 from its current session key, and decrypts.
//!
//! # Old, duplicated and reordered packets
//!
//! A count that is not ahead of the newest one seen (forward distance 0 or more than
//! [`MAX_FORWARD`] = 2048, half the count space) is an old packet, never a 4096 wrap: treating
//! it as a wrap would put the receiver ~4096 keys ahead of the sender for good. Such packets
//! are dropped without touching any state ([`MppeError::Stale`], [`MppeError::Replayed`]).
//! The one exception is stateless mode, where a packet's key depends only on its count: the
//! decrypter keeps the last [`REORDER_WINDOW`] session keys and a bitmap of the counts seen,
//! so a packet reordered by up to that many positions still decrypts, once. In stateful mode
//! an older packet cannot be decrypted (the RC4 stream has moved past it) and is dropped;
//! the stream stays in sync because nothing was consumed for it.
//!
//! # Stateless resynchronisation after a long loss
//!
//! If more than [`MAX_FORWARD`] packets in a row are lost (a flood through a full GRE
//! window does it), every later packet looks old by the rule above and the link would never
//! decrypt again. RFC 3078 §8.1 says the receiver of a stateless link can always compute the
//! key for a count; the only question is whether a far count is old or far ahead. The
//! decrypter takes it as far ahead, and jumps there, only on evidence an old or injected
//! packet cannot give:
//!
//! - [`RESYNC_EVIDENCE`] rejected packets in a row whose counts are consecutive (each exactly
//!   one after the previous rejected one, all beyond the reorder window), with no packet
//!   accepted in between; and
//! - with the keys for those counts, each of them decrypts to a plausible inner PPP protocol
//!   field: two octets `0x00`, odd (RFC 1661 §2; MPPE senders, Windows, pppd and this
//!   engine, send the inner protocol uncompressed, and only network-layer data is encrypted).
//!   A packet that is not really at that count decrypts to noise that passes with chance
//!   1/512, so the four pass together with chance 2^-36.
//!
//! Then the decrypter changes its key forward to the newest count (at most 4095 changes),
//! decrypts that packet and goes on; [`Decrypter::resyncs`] counts it. A single stale,
//! replayed or injected packet only starts a run and is dropped like before; a failed content
//! check drops the run. Each attempt costs at most 4095 key changes per [`RESYNC_EVIDENCE`]
//! packets, less per packet than an accepted [`MAX_FORWARD`] jump.
//!
//! # Cost of a forged count
//!
//! A stateless packet that jumps the count forward by `d` makes the receiver change its key
//! `d` times (one SHA-1 over two blocks and two RC4 key schedules each). `d` is at most
//! [`MAX_FORWARD`], so one packet costs at most 2048 key changes;
//! [`Decrypter::key_changes`] counts them so the engine can watch the cost. Stateful resync
//! changes the key at most 8 times per packet (one per 256 counts skipped).
//!
//! # Interoperability notes
//!
//! - Linux's ppp_mppe does not set A on the first stateful packet (contrary to RFC 3078
//!   §3.1); this encrypter does not either, and the decrypter accepts both.
//! - Linux's ppp_mppe, on a CCP Reset-Request, *changes* the key before its next (flushed)
//!   packet, and its receiver changes the key on every flushed packet, where RFC 3078 §8.2
//!   (and FreeBSD's ng_mppc) only re-initialise RC4 from the current key. Both ends follow
//!   the RFC by default ([`ResetStyle::Rfc3078`]); [`ResetStyle::ChangeKey`] speaks Linux's
//!   dialect for a stateful link to a Linux peer. Stateless mode, the default of Linux and
//!   Windows, is the same in both.

use core::fmt;

use super::keys::{KeyLength, change_key, initial_session_key};
use super::rc4::Rc4;

/// Size of the coherency count space (12 bits).
pub const COUNT_SPACE: u16 = 0x1000;
/// The largest forward count jump accepted; anything further is taken as an old packet.
pub const MAX_FORWARD: u16 = COUNT_SPACE / 2;
/// How many counts behind the newest a stateless packet may arrive and still be decrypted.
pub const REORDER_WINDOW: u16 = 32;
/// Stateless: how many rejected packets with consecutive counts make the decrypter believe
/// that more than [`MAX_FORWARD`] packets were lost, and resynchronise (see the module docs).
pub const RESYNC_EVIDENCE: usize = 4;

const COUNT_MASK: u16 = COUNT_SPACE - 1;

/// The 2-octet MPPE header (RFC 3078 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MppeHeader(u16);

impl MppeHeader {
    /// Bit A, "flushed": RC4 was re-initialised before this packet.
    pub const FLUSHED: u16 = 0x8000;
    /// Bit B (MPPC: history initialised). Not used by MPPE alone.
    pub const MPPC_B: u16 = 0x4000;
    /// Bit C (MPPC: compressed). Not used by MPPE alone.
    pub const COMPRESSED: u16 = 0x2000;
    /// Bit D, "encrypted".
    pub const ENCRYPTED: u16 = 0x1000;

    /// Wraps the header's 16 bits (as read with `u16::from_be_bytes`).
    pub const fn from_bits(bits: u16) -> Self {
        Self(bits)
    }

    /// Reads the header from its two wire octets.
    pub const fn from_bytes(bytes: [u8; 2]) -> Self {
        Self(u16::from_be_bytes(bytes))
    }

    /// The header's 16 bits.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// The two wire octets, most significant first.
    pub const fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// The 12-bit coherency count.
    pub const fn coherency_count(self) -> u16 {
        self.0 & COUNT_MASK
    }

    /// Bit A: the RC4 state was re-initialised before this packet.
    pub const fn flushed(self) -> bool {
        self.0 & Self::FLUSHED != 0
    }

    /// Bit D: the payload is encrypted.
    pub const fn encrypted(self) -> bool {
        self.0 & Self::ENCRYPTED != 0
    }

    /// Bits B or C: the payload is MPPC-compressed (not supported here).
    pub const fn compressed(self) -> bool {
        self.0 & (Self::MPPC_B | Self::COMPRESSED) != 0
    }
}

/// Why a received MPPE packet was not decrypted. The packet is dropped in every case; the
/// variant says what else the engine should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MppeError {
    /// Bit D is clear: the peer sent a packet in the clear on a link that requires
    /// encryption (RFC 3078 §3). Drop and count it.
    NotEncrypted,
    /// Bit B or C is set: MPPC compression, which was not negotiated. Drop and count it.
    Compressed,
    /// Stateless mode was negotiated but bit A is clear: the peer is running stateful mode
    /// (a mode mismatch). Drop, count, and consider renegotiating CCP.
    NotFlushed,
    /// Stateful mode: a gap in the coherency count (packet loss). Send a CCP Reset-Request
    /// (RFC 1962 §2.4 / RFC 3078 §8.2); packets are now dropped until one arrives with A set.
    NeedReset,
    /// Stateful mode: still waiting for a flushed packet after [`MppeError::NeedReset`].
    /// Drop; the CCP Reset-Request retransmission timer handles a lost Reset-Request.
    AwaitingFlush,
    /// The count is behind the newest one seen and cannot be decrypted (stateful mode, or
    /// beyond the stateless reorder window), or it is too far ahead to be believed. Drop.
    Stale,
    /// Stateless mode: this count was already decrypted (a duplicate). Drop.
    Replayed,
}

impl fmt::Display for MppeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotEncrypted => "MPPE packet without the encrypted bit",
            Self::Compressed => "MPPC-compressed packet, compression not negotiated",
            Self::NotFlushed => "stateless MPPE packet without the flushed bit (mode mismatch)",
            Self::NeedReset => "MPPE coherency count gap, CCP Reset-Request needed",
            Self::AwaitingFlush => "MPPE packet dropped while waiting for a flushed packet",
            Self::Stale => "MPPE packet with an old coherency count",
            Self::Replayed => "MPPE packet with a coherency count already seen",
        })
    }
}

impl std::error::Error for MppeError {}

/// What a flushed stateful packet means (see the module's interoperability notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetStyle {
    /// RFC 3078 §8.2: after a CCP Reset-Request the sender re-initialises RC4 from its current
    /// session key; the key changes only on flag packets.
    #[default]
    Rfc3078,
    /// Linux ppp_mppe: after a Reset-Request the sender changes the key as well, and a
    /// receiver changes the key on every flushed packet.
    ChangeKey,
}

/// A session key and the start key it was derived from.
struct KeyState {
    start: [u8; 16],
    session: [u8; 16],
    length: KeyLength,
}

impl KeyState {
    fn new(start_key: &[u8; 16], length: KeyLength) -> Self {
        let mut start = [0u8; 16];
        let n = length.octets();
        start[..n].copy_from_slice(&start_key[..n]);
        Self {
            start,
            session: initial_session_key(&start, length),
            length,
        }
    }

    fn session(&self) -> &[u8] {
        &self.session[..self.length.octets()]
    }

    fn change(&mut self) {
        change_key(&self.start, &mut self.session, self.length);
    }
}

impl Drop for KeyState {
    fn drop(&mut self) {
        self.start.fill(0);
        self.session.fill(0);
        core::hint::black_box(&mut self.start);
        core::hint::black_box(&mut self.session);
    }
}

/// Number of flag counts (low octet 0xFF) among the `distance` counts after `from`.
fn flag_counts_after(from: u16, distance: u16) -> u16 {
    // The first count after `from` whose low octet is 0xFF is this many steps ahead.
    let first = 0xff - (from & 0xff);
    let first = if first == 0 { 0x100 } else { first };
    if distance < first {
        0
    } else {
        1 + (distance - first) / 0x100
    }
}

/// Encrypts one direction of an MPPE link (RFC 3078).
pub struct Encrypter {
    keys: KeyState,
    rc4: Rc4,
    stateless: bool,
    count: u16,
    reset_pending: bool,
    reset_style: ResetStyle,
}

impl fmt::Debug for Encrypter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encrypter")
            .field("length", &self.keys.length)
            .field("stateless", &self.stateless)
            .field("count", &self.count)
            .field("reset_pending", &self.reset_pending)
            .field("reset_style", &self.reset_style)
            .finish_non_exhaustive()
    }
}

impl Encrypter {
    /// A sender keyed with this side's send start key (see [`MppeKeys`](super::MppeKeys)),
    /// the negotiated strength, and whether stateless mode (the H bit) was negotiated.
    pub fn new(start_key: &[u8; 16], length: KeyLength, stateless: bool) -> Self {
        let keys = KeyState::new(start_key, length);
        let rc4 = Rc4::new(keys.session());
        Self {
            keys,
            rc4,
            stateless,
            // The first packet gets count 0.
            count: COUNT_MASK,
            reset_pending: false,
            reset_style: ResetStyle::Rfc3078,
        }
    }

    /// Chooses what [`Encrypter::reset`] does in stateful mode (default
    /// [`ResetStyle::Rfc3078`]).
    pub fn set_reset_style(&mut self, style: ResetStyle) {
        self.reset_style = style;
    }

    /// Encrypts `buf` (the PPP protocol field of the original packet followed by its data) in
    /// place and returns the header to send in front of it.
    pub fn encrypt(&mut self, buf: &mut [u8]) -> MppeHeader {
        self.count = (self.count + 1) & COUNT_MASK;
        let mut bits = MppeHeader::ENCRYPTED | self.count;
        let linux_reset = self.reset_pending && self.reset_style == ResetStyle::ChangeKey;
        if self.stateless || self.count & 0xff == 0xff || linux_reset {
            // RFC 3078 §7.1 (every packet) / §7.2 (the flag packet): new key, fresh RC4.
            self.keys.change();
            self.rc4.rekey(self.keys.session());
            bits |= MppeHeader::FLUSHED;
        } else if self.reset_pending {
            // RFC 3078 §8.2: same key, fresh RC4.
            self.rc4.rekey(self.keys.session());
            bits |= MppeHeader::FLUSHED;
        }
        self.reset_pending = false;
        self.rc4.apply(buf);
        MppeHeader(bits)
    }

    /// A CCP Reset-Request arrived (RFC 3078 §8.2): the next packet re-initialises RC4 from
    /// the current session key (after changing it, in [`ResetStyle::ChangeKey`]) and carries A. Repeated calls before that packet have the
    /// effect of one. In stateless mode every packet is flushed anyway.
    pub fn reset(&mut self) {
        self.reset_pending = true;
    }

    /// The coherency count of the last packet sent (4095 before the first).
    pub fn coherency_count(&self) -> u16 {
        self.count
    }
}

/// Decrypts one direction of an MPPE link (RFC 3078).
pub struct Decrypter {
    keys: KeyState,
    rc4: Rc4,
    stateless: bool,
    /// Count of the newest packet accepted (4095 before the first).
    last: u16,
    /// Stateful: waiting for a flushed packet after a loss.
    discarding: bool,
    reset_style: ResetStyle,
    /// Stateless: session keys of the last `REORDER_WINDOW` counts, indexed by count.
    recent: [[u8; 16]; REORDER_WINDOW as usize],
    /// Stateless: how many of the counts just behind `last` have a key in `recent`.
    recent_valid: u16,
    /// Stateless: bit i set = count `last - i` was decrypted.
    seen: u32,
    /// Stateless: the current run of rejected packets with consecutive counts.
    run: FarRun,
    key_changes: u64,
    resyncs: u64,
}

/// Stateless: rejected "old" packets whose counts follow each other, as evidence of a loss
/// longer than [`MAX_FORWARD`] (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
struct FarRun {
    /// Count of the newest packet in the run.
    last: u16,
    /// Packets in the run (0: no run).
    len: usize,
    /// The first two encrypted octets (the inner protocol field) of each packet in the run,
    /// indexed by count modulo [`RESYNC_EVIDENCE`].
    heads: [[u8; 2]; RESYNC_EVIDENCE],
}

/// Whether a decrypted inner protocol field is plausible: uncompressed, high octet 0, odd.
fn plausible_protocol(field: [u8; 2]) -> bool {
    field[0] == 0 && field[1] & 1 == 1
}

impl fmt::Debug for Decrypter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypter")
            .field("length", &self.keys.length)
            .field("stateless", &self.stateless)
            .field("last", &self.last)
            .field("discarding", &self.discarding)
            .field("key_changes", &self.key_changes)
            .field("resyncs", &self.resyncs)
            .finish_non_exhaustive()
    }
}

impl Drop for Decrypter {
    fn drop(&mut self) {
        for k in self.recent.iter_mut() {
            k.fill(0);
        }
        core::hint::black_box(&mut self.recent);
    }
}

impl Decrypter {
    /// A receiver keyed with this side's receive start key (see
    /// [`MppeKeys`](super::MppeKeys)), the negotiated strength, and whether stateless mode
    /// (the H bit) was negotiated.
    pub fn new(start_key: &[u8; 16], length: KeyLength, stateless: bool) -> Self {
        let keys = KeyState::new(start_key, length);
        let rc4 = Rc4::new(keys.session());
        Self {
            keys,
            rc4,
            stateless,
            last: COUNT_MASK,
            discarding: false,
            reset_style: ResetStyle::Rfc3078,
            recent: [[0; 16]; REORDER_WINDOW as usize],
            recent_valid: 0,
            seen: 0,
            run: FarRun::default(),
            key_changes: 0,
            resyncs: 0,
        }
    }

    /// Decrypts `buf` (everything after the 2-octet header `header`, as read with
    /// `u16::from_be_bytes`) in place. On error `buf` is left as it was and the packet must
    /// be dropped; see [`MppeError`] for what else to do.
    pub fn decrypt(&mut self, header: u16, buf: &mut [u8]) -> Result<(), MppeError> {
        let header = MppeHeader(header);
        if !header.encrypted() {
            return Err(MppeError::NotEncrypted);
        }
        if header.compressed() {
            return Err(MppeError::Compressed);
        }
        if self.stateless {
            self.decrypt_stateless(header, buf)
        } else {
            self.decrypt_stateful(header, buf)
        }
    }

    /// Chooses what a flushed stateful packet means (default [`ResetStyle::Rfc3078`]); it must
    /// match the peer's encrypter.
    pub fn set_reset_style(&mut self, style: ResetStyle) {
        self.reset_style = style;
    }

    /// Total session-key changes performed so far (the CPU cost peers can cause).
    pub fn key_changes(&self) -> u64 {
        self.key_changes
    }

    /// Stateless mode: how many times the decrypter jumped forward after a loss of more than
    /// [`MAX_FORWARD`] packets (see the module docs).
    pub fn resyncs(&self) -> u64 {
        self.resyncs
    }

    /// Stateful mode: true between [`MppeError::NeedReset`] and the next flushed packet.
    pub fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// Count of the newest packet accepted (4095 before the first).
    pub fn coherency_count(&self) -> u16 {
        self.last
    }

    fn change_key(&mut self) {
        self.keys.change();
        self.key_changes += 1;
    }

    fn decrypt_stateful(&mut self, header: MppeHeader, buf: &mut [u8]) -> Result<(), MppeError> {
        let count = header.coherency_count();
        let distance = count.wrapping_sub(self.last) & COUNT_MASK;
        if distance == 0 || distance > MAX_FORWARD {
            // Old or duplicated: nothing of the RC4 stream was spent on it, so dropping it
            // keeps us in sync.
            return Err(MppeError::Stale);
        }
        if !header.flushed() {
            if self.discarding {
                return Err(MppeError::AwaitingFlush);
            }
            if distance != 1 {
                self.discarding = true;
                return Err(MppeError::NeedReset);
            }
        }
        // In sequence, or a flushed packet that resynchronises us (RFC 3078 §8.2): one key
        // change per flag packet passed, this one included. In Linux's dialect a flushed
        // packet always stands for one change of its own, flag packet or not.
        let changes = if header.flushed() && self.reset_style == ResetStyle::ChangeKey {
            flag_counts_after(self.last, distance - 1) + 1
        } else {
            flag_counts_after(self.last, distance)
        };
        for _ in 0..changes {
            self.change_key();
        }
        if changes > 0 || header.flushed() {
            self.rc4.rekey(self.keys.session());
        }
        self.last = count;
        self.discarding = false;
        self.rc4.apply(buf);
        Ok(())
    }

    fn decrypt_stateless(&mut self, header: MppeHeader, buf: &mut [u8]) -> Result<(), MppeError> {
        if !header.flushed() {
            return Err(MppeError::NotFlushed);
        }
        let count = header.coherency_count();
        let distance = count.wrapping_sub(self.last) & COUNT_MASK;
        if distance == 0 || distance > MAX_FORWARD {
            return match self.decrypt_reordered(count, buf) {
                Err(MppeError::Stale) if distance != 0 => self.far_packet(count, distance, buf),
                other => other,
            };
        }
        self.run.len = 0;
        // RFC 3078 §8.1: one key change per count step.
        for step in 1..=distance {
            self.change_key();
            let c = self.last.wrapping_add(step) & COUNT_MASK;
            if distance - step < REORDER_WINDOW {
                self.recent[usize::from(c % REORDER_WINDOW)] = self.keys.session;
            }
        }
        self.last = count;
        self.seen = if u32::from(distance) >= u32::BITS {
            0
        } else {
            self.seen << distance
        } | 1;
        self.recent_valid = (self.recent_valid + distance).min(REORDER_WINDOW);
        self.rc4.rekey(self.keys.session());
        self.rc4.apply(buf);
        Ok(())
    }

    /// A stateless packet too far from `last` either way: old, or after a loss of more than
    /// [`MAX_FORWARD`]. Collect it as evidence and resynchronise once the evidence is
    /// complete and checks out (see the module docs).
    fn far_packet(&mut self, count: u16, distance: u16, buf: &mut [u8]) -> Result<(), MppeError> {
        let Some(&[b0, b1]) = buf.first_chunk::<2>() else {
            self.run.len = 0;
            return Err(MppeError::Stale);
        };
        let follows = self.run.len > 0 && count == (self.run.last + 1) & COUNT_MASK;
        self.run.len = if follows { self.run.len + 1 } else { 1 };
        self.run.last = count;
        self.run.heads[usize::from(count) % RESYNC_EVIDENCE] = [b0, b1];
        if self.run.len < RESYNC_EVIDENCE {
            return Err(MppeError::Stale);
        }
        self.run.len = 0;

        // Walk a copy of the key chain forward to `count`, keeping the newest keys.
        let mut keys = KeyState {
            start: self.keys.start,
            session: self.keys.session,
            length: self.keys.length,
        };
        let mut recent = [[0u8; 16]; REORDER_WINDOW as usize];
        for step in 1..=distance {
            keys.change();
            let c = self.last.wrapping_add(step) & COUNT_MASK;
            if distance - step < REORDER_WINDOW {
                recent[usize::from(c % REORDER_WINDOW)] = keys.session;
            }
        }
        self.key_changes += u64::from(distance);
        let evidence_holds = (0..RESYNC_EVIDENCE as u16).all(|back| {
            let c = count.wrapping_sub(back) & COUNT_MASK;
            let mut field = self.run.heads[usize::from(c) % RESYNC_EVIDENCE];
            let key = &recent[usize::from(c % REORDER_WINDOW)];
            Rc4::new(&key[..keys.length.octets()]).apply(&mut field);
            plausible_protocol(field)
        });
        if !evidence_holds {
            for k in recent.iter_mut() {
                k.fill(0);
            }
            core::hint::black_box(&mut recent);
            return Err(MppeError::Stale);
        }
        self.keys.session = keys.session;
        self.recent = recent;
        self.recent_valid = REORDER_WINDOW;
        self.last = count;
        self.seen = 1;
        self.resyncs += 1;
        self.rc4.rekey(self.keys.session());
        self.rc4.apply(buf);
        Ok(())
    }

    fn decrypt_reordered(&mut self, count: u16, buf: &mut [u8]) -> Result<(), MppeError> {
        let behind = self.last.wrapping_sub(count) & COUNT_MASK;
        if behind >= self.recent_valid {
            return Err(MppeError::Stale);
        }
        let bit = 1u32 << behind;
        if self.seen & bit != 0 {
            return Err(MppeError::Replayed);
        }
        self.seen |= bit;
        let key = self.recent[usize::from(count % REORDER_WINDOW)];
        self.rc4.rekey(&key[..self.keys.length.octets()]);
        self.rc4.apply(buf);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
