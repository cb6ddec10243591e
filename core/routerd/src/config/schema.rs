//! The typed schema of `routerd.toml`. Every table rejects unknown keys; every field not marked
//! required has a default, so a minimal file is valid (see [`super::DEFAULT_CONFIG`]).
//!
//! Durations are whole seconds in fields named `*_secs`; sizes are bytes in `*_bytes`.
//! Relative paths are resolved against [`SystemConfig::state_dir`] (accounting) or
//! [`SystemConfig::plugin_dir`] (plugin files).

use core::fmt;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::value::{Ipv4Range, Ipv6Prefix, RoutePrefix};

/// The whole configuration document.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[system]`: host name, directories, logging.
    #[serde(default)]
    pub system: SystemConfig,
    /// `[management]`: the API socket and the metrics listener.
    #[serde(default)]
    pub management: ManagementConfig,
    /// `[ppp]`: PPP defaults every terminating link inherits.
    #[serde(default)]
    pub ppp: PppSettings,
    /// `[[pool]]`: IPv4 address pools.
    #[serde(default, rename = "pool", skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<PoolConfig>,
    /// `[lan]`: the LAN side (proxy ARP, IPv6 prefix); absent: no LAN integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lan: Option<LanConfig>,
    /// `[tun]`: the one TUN device carrying every session's IP.
    #[serde(default)]
    pub tun: TunConfig,
    /// `[[plugin]]`: plugins to load from the plugin directory.
    #[serde(default, rename = "plugin", skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginConfig>,
    /// `[[link]]`: links (ports, listeners, dial-out peers) served by plugins.
    #[serde(default, rename = "link", skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkConfig>,
    /// `[limits]`: session limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `[accounting]`: the local accounting log.
    #[serde(default)]
    pub accounting: AccountingConfig,
}

impl Config {
    /// The pool named `name`.
    pub fn pool(&self, name: &str) -> Option<&PoolConfig> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// The plugin named `name`.
    pub fn plugin(&self, name: &str) -> Option<&PluginConfig> {
        self.plugins.iter().find(|p| p.name == name)
    }

    /// The link named `name`.
    pub fn link(&self, name: &str) -> Option<&LinkConfig> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The PPP settings a link runs with: the `[ppp]` defaults with the link's overrides.
    pub fn effective_ppp(&self, link: &LinkConfig) -> PppSettings {
        self.ppp.with_overrides(&link.ppp)
    }

    /// Where a plugin's shared object is: `file` itself when absolute, else inside
    /// [`SystemConfig::plugin_dir`].
    pub fn plugin_path(&self, plugin: &PluginConfig) -> PathBuf {
        self.system.plugin_dir.join(&plugin.file)
    }

    /// The configuration store's directory: `<state_dir>/config` (see
    /// [`crate::store::ConfigStore`]).
    pub fn config_store_dir(&self) -> PathBuf {
        self.system.state_dir.join("config")
    }

    /// The local users file: `<state_dir>/users.toml` (see [`crate::users::UserStore`]).
    pub fn users_path(&self) -> PathBuf {
        self.system.state_dir.join("users.toml")
    }

    /// The accounting log path: [`AccountingConfig::path`] itself when absolute, else inside
    /// [`SystemConfig::state_dir`].
    pub fn accounting_path(&self) -> PathBuf {
        self.system.state_dir.join(&self.accounting.path)
    }
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// Normal operation (the default).
    #[default]
    Info,
    /// Protocol detail.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The name `tracing`'s filters understand.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// `[system]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SystemConfig {
    /// Our name: the CHAP/MS-CHAP authenticator name and the host name in logs.
    pub hostname: String,
    /// Directory plugin files are loaded from (absolute).
    pub plugin_dir: PathBuf,
    /// Directory for the config store, users and the accounting log (absolute).
    pub state_dir: PathBuf,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// The command (program and arguments) `POST /v1/system/reboot` runs; default
    /// `["reboot"]`. An empty list disables rebooting through the API.
    pub reboot_command: Vec<String>,
    /// How many configuration versions the store keeps (1 to 1000).
    pub config_history: u32,
    /// Keep only `CAP_NET_ADMIN`, `CAP_NET_RAW` and `CAP_NET_BIND_SERVICE` once started
    /// (default true; see `daemon::caps`). Read at start-up only.
    pub drop_capabilities: bool,
    /// Where image upgrades are staged for the appliance's installer (absolute; default
    /// [`DEFAULT_UPGRADE_DIR`]). Upgrades are offered only while the directory exists (the
    /// appliance image's init makes it); see `api::upgrade`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_dir: Option<PathBuf>,
    /// The box's hardware profile (`hw-profiles/<box>.toml`, absolute; default
    /// [`DEFAULT_HW_PROFILE`]), read when the file exists: it labels interfaces and serial
    /// ports and checks serial links against the ports' modem-control lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hw_profile: Option<PathBuf>,
}

/// The default of `system.upgrade_dir`.
pub const DEFAULT_UPGRADE_DIR: &str = "/run/dialgate/upgrade";

/// The default of `system.hw_profile`: where the appliance image installs the profile.
pub const DEFAULT_HW_PROFILE: &str = "/etc/dialgate/hw-profile.toml";

impl SystemConfig {
    /// `upgrade_dir`, or its default.
    pub fn upgrade_dir(&self) -> PathBuf {
        self.upgrade_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_UPGRADE_DIR))
    }

    /// `hw_profile`, or its default.
    pub fn hw_profile(&self) -> PathBuf {
        self.hw_profile
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_HW_PROFILE))
    }
}

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig {
            hostname: "dialgate".to_owned(),
            plugin_dir: PathBuf::from("/usr/lib/dialgate/plugins"),
            state_dir: PathBuf::from("/var/lib/dialgate"),
            log_level: LogLevel::Info,
            reboot_command: vec!["reboot".to_owned()],
            config_history: 10,
            drop_capabilities: true,
            upgrade_dir: None,
            hw_profile: None,
        }
    }
}

/// `[management]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagementConfig {
    /// The management API's unix socket (absolute path).
    pub socket: PathBuf,
    /// Where the Prometheus metrics endpoint listens; absent: no metrics listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for ManagementConfig {
    fn default() -> Self {
        ManagementConfig {
            socket: PathBuf::from("/run/dialgate/routerd.sock"),
            metrics_listen: None,
        }
    }
}

/// An authentication method, as named in `auth_methods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthMethod {
    /// MS-CHAPv2 (RFC 2759): mutual authentication, MPPE keys.
    #[serde(rename = "mschap-v2")]
    MsChapV2,
    /// MS-CHAPv1 (RFC 2433). Weak: needs `allow_weak_mschap_v1`.
    #[serde(rename = "mschap-v1")]
    MsChapV1,
    /// CHAP-MD5 (RFC 1994). Weak: needs `allow_weak_chap_md5` (and clear-text secrets).
    #[serde(rename = "chap-md5")]
    ChapMd5,
    /// PAP (RFC 1334). Weak: needs `allow_weak_pap_cleartext`.
    #[serde(rename = "pap")]
    Pap,
}

impl AuthMethod {
    /// The name used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::MsChapV2 => "mschap-v2",
            AuthMethod::MsChapV1 => "mschap-v1",
            AuthMethod::ChapMd5 => "chap-md5",
            AuthMethod::Pap => "pap",
        }
    }

    /// The engine's method.
    pub fn to_engine(self) -> dialgate_ppp::auth::Method {
        use dialgate_ppp::auth::Method;
        match self {
            AuthMethod::MsChapV2 => Method::MsChapV2,
            AuthMethod::MsChapV1 => Method::MsChapV1,
            AuthMethod::ChapMd5 => Method::ChapMd5,
            AuthMethod::Pap => Method::Pap,
        }
    }

    /// Whether the method derives MPPE keys (RFC 3079): the MS-CHAP family.
    pub fn yields_mppe_keys(self) -> bool {
        matches!(self, AuthMethod::MsChapV2 | AuthMethod::MsChapV1)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[ppp]`: the PPP settings of a terminating link (mirrors the security switches of
/// [`dialgate_ppp::Config`]; weak opt-ins are named `allow_weak_*`, insecure ones
/// `allow_insecure_*`). The defaults request MS-CHAPv2 only and require 128-bit MPPE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PppSettings {
    /// Our MRU (128 to 16384; default 1500).
    pub mru: u16,
    /// Seconds between LCP Echo-Requests (0 disables keepalives; at most 3600).
    pub echo_interval_secs: u32,
    /// Unanswered Echo-Requests before the link is declared dead (1 to 100).
    pub echo_failures: u32,
    /// Close a session after this many seconds without data (0: never).
    pub idle_timeout_secs: u32,
    /// Close a session this many seconds after it came up (0: never).
    pub session_timeout_secs: u32,
    /// Authentication methods in order of preference (both as authenticator and as peer).
    pub auth_methods: Vec<AuthMethod>,
    /// Allow MS-CHAPv1 (DES over the NT hash, no mutual authentication). Weak.
    pub allow_weak_mschap_v1: bool,
    /// Allow CHAP-MD5 (needs clear-text secrets in the user store). Weak.
    pub allow_weak_chap_md5: bool,
    /// Allow PAP (the password crosses the link in clear text). Weak.
    pub allow_weak_pap_cleartext: bool,
    /// Allow 40-bit MPPE keys. Weak.
    pub allow_weak_mppe_40: bool,
    /// Allow 56-bit MPPE keys. Weak.
    pub allow_weak_mppe_56: bool,
    /// Accept stateful MPPE when the peer asks for it.
    pub allow_mppe_stateful: bool,
    /// Ask for stateful MPPE ourselves (implies `allow_mppe_stateful`). Weak.
    pub prefer_weak_mppe_stateful: bool,
    /// Carry data unencrypted when MPPE cannot be negotiated. Insecure.
    pub allow_insecure_no_encryption: bool,
}

impl Default for PppSettings {
    fn default() -> Self {
        PppSettings {
            mru: 1500,
            echo_interval_secs: 30,
            echo_failures: 4,
            idle_timeout_secs: 0,
            session_timeout_secs: 0,
            auth_methods: vec![AuthMethod::MsChapV2],
            allow_weak_mschap_v1: false,
            allow_weak_chap_md5: false,
            allow_weak_pap_cleartext: false,
            allow_weak_mppe_40: false,
            allow_weak_mppe_56: false,
            allow_mppe_stateful: false,
            prefer_weak_mppe_stateful: false,
            allow_insecure_no_encryption: false,
        }
    }
}

impl PppSettings {
    /// These settings with every field `overrides` sets replaced.
    pub fn with_overrides(&self, overrides: &PppOverrides) -> PppSettings {
        let o = overrides;
        PppSettings {
            mru: o.mru.unwrap_or(self.mru),
            echo_interval_secs: o.echo_interval_secs.unwrap_or(self.echo_interval_secs),
            echo_failures: o.echo_failures.unwrap_or(self.echo_failures),
            idle_timeout_secs: o.idle_timeout_secs.unwrap_or(self.idle_timeout_secs),
            session_timeout_secs: o.session_timeout_secs.unwrap_or(self.session_timeout_secs),
            auth_methods: o
                .auth_methods
                .clone()
                .unwrap_or_else(|| self.auth_methods.clone()),
            allow_weak_mschap_v1: o.allow_weak_mschap_v1.unwrap_or(self.allow_weak_mschap_v1),
            allow_weak_chap_md5: o.allow_weak_chap_md5.unwrap_or(self.allow_weak_chap_md5),
            allow_weak_pap_cleartext: o
                .allow_weak_pap_cleartext
                .unwrap_or(self.allow_weak_pap_cleartext),
            allow_weak_mppe_40: o.allow_weak_mppe_40.unwrap_or(self.allow_weak_mppe_40),
            allow_weak_mppe_56: o.allow_weak_mppe_56.unwrap_or(self.allow_weak_mppe_56),
            allow_mppe_stateful: o.allow_mppe_stateful.unwrap_or(self.allow_mppe_stateful),
            prefer_weak_mppe_stateful: o
                .prefer_weak_mppe_stateful
                .unwrap_or(self.prefer_weak_mppe_stateful),
            allow_insecure_no_encryption: o
                .allow_insecure_no_encryption
                .unwrap_or(self.allow_insecure_no_encryption),
        }
    }

    /// The keepalive interval (`None`: disabled).
    pub fn echo_interval(&self) -> Option<Duration> {
        (self.echo_interval_secs > 0).then(|| Duration::from_secs(self.echo_interval_secs.into()))
    }

    /// The idle timeout (`None`: never).
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_secs > 0).then(|| Duration::from_secs(self.idle_timeout_secs.into()))
    }

    /// The session timeout (`None`: never).
    pub fn session_timeout(&self) -> Option<Duration> {
        (self.session_timeout_secs > 0)
            .then(|| Duration::from_secs(self.session_timeout_secs.into()))
    }

    /// Whether `method` is allowed by its `allow_weak_*` switch (MS-CHAPv2 always is).
    pub fn permits(&self, method: AuthMethod) -> bool {
        match method {
            AuthMethod::MsChapV2 => true,
            AuthMethod::MsChapV1 => self.allow_weak_mschap_v1,
            AuthMethod::ChapMd5 => self.allow_weak_chap_md5,
            AuthMethod::Pap => self.allow_weak_pap_cleartext,
        }
    }

    /// Copy these settings into an engine configuration: LCP MRU and keepalive, timeouts,
    /// the method list and every security switch. Roles, backends, pools, randomness and the
    /// seed are the caller's (they are per session).
    pub fn apply_to(&self, engine: &mut dialgate_ppp::Config) {
        engine.lcp.mru = self.mru;
        engine.lcp.echo_interval = self.echo_interval();
        engine.lcp.echo_failures = self.echo_failures;
        engine.idle_timeout = self.idle_timeout();
        engine.session_timeout = self.session_timeout();
        engine.auth_methods = Some(self.auth_methods.iter().map(|m| m.to_engine()).collect());
        engine.allow_weak_mschap_v1 = self.allow_weak_mschap_v1;
        engine.allow_weak_chap_md5 = self.allow_weak_chap_md5;
        engine.allow_weak_pap_cleartext = self.allow_weak_pap_cleartext;
        engine.allow_weak_mppe_40 = self.allow_weak_mppe_40;
        engine.allow_weak_mppe_56 = self.allow_weak_mppe_56;
        engine.allow_mppe_stateful = self.allow_mppe_stateful;
        engine.prefer_weak_mppe_stateful = self.prefer_weak_mppe_stateful;
        engine.allow_insecure_no_encryption = self.allow_insecure_no_encryption;
    }
}

/// `[link.ppp]`: per-link overrides of [`PppSettings`]; a field left out inherits `[ppp]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // Each field overrides the `PppSettings` field of the same name.
pub struct PppOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mru: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub echo_interval_secs: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub echo_failures: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_secs: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_timeout_secs: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_methods: Option<Vec<AuthMethod>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_weak_mschap_v1: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_weak_chap_md5: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_weak_pap_cleartext: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_weak_mppe_40: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_weak_mppe_56: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_mppe_stateful: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefer_weak_mppe_stateful: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_insecure_no_encryption: Option<bool>,
}

impl PppOverrides {
    /// Whether no field is overridden.
    pub fn is_empty(&self) -> bool {
        *self == PppOverrides::default()
    }

    /// Whether the field named `field` (as in the file) is overridden.
    pub fn sets(&self, field: &str) -> bool {
        match field {
            "mru" => self.mru.is_some(),
            "echo_interval_secs" => self.echo_interval_secs.is_some(),
            "echo_failures" => self.echo_failures.is_some(),
            "idle_timeout_secs" => self.idle_timeout_secs.is_some(),
            "session_timeout_secs" => self.session_timeout_secs.is_some(),
            "auth_methods" => self.auth_methods.is_some(),
            "allow_weak_mschap_v1" => self.allow_weak_mschap_v1.is_some(),
            "allow_weak_chap_md5" => self.allow_weak_chap_md5.is_some(),
            "allow_weak_pap_cleartext" => self.allow_weak_pap_cleartext.is_some(),
            "allow_weak_mppe_40" => self.allow_weak_mppe_40.is_some(),
            "allow_weak_mppe_56" => self.allow_weak_mppe_56.is_some(),
            "allow_mppe_stateful" => self.allow_mppe_stateful.is_some(),
            "prefer_weak_mppe_stateful" => self.prefer_weak_mppe_stateful.is_some(),
            "allow_insecure_no_encryption" => self.allow_insecure_no_encryption.is_some(),
            _ => false,
        }
    }
}

/// `[[pool]]`: an IPv4 address pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Name links refer to (required).
    pub name: String,
    /// Dynamic ranges, `"a.b.c.d-a.b.c.e"` (or one address).
    #[serde(default)]
    pub ranges: Vec<Ipv4Range>,
    /// Our own address on sessions of this pool (the IPCP local address); absent: the daemon
    /// picks the LAN interface's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<Ipv4Addr>,
    /// DNS servers handed out (at most 2: primary, secondary; RFC 1877).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<Ipv4Addr>,
    /// WINS (NBNS) servers handed out (at most 2; RFC 1877).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wins: Vec<Ipv4Addr>,
    /// `[pool.static]`: user name -> fixed address (outside every dynamic range).
    #[serde(default, rename = "static", skip_serializing_if = "BTreeMap::is_empty")]
    pub static_addresses: BTreeMap<String, Ipv4Addr>,
}

impl PoolConfig {
    /// Number of dynamic addresses.
    pub fn dynamic_size(&self) -> u64 {
        self.ranges.iter().map(Ipv4Range::len).sum()
    }
}

/// `[lan]`: the LAN the sessions' addresses live on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanConfig {
    /// The LAN interface (required).
    pub interface: String,
    /// Answer ARP on the LAN for session addresses, so clients can use LAN addresses.
    #[serde(default = "default_true")]
    pub proxy_arp: bool,
    /// Prefix to delegate one /64 per session from (length 16 to 64); absent: no IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_prefix: Option<Ipv6Prefix>,
}

fn default_true() -> bool {
    true
}

/// `[tun]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TunConfig {
    /// Interface name (1 to 15 characters).
    pub name: String,
    /// MTU (576 to 65535; at least 1280 with IPv6).
    pub mtu: u32,
}

impl Default for TunConfig {
    fn default() -> Self {
        TunConfig {
            name: "dialgate0".to_owned(),
            mtu: 1500,
        }
    }
}

/// `[[plugin]]`: a plugin to load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// Name links refer to (required).
    pub name: String,
    /// Shared object, relative to `system.plugin_dir` or absolute (required).
    pub file: PathBuf,
    /// Load it (default true). Links of a disabled plugin must be disabled too.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `[plugin.config]`: free-form settings handed to the plugin (see [`Self::config_toml`]).
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub config: toml::Table,
}

impl PluginConfig {
    /// The plugin's settings as the TOML document the plugin receives.
    pub fn config_toml(&self) -> String {
        table_to_toml(&self.config)
    }
}

fn table_to_toml(table: &toml::Table) -> String {
    // A table of TOML values always serializes; fall back to an empty document regardless.
    toml::to_string(table).unwrap_or_default()
}

/// Whether a link answers calls or places them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkRole {
    /// Accept calls (server, PAC answering clients).
    Answer,
    /// Place calls (client, or the outgoing side of a relay).
    Dial,
}

/// What a link does with the PPP it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    /// Run the PPP engine here.
    Terminate,
    /// Pass PPP frames untouched to another link (`relay_to`); on a dialing link: carry
    /// relayed calls.
    Relay,
}

/// Our credentials on a dialing link (the peer authenticates us).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialCredentials {
    /// User name.
    pub user: String,
    /// Password (the client side needs it in clear for PAP and CHAP-MD5).
    pub password: String,
}

impl fmt::Debug for DialCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DialCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `[[link]]`: one link served by a plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// Unique name (required).
    pub name: String,
    /// The plugin serving it (required).
    pub plugin: String,
    /// Answer or dial (required).
    pub role: LinkRole,
    /// Terminate or relay (default terminate).
    #[serde(default = "default_mode")]
    pub mode: LinkMode,
    /// Serve it (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The dialing link relayed calls go out on (answering relay links only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_to: Option<String>,
    /// The pool client addresses come from (answering terminating links; required there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Our credentials (dialing terminating links only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<DialCredentials>,
    /// Networks routed through the session once it is up (dialing terminating links
    /// only): IPv4 ones once IPCP is up, from our negotiated address; IPv6 ones once the
    /// peer's Router Advertisement gave us an address (without any, IPv6 takes a default
    /// route through the session). Removed when the session ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RoutePrefix>,
    /// `[link.ppp]`: overrides of the `[ppp]` defaults.
    #[serde(default, skip_serializing_if = "PppOverrides::is_empty")]
    pub ppp: PppOverrides,
    /// `[link.config]`: free-form settings handed to the plugin for this link (device,
    /// speed, listen address...; see [`Self::config_toml`]).
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub config: toml::Table,
}

fn default_mode() -> LinkMode {
    LinkMode::Terminate
}

impl LinkConfig {
    /// The link's plugin settings as the TOML document the plugin receives.
    pub fn config_toml(&self) -> String {
        table_to_toml(&self.config)
    }
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Sessions at once, all links together (1 to 1,000,000).
    pub max_sessions: u32,
    /// Sessions at once per user name; absent: no per-user limit. Enforced once the user is
    /// authenticated: a session over the limit is refused (MS-CHAP error 649).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_user_sessions: Option<u32>,
    /// Failed authentications from one source IP address (the peer a link plugin reports,
    /// e.g. a PPTP client) within `auth_failure_window_secs` that lock the source out
    /// (0 to 1000; 0 disables the lockout).
    pub auth_failures_per_source: u32,
    /// The window failures are counted in, in seconds (1 to 86400).
    pub auth_failure_window_secs: u32,
    /// How long calls from a locked-out source are refused, in seconds (1 to 86400).
    pub auth_lockout_secs: u32,
    /// Frames each new session keeps in its capture ring, for `GET /v1/sessions/{id}/pcap`
    /// (0 to 4096; 0, the default, turns capture off).
    pub capture_packets: u32,
    /// Octets kept of each captured frame (64 to 65535, default 256).
    pub capture_snaplen: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_sessions: 1000,
            per_user_sessions: None,
            auth_failures_per_source: 5,
            auth_failure_window_secs: 60,
            auth_lockout_secs: 300,
            capture_packets: 0,
            capture_snaplen: 256,
        }
    }
}

/// `[accounting]`: the local accounting log (see [`crate::accounting`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountingConfig {
    /// Write session records (default true).
    pub enabled: bool,
    /// Log file, relative to `system.state_dir` or absolute.
    pub path: PathBuf,
    /// Rotate when the file would grow past this many bytes (4096 to 2^40).
    pub rotate_size_bytes: u64,
    /// Rotated files kept (`path.1` newest ... `path.N` oldest; 1 to 1000).
    pub keep: u32,
}

impl Default for AccountingConfig {
    fn default() -> Self {
        AccountingConfig {
            enabled: true,
            path: PathBuf::from("accounting.jsonl"),
            rotate_size_bytes: 10 * 1024 * 1024,
            keep: 10,
        }
    }
}

/// Whether `p` is safe to join under a base directory: relative, no `..`, not empty.
pub(crate) fn is_contained_relative(p: &Path) -> bool {
    use std::path::Component;
    !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}
