//! Challenge-Handshake Authentication Protocol packets (RFC 1994 §4), and the MS-CHAP value
//! and message formats carried in them ([`mschap`], RFC 2433 and RFC 2759).

pub mod mschap;

use crate::cp::{self, Writer};
use crate::{Error, Result};

/// CHAP codes (RFC 1994 §4).
pub mod code {
    /// Challenge.
    pub const CHALLENGE: u8 = 1;
    /// Response.
    pub const RESPONSE: u8 = 2;
    /// Success.
    pub const SUCCESS: u8 = 3;
    /// Failure.
    pub const FAILURE: u8 = 4;
}

/// The body of a CHAP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body<'a> {
    /// Challenge (RFC 1994 §4.1): the challenge value and the authenticator's name.
    Challenge {
        /// The challenge value (16 octets for MS-CHAPv2, 8 for MS-CHAPv1).
        value: &'a [u8],
        /// The authenticator's name.
        name: &'a [u8],
    },
    /// Response (RFC 1994 §4.1): the response value and the peer's name.
    Response {
        /// The response value (49 octets for MS-CHAP, see [`mschap`]).
        value: &'a [u8],
        /// The peer's name (the user name).
        name: &'a [u8],
    },
    /// Success (RFC 1994 §4.2).
    Success {
        /// The message; for MS-CHAPv2 an [`mschap::V2Success`].
        message: &'a [u8],
    },
    /// Failure (RFC 1994 §4.2).
    Failure {
        /// The message; for MS-CHAP an [`mschap::Failure`].
        message: &'a [u8],
    },
}

/// A parsed CHAP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr<'a> {
    /// The Identifier, echoed from Challenge to Response to Success/Failure.
    pub identifier: u8,
    /// The code-specific body.
    pub body: Body<'a>,
}

impl<'a> Repr<'a> {
    /// Parse a whole CHAP packet (header checked as by [`cp::Packet::new_checked`]).
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let packet = cp::Repr::parse(bytes)?;
        let data = packet.data;
        let body = match u8::from(packet.code) {
            c @ (code::CHALLENGE | code::RESPONSE) => {
                let (&size, rest) = data.split_first().ok_or(Error::Truncated)?;
                let size = usize::from(size);
                if rest.len() < size {
                    return Err(Error::BadLength);
                }
                let (value, name) = rest.split_at(size);
                if c == code::CHALLENGE {
                    Body::Challenge { value, name }
                } else {
                    Body::Response { value, name }
                }
            }
            code::SUCCESS => Body::Success { message: data },
            code::FAILURE => Body::Failure { message: data },
            _ => return Err(Error::UnknownCode),
        };
        Ok(Repr {
            identifier: packet.identifier,
            body,
        })
    }

    /// The Code octet of this packet.
    pub fn code(&self) -> u8 {
        match self.body {
            Body::Challenge { .. } => code::CHALLENGE,
            Body::Response { .. } => code::RESPONSE,
            Body::Success { .. } => code::SUCCESS,
            Body::Failure { .. } => code::FAILURE,
        }
    }

    /// Length of the emitted packet.
    pub fn buffer_len(&self) -> usize {
        cp::HEADER_LEN
            + match self.body {
                Body::Challenge { value, name } | Body::Response { value, name } => {
                    1 + value.len() + name.len()
                }
                Body::Success { message } | Body::Failure { message } => message.len(),
            }
    }

    /// Write the packet to the start of `buf`; returns its length. A value longer than 255
    /// octets fails with [`Error::BadLength`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let length = u16::try_from(len).map_err(|_| Error::BadLength)?;
        let mut w = Writer::new(buf.get_mut(..len).ok_or(Error::BufferTooSmall)?);
        w.put(&[self.code(), self.identifier])?;
        w.u16(length)?;
        match self.body {
            Body::Challenge { value, name } | Body::Response { value, name } => {
                w.u8(u8::try_from(value.len()).map_err(|_| Error::BadLength)?)?;
                w.put(value)?;
                w.put(name)?;
            }
            Body::Success { message } | Body::Failure { message } => w.put(message)?,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> Repr<'_> {
        let repr = Repr::parse(bytes).unwrap();
        let mut out = Vec::new();
        repr.push(&mut out).unwrap();
        assert_eq!(out, bytes);
        assert_eq!(repr.buffer_len(), bytes.len());
        repr
    }

    #[test]
    fn challenge_rfc1994_4_1() {
        // pptpd's MS-CHAPv2 Challenge (ref-pcaps mschapv2-mppe128, frame 21).
        let bytes = [
            0x01, 0x4c, 0x00, 0x1a, 0x10, 0x86, 0x2d, 0x60, 0xfd, 0xb3, 0x11, 0xe0, 0x37, 0xab,
            0x6f, 0xe1, 0xd6, 0x05, 0xcd, 0xb2, 0xbe, b'p', b'p', b't', b'p', b'd',
        ];
        let repr = round_trip(&bytes);
        assert_eq!(repr.identifier, 0x4c);
        match repr.body {
            Body::Challenge { value, name } => {
                assert_eq!(value.len(), 16);
                assert_eq!(value[0], 0x86);
                assert_eq!(name, b"pptpd");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn success_failure_rfc1994_4_2() {
        assert_eq!(
            round_trip(b"\x03\x01\x00\x04").body,
            Body::Success { message: b"" }
        );
        assert_eq!(
            round_trip(b"\x04\x02\x00\x06no").body,
            Body::Failure { message: b"no" }
        );
        assert_eq!(
            round_trip(b"\x02\x02\x00\x08\x01\xaaab").body,
            Body::Response {
                value: &[0xaa],
                name: b"ab"
            }
        );
    }

    #[test]
    fn hostile_chap() {
        assert_eq!(Repr::parse(b"\x01\x01\x00\x04"), Err(Error::Truncated));
        assert_eq!(Repr::parse(b"\x01\x01\x00\x06\x05a"), Err(Error::BadLength));
        assert_eq!(Repr::parse(b"\x05\x01\x00\x04"), Err(Error::UnknownCode));
        assert_eq!(Repr::parse(b"\x02\x01\x00\x09\x01a"), Err(Error::BadLength));
        let long = [0u8; 256];
        let r = Repr {
            identifier: 0,
            body: Body::Challenge {
                value: &long,
                name: b"",
            },
        };
        let mut buf = [0u8; 300];
        assert_eq!(r.emit(&mut buf), Err(Error::BadLength));
    }
}
