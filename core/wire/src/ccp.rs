//! Compression Control Protocol options (RFC 1962 §3), the MPPE/MPPC option (RFC 3078 §2.1,
//! RFC 2118 §2) and the MPPE data packet header (RFC 3078 §3).

use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign};

use crate::cp::{OptionRepr, RawOption, Writer, exact};
use crate::{Error, Result};

/// CCP option types (IANA "PPP Compression Control Protocol Option Types").
pub mod kind {
    /// Microsoft Point-to-Point Compression / Encryption (RFC 2118 §2, RFC 3078 §2.1).
    pub const MPPE: u8 = 18;
    /// BSD-Compress (RFC 1977).
    pub const BSD_COMPRESS: u8 = 21;
    /// Deflate (RFC 1979).
    pub const DEFLATE: u8 = 26;
}

/// The 32-bit Supported Bits of the MPPE/MPPC option (RFC 3078 §2.1), most significant octet
/// first on the wire.
///
/// RFC 3078 §2.1 draws the field with bits numbered 0 (most significant) to 31:
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |    Reserved   |H|   Reserved  |    Reserved   |M|S|L|D| Res |C|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// so H is `0x01000000` and M/S/L/D/C are `0x80`/`0x40`/`0x20`/`0x10`/`0x01` in the last
/// octet. Linux's `ppp_mppe.h` agrees (`MPPE_H_BIT 0x01` in the first octet, `MPPE_S_BIT 0x40`
/// 128-bit, `MPPE_M_BIT 0x80` 56-bit, `MPPE_L_BIT 0x20` 40-bit), and the reference captures
/// show pppd's default `+H -M +S` as `01 00 00 40`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MppeBits(pub u32);

impl MppeBits {
    /// C: MPPC compression (RFC 2118 §2).
    pub const C: MppeBits = MppeBits(0x0000_0001);
    /// D: obsolete (RFC 3078 §2.1: "this bit is obsolete").
    pub const D: MppeBits = MppeBits(0x0000_0010);
    /// L: 40-bit encryption keys (RFC 3078 §2.1).
    pub const L: MppeBits = MppeBits(0x0000_0020);
    /// S: 128-bit encryption keys (RFC 3078 §2.1).
    pub const S: MppeBits = MppeBits(0x0000_0040);
    /// M: 56-bit encryption keys (RFC 3079 §3, defined with RFC 3078's field).
    pub const M: MppeBits = MppeBits(0x0000_0080);
    /// H: stateless mode, a new key for every packet (RFC 3078 §2.1, §7.2).
    pub const H: MppeBits = MppeBits(0x0100_0000);
    /// Every bit with a meaning.
    pub const KNOWN: MppeBits = MppeBits(0x0100_00f1);

    /// No bits set.
    pub const fn empty() -> Self {
        MppeBits(0)
    }

    /// The raw value.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: MppeBits) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: MppeBits) -> bool {
        self.0 & other.0 != 0
    }

    /// Set the bits of `other`.
    pub fn insert(&mut self, other: MppeBits) {
        self.0 |= other.0;
    }

    /// Clear the bits of `other`.
    pub fn remove(&mut self, other: MppeBits) {
        self.0 &= !other.0;
    }

    /// Reserved bits that are set (a peer setting them should be nak'd, RFC 3078 §2.1).
    pub const fn unknown(self) -> MppeBits {
        MppeBits(self.0 & !Self::KNOWN.0)
    }

    /// Stateless mode (H).
    pub const fn is_stateless(self) -> bool {
        self.contains(Self::H)
    }

    /// Whether any encryption strength (L, S or M) is offered.
    pub const fn is_encrypted(self) -> bool {
        self.intersects(MppeBits(Self::L.0 | Self::S.0 | Self::M.0))
    }
}

impl BitOr for MppeBits {
    type Output = MppeBits;
    fn bitor(self, rhs: MppeBits) -> MppeBits {
        MppeBits(self.0 | rhs.0)
    }
}

impl BitOrAssign for MppeBits {
    fn bitor_assign(&mut self, rhs: MppeBits) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for MppeBits {
    type Output = MppeBits;
    fn bitand(self, rhs: MppeBits) -> MppeBits {
        MppeBits(self.0 & rhs.0)
    }
}

impl fmt::Debug for MppeBits {
    /// pppd's notation, e.g. `MppeBits(0x01000040 +H -M +S -L -D -C)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MppeBits({:#010x}", self.0)?;
        for (name, bit) in [
            ("H", Self::H),
            ("M", Self::M),
            ("S", Self::S),
            ("L", Self::L),
            ("D", Self::D),
            ("C", Self::C),
        ] {
            write!(f, " {}{name}", if self.contains(bit) { '+' } else { '-' })?;
        }
        f.write_str(")")
    }
}

/// One CCP configuration option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CcpOption<'a> {
    /// MPPE/MPPC (type 18, RFC 3078 §2.1).
    Mppe(MppeBits),
    /// Any other compression method (Deflate, BSD-Compress, ...), kept verbatim.
    Unknown {
        /// The Type octet.
        kind: u8,
        /// The value.
        data: &'a [u8],
    },
}

impl<'a> OptionRepr<'a> for CcpOption<'a> {
    fn parse(option: RawOption<'a>) -> Result<Self> {
        Ok(match option.kind() {
            kind::MPPE => CcpOption::Mppe(MppeBits(u32::from_be_bytes(exact(option.value())?))),
            other => CcpOption::Unknown {
                kind: other,
                data: option.value(),
            },
        })
    }

    fn kind(&self) -> u8 {
        match self {
            CcpOption::Mppe(_) => kind::MPPE,
            CcpOption::Unknown { kind, .. } => *kind,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            CcpOption::Mppe(_) => 4,
            CcpOption::Unknown { data, .. } => data.len(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) -> Result<()> {
        let mut w = Writer::new(buf);
        match self {
            CcpOption::Mppe(bits) => w.u32(bits.0),
            CcpOption::Unknown { data, .. } => w.put(data),
        }
    }
}

/// Length of the MPPE header that follows the PPP protocol `0x00fd` (RFC 3078 §3).
pub const MPPE_HEADER_LEN: usize = 2;

/// A view of an MPPE data packet: the information field of a PPP frame with protocol
/// `0x00fd` (RFC 3078 §3).
///
/// ```text
///  0                   1
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |A|B|C|D|    Coherency Count    |  encrypted data ...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MppePacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MppePacket<T> {
    /// A: the encryption tables were flushed / the key changed ("flushed", RFC 3078 §3).
    pub const FLUSHED: u16 = 0x8000;
    /// B: MPPC's "packet at front of history" bit (RFC 2118 §3); zero for MPPE alone.
    pub const BIT_B: u16 = 0x4000;
    /// C: the data is MPPC-compressed (RFC 2118 §3).
    pub const COMPRESSED: u16 = 0x2000;
    /// D: the data is encrypted (RFC 3078 §3).
    pub const ENCRYPTED: u16 = 0x1000;
    /// The 12-bit coherency count.
    pub const COUNT_MASK: u16 = 0x0fff;

    /// Wrap bytes without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        MppePacket { buffer }
    }

    /// Wrap untrusted bytes: the 2-octet header must be present.
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < MPPE_HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(MppePacket { buffer })
    }

    /// Consume the view, returning the bytes.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The 16-bit header word (0 if truncated).
    pub fn header(&self) -> u16 {
        match self.buffer.as_ref() {
            [a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        }
    }

    /// A bit.
    pub fn flushed(&self) -> bool {
        self.header() & Self::FLUSHED != 0
    }

    /// B bit.
    pub fn bit_b(&self) -> bool {
        self.header() & Self::BIT_B != 0
    }

    /// C bit.
    pub fn compressed(&self) -> bool {
        self.header() & Self::COMPRESSED != 0
    }

    /// D bit.
    pub fn encrypted(&self) -> bool {
        self.header() & Self::ENCRYPTED != 0
    }

    /// The 12-bit coherency count.
    pub fn coherency_count(&self) -> u16 {
        self.header() & Self::COUNT_MASK
    }

    /// The (encrypted) data after the header.
    pub fn payload(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(MPPE_HEADER_LEN..)
            .unwrap_or_default()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> MppePacket<T> {
    /// Set the whole header word.
    pub fn set_header(&mut self, word: u16) {
        if let Some(h) = self.buffer.as_mut().get_mut(..MPPE_HEADER_LEN) {
            h.copy_from_slice(&word.to_be_bytes());
        }
    }

    /// The data after the header, mutable (to decrypt in place).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(MPPE_HEADER_LEN..)
            .unwrap_or_default()
    }
}

/// The MPPE header as values (RFC 3078 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MppeHeader {
    /// A: flushed.
    pub flushed: bool,
    /// B: MPPC history bit.
    pub bit_b: bool,
    /// C: compressed.
    pub compressed: bool,
    /// D: encrypted.
    pub encrypted: bool,
    /// Coherency count, 12 bits; higher bits are ignored on emit.
    pub coherency_count: u16,
}

impl MppeHeader {
    /// Parse the header at the start of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let p = MppePacket::new_checked(bytes)?;
        Ok(MppeHeader {
            flushed: p.flushed(),
            bit_b: p.bit_b(),
            compressed: p.compressed(),
            encrypted: p.encrypted(),
            coherency_count: p.coherency_count(),
        })
    }

    /// The 16-bit header word.
    pub fn word(&self) -> u16 {
        type P = MppePacket<&'static [u8]>;
        let flag = |on: bool, bit: u16| if on { bit } else { 0 };
        flag(self.flushed, P::FLUSHED)
            | flag(self.bit_b, P::BIT_B)
            | flag(self.compressed, P::COMPRESSED)
            | flag(self.encrypted, P::ENCRYPTED)
            | (self.coherency_count & P::COUNT_MASK)
    }

    /// Length of the emitted header.
    pub const fn buffer_len(&self) -> usize {
        MPPE_HEADER_LEN
    }

    /// Write the header to the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        Writer::new(buf).u16(self.word())?;
        Ok(MPPE_HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mppe_option_rfc3078_2_1() {
        // pppd's CCP Configure-Request option, +H -M +S (ref-pcaps mschapv2-mppe128, frame 24).
        let bytes = [0x12, 0x06, 0x01, 0x00, 0x00, 0x40];
        let opt = CcpOption::parse_bytes(&bytes).unwrap();
        let CcpOption::Mppe(bits) = opt else {
            panic!("{opt:?}")
        };
        assert_eq!(bits, MppeBits::H | MppeBits::S);
        assert!(bits.is_stateless() && bits.is_encrypted());
        assert!(!bits.contains(MppeBits::M) && !bits.contains(MppeBits::L));
        assert_eq!(bits.unknown(), MppeBits::empty());
        assert_eq!(
            format!("{bits:?}"),
            "MppeBits(0x01000040 +H -M +S -L -D -C)"
        );
        let mut out = Vec::new();
        opt.push(&mut out).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn mppe_bits_rfc3078_2_1() {
        let mut b = MppeBits::empty();
        b.insert(MppeBits::L | MppeBits::C);
        assert_eq!(b.bits(), 0x21);
        b.remove(MppeBits::C);
        assert_eq!(b, MppeBits::L);
        b |= MppeBits(0x0000_0100);
        assert_eq!(b.unknown(), MppeBits(0x100));
        assert_eq!(b & MppeBits::L, MppeBits::L);
        assert!(!MppeBits::C.is_encrypted());
    }

    #[test]
    fn other_ccp_options_are_unknown() {
        let deflate = [26, 4, 0x78, 0x00];
        assert_eq!(
            CcpOption::parse_bytes(&deflate),
            Ok(CcpOption::Unknown {
                kind: kind::DEFLATE,
                data: &[0x78, 0x00]
            })
        );
        assert_eq!(
            CcpOption::parse_bytes(&[18, 5, 1, 0, 0]),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn mppe_header_rfc3078_3() {
        // First encrypted frame of ref-pcaps mschapv2-mppe128 (frame 43): fd 90 00 ...
        let h = MppeHeader::parse(&[0x90, 0x00, 0x13]).unwrap();
        assert_eq!(
            h,
            MppeHeader {
                flushed: true,
                encrypted: true,
                coherency_count: 0,
                ..Default::default()
            }
        );
        let mut buf = [0u8; 2];
        h.emit(&mut buf).unwrap();
        assert_eq!(buf, [0x90, 0x00]);
        let p = MppePacket::new_checked(&[0x1f, 0xff, 1, 2][..]).unwrap();
        assert!(p.encrypted() && !p.flushed() && !p.compressed() && !p.bit_b());
        assert_eq!((p.coherency_count(), p.payload()), (0x0fff, &[1u8, 2][..]));
        assert_eq!(MppeHeader::parse(&[0x90]), Err(Error::Truncated));
        for word in [0u16, 0xffff, 0x6abc, 0x2001] {
            assert_eq!(MppeHeader::parse(&word.to_be_bytes()).unwrap().word(), word);
        }
        let mut raw = [0u8; 3];
        let mut p = MppePacket::new_unchecked(&mut raw[..]);
        p.set_header(0x9005);
        p.payload_mut()[0] = 7;
        assert_eq!(raw, [0x90, 0x05, 7]);
    }
}
