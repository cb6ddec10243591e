//! The plugin's configuration (the `[plugin.config]` table of its `[[plugin]]` entry),
//! checked field by field so that every error names the field, and the form the web UI
//! draws from it ([`SCHEMA`], [`UI`]).
//!
//! ```toml
//! interface = "eth1"                # required: the LAN port
//! network = 0x0000C0DE              # required: the LAN's IPX network number (1 to 0xFFFFFFFE)
//! frame_type = "ethernet_802.2"     # ethernet_802.2 | ethernet_ii | ethernet_802.3 | ethernet_snap
//! node_prefix = "02:49"             # first two octets of the callers' LAN nodes
//! allow_users = []                  # who may bridge; empty: every authenticated user
//! allow_unauthenticated = false     # sessions without a user (no PAP/CHAP) bridge too
//! max_sessions = 256                # sessions bridged at once (1 to 4096)
//! broadcasts_per_sec = 100          # LAN broadcasts passed to the callers per second
//! ```

use core::fmt;

use toml::{Table, Value};

use crate::frame::FrameType;

/// The most sessions one instance bridges.
pub const MAX_SESSIONS: u32 = 4096;
/// The default of `max_sessions`.
pub const DEFAULT_MAX_SESSIONS: u32 = 256;
/// The default of `broadcasts_per_sec`.
pub const DEFAULT_BROADCASTS_PER_SEC: u32 = 100;
/// The most `broadcasts_per_sec`.
pub const MAX_BROADCASTS_PER_SEC: u32 = 100_000;
/// The most users in `allow_users`.
pub const MAX_USERS: usize = 1024;
/// The default of `node_prefix`.
pub const DEFAULT_NODE_PREFIX: [u8; 2] = [0x02, 0x49];

/// The keys the configuration may hold.
pub const KEYS: [&str; 8] = [
    "interface",
    "network",
    "frame_type",
    "node_prefix",
    "allow_users",
    "allow_unauthenticated",
    "max_sessions",
    "broadcasts_per_sec",
];

/// The JSON Schema (draft 2020-12) of the configuration, for the web UI and routerd's check.
/// A test checks that the parser accepts exactly what it lists.
pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "ipx-bridge",
  "description": "IPX over PPP (RFC 1552) bridged to one Ethernet port: callers join the LAN's IPX network.",
  "type": "object",
  "additionalProperties": false,
  "required": ["interface", "network"],
  "properties": {
    "interface": {
      "title": "LAN interface",
      "description": "The Ethernet port of the IPX LAN, e.g. eth1. It must accept frames for the callers' nodes: put it in promiscuous mode on real hardware.",
      "type": "string",
      "pattern": "^[^/\\s]{1,15}$"
    },
    "network": {
      "title": "IPX network number",
      "description": "The LAN's IPX network number for this frame type (as NetWare servers on it are bound). Callers get it through IPXCP (RFC 1552 §3.1) and join that network: nothing on the LAN is re-addressed.",
      "type": "integer",
      "minimum": 1,
      "maximum": 4294967294
    },
    "frame_type": {
      "title": "Frame type",
      "description": "How IPX is framed on the LAN: NetWare 3.12 and 4.x default to ethernet_802.2 (LLC SAP 0xE0); ethernet_ii is EtherType 0x8137; ethernet_802.3 is NetWare 3.11's raw frame; ethernet_snap is 802.2 SNAP.",
      "enum": ["ethernet_802.2", "ethernet_ii", "ethernet_802.3", "ethernet_snap"],
      "default": "ethernet_802.2"
    },
    "node_prefix": {
      "title": "Node prefix",
      "description": "The first two octets of the node numbers (MAC addresses) callers get on the LAN, locally administered (the first octet's second-lowest bit set, lowest clear). The other four come from the session.",
      "type": "string",
      "pattern": "^[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}$",
      "default": "02:49"
    },
    "allow_users": {
      "title": "Users allowed",
      "description": "The users whose sessions are bridged; empty: every authenticated user.",
      "type": "array",
      "items": { "type": "string", "maxLength": 256 },
      "maxItems": 1024,
      "default": []
    },
    "allow_unauthenticated": {
      "title": "Bridge unauthenticated sessions",
      "description": "Bridge sessions that ran no authentication (links without PAP/CHAP).",
      "type": "boolean",
      "default": false
    },
    "max_sessions": {
      "title": "Sessions at most",
      "description": "How many sessions are bridged at once; more are refused (and counted).",
      "type": "integer",
      "minimum": 1,
      "maximum": 4096,
      "default": 256
    },
    "broadcasts_per_sec": {
      "title": "LAN broadcasts per second",
      "description": "IPX broadcasts from the LAN (SAP, RIP, NetBIOS) passed to the callers per second; more are dropped and counted, so a busy LAN cannot fill dial-up links.",
      "type": "integer",
      "minimum": 0,
      "maximum": 100000,
      "default": 100
    }
  }
}"#;

/// The UI hints of the configuration form (plugin ABI 1.3, `dialgate_plugin_form::parse`'s
/// format). `allow_unauthenticated = true` is weak: anyone who can place a call reaches the
/// LAN's IPX network.
pub const UI: &str = r#"{
  "title": "IPX bridge",
  "description": "Remote callers reach the office LAN's NetWare servers over PPP: IPXCP gives them the LAN's IPX network number and the bridge moves their IPX packets to and from one Ethernet port.",
  "order": ["interface", "network", "frame_type", "allow_users", "allow_unauthenticated",
            "node_prefix", "max_sessions", "broadcasts_per_sec"],
  "fields": {
    "allow_unauthenticated": {
      "weak": [true],
      "warning": "Sessions that ran no authentication reach the LAN's IPX network: anyone who can place a call sees its servers and broadcasts. Only for links that are trusted by themselves."
    }
  }
}"#;

/// The whole configuration of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The LAN port.
    pub interface: String,
    /// The LAN's IPX network number.
    pub network: u32,
    /// The LAN's frame type.
    pub frame_type: FrameType,
    /// The first two octets of the callers' nodes.
    pub node_prefix: [u8; 2],
    /// Users whose sessions bridge; empty: every authenticated user.
    pub allow_users: Vec<String>,
    /// Sessions without authentication bridge too.
    pub allow_unauthenticated: bool,
    /// Sessions bridged at once.
    pub max_sessions: u32,
    /// LAN broadcasts passed to the sessions per second.
    pub broadcasts_per_sec: u32,
}

/// A configuration error, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The field (`network`), or empty for the document.
    pub field: String,
    /// What is wrong.
    pub message: String,
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

fn error(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn integer(
    table: &Table,
    key: &str,
    min: u64,
    max: u64,
    default: Option<u64>,
) -> Result<u64, ConfigError> {
    match table.get(key) {
        None => default.ok_or_else(|| error(key, "missing")),
        Some(Value::Integer(i)) => u64::try_from(*i)
            .ok()
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| error(key, format!("{i} is not within {min} to {max}"))),
        Some(other) => Err(error(
            key,
            format!("expected an integer, not {}", other.type_str()),
        )),
    }
}

fn boolean(table: &Table, key: &str) -> Result<bool, ConfigError> {
    match table.get(key) {
        None => Ok(false),
        Some(Value::Boolean(b)) => Ok(*b),
        Some(other) => Err(error(
            key,
            format!("expected a boolean, not {}", other.type_str()),
        )),
    }
}

/// Parses a node prefix `02:49` (or `02-49`): two hex octets, the first locally
/// administered and unicast (IEEE 802: bit 1 set, bit 0 clear).
pub fn parse_node_prefix(text: &str) -> Option<[u8; 2]> {
    let (a, b) = text.split_once([':', '-'])?;
    let octet = |s: &str| {
        (s.len() == 2)
            .then(|| u8::from_str_radix(s, 16).ok())
            .flatten()
    };
    let prefix = [octet(a)?, octet(b)?];
    (prefix[0] & 0x03 == 0x02).then_some(prefix)
}

impl Config {
    /// Parses and checks the TOML document.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| error("", format!("not TOML: {}", e.message())))?;
        if let Some(key) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(error(
                key,
                format!("unknown setting; known: {}", KEYS.join(", ")),
            ));
        }
        let interface = match table.get("interface") {
            Some(Value::String(s))
                if !s.is_empty()
                    && s.len() < 16
                    && !s
                        .bytes()
                        .any(|b| b == b'/' || b == 0 || b.is_ascii_whitespace()) =>
            {
                s.clone()
            }
            Some(Value::String(s)) => {
                return Err(error(
                    "interface",
                    format!("{s:?} is not an interface name"),
                ));
            }
            Some(_) => return Err(error("interface", "expected a string")),
            None => return Err(error("interface", "missing")),
        };
        let network = integer(&table, "network", 1, 0xFFFF_FFFE, None)?;
        let frame_type = match table.get("frame_type") {
            None => FrameType::Llc8022,
            Some(Value::String(s)) => s.parse().map_err(|()| {
                error(
                    "frame_type",
                    format!("{s:?} is not one of {}", FrameType::NAMES.join(", ")),
                )
            })?,
            Some(_) => return Err(error("frame_type", "expected a string")),
        };
        let node_prefix = match table.get("node_prefix") {
            None => DEFAULT_NODE_PREFIX,
            Some(Value::String(s)) => parse_node_prefix(s).ok_or_else(|| {
                error(
                    "node_prefix",
                    format!(
                        "{s:?} is not two hex octets with a locally administered unicast first \
                         octet (02, 06, 0a, ... fe)"
                    ),
                )
            })?,
            Some(_) => return Err(error("node_prefix", "expected a string")),
        };
        let allow_users = match table.get("allow_users") {
            None => Vec::new(),
            Some(Value::Array(items)) if items.len() <= MAX_USERS => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) if !s.is_empty() && s.len() <= 256 => Ok(s.clone()),
                    _ => Err(error(
                        &format!("allow_users[{i}]"),
                        "expected a user name (1 to 256 octets)",
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(Value::Array(_)) => {
                return Err(error("allow_users", format!("more than {MAX_USERS} users")));
            }
            Some(_) => return Err(error("allow_users", "expected an array of user names")),
        };
        let max_sessions = integer(
            &table,
            "max_sessions",
            1,
            u64::from(MAX_SESSIONS),
            Some(u64::from(DEFAULT_MAX_SESSIONS)),
        )?;
        let broadcasts_per_sec = integer(
            &table,
            "broadcasts_per_sec",
            0,
            u64::from(MAX_BROADCASTS_PER_SEC),
            Some(u64::from(DEFAULT_BROADCASTS_PER_SEC)),
        )?;
        Ok(Config {
            interface,
            network: u32::try_from(network).unwrap_or_default(),
            frame_type,
            node_prefix,
            allow_users,
            allow_unauthenticated: boolean(&table, "allow_unauthenticated")?,
            max_sessions: u32::try_from(max_sessions).unwrap_or(DEFAULT_MAX_SESSIONS),
            broadcasts_per_sec: u32::try_from(broadcasts_per_sec)
                .unwrap_or(DEFAULT_BROADCASTS_PER_SEC),
        })
    }

    /// Whether a session of `user` (empty: no authentication ran) may bridge.
    pub fn allows(&self, user: &str) -> bool {
        if user.is_empty() {
            return self.allow_unauthenticated;
        }
        self.allow_users.is_empty() || self.allow_users.iter().any(|u| u == user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_every_key() {
        let c = Config::parse("interface = \"eth1\"\nnetwork = 0xC0DE\n").expect("valid");
        assert_eq!(c.network, 0xC0DE);
        assert_eq!(c.frame_type, FrameType::Llc8022);
        assert_eq!(c.node_prefix, [0x02, 0x49]);
        assert_eq!(c.max_sessions, DEFAULT_MAX_SESSIONS);
        assert_eq!(c.broadcasts_per_sec, DEFAULT_BROADCASTS_PER_SEC);
        assert!(c.allows("alice") && !c.allows(""));
        let c = Config::parse(
            "interface = \"lan0\"\nnetwork = 7\nframe_type = \"ethernet_ii\"\n\
             node_prefix = \"0a-00\"\nallow_users = [\"bob\"]\nallow_unauthenticated = true\n\
             max_sessions = 2\nbroadcasts_per_sec = 0\n",
        )
        .expect("valid");
        assert_eq!(c.frame_type, FrameType::EthernetII);
        assert_eq!(c.node_prefix, [0x0a, 0x00]);
        assert!(c.allows("bob") && !c.allows("alice") && c.allows(""));
        assert_eq!((c.max_sessions, c.broadcasts_per_sec), (2, 0));
    }

    #[test]
    fn errors_name_the_field() {
        let base = "interface = \"eth1\"\nnetwork = 5\n";
        for (text, field) in [
            ("network = 5", "interface"),
            ("interface = \"eth1\"", "network"),
            ("interface = \"a/b\"\nnetwork = 5", "interface"),
            ("interface = \"eth1\"\nnetwork = 0", "network"),
            ("interface = \"eth1\"\nnetwork = 0xFFFFFFFF", "network"),
            ("interface = \"eth1\"\nnetwork = \"5\"", "network"),
            (&format!("{base}frame_type = \"token_ring\""), "frame_type"),
            (&format!("{base}node_prefix = \"01:00\""), "node_prefix"),
            (&format!("{base}node_prefix = \"00:11\""), "node_prefix"),
            (&format!("{base}node_prefix = \"02:1\""), "node_prefix"),
            (&format!("{base}allow_users = [\"\"]"), "allow_users[0]"),
            (&format!("{base}max_sessions = 0"), "max_sessions"),
            (&format!("{base}max_sessions = 5000"), "max_sessions"),
            (
                &format!("{base}broadcasts_per_sec = -1"),
                "broadcasts_per_sec",
            ),
            (
                &format!("{base}allow_unauthenticated = 1"),
                "allow_unauthenticated",
            ),
            (&format!("{base}bogus = 1"), "bogus"),
        ] {
            let e = Config::parse(text).expect_err(text);
            assert_eq!(e.field, field, "{text}: {e}");
        }
        assert_eq!(Config::parse("= x").expect_err("not TOML").field, "");
    }
}
