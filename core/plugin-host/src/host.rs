//! The host's callbacks with Rust types, and their adapter to the ABI object.

use std::panic::{AssertUnwindSafe, catch_unwind};

use dialgate_plugin_abi::abi_stable::sabi_trait::TD_Opaque;
use dialgate_plugin_abi::abi_stable::std_types::{RArc, ROption, RResult, RSlice, RStr};
use dialgate_plugin_abi::{
    HandleId, Host, Host_TO, HostBox, HostError, IpAddress, LinkDownCause, LinkId, LinkInfo,
    LogLevel, ModemControl, PppProtocol, SessionId, SocketAddress, TimerId, Timestamp, TtySettings,
};

fn unsupported<T>(what: &str) -> Result<T, HostError> {
    Err(HostError::Unsupported {
        message: what.into(),
    })
}

/// What routerd (or a test) implements to serve one plugin instance: [`dialgate_plugin_abi::Host`]
/// with Rust types. Capabilities default to [`HostError::Unsupported`], so a host offers only
/// what it has. Implementations must not block: they are called on the plugin's call path.
pub trait HostServices: Send + Sync + 'static {
    /// See [`Host::now`].
    fn now(&self) -> Timestamp;
    /// See [`Host::log`].
    fn log(&self, level: LogLevel, message: &str);
    /// See [`Host::set_timer`].
    fn set_timer(&self, timer: TimerId, deadline: Timestamp) {
        let _ = (timer, deadline);
    }
    /// See [`Host::cancel_timer`].
    fn cancel_timer(&self, timer: TimerId) {
        let _ = timer;
    }
    /// See [`Host::open_tty`].
    fn open_tty(&self, settings: TtySettings<'_>) -> Result<HandleId, HostError> {
        let _ = settings;
        unsupported("tty")
    }
    /// See [`Host::set_modem_control`].
    fn set_modem_control(&self, handle: HandleId, control: ModemControl) -> Result<(), HostError> {
        let _ = (handle, control);
        unsupported("modem control")
    }
    /// See [`Host::tcp_listen`].
    fn tcp_listen(&self, addr: SocketAddress) -> Result<HandleId, HostError> {
        let _ = addr;
        unsupported("TCP listen")
    }
    /// See [`Host::tcp_connect`].
    fn tcp_connect(&self, addr: SocketAddress) -> Result<HandleId, HostError> {
        let _ = addr;
        unsupported("TCP connect")
    }
    /// See [`Host::open_raw_ip`].
    fn open_raw_ip(&self, protocol: u8, bind: Option<IpAddress>) -> Result<HandleId, HostError> {
        let _ = (protocol, bind);
        unsupported("raw IP socket")
    }
    /// See [`Host::open_packet`].
    fn open_packet(&self, interface: &str, ethertype: u16) -> Result<HandleId, HostError> {
        let _ = (interface, ethertype);
        unsupported("packet socket")
    }
    /// See [`Host::write`].
    fn write(&self, handle: HandleId, bytes: &[u8]) -> Result<(), HostError> {
        let _ = (handle, bytes);
        Err(HostError::Closed)
    }
    /// See [`Host::send_to`].
    fn send_to(&self, handle: HandleId, dst: IpAddress, bytes: &[u8]) -> Result<(), HostError> {
        let _ = (handle, dst, bytes);
        Err(HostError::Closed)
    }
    /// See [`Host::close`].
    fn close(&self, handle: HandleId) {
        let _ = handle;
    }
    /// See [`Host::link_up`].
    fn link_up(&self, link: LinkId, info: LinkInfo<'_>) -> Result<(), HostError> {
        let _ = (link, info);
        unsupported("links")
    }
    /// See [`Host::link_down`].
    fn link_down(&self, link: LinkId, cause: LinkDownCause, message: &str) {
        let _ = (link, cause, message);
    }
    /// See [`Host::deliver_frame`].
    fn deliver_frame(&self, link: LinkId, frame: &[u8]) -> Result<(), HostError> {
        let _ = (link, frame);
        Err(HostError::Closed)
    }
    /// See [`Host::register_protocol`].
    fn register_protocol(
        &self,
        data: PppProtocol,
        ncp: PppProtocol,
        ncp_options: &str,
    ) -> Result<(), HostError> {
        let _ = (data, ncp, ncp_options);
        unsupported("LAN protocols")
    }
    /// See [`Host::send_session_frame`].
    fn send_session_frame(
        &self,
        session: SessionId,
        protocol: PppProtocol,
        payload: &[u8],
    ) -> Result<(), HostError> {
        let _ = (session, protocol, payload);
        Err(HostError::Closed)
    }
    /// See [`Host::set_counter`] (ABI 1.1).
    fn set_counter(&self, name: &str, value: u64) {
        let _ = (name, value);
    }
    /// See [`Host::set_link_congested`] (ABI 1.2).
    fn set_link_congested(&self, link: LinkId, congested: bool) {
        let _ = (link, congested);
    }
    /// See [`Host::set_link_mru`] (ABI 1.2).
    fn set_link_mru(&self, link: LinkId, mru: u16) {
        let _ = (link, mru);
    }
}

/// Wraps host services as the ABI object a plugin receives. Each callback runs behind
/// `catch_unwind` too: a host bug answers [`HostError::Internal`] instead of unwinding into the
/// plugin (which abi_stable would turn into an abort).
pub fn host_box<H: HostServices>(services: H) -> HostBox {
    Host_TO::from_ptr(RArc::new(Shield(services)), TD_Opaque)
}

struct Shield<H>(H);

fn guard<T>(f: impl FnOnce() -> Result<T, HostError>) -> RResult<T, HostError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.into(),
        Err(_) => RResult::RErr(HostError::Internal {
            message: "host callback panicked".into(),
        }),
    }
}

/// For callbacks without a result: a panic is swallowed (the host's panic hook reports it).
fn guard_unit(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

impl<H: HostServices> Host for Shield<H> {
    fn now(&self) -> Timestamp {
        catch_unwind(AssertUnwindSafe(|| self.0.now())).unwrap_or(Timestamp::ZERO)
    }
    fn log(&self, level: LogLevel, message: RStr<'_>) {
        guard_unit(|| self.0.log(level, message.as_str()));
    }
    fn set_timer(&self, timer: TimerId, deadline: Timestamp) {
        guard_unit(|| self.0.set_timer(timer, deadline));
    }
    fn cancel_timer(&self, timer: TimerId) {
        guard_unit(|| self.0.cancel_timer(timer));
    }
    fn open_tty(&self, settings: TtySettings<'_>) -> RResult<HandleId, HostError> {
        guard(|| self.0.open_tty(settings))
    }
    fn set_modem_control(&self, handle: HandleId, control: ModemControl) -> RResult<(), HostError> {
        guard(|| self.0.set_modem_control(handle, control))
    }
    fn tcp_listen(&self, addr: SocketAddress) -> RResult<HandleId, HostError> {
        guard(|| self.0.tcp_listen(addr))
    }
    fn tcp_connect(&self, addr: SocketAddress) -> RResult<HandleId, HostError> {
        guard(|| self.0.tcp_connect(addr))
    }
    fn open_raw_ip(&self, protocol: u8, bind: ROption<IpAddress>) -> RResult<HandleId, HostError> {
        guard(|| self.0.open_raw_ip(protocol, bind.into_option()))
    }
    fn open_packet(&self, interface: RStr<'_>, ethertype: u16) -> RResult<HandleId, HostError> {
        guard(|| self.0.open_packet(interface.as_str(), ethertype))
    }
    fn write(&self, handle: HandleId, bytes: RSlice<'_, u8>) -> RResult<(), HostError> {
        guard(|| self.0.write(handle, bytes.as_slice()))
    }
    fn send_to(
        &self,
        handle: HandleId,
        dst: IpAddress,
        bytes: RSlice<'_, u8>,
    ) -> RResult<(), HostError> {
        guard(|| self.0.send_to(handle, dst, bytes.as_slice()))
    }
    fn close(&self, handle: HandleId) {
        guard_unit(|| self.0.close(handle));
    }
    fn link_up(&self, link: LinkId, info: LinkInfo<'_>) -> RResult<(), HostError> {
        guard(|| self.0.link_up(link, info))
    }
    fn link_down(&self, link: LinkId, cause: LinkDownCause, message: RStr<'_>) {
        guard_unit(|| self.0.link_down(link, cause, message.as_str()));
    }
    fn deliver_frame(&self, link: LinkId, frame: RSlice<'_, u8>) -> RResult<(), HostError> {
        guard(|| self.0.deliver_frame(link, frame.as_slice()))
    }
    fn register_protocol(
        &self,
        data: PppProtocol,
        ncp: PppProtocol,
        ncp_options: RStr<'_>,
    ) -> RResult<(), HostError> {
        guard(|| self.0.register_protocol(data, ncp, ncp_options.as_str()))
    }
    fn send_session_frame(
        &self,
        session: SessionId,
        protocol: PppProtocol,
        payload: RSlice<'_, u8>,
    ) -> RResult<(), HostError> {
        guard(|| {
            self.0
                .send_session_frame(session, protocol, payload.as_slice())
        })
    }
    fn set_counter(&self, name: RStr<'_>, value: u64) {
        guard_unit(|| self.0.set_counter(name.as_str(), value));
    }
    fn set_link_congested(&self, link: LinkId, congested: bool) {
        guard_unit(|| self.0.set_link_congested(link, congested));
    }
    fn set_link_mru(&self, link: LinkId, mru: u16) {
        guard_unit(|| self.0.set_link_mru(link, mru));
    }
}
