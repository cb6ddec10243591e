//! The host's callbacks: the capabilities a plugin may use.

// The sabi_trait expansion names its generated items after the trait (`Host_TO`) and puts impls
// inside a const block.
#![allow(non_camel_case_types, non_local_definitions)]

use abi_stable::sabi_trait;
use abi_stable::std_types::{RArc, ROption, RResult, RSlice, RStr};

use crate::error::HostError;
use crate::ids::{HandleId, LinkId, PppProtocol, SessionId, TimerId, Timestamp};
use crate::io::{
    IpAddress, LinkDownCause, LinkInfo, LogLevel, ModemControl, SocketAddress, TtySettings,
};

/// The host object handed to [`crate::PluginModule::new`]. Reference counted: a plugin may
/// clone it into a thread of its own.
pub type HostBox = Host_TO<'static, RArc<()>>;

/// What the host offers one plugin instance. The host owns all I/O: a plugin asks for a
/// handle and is then driven with events on it ([`crate::PluginObject`]).
///
/// Every call may happen while the host is calling the plugin (re-entrantly, on the same
/// thread) or from a thread of the plugin's. Ids are scoped to the instance.
///
/// New methods are added after `send_session_frame`, each with a default implementation.
#[sabi_trait]
pub trait Host: Send + Sync {
    /// The host's clock, for plugin threads (calls from the host carry `now` already).
    fn now(&self) -> Timestamp;

    /// Write a log line, tagged by the host with the plugin and instance.
    fn log(&self, level: LogLevel, message: RStr<'_>);

    /// Arm `timer` (a plugin-chosen id) to fire at `deadline`; re-arming moves it. A deadline
    /// not in the future fires at once: a plugin thread can use that to be called back
    /// ([`crate::PluginObject::on_timer`]) on the host's side.
    fn set_timer(&self, timer: TimerId, deadline: Timestamp);

    /// Disarm `timer`; no effect if it is not armed.
    fn cancel_timer(&self, timer: TimerId);

    /// Open a tty in raw mode with these settings.
    fn open_tty(&self, settings: TtySettings<'_>) -> RResult<HandleId, HostError>;

    /// Set the modem control lines of a tty.
    fn set_modem_control(&self, handle: HandleId, control: ModemControl) -> RResult<(), HostError>;

    /// Listen for TCP connections on `addr`; accepted ones arrive as
    /// [`crate::PluginObject::on_tcp_accepted`].
    fn tcp_listen(&self, addr: SocketAddress) -> RResult<HandleId, HostError>;

    /// Start a TCP connection; [`crate::PluginObject::on_connected`] or
    /// [`crate::PluginObject::on_closed`] follows.
    fn tcp_connect(&self, addr: SocketAddress) -> RResult<HandleId, HostError>;

    /// Open a raw IP socket for one IP protocol (47 for GRE), optionally bound to a local
    /// address. Received datagrams include their IP header.
    fn open_raw_ip(&self, protocol: u8, bind: ROption<IpAddress>) -> RResult<HandleId, HostError>;

    /// Open a packet socket on a network interface for one ethertype (0x8137 for IPX).
    /// Frames are sent and received with their link-layer header.
    fn open_packet(&self, interface: RStr<'_>, ethertype: u16) -> RResult<HandleId, HostError>;

    /// Write to a stream (tty, TCP) or send one frame on a packet socket. Borrowed for this
    /// call; the host copies what it cannot write at once into a bounded queue, and answers
    /// [`HostError::Busy`] when that is full ([`crate::PluginObject::on_writable`] follows when
    /// it has drained).
    fn write(&self, handle: HandleId, bytes: RSlice<'_, u8>) -> RResult<(), HostError>;

    /// Send one datagram on a raw IP socket to `dst` (the host adds the IP header).
    fn send_to(
        &self,
        handle: HandleId,
        dst: IpAddress,
        bytes: RSlice<'_, u8>,
    ) -> RResult<(), HostError>;

    /// Close a handle; no further events arrive for it. No effect on an unknown handle.
    fn close(&self, handle: HandleId);

    /// A call is up: the core starts a session for `link` (terminate or relay).
    fn link_up(&self, link: LinkId, info: LinkInfo<'_>) -> RResult<(), HostError>;

    /// A link is down; the core ends its session. The link id may be reused afterwards.
    fn link_down(&self, link: LinkId, cause: LinkDownCause, message: RStr<'_>);

    /// The hot path in: one PPP frame received on `link` (see the crate docs for its format),
    /// borrowed for this call only.
    fn deliver_frame(&self, link: LinkId, frame: RSlice<'_, u8>) -> RResult<(), HostError>;

    /// LAN-protocol plugins: claim the data protocol `data` (0x002B IPX) and its NCP `ncp`
    /// (0x802B IPXCP); `ncp_options` is the NCP's option policy as a TOML document in the
    /// core's schema for that NCP.
    fn register_protocol(
        &self,
        data: PppProtocol,
        ncp: PppProtocol,
        ncp_options: RStr<'_>,
    ) -> RResult<(), HostError>;

    /// LAN-protocol plugins: send `payload` (an information field) as a `protocol` frame on
    /// `session`. Borrowed for this call only.
    #[sabi(last_prefix_field)]
    fn send_session_frame(
        &self,
        session: SessionId,
        protocol: PppProtocol,
        payload: RSlice<'_, u8>,
    ) -> RResult<(), HostError>;

    /// ABI 1.1: publish the current value of one of the instance's counters, e.g. the drops
    /// of hostile input by reason. `name` is short `snake_case` (`gre_unknown_call`); the host
    /// keeps the last value per name (a bounded number of names) and shows them in its
    /// metrics. Counters only grow. A 1.0 host does not have this method: the call then does
    /// nothing.
    fn set_counter(&self, name: RStr<'_>, value: u64) {
        let _ = (name, value);
    }
}
