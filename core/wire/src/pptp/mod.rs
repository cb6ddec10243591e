//! PPTP control messages (RFC 2637 §2), carried over the TCP connection to port 1723.
//!
//! Every control message starts with the same 12-octet header (RFC 2637 §2, figure of each
//! message):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |            Length             |       PPTP Message Type       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Magic Cookie                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Control Message Type      |           Reserved0           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! and every one of the 15 message types has a fixed length, so [`Packet::new_checked`]
//! validates Length exactly. On a TCP stream, [`message_len`] finds where the next message
//! ends without copying.
//!
//! Reserved fields "MUST be 0" (RFC 2637 §2) but are ignored when parsing, like real peers
//! do; [`Packet::reserved_is_zero`] tells whether a message honours that, and [`Repr::emit`]
//! always writes zeros.

use core::fmt;
use core::ops::{Range, RangeFrom};

mod call;
mod codes;
mod control;
mod text;

pub use call::{
    CallClearRequest, CallDisconnectNotify, IncomingCallConnected, IncomingCallReply,
    IncomingCallRequest, OutgoingCallReply, OutgoingCallRequest, SetLinkInfo, WanErrorNotify,
};
pub use codes::{
    BearerCapabilities, BearerType, DisconnectResult, EchoResult, FramingCapabilities, FramingType,
    GeneralError, IncomingCallResult, MessageType, OutgoingCallResult, StartResult, StopReason,
    StopResult,
};
pub use control::{
    EchoReply, EchoRequest, StartControlConnectionReply, StartControlConnectionRequest,
    StopControlConnectionReply, StopControlConnectionRequest,
};
pub use text::FixedStr;

/// The TCP port of the control connection (RFC 2637 §1.3).
pub const TCP_PORT: u16 = 1723;
/// The Magic Cookie every control message carries (RFC 2637 §2).
pub const MAGIC_COOKIE: u32 = 0x1A2B_3C4D;
/// PPTP Message Type of a control message (RFC 2637 §2); the only type defined.
pub const CONTROL_MESSAGE: u16 = 1;
/// The protocol version this document describes: 1.0 (RFC 2637 §2.1).
pub const PROTOCOL_VERSION: u16 = 0x0100;
/// Length of the common header.
pub const HEADER_LEN: usize = 12;
/// Length of the longest control message, Incoming-Call-Request (RFC 2637 §2.9): the most a
/// control-connection receive buffer ever has to hold for one message.
pub const MAX_MESSAGE_LEN: usize = 220;

/// Why bytes are not a valid PPTP control message.
///
/// Each maps to the General Error Code of RFC 2637 §2.16 a reply would carry; see
/// [`Error::general_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Fewer octets than the header, or than the Length field announces.
    Truncated,
    /// The Length field is not the fixed length of the message type (or, for an unknown
    /// type, below the header or above [`MAX_MESSAGE_LEN`]).
    BadLength {
        /// The Control Message Type.
        message_type: MessageType,
        /// The Length field.
        length: u16,
    },
    /// The PPTP Message Type is not 1 (control).
    BadPptpType(u16),
    /// The Magic Cookie is not 0x1A2B3C4D.
    BadCookie(u32),
    /// A Control Message Type RFC 2637 does not define (outside 1-15).
    UnknownType(u16),
    /// The output buffer is too small for the message.
    BufferTooSmall,
}

impl Error {
    /// The General Error Code (RFC 2637 §2.16) describing this error to the peer.
    pub fn general_error(self) -> GeneralError {
        match self {
            Error::Truncated | Error::BadLength { .. } | Error::BadCookie(_) => {
                GeneralError::BadFormat
            }
            Error::BadPptpType(_) | Error::UnknownType(_) => GeneralError::BadValue,
            Error::BufferTooSmall => GeneralError::NoResource,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated PPTP control message"),
            Error::BadLength {
                message_type,
                length,
            } => write!(f, "PPTP {message_type} with Length {length}"),
            Error::BadPptpType(t) => write!(f, "PPTP Message Type {t} is not control (1)"),
            Error::BadCookie(c) => write!(f, "PPTP Magic Cookie {c:#010x}"),
            Error::UnknownType(t) => write!(f, "unknown PPTP Control Message Type {t}"),
            Error::BufferTooSmall => f.write_str("output buffer too small"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for crate::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Truncated => crate::Error::Truncated,
            Error::BadLength { .. } => crate::Error::BadLength,
            Error::BadPptpType(_) | Error::BadCookie(_) => crate::Error::Malformed,
            Error::UnknownType(_) => crate::Error::UnknownCode,
            Error::BufferTooSmall => crate::Error::BufferTooSmall,
        }
    }
}

/// The result of parsing or emitting a PPTP control message.
pub type Result<T> = core::result::Result<T, Error>;

/// Byte ranges of the common header (RFC 2637 §2).
pub mod field {
    use super::{Range, RangeFrom};
    /// Length: the whole message, header included.
    pub const LENGTH: Range<usize> = 0..2;
    /// PPTP Message Type: 1 for control.
    pub const PPTP_TYPE: Range<usize> = 2..4;
    /// Magic Cookie: 0x1A2B3C4D.
    pub const MAGIC_COOKIE: Range<usize> = 4..8;
    /// Control Message Type: 1-15.
    pub const CONTROL_TYPE: Range<usize> = 8..10;
    /// Reserved0: MUST be 0.
    pub const RESERVED0: Range<usize> = 10..12;
    /// The message-specific fields, up to Length.
    pub const BODY: RangeFrom<usize> = 12..;
}

fn be16(bytes: &[u8], range: Range<usize>) -> u16 {
    match bytes.get(range) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

fn be32(bytes: &[u8], range: Range<usize>) -> u32 {
    match bytes.get(range) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Checks the header at the start of `bytes` (at least [`HEADER_LEN`] octets) and returns
/// the message length it announces.
fn check_header(bytes: &[u8]) -> Result<usize> {
    let pptp_type = be16(bytes, field::PPTP_TYPE);
    if pptp_type != CONTROL_MESSAGE {
        return Err(Error::BadPptpType(pptp_type));
    }
    let cookie = be32(bytes, field::MAGIC_COOKIE);
    if cookie != MAGIC_COOKIE {
        return Err(Error::BadCookie(cookie));
    }
    let message_type = MessageType::from(be16(bytes, field::CONTROL_TYPE));
    let length = be16(bytes, field::LENGTH);
    let len = usize::from(length);
    let fits = match message_type.fixed_len() {
        Some(fixed) => len == fixed,
        None => (HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len),
    };
    if !fits {
        return Err(Error::BadLength {
            message_type,
            length,
        });
    }
    Ok(len)
}

/// Frame the next control message on a TCP byte stream.
///
/// `Ok(None)`: fewer than [`HEADER_LEN`] octets, or fewer than the header's Length: wait
/// for more. `Ok(Some(len))`: the first `len` octets are one whole message, which
/// [`Packet::new_checked`] accepts unless its type is unknown (an unknown type gets a
/// length between [`HEADER_LEN`] and [`MAX_MESSAGE_LEN`] so the caller may skip it).
/// `Err`: the header is bad (PPTP Message Type, Magic Cookie, Length); the stream cannot
/// be resynchronised and the control connection should close (RFC 2637 §2.16,
/// Bad-Format).
pub fn message_len(stream: &[u8]) -> Result<Option<usize>> {
    if stream.len() < HEADER_LEN {
        return Ok(None);
    }
    let len = check_header(stream)?;
    Ok((stream.len() >= len).then_some(len))
}

/// A view of one PPTP control message.
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

    /// Wrap untrusted bytes; see [`check`](Self::check). Octets after Length are allowed
    /// (the next message on the stream) and ignored.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Packet { buffer };
        packet.check()?;
        Ok(packet)
    }

    /// The checks of [`new_checked`](Self::new_checked), in this order: the header is
    /// present ([`Error::Truncated`]), PPTP Message Type is 1 ([`Error::BadPptpType`]), the
    /// Magic Cookie is right ([`Error::BadCookie`]), the Length is the fixed length of the
    /// Control Message Type ([`Error::BadLength`]), the type is one of the 15 of RFC 2637
    /// §2 ([`Error::UnknownType`]), and the buffer holds Length octets
    /// ([`Error::Truncated`]).
    pub fn check(&self) -> Result<()> {
        let bytes = self.buffer.as_ref();
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let len = check_header(bytes)?;
        if let MessageType::Unknown(t) = self.message_type() {
            return Err(Error::UnknownType(t));
        }
        if bytes.len() < len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Consume the view, returning the bytes.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Length field.
    pub fn length(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    /// The PPTP Message Type field (1: control).
    pub fn pptp_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PPTP_TYPE)
    }

    /// The Magic Cookie field.
    pub fn magic_cookie(&self) -> u32 {
        be32(self.buffer.as_ref(), field::MAGIC_COOKIE)
    }

    /// The Control Message Type field.
    pub fn message_type(&self) -> MessageType {
        MessageType::from(be16(self.buffer.as_ref(), field::CONTROL_TYPE))
    }

    /// The Reserved0 field.
    pub fn reserved0(&self) -> u16 {
        be16(self.buffer.as_ref(), field::RESERVED0)
    }

    /// The message-specific fields: from the header up to Length.
    pub fn body(&self) -> &[u8] {
        let end = usize::from(self.length());
        self.buffer
            .as_ref()
            .get(HEADER_LEN..end)
            .unwrap_or_default()
    }

    /// Header and body, without what follows Length.
    pub fn as_bytes(&self) -> &[u8] {
        let end = usize::from(self.length());
        self.buffer.as_ref().get(..end).unwrap_or_default()
    }

    /// Whether Reserved0 and every reserved field of the body are zero, as RFC 2637 §2
    /// requires of senders (a receiver may answer Bad-Value, §2.16). False for a message
    /// that does not parse.
    pub fn reserved_is_zero(&self) -> bool {
        if self.reserved0() != 0 {
            return false;
        }
        let mut reader = Reader::new(self.body());
        Repr::read(self.message_type(), &mut reader).is_ok() && !reader.reserved_nonzero
    }
}

/// Reads the fields of a message body in order.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    /// Set when a reserved field was not zero.
    reserved_nonzero: bool,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            reserved_nonzero: false,
        }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or(Error::Truncated)?;
        self.bytes = rest;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Skip a reserved field of `N` octets, noting whether it was zero.
    pub(crate) fn reserved<const N: usize>(&mut self) -> Result<()> {
        let field: [u8; N] = self.array()?;
        self.reserved_nonzero |= field.iter().any(|&b| b != 0);
        Ok(())
    }
}

/// Writes the fields of a message in order.
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
}

impl Writer<'_> {
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let buf = core::mem::take(&mut self.buf);
        let (head, rest) = buf
            .split_at_mut_checked(bytes.len())
            .ok_or(Error::BufferTooSmall)?;
        head.copy_from_slice(bytes);
        self.buf = rest;
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8) -> Result<()> {
        self.put(&[v])
    }

    pub(crate) fn u16(&mut self, v: u16) -> Result<()> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn u32(&mut self, v: u32) -> Result<()> {
        self.put(&v.to_be_bytes())
    }

    /// A reserved field of `N` zero octets.
    pub(crate) fn reserved<const N: usize>(&mut self) -> Result<()> {
        self.put(&[0; N])
    }
}

/// The body of one message type: its fields after the common header, in order.
pub(crate) trait Body: Sized {
    /// The Control Message Type.
    const TYPE: MessageType;
    /// Read the body (exactly the fixed length, checked before).
    fn read(r: &mut Reader<'_>) -> Result<Self>;
    /// Write the body.
    fn write(&self, w: &mut Writer<'_>) -> Result<()>;
}

macro_rules! messages {
    ($($(#[$doc:meta])* $variant:ident,)*) => {
        /// A parsed PPTP control message: one variant per Control Message Type of RFC 2637
        /// §2. Build one from a message struct with `From`, e.g.
        /// `Repr::from(EchoRequest { identifier: 7 })`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Repr {
            $($(#[$doc])* $variant($variant),)*
        }

        $(
            impl From<$variant> for Repr {
                fn from(m: $variant) -> Self {
                    Repr::$variant(m)
                }
            }
        )*

        impl Repr {
            /// The Control Message Type.
            pub fn message_type(&self) -> MessageType {
                match self {
                    $(Repr::$variant(_) => <$variant as Body>::TYPE,)*
                }
            }

            fn read(message_type: MessageType, r: &mut Reader<'_>) -> Result<Self> {
                $(
                    if message_type == <$variant as Body>::TYPE {
                        return <$variant as Body>::read(r).map(Repr::$variant);
                    }
                )*
                Err(Error::UnknownType(message_type.into()))
            }

            fn write_body(&self, w: &mut Writer<'_>) -> Result<()> {
                match self {
                    $(Repr::$variant(m) => m.write(w),)*
                }
            }
        }
    };
}

messages! {
    /// Start-Control-Connection-Request (RFC 2637 §2.1).
    StartControlConnectionRequest,
    /// Start-Control-Connection-Reply (RFC 2637 §2.2).
    StartControlConnectionReply,
    /// Stop-Control-Connection-Request (RFC 2637 §2.3).
    StopControlConnectionRequest,
    /// Stop-Control-Connection-Reply (RFC 2637 §2.4).
    StopControlConnectionReply,
    /// Echo-Request (RFC 2637 §2.5).
    EchoRequest,
    /// Echo-Reply (RFC 2637 §2.6).
    EchoReply,
    /// Outgoing-Call-Request (RFC 2637 §2.7).
    OutgoingCallRequest,
    /// Outgoing-Call-Reply (RFC 2637 §2.8).
    OutgoingCallReply,
    /// Incoming-Call-Request (RFC 2637 §2.9).
    IncomingCallRequest,
    /// Incoming-Call-Reply (RFC 2637 §2.10).
    IncomingCallReply,
    /// Incoming-Call-Connected (RFC 2637 §2.11).
    IncomingCallConnected,
    /// Call-Clear-Request (RFC 2637 §2.12).
    CallClearRequest,
    /// Call-Disconnect-Notify (RFC 2637 §2.13).
    CallDisconnectNotify,
    /// WAN-Error-Notify (RFC 2637 §2.14).
    WanErrorNotify,
    /// Set-Link-Info (RFC 2637 §2.15).
    SetLinkInfo,
}

impl Repr {
    /// Parse untrusted bytes (checked as by [`Packet::new_checked`]); octets after Length
    /// are ignored. Reserved fields are not checked (see [`Packet::reserved_is_zero`]).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let packet = Packet::new_checked(bytes)?;
        Repr::read(packet.message_type(), &mut Reader::new(packet.body()))
    }

    /// Length of the emitted message: the fixed length of its type.
    pub fn buffer_len(&self) -> usize {
        self.message_type().fixed_len().unwrap_or(HEADER_LEN)
    }

    /// Write the message to the start of `buf`; returns its length. Reserved fields are
    /// written as zeros.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let length = u16::try_from(len).map_err(|_| Error::BufferTooSmall)?;
        let mut w = Writer {
            buf: buf.get_mut(..len).ok_or(Error::BufferTooSmall)?,
        };
        w.u16(length)?;
        w.u16(CONTROL_MESSAGE)?;
        w.u32(MAGIC_COOKIE)?;
        w.u16(self.message_type().into())?;
        w.reserved::<2>()?;
        self.write_body(&mut w)?;
        if !w.buf.is_empty() {
            // A body shorter than its type's fixed length: a bug in this module.
            return Err(Error::BadLength {
                message_type: self.message_type(),
                length,
            });
        }
        Ok(len)
    }

    /// Append the message to `out`.
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

#[cfg(test)]
mod tests;
