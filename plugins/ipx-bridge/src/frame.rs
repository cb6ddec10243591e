//! IPX on Ethernet: the four frame types NetWare uses, sans-IO (bytes in, bytes out).
//!
//! | Frame type (NetWare name) | After the two MAC addresses                          |
//! |---------------------------|------------------------------------------------------|
//! | `Ethernet_II`             | EtherType 0x8137, the IPX packet                     |
//! | `Ethernet_802.3` ("raw")  | 802.3 length, the IPX packet (its checksum 0xFFFF)   |
//! | `Ethernet_802.2`          | 802.3 length, LLC DSAP 0xE0 SSAP 0xE0 UI (0x03), IPX |
//! | `Ethernet_SNAP`           | 802.3 length, LLC 0xAA 0xAA 0x03, OUI 0, 0x8137, IPX |
//!
//! NetWare 3.12 and 4.x default to `Ethernet_802.2` (3.11 and older to the raw 802.3 frame,
//! which only works because an IPX packet without a checksum starts with 0xFFFF, where an
//! LLC header would be). One IPX network number belongs to one frame type on a segment: a
//! server bound to two frame types has two networks.
//!
//! On receive, Linux hands length-field frames to packet sockets of protocol `ETH_P_802_3`
//! (1) when the payload starts with 0xFFFF and `ETH_P_802_2` (4) otherwise; Ethernet II
//! frames go to their EtherType's sockets ([`FrameType::socket_protocol`]).

use core::fmt;
use core::str::FromStr;

/// The EtherType of IPX (Ethernet II and SNAP).
pub const ETHERTYPE_IPX: u16 = 0x8137;
/// The LLC SAP of IPX (IEEE 802.2).
pub const SAP_IPX: u8 = 0xE0;
/// LLC Unnumbered Information.
pub const LLC_UI: u8 = 0x03;
/// The LLC SAP of SNAP.
pub const SAP_SNAP: u8 = 0xAA;
/// Ethernet's destination and source addresses.
pub const MAC_HEADER_LEN: usize = 12;
/// The least Ethernet payload (a shorter frame is padded to 60 octets without FCS).
pub const MIN_PAYLOAD: usize = 46;
/// The largest value of an 802.3 length field; larger values are EtherTypes.
pub const MAX_8023_LENGTH: u16 = 1500;
/// Linux's `ETH_P_802_3`: length-field frames whose payload starts with 0xFFFF.
pub const ETH_P_802_3: u16 = 0x0001;
/// Linux's `ETH_P_802_2`: other length-field frames (LLC, SNAP).
pub const ETH_P_802_2: u16 = 0x0004;

/// How IPX packets are framed on the LAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// `Ethernet_II`: EtherType 0x8137.
    EthernetII,
    /// `Ethernet_802.3`: an 802.3 length and the IPX packet ("raw", NetWare 3.11 and older).
    Raw8023,
    /// `Ethernet_802.2`: 802.3 with LLC SAP 0xE0 (NetWare 3.12 and 4.x default).
    Llc8022,
    /// `Ethernet_SNAP`: 802.3 with LLC/SNAP, OUI 0, EtherType 0x8137.
    Snap,
}

impl FrameType {
    /// The configuration names, in [`FrameType`] order.
    pub const NAMES: [&'static str; 4] = [
        "ethernet_ii",
        "ethernet_802.3",
        "ethernet_802.2",
        "ethernet_snap",
    ];

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            FrameType::EthernetII => Self::NAMES[0],
            FrameType::Raw8023 => Self::NAMES[1],
            FrameType::Llc8022 => Self::NAMES[2],
            FrameType::Snap => Self::NAMES[3],
        }
    }

    /// Octets between the source MAC address and the IPX packet.
    pub fn header_len(self) -> usize {
        match self {
            FrameType::EthernetII | FrameType::Raw8023 => 2,
            FrameType::Llc8022 => 2 + 3,
            FrameType::Snap => 2 + 8,
        }
    }

    /// The protocol of the packet socket that receives this frame type on Linux.
    pub fn socket_protocol(self) -> u16 {
        match self {
            FrameType::EthernetII => ETHERTYPE_IPX,
            FrameType::Raw8023 => ETH_P_802_3,
            FrameType::Llc8022 | FrameType::Snap => ETH_P_802_2,
        }
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FrameType {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "ethernet_ii" => Ok(FrameType::EthernetII),
            "ethernet_802.3" => Ok(FrameType::Raw8023),
            "ethernet_802.2" => Ok(FrameType::Llc8022),
            "ethernet_snap" => Ok(FrameType::Snap),
            _ => Err(()),
        }
    }
}

/// Why an Ethernet frame does not carry IPX in the expected frame type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameError {
    /// Shorter than its header or its 802.3 length.
    Truncated,
    /// Another EtherType, SAP or SNAP protocol: not IPX in this frame type.
    NotIpx,
    /// The IPX packet is too long for an 802.3 length field (emit only).
    TooLong,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameError::Truncated => "truncated Ethernet frame",
            FrameError::NotIpx => "not IPX in the configured frame type",
            FrameError::TooLong => "IPX packet too long for an 802.3 frame",
        })
    }
}

/// An Ethernet frame's addresses and the IPX bytes it carries (padding included for
/// Ethernet II, whose header has no length: the IPX Packet Length tells).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Destination MAC address.
    pub dst: [u8; 6],
    /// Source MAC address.
    pub src: [u8; 6],
    /// The IPX packet.
    pub ipx: &'a [u8],
}

fn mac(frame: &[u8], at: usize) -> [u8; 6] {
    let mut m = [0; 6];
    if let Some(s) = frame.get(at..at + 6) {
        m.copy_from_slice(s);
    }
    m
}

/// Takes the IPX packet out of `frame` (an Ethernet frame without FCS) of frame type `ft`.
pub fn decode(ft: FrameType, frame: &[u8]) -> Result<Decoded<'_>, FrameError> {
    let type_or_len = match frame.get(12..14) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => return Err(FrameError::Truncated),
    };
    let body = frame.get(14..).unwrap_or_default();
    let ipx = if ft == FrameType::EthernetII {
        if type_or_len != ETHERTYPE_IPX {
            return Err(FrameError::NotIpx);
        }
        body
    } else {
        if type_or_len > MAX_8023_LENGTH {
            return Err(FrameError::NotIpx);
        }
        // The 802.3 length cuts the padding off.
        let body = body
            .get(..usize::from(type_or_len))
            .ok_or(FrameError::Truncated)?;
        let header: &[u8] = match ft {
            FrameType::Llc8022 => &LLC_HEADER,
            FrameType::Snap => &SNAP_HEADER,
            FrameType::EthernetII | FrameType::Raw8023 => &[],
        };
        if body.len() < header.len() {
            return Err(FrameError::Truncated);
        }
        let ipx = body.strip_prefix(header).ok_or(FrameError::NotIpx)?;
        // Raw 802.3 is told from LLC by the IPX checksum field, 0xFFFF.
        if ft == FrameType::Raw8023 && !ipx.starts_with(&[0xFF, 0xFF]) {
            return Err(FrameError::NotIpx);
        }
        ipx
    };
    Ok(Decoded {
        dst: mac(frame, 0),
        src: mac(frame, 6),
        ipx,
    })
}

/// LLC header of IPX in `Ethernet_802.2`.
const LLC_HEADER: [u8; 3] = [SAP_IPX, SAP_IPX, LLC_UI];
/// LLC and SNAP header of IPX in `Ethernet_SNAP`.
const SNAP_HEADER: [u8; 8] = [SAP_SNAP, SAP_SNAP, LLC_UI, 0, 0, 0, 0x81, 0x37];

/// Writes an Ethernet frame of type `ft` carrying `ipx` from `src` to `dst` into `out`
/// (cleared first), padded to the least Ethernet frame (60 octets without FCS).
pub fn encode(
    ft: FrameType,
    dst: [u8; 6],
    src: [u8; 6],
    ipx: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    out.clear();
    out.extend_from_slice(&dst);
    out.extend_from_slice(&src);
    let llc: &[u8] = match ft {
        FrameType::EthernetII | FrameType::Raw8023 => &[],
        FrameType::Llc8022 => &LLC_HEADER,
        FrameType::Snap => &SNAP_HEADER,
    };
    if ft == FrameType::EthernetII {
        out.extend_from_slice(&ETHERTYPE_IPX.to_be_bytes());
    } else {
        let len = u16::try_from(llc.len() + ipx.len())
            .ok()
            .filter(|l| *l <= MAX_8023_LENGTH)
            .ok_or(FrameError::TooLong)?;
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(llc);
    out.extend_from_slice(ipx);
    if out.len() < 14 + MIN_PAYLOAD {
        out.resize(14 + MIN_PAYLOAD, 0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DST: [u8; 6] = [0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c];
    const SRC: [u8; 6] = [0x02, 0x49, 0, 0, 0, 1];

    fn ipx(len: usize) -> Vec<u8> {
        let mut p = vec![0xAB; len];
        p[..4].copy_from_slice(&[0xFF, 0xFF, 0, len as u8]);
        p
    }

    #[test]
    fn every_frame_type_round_trips_and_pads_to_60() {
        for ft in [
            FrameType::EthernetII,
            FrameType::Raw8023,
            FrameType::Llc8022,
            FrameType::Snap,
        ] {
            let packet = ipx(34);
            let mut out = Vec::new();
            encode(ft, DST, SRC, &packet, &mut out).expect("encodes");
            assert_eq!(out.len(), 60, "{ft}");
            assert_eq!(&out[..6], &DST);
            assert_eq!(&out[6..12], &SRC);
            let d = decode(ft, &out).expect("decodes");
            assert_eq!((d.dst, d.src), (DST, SRC));
            if ft == FrameType::EthernetII {
                // No length field: the padding stays (IPX's Packet Length cuts it).
                assert_eq!(&d.ipx[..34], &packet[..]);
                assert_eq!(d.ipx.len(), 46);
            } else {
                assert_eq!(d.ipx, &packet[..], "{ft}");
            }
            assert_eq!(ft.name().parse::<FrameType>(), Ok(ft));
        }
    }

    #[test]
    fn header_bytes_of_each_frame_type() {
        let mut out = Vec::new();
        encode(FrameType::Llc8022, DST, SRC, &ipx(100), &mut out).expect("encodes");
        assert_eq!(&out[12..17], &[0, 103, 0xE0, 0xE0, 0x03]);
        encode(FrameType::Snap, DST, SRC, &ipx(100), &mut out).expect("encodes");
        assert_eq!(
            &out[12..22],
            &[0, 108, 0xAA, 0xAA, 0x03, 0, 0, 0, 0x81, 0x37]
        );
        encode(FrameType::Raw8023, DST, SRC, &ipx(100), &mut out).expect("encodes");
        assert_eq!(&out[12..16], &[0, 100, 0xFF, 0xFF]);
        encode(FrameType::EthernetII, DST, SRC, &ipx(100), &mut out).expect("encodes");
        assert_eq!(&out[12..16], &[0x81, 0x37, 0xFF, 0xFF]);
        assert_eq!(
            encode(FrameType::Llc8022, DST, SRC, &ipx(1498), &mut out),
            Err(FrameError::TooLong)
        );
    }

    #[test]
    fn other_protocols_and_frame_types_are_not_ipx() {
        let mut out = Vec::new();
        encode(FrameType::Llc8022, DST, SRC, &ipx(40), &mut out).expect("encodes");
        assert_eq!(decode(FrameType::Snap, &out), Err(FrameError::NotIpx));
        assert_eq!(decode(FrameType::Raw8023, &out), Err(FrameError::NotIpx));
        assert_eq!(decode(FrameType::EthernetII, &out), Err(FrameError::NotIpx));
        // NetBEUI's SAP 0xF0 on the same 802.2 socket.
        out[14] = 0xF0;
        assert_eq!(decode(FrameType::Llc8022, &out), Err(FrameError::NotIpx));
        // An 802.3 length past the frame's end.
        out[13] = 200;
        assert_eq!(decode(FrameType::Llc8022, &out), Err(FrameError::Truncated));
        assert_eq!(
            decode(FrameType::Llc8022, &out[..13]),
            Err(FrameError::Truncated)
        );
        // An IPv4 frame.
        let mut v4 = out.clone();
        v4[12..14].copy_from_slice(&[0x08, 0x00]);
        for ft in [FrameType::EthernetII, FrameType::Llc8022] {
            assert_eq!(decode(ft, &v4), Err(FrameError::NotIpx));
        }
    }
}
