//! The packet format shared by LCP and every NCP (RFC 1661 §5), and the Type-Length-Value
//! configuration options inside Configure-Request/Ack/Nak/Reject (RFC 1661 §6).
//!
//! ```text
//!  0                   1                   2                   3
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Code      |  Identifier   |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Data ...
//! ```
//!
//! Octets past Length are padding and ignored (RFC 1661 §5).

use core::fmt;

use crate::{Error, Result};

/// A control-protocol packet Code (RFC 1661 §5, RFC 1570 §2, RFC 1962 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// 1, RFC 1661 §5.1.
    ConfigureRequest,
    /// 2, RFC 1661 §5.2.
    ConfigureAck,
    /// 3, RFC 1661 §5.3.
    ConfigureNak,
    /// 4, RFC 1661 §5.4.
    ConfigureReject,
    /// 5, RFC 1661 §5.5.
    TerminateRequest,
    /// 6, RFC 1661 §5.5.
    TerminateAck,
    /// 7, RFC 1661 §5.6.
    CodeReject,
    /// 8, RFC 1661 §5.7 (LCP only).
    ProtocolReject,
    /// 9, RFC 1661 §5.8 (LCP only).
    EchoRequest,
    /// 10, RFC 1661 §5.8 (LCP only).
    EchoReply,
    /// 11, RFC 1661 §5.9 (LCP only).
    DiscardRequest,
    /// 12, RFC 1570 §2.1 (LCP only).
    Identification,
    /// 13, RFC 1570 §2.2 (LCP only).
    TimeRemaining,
    /// 14, RFC 1962 §2.1 (CCP only).
    ResetRequest,
    /// 15, RFC 1962 §2.1 (CCP only).
    ResetAck,
    /// Any other value; answered with Code-Reject (RFC 1661 §5.6).
    Unknown(u8),
}

impl From<u8> for Code {
    fn from(v: u8) -> Self {
        match v {
            1 => Code::ConfigureRequest,
            2 => Code::ConfigureAck,
            3 => Code::ConfigureNak,
            4 => Code::ConfigureReject,
            5 => Code::TerminateRequest,
            6 => Code::TerminateAck,
            7 => Code::CodeReject,
            8 => Code::ProtocolReject,
            9 => Code::EchoRequest,
            10 => Code::EchoReply,
            11 => Code::DiscardRequest,
            12 => Code::Identification,
            13 => Code::TimeRemaining,
            14 => Code::ResetRequest,
            15 => Code::ResetAck,
            other => Code::Unknown(other),
        }
    }
}

impl From<Code> for u8 {
    fn from(c: Code) -> Self {
        match c {
            Code::ConfigureRequest => 1,
            Code::ConfigureAck => 2,
            Code::ConfigureNak => 3,
            Code::ConfigureReject => 4,
            Code::TerminateRequest => 5,
            Code::TerminateAck => 6,
            Code::CodeReject => 7,
            Code::ProtocolReject => 8,
            Code::EchoRequest => 9,
            Code::EchoReply => 10,
            Code::DiscardRequest => 11,
            Code::Identification => 12,
            Code::TimeRemaining => 13,
            Code::ResetRequest => 14,
            Code::ResetAck => 15,
            Code::Unknown(v) => v,
        }
    }
}

impl Code {
    /// Codes 1-4, whose data is a list of configuration options (RFC 1661 §5.1-5.4).
    pub fn carries_options(self) -> bool {
        matches!(
            self,
            Code::ConfigureRequest
                | Code::ConfigureAck
                | Code::ConfigureNak
                | Code::ConfigureReject
        )
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Unknown(v) => write!(f, "Code-{v}"),
            other => fmt::Debug::fmt(other, f),
        }
    }
}

/// Byte ranges of the header (RFC 1661 §5).
pub mod field {
    use core::ops::{Range, RangeFrom};
    /// Code.
    pub const CODE: usize = 0;
    /// Identifier.
    pub const IDENTIFIER: usize = 1;
    /// Length: the whole packet, header included, big-endian.
    pub const LENGTH: Range<usize> = 2..4;
    /// Data, up to Length.
    pub const DATA: RangeFrom<usize> = 4..;
}

/// Length of the Code/Identifier/Length header.
pub const HEADER_LEN: usize = 4;

/// A view of one control-protocol packet.
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

    /// Wrap untrusted bytes: the header must be present and `4 <= Length <= buffer length`.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Packet { buffer };
        packet.check()?;
        Ok(packet)
    }

    /// The checks of [`new_checked`](Self::new_checked) (RFC 1661 §5: a packet whose Length
    /// exceeds the received octets, or is below 4, is silently discarded).
    pub fn check(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let length = usize::from(self.length());
        if length < HEADER_LEN || length > len {
            return Err(Error::BadLength);
        }
        Ok(())
    }

    /// Consume the view, returning the bytes.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Code field.
    pub fn code(&self) -> Code {
        Code::from(self.buffer.as_ref().get(field::CODE).copied().unwrap_or(0))
    }

    /// The Identifier field.
    pub fn identifier(&self) -> u8 {
        self.buffer
            .as_ref()
            .get(field::IDENTIFIER)
            .copied()
            .unwrap_or(0)
    }

    /// The Length field.
    pub fn length(&self) -> u16 {
        match self.buffer.as_ref().get(field::LENGTH) {
            Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
            _ => 0,
        }
    }

    /// The Data field: from the header up to Length; padding after it is excluded.
    pub fn data(&self) -> &[u8] {
        let end = usize::from(self.length());
        self.buffer
            .as_ref()
            .get(HEADER_LEN..end)
            .unwrap_or_default()
    }

    /// Header and data, without padding.
    pub fn as_bytes(&self) -> &[u8] {
        let end = usize::from(self.length());
        self.buffer.as_ref().get(..end).unwrap_or_default()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the Code field.
    pub fn set_code(&mut self, code: Code) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::CODE) {
            *b = code.into();
        }
    }

    /// Set the Identifier field.
    pub fn set_identifier(&mut self, id: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::IDENTIFIER) {
            *b = id;
        }
    }

    /// Set the Length field.
    pub fn set_length(&mut self, length: u16) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::LENGTH) {
            b.copy_from_slice(&length.to_be_bytes());
        }
    }

    /// The Data field, mutable (up to Length).
    pub fn data_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.length());
        self.buffer
            .as_mut()
            .get_mut(HEADER_LEN..end)
            .unwrap_or_default()
    }
}

/// A parsed control-protocol packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr<'a> {
    /// The Code.
    pub code: Code,
    /// The Identifier.
    pub identifier: u8,
    /// The Data, without padding.
    pub data: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parse untrusted bytes (checked as by [`Packet::new_checked`]).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let packet = Packet::new_checked(bytes)?;
        let end = usize::from(packet.length());
        Ok(Repr {
            code: packet.code(),
            identifier: packet.identifier(),
            data: bytes.get(HEADER_LEN..end).unwrap_or_default(),
        })
    }

    /// Length of the emitted packet.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data.len()
    }

    /// Write the packet to the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let length = u16::try_from(len).map_err(|_| Error::BadLength)?;
        let dst = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        let (header, data) = dst.split_at_mut(HEADER_LEN);
        header.copy_from_slice(&[0, 0, 0, 0]);
        let mut packet = Packet::new_unchecked(&mut *header);
        packet.set_code(self.code);
        packet.set_identifier(self.identifier);
        packet.set_length(length);
        data.copy_from_slice(self.data);
        Ok(len)
    }

    /// Append the packet to `out`.
    pub fn push(&self, out: &mut Vec<u8>) -> Result<()> {
        push_packet(out, self.code, self.identifier, |out| {
            out.extend_from_slice(self.data);
            Ok(())
        })
    }
}

/// Append a packet whose data `write_data` appends, filling in Length afterwards.
///
/// Fails with [`Error::BadLength`] (leaving `out` as it was) if the packet exceeds 65535
/// octets, or with whatever `write_data` returns.
pub fn push_packet(
    out: &mut Vec<u8>,
    code: Code,
    identifier: u8,
    write_data: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let start = out.len();
    out.extend_from_slice(&[code.into(), identifier, 0, 0]);
    let done = write_data(out)
        .and_then(|()| u16::try_from(out.len() - start).map_err(|_| Error::BadLength));
    match done {
        Ok(length) => {
            if let Some(dst) = out.get_mut(start + 2..start + 4) {
                dst.copy_from_slice(&length.to_be_bytes());
            }
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// One configuration option: Type, Length, Value (RFC 1661 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawOption<'a> {
    bytes: &'a [u8],
}

impl<'a> RawOption<'a> {
    /// Check and wrap the option at the start of `bytes`: `Length >= 2` and within `bytes`.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self> {
        match bytes {
            [_, len, ..] => {
                let len = usize::from(*len);
                if len < 2 {
                    Err(Error::BadLength)
                } else {
                    bytes
                        .get(..len)
                        .map(|bytes| RawOption { bytes })
                        .ok_or(Error::BadLength)
                }
            }
            _ => Err(Error::Truncated),
        }
    }

    /// The Type octet.
    pub fn kind(&self) -> u8 {
        self.bytes.first().copied().unwrap_or(0)
    }

    /// The value after Type and Length.
    pub fn value(&self) -> &'a [u8] {
        self.bytes.get(2..).unwrap_or_default()
    }

    /// The whole option, Type and Length included (e.g. to copy it into a Configure-Reject).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Iterator over the options in a Configure-* packet's data (RFC 1661 §6).
///
/// Yields each option, or one error (an option with Length < 2 or running past the end; the
/// whole packet must then be discarded) after which it stops.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    rest: &'a [u8],
}

/// Iterate over the options in `data`.
pub fn options(data: &[u8]) -> Options<'_> {
    Options { rest: data }
}

/// Check that `data` is a well-formed option list.
pub fn check_options(data: &[u8]) -> Result<()> {
    options(data).try_for_each(|o| o.map(|_| ()))
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<RawOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match RawOption::new_checked(self.rest) {
            Ok(opt) => {
                self.rest = self.rest.get(opt.bytes.len()..).unwrap_or_default();
                Some(Ok(opt))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for Options<'_> {}

/// Largest option value: Length is one octet and counts Type and Length.
pub const MAX_OPTION_VALUE: usize = 253;

/// Append one option to `out`. Fails with [`Error::BadLength`] if `value` exceeds 253 octets.
pub fn push_option(out: &mut Vec<u8>, kind: u8, value: &[u8]) -> Result<()> {
    let len = u8::try_from(value.len() + 2).map_err(|_| Error::BadLength)?;
    out.extend_from_slice(&[kind, len]);
    out.extend_from_slice(value);
    Ok(())
}

/// Write one option at the start of `buf`; returns its length.
pub fn emit_option(buf: &mut [u8], kind: u8, value: &[u8]) -> Result<usize> {
    let len = u8::try_from(value.len() + 2).map_err(|_| Error::BadLength)?;
    let dst = buf
        .get_mut(..usize::from(len))
        .ok_or(Error::BufferTooSmall)?;
    let (head, tail) = dst.split_at_mut(2);
    head.copy_from_slice(&[kind, len]);
    tail.copy_from_slice(value);
    Ok(usize::from(len))
}

/// Iterator returned by [`OptionRepr::parse_list`].
pub type TypedOptions<'a, O> = core::iter::Map<Options<'a>, fn(Result<RawOption<'a>>) -> Result<O>>;

/// A typed configuration option of one protocol (LCP, IPCP, CCP, ...).
///
/// Implementors provide the value codec; the TLV framing is shared. For every option bytes
/// `b` that [`parse`](Self::parse) accepts, [`emit`](Self::emit) writes `b` back unchanged.
pub trait OptionRepr<'a>: Sized {
    /// Decode one option. Known types with a malformed value fail with [`Error::Malformed`];
    /// unknown types are kept verbatim.
    fn parse(option: RawOption<'a>) -> Result<Self>;

    /// The Type octet.
    fn kind(&self) -> u8;

    /// Length of the value (after Type and Length).
    fn value_len(&self) -> usize;

    /// Write the value into `buf`, which is exactly [`value_len`](Self::value_len) long.
    fn emit_value(&self, buf: &mut [u8]) -> Result<()>;

    /// Parse the option at the start of `bytes` (the TLV, Type and Length included).
    fn parse_bytes(bytes: &'a [u8]) -> Result<Self> {
        Self::parse(RawOption::new_checked(bytes)?)
    }

    /// Iterate over the typed options of an option list.
    fn parse_list(data: &'a [u8]) -> TypedOptions<'a, Self> {
        options(data).map(|o| o.and_then(Self::parse))
    }

    /// Length of the emitted option, Type and Length included.
    fn buffer_len(&self) -> usize {
        2 + self.value_len()
    }

    /// Write the option to the start of `buf`; returns its length.
    fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = u8::try_from(self.buffer_len()).map_err(|_| Error::BadLength)?;
        let dst = buf
            .get_mut(..usize::from(len))
            .ok_or(Error::BufferTooSmall)?;
        let (head, value) = dst.split_at_mut(2);
        head.copy_from_slice(&[self.kind(), len]);
        self.emit_value(value)?;
        Ok(usize::from(len))
    }

    /// Append the option to `out`.
    fn push(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.resize(start + self.buffer_len(), 0);
        let result = self.emit(out.get_mut(start..).unwrap_or_default());
        if result.is_err() {
            out.truncate(start);
        }
        result.map(|_| ())
    }
}

/// A cursor writing a value into an exactly-sized buffer, for [`OptionRepr::emit_value`]
/// implementations and other emitters.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl<'b> Writer<'b> {
    /// Start writing at the beginning of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Append `bytes`, or fail with [`Error::BufferTooSmall`].
    pub fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.pos + bytes.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Append one octet.
    pub fn u8(&mut self, v: u8) -> Result<()> {
        self.put(&[v])
    }

    /// Append a big-endian `u16`.
    pub fn u16(&mut self, v: u16) -> Result<()> {
        self.put(&v.to_be_bytes())
    }

    /// Append a big-endian `u32`.
    pub fn u32(&mut self, v: u32) -> Result<()> {
        self.put(&v.to_be_bytes())
    }

    /// Octets written so far.
    pub fn position(&self) -> usize {
        self.pos
    }
}

/// Split a fixed-size array off the front of `bytes`.
pub(crate) fn take<const N: usize>(bytes: &[u8]) -> Result<([u8; N], &[u8])> {
    match bytes.split_first_chunk::<N>() {
        Some((head, rest)) => Ok((*head, rest)),
        None => Err(Error::Truncated),
    }
}

/// The value as exactly `N` octets, or [`Error::Malformed`].
pub(crate) fn exact<const N: usize>(value: &[u8]) -> Result<[u8; N]> {
    <[u8; N]>::try_from(value).map_err(|_| Error::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    // LCP Configure-Request from pptpd (ref-pcaps, mschapv2-mppe128, frame 15).
    const CONF_REQ: [u8; 25] = [
        0x01, 0x01, 0x00, 0x19, 0x02, 0x06, 0x00, 0x00, 0x00, 0x00, 0x03, 0x05, 0xc2, 0x23, 0x81,
        0x05, 0x06, 0x2f, 0xb8, 0x7f, 0x01, 0x07, 0x02, 0x08, 0x02,
    ];

    #[test]
    fn parse_configure_request_rfc1661_5_1() {
        let repr = Repr::parse(&CONF_REQ).unwrap();
        assert_eq!(repr.code, Code::ConfigureRequest);
        assert_eq!(repr.identifier, 1);
        assert_eq!(repr.data.len(), 21);
        let opts: Vec<_> = options(repr.data).map(|o| o.unwrap()).collect();
        let kinds: Vec<u8> = opts.iter().map(|o| o.kind()).collect();
        assert_eq!(kinds, [2, 3, 5, 7, 8]);
        assert_eq!(opts[1].value(), &[0xc2, 0x23, 0x81]);
        assert_eq!(opts[3].as_bytes(), &[7, 2]);
        let mut out = Vec::new();
        repr.push(&mut out).unwrap();
        assert_eq!(out, CONF_REQ);
        let mut buf = [0u8; 64];
        assert_eq!(repr.emit(&mut buf), Ok(25));
        assert_eq!(&buf[..25], &CONF_REQ);
    }

    #[test]
    fn padding_is_ignored_rfc1661_5() {
        let mut padded = CONF_REQ.to_vec();
        padded.extend_from_slice(&[0, 0, 0]);
        let packet = Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(packet.data().len(), 21);
        assert_eq!(packet.as_bytes(), &CONF_REQ);
        assert_eq!(Repr::parse(&padded), Repr::parse(&CONF_REQ));
    }

    #[test]
    fn bad_lengths_rfc1661_5() {
        assert_eq!(Repr::parse(&[1, 1, 0]), Err(Error::Truncated));
        assert_eq!(Repr::parse(&[1, 1, 0, 3]), Err(Error::BadLength));
        assert_eq!(Repr::parse(&[1, 1, 0, 6, 0]), Err(Error::BadLength));
        assert_eq!(Repr::parse(&[1, 1, 0, 4]).unwrap().data, &[] as &[u8]);
        let unchecked = Packet::new_unchecked(&[9u8][..]);
        assert_eq!((unchecked.length(), unchecked.data()), (0, &[][..]));
    }

    #[test]
    fn codes_round_trip() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(Code::from(v)), v);
        }
        assert_eq!(Code::from(7), Code::CodeReject);
        assert_eq!(Code::from(16), Code::Unknown(16));
        assert!(Code::ConfigureNak.carries_options() && !Code::EchoRequest.carries_options());
    }

    #[test]
    fn hostile_options_rfc1661_6() {
        // Length below 2.
        let mut it = options(&[1, 1, 0, 0]);
        assert_eq!(it.next(), Some(Err(Error::BadLength)));
        assert_eq!(it.next(), None);
        // Runs past the end.
        let mut it = options(&[1, 4, 5, 220, 3, 9, 0]);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(it.next(), Some(Err(Error::BadLength)));
        // A lone type octet.
        assert_eq!(options(&[7]).next(), Some(Err(Error::Truncated)));
        assert_eq!(check_options(&[7, 2, 8, 2]), Ok(()));
        assert_eq!(check_options(&[7, 0]), Err(Error::BadLength));
    }

    #[test]
    fn option_writer() {
        let mut out = Vec::new();
        push_option(&mut out, 1, &[0x05, 0xdc]).unwrap();
        push_option(&mut out, 7, &[]).unwrap();
        assert_eq!(out, [1, 4, 5, 0xdc, 7, 2]);
        assert_eq!(push_option(&mut out, 1, &[0; 254]), Err(Error::BadLength));
        assert!(push_option(&mut out, 1, &[0; 253]).is_ok());
        let mut buf = [0u8; 3];
        assert_eq!(
            emit_option(&mut buf, 1, &[1, 2]),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(emit_option(&mut buf, 1, &[1]), Ok(3));
        assert_eq!(buf, [1, 3, 1]);
    }

    #[test]
    fn push_packet_fills_length_or_rolls_back() {
        let mut out = vec![0xaa];
        push_packet(&mut out, Code::ConfigureAck, 7, |o| push_option(o, 7, &[])).unwrap();
        assert_eq!(out, [0xaa, 2, 7, 0, 6, 7, 2]);
        let err = push_packet(&mut out, Code::ConfigureAck, 8, |o| {
            o.extend_from_slice(&[0; 70_000]);
            Ok(())
        });
        assert_eq!(err, Err(Error::BadLength));
        assert_eq!(out.len(), 7);
    }
}
