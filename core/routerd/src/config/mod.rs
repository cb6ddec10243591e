//! The configuration: one TOML document with a typed schema ([`Config`]).
//!
//! [`Document::parse`] reads a document in three passes and reports every problem it finds
//! as a [`ConfigError`] naming the file, line, column and field path, e.g.
//! `routerd.toml:14:8: link[1].pool: unknown pool "office"`:
//!
//! 1. TOML syntax (every syntax error, by the parser's recovery);
//! 2. types, section by section and `[[...]]` entry by entry (unknown keys are errors);
//! 3. semantics ([`validate`]): ranges, references between sections, contradictory security
//!    switches. This pass runs only when the types are right.
//!
//! Indices in paths are 0-based: `link[1]` is the second `[[link]]` table.

mod diff;
pub mod hw_profile;
mod schema;
mod source;
mod validate;
mod value;

use core::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

pub use diff::{Changes, ConfigDiff};
pub use schema::{
    AccountingConfig, AuthMethod, Config, DialCredentials, LanConfig, LimitsConfig, LinkConfig,
    LinkMode, LinkRole, LogLevel, ManagementConfig, PluginConfig, PoolConfig, PppOverrides,
    PppSettings, SystemConfig, TunConfig,
};
pub use source::{FieldPath, Location, Segment};
pub use validate::{
    Issue, MAX_LINK_ROUTES, MAX_POOL_ADDRESSES, MAX_TIMEOUT_SECS, MRU_RANGE, validate,
};
pub use value::{Ipv4Range, Ipv6Prefix, RoutePrefix, ValueError};

pub(crate) use validate::{ipv4_problem as ipv4_host_problem, name_problem, user_name_problem};
pub(crate) use value::deserialize_from_str;

use source::SourceMap;

/// The embedded default configuration (`core/routerd/config/default.toml`): valid and safe
/// (MS-CHAPv2 only, MPPE-128 required, no links, management on a local socket, metrics on
/// loopback).
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");

/// Name used in errors for the embedded default configuration.
pub const DEFAULT_CONFIG_NAME: &str = "<default routerd.toml>";

/// One problem in a configuration document. Serializes (for the management API) as
/// `{"file", "location": {"line", "column"} | null, "path": "link[1].pool", "message"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigError {
    /// The document's name (usually its file name).
    pub file: String,
    /// Where in the document (`None` when the document has no such position).
    pub location: Option<Location>,
    /// The field to fix (root for syntax errors).
    pub path: FieldPath,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    /// `file:line:column: path: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(loc) = self.location {
            write!(f, ":{}:{}", loc.line, loc.column)?;
        }
        if !self.path.is_root() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem of a document (at least one), sorted by position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct ConfigErrors(Vec<ConfigError>);

impl ConfigErrors {
    /// The problems.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// The problems, owned.
    pub fn into_errors(self) -> Vec<ConfigError> {
        self.0
    }
}

impl fmt::Display for ConfigErrors {
    /// One problem per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reading a configuration file failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{0}")]
    Invalid(ConfigErrors),
}

/// A valid configuration together with the text it was read from (kept verbatim, comments
/// included, so that the store and `config show` return what the operator wrote).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    name: String,
    text: String,
    config: Config,
}

impl Document {
    /// Parses and validates `text`; `name` (a file name) is used in errors.
    pub fn parse(name: impl Into<String>, text: impl Into<String>) -> Result<Self, ConfigErrors> {
        let name = name.into();
        let text = text.into();
        let config = parse_config(&name, &text)?;
        Ok(Document { name, text, config })
    }

    /// Reads, parses and validates the file at `path` (errors name it as given).
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: shown.clone(),
            source,
        })?;
        Document::parse(shown, text).map_err(LoadError::Invalid)
    }

    /// Serializes `config` to TOML and validates it (for changes made through the API on the
    /// typed configuration; comments are not kept).
    pub fn from_config(name: impl Into<String>, config: &Config) -> Result<Self, ConfigErrors> {
        let name = name.into();
        let text = toml::to_string(config).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: name.clone(),
                location: None,
                path: FieldPath::root(),
                message: format!("cannot write the configuration as TOML: {e}"),
            }])
        })?;
        Document::parse(name, text)
    }

    /// The embedded default configuration, parsed.
    pub fn default_config() -> Result<Self, ConfigErrors> {
        Document::parse(DEFAULT_CONFIG_NAME, DEFAULT_CONFIG)
    }

    /// The name errors use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The typed configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The typed configuration, owned.
    pub fn into_config(self) -> Config {
        self.config
    }
}

fn error_at(
    name: &str,
    text: &str,
    map: Option<&SourceMap<'_>>,
    span: Option<core::ops::Range<usize>>,
    fallback: FieldPath,
    message: &str,
) -> ConfigError {
    let location = span.as_ref().map(|s| Location::of_offset(text, s.start));
    let path = match (map, &span) {
        (Some(m), Some(s)) => m.path_at(s),
        _ => fallback,
    };
    ConfigError {
        file: name.to_owned(),
        location,
        path,
        message: message.to_owned(),
    }
}

fn section<T: DeserializeOwned>(value: &Spanned<DeValue<'_>>) -> Result<T, toml::de::Error> {
    T::deserialize(ValueDeserializer::from(value.clone()))
}

/// Deserializes a `[[key]]` array entry by entry, so that each bad entry is reported.
fn entries<T: DeserializeOwned>(
    key: &str,
    value: &Spanned<DeValue<'_>>,
    errors: &mut Vec<(Option<core::ops::Range<usize>>, FieldPath, String)>,
) -> Vec<T> {
    let at = FieldPath::root().key(key);
    let DeValue::Array(items) = value.get_ref() else {
        errors.push((
            Some(value.span()),
            at,
            format!("expected an array of tables ([[{key}]])"),
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match section(item) {
            Ok(t) => out.push(t),
            Err(e) => errors.push((e.span(), at.index(i), e.message().to_owned())),
        }
    }
    out
}

fn parse_config(name: &str, text: &str) -> Result<Config, ConfigErrors> {
    let map = SourceMap::parse(text).map_err(|syntax| {
        let mut errors: Vec<ConfigError> = syntax
            .iter()
            .map(|e| error_at(name, text, None, e.span(), FieldPath::root(), e.message()))
            .collect();
        errors.sort_by_key(|e| e.location);
        ConfigErrors(errors)
    })?;
    let mut cfg = Config::default();
    let mut errors: Vec<(Option<core::ops::Range<usize>>, FieldPath, String)> = Vec::new();
    for (key, value) in map.root().get_ref().iter() {
        let k: &str = key.get_ref();
        let mut one = |r: Result<(), toml::de::Error>| {
            if let Err(e) = r {
                errors.push((e.span(), FieldPath::root().key(k), e.message().to_owned()));
            }
        };
        match k {
            "system" => one(section(value).map(|v| cfg.system = v)),
            "management" => one(section(value).map(|v| cfg.management = v)),
            "ppp" => one(section(value).map(|v| cfg.ppp = v)),
            "lan" => one(section(value).map(|v| cfg.lan = Some(v))),
            "tun" => one(section(value).map(|v| cfg.tun = v)),
            "limits" => one(section(value).map(|v| cfg.limits = v)),
            "accounting" => one(section(value).map(|v| cfg.accounting = v)),
            "pool" => cfg.pools = entries(k, value, &mut errors),
            "plugin" => cfg.plugins = entries(k, value, &mut errors),
            "link" => cfg.links = entries(k, value, &mut errors),
            other => errors.push((
                Some(key.span()),
                FieldPath::root().key(other),
                format!(
                    "unknown section `{other}`, expected one of `system`, `management`, `ppp`, \
                     `pool`, `lan`, `tun`, `plugin`, `link`, `limits`, `accounting`"
                ),
            )),
        }
    }
    let mut out: Vec<ConfigError> = if errors.is_empty() {
        validate(&cfg)
            .into_iter()
            .map(|issue| {
                let span = map.span_of(&issue.path);
                let location = span.map(|s| Location::of_offset(text, s.start));
                ConfigError {
                    file: name.to_owned(),
                    location,
                    path: issue.path,
                    message: issue.message,
                }
            })
            .collect()
    } else {
        errors
            .into_iter()
            .map(|(span, at, msg)| error_at(name, text, Some(&map), span, at, &msg))
            .collect()
    };
    if out.is_empty() {
        return Ok(cfg);
    }
    out.sort_by(|a, b| (a.location, &a.message).cmp(&(b.location, &b.message)));
    out.dedup();
    Err(ConfigErrors(out))
}
