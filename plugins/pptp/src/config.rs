//! The plugin's configuration: the `[link.config]` table of one `[[link]]` (merged over the
//! `[plugin.config]` table), checked key by key so that every error names the key, and the
//! JSON Schema the web UI draws its form from ([`SCHEMA`]).
//!
//! A link either answers (it listens; no `target`) or dials (`target`; it does not listen):
//!
//! ```toml
//! # An answering link: the PPTP server Windows and Linux clients call.
//! [link.config]
//! listen = ["0.0.0.0:1723"]          # default
//! max_connections_per_source = 16    # control connections from one address at once
//! max_sessions = 1000                # calls at once on this link (and control connections)
//! control_idle_timeout_secs = 30     # a control connection without a call is closed
//! call_setup_timeout_secs = 30       # a call whose PPP LCP is not up by then is cleared
//! echo_interval_secs = 60            # RFC 2637 §3.1.4 keep-alive
//!
//! # A dialing link: client or LAN-to-LAN.
//! [link.config]
//! target = "192.0.2.10:1723"         # the server (port 1723 when left out)
//! call_type = "outgoing"             # outgoing: send Outgoing-Call-Request (a client);
//!                                    # incoming: send Incoming-Call-Request (a PAC front end)
//! ```
//!
//! Address pools, authentication and the MPPE policy are not the plugin's business: they are
//! the core's `[[pool]]`, `[ppp]` and `[link.ppp]` settings, which apply to every PPP session
//! the plugin's calls carry.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use dialgate_pptp::gre::CompatPolicy;
use toml::{Table, Value};

/// The PPTP control port (RFC 2637 §1.1: TCP 1723).
pub const PPTP_PORT: u16 = 1723;
/// Default `listen`.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:1723";
/// Default `max_connections_per_source`.
pub const DEFAULT_PER_SOURCE: u32 = 16;
/// Default `max_sessions`.
pub const DEFAULT_MAX_SESSIONS: u32 = 1000;
/// Default `control_idle_timeout_secs`.
pub const DEFAULT_CONTROL_IDLE: Duration = Duration::from_secs(30);
/// Default `call_setup_timeout_secs`.
pub const DEFAULT_CALL_SETUP: Duration = Duration::from_secs(30);
/// Default `echo_interval_secs` (RFC 2637 §3.1.4: 60 s).
pub const DEFAULT_ECHO_INTERVAL: Duration = Duration::from_secs(60);
/// Default `receive_window` (RFC 2637 §2.7 Packet Recv. Window Size).
pub const DEFAULT_RECEIVE_WINDOW: u16 = 128;
/// The most listen addresses.
pub const MAX_LISTEN: usize = 16;
/// The most calls one instance carries (Call IDs are 16 bits per control connection, and
/// every call costs memory).
pub const MAX_SESSIONS: u32 = 65_535;
/// The longest of the timeouts, in seconds (a day).
pub const MAX_TIMEOUT_SECS: u64 = 86_400;

/// The JSON Schema (draft 2020-12) of the configuration, for the web UI. The configuration
/// itself is TOML; the schema describes its table. A test checks that the parser accepts
/// exactly the properties the schema lists, with the same defaults.
pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "pptp",
  "description": "PPTP (RFC 2637): PPP over enhanced GRE, with a control connection on TCP 1723. A link answers (listen) or dials (target).",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "listen": {
      "title": "Listen addresses",
      "description": "Answering links: ip:port pairs the control connections are accepted on. Not with target.",
      "type": "array",
      "items": { "type": "string" },
      "minItems": 1,
      "maxItems": 16,
      "default": ["0.0.0.0:1723"]
    },
    "max_connections_per_source": {
      "title": "Connections per source",
      "description": "Control connections one source address may hold at once; more are refused.",
      "type": "integer",
      "minimum": 1,
      "maximum": 65535,
      "default": 16
    },
    "max_sessions": {
      "title": "Maximum sessions",
      "description": "Calls this link carries at once; also the most control connections it holds.",
      "type": "integer",
      "minimum": 1,
      "maximum": 65535,
      "default": 1000
    },
    "control_idle_timeout_secs": {
      "title": "Control connection without a call (s)",
      "description": "A control connection that is not started or carries no call this long is closed (Stop-Control-Connection-Request).",
      "type": "integer",
      "minimum": 1,
      "maximum": 86400,
      "default": 30
    },
    "call_setup_timeout_secs": {
      "title": "Call without link up (s)",
      "description": "A call whose PPP link (LCP) is not up this long after the call came up is cleared.",
      "type": "integer",
      "minimum": 1,
      "maximum": 86400,
      "default": 30
    },
    "echo_interval_secs": {
      "title": "Echo interval (s)",
      "description": "Silence on a control connection after which an Echo-Request is sent (RFC 2637 3.1.4); no reply within as long again closes it.",
      "type": "integer",
      "minimum": 1,
      "maximum": 86400,
      "default": 60
    },
    "receive_window": {
      "title": "GRE receive window",
      "description": "Packet Recv. Window Size advertised for each call (RFC 2637 2.7, 4.2).",
      "type": "integer",
      "minimum": 1,
      "maximum": 256,
      "default": 128
    },
    "gre_compat": {
      "title": "GRE compatibility mode",
      "description": "auto: follow what the peer does (Windows advertises a window of 0, some peers never acknowledge); always: never run the sliding window; never: always run it.",
      "enum": ["auto", "always", "never"],
      "default": "auto"
    },
    "host_name": {
      "title": "Host name",
      "description": "Host Name announced in Start-Control-Connection messages.",
      "type": "string",
      "maxLength": 64,
      "default": "dialgate"
    },
    "target": {
      "title": "Target",
      "description": "Dialing links: the server's ip:port (port 1723 when left out). Not with listen.",
      "type": "string"
    },
    "call_type": {
      "title": "Call type",
      "description": "Dialing links: outgoing sends Outgoing-Call-Request (a client, LAN-to-LAN); incoming sends Incoming-Call-Request (a PAC front end relaying a dial-in call).",
      "enum": ["outgoing", "incoming"],
      "default": "outgoing"
    }
  }
}"#;

/// The UI hints of the configuration form (plugin ABI 1.3, format of
/// `dialgate_plugin_form::parse`): the fields in the order an admin reads them, answering
/// settings first. `gre_compat = "always"` is weak: without the sliding window nothing paces
/// the sender and reordered packets reach PPP out of order (MPPE then resynchronises).
pub const UI: &str = r#"{
  "title": "PPTP links",
  "order": ["listen", "max_sessions", "max_connections_per_source", "target", "call_type",
            "host_name", "control_idle_timeout_secs", "call_setup_timeout_secs",
            "echo_interval_secs", "receive_window", "gre_compat"],
  "fields": {
    "gre_compat": {
      "weak": ["always"],
      "warning": "Without the GRE sliding window (RFC 2637 4.2) nothing paces the sender and reordered packets are not put back in order; use it only for peers that break the window."
    }
  }
}"#;

/// Every key the configuration accepts (what [`SCHEMA`] lists).
pub const KEYS: &[&str] = &[
    "listen",
    "max_connections_per_source",
    "max_sessions",
    "control_idle_timeout_secs",
    "call_setup_timeout_secs",
    "echo_interval_secs",
    "receive_window",
    "gre_compat",
    "host_name",
    "target",
    "call_type",
];

/// Which call a dialing link asks the server for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    /// Outgoing-Call-Request: we are the PNS (RFC 2637 §3.2.4.2), the server is our PAC.
    Outgoing,
    /// Incoming-Call-Request: we are the PAC front end (RFC 2637 §3.2.3.1).
    Incoming,
}

/// What a link does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Accept control connections on these addresses.
    Answer {
        /// The listen addresses.
        listen: Vec<SocketAddr>,
    },
    /// Open a control connection to `target` when the core dials.
    Dial {
        /// The server.
        target: SocketAddr,
        /// Which call to ask for.
        call_type: CallType,
    },
}

/// A checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Answer or dial.
    pub mode: Mode,
    /// Control connections one source address may hold at once.
    pub max_connections_per_source: u32,
    /// Calls at once; also the most control connections.
    pub max_sessions: u32,
    /// How long a control connection may go unstarted or without a call.
    pub control_idle_timeout: Duration,
    /// How long a call may wait for its PPP link (LCP) to come up.
    pub call_setup_timeout: Duration,
    /// RFC 2637 §3.1.4 keep-alive interval.
    pub echo_interval: Duration,
    /// The GRE Packet Recv. Window Size we advertise.
    pub receive_window: u16,
    /// How the GRE compatibility mode is chosen.
    pub gre_compat: CompatPolicy,
    /// The Host Name we announce.
    pub host_name: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Answer {
                listen: vec![SocketAddr::from(([0, 0, 0, 0], PPTP_PORT))],
            },
            max_connections_per_source: DEFAULT_PER_SOURCE,
            max_sessions: DEFAULT_MAX_SESSIONS,
            control_idle_timeout: DEFAULT_CONTROL_IDLE,
            call_setup_timeout: DEFAULT_CALL_SETUP,
            echo_interval: DEFAULT_ECHO_INTERVAL,
            receive_window: DEFAULT_RECEIVE_WINDOW,
            gre_compat: CompatPolicy::Auto,
            host_name: "dialgate".to_owned(),
        }
    }
}

/// A configuration error: the key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key, e.g. `listen[1]`, or empty for the document as a whole.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

fn err(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        message: message.into(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

fn int(table: &Table, key: &str, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
    match table.get(key) {
        None => Ok(None),
        Some(Value::Integer(n)) if (min..=max).contains(n) => Ok(Some(*n)),
        Some(Value::Integer(n)) => Err(err(key, format!("must be {min} to {max}, not {n}"))),
        Some(v) => Err(err(
            key,
            format!("must be an integer, not {}", type_name(v)),
        )),
    }
}

fn string<'a>(table: &'a Table, key: &str) -> Result<Option<&'a str>, ConfigError> {
    match table.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(err(key, format!("must be a string, not {}", type_name(v)))),
    }
}

fn secs(table: &Table, key: &str, default: Duration) -> Result<Duration, ConfigError> {
    Ok(int(table, key, 1, MAX_TIMEOUT_SECS as i64)?
        .map_or(default, |s| Duration::from_secs(s.unsigned_abs())))
}

/// Parses `ip:port` (`[v6]:port`), or a bare IP with `default_port`.
fn socket_addr(text: &str, default_port: Option<u16>) -> Option<SocketAddr> {
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some(sa);
    }
    let ip = text.parse::<IpAddr>().ok()?;
    Some(SocketAddr::new(ip, default_port?))
}

impl Config {
    /// Parses and checks the instance configuration (a TOML document).
    pub fn parse(toml_text: &str) -> Result<Config, ConfigError> {
        let table: Table = toml_text
            .parse()
            .map_err(|e: toml::de::Error| err("", format!("not a TOML document: {e}")))?;
        Config::from_table(&table)
    }

    /// Checks a parsed table.
    pub fn from_table(table: &Table) -> Result<Config, ConfigError> {
        if let Some(key) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(err(
                key.as_str(),
                format!("unknown key (known: {})", KEYS.join(", ")),
            ));
        }
        let d = Config::default();
        let target = string(table, "target")?;
        let call_type = match string(table, "call_type")? {
            None | Some("outgoing") => CallType::Outgoing,
            Some("incoming") => CallType::Incoming,
            Some(other) => {
                return Err(err(
                    "call_type",
                    format!("must be \"outgoing\" or \"incoming\", not {other:?}"),
                ));
            }
        };
        let mode = match (target, table.get("listen")) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "target",
                    "listen and target exclude each other: a link answers (listen) or dials \
                     (target)",
                ));
            }
            (Some(t), None) => {
                let target = socket_addr(t, Some(PPTP_PORT))
                    .filter(|sa| sa.port() != 0 && !sa.ip().is_unspecified())
                    .ok_or_else(|| {
                        err(
                            "target",
                            format!("{t:?} is not an IP address, optionally with a port"),
                        )
                    })?;
                if !target.is_ipv4() {
                    return Err(err(
                        "target",
                        format!("{t:?}: PPTP's GRE runs over IPv4 only here"),
                    ));
                }
                Mode::Dial { target, call_type }
            }
            (None, listen) => {
                if table.contains_key("call_type") {
                    return Err(err(
                        "call_type",
                        "only dialing links (with target) place calls",
                    ));
                }
                let listen = match listen {
                    None => match d.mode {
                        Mode::Answer { listen } => listen,
                        Mode::Dial { .. } => Vec::new(),
                    },
                    Some(Value::Array(items)) => {
                        if items.is_empty() || items.len() > MAX_LISTEN {
                            return Err(err(
                                "listen",
                                format!("must list 1 to {MAX_LISTEN} addresses"),
                            ));
                        }
                        let mut out: Vec<SocketAddr> = Vec::with_capacity(items.len());
                        for (i, item) in items.iter().enumerate() {
                            let key = format!("listen[{i}]");
                            let Value::String(s) = item else {
                                return Err(err(
                                    key,
                                    format!("must be a string, not {}", type_name(item)),
                                ));
                            };
                            let sa = socket_addr(s, None).ok_or_else(|| {
                                err(&key, format!("{s:?} is not an ip:port address"))
                            })?;
                            if out.contains(&sa) {
                                return Err(err(key, format!("{s:?} is listed twice")));
                            }
                            out.push(sa);
                        }
                        out
                    }
                    Some(v) => {
                        return Err(err(
                            "listen",
                            format!("must be an array of strings, not {}", type_name(v)),
                        ));
                    }
                };
                Mode::Answer { listen }
            }
        };
        let u16_max = i64::from(u16::MAX);
        let gre_compat = match string(table, "gre_compat")? {
            None | Some("auto") => CompatPolicy::Auto,
            Some("always") => CompatPolicy::Always,
            Some("never") => CompatPolicy::Never,
            Some(other) => {
                return Err(err(
                    "gre_compat",
                    format!("must be \"auto\", \"always\" or \"never\", not {other:?}"),
                ));
            }
        };
        let host_name = match string(table, "host_name")? {
            None => d.host_name,
            Some(h) if h.len() <= 64 && h.bytes().all(|b| b.is_ascii_graphic()) => h.to_owned(),
            Some(h) => {
                return Err(err(
                    "host_name",
                    format!("{h:?}: at most 64 printable ASCII characters without spaces"),
                ));
            }
        };
        let small = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(Config {
            mode,
            max_connections_per_source: int(table, "max_connections_per_source", 1, u16_max)?
                .map_or(d.max_connections_per_source, small),
            max_sessions: int(table, "max_sessions", 1, i64::from(MAX_SESSIONS))?
                .map_or(d.max_sessions, small),
            control_idle_timeout: secs(table, "control_idle_timeout_secs", d.control_idle_timeout)?,
            call_setup_timeout: secs(table, "call_setup_timeout_secs", d.call_setup_timeout)?,
            echo_interval: secs(table, "echo_interval_secs", d.echo_interval)?,
            receive_window: int(table, "receive_window", 1, 256)?
                .map_or(d.receive_window, |v| u16::try_from(v).unwrap_or(u16::MAX)),
            gre_compat,
            host_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text).map_err(|e| e.to_string())
    }

    #[test]
    fn empty_document_answers_on_port_1723_rfc2637_1_1() {
        let c = parse("").expect("defaults");
        assert_eq!(c, Config::default());
        assert_eq!(
            c.mode,
            Mode::Answer {
                listen: vec!["0.0.0.0:1723".parse().expect("literal")]
            }
        );
        assert_eq!(c.echo_interval, Duration::from_secs(60));
    }

    #[test]
    fn every_key_is_read() {
        let c = parse(
            "listen = [\"127.0.0.1:1723\", \"[::1]:1723\"]\nmax_connections_per_source = 2\n\
             max_sessions = 7\ncontrol_idle_timeout_secs = 5\ncall_setup_timeout_secs = 6\n\
             echo_interval_secs = 9\nreceive_window = 16\ngre_compat = \"never\"\n\
             host_name = \"srv1\"\n",
        )
        .expect("valid");
        assert_eq!(
            c,
            Config {
                mode: Mode::Answer {
                    listen: vec![
                        "127.0.0.1:1723".parse().expect("literal"),
                        "[::1]:1723".parse().expect("literal")
                    ]
                },
                max_connections_per_source: 2,
                max_sessions: 7,
                control_idle_timeout: Duration::from_secs(5),
                call_setup_timeout: Duration::from_secs(6),
                echo_interval: Duration::from_secs(9),
                receive_window: 16,
                gre_compat: CompatPolicy::Never,
                host_name: "srv1".into(),
            }
        );
    }

    #[test]
    fn target_makes_a_dialing_link_with_the_default_port() {
        let c = parse("target = \"192.0.2.1\"\ncall_type = \"incoming\"").expect("valid");
        assert_eq!(
            c.mode,
            Mode::Dial {
                target: "192.0.2.1:1723".parse().expect("literal"),
                call_type: CallType::Incoming
            }
        );
        let c = parse("target = \"192.0.2.1:10723\"").expect("valid");
        assert_eq!(
            c.mode,
            Mode::Dial {
                target: "192.0.2.1:10723".parse().expect("literal"),
                call_type: CallType::Outgoing
            }
        );
    }

    #[test]
    fn errors_name_the_key() {
        for (text, want) in [
            ("lisen = []", "lisen: unknown key"),
            (
                "listen = \"0.0.0.0:1723\"",
                "listen: must be an array of strings, not a string",
            ),
            ("listen = []", "listen: must list 1 to 16 addresses"),
            (
                "listen = [\"0.0.0.0:1723\", 5]",
                "listen[1]: must be a string, not an integer",
            ),
            (
                "listen = [\"0.0.0.0\"]",
                "listen[0]: \"0.0.0.0\" is not an ip:port address",
            ),
            (
                "listen = [\"0.0.0.0:1723\", \"0.0.0.0:1723\"]",
                "listen[1]: \"0.0.0.0:1723\" is listed twice",
            ),
            (
                "max_sessions = 0",
                "max_sessions: must be 1 to 65535, not 0",
            ),
            (
                "max_sessions = \"9\"",
                "max_sessions: must be an integer, not a string",
            ),
            (
                "echo_interval_secs = 0",
                "echo_interval_secs: must be 1 to 86400, not 0",
            ),
            (
                "receive_window = 1000",
                "receive_window: must be 1 to 256, not 1000",
            ),
            (
                "gre_compat = \"sometimes\"",
                "gre_compat: must be \"auto\", \"always\" or \"never\"",
            ),
            ("host_name = \"a b\"", "host_name: \"a b\": at most 64"),
            (
                "target = \"pptp.example\"",
                "target: \"pptp.example\" is not an IP address",
            ),
            (
                "target = \"[2001:db8::1]:1723\"",
                "target: \"[2001:db8::1]:1723\": PPTP's GRE",
            ),
            (
                "target = \"0.0.0.0\"",
                "target: \"0.0.0.0\" is not an IP address",
            ),
            (
                "target = \"192.0.2.1\"\nlisten = [\"0.0.0.0:1723\"]",
                "target: listen and target",
            ),
            ("call_type = \"incoming\"", "call_type: only dialing links"),
            (
                "target = \"192.0.2.1\"\ncall_type = \"sideways\"",
                "call_type: must be",
            ),
            ("= broken", "not a TOML document"),
        ] {
            let e = parse(text).expect_err(text);
            assert!(
                e.starts_with(want),
                "{text:?}: {e:?} does not start with {want:?}"
            );
        }
    }

    #[test]
    fn the_form_shows_every_key_and_checks_like_the_parser() {
        let form = dialgate_plugin_form::parse(SCHEMA, UI).expect("schema and UI hints parse");
        assert_eq!(form.title, "PPTP links");
        let mut shown: Vec<&str> = form.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(shown.first(), Some(&"listen"));
        shown.sort_unstable();
        let mut keys = KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(shown, keys);
        let json = |text: &str| {
            let t: toml::Table = text.parse().expect("TOML");
            serde_json::to_value(t)
                .expect("JSON")
                .as_object()
                .cloned()
                .expect("a table")
        };
        let good = "listen = [\"0.0.0.0:1723\"]\nmax_sessions = 5\ngre_compat = \"auto\"\n";
        assert!(parse(good).is_ok());
        assert_eq!(form.check(&json(good)), vec![]);
        let bad = "max_sessions = 0\ngre_compat = \"sometimes\"\n";
        assert!(parse(bad).is_err());
        let paths: Vec<String> = form.check(&json(bad)).into_iter().map(|i| i.path).collect();
        assert_eq!(paths, ["max_sessions", "gre_compat"]);
        let weak = form.weak_settings(&json("gre_compat = \"always\""));
        assert_eq!(weak.len(), 1);
        assert_eq!(weak[0].path, "gre_compat");
    }

    #[test]
    fn schema_lists_exactly_the_keys_with_the_parsers_defaults() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
        let props = schema["properties"].as_object().expect("properties");
        let mut listed: Vec<&str> = props.keys().map(String::as_str).collect();
        let mut keys = KEYS.to_vec();
        listed.sort_unstable();
        keys.sort_unstable();
        assert_eq!(listed, keys);
        // Every key the schema lists parses, and its default is the parser's default.
        let d = Config::default();
        let default_of = |k: &str| props[k]["default"].clone();
        assert_eq!(default_of("listen"), serde_json::json!([DEFAULT_LISTEN]));
        assert_eq!(
            default_of("max_connections_per_source"),
            serde_json::json!(d.max_connections_per_source)
        );
        assert_eq!(
            default_of("max_sessions"),
            serde_json::json!(d.max_sessions)
        );
        for (k, v) in [
            ("control_idle_timeout_secs", d.control_idle_timeout),
            ("call_setup_timeout_secs", d.call_setup_timeout),
            ("echo_interval_secs", d.echo_interval),
        ] {
            assert_eq!(default_of(k), serde_json::json!(v.as_secs()), "{k}");
        }
        assert_eq!(
            default_of("receive_window"),
            serde_json::json!(d.receive_window)
        );
        assert_eq!(default_of("gre_compat"), serde_json::json!("auto"));
        assert_eq!(default_of("host_name"), serde_json::json!(d.host_name));
        assert_eq!(default_of("call_type"), serde_json::json!("outgoing"));
        // Each enum's values parse.
        for v in props["gre_compat"]["enum"].as_array().expect("enum") {
            parse(&format!("gre_compat = {v}")).expect("an enum value parses");
        }
        for v in props["call_type"]["enum"].as_array().expect("enum") {
            parse(&format!("target = \"192.0.2.1\"\ncall_type = {v}")).expect("parses");
        }
    }
}
