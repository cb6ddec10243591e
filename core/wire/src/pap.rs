//! Password Authentication Protocol packets (RFC 1334 §2.2).
//!
//! PAP shares the Code/Identifier/Length header of [`cp`](crate::cp); its codes are its own.

use crate::cp::{self, Writer};
use crate::{Error, Result};

/// PAP codes (RFC 1334 §2.2).
pub mod code {
    /// Authenticate-Request.
    pub const AUTHENTICATE_REQUEST: u8 = 1;
    /// Authenticate-Ack.
    pub const AUTHENTICATE_ACK: u8 = 2;
    /// Authenticate-Nak.
    pub const AUTHENTICATE_NAK: u8 = 3;
}

/// The body of a PAP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body<'a> {
    /// Authenticate-Request (RFC 1334 §2.2.1).
    Request {
        /// Peer-ID (the user name).
        peer_id: &'a [u8],
        /// Password, in clear text.
        password: &'a [u8],
    },
    /// Authenticate-Ack (RFC 1334 §2.2.2).
    Ack {
        /// Message for humans.
        message: &'a [u8],
    },
    /// Authenticate-Nak (RFC 1334 §2.2.2).
    Nak {
        /// Message for humans.
        message: &'a [u8],
    },
}

/// A parsed PAP packet.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr<'a> {
    /// The Identifier: a Request's is echoed by the Ack/Nak that answers it.
    pub identifier: u8,
    /// The code-specific body.
    pub body: Body<'a>,
}

impl core::fmt::Debug for Repr<'_> {
    /// Never prints the password.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut d = f.debug_struct("Repr");
        d.field("identifier", &self.identifier);
        match self.body {
            Body::Request { peer_id, .. } => d
                .field("peer_id", &String::from_utf8_lossy(peer_id))
                .field("password", &"<redacted>"),
            Body::Ack { message } => d.field("ack", &String::from_utf8_lossy(message)),
            Body::Nak { message } => d.field("nak", &String::from_utf8_lossy(message)),
        };
        d.finish()
    }
}

/// Split a one-octet length-prefixed field off the front of `data`.
fn counted(data: &[u8]) -> Result<(&[u8], &[u8])> {
    let (&len, rest) = data.split_first().ok_or(Error::Truncated)?;
    let len = usize::from(len);
    if rest.len() < len {
        return Err(Error::BadLength);
    }
    Ok(rest.split_at(len))
}

impl<'a> Repr<'a> {
    /// Parse a whole PAP packet (header checked as by [`cp::Packet::new_checked`]).
    ///
    /// Like pppd, an Ack/Nak without the Msg-Length octet is accepted with an empty message,
    /// and octets after the last field are ignored.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let packet = cp::Repr::parse(bytes)?;
        let data = packet.data;
        let body = match u8::from(packet.code) {
            code::AUTHENTICATE_REQUEST => {
                let (peer_id, rest) = counted(data)?;
                let (password, _) = counted(rest)?;
                Body::Request { peer_id, password }
            }
            c @ (code::AUTHENTICATE_ACK | code::AUTHENTICATE_NAK) => {
                let message = if data.is_empty() {
                    data
                } else {
                    counted(data)?.0
                };
                if c == code::AUTHENTICATE_ACK {
                    Body::Ack { message }
                } else {
                    Body::Nak { message }
                }
            }
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
            Body::Request { .. } => code::AUTHENTICATE_REQUEST,
            Body::Ack { .. } => code::AUTHENTICATE_ACK,
            Body::Nak { .. } => code::AUTHENTICATE_NAK,
        }
    }

    /// Length of the emitted packet.
    pub fn buffer_len(&self) -> usize {
        cp::HEADER_LEN
            + match self.body {
                Body::Request { peer_id, password } => 2 + peer_id.len() + password.len(),
                Body::Ack { message } | Body::Nak { message } => 1 + message.len(),
            }
    }

    /// Write the packet to the start of `buf`; returns its length. Fields longer than 255
    /// octets fail with [`Error::BadLength`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let length = u16::try_from(len).map_err(|_| Error::BadLength)?;
        let mut w = Writer::new(buf.get_mut(..len).ok_or(Error::BufferTooSmall)?);
        w.put(&[self.code(), self.identifier])?;
        w.u16(length)?;
        let field = |w: &mut Writer<'_>, bytes: &[u8]| -> Result<()> {
            w.u8(u8::try_from(bytes.len()).map_err(|_| Error::BadLength)?)?;
            w.put(bytes)
        };
        match self.body {
            Body::Request { peer_id, password } => {
                field(&mut w, peer_id)?;
                field(&mut w, password)?;
            }
            Body::Ack { message } | Body::Nak { message } => field(&mut w, message)?,
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
    fn authenticate_request_rfc1334_2_2_1() {
        let bytes = b"\x01\x07\x00\x16\x08testuser\x08testpass";
        let repr = round_trip(bytes);
        assert_eq!(repr.identifier, 7);
        assert_eq!(
            repr.body,
            Body::Request {
                peer_id: b"testuser",
                password: b"testpass"
            }
        );
        assert!(!format!("{repr:?}").contains("testpass"));
    }

    #[test]
    fn authenticate_ack_nak_rfc1334_2_2_2() {
        let ack = round_trip(b"\x02\x07\x00\x0e\x09Login ok.");
        assert_eq!(
            ack.body,
            Body::Ack {
                message: b"Login ok."
            }
        );
        let nak = round_trip(b"\x03\x08\x00\x05\x00");
        assert_eq!(nak.body, Body::Nak { message: b"" });
    }

    #[test]
    fn lenient_like_pppd() {
        // Ack without Msg-Length.
        assert_eq!(
            Repr::parse(b"\x02\x01\x00\x04").unwrap().body,
            Body::Ack { message: b"" }
        );
        // Trailing octets after the password are ignored.
        let r = Repr::parse(b"\x01\x01\x00\x09\x01u\x01pX").unwrap();
        assert_eq!(
            r.body,
            Body::Request {
                peer_id: b"u",
                password: b"p"
            }
        );
    }

    #[test]
    fn hostile_pap() {
        assert_eq!(Repr::parse(b"\x01\x01\x00\x04"), Err(Error::Truncated));
        assert_eq!(Repr::parse(b"\x01\x01\x00\x06\x05u"), Err(Error::BadLength));
        assert_eq!(
            Repr::parse(b"\x01\x01\x00\x07\x01u\x09"),
            Err(Error::BadLength)
        );
        assert_eq!(Repr::parse(b"\x02\x01\x00\x06\x09a"), Err(Error::BadLength));
        assert_eq!(Repr::parse(b"\x04\x01\x00\x04"), Err(Error::UnknownCode));
        assert_eq!(Repr::parse(b"\x01\x01\x00\x09\x01"), Err(Error::BadLength));
        let long = [b'x'; 256];
        let r = Repr {
            identifier: 1,
            body: Body::Ack { message: &long },
        };
        let mut out = Vec::new();
        assert_eq!(r.push(&mut out), Err(Error::BadLength));
        assert!(out.is_empty());
    }
}
