//! The stable ABI between routerd and its plugins: the only contract between them.
//!
//! A plugin is a `cdylib` that exports one [`PluginModule`] (an abi_stable root module). The
//! host (`dialgate-plugin-host`) opens the library, checks the abi_stable header, the plugin
//! ABI version and the layout of every type reachable from the module, then calls
//! [`PluginModule::new`] with the instance's configuration (a TOML document) and a [`HostBox`]:
//! the host's callbacks. `new` returns a [`PluginBox`], the plugin instance, which the host
//! drives with `(now, id, bytes)` calls ([`PluginObject`]).
//!
//! Plugins are written with `dialgate-plugin-sdk`, which builds the module from a plain Rust
//! trait and shields every call with `catch_unwind`.
//!
//! # What crosses the boundary
//!
//! Only `StableAbi` types: byte slices and strings borrowed for one call ([`RSlice`], [`RStr`]),
//! small `Copy` ids ([`LinkId`], [`SessionId`], [`HandleId`], [`TimerId`], [`PppProtocol`]),
//! plain `#[repr(C)]` structs of those, owned [`RString`]s only inside errors, and the two trait
//! objects. Never std or tokio types, file descriptors, or pointers kept past a call: the host
//! owns every socket, tty and timer and hands out [`HandleId`]s and [`TimerId`]s instead.
//!
//! The hot path allocates nothing: [`PluginObject::send_frame`], [`Host::deliver_frame`],
//! [`PluginObject::on_data`] and [`Host::write`] borrow the caller's buffer for the duration of
//! the call and return `RResult<(), _>`, whose `Ok` carries no data.
//!
//! # Frames
//!
//! A *PPP frame* (in [`PluginObject::send_frame`] and [`Host::deliver_frame`]) is what the PPP
//! engine consumes and produces: the optional `FF 03` address and control fields, the protocol
//! field (two octets, or one when PFC was negotiated) and the information field. No HDLC flag,
//! no octet stuffing and no FCS (RFC 1662 §3): framing for the medium is the link plugin's job,
//! using the ACCM the core passes in [`PluginObject::set_link_params`].
//!
//! # Calls and threads
//!
//! The host calls one instance from one thread at a time (`&mut self`), never re-entrantly.
//! During any such call the plugin may call back into [`Host`]; the host must accept that. A
//! plugin may also call [`Host`] from a thread of its own (a vendor driver binding, for
//! instance): the host object is `Send + Sync` and reference counted.
//!
//! # Versioning
//!
//! The ABI version is this crate's `major.minor` ([`ABI_VERSION`]). It travels in the
//! abi_stable library header (the root module's version string), where the host can read it
//! *before* checking layouts, so a plugin for another major version is refused with an error
//! naming both versions rather than a layout diff. A host loads a plugin whose major version
//! equals its own and whose minor version is not newer than its own.
//!
//! Within a major version only additive changes are allowed:
//! - [`PluginModule`] is a prefix type: new fields go after `new` (the
//!   `#[sabi(last_prefix_field)]`), and their accessors return `Option` on the host side,
//!   because an older plugin does not have them.
//! - [`PluginObject`] and [`Host`] are `#[sabi_trait]` objects with prefix vtables: new methods
//!   go at the end *with a default implementation*, which is what an older plugin (or host)
//!   answers with.
//! - Structs passed by value and enums are frozen: extend by adding a new method that takes a
//!   new type. Open code spaces ([`PluginKind`], [`PppProtocol`]) are newtypes over integers.
//!
//! What each minor version added:
//! - 1.1: [`Host::set_counter`].
//! - 1.2: [`PluginObject::hangup_with_cause`], [`Host::set_link_congested`],
//!   [`Host::set_link_mru`].
//! - 1.3: [`PluginModule::config_ui`]: the UI hints that, with `config_schema`, make the
//!   plugin's configuration form (a page per plugin in the web UI, and routerd's check of
//!   `[link.config]`). The host parses both with `dialgate-plugin-form`, as untrusted input.
//!
//! `tests/plugins/frozen-v1` is built against a byte-for-byte snapshot of this crate at 1.0.0;
//! the host's tests load it, so a non-additive change fails CI.

mod error;
mod host;
mod ids;
mod io;
mod module;
mod plugin;

pub use abi_stable;
pub use abi_stable::std_types::{RResult, RSlice, RStr, RString};

pub use error::{HostError, PluginError};
pub use host::{Host, Host_TO, HostBox};
pub use ids::{
    ABI_VERSION, AbiVersion, HandleId, LinkId, PluginKind, PppProtocol, SessionId, TimerId,
    Timestamp,
};
pub use io::{
    CloseReason, Direction, FlowControl, HangupCause, IpAddress, LinkDownCause, LinkInfo,
    LinkParams, LogLevel, ModemControl, ModemStatus, SessionInfo, SocketAddress, TtySettings,
};
pub use module::{MODULE_NAME, PluginModule, PluginModuleRef};
pub use plugin::{PluginBox, PluginObject, PluginObject_TO};
