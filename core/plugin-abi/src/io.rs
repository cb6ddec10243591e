//! The plain data passed with calls: addresses, tty settings, modem lines, link metadata.
//!
//! These are passed by value and are frozen for the major version: a new field means a new
//! type and a new (defaulted) method.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use abi_stable::StableAbi;
use abi_stable::std_types::RStr;

/// An IPv4 or IPv6 address.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpAddress {
    /// An IPv4 address, network order.
    V4([u8; 4]),
    /// An IPv6 address, network order.
    V6([u8; 16]),
}

impl From<IpAddr> for IpAddress {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => IpAddress::V4(v4.octets()),
            IpAddr::V6(v6) => IpAddress::V6(v6.octets()),
        }
    }
}

impl From<IpAddress> for IpAddr {
    fn from(ip: IpAddress) -> Self {
        match ip {
            IpAddress::V4(o) => IpAddr::V4(Ipv4Addr::from(o)),
            IpAddress::V6(o) => IpAddr::V6(Ipv6Addr::from(o)),
        }
    }
}

/// An IP address and a port.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketAddress {
    /// The address.
    pub ip: IpAddress,
    /// The port (TCP).
    pub port: u16,
}

impl From<SocketAddr> for SocketAddress {
    fn from(sa: SocketAddr) -> Self {
        SocketAddress {
            ip: sa.ip().into(),
            port: sa.port(),
        }
    }
}

impl From<SocketAddress> for SocketAddr {
    fn from(sa: SocketAddress) -> Self {
        SocketAddr::new(sa.ip.into(), sa.port)
    }
}

impl fmt::Display for SocketAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        SocketAddr::from(*self).fmt(f)
    }
}

/// Flow control on a tty.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowControl {
    /// None.
    None,
    /// RTS/CTS (termios `CRTSCTS`).
    Hardware,
    /// XON/XOFF (termios `IXON | IXOFF`); the ACCM must then escape 0x11 and 0x13.
    Software,
}

/// How the host opens and sets up a tty (always raw, 8 data bits, no parity, 1 stop bit: what
/// PPP's async HDLC framing needs, RFC 1662 §4).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtySettings<'a> {
    /// The device, e.g. `/dev/ttyS0` or a pty.
    pub path: RStr<'a>,
    /// Line speed in bit/s (mapped to the nearest termios speed the host supports).
    pub speed: u32,
    /// Flow control.
    pub flow_control: FlowControl,
    /// `true`: a local line, modem status lines ignored (termios `CLOCAL`). `false`: a modem
    /// line; the host reports carrier changes ([`crate::PluginObject::on_modem_status`]) and a
    /// carrier loss closes nothing by itself.
    pub local: bool,
    /// Drop DTR when the handle is closed (termios `HUPCL`).
    pub hangup_on_close: bool,
}

/// Modem control lines the host drives on a tty.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ModemControl {
    /// Data Terminal Ready: dropping it makes a modem hang up.
    pub dtr: bool,
    /// Request To Send.
    pub rts: bool,
}

/// Modem status lines the host reads on a tty.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ModemStatus {
    /// Data Carrier Detect.
    pub dcd: bool,
    /// Data Set Ready.
    pub dsr: bool,
    /// Clear To Send.
    pub cts: bool,
    /// Ring Indicator.
    pub ri: bool,
}

/// Why the host closed a handle.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// End of stream (TCP FIN, tty EOF).
    Eof,
    /// The tty hung up (`POLLHUP`).
    Hangup,
    /// The connection was reset or refused.
    Reset,
    /// Another I/O error, with its `errno`.
    Error {
        /// The OS error number.
        errno: i32,
    },
}

/// Which side started a call.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The peer called us (answer, incoming PPTP call).
    Incoming,
    /// We called the peer ([`crate::PluginObject::dial`]).
    Outgoing,
}

/// What a link plugin reports when a call is up ([`crate::Host::link_up`]).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkInfo<'a> {
    /// Who started the call.
    pub direction: Direction,
    /// The peer, human readable: `192.0.2.7:1723`, `/dev/ttyS0`; may be empty.
    pub peer: RStr<'a>,
    /// The calling number (caller id), empty when unknown.
    pub calling_number: RStr<'a>,
    /// The called number (dialled number), empty when unknown.
    pub called_number: RStr<'a>,
    /// The line speed in bit/s, 0 when unknown.
    pub speed_bps: u64,
}

impl<'a> LinkInfo<'a> {
    /// Link metadata with only a direction and a peer (no numbers, unknown speed).
    pub fn new(direction: Direction, peer: &'a str) -> Self {
        LinkInfo {
            direction,
            peer: peer.into(),
            calling_number: RStr::empty(),
            called_number: RStr::empty(),
            speed_bps: 0,
        }
    }
}

/// Why a link went down ([`crate::Host::link_down`]).
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkDownCause {
    /// The core asked for it ([`crate::PluginObject::hangup`]).
    Requested,
    /// The peer hung up or cleared the call.
    PeerHangup,
    /// Carrier or the underlying transport was lost.
    CarrierLost,
    /// A timer expired (dialling, keepalive of the transport).
    Timeout,
    /// Anything else; the message says what.
    Failed,
}

/// Why the core hangs a link up ([`crate::PluginObject::hangup_with_cause`], ABI 1.2): an
/// open code space (a newtype over `u8`, so new causes are an additive change). A link
/// plugin maps it to its medium's disconnect reason, e.g. PPTP's Call-Disconnect-Notify
/// result code (RFC 2637 §2.13); a cause it does not know is treated as
/// [`HangupCause::UNSPECIFIED`].
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HangupCause(pub u8);

impl HangupCause {
    /// No cause given: what [`crate::PluginObject::hangup`] (ABI 1.0) means.
    pub const UNSPECIFIED: HangupCause = HangupCause(0);
    /// The line under the session was lost: the other leg of a relayed call dropped its
    /// carrier, or the PPP keepalive went unanswered (PPTP: result 1, Lost Carrier).
    pub const LINE_DROP: HangupCause = HangupCause(1);
    /// An administrator ended it: a kill, a configuration change, routerd stopping (PPTP:
    /// result 3, Admin Shutdown).
    pub const ADMIN: HangupCause = HangupCause(2);
    /// PPP ended normally: a Terminate-Request from the peer (PPTP: result 4, Request).
    pub const SESSION_END: HangupCause = HangupCause(3);
    /// The idle or session time limit expired (PPTP: result 3, Admin Shutdown).
    pub const IDLE: HangupCause = HangupCause(4);
    /// The session failed: negotiation or authentication failed, a limit or the address
    /// pool refused it (PPTP: result 2, General Error).
    pub const ERROR: HangupCause = HangupCause(5);
}

impl fmt::Display for HangupCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HangupCause::UNSPECIFIED => f.write_str("unspecified"),
            HangupCause::LINE_DROP => f.write_str("line drop"),
            HangupCause::ADMIN => f.write_str("administrator"),
            HangupCause::SESSION_END => f.write_str("session end"),
            HangupCause::IDLE => f.write_str("idle"),
            HangupCause::ERROR => f.write_str("error"),
            HangupCause(other) => write!(f, "unknown cause {other}"),
        }
    }
}

/// Link parameters the core negotiated and the link plugin needs for framing (RFC 1662 §7.1:
/// the Async-Control-Character-Map; a PPTP PAC receives them in Set-Link-Info).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkParams {
    /// Control characters to escape when sending (bit n = character n).
    pub tx_accm: u32,
    /// Control characters the peer escapes when sending to us.
    pub rx_accm: u32,
}

/// A PPP session for a LAN-protocol plugin, when its NCP opened
/// ([`crate::PluginObject::on_session_up`]).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo<'a> {
    /// The authenticated user, empty when no authentication ran.
    pub user: RStr<'a>,
    /// The link's peer, as its link plugin reported it.
    pub peer: RStr<'a>,
    /// What the NCP negotiated, as a TOML document (for IPXCP: `network`, `node`, ...).
    pub negotiated: RStr<'a>,
}

/// Severity of a log line ([`crate::Host::log`]).
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something is wrong but handled.
    Warn,
    /// Normal operation worth recording.
    Info,
    /// Diagnostics.
    Debug,
    /// Per-packet detail.
    Trace,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_address_round_trips_std() {
        for text in ["192.0.2.7:1723", "[2001:db8::1]:47"] {
            let std: SocketAddr = text.parse().expect("literal");
            let ours = SocketAddress::from(std);
            assert_eq!(SocketAddr::from(ours), std);
            assert_eq!(ours.to_string(), text);
        }
    }
}
