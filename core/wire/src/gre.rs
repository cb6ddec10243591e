//! PPTP's enhanced GRE (RFC 2637 §4.1): version 1 of GRE, carrying the PPP frames of one
//! call with sequence and acknowledgment numbers for the sliding window of §4.2.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Key (HW) Payload Length    |       Key (LW) Call ID        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  Sequence Number (Optional)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Acknowledgment Number (Optional)                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! C, R, s, Recur and Flags are zero, K is one, Ver is 1 and the Protocol Type is 0x880B
//! (PPP). The Key carries the payload length and the Call ID *of the receiver's end* of the
//! call. A packet is one of:
//! - a data packet: S set, a sequence number and one PPP frame, optionally with a
//!   piggy-backed acknowledgment (A);
//! - an acknowledgment-only packet: A set, S clear, no payload.
//!
//! [`SeqNumber`] compares sequence numbers with 32-bit serial number arithmetic (RFC 1982),
//! as the window logic of RFC 2637 §4.2 needs across wraparound.

use core::fmt;
use core::ops::Range;

/// IP protocol number of GRE (RFC 1701, carried by PPTP per RFC 2637 §4).
pub const IP_PROTOCOL: u8 = 47;
/// The GRE Protocol Type of PPTP's payload: PPP (RFC 2637 §4.1).
pub const PROTOCOL_PPP: u16 = 0x880B;
/// The GRE version of enhanced GRE (RFC 2637 §4.1).
pub const VERSION: u8 = 1;
/// Length of the header without sequence and acknowledgment numbers.
pub const MIN_HEADER_LEN: usize = 8;
/// Length of the header with both.
pub const MAX_HEADER_LEN: usize = 16;

/// Bits of the first 16-bit word (RFC 2637 §4.1).
pub mod flags {
    /// C: checksum present. MUST be 0.
    pub const CHECKSUM: u16 = 0x8000;
    /// R: routing present. MUST be 0.
    pub const ROUTING: u16 = 0x4000;
    /// K: key present. MUST be 1.
    pub const KEY: u16 = 0x2000;
    /// S: sequence number present.
    pub const SEQUENCE: u16 = 0x1000;
    /// s: strict source route present. MUST be 0.
    pub const STRICT_ROUTE: u16 = 0x0800;
    /// Recur: recursion control (3 bits). MUST be 0.
    pub const RECURSION: u16 = 0x0700;
    /// A: acknowledgment number present.
    pub const ACK: u16 = 0x0080;
    /// Flags (4 bits). MUST be 0.
    pub const FLAGS: u16 = 0x0078;
    /// Ver (3 bits). MUST be 1.
    pub const VERSION: u16 = 0x0007;
    /// Every bit that MUST be 0.
    pub const MUST_BE_ZERO: u16 = CHECKSUM | ROUTING | STRICT_ROUTE | RECURSION | FLAGS;
}

/// Byte ranges of the fixed part of the header (RFC 2637 §4.1).
pub mod field {
    use core::ops::Range;
    /// C, R, K, S, s, Recur, A, Flags and Ver.
    pub const FLAGS_VERSION: Range<usize> = 0..2;
    /// Protocol Type: 0x880B.
    pub const PROTOCOL: Range<usize> = 2..4;
    /// Key (high half): Payload Length, the octets after the header.
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    /// Key (low half): the receiver's Call ID.
    pub const CALL_ID: Range<usize> = 6..8;
}

/// Why bytes are not a valid enhanced GRE packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Fewer octets than the header (with the numbers its flags announce) and the Payload
    /// Length.
    Truncated,
    /// Ver is not 1: plain GRE (0) or something else.
    BadVersion(u8),
    /// The Protocol Type is not PPP (0x880B).
    BadProtocol(u16),
    /// The K bit is clear: no Call ID.
    NoKey,
    /// C, R, s, Recur or Flags is set; the first word of the header.
    BadFlags(u16),
    /// A payload without a sequence number (S clear).
    PayloadWithoutSequence,
    /// A sequence number (S set) without a payload.
    SequenceWithoutPayload,
    /// Neither a sequence number nor an acknowledgment: the packet carries nothing.
    Empty,
    /// A payload longer than the 16-bit Payload Length can say (emit only).
    PayloadTooLong,
    /// The output buffer is too small for the packet.
    BufferTooSmall,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated enhanced GRE packet"),
            Error::BadVersion(v) => write!(f, "GRE version {v}, not 1"),
            Error::BadProtocol(p) => write!(f, "GRE protocol {p:#06x}, not PPP (0x880b)"),
            Error::NoKey => f.write_str("enhanced GRE without the Key (Call ID)"),
            Error::BadFlags(w) => write!(f, "enhanced GRE with reserved flags set ({w:#06x})"),
            Error::PayloadWithoutSequence => f.write_str("GRE payload without a sequence number"),
            Error::SequenceWithoutPayload => f.write_str("GRE sequence number without a payload"),
            Error::Empty => f.write_str("GRE packet with neither sequence nor acknowledgment"),
            Error::PayloadTooLong => f.write_str("GRE payload longer than 65535 octets"),
            Error::BufferTooSmall => f.write_str("output buffer too small"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for crate::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Truncated => crate::Error::Truncated,
            Error::PayloadTooLong => crate::Error::BadLength,
            Error::BufferTooSmall => crate::Error::BufferTooSmall,
            _ => crate::Error::Malformed,
        }
    }
}

/// The result of parsing or emitting an enhanced GRE packet.
pub type Result<T> = core::result::Result<T, Error>;

fn be16(bytes: &[u8], range: Range<usize>) -> u16 {
    match bytes.get(range) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// A view of one enhanced GRE packet (the IP payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap bytes without checking. Accessors never panic, but may return zeros or empty
    /// slices on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wrap untrusted bytes; see [`check`](Self::check).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Packet { buffer };
        packet.check()?;
        Ok(packet)
    }

    /// The checks of [`new_checked`](Self::new_checked), in this order: the fixed header is
    /// present, Ver is 1, the Protocol Type is PPP, K is set, C/R/s/Recur/Flags are clear,
    /// the buffer holds the sequence/acknowledgment numbers the flags announce and Payload
    /// Length octets after them (more octets are ignored), and the packet is a data packet
    /// (S and a payload) or an acknowledgment-only one (A, no S, no payload).
    pub fn check(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < MIN_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let word = self.flags_version();
        if self.version() != VERSION {
            return Err(Error::BadVersion(self.version()));
        }
        if self.protocol() != PROTOCOL_PPP {
            return Err(Error::BadProtocol(self.protocol()));
        }
        if word & flags::KEY == 0 {
            return Err(Error::NoKey);
        }
        if word & flags::MUST_BE_ZERO != 0 {
            return Err(Error::BadFlags(word));
        }
        if len < self.header_len() + usize::from(self.payload_len()) {
            return Err(Error::Truncated);
        }
        match (
            self.sequence_present(),
            self.payload_len(),
            self.ack_present(),
        ) {
            (true, 0, _) => Err(Error::SequenceWithoutPayload),
            (false, 1.., _) => Err(Error::PayloadWithoutSequence),
            (false, 0, false) => Err(Error::Empty),
            _ => Ok(()),
        }
    }

    /// Consume the view, returning the bytes.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The first word: C, R, K, S, s, Recur, A, Flags and Ver.
    pub fn flags_version(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLAGS_VERSION)
    }

    /// The Ver field.
    pub fn version(&self) -> u8 {
        (self.flags_version() & flags::VERSION) as u8
    }

    /// The S bit: a sequence number follows the Key.
    pub fn sequence_present(&self) -> bool {
        self.flags_version() & flags::SEQUENCE != 0
    }

    /// The A bit: an acknowledgment number follows.
    pub fn ack_present(&self) -> bool {
        self.flags_version() & flags::ACK != 0
    }

    /// The Protocol Type field.
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PROTOCOL)
    }

    /// The Payload Length (the Key's high half).
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    /// The Call ID (the Key's low half): the receiver's Call ID for the call.
    pub fn call_id(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CALL_ID)
    }

    /// The Sequence Number, if S is set.
    pub fn sequence(&self) -> Option<u32> {
        self.sequence_present()
            .then(|| be32(self.buffer.as_ref(), MIN_HEADER_LEN))
    }

    /// The Acknowledgment Number, if A is set: the highest sequence number the sender
    /// received in order (RFC 2637 §4.2).
    pub fn ack(&self) -> Option<u32> {
        let at = MIN_HEADER_LEN + if self.sequence_present() { 4 } else { 0 };
        self.ack_present().then(|| be32(self.buffer.as_ref(), at))
    }

    /// Length of the header, with the numbers the flags announce.
    pub fn header_len(&self) -> usize {
        MIN_HEADER_LEN
            + if self.sequence_present() { 4 } else { 0 }
            + if self.ack_present() { 4 } else { 0 }
    }

    /// The payload: Payload Length octets after the header.
    pub fn payload(&self) -> &[u8] {
        let start = self.header_len();
        let end = start + usize::from(self.payload_len());
        self.buffer.as_ref().get(start..end).unwrap_or_default()
    }

    /// Header and payload, without octets after the payload.
    pub fn as_bytes(&self) -> &[u8] {
        let end = self.header_len() + usize::from(self.payload_len());
        self.buffer.as_ref().get(..end).unwrap_or_default()
    }
}

/// A parsed enhanced GRE packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr<'a> {
    /// The receiver's Call ID.
    pub call_id: u16,
    /// The Sequence Number: `Some` exactly for a data packet.
    pub sequence: Option<u32>,
    /// The Acknowledgment Number, piggy-backed on data or alone.
    pub ack: Option<u32>,
    /// The PPP frame; empty for an acknowledgment-only packet.
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// A data packet: one PPP frame with its sequence number, and an acknowledgment if
    /// there is one to send.
    pub const fn data(call_id: u16, sequence: u32, ack: Option<u32>, payload: &'a [u8]) -> Self {
        Repr {
            call_id,
            sequence: Some(sequence),
            ack,
            payload,
        }
    }

    /// An acknowledgment-only packet.
    pub const fn ack_only(call_id: u16, ack: u32) -> Self {
        Repr {
            call_id,
            sequence: None,
            ack: Some(ack),
            payload: &[],
        }
    }

    /// Parse untrusted bytes (checked as by [`Packet::new_checked`]); octets after the
    /// payload are ignored.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let packet = Packet::new_checked(bytes)?;
        let start = packet.header_len();
        let end = start + usize::from(packet.payload_len());
        Ok(Repr {
            call_id: packet.call_id(),
            sequence: packet.sequence(),
            ack: packet.ack(),
            payload: bytes.get(start..end).ok_or(Error::Truncated)?,
        })
    }

    /// Whether this is an acknowledgment-only packet.
    pub fn is_ack_only(&self) -> bool {
        self.sequence.is_none()
    }

    /// Length of the header.
    pub const fn header_len(&self) -> usize {
        MIN_HEADER_LEN
            + if self.sequence.is_some() { 4 } else { 0 }
            + if self.ack.is_some() { 4 } else { 0 }
    }

    /// Length of the emitted packet.
    pub const fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Write the header only, for a payload of `self.payload.len()` octets that the caller
    /// places after it (e.g. encrypted in place); returns the header length. Fails like
    /// [`emit`](Self::emit) on a packet [`Packet::check`] would refuse.
    pub fn emit_header(&self, buf: &mut [u8]) -> Result<usize> {
        let payload_len = u16::try_from(self.payload.len()).map_err(|_| Error::PayloadTooLong)?;
        match (self.sequence, payload_len, self.ack) {
            (Some(_), 0, _) => return Err(Error::SequenceWithoutPayload),
            (None, 1.., _) => return Err(Error::PayloadWithoutSequence),
            (None, 0, None) => return Err(Error::Empty),
            _ => {}
        }
        let len = self.header_len();
        let header = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        let mut word = flags::KEY | u16::from(VERSION);
        if self.sequence.is_some() {
            word |= flags::SEQUENCE;
        }
        if self.ack.is_some() {
            word |= flags::ACK;
        }
        let mut at = 0;
        let mut put = |bytes: &[u8]| -> Result<()> {
            let end = at + bytes.len();
            header
                .get_mut(at..end)
                .ok_or(Error::BufferTooSmall)?
                .copy_from_slice(bytes);
            at = end;
            Ok(())
        };
        put(&word.to_be_bytes())?;
        put(&PROTOCOL_PPP.to_be_bytes())?;
        put(&payload_len.to_be_bytes())?;
        put(&self.call_id.to_be_bytes())?;
        for n in [self.sequence, self.ack].into_iter().flatten() {
            put(&n.to_be_bytes())?;
        }
        Ok(len)
    }

    /// Write the packet to the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let dst = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        let header_len = self.emit_header(dst)?;
        dst.get_mut(header_len..)
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(self.payload);
        Ok(len)
    }

    /// Append the packet to `out`.
    pub fn push(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.resize(start + self.buffer_len(), 0);
        let result = self.emit(out.get_mut(start..).unwrap_or_default());
        if result.is_err() {
            out.truncate(start);
        }
        result.map(|_| ())
    }
}

/// A GRE sequence or acknowledgment number, compared with serial number arithmetic
/// (RFC 1982 §3, SERIAL_BITS = 32) so that the window logic of RFC 2637 §4.2 keeps working
/// when the numbers wrap around.
///
/// Two numbers exactly 2^31 apart are unordered: neither is before the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Half the number space: the largest distance that still orders two numbers.
    const HALF: u32 = 1 << 31;

    /// The number `n` after this one, wrapping.
    pub const fn add(self, n: u32) -> Self {
        SeqNumber(self.0.wrapping_add(n))
    }

    /// The next number.
    pub const fn next(self) -> Self {
        self.add(1)
    }

    /// How many numbers `self` is after `earlier`, modulo 2^32 (e.g. packets in flight:
    /// last sent minus last acknowledged).
    pub const fn distance_from(self, earlier: SeqNumber) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }

    /// Whether `self` precedes `other` (RFC 1982 §3.2: `self < other`).
    pub const fn is_before(self, other: SeqNumber) -> bool {
        let d = other.0.wrapping_sub(self.0);
        d != 0 && d < Self::HALF
    }

    /// Whether `self` follows `other` (RFC 1982 §3.2: `self > other`).
    pub const fn is_after(self, other: SeqNumber) -> bool {
        other.is_before(self)
    }

    /// Whether `self` is one of the `len` numbers starting at `start` (wrapping).
    pub const fn is_within(self, start: SeqNumber, len: u32) -> bool {
        self.distance_from(start) < len
    }
}

impl From<u32> for SeqNumber {
    fn from(n: u32) -> Self {
        SeqNumber(n)
    }
}

impl From<SeqNumber> for u32 {
    fn from(n: SeqNumber) -> Self {
        n.0
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> Repr<'_> {
        let repr = Repr::parse(bytes).unwrap();
        assert_eq!(repr.buffer_len(), bytes.len());
        let mut out = vec![9];
        repr.push(&mut out).unwrap();
        assert_eq!(&out[1..], bytes);
        let mut buf = vec![0; bytes.len()];
        assert_eq!(repr.emit(&mut buf), Ok(bytes.len()));
        assert_eq!(buf, bytes);
        repr
    }

    const LCP: &[u8] = &[0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4];

    fn data(word: u16, call_id: u16, numbers: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut b = word.to_be_bytes().to_vec();
        b.extend(PROTOCOL_PPP.to_be_bytes());
        b.extend((payload.len() as u16).to_be_bytes());
        b.extend(call_id.to_be_bytes());
        for n in numbers {
            b.extend(n.to_be_bytes());
        }
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn data_packet_rfc2637_4_1() {
        // pptp-linux's first data packet: K, S, version 1; seq 1 (reference captures).
        let bytes = data(0x3001, 0, &[1], LCP);
        let repr = round_trip(&bytes);
        assert_eq!(repr, Repr::data(0, 1, None, LCP));
        assert!(!repr.is_ack_only());
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.flags_version(), 0x3001);
        assert_eq!(p.version(), 1);
        assert_eq!(p.protocol(), 0x880b);
        assert_eq!(p.payload_len(), 8);
        assert_eq!((p.sequence(), p.ack()), (Some(1), None));
        assert_eq!(p.header_len(), 12);
        assert_eq!(p.payload(), LCP);
        assert_eq!(p.as_bytes(), &bytes[..]);
    }

    #[test]
    fn piggy_backed_ack_rfc2637_4_1() {
        let bytes = data(0x3081, 22256, &[2, 3], LCP);
        let repr = round_trip(&bytes);
        assert_eq!(repr, Repr::data(22256, 2, Some(3), LCP));
        assert_eq!(repr.header_len(), 16);
    }

    #[test]
    fn ack_only_rfc2637_4_1() {
        let bytes = data(0x2081, 0, &[2], &[]);
        let repr = round_trip(&bytes);
        assert_eq!(repr, Repr::ack_only(0, 2));
        assert!(repr.is_ack_only());
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!((p.sequence(), p.ack()), (None, Some(2)));
        assert_eq!(p.payload(), b"");
    }

    #[test]
    fn hostile_gre_rfc2637_4_1() {
        let good = data(0x3081, 7, &[2, 3], LCP);
        assert_eq!(Repr::parse(&good[..7]), Err(Error::Truncated));
        // The acknowledgment or the payload cut short.
        assert_eq!(Repr::parse(&good[..15]), Err(Error::Truncated));
        assert_eq!(Repr::parse(&good[..good.len() - 1]), Err(Error::Truncated));
        // Octets after the payload are ignored.
        let mut long = good.clone();
        long.push(0xaa);
        assert_eq!(Repr::parse(&long), Repr::parse(&good));
        assert_eq!(
            Packet::new_checked(&long[..]).unwrap().as_bytes(),
            &good[..]
        );

        let with_word = |word: u16| {
            let mut b = good.clone();
            b[..2].copy_from_slice(&word.to_be_bytes());
            Repr::parse(&b).map(|_| ())
        };
        assert_eq!(with_word(0x3080), Err(Error::BadVersion(0)));
        assert_eq!(with_word(0x3082), Err(Error::BadVersion(2)));
        assert_eq!(with_word(0x1081), Err(Error::NoKey));
        for bit in [0x8000, 0x4000, 0x0800, 0x0100, 0x0400, 0x0008, 0x0040] {
            assert_eq!(
                with_word(0x3081 | bit),
                Err(Error::BadFlags(0x3081 | bit)),
                "{bit:#x}"
            );
        }
        let mut b = good.clone();
        b[2..4].copy_from_slice(&0x0800u16.to_be_bytes());
        assert_eq!(Repr::parse(&b), Err(Error::BadProtocol(0x0800)));

        // Payload without S, S without payload, neither S nor A.
        assert_eq!(
            Repr::parse(&data(0x2001, 7, &[], LCP)),
            Err(Error::PayloadWithoutSequence)
        );
        assert_eq!(
            Repr::parse(&data(0x3001, 7, &[1], &[])),
            Err(Error::SequenceWithoutPayload)
        );
        assert_eq!(Repr::parse(&data(0x2001, 7, &[], &[])), Err(Error::Empty));
    }

    #[test]
    fn emit_refuses_what_parse_refuses() {
        let no_seq = Repr {
            call_id: 1,
            sequence: None,
            ack: Some(1),
            payload: LCP,
        };
        assert_eq!(
            no_seq.emit(&mut [0; 64]),
            Err(Error::PayloadWithoutSequence)
        );
        assert_eq!(
            Repr::data(1, 1, None, &[]).emit(&mut [0; 64]),
            Err(Error::SequenceWithoutPayload)
        );
        let nothing = Repr {
            ack: None,
            ..Repr::ack_only(1, 1)
        };
        assert_eq!(nothing.emit(&mut [0; 64]), Err(Error::Empty));
        let huge = vec![0; 65536];
        let mut out = Vec::new();
        assert_eq!(
            Repr::data(1, 1, None, &huge).push(&mut out),
            Err(Error::PayloadTooLong)
        );
        assert!(out.is_empty());
        assert_eq!(
            Repr::data(1, 1, Some(1), LCP).emit(&mut [0; 23]),
            Err(Error::BufferTooSmall)
        );
        // Header only, for a payload placed by the caller.
        let mut buf = [0; 16];
        assert_eq!(Repr::data(5, 6, None, LCP).emit_header(&mut buf), Ok(12));
        assert_eq!(&buf[..12], &data(0x3001, 5, &[6], LCP)[..12]);
    }

    #[test]
    fn serial_number_arithmetic_rfc1982_3_2() {
        let s = SeqNumber;
        assert!(s(1).is_before(s(2)));
        assert!(s(2).is_after(s(1)));
        assert!(!s(5).is_before(s(5)) && !s(5).is_after(s(5)));
        // Across the wrap.
        assert!(s(u32::MAX).is_before(s(0)));
        assert!(s(0).is_after(s(u32::MAX)));
        assert!(s(0xffff_fff0).is_before(s(0x10)));
        assert_eq!(s(u32::MAX).next(), s(0));
        assert_eq!(s(0x10).distance_from(s(0xffff_fff0)), 0x20);
        // The largest ordered distance, and the unordered one.
        assert!(s(0).is_before(s(0x7fff_ffff)));
        assert!(!s(0).is_before(s(0x8000_0000)) && !s(0x8000_0000).is_before(s(0)));
        // Windows.
        assert!(s(0).is_within(s(u32::MAX), 2));
        assert!(!s(1).is_within(s(u32::MAX), 2));
        assert!(!s(7).is_within(s(7), 0));
        assert_eq!(u32::from(SeqNumber::from(9).add(3)), 12);
    }
}
