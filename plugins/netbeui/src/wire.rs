//! Views over the bytes of a NetBIOS Frames (NBF) frame on the LAN: the IEEE 802.3 MAC
//! header (with its length field), the IEEE 802.2 LLC header (DSAP/SSAP 0xF0 for NetBIOS)
//! and the NetBIOS header of the NBF protocol. Sans-IO, in the house style of `dialgate-wire`
//! (smoltcp's): a `Packet<T: AsRef<[u8]>>` view per layer with a `field` module of byte
//! ranges and `new_checked` for untrusted input (which also checks the layer's own length
//! field), and a `Repr` with `parse` / `buffer_len` / `emit` such that `parse(emit(r)) == r`.
//! Nothing here panics on any input.
//!
//! ```text
//!  IEEE 802.3         IEEE 802.2 LLC           NetBIOS (NBF) header
//! +-----+-----+-----+ +------+------+---------+ +-----+-----+---+-----+-----+-----+-----+------+------+
//! | DA  | SA  | Len | | DSAP | SSAP | Control | | Len | FFEF|Cmd|Data1|Data2|XmitC|RespC| Dest | Src  |
//! |  6  |  6  |  2  | | 0xF0 | 0xF0 |  1 or 2 | |  2  |  2  | 1 |  1  |  2  |  2  |  2  |16 / 1|16 / 1|
//! +-----+-----+-----+ +------+------+---------+ +-----+-----+---+-----+-----+-----+-----+------+------+
//! ```
//!
//! The MAC header's Length is big-endian (IEEE 802.3 §3.2.6); every multi-octet field of the
//! NetBIOS header is **little-endian** (IBM's NetBIOS Frames protocol was defined on PCs): its
//! length, the 0xEFFF delimiter (on the wire `FF EF`), Data2 and the correlators. Those are
//! read with `from_le_bytes` on purpose.

use core::fmt;
use core::str::FromStr;

/// Why bytes are not a valid frame of the layer being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The buffer ends before a header or the length its length field announces.
    Truncated,
    /// The 802.3 Length/Type field is an Ethertype (≥ 0x0600) or larger than 1500: not an
    /// IEEE 802.3 frame with LLC.
    NotLength(u16),
    /// The NetBIOS delimiter is not 0xEFFF.
    BadDelimiter(u16),
    /// The NetBIOS header length is not the one its command's frame format has (44 for
    /// name-addressed frames, 14 for session frames).
    BadHeaderLength {
        /// The command.
        command: u8,
        /// What the Length field says.
        length: u16,
    },
    /// An LLC S-format control field with its reserved bits (4 to 7 of the first octet) set.
    BadControl(u8),
    /// The output buffer is too small (emit only).
    BufferTooSmall,
    /// A payload longer than an 802.3 frame carries (emit only).
    PayloadTooLong,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated frame"),
            Error::NotLength(v) => write!(f, "802.3 length/type {v:#06x} is not a length"),
            Error::BadDelimiter(d) => write!(f, "NetBIOS delimiter {d:#06x}, not 0xefff"),
            Error::BadHeaderLength { command, length } => write!(
                f,
                "NetBIOS header length {length} does not fit command {command:#04x}"
            ),
            Error::BadControl(c) => {
                write!(f, "LLC S-format control {c:#04x} has reserved bits set")
            }
            Error::BufferTooSmall => f.write_str("output buffer too small"),
            Error::PayloadTooLong => f.write_str("payload longer than 1500 octets"),
        }
    }
}

impl std::error::Error for Error {}

/// The result of parsing or emitting.
pub type Result<T> = core::result::Result<T, Error>;

/// An IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// The NetBIOS functional address of Token Ring (`C0:00:00:00:00:80` in Token Ring's
    /// bit order) as NBF uses it on Ethernet: the group address `03:00:00:00:00:01`, to which
    /// NBF sends its name-addressed (UI) frames.
    pub const NETBIOS_MULTICAST: MacAddr = MacAddr([0x03, 0, 0, 0, 0, 0x01]);

    /// Whether the I/G bit is set: a group (multicast or broadcast) address.
    pub fn is_group(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether the U/L bit is set: a locally administered address.
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for MacAddr {
    type Err = ();

    /// Six two-digit hex octets separated by `:` or `-`.
    fn from_str(text: &str) -> core::result::Result<Self, ()> {
        let mut mac = [0u8; 6];
        let mut parts = text.split([':', '-']);
        for octet in &mut mac {
            let part = parts.next().ok_or(())?;
            if part.len() != 2 {
                return Err(());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| ())?;
        }
        if parts.next().is_some() {
            return Err(());
        }
        Ok(MacAddr(mac))
    }
}

fn mac_at(bytes: &[u8], at: usize) -> MacAddr {
    match bytes.get(at..at + 6) {
        Some(&[a, b, c, d, e, f]) => MacAddr([a, b, c, d, e, f]),
        _ => MacAddr::default(),
    }
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

fn le16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    }
}

fn put(buf: &mut [u8], at: usize, src: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + src.len()) {
        dst.copy_from_slice(src);
    }
}

/// IEEE 802.3 with a length field: the MAC header NBF frames have on Ethernet.
pub mod ethernet {
    use super::{Error, MacAddr, Result, be16, mac_at, put};

    /// Byte ranges of the MAC header.
    pub mod field {
        use core::ops::Range;
        /// Destination address.
        pub const DST: Range<usize> = 0..6;
        /// Source address.
        pub const SRC: Range<usize> = 6..12;
        /// Length of the MAC client data (LLC header and payload), big-endian.
        pub const LENGTH: Range<usize> = 12..14;
        /// Where the LLC header starts.
        pub const PAYLOAD: usize = 14;
    }

    /// Length of the MAC header.
    pub const HEADER_LEN: usize = 14;
    /// The largest MAC client data of an 802.3 frame (and the largest Length value).
    pub const MAX_PAYLOAD: usize = 1500;
    /// The shortest frame on the wire without its FCS; shorter frames are padded.
    pub const MIN_FRAME: usize = 60;

    /// A view of an 802.3 frame (without FCS).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Frame<T: AsRef<[u8]>> {
        buffer: T,
    }

    impl<T: AsRef<[u8]>> Frame<T> {
        /// Wrap bytes without checking; accessors return zeros or empty slices on a short
        /// buffer.
        pub const fn new_unchecked(buffer: T) -> Self {
            Frame { buffer }
        }

        /// Wrap untrusted bytes: the header is present, Length is a length (≤ 1500, not an
        /// Ethertype) and the buffer holds that many octets after the header (more are
        /// padding, ignored by [`payload`](Self::payload)).
        pub fn new_checked(buffer: T) -> Result<Self> {
            let frame = Frame { buffer };
            frame.check()?;
            Ok(frame)
        }

        /// The checks of [`new_checked`](Self::new_checked).
        pub fn check(&self) -> Result<()> {
            let len = self.buffer.as_ref().len();
            if len < HEADER_LEN {
                return Err(Error::Truncated);
            }
            let length = self.length();
            if usize::from(length) > MAX_PAYLOAD {
                return Err(Error::NotLength(length));
            }
            if len < HEADER_LEN + usize::from(length) {
                return Err(Error::Truncated);
            }
            Ok(())
        }

        /// The destination address.
        pub fn dst(&self) -> MacAddr {
            mac_at(self.buffer.as_ref(), field::DST.start)
        }

        /// The source address.
        pub fn src(&self) -> MacAddr {
            mac_at(self.buffer.as_ref(), field::SRC.start)
        }

        /// The Length field.
        pub fn length(&self) -> u16 {
            be16(self.buffer.as_ref(), field::LENGTH.start)
        }

        /// Where the MAC client data is: the Length octets after the header.
        pub fn payload_range(&self) -> core::ops::Range<usize> {
            field::PAYLOAD..field::PAYLOAD + usize::from(self.length())
        }

        /// The MAC client data: the Length octets after the header, padding excluded.
        pub fn payload(&self) -> &[u8] {
            self.buffer
                .as_ref()
                .get(self.payload_range())
                .unwrap_or_default()
        }
    }

    /// A parsed MAC header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Repr {
        /// Destination address.
        pub dst: MacAddr,
        /// Source address.
        pub src: MacAddr,
        /// Length of the MAC client data.
        pub payload_len: usize,
    }

    impl Repr {
        /// Parse a checked frame's header.
        pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<Repr> {
            frame.check()?;
            Ok(Repr {
                dst: frame.dst(),
                src: frame.src(),
                payload_len: usize::from(frame.length()),
            })
        }

        /// The octets [`emit`](Self::emit) writes: the header only.
        pub const fn buffer_len(&self) -> usize {
            HEADER_LEN
        }

        /// Write the header into the first [`HEADER_LEN`] octets of `buf`.
        pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
            let length = u16::try_from(self.payload_len)
                .ok()
                .filter(|l| usize::from(*l) <= MAX_PAYLOAD)
                .ok_or(Error::PayloadTooLong)?;
            if buf.len() < HEADER_LEN {
                return Err(Error::BufferTooSmall);
            }
            put(buf, field::DST.start, &self.dst.0);
            put(buf, field::SRC.start, &self.src.0);
            put(buf, field::LENGTH.start, &length.to_be_bytes());
            Ok(())
        }
    }
}

/// IEEE 802.2 LLC: the header NBF frames start with, on the LAN and over PPP.
pub mod llc {
    use super::{Error, Result, put};

    /// Byte offsets of the LLC header.
    pub mod field {
        /// Destination service access point.
        pub const DSAP: usize = 0;
        /// Source service access point; bit 0 is the command/response bit.
        pub const SSAP: usize = 1;
        /// Control: one octet (U format) or two (I and S formats).
        pub const CONTROL: usize = 2;
    }

    /// The SAP of NetBIOS (IEEE 802.2 assigned, "IBM NetBIOS").
    pub const SAP_NETBIOS: u8 = 0xF0;
    /// The control octet of an Unnumbered Information (UI) frame, P/F clear: the
    /// connectionless frames NBF sends its name-addressed commands in.
    pub const UI: u8 = 0x03;

    /// The control field.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Control {
        /// I format: sequenced information (LLC type 2 connections carry NBF sessions).
        Information {
            /// N(S).
            ns: u8,
            /// N(R).
            nr: u8,
            /// The P/F bit.
            poll: bool,
        },
        /// S format: RR, RNR, REJ (the 2-bit function in `function`).
        Supervisory {
            /// The supervisory function bits (0 RR, 1 RNR, 2 REJ).
            function: u8,
            /// N(R).
            nr: u8,
            /// The P/F bit.
            poll: bool,
        },
        /// U format: UI, SABME, UA, DISC, DM, FRMR, XID, TEST (the modifier with P/F clear).
        Unnumbered {
            /// The control octet with the P/F bit (0x10) clear.
            modifier: u8,
            /// The P/F bit.
            poll: bool,
        },
    }

    impl Control {
        /// Octets of the control field: 2 for I and S, 1 for U.
        pub const fn octets(&self) -> usize {
            match self {
                Control::Unnumbered { .. } => 1,
                _ => 2,
            }
        }

        /// Whether this is an Unnumbered Information frame.
        pub const fn is_ui(&self) -> bool {
            matches!(self, Control::Unnumbered { modifier: UI, .. })
        }
    }

    /// A view of an LLC PDU.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Pdu<T: AsRef<[u8]>> {
        buffer: T,
    }

    impl<T: AsRef<[u8]>> Pdu<T> {
        /// Wrap bytes without checking.
        pub const fn new_unchecked(buffer: T) -> Self {
            Pdu { buffer }
        }

        /// Wrap untrusted bytes: the SAPs and the whole control field are present, and an
        /// S-format control field has its reserved bits clear (IEEE 802.2 §5.4.1.2).
        pub fn new_checked(buffer: T) -> Result<Self> {
            let pdu = Pdu { buffer };
            pdu.check()?;
            Ok(pdu)
        }

        /// The checks of [`new_checked`](Self::new_checked).
        pub fn check(&self) -> Result<()> {
            if self.buffer.as_ref().len() < self.header_len() {
                return Err(Error::Truncated);
            }
            let c0 = self.octet(field::CONTROL);
            if c0 & 0x03 == 0x01 && c0 & 0xF0 != 0 {
                return Err(Error::BadControl(c0));
            }
            Ok(())
        }

        fn octet(&self, at: usize) -> u8 {
            self.buffer.as_ref().get(at).copied().unwrap_or(0)
        }

        /// The destination SAP (with its I/G bit).
        pub fn dsap(&self) -> u8 {
            self.octet(field::DSAP)
        }

        /// The source SAP without the command/response bit.
        pub fn ssap(&self) -> u8 {
            self.octet(field::SSAP) & !1
        }

        /// Whether the command/response bit says response.
        pub fn is_response(&self) -> bool {
            self.octet(field::SSAP) & 1 != 0
        }

        /// The control field.
        pub fn control(&self) -> Control {
            let c0 = self.octet(field::CONTROL);
            let c1 = self.octet(field::CONTROL + 1);
            if c0 & 0x01 == 0 {
                Control::Information {
                    ns: c0 >> 1,
                    nr: c1 >> 1,
                    poll: c1 & 1 != 0,
                }
            } else if c0 & 0x03 == 0x01 {
                Control::Supervisory {
                    function: (c0 >> 2) & 0x03,
                    nr: c1 >> 1,
                    poll: c1 & 1 != 0,
                }
            } else {
                Control::Unnumbered {
                    modifier: c0 & !0x10,
                    poll: c0 & 0x10 != 0,
                }
            }
        }

        /// Octets of the LLC header (3 or 4).
        pub fn header_len(&self) -> usize {
            field::CONTROL + self.control().octets()
        }

        /// What follows the LLC header.
        pub fn payload(&self) -> &[u8] {
            self.buffer
                .as_ref()
                .get(self.header_len()..)
                .unwrap_or_default()
        }
    }

    /// A parsed LLC header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Repr {
        /// Destination SAP.
        pub dsap: u8,
        /// Source SAP (command/response bit clear).
        pub ssap: u8,
        /// The command/response bit.
        pub response: bool,
        /// The control field.
        pub control: Control,
    }

    impl Repr {
        /// Parse a PDU's header.
        pub fn parse<T: AsRef<[u8]>>(pdu: &Pdu<T>) -> Result<Repr> {
            pdu.check()?;
            Ok(Repr {
                dsap: pdu.dsap(),
                ssap: pdu.ssap(),
                response: pdu.is_response(),
                control: pdu.control(),
            })
        }

        /// Octets of the header.
        pub const fn buffer_len(&self) -> usize {
            field::CONTROL + self.control.octets()
        }

        /// Write the header into the start of `buf`. Sequence numbers are 7 bits, modifiers
        /// keep their format bits: fields out of range are masked, so emit never fails on a
        /// large enough buffer.
        pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
            if buf.len() < self.buffer_len() {
                return Err(Error::BufferTooSmall);
            }
            let ssap = (self.ssap & !1) | u8::from(self.response);
            put(buf, field::DSAP, &[self.dsap]);
            put(buf, field::SSAP, &[ssap]);
            let control: &[u8] = &match self.control {
                Control::Information { ns, nr, poll } => {
                    [(ns & 0x7f) << 1, (nr & 0x7f) << 1 | u8::from(poll)]
                }
                Control::Supervisory { function, nr, poll } => [
                    0x01 | (function & 0x03) << 2,
                    (nr & 0x7f) << 1 | u8::from(poll),
                ],
                Control::Unnumbered { modifier, poll } => {
                    [modifier | 0x03 | if poll { 0x10 } else { 0 }, 0]
                }
            }[..self.control.octets()];
            put(buf, field::CONTROL, control);
            Ok(())
        }
    }
}

/// The NetBIOS header of the NetBIOS Frames protocol (IBM's NetBIOS LAN Technical Reference;
/// the field layout Wireshark's `netbios` dissector reads).
pub mod netbios {
    use super::{Error, Result, le16, put};

    /// Byte ranges of the header.
    pub mod field {
        use core::ops::Range;
        /// Length of the NetBIOS header (little-endian): 44 or 14.
        pub const LENGTH: Range<usize> = 0..2;
        /// The delimiter 0xEFFF (little-endian: `FF EF`).
        pub const DELIMITER: Range<usize> = 2..4;
        /// The command.
        pub const COMMAND: usize = 4;
        /// Optional data 1.
        pub const DATA1: usize = 5;
        /// Optional data 2 (little-endian).
        pub const DATA2: Range<usize> = 6..8;
        /// Transmit correlator (little-endian).
        pub const XMIT_CORRELATOR: Range<usize> = 8..10;
        /// Response correlator (little-endian).
        pub const RESP_CORRELATOR: Range<usize> = 10..12;
        /// Name-addressed frames: the destination name.
        pub const DEST_NAME: Range<usize> = 12..28;
        /// Name-addressed frames: the source name.
        pub const SOURCE_NAME: Range<usize> = 28..44;
        /// Session frames: the destination session number.
        pub const DEST_SESSION: usize = 12;
        /// Session frames: the source session number.
        pub const SOURCE_SESSION: usize = 13;
    }

    /// The delimiter every NetBIOS header carries.
    pub const DELIMITER: u16 = 0xEFFF;
    /// Header length of name-addressed frames (sent in LLC UI frames).
    pub const NAME_HEADER_LEN: usize = 44;
    /// Header length of session frames (sent in LLC I frames).
    pub const SESSION_HEADER_LEN: usize = 14;
    /// Length of a NetBIOS name.
    pub const NAME_LEN: usize = 16;

    /// A NetBIOS name: 16 octets, the last one its type (`0x20` server, `0x00` workstation).
    pub type Name = [u8; NAME_LEN];

    /// NetBIOS Frames commands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Command {
        /// 0x00 ADD_GROUP_NAME_QUERY: is this group name a unique name somewhere?
        AddGroupNameQuery,
        /// 0x01 ADD_NAME_QUERY: is this name in use? (owners answer ADD_NAME_RESPONSE)
        AddNameQuery,
        /// 0x02 NAME_IN_CONFLICT.
        NameInConflict,
        /// 0x03 STATUS_QUERY.
        StatusQuery,
        /// 0x07 TERMINATE_TRACE (remote).
        TerminateTrace,
        /// 0x08 DATAGRAM to a name.
        Datagram,
        /// 0x09 DATAGRAM_BROADCAST.
        DatagramBroadcast,
        /// 0x0A NAME_QUERY: who has this name? (the owner answers NAME_RECOGNIZED)
        NameQuery,
        /// 0x0D ADD_NAME_RESPONSE: the name is mine (a defense).
        AddNameResponse,
        /// 0x0E NAME_RECOGNIZED: the answer to NAME_QUERY.
        NameRecognized,
        /// 0x0F STATUS_RESPONSE.
        StatusResponse,
        /// 0x13 TERMINATE_TRACE (local and remote).
        TerminateTraceBoth,
        /// 0x14 DATA_ACK.
        DataAck,
        /// 0x15 DATA_FIRST_MIDDLE.
        DataFirstMiddle,
        /// 0x16 DATA_ONLY_LAST.
        DataOnlyLast,
        /// 0x17 SESSION_CONFIRM.
        SessionConfirm,
        /// 0x18 SESSION_END.
        SessionEnd,
        /// 0x19 SESSION_INITIALIZE.
        SessionInitialize,
        /// 0x1A NO_RECEIVE.
        NoReceive,
        /// 0x1B RECEIVE_OUTSTANDING.
        ReceiveOutstanding,
        /// 0x1C RECEIVE_CONTINUE.
        ReceiveContinue,
        /// 0x1F SESSION_ALIVE.
        SessionAlive,
        /// Any other command, kept.
        Unknown(u8),
    }

    impl From<u8> for Command {
        fn from(code: u8) -> Self {
            match code {
                0x00 => Command::AddGroupNameQuery,
                0x01 => Command::AddNameQuery,
                0x02 => Command::NameInConflict,
                0x03 => Command::StatusQuery,
                0x07 => Command::TerminateTrace,
                0x08 => Command::Datagram,
                0x09 => Command::DatagramBroadcast,
                0x0A => Command::NameQuery,
                0x0D => Command::AddNameResponse,
                0x0E => Command::NameRecognized,
                0x0F => Command::StatusResponse,
                0x13 => Command::TerminateTraceBoth,
                0x14 => Command::DataAck,
                0x15 => Command::DataFirstMiddle,
                0x16 => Command::DataOnlyLast,
                0x17 => Command::SessionConfirm,
                0x18 => Command::SessionEnd,
                0x19 => Command::SessionInitialize,
                0x1A => Command::NoReceive,
                0x1B => Command::ReceiveOutstanding,
                0x1C => Command::ReceiveContinue,
                0x1F => Command::SessionAlive,
                other => Command::Unknown(other),
            }
        }
    }

    impl From<Command> for u8 {
        fn from(c: Command) -> u8 {
            match c {
                Command::AddGroupNameQuery => 0x00,
                Command::AddNameQuery => 0x01,
                Command::NameInConflict => 0x02,
                Command::StatusQuery => 0x03,
                Command::TerminateTrace => 0x07,
                Command::Datagram => 0x08,
                Command::DatagramBroadcast => 0x09,
                Command::NameQuery => 0x0A,
                Command::AddNameResponse => 0x0D,
                Command::NameRecognized => 0x0E,
                Command::StatusResponse => 0x0F,
                Command::TerminateTraceBoth => 0x13,
                Command::DataAck => 0x14,
                Command::DataFirstMiddle => 0x15,
                Command::DataOnlyLast => 0x16,
                Command::SessionConfirm => 0x17,
                Command::SessionEnd => 0x18,
                Command::SessionInitialize => 0x19,
                Command::NoReceive => 0x1A,
                Command::ReceiveOutstanding => 0x1B,
                Command::ReceiveContinue => 0x1C,
                Command::SessionAlive => 0x1F,
                Command::Unknown(other) => other,
            }
        }
    }

    impl Command {
        /// Whether frames of this command carry names (44-octet header, LLC UI) rather than
        /// session numbers (14-octet header, LLC I frames): codes 0x00 to 0x13.
        pub fn is_name_addressed(self) -> bool {
            u8::from(self) <= 0x13
        }

        /// The header length of this command's frames.
        pub fn header_len(self) -> usize {
            if self.is_name_addressed() {
                NAME_HEADER_LEN
            } else {
                SESSION_HEADER_LEN
            }
        }

        /// Whether the frame answers a query and goes back to the querier alone
        /// (ADD_NAME_RESPONSE, NAME_RECOGNIZED, STATUS_RESPONSE), rather than to every
        /// station (the NetBIOS group address).
        pub fn is_response(self) -> bool {
            matches!(
                self,
                Command::AddNameResponse | Command::NameRecognized | Command::StatusResponse
            )
        }
    }

    /// A view of a NetBIOS header and what follows it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Packet<T: AsRef<[u8]>> {
        buffer: T,
    }

    impl<T: AsRef<[u8]>> Packet<T> {
        /// Wrap bytes without checking.
        pub const fn new_unchecked(buffer: T) -> Self {
            Packet { buffer }
        }

        /// Wrap untrusted bytes: the delimiter is 0xEFFF, the Length field is the header
        /// length of the command's frame format, and the whole header is present.
        pub fn new_checked(buffer: T) -> Result<Self> {
            let packet = Packet { buffer };
            packet.check()?;
            Ok(packet)
        }

        /// The checks of [`new_checked`](Self::new_checked).
        pub fn check(&self) -> Result<()> {
            let len = self.buffer.as_ref().len();
            if len < SESSION_HEADER_LEN {
                return Err(Error::Truncated);
            }
            if self.delimiter() != DELIMITER {
                return Err(Error::BadDelimiter(self.delimiter()));
            }
            let command = self.command();
            if usize::from(self.length()) != command.header_len() {
                return Err(Error::BadHeaderLength {
                    command: command.into(),
                    length: self.length(),
                });
            }
            if len < command.header_len() {
                return Err(Error::Truncated);
            }
            Ok(())
        }

        fn octet(&self, at: usize) -> u8 {
            self.buffer.as_ref().get(at).copied().unwrap_or(0)
        }

        /// The Length field.
        pub fn length(&self) -> u16 {
            le16(self.buffer.as_ref(), field::LENGTH.start)
        }

        /// The delimiter field.
        pub fn delimiter(&self) -> u16 {
            le16(self.buffer.as_ref(), field::DELIMITER.start)
        }

        /// The command.
        pub fn command(&self) -> Command {
            self.octet(field::COMMAND).into()
        }

        /// Optional data 1.
        pub fn data1(&self) -> u8 {
            self.octet(field::DATA1)
        }

        /// Optional data 2.
        pub fn data2(&self) -> u16 {
            le16(self.buffer.as_ref(), field::DATA2.start)
        }

        /// The transmit correlator.
        pub fn xmit_correlator(&self) -> u16 {
            le16(self.buffer.as_ref(), field::XMIT_CORRELATOR.start)
        }

        /// The response correlator.
        pub fn resp_correlator(&self) -> u16 {
            le16(self.buffer.as_ref(), field::RESP_CORRELATOR.start)
        }

        fn name(&self, range: core::ops::Range<usize>) -> Option<Name> {
            if !self.command().is_name_addressed() {
                return None;
            }
            let bytes = self.buffer.as_ref().get(range)?;
            bytes.try_into().ok()
        }

        /// The destination name of a name-addressed frame.
        pub fn dest_name(&self) -> Option<Name> {
            self.name(field::DEST_NAME)
        }

        /// The source name of a name-addressed frame.
        pub fn source_name(&self) -> Option<Name> {
            self.name(field::SOURCE_NAME)
        }

        /// What follows the header (a datagram's or a session's data).
        pub fn payload(&self) -> &[u8] {
            let start = self.command().header_len();
            self.buffer.as_ref().get(start..).unwrap_or_default()
        }
    }

    /// How a frame is addressed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Addressing {
        /// Name-addressed frames (commands 0x00 to 0x13).
        Names {
            /// Destination name.
            dest: Name,
            /// Source name.
            source: Name,
        },
        /// Session frames (commands 0x14 to 0x1F).
        Sessions {
            /// Destination session number.
            dest: u8,
            /// Source session number.
            source: u8,
        },
    }

    /// A parsed NetBIOS header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Repr {
        /// The command.
        pub command: Command,
        /// Optional data 1.
        pub data1: u8,
        /// Optional data 2.
        pub data2: u16,
        /// Transmit correlator.
        pub xmit_correlator: u16,
        /// Response correlator.
        pub resp_correlator: u16,
        /// Names or session numbers; must match the command's frame format to emit.
        pub addressing: Addressing,
    }

    impl Repr {
        /// Parse a checked header.
        pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
            packet.check()?;
            let addressing = match (packet.dest_name(), packet.source_name()) {
                (Some(dest), Some(source)) => Addressing::Names { dest, source },
                _ => Addressing::Sessions {
                    dest: packet.octet(field::DEST_SESSION),
                    source: packet.octet(field::SOURCE_SESSION),
                },
            };
            Ok(Repr {
                command: packet.command(),
                data1: packet.data1(),
                data2: packet.data2(),
                xmit_correlator: packet.xmit_correlator(),
                resp_correlator: packet.resp_correlator(),
                addressing,
            })
        }

        /// Octets of the header.
        pub fn buffer_len(&self) -> usize {
            self.command.header_len()
        }

        /// Write the header into the start of `buf`. The addressing must be the command's
        /// (names for 0x00 to 0x13, session numbers otherwise), or parsing it back would
        /// not give `self`: that is refused as [`Error::BadHeaderLength`].
        pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
            let len = self.buffer_len();
            let fits = matches!(
                (self.addressing, self.command.is_name_addressed()),
                (Addressing::Names { .. }, true) | (Addressing::Sessions { .. }, false)
            );
            if !fits {
                return Err(Error::BadHeaderLength {
                    command: self.command.into(),
                    length: len as u16,
                });
            }
            if buf.len() < len {
                return Err(Error::BufferTooSmall);
            }
            put(buf, field::LENGTH.start, &(len as u16).to_le_bytes());
            put(buf, field::DELIMITER.start, &DELIMITER.to_le_bytes());
            put(buf, field::COMMAND, &[self.command.into()]);
            put(buf, field::DATA1, &[self.data1]);
            put(buf, field::DATA2.start, &self.data2.to_le_bytes());
            put(
                buf,
                field::XMIT_CORRELATOR.start,
                &self.xmit_correlator.to_le_bytes(),
            );
            put(
                buf,
                field::RESP_CORRELATOR.start,
                &self.resp_correlator.to_le_bytes(),
            );
            match self.addressing {
                Addressing::Names { dest, source } => {
                    put(buf, field::DEST_NAME.start, &dest);
                    put(buf, field::SOURCE_NAME.start, &source);
                }
                Addressing::Sessions { dest, source } => {
                    put(buf, field::DEST_SESSION, &[dest]);
                    put(buf, field::SOURCE_SESSION, &[source]);
                }
            }
            Ok(())
        }
    }

    /// A NetBIOS name from text: upper-cased, padded with spaces to 15 octets, and `kind` as
    /// the 16th (the convention of NetBIOS names; `0x20` is the server service).
    pub fn name(text: &str, kind: u8) -> Name {
        let mut out = [b' '; NAME_LEN];
        for (o, b) in out.iter_mut().zip(text.bytes().take(NAME_LEN - 1)) {
            *o = b.to_ascii_uppercase();
        }
        out[NAME_LEN - 1] = kind;
        out
    }
}

/// An NBF frame as the forwarder sees it: the LLC header (DSAP and SSAP must be NetBIOS's,
/// 0xF0) and, when the payload holds one, the NetBIOS header (LLC UI frames carry
/// name-addressed commands; I frames carry session frames; other LLC frames, such as SABME,
/// UA or RR, carry none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NbfFrame {
    /// The LLC header.
    pub llc: llc::Repr,
    /// The NetBIOS header, if the frame has one that parses.
    pub netbios: Option<netbios::Repr>,
}

/// Why an LLC PDU is not an NBF frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NbfError {
    /// The LLC header does not parse.
    Llc(Error),
    /// DSAP or SSAP is not 0xF0.
    NotNetbios {
        /// The DSAP.
        dsap: u8,
        /// The SSAP (command/response bit clear).
        ssap: u8,
    },
    /// An LLC UI frame whose NetBIOS header does not parse (connectionless NBF frames always
    /// have one).
    NetBios(Error),
}

impl fmt::Display for NbfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NbfError::Llc(e) => write!(f, "LLC: {e}"),
            NbfError::NotNetbios { dsap, ssap } => {
                write!(f, "LLC SAPs {dsap:#04x}/{ssap:#04x}, not NetBIOS (0xf0)")
            }
            NbfError::NetBios(e) => write!(f, "NetBIOS: {e}"),
        }
    }
}

impl std::error::Error for NbfError {}

impl NbfFrame {
    /// Parse an LLC PDU (the MAC client data of a LAN frame, or a PPP NBF information field
    /// without MAC header) as NBF.
    pub fn parse(pdu: &[u8]) -> core::result::Result<NbfFrame, NbfError> {
        let view = llc::Pdu::new_checked(pdu).map_err(NbfError::Llc)?;
        let llc = llc::Repr::parse(&view).map_err(NbfError::Llc)?;
        if llc.dsap != llc::SAP_NETBIOS || llc.ssap != llc::SAP_NETBIOS {
            return Err(NbfError::NotNetbios {
                dsap: llc.dsap,
                ssap: llc.ssap,
            });
        }
        let header =
            netbios::Packet::new_checked(view.payload()).and_then(|p| netbios::Repr::parse(&p));
        let netbios = match (llc.control, header) {
            (_, Ok(h)) => Some(h),
            (c, Err(e)) if c.is_ui() => return Err(NbfError::NetBios(e)),
            _ => None,
        };
        Ok(NbfFrame { llc, netbios })
    }
}

#[cfg(test)]
mod tests;
