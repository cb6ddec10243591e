//! The IPX datagram header (Novell's Internetwork Packet Exchange, as RFC 1552 carries it
//! over PPP in protocol 0x002B; the format is Xerox IDP's).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |       Packet Length           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Transport Ctrl |  Packet Type  |  Destination Network ...      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  ... Destination Network      |  Destination Node (6 octets)  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  ...                                                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |       Destination Socket      |  Source Network ...           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  ... Source Network           |  Source Node (6 octets) ...   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  ...                                                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Source Socket         |  Data ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! - Checksum: 0xFFFF when the sender did not checksum the packet (what nearly every IPX
//!   stack sends, and what Ethernet 802.3 "raw" framing relies on). Otherwise the one's
//!   complement of the one's complement sum of the packet's 16-bit words, with the checksum
//!   itself left out and the Transport Control octet counted as zero (routers change it),
//!   an odd last octet padded with zero ([`checksum`]).
//! - Packet Length: the header and the data, in octets; at least 30. Media pad short
//!   packets, so the buffer may be longer than this.
//! - Transport Control: the number of routers the packet went through (the low four bits;
//!   a router drops a packet that reaches 16). Only routers increment it.
//! - Addresses: a 32-bit network (0: this network), a 48-bit node (all ones: broadcast; on
//!   Ethernet the node is the station's MAC address) and a 16-bit socket.

use core::fmt;

/// The length of the header, and the least Packet Length.
pub const HEADER_LEN: usize = 30;
/// The Checksum of a packet sent without one.
pub const NO_CHECKSUM: u16 = 0xFFFF;
/// The broadcast node: every station on the destination network.
pub const BROADCAST_NODE: [u8; 6] = [0xFF; 6];
/// The hop count at which a router discards a packet instead of forwarding it.
pub const MAX_HOPS: u8 = 16;

/// Byte ranges of the header.
pub mod field {
    use core::ops::Range;
    /// Checksum (0xFFFF: none).
    pub const CHECKSUM: Range<usize> = 0..2;
    /// Packet Length, header included.
    pub const LENGTH: Range<usize> = 2..4;
    /// Transport Control (hop count).
    pub const TRANSPORT_CONTROL: usize = 4;
    /// Packet Type.
    pub const PACKET_TYPE: usize = 5;
    /// Destination Network.
    pub const DST_NETWORK: Range<usize> = 6..10;
    /// Destination Node.
    pub const DST_NODE: Range<usize> = 10..16;
    /// Destination Socket.
    pub const DST_SOCKET: Range<usize> = 16..18;
    /// Source Network.
    pub const SRC_NETWORK: Range<usize> = 18..22;
    /// Source Node.
    pub const SRC_NODE: Range<usize> = 22..28;
    /// Source Socket.
    pub const SRC_SOCKET: Range<usize> = 28..30;
    /// The data after the header (up to Packet Length).
    pub const PAYLOAD: usize = 30;
}

/// Why bytes are not a valid IPX packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// Fewer octets than the header, or than Packet Length says.
    Truncated,
    /// Packet Length is below the header's 30 octets.
    BadLength(u16),
    /// The Checksum is present (not 0xFFFF) and wrong.
    BadChecksum,
    /// The packet would be longer than Packet Length can say (emit only).
    TooLong,
    /// The output buffer is too small.
    BufferTooSmall,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated IPX packet"),
            Error::BadLength(n) => write!(f, "IPX Packet Length {n} is below 30"),
            Error::BadChecksum => f.write_str("IPX checksum mismatch"),
            Error::TooLong => f.write_str("IPX packet longer than 65535 octets"),
            Error::BufferTooSmall => f.write_str("output buffer too small"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for crate::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Truncated => crate::Error::Truncated,
            Error::BadLength(_) | Error::TooLong => crate::Error::BadLength,
            Error::BadChecksum => crate::Error::Malformed,
            Error::BufferTooSmall => crate::Error::BufferTooSmall,
        }
    }
}

/// The result of parsing or emitting an IPX packet.
pub type Result<T> = core::result::Result<T, Error>;

/// The Packet Type octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// 0: unknown (plain IPX; also used by RIP and SAP senders).
    Unknown,
    /// 1: Routing Information Protocol.
    Rip,
    /// 4: Packet Exchange Protocol (SAP and most datagram services use it).
    Pep,
    /// 5: Sequenced Packet Exchange.
    Spx,
    /// 17 (0x11): NetWare Core Protocol.
    Ncp,
    /// 20 (0x14): NetBIOS name broadcast propagation.
    NetbiosPropagation,
    /// Any other value.
    Other(u8),
}

impl From<u8> for PacketType {
    fn from(v: u8) -> Self {
        match v {
            0 => PacketType::Unknown,
            1 => PacketType::Rip,
            4 => PacketType::Pep,
            5 => PacketType::Spx,
            0x11 => PacketType::Ncp,
            0x14 => PacketType::NetbiosPropagation,
            other => PacketType::Other(other),
        }
    }
}

impl From<PacketType> for u8 {
    fn from(t: PacketType) -> u8 {
        match t {
            PacketType::Unknown => 0,
            PacketType::Rip => 1,
            PacketType::Pep => 4,
            PacketType::Spx => 5,
            PacketType::Ncp => 0x11,
            PacketType::NetbiosPropagation => 0x14,
            PacketType::Other(v) => v,
        }
    }
}

/// An IPX address: network, node and socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Address {
    /// The network number (0: the local network).
    pub network: u32,
    /// The node number (all ones: broadcast).
    pub node: [u8; 6],
    /// The socket number.
    pub socket: u16,
}

impl Address {
    /// Whether the node is the broadcast node.
    pub fn is_broadcast(&self) -> bool {
        self.node == BROADCAST_NODE
    }
}

impl fmt::Display for Address {
    /// `0000002a.020000000001.4000`, the usual NetWare notation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}.", self.network)?;
        for b in self.node {
            write!(f, "{b:02x}")?;
        }
        write!(f, ".{:04x}", self.socket)
    }
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
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

fn node(bytes: &[u8], at: usize) -> [u8; 6] {
    let mut n = [0; 6];
    if let Some(src) = bytes.get(at..at + 6) {
        n.copy_from_slice(src);
    }
    n
}

/// The IPX checksum of `packet` (its first Packet Length octets): the one's complement of
/// the one's complement sum of its 16-bit words, skipping the Checksum field and counting
/// Transport Control as zero, an odd last octet padded with a zero octet. A sum of zero
/// gives 0x0000, never 0xFFFF, which means "no checksum".
pub fn checksum(packet: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = packet.chunks(2).enumerate();
    for (i, word) in &mut words {
        let w = match (i, word) {
            (0, _) => 0,
            // Transport Control is the high octet of the third word.
            (2, &[_, packet_type]) => u16::from(packet_type),
            (2, _) => 0,
            (_, &[a, b]) => u16::from_be_bytes([a, b]),
            (_, &[a]) => u16::from_be_bytes([a, 0]),
            _ => 0,
        };
        sum += u32::from(w);
        // Fold as we go: at most 32 768 words, but keep the sum small anyway.
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    let folded = ((sum & 0xFFFF) + (sum >> 16)) as u16;
    if folded == 0 { 0 } else { !folded }
}

/// A view of one IPX packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap bytes without checking. Accessors never panic, but read zeros past the end of a
    /// short buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wrap untrusted bytes; see [`check`](Self::check).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Packet { buffer };
        packet.check()?;
        Ok(packet)
    }

    /// The checks of [`new_checked`](Self::new_checked): the header is present, Packet
    /// Length is at least 30 and the buffer holds that many octets (more are padding). The
    /// checksum is not verified here ([`verify_checksum`](Self::verify_checksum)).
    pub fn check(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let length = self.packet_length();
        if usize::from(length) < HEADER_LEN {
            return Err(Error::BadLength(length));
        }
        if len < usize::from(length) {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Consumes the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The Packet Length field.
    pub fn packet_length(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// The Transport Control octet (the hop count).
    pub fn transport_control(&self) -> u8 {
        self.buffer
            .as_ref()
            .get(field::TRANSPORT_CONTROL)
            .copied()
            .unwrap_or(0)
    }

    /// The Packet Type.
    pub fn packet_type(&self) -> PacketType {
        PacketType::from(
            self.buffer
                .as_ref()
                .get(field::PACKET_TYPE)
                .copied()
                .unwrap_or(0),
        )
    }

    /// The destination address.
    pub fn dst(&self) -> Address {
        let b = self.buffer.as_ref();
        Address {
            network: be32(b, field::DST_NETWORK.start),
            node: node(b, field::DST_NODE.start),
            socket: be16(b, field::DST_SOCKET.start),
        }
    }

    /// The source address.
    pub fn src(&self) -> Address {
        let b = self.buffer.as_ref();
        Address {
            network: be32(b, field::SRC_NETWORK.start),
            node: node(b, field::SRC_NODE.start),
            socket: be16(b, field::SRC_SOCKET.start),
        }
    }

    /// The packet without the media's padding: its first Packet Length octets (the whole
    /// buffer when Packet Length is larger; [`check`](Self::check) refuses that).
    pub fn as_bytes(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(..usize::from(self.packet_length())).unwrap_or(b)
    }

    /// The data after the header, up to Packet Length.
    pub fn payload(&self) -> &[u8] {
        self.as_bytes().get(field::PAYLOAD..).unwrap_or_default()
    }

    /// Whether the packet carries a checksum (the field is not 0xFFFF).
    pub fn has_checksum(&self) -> bool {
        self.checksum() != NO_CHECKSUM
    }

    /// Whether the checksum is absent (0xFFFF) or right.
    pub fn verify_checksum(&self) -> bool {
        !self.has_checksum() || checksum(self.as_bytes()) == self.checksum()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, range: core::ops::Range<usize>, value: &[u8]) {
        if let Some(dst) = self.buffer.as_mut().get_mut(range) {
            dst.copy_from_slice(value);
        }
    }

    /// Sets the Checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.put(field::CHECKSUM, &value.to_be_bytes());
    }

    /// Sets the Packet Length field.
    pub fn set_packet_length(&mut self, value: u16) {
        self.put(field::LENGTH, &value.to_be_bytes());
    }

    /// Sets Transport Control.
    pub fn set_transport_control(&mut self, value: u8) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::TRANSPORT_CONTROL) {
            *b = value;
        }
    }

    /// Sets the Packet Type.
    pub fn set_packet_type(&mut self, value: PacketType) {
        if let Some(b) = self.buffer.as_mut().get_mut(field::PACKET_TYPE) {
            *b = value.into();
        }
    }

    /// Sets the destination address.
    pub fn set_dst(&mut self, a: Address) {
        self.put(field::DST_NETWORK, &a.network.to_be_bytes());
        self.put(field::DST_NODE, &a.node);
        self.put(field::DST_SOCKET, &a.socket.to_be_bytes());
    }

    /// Sets the destination node only.
    pub fn set_dst_node(&mut self, node: [u8; 6]) {
        self.put(field::DST_NODE, &node);
    }

    /// Sets the source address.
    pub fn set_src(&mut self, a: Address) {
        self.put(field::SRC_NETWORK, &a.network.to_be_bytes());
        self.put(field::SRC_NODE, &a.node);
        self.put(field::SRC_SOCKET, &a.socket.to_be_bytes());
    }

    /// Sets the source node only.
    pub fn set_src_node(&mut self, node: [u8; 6]) {
        self.put(field::SRC_NODE, &node);
    }

    /// Recomputes the Checksum if the packet carries one (after an address changed); a
    /// packet without one (0xFFFF) is left so.
    pub fn update_checksum(&mut self) {
        if self.has_checksum() {
            let sum = checksum(self.as_bytes());
            self.set_checksum(sum);
        }
    }
}

/// A parsed IPX packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Whether the packet carries a checksum (else the field is 0xFFFF).
    pub checksummed: bool,
    /// Transport Control (hop count).
    pub transport_control: u8,
    /// Packet Type.
    pub packet_type: PacketType,
    /// Destination.
    pub dst: Address,
    /// Source.
    pub src: Address,
    /// The data after the header.
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parses a checked packet, verifying its checksum when it has one.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &'a Packet<&'a T>) -> Result<Repr<'a>> {
        packet.check()?;
        if !packet.verify_checksum() {
            return Err(Error::BadChecksum);
        }
        let bytes: &'a [u8] = <T as AsRef<[u8]>>::as_ref(packet.buffer);
        let length = usize::from(packet.packet_length());
        Ok(Repr {
            checksummed: packet.has_checksum(),
            transport_control: packet.transport_control(),
            packet_type: packet.packet_type(),
            dst: packet.dst(),
            src: packet.src(),
            payload: bytes.get(field::PAYLOAD..length).unwrap_or_default(),
        })
    }

    /// The packet's length: header and data.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Writes the packet into the first [`buffer_len`](Self::buffer_len) octets of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let length = u16::try_from(len).map_err(|_| Error::TooLong)?;
        let out = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        if let Some(data) = out.get_mut(field::PAYLOAD..) {
            data.copy_from_slice(self.payload);
        }
        let mut p = Packet::new_unchecked(out);
        p.set_checksum(NO_CHECKSUM);
        p.set_packet_length(length);
        p.set_transport_control(self.transport_control);
        p.set_packet_type(self.packet_type);
        p.set_dst(self.dst);
        p.set_src(self.src);
        if self.checksummed {
            let sum = checksum(p.as_bytes());
            // 0xFFFF cannot come out of `checksum`: a checksummed packet stays one.
            p.set_checksum(sum);
        }
        Ok(len)
    }

    /// Appends the packet to `out`.
    pub fn push(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.resize(start + self.buffer_len(), 0);
        let r = out
            .get_mut(start..)
            .ok_or(Error::BufferTooSmall)
            .and_then(|b| self.emit(b));
        if r.is_err() {
            out.truncate(start);
        }
        r.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NetWare SAP General Service Query as clients broadcast it: to all nodes of the local
    /// network, socket 0x0452, packet type 0 (the query is 2 + 2 octets of data).
    const SAP_QUERY: [u8; 34] = [
        0xFF, 0xFF, // no checksum
        0x00, 0x22, // length 34
        0x00, // transport control
        0x00, // packet type
        0x00, 0x00, 0x00, 0x00, // dst net: this network
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // broadcast
        0x04, 0x52, // SAP socket
        0x00, 0x00, 0x00, 0x2A, // src net
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src node
        0x40, 0x05, // src socket
        0x00, 0x01, 0x00, 0x04, // general query, file servers
    ];

    #[test]
    fn header_fields_rfc1552_2() {
        let p = Packet::new_checked(&SAP_QUERY[..]).expect("valid");
        assert_eq!(p.checksum(), NO_CHECKSUM);
        assert!(!p.has_checksum() && p.verify_checksum());
        assert_eq!(p.packet_length(), 34);
        assert_eq!(p.transport_control(), 0);
        assert_eq!(p.packet_type(), PacketType::Unknown);
        assert_eq!(
            p.dst(),
            Address {
                network: 0,
                node: BROADCAST_NODE,
                socket: 0x0452
            }
        );
        assert!(p.dst().is_broadcast());
        assert_eq!(p.src().to_string(), "0000002a.020000000001.4005");
        assert_eq!(p.payload(), &[0, 1, 0, 4]);
    }

    #[test]
    fn length_field_is_checked_and_padding_ignored() {
        assert_eq!(
            Packet::new_checked(&SAP_QUERY[..29]).err(),
            Some(Error::Truncated)
        );
        assert_eq!(
            Packet::new_checked(&SAP_QUERY[..33]).err(),
            Some(Error::Truncated)
        );
        let mut short = SAP_QUERY;
        short[3] = 29;
        assert_eq!(
            Packet::new_checked(&short[..]).err(),
            Some(Error::BadLength(29))
        );
        // Ethernet pads to 46 octets of payload: the padding is not the packet's.
        let mut padded = SAP_QUERY.to_vec();
        padded.resize(46, 0);
        let p = Packet::new_checked(&padded[..]).expect("padded");
        assert_eq!(p.as_bytes(), &SAP_QUERY[..]);
        assert_eq!(p.payload(), &[0, 1, 0, 4]);
    }

    #[test]
    fn repr_round_trips_with_and_without_checksum() {
        let p = Packet::new_checked(&SAP_QUERY[..]).expect("valid");
        let repr = Repr::parse(&p).expect("parses");
        let mut out = Vec::new();
        repr.push(&mut out).expect("emits");
        assert_eq!(out, SAP_QUERY);
        let checked = Repr {
            checksummed: true,
            transport_control: 3,
            packet_type: PacketType::Spx,
            ..repr
        };
        let mut out = vec![0; checked.buffer_len()];
        assert_eq!(checked.emit(&mut out), Ok(34));
        let p = Packet::new_checked(&out[..]).expect("valid");
        assert!(p.has_checksum() && p.verify_checksum());
        assert_eq!(Repr::parse(&p), Ok(checked));
        // The checksum leaves Transport Control out: a router's increment keeps it valid.
        out[4] = 4;
        assert!(
            Packet::new_checked(&out[..])
                .expect("valid")
                .verify_checksum()
        );
        // Any other change breaks it.
        out[33] ^= 1;
        let p = Packet::new_checked(&out[..]).expect("valid");
        assert_eq!(Repr::parse(&p), Err(Error::BadChecksum));
        assert_eq!(
            Repr {
                payload: &[0; 65_506],
                ..repr
            }
            .emit(&mut []),
            Err(Error::TooLong)
        );
        assert_eq!(repr.emit(&mut [0; 33]), Err(Error::BufferTooSmall));
    }

    #[test]
    fn checksum_is_ones_complement_sum_skipping_checksum_and_hops() {
        // Words: [skip] 0x0021 (length 33) 0x0000 (hops counted as 0, type 0), zeros..., and
        // the odd last octet 0x01 padded to 0x0100.
        let mut packet = [0u8; 33];
        packet[..2].copy_from_slice(&[0x12, 0x34]);
        packet[3] = 33;
        packet[4] = 0x0F;
        packet[32] = 0x01;
        assert_eq!(checksum(&packet), !(0x0021u16 + 0x0100));
        // Carries wrap around.
        let mut big = [0xFFu8; 32];
        big[..4].copy_from_slice(&[0, 0, 0, 32]);
        big[4] = 0;
        // The length word, the type word (0x00FF) and 13 words of 0xFFFF.
        let mut sum: u32 = 0x0020 + 0x00FF + 13 * 0xFFFF;
        while sum > 0xFFFF {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        assert_eq!(checksum(&big), !(sum as u16));
    }

    #[test]
    fn setters_rewrite_nodes_and_update_the_checksum() {
        let mut buf = SAP_QUERY;
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_node([2, 0x49, 0, 0, 0, 7]);
        p.update_checksum();
        assert_eq!(
            p.checksum(),
            NO_CHECKSUM,
            "a packet without a checksum stays so"
        );
        p.set_checksum(0);
        p.update_checksum();
        assert!(p.verify_checksum());
        p.set_dst_node([2, 0, 0, 0, 0, 9]);
        assert!(!p.verify_checksum());
        p.update_checksum();
        assert!(p.verify_checksum());
        assert_eq!(p.src().node, [2, 0x49, 0, 0, 0, 7]);
    }

    #[test]
    fn packet_types_keep_unknown_values() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(PacketType::from(v)), v);
        }
        assert_eq!(PacketType::from(0x11), PacketType::Ncp);
        assert_eq!(PacketType::from(9), PacketType::Other(9));
    }

    #[test]
    fn unchecked_accessors_never_panic() {
        let p = Packet::new_unchecked(&[1u8, 2, 3][..]);
        let _ = (
            p.dst(),
            p.src(),
            p.payload(),
            p.as_bytes(),
            p.verify_checksum(),
        );
        assert_eq!(checksum(&[]), 0);
    }
}
