//! The plugin's configuration (`[plugin.config]` of its `[[plugin]]` table), checked field by
//! field so that every error names the field, and the JSON Schema and UI hints the web UI
//! draws its form from ([`SCHEMA`], [`UI`]).
//!
//! ```toml
//! interface = "eth1"                 # required: the LAN port NBF frames go out on
//! mac_base = "02:4e:42:00:00:00"     # session n's LAN MAC is mac_base + n (locally administered)
//! max_sessions = 64                  # sessions served at once (1 to 4096)
//! users = ["alice", "bob"]           # only these users' sessions; empty or absent: all
//! forward_multicast = true           # pass LAN broadcasts and NetBIOS multicasts to callers
//! multicast_burst = 32               # at most this many per caller per window
//! multicast_window_secs = 1          # the window, unless the caller asked for a period
//! request_multicast_period = 0       # NBFCP Multicast-Filtering we ask callers for (§3.3)
//! min_peer_multicast_period = 0      # shorter periods from callers are Nak'd up to this
//! ```

use std::fmt;

use toml::{Table, Value};

use crate::forward::ForwarderConfig;
use crate::wire::MacAddr;

/// The default first session MAC: locally administered, `4e:42` is "NB".
pub const DEFAULT_MAC_BASE: MacAddr = MacAddr([0x02, 0x4e, 0x42, 0x00, 0x00, 0x00]);
/// The default number of sessions served at once.
pub const DEFAULT_MAX_SESSIONS: u16 = 64;
/// The most sessions one instance serves.
pub const MAX_SESSIONS: u16 = 4096;
/// The default multicast burst per caller and window.
pub const DEFAULT_MULTICAST_BURST: u32 = 32;
/// The most users `users` lists.
pub const MAX_USERS: usize = 256;

/// The JSON Schema (draft 2020-12) of the configuration. A test checks that the parser
/// accepts exactly its properties and defaults.
pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "netbeui",
  "description": "NetBIOS Frames (NetBEUI) between PPP callers and a LAN port (RFC 2097).",
  "type": "object",
  "additionalProperties": false,
  "required": ["interface"],
  "properties": {
    "interface": {
      "title": "LAN interface",
      "description": "The Ethernet port of the office LAN, e.g. eth1. Callers appear on it as stations of their own.",
      "type": "string",
      "minLength": 1,
      "maxLength": 15,
      "pattern": "^[^/\\s]+$"
    },
    "mac_base": {
      "title": "First caller MAC",
      "description": "Each caller gets its own LAN MAC address: this one plus its slot number (0, 1, ...). Must be a locally administered unicast address with room for max_sessions.",
      "type": "string",
      "pattern": "^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$",
      "default": "02:4e:42:00:00:00"
    },
    "max_sessions": {
      "title": "Callers at once",
      "description": "How many callers use NetBEUI at the same time; more are refused.",
      "type": "integer",
      "minimum": 1,
      "maximum": 4096,
      "default": 64
    },
    "users": {
      "title": "Users",
      "description": "Only these users' sessions may use NetBEUI. Empty: every session.",
      "type": "array",
      "items": { "type": "string", "minLength": 1, "maxLength": 256 },
      "maxItems": 256,
      "default": []
    },
    "forward_multicast": {
      "title": "Forward LAN broadcasts",
      "description": "Pass NetBIOS multicasts and broadcasts (name queries, browser announcements) to every caller, within the limit below. Queries for a caller's own names always reach it.",
      "type": "boolean",
      "default": true
    },
    "multicast_burst": {
      "title": "Broadcasts per window",
      "description": "At most this many LAN broadcasts per caller per window; the rest are dropped and counted.",
      "type": "integer",
      "minimum": 0,
      "maximum": 100000,
      "default": 32
    },
    "multicast_window_secs": {
      "title": "Broadcast window (s)",
      "description": "The window of the limit, unless the caller asked for a Multicast-Filtering period (RFC 2097 3.3).",
      "type": "integer",
      "minimum": 1,
      "maximum": 3600,
      "default": 1
    },
    "request_multicast_period": {
      "title": "Multicast period asked of callers (s)",
      "description": "The NBFCP Multicast-Filtering period we ask callers to use for what they send us (RFC 2097 3.3); 0: not asked.",
      "type": "integer",
      "minimum": 0,
      "maximum": 65535,
      "default": 0
    },
    "min_peer_multicast_period": {
      "title": "Shortest caller multicast period (s)",
      "description": "A caller asking for a shorter Multicast-Filtering period is told this one instead.",
      "type": "integer",
      "minimum": 0,
      "maximum": 65534,
      "default": 0
    }
  }
}"#;

/// The UI hints of the form (format of `dialgate_plugin_form::parse`).
pub const UI: &str = r#"{
  "title": "NetBEUI (NetBIOS Frames)",
  "description": "Forwards NetBIOS Frames between PPP callers that negotiate NBFCP and one LAN port: callers see the office's NetBIOS names, and the office sees the callers' names, each caller under a MAC address of its own. Nobody re-addresses anything.",
  "order": ["interface", "users", "max_sessions", "mac_base", "forward_multicast",
            "multicast_burst", "multicast_window_secs", "request_multicast_period",
            "min_peer_multicast_period"],
  "fields": {
    "forward_multicast": {
      "weak": [false],
      "warning": "Without LAN broadcasts, callers do not see the office's browser announcements and name queries for other stations; queries for their own names still reach them."
    }
  }
}"#;

/// The keys the configuration may have (kept equal to the schema's by a test).
pub const KEYS: &[&str] = &[
    "interface",
    "mac_base",
    "max_sessions",
    "users",
    "forward_multicast",
    "multicast_burst",
    "multicast_window_secs",
    "request_multicast_period",
    "min_peer_multicast_period",
];

/// The whole configuration of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The LAN interface.
    pub interface: String,
    /// The forwarder's settings.
    pub forwarder: ForwarderConfig,
    /// Multicast-Filtering period we ask callers for (0: none).
    pub request_multicast_period: u16,
    /// Shortest Multicast-Filtering period accepted from callers.
    pub min_peer_multicast_period: u16,
}

/// A configuration error: the field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The field, empty for a TOML syntax error.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

fn integer(doc: &Table, key: &str, default: i64, min: i64, max: i64) -> Result<i64, ConfigError> {
    match doc.get(key) {
        None => Ok(default),
        Some(Value::Integer(n)) if (min..=max).contains(n) => Ok(*n),
        Some(Value::Integer(n)) => Err(ConfigError::new(
            key,
            format!("{n} is out of range ({min} to {max})"),
        )),
        Some(other) => Err(ConfigError::new(
            key,
            format!("expected an integer, found {}", other.type_str()),
        )),
    }
}

fn boolean(doc: &Table, key: &str, default: bool) -> Result<bool, ConfigError> {
    match doc.get(key) {
        None => Ok(default),
        Some(Value::Boolean(b)) => Ok(*b),
        Some(other) => Err(ConfigError::new(
            key,
            format!("expected true or false, found {}", other.type_str()),
        )),
    }
}

impl Config {
    /// Parses and checks a configuration document.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let doc: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::new("", format!("invalid TOML: {e}")))?;
        if let Some(key) = doc.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(ConfigError::new(key.as_str(), "unknown setting"));
        }
        let interface = match doc.get("interface") {
            None => return Err(ConfigError::new("interface", "missing: name the LAN port")),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(ConfigError::new(
                    "interface",
                    format!("expected a string, found {}", other.type_str()),
                ));
            }
        };
        if interface.is_empty()
            || interface.len() > 15
            || interface
                .bytes()
                .any(|b| b == b'/' || b == 0 || b.is_ascii_whitespace())
        {
            return Err(ConfigError::new(
                "interface",
                format!(
                    "{interface:?} is not an interface name (1 to 15 octets, no '/' or spaces)"
                ),
            ));
        }
        let max_sessions = integer(
            &doc,
            "max_sessions",
            i64::from(DEFAULT_MAX_SESSIONS),
            1,
            i64::from(MAX_SESSIONS),
        )?;
        let max_sessions = u16::try_from(max_sessions).unwrap_or(DEFAULT_MAX_SESSIONS);
        let mac_base = match doc.get("mac_base") {
            None => DEFAULT_MAC_BASE,
            Some(Value::String(s)) => s.parse::<MacAddr>().map_err(|()| {
                ConfigError::new("mac_base", format!("{s:?} is not six hex octets"))
            })?,
            Some(other) => {
                return Err(ConfigError::new(
                    "mac_base",
                    format!("expected a string, found {}", other.type_str()),
                ));
            }
        };
        if mac_base.is_group() || !mac_base.is_local() {
            return Err(ConfigError::new(
                "mac_base",
                format!(
                    "{mac_base} must be a locally administered unicast address (first octet \
                     with bit 0x02 set and bit 0x01 clear, e.g. 02:...)"
                ),
            ));
        }
        let low = u16::from_be_bytes([mac_base.0[4], mac_base.0[5]]);
        if u32::from(low) + u32::from(max_sessions) > 0x1_0000 {
            return Err(ConfigError::new(
                "mac_base",
                format!(
                    "{mac_base} leaves no room for {max_sessions} sessions in its last two \
                     octets"
                ),
            ));
        }
        let users = match doc.get("users") {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                if items.len() > MAX_USERS {
                    return Err(ConfigError::new(
                        "users",
                        format!("{} users, at most {MAX_USERS}", items.len()),
                    ));
                }
                let mut users = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if !s.is_empty() && s.len() <= 256 => {
                            users.push(s.clone())
                        }
                        _ => {
                            return Err(ConfigError::new(
                                format!("users[{i}]"),
                                "expected a user name (1 to 256 octets)",
                            ));
                        }
                    }
                }
                users
            }
            Some(other) => {
                return Err(ConfigError::new(
                    "users",
                    format!(
                        "expected an array of user names, found {}",
                        other.type_str()
                    ),
                ));
            }
        };
        let forward_multicast = boolean(&doc, "forward_multicast", true)?;
        let multicast_burst = integer(
            &doc,
            "multicast_burst",
            i64::from(DEFAULT_MULTICAST_BURST),
            0,
            100_000,
        )?;
        let multicast_window_secs = integer(&doc, "multicast_window_secs", 1, 1, 3600)?;
        let request_multicast_period = integer(&doc, "request_multicast_period", 0, 0, 65535)?;
        let min_peer_multicast_period = integer(&doc, "min_peer_multicast_period", 0, 0, 65534)?;
        Ok(Config {
            interface,
            forwarder: ForwarderConfig {
                mac_base,
                max_sessions,
                forward_multicast,
                multicast_burst: u32::try_from(multicast_burst).unwrap_or(0),
                multicast_window_secs: u16::try_from(multicast_window_secs).unwrap_or(1),
                users,
            },
            request_multicast_period: u16::try_from(request_multicast_period).unwrap_or(0),
            min_peer_multicast_period: u16::try_from(min_peer_multicast_period).unwrap_or(0),
        })
    }

    /// The NBFCP option policy for `register_protocol`, in the core's schema (routerd's
    /// `daemon::lan`).
    pub fn ncp_options(&self) -> String {
        let mut out = String::new();
        if self.request_multicast_period > 0 {
            out.push_str(&format!(
                "multicast_period = {}\n",
                self.request_multicast_period
            ));
        }
        out.push_str(&format!(
            "min_peer_forwarding_period = {}\n",
            self.min_peer_multicast_period
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        match Config::parse(text) {
            Err(e) => e,
            Ok(c) => panic!("{text:?} was accepted: {c:?}"),
        }
    }

    #[test]
    fn defaults_and_every_key() {
        let c = Config::parse("interface = \"eth1\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.interface, "eth1");
        assert_eq!(c.forwarder.mac_base, DEFAULT_MAC_BASE);
        assert_eq!(c.forwarder.max_sessions, DEFAULT_MAX_SESSIONS);
        assert!(c.forwarder.forward_multicast);
        assert!(c.forwarder.users.is_empty());
        assert_eq!(c.ncp_options(), "min_peer_forwarding_period = 0\n");
        let text = "interface = \"lan0\"\nmac_base = \"06-00-00-00-10-00\"\nmax_sessions = 2\n\
                    users = [\"alice\"]\nforward_multicast = false\nmulticast_burst = 3\n\
                    multicast_window_secs = 10\nrequest_multicast_period = 60\n\
                    min_peer_multicast_period = 5\n";
        let c = Config::parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.forwarder.mac_base, MacAddr([6, 0, 0, 0, 0x10, 0]));
        assert_eq!(c.forwarder.users, vec!["alice".to_owned()]);
        assert_eq!(c.forwarder.multicast_burst, 3);
        assert_eq!(c.forwarder.multicast_window_secs, 10);
        assert!(!c.forwarder.forward_multicast);
        assert_eq!(
            c.ncp_options(),
            "multicast_period = 60\nmin_peer_forwarding_period = 5\n"
        );
    }

    #[test]
    fn bad_configs_name_the_field() {
        for (text, field) in [
            ("", "interface"),
            ("interface = 3", "interface"),
            ("interface = \"a/b\"", "interface"),
            ("interface = \"0123456789abcdef\"", "interface"),
            (
                "interface = \"e\"\nmac_base = \"03:00:00:00:00:01\"",
                "mac_base",
            ),
            (
                "interface = \"e\"\nmac_base = \"00:11:22:33:44:55\"",
                "mac_base",
            ),
            (
                "interface = \"e\"\nmac_base = \"02:00:00:00:ff:ff\"",
                "mac_base",
            ),
            (
                "interface = \"e\"\nmac_base = \"02:00:00:00:00\"",
                "mac_base",
            ),
            ("interface = \"e\"\nmax_sessions = 0", "max_sessions"),
            ("interface = \"e\"\nmax_sessions = 5000", "max_sessions"),
            ("interface = \"e\"\nusers = \"alice\"", "users"),
            ("interface = \"e\"\nusers = [\"\"]", "users[0]"),
            (
                "interface = \"e\"\nforward_multicast = 1",
                "forward_multicast",
            ),
            (
                "interface = \"e\"\nmulticast_window_secs = 0",
                "multicast_window_secs",
            ),
            (
                "interface = \"e\"\nmin_peer_multicast_period = 65535",
                "min_peer_multicast_period",
            ),
            ("interface = \"e\"\nbogus = 1", "bogus"),
        ] {
            assert_eq!(err(text).field, field, "{text:?}");
        }
        assert_eq!(err("interface = ").field, "");
    }
}
