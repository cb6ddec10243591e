//! The plugin instance, as the host drives it.

// The sabi_trait expansion names its generated items after the trait (`PluginObject_TO`) and puts impls
// inside a const block.
#![allow(non_camel_case_types, non_local_definitions)]

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, RResult, RSlice, RStr};

use crate::error::PluginError;
use crate::ids::{HandleId, LinkId, PppProtocol, SessionId, TimerId, Timestamp};
use crate::io::{CloseReason, LinkParams, ModemStatus, SessionInfo, SocketAddress};

/// An owned plugin instance, as [`crate::PluginModule::new`] returns it.
pub type PluginBox = PluginObject_TO<'static, RBox<()>>;

/// One plugin instance. The host calls it from one thread at a time; every call carries the
/// host's `now`. Calls that do not apply to the plugin's kind answer
/// [`PluginError::Unsupported`] (or ignore an event).
///
/// New methods are added after `on_session_down`, each with a default implementation (what an
/// older plugin answers).
#[sabi_trait]
pub trait PluginObject: Send {
    /// The instance was created and its host is ready: open listeners, ttys, arm timers.
    fn start(&mut self, now: Timestamp) -> RResult<(), PluginError>;

    /// Release everything: hang up links, close handles. No further calls follow except drop.
    fn stop(&mut self, now: Timestamp) -> RResult<(), PluginError>;

    /// A timer set with [`crate::Host::set_timer`] expired.
    fn on_timer(&mut self, now: Timestamp, timer: TimerId) -> RResult<(), PluginError>;

    /// Bytes arrived on a handle: a chunk of a tty or TCP stream, one IP datagram (header
    /// included) from a raw IP socket, or one link-layer frame from a packet socket. Borrowed
    /// for this call only.
    fn on_data(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        bytes: RSlice<'_, u8>,
    ) -> RResult<(), PluginError>;

    /// A handle whose write answered [`crate::HostError::Busy`] can take data again.
    fn on_writable(&mut self, now: Timestamp, handle: HandleId) -> RResult<(), PluginError>;

    /// A listener accepted a TCP connection, now open as `conn`.
    fn on_tcp_accepted(
        &mut self,
        now: Timestamp,
        listener: HandleId,
        conn: HandleId,
        peer: SocketAddress,
    ) -> RResult<(), PluginError>;

    /// A connection started with [`crate::Host::tcp_connect`] is established.
    fn on_connected(&mut self, now: Timestamp, handle: HandleId) -> RResult<(), PluginError>;

    /// The host closed a handle (EOF, hangup, error). The id is not reused by this host.
    fn on_closed(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        reason: CloseReason,
    ) -> RResult<(), PluginError>;

    /// The modem status lines of a tty opened with `local == false` changed.
    fn on_modem_status(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        status: ModemStatus,
    ) -> RResult<(), PluginError>;

    /// Place an outgoing call to `target` (a number, `host:port`, a port name: the plugin's
    /// syntax). Returns the link id at once; [`crate::Host::link_up`] or
    /// [`crate::Host::link_down`] follows.
    fn dial(&mut self, now: Timestamp, target: RStr<'_>) -> RResult<LinkId, PluginError>;

    /// Hang up a link; the plugin answers with [`crate::Host::link_down`] when it is down.
    fn hangup(&mut self, now: Timestamp, link: LinkId) -> RResult<(), PluginError>;

    /// The hot path out: send one PPP frame (see the crate docs for its format) on `link`.
    /// Borrowed for this call only; the plugin frames it into its own reused buffer and hands
    /// that to [`crate::Host::write`]. Allocates nothing.
    fn send_frame(
        &mut self,
        now: Timestamp,
        link: LinkId,
        frame: RSlice<'_, u8>,
    ) -> RResult<(), PluginError>;

    /// The core negotiated new framing parameters for `link` (after LCP opened).
    fn set_link_params(
        &mut self,
        now: Timestamp,
        link: LinkId,
        params: LinkParams,
    ) -> RResult<(), PluginError>;

    /// LAN-protocol plugins: the NCP of a protocol this plugin registered opened on `session`.
    fn on_session_up(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        info: SessionInfo<'_>,
    ) -> RResult<(), PluginError>;

    /// LAN-protocol plugins: a frame of a registered protocol arrived on `session`; `payload`
    /// is the information field (the protocol field removed).
    fn on_session_frame(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        payload: RSlice<'_, u8>,
    ) -> RResult<(), PluginError>;

    /// LAN-protocol plugins: the NCP closed or the session ended.
    #[sabi(last_prefix_field)]
    fn on_session_down(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
    ) -> RResult<(), PluginError>;
}
