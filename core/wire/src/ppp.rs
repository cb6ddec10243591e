//! The PPP encapsulation: Address/Control and Protocol fields (RFC 1661 §2, RFC 1662 §3).
//!
//! A received frame may start with the Address and Control fields `FF 03` or, once
//! Address-and-Control-Field-Compression is negotiated, omit them (RFC 1661 §6.6, RFC 1662
//! §3.2: receivers decide by looking for `FF 03`). The Protocol field is two octets, or one when
//! Protocol-Field-Compression is in force and the value fits (RFC 1661 §6.5: an odd first octet
//! marks a one-octet field).

use core::fmt;

use crate::{Error, Result};

/// The all-stations Address field (RFC 1662 §3.1).
pub const ADDRESS: u8 = 0xff;
/// The Unnumbered Information Control field (RFC 1662 §3.1).
pub const CONTROL: u8 = 0x03;

/// A PPP Protocol field value (RFC 1661 §2; numbers from the IANA PPP DLL protocol registry).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Protocol(pub u16);

impl Protocol {
    /// Internet Protocol version 4 (RFC 1332).
    pub const IPV4: Protocol = Protocol(0x0021);
    /// Novell IPX (RFC 1552).
    pub const IPX: Protocol = Protocol(0x002b);
    /// NetBIOS Frames (RFC 2097).
    pub const NBF: Protocol = Protocol(0x003f);
    /// Internet Protocol version 6 (RFC 5072).
    pub const IPV6: Protocol = Protocol(0x0057);
    /// Compressed datagram (CCP, RFC 1962); MPPE/MPPC packets (RFC 3078).
    pub const COMPRESSED: Protocol = Protocol(0x00fd);
    /// IP Control Protocol (RFC 1332).
    pub const IPCP: Protocol = Protocol(0x8021);
    /// IPX Control Protocol (RFC 1552).
    pub const IPXCP: Protocol = Protocol(0x802b);
    /// NetBIOS Frames Control Protocol (RFC 2097).
    pub const NBFCP: Protocol = Protocol(0x803f);
    /// IPv6 Control Protocol (RFC 5072).
    pub const IPV6CP: Protocol = Protocol(0x8057);
    /// Compression Control Protocol (RFC 1962).
    pub const CCP: Protocol = Protocol(0x80fd);
    /// Link Control Protocol (RFC 1661).
    pub const LCP: Protocol = Protocol(0xc021);
    /// Password Authentication Protocol (RFC 1334).
    pub const PAP: Protocol = Protocol(0xc023);
    /// Link Quality Report (RFC 1989).
    pub const LQR: Protocol = Protocol(0xc025);
    /// Challenge Handshake Authentication Protocol (RFC 1994).
    pub const CHAP: Protocol = Protocol(0xc223);

    /// Whether the value is a legal protocol number: the least significant bit of the least
    /// significant octet is 1 and that of the most significant octet is 0 (RFC 1661 §2).
    pub const fn is_valid(self) -> bool {
        self.0 & 0x0001 == 0x0001 && self.0 & 0x0100 == 0
    }

    /// `0***`-`3***`: a network-layer protocol (RFC 1661 §2).
    pub const fn is_network_layer(self) -> bool {
        self.0 < 0x4000
    }

    /// `8***`-`b***`: a Network Control Protocol (RFC 1661 §2).
    pub const fn is_ncp(self) -> bool {
        self.0 >= 0x8000 && self.0 < 0xc000
    }

    /// `c***`-`f***`: a link-layer control protocol (LCP, authentication, LQR; RFC 1661 §2).
    pub const fn is_link_control(self) -> bool {
        self.0 >= 0xc000
    }

    /// Any control protocol: NCP or link-layer control (`8***`-`f***`, RFC 1661 §2).
    pub const fn is_control(self) -> bool {
        self.0 >= 0x8000
    }

    /// The NCP that negotiates this network-layer protocol (`0x0021` -> `0x8021`), by the
    /// RFC 1661 §2 numbering convention.
    pub const fn ncp(self) -> Option<Protocol> {
        if self.is_network_layer() {
            Some(Protocol(self.0 | 0x8000))
        } else {
            None
        }
    }

    /// Whether Protocol-Field-Compression may send this value in one octet (RFC 1661 §6.5).
    pub const fn is_compressible(self) -> bool {
        self.0 < 0x0100
    }

    /// A short name for logs, if the value is one of the constants above.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::IPV4 => "IPv4",
            Self::IPX => "IPX",
            Self::NBF => "NBF",
            Self::IPV6 => "IPv6",
            Self::COMPRESSED => "Compressed",
            Self::IPCP => "IPCP",
            Self::IPXCP => "IPXCP",
            Self::NBFCP => "NBFCP",
            Self::IPV6CP => "IPV6CP",
            Self::CCP => "CCP",
            Self::LCP => "LCP",
            Self::PAP => "PAP",
            Self::LQR => "LQR",
            Self::CHAP => "CHAP",
            _ => return None,
        })
    }
}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({:#06x})", self.0),
            None => write!(f, "Protocol({:#06x})", self.0),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{:#06x}", self.0),
        }
    }
}

impl From<u16> for Protocol {
    fn from(v: u16) -> Self {
        Protocol(v)
    }
}

impl From<Protocol> for u16 {
    fn from(p: Protocol) -> Self {
        p.0
    }
}

/// A read view of one PPP frame (after HDLC deframing or GRE decapsulation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wrap bytes without checking; accessors may then return an error-free but meaningless
    /// view. Prefer [`new_checked`](Self::new_checked) for untrusted input.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Wrap bytes, checking that the header is complete and the protocol number valid.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Frame { buffer };
        frame.check()?;
        Ok(frame)
    }

    /// The checks of [`new_checked`](Self::new_checked).
    pub fn check(&self) -> Result<()> {
        let (protocol, _) = self.parse_protocol()?;
        if protocol.is_valid() {
            Ok(())
        } else {
            Err(Error::BadProtocol)
        }
    }

    /// Consume the view, returning the bytes.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Whether the frame carries the `FF 03` Address and Control fields (RFC 1662 §3.2).
    pub fn has_address_control(&self) -> bool {
        self.buffer.as_ref().starts_with(&[ADDRESS, CONTROL])
    }

    fn protocol_offset(&self) -> usize {
        if self.has_address_control() { 2 } else { 0 }
    }

    /// Protocol value and header length.
    fn parse_protocol(&self) -> Result<(Protocol, usize)> {
        let at = self.protocol_offset();
        let bytes = self.buffer.as_ref().get(at..).unwrap_or_default();
        match bytes {
            [first, ..] if first & 1 == 1 => Ok((Protocol(u16::from(*first)), at + 1)),
            [hi, lo, ..] => Ok((Protocol(u16::from_be_bytes([*hi, *lo])), at + 2)),
            _ => Err(Error::Truncated),
        }
    }

    /// The Protocol field (RFC 1661 §2); `Protocol(0)` if the frame is truncated.
    pub fn protocol(&self) -> Protocol {
        self.parse_protocol().map(|(p, _)| p).unwrap_or(Protocol(0))
    }

    /// Whether the Protocol field is one octet (compressed, RFC 1661 §6.5).
    pub fn is_protocol_compressed(&self) -> bool {
        matches!(self.parse_protocol(), Ok((_, n)) if n == self.protocol_offset() + 1)
    }

    /// Octets before the information field.
    pub fn header_len(&self) -> usize {
        self.parse_protocol()
            .map(|(_, n)| n)
            .unwrap_or(self.buffer.as_ref().len())
    }

    /// The information field (and any padding): everything after the Protocol field.
    pub fn payload(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(self.header_len()..)
            .unwrap_or_default()
    }
}

/// The header of a PPP frame: what an emitter writes before the information field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The Protocol field.
    pub protocol: Protocol,
    /// Omit the `FF 03` Address and Control fields (Address-and-Control-Field-Compression,
    /// RFC 1661 §6.6). Real peers keep them on LCP codes 1-7 even when ACFC is negotiated.
    pub acfc: bool,
    /// Send the Protocol field in one octet (Protocol-Field-Compression, RFC 1661 §6.5).
    /// Applies only to protocols below `0x0100`; ignored for others.
    pub pfc: bool,
}

impl Header {
    /// A header for `protocol` with the given compression flags.
    pub const fn new(protocol: Protocol, acfc: bool, pfc: bool) -> Self {
        Header {
            protocol,
            acfc,
            pfc,
        }
    }

    /// Parse the header at the start of `frame`; returns it and the information field.
    ///
    /// `acfc` and `pfc` tell what the sender did, so `emit` reproduces the same bytes.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &T) -> Result<(Header, &[u8])> {
        let view = Frame::new_checked(frame.as_ref())?;
        let header = Header {
            protocol: view.protocol(),
            acfc: !view.has_address_control(),
            pfc: view.is_protocol_compressed(),
        };
        let payload = frame.as_ref().get(view.header_len()..).unwrap_or_default();
        Ok((header, payload))
    }

    fn compressed(&self) -> bool {
        self.pfc && self.protocol.is_compressible()
    }

    /// Length of the emitted header: 1 to 4 octets.
    pub const fn buffer_len(&self) -> usize {
        let ac = if self.acfc { 0 } else { 2 };
        let proto = if self.pfc && self.protocol.is_compressible() {
            1
        } else {
            2
        };
        ac + proto
    }

    /// Write the header to the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let [hi, lo] = self.protocol.0.to_be_bytes();
        let bytes: &[u8] = match (self.acfc, self.compressed()) {
            (false, false) => &[ADDRESS, CONTROL, hi, lo],
            (false, true) => &[ADDRESS, CONTROL, lo],
            (true, false) => &[hi, lo],
            (true, true) => &[lo],
        };
        let dst = buf.get_mut(..bytes.len()).ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        Ok(bytes.len())
    }

    /// Append the header and then `payload` to `out`.
    pub fn push_frame(&self, payload: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + self.buffer_len(), 0);
        // The slice was just sized to `buffer_len`, so emit cannot fail.
        let _ = self.emit(out.get_mut(start..).unwrap_or_default());
        out.extend_from_slice(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_validity_rfc1661_2() {
        for p in [
            Protocol::LCP,
            Protocol::PAP,
            Protocol::CHAP,
            Protocol::LQR,
            Protocol::IPCP,
            Protocol::IPV6CP,
            Protocol::CCP,
            Protocol::IPXCP,
            Protocol::NBFCP,
            Protocol::IPV4,
            Protocol::IPV6,
            Protocol::IPX,
            Protocol::NBF,
            Protocol::COMPRESSED,
        ] {
            assert!(p.is_valid(), "{p:?}");
        }
        assert!(!Protocol(0xc020).is_valid()); // last octet even
        assert!(!Protocol(0x0121).is_valid()); // first octet odd
        assert!(!Protocol(0).is_valid());
    }

    #[test]
    fn protocol_classes_rfc1661_2() {
        assert!(Protocol::IPV4.is_network_layer() && !Protocol::IPV4.is_control());
        assert!(Protocol::IPCP.is_ncp() && Protocol::IPCP.is_control());
        assert!(Protocol::LCP.is_link_control() && !Protocol::LCP.is_ncp());
        assert!(Protocol::CHAP.is_control());
        assert_eq!(Protocol::IPV4.ncp(), Some(Protocol::IPCP));
        assert_eq!(Protocol::IPX.ncp(), Some(Protocol::IPXCP));
        assert_eq!(Protocol::NBF.ncp(), Some(Protocol::NBFCP));
        assert_eq!(Protocol::IPV6.ncp(), Some(Protocol::IPV6CP));
        assert_eq!(Protocol::COMPRESSED.ncp(), Some(Protocol::CCP));
        assert_eq!(Protocol::LCP.ncp(), None);
        assert_eq!(format!("{:?}", Protocol::LCP), "LCP(0xc021)");
        assert_eq!(Protocol(0x4021).to_string(), "0x4021");
    }

    #[test]
    fn parse_all_four_shapes_rfc1661_6_5_6_6() {
        let cases: [(&[u8], Header, &[u8]); 4] = [
            (
                &[0xff, 0x03, 0xc0, 0x21, 1, 2],
                Header::new(Protocol::LCP, false, false),
                &[1, 2],
            ),
            (
                &[0xc0, 0x21, 9],
                Header::new(Protocol::LCP, true, false),
                &[9],
            ),
            (
                &[0xff, 0x03, 0x21, 0x45],
                Header::new(Protocol::IPV4, false, true),
                &[0x45],
            ),
            (
                &[0xfd, 0x90, 0x00],
                Header::new(Protocol::COMPRESSED, true, true),
                &[0x90, 0],
            ),
        ];
        for (bytes, header, payload) in cases {
            assert_eq!(Header::parse(bytes), Ok((header, payload)));
            let mut out = Vec::new();
            header.push_frame(payload, &mut out);
            assert_eq!(out, bytes);
            assert_eq!(header.buffer_len(), bytes.len() - payload.len());
        }
    }

    #[test]
    fn uncompressed_ip_also_accepted() {
        // PFC is optional for the sender even when negotiated.
        assert_eq!(
            Header::parse(&[0x00, 0x21, 0x45]),
            Ok((Header::new(Protocol::IPV4, true, false), &[0x45][..]))
        );
    }

    #[test]
    fn pfc_ignored_for_large_protocols_rfc1661_6_5() {
        let h = Header::new(Protocol::LCP, true, true);
        assert_eq!(h.buffer_len(), 2);
        let mut buf = [0u8; 4];
        assert_eq!(h.emit(&mut buf), Ok(2));
        assert_eq!(&buf[..2], &[0xc0, 0x21]);
        assert_eq!(
            Header::parse(&buf[..2]).unwrap().0,
            Header::new(Protocol::LCP, true, false)
        );
    }

    #[test]
    fn hostile_frames() {
        assert_eq!(Header::parse(&[]), Err(Error::Truncated));
        assert_eq!(Header::parse(&[0xff, 0x03]), Err(Error::Truncated));
        assert_eq!(Header::parse(&[0xff, 0x03, 0xc0]), Err(Error::Truncated));
        assert_eq!(Header::parse(&[0xc0, 0x20]), Err(Error::BadProtocol));
        // An odd first octet is a compressed protocol, so only the even/even case fails.
        assert_eq!(Header::parse(&[0x02, 0x02]), Err(Error::BadProtocol));
        // FF alone, no 03: FF is odd, so a compressed protocol 0x00ff.
        assert_eq!(Header::parse(&[0xff]).unwrap().0.protocol, Protocol(0x00ff));
        let view = Frame::new_unchecked(&[0xff, 0x03][..]);
        assert_eq!(view.protocol(), Protocol(0));
        assert!(view.payload().is_empty());
    }

    #[test]
    fn emit_into_short_buffer() {
        let mut buf = [0u8; 3];
        assert_eq!(
            Header::new(Protocol::LCP, false, false).emit(&mut buf),
            Err(Error::BufferTooSmall)
        );
    }
}
