//! Link Control Protocol: configuration options (RFC 1661 §6, RFC 1570, RFC 1990) and the
//! data of the LCP-only packets (RFC 1661 §5.6-5.9, RFC 1570 §2).

use crate::cp::{self, Code, OptionRepr, RawOption, Writer, exact, take};
use crate::ppp::Protocol;
use crate::{Error, Result};

/// LCP option types (IANA "PPP LCP Configuration Option Types").
pub mod kind {
    /// Maximum-Receive-Unit (RFC 1661 §6.1).
    pub const MRU: u8 = 1;
    /// Async-Control-Character-Map (RFC 1662 §7.1).
    pub const ACCM: u8 = 2;
    /// Authentication-Protocol (RFC 1661 §6.2).
    pub const AUTH_PROTOCOL: u8 = 3;
    /// Quality-Protocol (RFC 1661 §6.3).
    pub const QUALITY_PROTOCOL: u8 = 4;
    /// Magic-Number (RFC 1661 §6.4).
    pub const MAGIC_NUMBER: u8 = 5;
    /// Protocol-Field-Compression (RFC 1661 §6.5).
    pub const PFC: u8 = 7;
    /// Address-and-Control-Field-Compression (RFC 1661 §6.6).
    pub const ACFC: u8 = 8;
    /// FCS-Alternatives (RFC 1570 §2.1).
    pub const FCS_ALTERNATIVES: u8 = 9;
    /// Callback (RFC 1570 §2.3).
    pub const CALLBACK: u8 = 13;
    /// Multilink Maximum-Received-Reconstructed-Unit (RFC 1990 §5.1.1).
    pub const MRRU: u8 = 17;
    /// Multilink Short-Sequence-Number-Header-Format (RFC 1990 §5.1.2).
    pub const SHORT_SEQUENCE: u8 = 18;
    /// Multilink Endpoint-Discriminator (RFC 1990 §5.1.3).
    pub const ENDPOINT_DISCRIMINATOR: u8 = 19;
}

/// CHAP algorithm octet of the Authentication-Protocol option (RFC 1994 §3, RFC 2433 §2,
/// RFC 2759 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChapAlgorithm {
    /// 5: CHAP with MD5 (RFC 1994).
    Md5,
    /// 0x80: MS-CHAP (RFC 2433).
    MsChapV1,
    /// 0x81: MS-CHAP-V2 (RFC 2759).
    MsChapV2,
    /// Any other algorithm.
    Unknown(u8),
}

impl From<u8> for ChapAlgorithm {
    fn from(v: u8) -> Self {
        match v {
            5 => ChapAlgorithm::Md5,
            0x80 => ChapAlgorithm::MsChapV1,
            0x81 => ChapAlgorithm::MsChapV2,
            other => ChapAlgorithm::Unknown(other),
        }
    }
}

impl From<ChapAlgorithm> for u8 {
    fn from(a: ChapAlgorithm) -> Self {
        match a {
            ChapAlgorithm::Md5 => 5,
            ChapAlgorithm::MsChapV1 => 0x80,
            ChapAlgorithm::MsChapV2 => 0x81,
            ChapAlgorithm::Unknown(v) => v,
        }
    }
}

/// The value of the Authentication-Protocol option (RFC 1661 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthProtocol<'a> {
    /// PAP, `c0 23` with no data (RFC 1334 §2.1).
    Pap,
    /// CHAP, `c2 23` and one algorithm octet (RFC 1994 §3).
    Chap(ChapAlgorithm),
    /// Anything else (EAP, or PAP/CHAP with unexpected data), kept verbatim.
    Other {
        /// The authentication protocol.
        protocol: Protocol,
        /// The data after it.
        data: &'a [u8],
    },
}

impl<'a> AuthProtocol<'a> {
    fn parse(value: &'a [u8]) -> Result<Self> {
        let ([hi, lo], data) = take::<2>(value).map_err(|_| Error::Malformed)?;
        let protocol = Protocol(u16::from_be_bytes([hi, lo]));
        Ok(match (protocol, data) {
            (Protocol::PAP, []) => AuthProtocol::Pap,
            (Protocol::CHAP, [alg]) => AuthProtocol::Chap(ChapAlgorithm::from(*alg)),
            _ => AuthProtocol::Other { protocol, data },
        })
    }

    /// The authentication protocol number.
    pub fn protocol(&self) -> Protocol {
        match self {
            AuthProtocol::Pap => Protocol::PAP,
            AuthProtocol::Chap(_) => Protocol::CHAP,
            AuthProtocol::Other { protocol, .. } => *protocol,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            AuthProtocol::Pap => 2,
            AuthProtocol::Chap(_) => 3,
            AuthProtocol::Other { data, .. } => 2 + data.len(),
        }
    }

    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.protocol().0)?;
        match self {
            AuthProtocol::Pap => Ok(()),
            AuthProtocol::Chap(alg) => w.u8((*alg).into()),
            AuthProtocol::Other { data, .. } => w.put(data),
        }
    }
}

/// One LCP configuration option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LcpOption<'a> {
    /// Maximum-Receive-Unit (RFC 1661 §6.1).
    Mru(u16),
    /// Async-Control-Character-Map (RFC 1662 §7.1).
    Accm(u32),
    /// Authentication-Protocol (RFC 1661 §6.2).
    AuthProtocol(AuthProtocol<'a>),
    /// Quality-Protocol (RFC 1661 §6.3); for LQR the data is the 4-octet Reporting-Period
    /// (RFC 1989 §2.5), see [`LcpOption::lqr_period`].
    QualityProtocol {
        /// The quality protocol, normally [`Protocol::LQR`].
        protocol: Protocol,
        /// The protocol-specific data.
        data: &'a [u8],
    },
    /// Magic-Number (RFC 1661 §6.4).
    MagicNumber(u32),
    /// Protocol-Field-Compression (RFC 1661 §6.5).
    Pfc,
    /// Address-and-Control-Field-Compression (RFC 1661 §6.6).
    Acfc,
    /// FCS-Alternatives bit set: 1 null, 2 CCITT 16-bit, 4 CCITT 32-bit (RFC 1570 §2.1).
    FcsAlternatives(u8),
    /// Callback (RFC 1570 §2.3).
    Callback {
        /// Operation: 0 location determined by authentication, 1 dialling string, 2 location
        /// identifier, 3 E.164 number, 4 distinguished name (RFC 1570 §2.3), 6 CBCP.
        operation: u8,
        /// The message, meaning depends on the operation.
        message: &'a [u8],
    },
    /// Multilink MRRU (RFC 1990 §5.1.1).
    Mrru(u16),
    /// Multilink Short-Sequence-Number-Header-Format (RFC 1990 §5.1.2).
    ShortSequence,
    /// Multilink Endpoint-Discriminator (RFC 1990 §5.1.3).
    EndpointDiscriminator {
        /// Class: 0 null, 1 locally assigned, 2 IPv4 address, 3 IEEE 802.1 MAC, 4 PPP magic
        /// number block, 5 PSDN directory number.
        class: u8,
        /// The address, format by class.
        address: &'a [u8],
    },
    /// Any other type, kept verbatim.
    Unknown {
        /// The Type octet.
        kind: u8,
        /// The value.
        data: &'a [u8],
    },
}

impl LcpOption<'_> {
    /// The Reporting-Period of an LQR Quality-Protocol option, in hundredths of a second
    /// (RFC 1989 §2.5).
    pub fn lqr_period(&self) -> Option<u32> {
        match self {
            LcpOption::QualityProtocol {
                protocol: Protocol::LQR,
                data,
            } => exact::<4>(data).ok().map(u32::from_be_bytes),
            _ => None,
        }
    }
}

impl<'a> OptionRepr<'a> for LcpOption<'a> {
    fn parse(option: RawOption<'a>) -> Result<Self> {
        let v = option.value();
        Ok(match option.kind() {
            kind::MRU => LcpOption::Mru(u16::from_be_bytes(exact(v)?)),
            kind::ACCM => LcpOption::Accm(u32::from_be_bytes(exact(v)?)),
            kind::AUTH_PROTOCOL => LcpOption::AuthProtocol(AuthProtocol::parse(v)?),
            kind::QUALITY_PROTOCOL => {
                let (p, data) = take::<2>(v).map_err(|_| Error::Malformed)?;
                LcpOption::QualityProtocol {
                    protocol: Protocol(u16::from_be_bytes(p)),
                    data,
                }
            }
            kind::MAGIC_NUMBER => LcpOption::MagicNumber(u32::from_be_bytes(exact(v)?)),
            kind::PFC => {
                exact::<0>(v)?;
                LcpOption::Pfc
            }
            kind::ACFC => {
                exact::<0>(v)?;
                LcpOption::Acfc
            }
            kind::FCS_ALTERNATIVES => LcpOption::FcsAlternatives(u8::from_be_bytes(exact(v)?)),
            kind::CALLBACK => match v.split_first() {
                Some((&operation, message)) => LcpOption::Callback { operation, message },
                None => return Err(Error::Malformed),
            },
            kind::MRRU => LcpOption::Mrru(u16::from_be_bytes(exact(v)?)),
            kind::SHORT_SEQUENCE => {
                exact::<0>(v)?;
                LcpOption::ShortSequence
            }
            kind::ENDPOINT_DISCRIMINATOR => match v.split_first() {
                Some((&class, address)) => LcpOption::EndpointDiscriminator { class, address },
                None => return Err(Error::Malformed),
            },
            other => LcpOption::Unknown {
                kind: other,
                data: v,
            },
        })
    }

    fn kind(&self) -> u8 {
        match self {
            LcpOption::Mru(_) => kind::MRU,
            LcpOption::Accm(_) => kind::ACCM,
            LcpOption::AuthProtocol(_) => kind::AUTH_PROTOCOL,
            LcpOption::QualityProtocol { .. } => kind::QUALITY_PROTOCOL,
            LcpOption::MagicNumber(_) => kind::MAGIC_NUMBER,
            LcpOption::Pfc => kind::PFC,
            LcpOption::Acfc => kind::ACFC,
            LcpOption::FcsAlternatives(_) => kind::FCS_ALTERNATIVES,
            LcpOption::Callback { .. } => kind::CALLBACK,
            LcpOption::Mrru(_) => kind::MRRU,
            LcpOption::ShortSequence => kind::SHORT_SEQUENCE,
            LcpOption::EndpointDiscriminator { .. } => kind::ENDPOINT_DISCRIMINATOR,
            LcpOption::Unknown { kind, .. } => *kind,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            LcpOption::Mru(_) | LcpOption::Mrru(_) => 2,
            LcpOption::Accm(_) | LcpOption::MagicNumber(_) => 4,
            LcpOption::AuthProtocol(a) => a.value_len(),
            LcpOption::QualityProtocol { data, .. } => 2 + data.len(),
            LcpOption::Pfc | LcpOption::Acfc | LcpOption::ShortSequence => 0,
            LcpOption::FcsAlternatives(_) => 1,
            LcpOption::Callback { message, .. } => 1 + message.len(),
            LcpOption::EndpointDiscriminator { address, .. } => 1 + address.len(),
            LcpOption::Unknown { data, .. } => data.len(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) -> Result<()> {
        let mut w = Writer::new(buf);
        match self {
            LcpOption::Mru(v) | LcpOption::Mrru(v) => w.u16(*v),
            LcpOption::Accm(v) | LcpOption::MagicNumber(v) => w.u32(*v),
            LcpOption::AuthProtocol(a) => a.emit(&mut w),
            LcpOption::QualityProtocol { protocol, data } => {
                w.u16(protocol.0)?;
                w.put(data)
            }
            LcpOption::Pfc | LcpOption::Acfc | LcpOption::ShortSequence => Ok(()),
            LcpOption::FcsAlternatives(v) => w.u8(*v),
            LcpOption::Callback {
                operation: a,
                message: b,
            }
            | LcpOption::EndpointDiscriminator {
                class: a,
                address: b,
            } => {
                w.u8(*a)?;
                w.put(b)
            }
            LcpOption::Unknown { data, .. } => w.put(data),
        }
    }
}

/// Data of Echo-Request, Echo-Reply and Discard-Request (RFC 1661 §5.8-5.9) and of
/// Identification (RFC 1570 §2.1): a Magic-Number, then uninterpreted data or a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MagicData<'a> {
    /// The sender's Magic-Number, or 0 if it negotiated none.
    pub magic: u32,
    /// The rest of the packet.
    pub data: &'a [u8],
}

impl<'a> MagicData<'a> {
    /// Parse the Data field of such a packet.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let (magic, data) = take::<4>(data)?;
        Ok(MagicData {
            magic: u32::from_be_bytes(magic),
            data,
        })
    }

    /// Length of the emitted Data field.
    pub const fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }

    /// Write the Data field to the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.u32(self.magic)?;
        w.put(self.data)?;
        Ok(w.position())
    }

    /// Append a whole LCP packet with this data to `out`.
    pub fn push_packet(&self, out: &mut Vec<u8>, code: Code, identifier: u8) -> Result<()> {
        cp::push_packet(out, code, identifier, |out| {
            out.extend_from_slice(&self.magic.to_be_bytes());
            out.extend_from_slice(self.data);
            Ok(())
        })
    }
}

/// Data of Time-Remaining (RFC 1570 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRemaining<'a> {
    /// The sender's Magic-Number.
    pub magic: u32,
    /// Seconds remaining in the session.
    pub seconds: u32,
    /// Human-readable message.
    pub message: &'a [u8],
}

impl<'a> TimeRemaining<'a> {
    /// Parse the Data field.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let (magic, rest) = take::<4>(data)?;
        let (seconds, message) = take::<4>(rest)?;
        Ok(TimeRemaining {
            magic: u32::from_be_bytes(magic),
            seconds: u32::from_be_bytes(seconds),
            message,
        })
    }

    /// Length of the emitted Data field.
    pub const fn buffer_len(&self) -> usize {
        8 + self.message.len()
    }

    /// Write the Data field to the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.u32(self.magic)?;
        w.u32(self.seconds)?;
        w.put(self.message)?;
        Ok(w.position())
    }
}

/// Data of Protocol-Reject (RFC 1661 §5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtocolReject<'a> {
    /// The protocol of the rejected frame.
    pub protocol: Protocol,
    /// A copy of the rejected frame's information field (possibly truncated).
    pub info: &'a [u8],
}

impl<'a> ProtocolReject<'a> {
    /// Parse the Data field.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let (p, info) = take::<2>(data)?;
        Ok(ProtocolReject {
            protocol: Protocol(u16::from_be_bytes(p)),
            info,
        })
    }

    /// Length of the emitted Data field.
    pub const fn buffer_len(&self) -> usize {
        2 + self.info.len()
    }

    /// Write the Data field to the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.u16(self.protocol.0)?;
        w.put(self.info)?;
        Ok(w.position())
    }

    /// Append a whole Protocol-Reject packet to `out`, truncating the rejected information so
    /// the packet fits the peer's MRU (RFC 1661 §5.7).
    pub fn push_packet(&self, out: &mut Vec<u8>, identifier: u8, peer_mru: u16) -> Result<()> {
        let room = usize::from(peer_mru).saturating_sub(cp::HEADER_LEN + 2);
        let info = self.info.get(..room).unwrap_or(self.info);
        cp::push_packet(out, Code::ProtocolReject, identifier, |out| {
            out.extend_from_slice(&self.protocol.0.to_be_bytes());
            out.extend_from_slice(info);
            Ok(())
        })
    }
}

/// Append a Code-Reject carrying `rejected` (the rejected packet from its Code field on),
/// truncated to fit the peer's MRU (RFC 1661 §5.6). The Data field of a received Code-Reject
/// is the rejected packet: parse it with [`cp::Repr::parse`] if needed (it may be truncated).
pub fn push_code_reject(
    out: &mut Vec<u8>,
    identifier: u8,
    rejected: &[u8],
    peer_mru: u16,
) -> Result<()> {
    let room = usize::from(peer_mru).saturating_sub(cp::HEADER_LEN);
    let rejected = rejected.get(..room).unwrap_or(rejected);
    cp::push_packet(out, Code::CodeReject, identifier, |out| {
        out.extend_from_slice(rejected);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bytes: &[u8]) -> LcpOption<'_> {
        let opt = LcpOption::parse_bytes(bytes).unwrap();
        assert_eq!(opt.buffer_len(), bytes.len());
        let mut out = Vec::new();
        opt.push(&mut out).unwrap();
        assert_eq!(out, bytes);
        opt
    }

    #[test]
    fn options_rfc1661_6() {
        assert_eq!(round_trip(&[1, 4, 0x05, 0xdc]), LcpOption::Mru(1500));
        assert_eq!(round_trip(&[2, 6, 0, 0, 0, 0]), LcpOption::Accm(0));
        assert_eq!(
            round_trip(&[3, 4, 0xc0, 0x23]),
            LcpOption::AuthProtocol(AuthProtocol::Pap)
        );
        assert_eq!(
            round_trip(&[3, 5, 0xc2, 0x23, 0x05]),
            LcpOption::AuthProtocol(AuthProtocol::Chap(ChapAlgorithm::Md5))
        );
        let lqr = round_trip(&[4, 8, 0xc0, 0x25, 0, 0, 0x03, 0xe8]);
        assert_eq!(lqr.lqr_period(), Some(1000));
        assert_eq!(
            round_trip(&[5, 6, 0x48, 0x3e, 0x94, 0x5a]),
            LcpOption::MagicNumber(0x483e_945a)
        );
        assert_eq!(round_trip(&[7, 2]), LcpOption::Pfc);
        assert_eq!(round_trip(&[8, 2]), LcpOption::Acfc);
    }

    #[test]
    fn auth_protocol_mschap_rfc2433_2_rfc2759_2() {
        assert_eq!(
            round_trip(&[3, 5, 0xc2, 0x23, 0x80]),
            LcpOption::AuthProtocol(AuthProtocol::Chap(ChapAlgorithm::MsChapV1))
        );
        assert_eq!(
            round_trip(&[3, 5, 0xc2, 0x23, 0x81]),
            LcpOption::AuthProtocol(AuthProtocol::Chap(ChapAlgorithm::MsChapV2))
        );
        assert_eq!(
            round_trip(&[3, 5, 0xc2, 0x23, 0x06]),
            LcpOption::AuthProtocol(AuthProtocol::Chap(ChapAlgorithm::Unknown(6)))
        );
        // EAP, and PAP with stray data, are kept verbatim.
        let eap = round_trip(&[3, 4, 0xc2, 0x27]);
        assert_eq!(
            eap,
            LcpOption::AuthProtocol(AuthProtocol::Other {
                protocol: Protocol(0xc227),
                data: &[]
            })
        );
        round_trip(&[3, 5, 0xc0, 0x23, 0x00]);
        round_trip(&[3, 4, 0xc2, 0x23]);
    }

    #[test]
    fn options_rfc1570_rfc1990() {
        assert_eq!(round_trip(&[9, 3, 4]), LcpOption::FcsAlternatives(4));
        assert_eq!(
            round_trip(&[13, 3, 6]),
            LcpOption::Callback {
                operation: 6,
                message: &[]
            }
        );
        assert_eq!(round_trip(&[17, 4, 0x05, 0xdc]), LcpOption::Mrru(1500));
        assert_eq!(round_trip(&[18, 2]), LcpOption::ShortSequence);
        assert_eq!(
            round_trip(&[19, 9, 3, 0x52, 0x54, 0x00, 0x77, 0x00, 0x10]),
            LcpOption::EndpointDiscriminator {
                class: 3,
                address: &[0x52, 0x54, 0, 0x77, 0, 0x10]
            }
        );
        assert_eq!(
            round_trip(&[99, 3, 1]),
            LcpOption::Unknown {
                kind: 99,
                data: &[1]
            }
        );
    }

    #[test]
    fn malformed_known_options() {
        for bad in [
            &[1u8, 3, 5][..],
            &[1, 5, 5, 0xdc, 0],
            &[2, 5, 0, 0, 0],
            &[3, 3, 0xc0],
            &[4, 3, 0xc0],
            &[5, 2],
            &[7, 3, 0],
            &[8, 3, 0],
            &[9, 2],
            &[13, 2],
            &[17, 2],
            &[18, 3, 1],
            &[19, 2],
        ] {
            assert_eq!(
                LcpOption::parse_bytes(bad),
                Err(Error::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(LcpOption::parse_bytes(&[1, 9, 0]), Err(Error::BadLength));
        assert_eq!(LcpOption::parse_bytes(&[1]), Err(Error::Truncated));
    }

    #[test]
    fn pptpd_configure_request_list() {
        // pptpd's LCP Configure-Request options (ref-pcaps mschapv2-mppe128, frame 15).
        let data = [
            0x02, 0x06, 0x00, 0x00, 0x00, 0x00, 0x03, 0x05, 0xc2, 0x23, 0x81, 0x05, 0x06, 0x2f,
            0xb8, 0x7f, 0x01, 0x07, 0x02, 0x08, 0x02,
        ];
        let opts: Vec<_> = LcpOption::parse_list(&data).collect::<Result<_>>().unwrap();
        assert_eq!(
            opts,
            [
                LcpOption::Accm(0),
                LcpOption::AuthProtocol(AuthProtocol::Chap(ChapAlgorithm::MsChapV2)),
                LcpOption::MagicNumber(0x2fb8_7f01),
                LcpOption::Pfc,
                LcpOption::Acfc,
            ]
        );
    }

    #[test]
    fn emit_checks_sizes() {
        let big = [0u8; 300];
        let opt = LcpOption::Unknown {
            kind: 1,
            data: &big,
        };
        let mut out = vec![7];
        assert_eq!(opt.push(&mut out), Err(Error::BadLength));
        assert_eq!(out, [7]);
        let mut small = [0u8; 3];
        assert_eq!(
            LcpOption::Mru(1).emit(&mut small),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn echo_request_rfc1661_5_8() {
        // pptpd's Echo-Request (ref-pcaps mschapv2-mppe128, frame 18): 09 00 00 08 2f b8 7f 01.
        let packet = [0x09, 0x00, 0x00, 0x08, 0x2f, 0xb8, 0x7f, 0x01];
        let repr = cp::Repr::parse(&packet).unwrap();
        assert_eq!(repr.code, Code::EchoRequest);
        let echo = MagicData::parse(repr.data).unwrap();
        assert_eq!(
            echo,
            MagicData {
                magic: 0x2fb8_7f01,
                data: &[]
            }
        );
        let mut out = Vec::new();
        echo.push_packet(&mut out, Code::EchoRequest, 0).unwrap();
        assert_eq!(out, packet);
        let mut buf = [0u8; 4];
        assert_eq!(echo.emit(&mut buf), Ok(4));
        assert_eq!(MagicData::parse(&[1, 2, 3]), Err(Error::Truncated));
    }

    #[test]
    fn time_remaining_rfc1570_2_2() {
        let data = [0, 0, 0, 1, 0, 0, 0x0e, 0x10, b'b', b'y', b'e'];
        let t = TimeRemaining::parse(&data).unwrap();
        assert_eq!((t.magic, t.seconds, t.message), (1, 3600, &b"bye"[..]));
        let mut buf = [0u8; 11];
        assert_eq!(t.emit(&mut buf), Ok(11));
        assert_eq!(buf, data);
        assert_eq!(TimeRemaining::parse(&data[..7]), Err(Error::Truncated));
    }

    #[test]
    fn protocol_reject_rfc1661_5_7() {
        let pr = ProtocolReject {
            protocol: Protocol::IPV6CP,
            info: &[1, 1, 0, 14, 1, 10, 0xa8],
        };
        let mut out = Vec::new();
        pr.push_packet(&mut out, 3, 1500).unwrap();
        assert_eq!(&out[..8], &[8, 3, 0, 13, 0x80, 0x57, 1, 1]);
        let repr = cp::Repr::parse(&out).unwrap();
        assert_eq!(ProtocolReject::parse(repr.data), Ok(pr));
        // Truncated to the peer's MRU.
        let mut out = Vec::new();
        pr.push_packet(&mut out, 3, 8).unwrap();
        assert_eq!(out, [8, 3, 0, 8, 0x80, 0x57, 1, 1]);
        assert_eq!(ProtocolReject::parse(&[0x80]), Err(Error::Truncated));
    }

    #[test]
    fn code_reject_rfc1661_5_6() {
        let rejected = [42, 7, 0, 6, 0xaa, 0xbb];
        let mut out = Vec::new();
        push_code_reject(&mut out, 9, &rejected, 1500).unwrap();
        assert_eq!(out, [7, 9, 0, 10, 42, 7, 0, 6, 0xaa, 0xbb]);
        let mut out = Vec::new();
        push_code_reject(&mut out, 9, &rejected, 6).unwrap();
        assert_eq!(out, [7, 9, 0, 6, 42, 7]);
    }
}
