//! The plugin side of the dialgate plugin ABI: write a plugin as a plain Rust type, export it
//! with [`export_plugin!`], and every call the host makes is shielded against panics.
//!
//! ```no_run
//! use dialgate_plugin_sdk::{
//!     HostHandle, LinkId, LinkInfo, Direction, Plugin, PluginError, PluginKind, Timestamp,
//! };
//!
//! /// Loops every frame the core sends straight back to it.
//! struct Loopback {
//!     host: HostHandle,
//!     next: u64,
//! }
//!
//! impl Plugin for Loopback {
//!     const NAME: &'static str = "loopback";
//!     const KIND: PluginKind = PluginKind::LINK;
//!
//!     fn new(_config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
//!         Ok(Loopback { host, next: 0 })
//!     }
//!     fn dial(&mut self, _now: Timestamp, target: &str) -> Result<LinkId, PluginError> {
//!         self.next += 1;
//!         let link = LinkId(self.next);
//!         let info = LinkInfo::new(Direction::Outgoing, target);
//!         self.host.link_up(link, info).map_err(PluginError::failed)?;
//!         Ok(link)
//!     }
//!     fn send_frame(&mut self, _now: Timestamp, link: LinkId, frame: &[u8]) -> Result<(), PluginError> {
//!         self.host.deliver_frame(link, frame).map_err(PluginError::failed)
//!     }
//! }
//!
//! dialgate_plugin_sdk::export_plugin!(Loopback);
//! ```
//!
//! The crate needs `crate-type = ["cdylib"]`.
//!
//! # Panics
//!
//! abi_stable aborts the process when a panic unwinds out of a call across the boundary. The
//! SDK therefore runs every call into the plugin (`new`, each [`Plugin`] method, and dropping
//! the instance) inside [`std::panic::catch_unwind`] and turns a panic into
//! [`PluginError::Panicked`]. After a panic the instance is *poisoned*: its state is unknown, so
//! every further call answers [`PluginError::Failed`] without running plugin code, and the host
//! disables it.
//!
//! This only works when panics unwind: **never build a plugin with `panic = "abort"`**.
//! [`export_plugin!`] refuses to compile under `cfg(panic = "abort")`.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use dialgate_plugin_abi as abi;
pub use dialgate_plugin_abi::{
    ABI_VERSION, AbiVersion, CloseReason, Direction, FlowControl, HandleId, HangupCause, HostError,
    IpAddress, LinkDownCause, LinkId, LinkInfo, LinkParams, LogLevel, ModemControl, ModemStatus,
    PluginError, PluginKind, PppProtocol, SessionId, SessionInfo, SocketAddress, TimerId,
    Timestamp, TtySettings,
};

use dialgate_plugin_abi::abi_stable::prefix_type::PrefixTypeTrait;
use dialgate_plugin_abi::abi_stable::sabi_trait::TD_Opaque;
use dialgate_plugin_abi::abi_stable::std_types::{RErr, ROk, ROption, RResult, RSlice, RStr};
use dialgate_plugin_abi::{HostBox, PluginBox, PluginModule, PluginModuleRef, PluginObject_TO};

/// The JSON Schema of a plugin that takes no configuration.
pub const NO_CONFIG_SCHEMA: &str = r#"{"type":"object","additionalProperties":false}"#;

/// A plugin, as its author writes it. Methods that do not apply to the plugin's kind keep
/// their defaults: events are ignored, requests answer [`PluginError::Unsupported`].
///
/// Every method is called through the SDK's panic shield (see the crate docs).
pub trait Plugin: Send + Sized + 'static {
    /// The plugin's name, as configs refer to it.
    const NAME: &'static str;
    /// Link or LAN-protocol plugin.
    const KIND: PluginKind;
    /// One line for `routerctl plugins`.
    const DESCRIPTION: &'static str = "";
    /// The JSON Schema of the configuration (see [`dialgate_plugin_abi::PluginModule`]).
    const CONFIG_SCHEMA: &'static str = NO_CONFIG_SCHEMA;
    /// ABI 1.3: the UI hints of the configuration form (see
    /// [`dialgate_plugin_abi::PluginModule::config_ui`]); empty: no form.
    const CONFIG_UI: &'static str = "";

    /// Create an instance from its configuration (TOML) and the host's callbacks.
    fn new(config_toml: &str, host: HostHandle) -> Result<Self, PluginError>;

    /// See [`abi::PluginObject::start`].
    fn start(&mut self, now: Timestamp) -> Result<(), PluginError> {
        let _ = now;
        Ok(())
    }
    /// See [`abi::PluginObject::stop`].
    fn stop(&mut self, now: Timestamp) -> Result<(), PluginError> {
        let _ = now;
        Ok(())
    }
    /// See [`abi::PluginObject::on_timer`].
    fn on_timer(&mut self, now: Timestamp, timer: TimerId) -> Result<(), PluginError> {
        let _ = (now, timer);
        Ok(())
    }
    /// See [`abi::PluginObject::on_data`].
    fn on_data(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        bytes: &[u8],
    ) -> Result<(), PluginError> {
        let _ = (now, handle, bytes);
        Ok(())
    }
    /// See [`abi::PluginObject::on_writable`].
    fn on_writable(&mut self, now: Timestamp, handle: HandleId) -> Result<(), PluginError> {
        let _ = (now, handle);
        Ok(())
    }
    /// See [`abi::PluginObject::on_tcp_accepted`].
    fn on_tcp_accepted(
        &mut self,
        now: Timestamp,
        listener: HandleId,
        conn: HandleId,
        peer: SocketAddress,
    ) -> Result<(), PluginError> {
        let _ = (now, listener, conn, peer);
        Ok(())
    }
    /// See [`abi::PluginObject::on_connected`].
    fn on_connected(&mut self, now: Timestamp, handle: HandleId) -> Result<(), PluginError> {
        let _ = (now, handle);
        Ok(())
    }
    /// See [`abi::PluginObject::on_closed`].
    fn on_closed(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        reason: CloseReason,
    ) -> Result<(), PluginError> {
        let _ = (now, handle, reason);
        Ok(())
    }
    /// See [`abi::PluginObject::on_modem_status`].
    fn on_modem_status(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        status: ModemStatus,
    ) -> Result<(), PluginError> {
        let _ = (now, handle, status);
        Ok(())
    }
    /// See [`abi::PluginObject::dial`].
    fn dial(&mut self, now: Timestamp, target: &str) -> Result<LinkId, PluginError> {
        let _ = (now, target);
        Err(PluginError::unsupported(format_args!(
            "{} does not dial",
            Self::NAME
        )))
    }
    /// See [`abi::PluginObject::hangup`].
    fn hangup(&mut self, now: Timestamp, link: LinkId) -> Result<(), PluginError> {
        let _ = now;
        Err(PluginError::unsupported(format_args!(
            "{} has no link {link}",
            Self::NAME
        )))
    }
    /// See [`abi::PluginObject::hangup_with_cause`] (ABI 1.2): by default the cause is
    /// ignored and [`hangup`](Self::hangup) runs.
    fn hangup_with_cause(
        &mut self,
        now: Timestamp,
        link: LinkId,
        cause: HangupCause,
    ) -> Result<(), PluginError> {
        let _ = cause;
        self.hangup(now, link)
    }
    /// See [`abi::PluginObject::send_frame`].
    fn send_frame(
        &mut self,
        now: Timestamp,
        link: LinkId,
        frame: &[u8],
    ) -> Result<(), PluginError> {
        let _ = (now, frame);
        Err(PluginError::unsupported(format_args!(
            "{} has no link {link}",
            Self::NAME
        )))
    }
    /// See [`abi::PluginObject::set_link_params`].
    fn set_link_params(
        &mut self,
        now: Timestamp,
        link: LinkId,
        params: LinkParams,
    ) -> Result<(), PluginError> {
        let _ = (now, link, params);
        Ok(())
    }
    /// See [`abi::PluginObject::on_session_up`].
    fn on_session_up(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        info: SessionInfo<'_>,
    ) -> Result<(), PluginError> {
        let _ = (now, session, info);
        Err(PluginError::unsupported(format_args!(
            "{} does not handle {protocol}",
            Self::NAME
        )))
    }
    /// See [`abi::PluginObject::on_session_frame`].
    fn on_session_frame(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        payload: &[u8],
    ) -> Result<(), PluginError> {
        let _ = (now, session, payload);
        Err(PluginError::unsupported(format_args!(
            "{} does not handle {protocol}",
            Self::NAME
        )))
    }
    /// See [`abi::PluginObject::on_session_down`].
    fn on_session_down(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
    ) -> Result<(), PluginError> {
        let _ = (now, session, protocol);
        Ok(())
    }
}

/// The host's callbacks, with Rust types. Cheap to clone (reference counted); may be moved to
/// a thread of the plugin's.
pub struct HostHandle(HostBox);

impl Clone for HostHandle {
    fn clone(&self) -> Self {
        HostHandle(HostBox::from_sabi(self.0.obj.shallow_clone()))
    }
}

impl std::fmt::Debug for HostHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostHandle")
    }
}

impl HostHandle {
    /// Wraps the ABI object.
    pub fn new(host: HostBox) -> Self {
        HostHandle(host)
    }
    /// The ABI object, for calls this wrapper does not cover yet.
    pub fn raw(&self) -> &HostBox {
        &self.0
    }
    /// See [`abi::Host::now`].
    pub fn now(&self) -> Timestamp {
        self.0.now()
    }
    /// See [`abi::Host::log`].
    pub fn log(&self, level: LogLevel, message: &str) {
        self.0.log(level, message.into());
    }
    /// See [`abi::Host::set_timer`].
    pub fn set_timer(&self, timer: TimerId, deadline: Timestamp) {
        self.0.set_timer(timer, deadline);
    }
    /// See [`abi::Host::cancel_timer`].
    pub fn cancel_timer(&self, timer: TimerId) {
        self.0.cancel_timer(timer);
    }
    /// See [`abi::Host::open_tty`].
    pub fn open_tty(&self, settings: TtySettings<'_>) -> Result<HandleId, HostError> {
        self.0.open_tty(settings).into()
    }
    /// See [`abi::Host::set_modem_control`].
    pub fn set_modem_control(
        &self,
        handle: HandleId,
        control: ModemControl,
    ) -> Result<(), HostError> {
        self.0.set_modem_control(handle, control).into()
    }
    /// See [`abi::Host::tcp_listen`].
    pub fn tcp_listen(&self, addr: impl Into<SocketAddress>) -> Result<HandleId, HostError> {
        self.0.tcp_listen(addr.into()).into()
    }
    /// See [`abi::Host::tcp_connect`].
    pub fn tcp_connect(&self, addr: impl Into<SocketAddress>) -> Result<HandleId, HostError> {
        self.0.tcp_connect(addr.into()).into()
    }
    /// See [`abi::Host::open_raw_ip`].
    pub fn open_raw_ip(
        &self,
        protocol: u8,
        bind: Option<IpAddress>,
    ) -> Result<HandleId, HostError> {
        self.0.open_raw_ip(protocol, ROption::from(bind)).into()
    }
    /// See [`abi::Host::open_packet`].
    pub fn open_packet(&self, interface: &str, ethertype: u16) -> Result<HandleId, HostError> {
        self.0.open_packet(interface.into(), ethertype).into()
    }
    /// See [`abi::Host::write`].
    pub fn write(&self, handle: HandleId, bytes: &[u8]) -> Result<(), HostError> {
        self.0.write(handle, bytes.into()).into()
    }
    /// See [`abi::Host::send_to`].
    pub fn send_to(&self, handle: HandleId, dst: IpAddress, bytes: &[u8]) -> Result<(), HostError> {
        self.0.send_to(handle, dst, bytes.into()).into()
    }
    /// See [`abi::Host::close`].
    pub fn close(&self, handle: HandleId) {
        self.0.close(handle);
    }
    /// See [`abi::Host::link_up`].
    pub fn link_up(&self, link: LinkId, info: LinkInfo<'_>) -> Result<(), HostError> {
        self.0.link_up(link, info).into()
    }
    /// See [`abi::Host::link_down`].
    pub fn link_down(&self, link: LinkId, cause: LinkDownCause, message: &str) {
        self.0.link_down(link, cause, message.into());
    }
    /// See [`abi::Host::deliver_frame`].
    pub fn deliver_frame(&self, link: LinkId, frame: &[u8]) -> Result<(), HostError> {
        self.0.deliver_frame(link, frame.into()).into()
    }
    /// See [`abi::Host::register_protocol`].
    pub fn register_protocol(
        &self,
        data: PppProtocol,
        ncp: PppProtocol,
        ncp_options: &str,
    ) -> Result<(), HostError> {
        self.0
            .register_protocol(data, ncp, ncp_options.into())
            .into()
    }
    /// See [`abi::Host::set_counter`] (ABI 1.1; a 1.0 host ignores it).
    pub fn set_counter(&self, name: &str, value: u64) {
        self.0.set_counter(name.into(), value);
    }
    /// See [`abi::Host::set_link_congested`] (ABI 1.2; a 1.0 or 1.1 host ignores it).
    pub fn set_link_congested(&self, link: LinkId, congested: bool) {
        self.0.set_link_congested(link, congested);
    }
    /// See [`abi::Host::set_link_mru`] (ABI 1.2; a 1.0 or 1.1 host ignores it).
    pub fn set_link_mru(&self, link: LinkId, mru: u16) {
        self.0.set_link_mru(link, mru);
    }
    /// See [`abi::Host::send_session_frame`].
    pub fn send_session_frame(
        &self,
        session: SessionId,
        protocol: PppProtocol,
        payload: &[u8],
    ) -> Result<(), HostError> {
        self.0
            .send_session_frame(session, protocol, payload.into())
            .into()
    }
}

/// The text of a panic payload (`&str` or `String` payloads; anything else is described).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// Runs `f`, turning a panic into [`PluginError::Panicked`].
fn shield<T>(f: impl FnOnce() -> Result<T, PluginError>) -> Result<T, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = panic_message(&*payload);
            // Dropping the payload runs code of the plugin's, which could panic again outside
            // any shield: leak it instead (one small allocation per panic, which disables the
            // instance anyway).
            std::mem::forget(payload);
            Err(PluginError::Panicked {
                message: message.into(),
            })
        }
    }
}

/// A [`Plugin`] behind the panic shield: the type behind every [`PluginBox`] the SDK makes.
struct Shielded<P: Plugin> {
    /// `None` once dropped.
    inner: Option<P>,
    /// Set by the first panic; no plugin code runs after it.
    poisoned: bool,
}

impl<P: Plugin> Shielded<P> {
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut P) -> Result<T, PluginError>,
    ) -> RResult<T, PluginError> {
        let inner = match (&mut self.inner, self.poisoned) {
            (Some(inner), false) => inner,
            _ => {
                return RErr(PluginError::failed(format_args!(
                    "{} instance disabled after a panic",
                    P::NAME
                )));
            }
        };
        match shield(|| f(inner)) {
            Ok(v) => ROk(v),
            Err(e) => {
                if matches!(e, PluginError::Panicked { .. }) {
                    self.poisoned = true;
                }
                RErr(e)
            }
        }
    }
}

impl<P: Plugin> Drop for Shielded<P> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            // A panicking destructor must not unwind into the host either.
            let _ = shield(move || {
                drop(inner);
                Ok(())
            });
        }
    }
}

impl<P: Plugin> abi::PluginObject for Shielded<P> {
    fn start(&mut self, now: Timestamp) -> RResult<(), PluginError> {
        self.call(|p| p.start(now))
    }
    fn stop(&mut self, now: Timestamp) -> RResult<(), PluginError> {
        self.call(|p| p.stop(now))
    }
    fn on_timer(&mut self, now: Timestamp, timer: TimerId) -> RResult<(), PluginError> {
        self.call(|p| p.on_timer(now, timer))
    }
    fn on_data(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        bytes: RSlice<'_, u8>,
    ) -> RResult<(), PluginError> {
        self.call(|p| p.on_data(now, handle, bytes.as_slice()))
    }
    fn on_writable(&mut self, now: Timestamp, handle: HandleId) -> RResult<(), PluginError> {
        self.call(|p| p.on_writable(now, handle))
    }
    fn on_tcp_accepted(
        &mut self,
        now: Timestamp,
        listener: HandleId,
        conn: HandleId,
        peer: SocketAddress,
    ) -> RResult<(), PluginError> {
        self.call(|p| p.on_tcp_accepted(now, listener, conn, peer))
    }
    fn on_connected(&mut self, now: Timestamp, handle: HandleId) -> RResult<(), PluginError> {
        self.call(|p| p.on_connected(now, handle))
    }
    fn on_closed(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        reason: CloseReason,
    ) -> RResult<(), PluginError> {
        self.call(|p| p.on_closed(now, handle, reason))
    }
    fn on_modem_status(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        status: ModemStatus,
    ) -> RResult<(), PluginError> {
        self.call(|p| p.on_modem_status(now, handle, status))
    }
    fn dial(&mut self, now: Timestamp, target: RStr<'_>) -> RResult<LinkId, PluginError> {
        self.call(|p| p.dial(now, target.as_str()))
    }
    fn hangup(&mut self, now: Timestamp, link: LinkId) -> RResult<(), PluginError> {
        self.call(|p| p.hangup(now, link))
    }
    fn send_frame(
        &mut self,
        now: Timestamp,
        link: LinkId,
        frame: RSlice<'_, u8>,
    ) -> RResult<(), PluginError> {
        self.call(|p| p.send_frame(now, link, frame.as_slice()))
    }
    fn hangup_with_cause(
        &mut self,
        now: Timestamp,
        link: LinkId,
        cause: HangupCause,
    ) -> RResult<(), PluginError> {
        self.call(|p| p.hangup_with_cause(now, link, cause))
    }
    fn set_link_params(
        &mut self,
        now: Timestamp,
        link: LinkId,
        params: LinkParams,
    ) -> RResult<(), PluginError> {
        self.call(|p| p.set_link_params(now, link, params))
    }
    fn on_session_up(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        info: SessionInfo<'_>,
    ) -> RResult<(), PluginError> {
        self.call(|p| p.on_session_up(now, session, protocol, info))
    }
    fn on_session_frame(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        payload: RSlice<'_, u8>,
    ) -> RResult<(), PluginError> {
        self.call(|p| p.on_session_frame(now, session, protocol, payload.as_slice()))
    }
    fn on_session_down(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
    ) -> RResult<(), PluginError> {
        self.call(|p| p.on_session_down(now, session, protocol))
    }
}

/// Wraps a plugin value behind the shield, as an ABI object (what `new` returns; also useful to
/// drive a plugin in-process in tests and benchmarks).
pub fn into_plugin_box<P: Plugin>(plugin: P) -> PluginBox {
    PluginObject_TO::from_value(
        Shielded {
            inner: Some(plugin),
            poisoned: false,
        },
        TD_Opaque,
    )
}

/// [`abi::PluginModule::new`] for `P`: `P::new` behind the shield.
extern "C" fn new_instance<P: Plugin>(
    config_toml: RStr<'_>,
    host: HostBox,
) -> RResult<PluginBox, PluginError> {
    shield(|| P::new(config_toml.as_str(), HostHandle(host)).map(into_plugin_box)).into()
}

/// Builds `P`'s root module (leaked: the loader calls this once per library). Used by
/// [`export_plugin!`]; `version` is the plugin crate's version.
pub fn root_module<P: Plugin>(version: &'static str) -> PluginModuleRef {
    PluginModule {
        abi_version: ABI_VERSION,
        name: P::NAME.into(),
        version: version.into(),
        kind: P::KIND,
        description: P::DESCRIPTION.into(),
        config_schema: P::CONFIG_SCHEMA.into(),
        new: new_instance::<P>,
        config_ui: P::CONFIG_UI.into(),
    }
    .leak_into_prefix()
}

/// What [`export_plugin!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use dialgate_plugin_abi::abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
    };
}

/// Exports a [`Plugin`] type as the library's root module.
///
/// Expands to the abi_stable library header (the exported static the host looks up), built
/// the way abi_stable's `#[export_root_module]` builds it, with the root module's layout
/// included so the host checks it. Use it once, in a `cdylib` crate.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(panic = "abort")]
        compile_error!(
            "dialgate plugins must be built with panic = \"unwind\": the SDK turns panics into \
             errors with catch_unwind, and abort would take routerd down"
        );

        /// The abi_stable library header: the symbol the host looks up.
        #[unsafe(no_mangle)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::__private::LibHeader = {
            fn root_module() -> $crate::abi::PluginModuleRef {
                $crate::root_module::<$plugin>(env!("CARGO_PKG_VERSION"))
            }
            extern "C" fn erased_root_module() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader(root_module)
            }
            // SAFETY: `erased_root_module` returns the `PluginModuleRef` erased by
            // `__call_root_module_loader`, which is what `from_constructor::<PluginModuleRef>`
            // requires.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<$crate::abi::PluginModuleRef>(
                    erased_root_module,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_symbol_is_abi_stables_root_module_loader() {
        assert_eq!(
            abi::abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }

    #[test]
    fn panic_message_reads_str_and_string_payloads() {
        let p = catch_unwind(|| panic!("plain")).expect_err("panics");
        assert_eq!(panic_message(&*p), "plain");
        let n = 7;
        let p = catch_unwind(|| panic!("formatted {n}")).expect_err("panics");
        assert_eq!(panic_message(&*p), "formatted 7");
        let p = catch_unwind(|| std::panic::panic_any(5_u8)).expect_err("panics");
        assert_eq!(panic_message(&*p), "panic with a non-string payload");
    }
}
