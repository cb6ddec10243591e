//! The host side of the dialgate plugin ABI: load a plugin library, check it, create
//! instances, and call them so that a failing plugin cannot take the host down.
//!
//! ```no_run
//! # fn demo(host: dialgate_plugin_abi::HostBox) -> Result<(), Box<dyn std::error::Error>> {
//! use dialgate_plugin_abi::{LinkId, Timestamp};
//!
//! let plugin = dialgate_plugin_host::load("/usr/lib/dialgate/plugins/libserial.so")?;
//! println!("{} {} ({})", plugin.info().name, plugin.info().version, plugin.info().kind);
//! let mut instance = plugin.instantiate("port = \"/dev/ttyS0\"", host)?;
//! instance.start(Timestamp::ZERO)?;
//! instance.send_frame(Timestamp::ZERO, LinkId(1), &[0xc0, 0x21, 9, 1, 0, 8, 0, 0, 0, 0])?;
//! # Ok(()) }
//! ```
//!
//! # Loading
//!
//! [`load`] refuses, with a [`LoadError`] that names the file (and both ABI versions where
//! they are known): a missing file, a file the dynamic loader cannot open, a library without
//! a dialgate root module, one built with an incompatible abi_stable, one built for another
//! plugin ABI major version (or a newer minor one), and one whose types differ from the
//! host's (abi_stable's layout check).
//!
//! The layout check accepts a plugin built against an older minor version: the host's prefix
//! types (the root module and both vtables) may have more fields and methods than the
//! plugin's, never fewer or different ones. Fields an older plugin lacks read as `None`;
//! methods it lacks answer with their default implementation (every method added after 1.0
//! must have one).
//!
//! Loaded libraries are never unloaded: abi_stable leaks them on purpose, because plugin code
//! (vtables, static strings) may still be referenced. Loading the same path twice returns the
//! same module. A plugin is upgraded by restarting routerd.
//!
//! # Failing instances
//!
//! Every call goes through the SDK's panic shield inside the plugin. When a call answers
//! [`PluginError::Panicked`], the [`PluginInstance`] marks itself [`InstanceState::Failed`] and
//! refuses further calls ([`CallError::Disabled`]); the caller ends the instance's sessions,
//! drops it, and may create a new one with [`LoadedPlugin::instantiate`].

mod host;

use std::fmt;
use std::path::{Path, PathBuf};

use dialgate_plugin_abi::abi_stable::StableAbi;
use dialgate_plugin_abi::abi_stable::abi_stability::abi_checking::exported_check_layout_compatibility;
use dialgate_plugin_abi::abi_stable::library::{LibraryError, RootModule, lib_header_from_path};
use dialgate_plugin_abi::abi_stable::std_types::{RErr, ROk, RResult};
use dialgate_plugin_abi::{
    ABI_VERSION, AbiVersion, CloseReason, HandleId, HangupCause, HostBox, LinkId, LinkParams,
    MODULE_NAME, ModemStatus, PluginBox, PluginError, PluginKind, PluginModuleRef, PppProtocol,
    SessionId, SessionInfo, SocketAddress, TimerId, Timestamp,
};

pub use dialgate_plugin_abi as abi;
pub use dialgate_plugin_form::{ConfigForm, FormError};
pub use host::{HostServices, host_box};

/// Why a plugin library was refused. Every variant names the file.
#[derive(Debug)]
pub enum LoadError {
    /// The file does not exist.
    NotFound {
        /// The plugin file.
        path: PathBuf,
    },
    /// The dynamic loader could not open the file (not a shared library, wrong architecture,
    /// missing dependency).
    NotALibrary {
        /// The plugin file.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// A shared library, but not a dialgate plugin (no root module, or another one).
    NotAPlugin {
        /// The plugin file.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// Built with an abi_stable whose ABI differs from the host's.
    AbiStableMismatch {
        /// The plugin file.
        path: PathBuf,
        /// abi_stable's ABI version in the library (`major.minor`).
        library: String,
        /// abi_stable's ABI version in the host.
        host: String,
    },
    /// Built for a plugin ABI version this host cannot load.
    AbiVersionMismatch {
        /// The plugin file.
        path: PathBuf,
        /// The plugin's ABI version.
        plugin: AbiVersion,
        /// The host's ABI version.
        host: AbiVersion,
    },
    /// The versions agree but the types do not: a non-additive ABI change.
    LayoutMismatch {
        /// The plugin file.
        path: PathBuf,
        /// The plugin's ABI version.
        plugin: AbiVersion,
        /// The host's ABI version.
        host: AbiVersion,
        /// abi_stable's description of the differences.
        details: String,
    },
    /// The library's root module constructor failed.
    ModuleInit {
        /// The plugin file.
        path: PathBuf,
        /// Its error.
        reason: String,
    },
}

impl LoadError {
    /// The plugin file this error is about.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::NotFound { path }
            | LoadError::NotALibrary { path, .. }
            | LoadError::NotAPlugin { path, .. }
            | LoadError::AbiStableMismatch { path, .. }
            | LoadError::AbiVersionMismatch { path, .. }
            | LoadError::LayoutMismatch { path, .. }
            | LoadError::ModuleInit { path, .. } => path,
        }
    }
}

/// The most lines of abi_stable's layout report a [`LoadError`] displays.
const MAX_DETAIL_LINES: usize = 24;

/// The informative part of abi_stable's layout report: each `Error:` line with the few lines
/// after it (expected / found), or the report's start when it has none.
fn layout_summary(details: &str) -> Vec<&str> {
    let lines: Vec<&str> = details
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut out = Vec::new();
    let mut remaining = 0;
    for line in &lines {
        if line.trim_start().starts_with("Error:") {
            remaining = 5;
        }
        if remaining > 0 {
            out.push(*line);
            remaining -= 1;
        }
    }
    if out.is_empty() {
        out = lines;
    }
    if out.len() > MAX_DETAIL_LINES {
        out.truncate(MAX_DETAIL_LINES);
        out.push("...");
    }
    out
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path().display();
        match self {
            LoadError::NotFound { .. } => write!(f, "plugin {path}: no such file"),
            LoadError::NotALibrary { reason, .. } => {
                write!(f, "plugin {path}: not a loadable shared library: {reason}")
            }
            LoadError::NotAPlugin { reason, .. } => {
                write!(f, "plugin {path}: not a dialgate plugin: {reason}")
            }
            LoadError::AbiStableMismatch { library, host, .. } => write!(
                f,
                "plugin {path}: built with abi_stable ABI {library}, this host uses {host}"
            ),
            LoadError::AbiVersionMismatch { plugin, host, .. } => write!(
                f,
                "plugin {path}: built for plugin ABI {plugin}, this host provides plugin ABI \
                 {host} (the major version must match and the minor must not be newer)"
            ),
            LoadError::LayoutMismatch {
                plugin,
                host,
                details,
                ..
            } => {
                write!(
                    f,
                    "plugin {path}: built for plugin ABI {plugin}, which this host (plugin ABI \
                     {host}) should load, but its types differ:"
                )?;
                for line in layout_summary(details) {
                    write!(f, "\n  {line}")?;
                }
                Ok(())
            }
            LoadError::ModuleInit { reason, .. } => {
                write!(
                    f,
                    "plugin {path}: its root module failed to initialize: {reason}"
                )
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// What a plugin says about itself, read at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// Its name, as configs refer to it.
    pub name: String,
    /// Its own version.
    pub version: String,
    /// Link or LAN-protocol plugin.
    pub kind: PluginKind,
    /// The plugin ABI version it was built against.
    pub abi_version: AbiVersion,
    /// One line of description.
    pub description: String,
    /// The JSON Schema of its configuration.
    pub config_schema: String,
    /// ABI 1.3: its configuration form (schema and UI hints), parsed: `None` when the plugin
    /// has none (built for 1.0 to 1.2, or empty `config_ui`), an error when what it gave is
    /// malformed (the plugin still loads and runs; only its form is missing).
    pub form: Option<Result<ConfigForm, FormError>>,
}

/// A checked plugin library, ready to create instances.
#[derive(Debug, Clone)]
pub struct LoadedPlugin {
    info: PluginInfo,
    module: ModuleRef,
}

/// `PluginModuleRef` is generated by abi_stable without a `Debug` impl.
#[derive(Clone, Copy)]
struct ModuleRef(PluginModuleRef);

impl fmt::Debug for ModuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PluginModuleRef")
    }
}

/// Loads and checks the plugin library at `path` (see the crate docs for the checks).
pub fn load(path: impl AsRef<Path>) -> Result<LoadedPlugin, LoadError> {
    let path = path.as_ref();
    let owned = || path.to_path_buf();
    if !path.exists() {
        return Err(LoadError::NotFound { path: owned() });
    }
    let header = lib_header_from_path(path).map_err(|e| match e {
        LibraryError::OpenError { err, .. } => LoadError::NotALibrary {
            path: owned(),
            reason: err.to_string(),
        },
        LibraryError::GetSymbolError { .. } => LoadError::NotAPlugin {
            path: owned(),
            reason: "it exports no abi_stable root module".to_owned(),
        },
        LibraryError::InvalidAbiHeader(found) => {
            let host = dialgate_plugin_abi::abi_stable::library::AbiHeader::VALUE;
            LoadError::AbiStableMismatch {
                path: owned(),
                library: format!("{}.{}", found.abi_major, found.abi_minor),
                host: format!("{}.{}", host.abi_major, host.abi_minor),
            }
        }
        other => LoadError::NotAPlugin {
            path: owned(),
            reason: other.to_string().trim().to_owned(),
        },
    })?;

    let consts = header.root_mod_consts();
    if consts.name().as_str() != MODULE_NAME {
        return Err(LoadError::NotAPlugin {
            path: owned(),
            reason: format!(
                "its root module is `{}`, not `{MODULE_NAME}`",
                consts.name().as_str()
            ),
        });
    }
    // The version string is read before any layout check: a plugin for another major version
    // is reported as such, not as a list of type differences.
    let version_text = header.version_strings().version.as_str();
    let plugin_abi = AbiVersion::parse(version_text).ok_or_else(|| LoadError::NotAPlugin {
        path: owned(),
        reason: format!("unreadable plugin ABI version `{version_text}`"),
    })?;
    if !ABI_VERSION.can_load(plugin_abi) {
        return Err(LoadError::AbiVersionMismatch {
            path: owned(),
            plugin: plugin_abi,
            host: ABI_VERSION,
        });
    }

    // The layout check runs with the plugin as the "interface" and the host as the
    // "implementation": abi_stable then accepts host types that have *more* prefix fields and
    // trait methods than the plugin's (an older plugin), and refuses fewer. That is the
    // direction a plugin ABI needs: the host reads fields an older plugin lacks as `None`
    // (prefix-type accessors), calls methods it lacks through their default implementations,
    // and the plugin only calls host methods that existed when it was built. abi_stable's own
    // `init_root_module` checks the other way round (a library at least as new as its loader).
    let plugin_layout = header.layout().ok_or_else(|| LoadError::NotAPlugin {
        path: owned(),
        reason: "its root module carries no type layout to check".to_owned(),
    })?;
    let host_layout = <PluginModuleRef as StableAbi>::LAYOUT;
    if let RErr(details) = exported_check_layout_compatibility(plugin_layout, host_layout) {
        return Err(LoadError::LayoutMismatch {
            path: owned(),
            plugin: plugin_abi,
            host: ABI_VERSION,
            details: details.to_string(),
        });
    }
    // SAFETY: the layout of the plugin's root module, and of every type reachable from it, was
    // checked just above to be compatible with `PluginModuleRef` as this host defines it.
    let module = unsafe { header.unchecked_layout::<PluginModuleRef>() }.map_err(|err| {
        LoadError::ModuleInit {
            path: owned(),
            reason: err.to_string().trim().to_owned(),
        }
    })?;

    if module.abi_version() != plugin_abi {
        return Err(LoadError::NotAPlugin {
            path: owned(),
            reason: format!(
                "its module says plugin ABI {} but its header says {plugin_abi}",
                module.abi_version()
            ),
        });
    }
    let info = PluginInfo {
        path: owned(),
        name: module.name().as_str().to_owned(),
        version: module.version().as_str().to_owned(),
        kind: module.kind(),
        abi_version: plugin_abi,
        description: module.description().as_str().to_owned(),
        config_schema: module.config_schema().as_str().to_owned(),
        form: read_form(module),
    };
    Ok(LoadedPlugin {
        info,
        module: ModuleRef(module),
    })
}

/// The plugin's configuration form (ABI 1.3): the schema and the UI hints are the plugin's
/// words, so they go through the bounded parser of `dialgate-plugin-form`.
fn read_form(module: PluginModuleRef) -> Option<Result<ConfigForm, FormError>> {
    let ui = module.config_ui()?;
    if ui.is_empty() {
        return None;
    }
    Some(dialgate_plugin_form::parse(
        module.config_schema().as_str(),
        ui.as_str(),
    ))
}

/// The root module's abi_stable name, for diagnostics.
pub fn module_name() -> &'static str {
    <PluginModuleRef as RootModule>::NAME
}

/// A plugin's `new` refused its configuration or failed (or panicked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstantiateError {
    /// The plugin file.
    pub path: PathBuf,
    /// The plugin's name.
    pub plugin: String,
    /// The plugin's version.
    pub version: String,
    /// What `new` answered.
    pub error: PluginError,
}

impl fmt::Display for InstantiateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plugin {} {} ({}): cannot create an instance: {}",
            self.plugin,
            self.version,
            self.path.display(),
            self.error
        )
    }
}

impl std::error::Error for InstantiateError {}

impl LoadedPlugin {
    /// What the plugin says about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Creates an instance with its configuration (a TOML document) and the host callbacks it
    /// will use (see [`host_box`]).
    pub fn instantiate(
        &self,
        config_toml: &str,
        host: HostBox,
    ) -> Result<PluginInstance, InstantiateError> {
        match (self.module.0.new())(config_toml.into(), host) {
            ROk(object) => Ok(PluginInstance {
                name: self.info.name.clone(),
                object,
                state: InstanceState::Running,
            }),
            RErr(error) => Err(InstantiateError {
                path: self.info.path.clone(),
                plugin: self.info.name.clone(),
                version: self.info.version.clone(),
                error,
            }),
        }
    }
}

/// Whether an instance may still be called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceState {
    /// Calls go through.
    Running,
    /// A call panicked; no further calls reach the plugin.
    Failed {
        /// The panic message.
        message: String,
    },
}

/// Why a call to an instance failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The plugin returned an error; the instance stays usable.
    Plugin(PluginError),
    /// The plugin panicked during this call; the instance is now failed.
    Panicked {
        /// The panic message.
        message: String,
    },
    /// The instance failed earlier; the plugin was not called.
    Disabled,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Plugin(e) => e.fmt(f),
            CallError::Panicked { message } => {
                write!(f, "plugin panicked: {message}; instance disabled")
            }
            CallError::Disabled => f.write_str("plugin instance disabled after a panic"),
        }
    }
}

impl std::error::Error for CallError {}

/// One plugin instance, called through the panic shield. Each call returns `Result`; a panic
/// marks the instance failed.
pub struct PluginInstance {
    name: String,
    object: PluginBox,
    state: InstanceState,
}

impl fmt::Debug for PluginInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginInstance")
            .field("name", &self.name)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl PluginInstance {
    /// Wraps an ABI object made elsewhere (by the SDK in-process, in tests and benchmarks).
    pub fn from_box(name: impl Into<String>, object: PluginBox) -> Self {
        PluginInstance {
            name: name.into(),
            object,
            state: InstanceState::Running,
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Running or failed.
    pub fn state(&self) -> &InstanceState {
        &self.state
    }

    /// Whether a call panicked.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, InstanceState::Failed { .. })
    }

    #[inline]
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut PluginBox) -> RResult<T, PluginError>,
    ) -> Result<T, CallError> {
        if self.is_failed() {
            return Err(CallError::Disabled);
        }
        match f(&mut self.object) {
            ROk(v) => Ok(v),
            RErr(PluginError::Panicked { message }) => {
                let message = message.into_string();
                self.state = InstanceState::Failed {
                    message: message.clone(),
                };
                Err(CallError::Panicked { message })
            }
            RErr(e) => Err(CallError::Plugin(e)),
        }
    }

    /// See [`abi::PluginObject::start`].
    pub fn start(&mut self, now: Timestamp) -> Result<(), CallError> {
        self.call(|o| o.start(now))
    }
    /// See [`abi::PluginObject::stop`].
    pub fn stop(&mut self, now: Timestamp) -> Result<(), CallError> {
        self.call(|o| o.stop(now))
    }
    /// See [`abi::PluginObject::on_timer`].
    pub fn on_timer(&mut self, now: Timestamp, timer: TimerId) -> Result<(), CallError> {
        self.call(|o| o.on_timer(now, timer))
    }
    /// See [`abi::PluginObject::on_data`].
    pub fn on_data(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        bytes: &[u8],
    ) -> Result<(), CallError> {
        self.call(|o| o.on_data(now, handle, bytes.into()))
    }
    /// See [`abi::PluginObject::on_writable`].
    pub fn on_writable(&mut self, now: Timestamp, handle: HandleId) -> Result<(), CallError> {
        self.call(|o| o.on_writable(now, handle))
    }
    /// See [`abi::PluginObject::on_tcp_accepted`].
    pub fn on_tcp_accepted(
        &mut self,
        now: Timestamp,
        listener: HandleId,
        conn: HandleId,
        peer: SocketAddress,
    ) -> Result<(), CallError> {
        self.call(|o| o.on_tcp_accepted(now, listener, conn, peer))
    }
    /// See [`abi::PluginObject::on_connected`].
    pub fn on_connected(&mut self, now: Timestamp, handle: HandleId) -> Result<(), CallError> {
        self.call(|o| o.on_connected(now, handle))
    }
    /// See [`abi::PluginObject::on_closed`].
    pub fn on_closed(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        reason: CloseReason,
    ) -> Result<(), CallError> {
        self.call(|o| o.on_closed(now, handle, reason))
    }
    /// See [`abi::PluginObject::on_modem_status`].
    pub fn on_modem_status(
        &mut self,
        now: Timestamp,
        handle: HandleId,
        status: ModemStatus,
    ) -> Result<(), CallError> {
        self.call(|o| o.on_modem_status(now, handle, status))
    }
    /// See [`abi::PluginObject::dial`].
    pub fn dial(&mut self, now: Timestamp, target: &str) -> Result<LinkId, CallError> {
        self.call(|o| o.dial(now, target.into()))
    }
    /// See [`abi::PluginObject::hangup`].
    pub fn hangup(&mut self, now: Timestamp, link: LinkId) -> Result<(), CallError> {
        self.call(|o| o.hangup(now, link))
    }
    /// See [`abi::PluginObject::hangup_with_cause`] (ABI 1.2; a 1.0 or 1.1 plugin gets
    /// [`hangup`](Self::hangup)).
    pub fn hangup_with_cause(
        &mut self,
        now: Timestamp,
        link: LinkId,
        cause: HangupCause,
    ) -> Result<(), CallError> {
        self.call(|o| o.hangup_with_cause(now, link, cause))
    }
    /// See [`abi::PluginObject::send_frame`]: the hot path; allocates nothing.
    #[inline]
    pub fn send_frame(
        &mut self,
        now: Timestamp,
        link: LinkId,
        frame: &[u8],
    ) -> Result<(), CallError> {
        self.call(|o| o.send_frame(now, link, frame.into()))
    }
    /// See [`abi::PluginObject::set_link_params`].
    pub fn set_link_params(
        &mut self,
        now: Timestamp,
        link: LinkId,
        params: LinkParams,
    ) -> Result<(), CallError> {
        self.call(|o| o.set_link_params(now, link, params))
    }
    /// See [`abi::PluginObject::on_session_up`].
    pub fn on_session_up(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        info: SessionInfo<'_>,
    ) -> Result<(), CallError> {
        self.call(|o| o.on_session_up(now, session, protocol, info))
    }
    /// See [`abi::PluginObject::on_session_frame`].
    pub fn on_session_frame(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
        payload: &[u8],
    ) -> Result<(), CallError> {
        self.call(|o| o.on_session_frame(now, session, protocol, payload.into()))
    }
    /// See [`abi::PluginObject::on_session_down`].
    pub fn on_session_down(
        &mut self,
        now: Timestamp,
        session: SessionId,
        protocol: PppProtocol,
    ) -> Result<(), CallError> {
        self.call(|o| o.on_session_down(now, session, protocol))
    }
}
