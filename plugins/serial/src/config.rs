//! The plugin's configuration: a TOML document with a list of ports, checked field by field so
//! that every error names the field (`ports[1].speed`), and the JSON Schema the web UI draws
//! its form from ([`SCHEMA`]).
//!
//! ```toml
//! [[ports]]
//! name = "modem0"           # required: [A-Za-z0-9._-], 1 to 32 characters, unique
//! device = "/dev/ttyS0"     # required: absolute path, unique
//! role = "answer"           # answer | dial (default answer)
//! speed = 115200            # a standard line speed in bit/s (default 115200)
//! flow_control = "rtscts"   # none | rtscts | xonxoff (default none)
//! lines = "modem"           # local | modem (default local)
//! mru = 1500                # largest information field accepted (default 1500)
//!
//! [[ports]]
//! name = "out0"
//! device = "/dev/ttyUSB0"
//! role = "dial"
//! number = "5551234"        # dial ports only; reported as the called number
//! dial_timeout_secs = 60    # modem dial ports: how long to wait for carrier (default 60)
//! ```

use std::fmt;
use std::time::Duration;

use dialgate_plugin_sdk::FlowControl;
use toml::{Table, Value};

/// The line speeds a port may be configured with, in bit/s: the termios rates (POSIX and
/// Linux's extensions). Anything else is almost always a typo (`11520`).
pub const SPEEDS: &[u32] = &[
    50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600,
    115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000,
    3000000, 3500000, 4000000,
];

/// The default line speed.
pub const DEFAULT_SPEED: u32 = 115_200;
/// The default MRU (RFC 1661 §6.1).
pub const DEFAULT_MRU: u16 = 1500;
/// The smallest MRU a port accepts (RFC 1661 §6.1 lets a peer ask for less than 1500; below 64
/// not even LCP fits comfortably).
pub const MIN_MRU: u16 = 64;
/// The default time a modem dial port waits for carrier.
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(60);
/// The most ports one instance serves.
pub const MAX_PORTS: usize = 256;
/// The longest port name.
pub const MAX_NAME_LEN: usize = 32;
/// The longest dial number.
pub const MAX_NUMBER_LEN: usize = 64;
/// The longest device path.
pub const MAX_DEVICE_LEN: usize = 4096;

/// The JSON Schema (draft 2020-12) of the configuration, for the web UI. The configuration
/// itself is TOML; the schema describes its tables. A test checks that the parser accepts
/// exactly the properties, enums and defaults the schema lists.
pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "serial",
  "description": "PPP over serial lines and ptys with async HDLC framing (RFC 1662).",
  "type": "object",
  "additionalProperties": false,
  "required": ["ports"],
  "properties": {
    "ports": {
      "title": "Ports",
      "description": "The ttys this instance serves, one PPP call at a time each.",
      "type": "array",
      "minItems": 1,
      "maxItems": 256,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "device"],
        "properties": {
          "name": {
            "title": "Name",
            "description": "Unique name of the port; dial() takes it as its target.",
            "type": "string",
            "pattern": "^[A-Za-z0-9._-]{1,32}$"
          },
          "device": {
            "title": "Device",
            "description": "Absolute path of the tty, e.g. /dev/ttyS0 or a pty.",
            "type": "string",
            "pattern": "^/",
            "maxLength": 4096
          },
          "role": {
            "title": "Role",
            "description": "answer: wait for calls; dial: place calls when asked.",
            "enum": ["answer", "dial"],
            "default": "answer"
          },
          "speed": {
            "title": "Speed (bit/s)",
            "type": "integer",
            "enum": [50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200,
                     38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000,
                     1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000],
            "default": 115200
          },
          "flow_control": {
            "title": "Flow control",
            "description": "rtscts: hardware (CRTSCTS); xonxoff: software (the ACCM then always escapes XON and XOFF).",
            "enum": ["none", "rtscts", "xonxoff"],
            "default": "none"
          },
          "lines": {
            "title": "Modem lines",
            "description": "local: ignore modem status lines (CLOCAL; null modem, pty); modem: a call is up while DCD is, and DCD dropping ends it.",
            "enum": ["local", "modem"],
            "default": "local"
          },
          "mru": {
            "title": "MRU",
            "description": "Largest information field accepted, in octets; at least the link's PPP MRU.",
            "type": "integer",
            "minimum": 64,
            "maximum": 65535,
            "default": 1500
          },
          "number": {
            "title": "Number",
            "description": "Dial ports: the number to dial (reported as the called number; dialled once modem AT handling exists).",
            "type": "string",
            "maxLength": 64
          },
          "dial_timeout_secs": {
            "title": "Dial timeout (s)",
            "description": "Dial ports on modem lines: how long to wait for carrier.",
            "type": "integer",
            "minimum": 1,
            "maximum": 3600,
            "default": 60
          }
        }
      }
    }
  }
}"#;

/// The UI hints of the configuration form (plugin ABI 1.3, format of
/// `dialgate_plugin_form::parse`): the page is "Serial ports and modems", a port's fields in
/// the order an admin fills them in, and `lines = "local"` is weak: CLOCAL ignores the
/// modem's carrier, so on a modem a caller who hangs up goes unnoticed and the next caller
/// gets the session still logged in.
pub const UI: &str = r#"{
  "title": "Serial ports and modems",
  "description": "PPP over serial lines (RFC 1662 async HDLC): modems, null-modem cables and ptys. Each link serves its ports, one call at a time each.",
  "order": ["ports"],
  "fields": {
    "ports": {
      "item_label": "Port",
      "order": ["name", "device", "role", "lines", "speed", "flow_control", "number",
                "dial_timeout_secs", "mru"]
    },
    "ports.lines": {
      "weak": ["local"],
      "warning": "Local lines ignore the modem's carrier (DCD). On a modem, a caller who hangs up is not noticed: the next caller inherits the session, still logged in as the previous user. Local lines are for null-modem cables and ptys only."
    }
  }
}"#;

/// The whole configuration of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The ports, in the order configured.
    pub ports: Vec<PortConfig>,
}

/// Whether a port waits for calls or places them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Wait for calls.
    Answer,
    /// Place calls when the core asks ([`dialgate_plugin_sdk::Plugin::dial`]).
    Dial,
}

/// How a port treats the modem status lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Ignore them (termios `CLOCAL`): null-modem cables, ptys.
    Local,
    /// A modem: a call is up while DCD is; DCD dropping ends it.
    Modem,
}

/// One port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    /// Unique name.
    pub name: String,
    /// The tty's path.
    pub device: String,
    /// Answer or dial.
    pub role: Role,
    /// Line speed in bit/s (one of [`SPEEDS`]).
    pub speed: u32,
    /// Flow control.
    pub flow_control: FlowControl,
    /// Local or modem lines.
    pub lines: Lines,
    /// Largest information field accepted.
    pub mru: u16,
    /// The number to dial (dial ports; empty when not set).
    pub number: String,
    /// How long a modem dial port waits for carrier.
    pub dial_timeout: Duration,
}

/// A configuration error: the field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The field's path, e.g. `ports[1].speed`; empty for a TOML syntax error.
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

/// The keys a port table may have (kept equal to the schema's by a test).
pub const PORT_KEYS: &[&str] = &[
    "name",
    "device",
    "role",
    "speed",
    "flow_control",
    "lines",
    "mru",
    "number",
    "dial_timeout_secs",
];

impl Config {
    /// Parses and checks a configuration document.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let doc: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::new("", format!("invalid TOML: {e}")))?;
        if let Some(key) = doc.keys().find(|k| k.as_str() != "ports") {
            return Err(ConfigError::new(
                key.as_str(),
                "unknown setting (the serial plugin takes `ports` only)",
            ));
        }
        let ports = match doc.get("ports") {
            None => {
                return Err(ConfigError::new(
                    "ports",
                    "missing: configure at least one [[ports]] table",
                ));
            }
            Some(Value::Array(a)) => a,
            Some(other) => {
                return Err(ConfigError::new(
                    "ports",
                    format!(
                        "expected an array of tables ([[ports]]), found {}",
                        other.type_str()
                    ),
                ));
            }
        };
        if ports.is_empty() {
            return Err(ConfigError::new("ports", "configure at least one port"));
        }
        if ports.len() > MAX_PORTS {
            return Err(ConfigError::new(
                "ports",
                format!("{} ports, at most {MAX_PORTS} allowed", ports.len()),
            ));
        }
        let mut out: Vec<PortConfig> = Vec::with_capacity(ports.len());
        for (i, value) in ports.iter().enumerate() {
            let path = format!("ports[{i}]");
            let Value::Table(table) = value else {
                return Err(ConfigError::new(
                    path,
                    format!("expected a table, found {}", value.type_str()),
                ));
            };
            let port = PortConfig::parse(&path, table)?;
            if let Some(j) = out.iter().position(|p| p.name == port.name) {
                return Err(ConfigError::new(
                    format!("{path}.name"),
                    format!("`{}` is already the name of ports[{j}]", port.name),
                ));
            }
            if let Some(j) = out.iter().position(|p| p.device == port.device) {
                return Err(ConfigError::new(
                    format!("{path}.device"),
                    format!("`{}` is already the device of ports[{j}]", port.device),
                ));
            }
            out.push(port);
        }
        Ok(Config { ports: out })
    }
}

/// Reads one field of a port table.
struct Fields<'a> {
    path: &'a str,
    table: &'a Table,
}

impl Fields<'_> {
    fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.field(key), message)
    }

    fn string(&self, key: &str) -> Result<Option<&str>, ConfigError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(
                key,
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    }

    fn integer(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.table.get(key) {
            None => Ok(None),
            Some(Value::Integer(n)) => Ok(Some(*n)),
            Some(other) => Err(self.err(
                key,
                format!("expected an integer, found {}", other.type_str()),
            )),
        }
    }

    /// A string that must be one of `choices` (each with its meaning).
    fn choice<T: Copy>(
        &self,
        key: &str,
        choices: &[(&str, T)],
        default: T,
    ) -> Result<T, ConfigError> {
        let Some(s) = self.string(key)? else {
            return Ok(default);
        };
        choices
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("`{n}`")).collect();
                self.err(key, format!("`{s}` is not one of {}", names.join(", ")))
            })
    }
}

impl PortConfig {
    fn parse(path: &str, table: &Table) -> Result<PortConfig, ConfigError> {
        let f = Fields { path, table };
        if let Some(key) = table.keys().find(|k| !PORT_KEYS.contains(&k.as_str())) {
            return Err(f.err(
                key,
                format!("unknown setting (a port has {})", PORT_KEYS.join(", ")),
            ));
        }

        let name = f
            .string("name")?
            .ok_or_else(|| f.err("name", "missing: every port needs a name"))?;
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(f.err(
                "name",
                format!("must be 1 to {MAX_NAME_LEN} characters long"),
            ));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(f.err(
                "name",
                format!("`{name}` contains {c:?}; use letters, digits, `.`, `_` and `-`"),
            ));
        }

        let device = f
            .string("device")?
            .ok_or_else(|| f.err("device", "missing: every port needs a device path"))?;
        if !device.starts_with('/') {
            return Err(f.err(
                "device",
                format!("`{device}` is not an absolute path (e.g. /dev/ttyS0)"),
            ));
        }
        if device.len() > MAX_DEVICE_LEN || device.contains('\0') {
            return Err(f.err("device", "not a usable path"));
        }

        let role = f.choice(
            "role",
            &[("answer", Role::Answer), ("dial", Role::Dial)],
            Role::Answer,
        )?;
        let speed = match f.integer("speed")? {
            None => DEFAULT_SPEED,
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|s| SPEEDS.contains(s))
                .ok_or_else(|| {
                    f.err(
                        "speed",
                        format!(
                            "{n} is not a standard line speed (e.g. 9600, 38400, 57600, \
                             115200, 230400, 460800, 921600)"
                        ),
                    )
                })?,
        };
        let flow_control = f.choice(
            "flow_control",
            &[
                ("none", FlowControl::None),
                ("rtscts", FlowControl::Hardware),
                ("xonxoff", FlowControl::Software),
            ],
            FlowControl::None,
        )?;
        let lines = f.choice(
            "lines",
            &[("local", Lines::Local), ("modem", Lines::Modem)],
            Lines::Local,
        )?;
        let mru = match f.integer("mru")? {
            None => DEFAULT_MRU,
            Some(n) => u16::try_from(n)
                .ok()
                .filter(|m| *m >= MIN_MRU)
                .ok_or_else(|| f.err("mru", format!("{n} is not within {MIN_MRU} to 65535")))?,
        };
        let number = match f.string("number")? {
            None => String::new(),
            Some(_) if role == Role::Answer => {
                return Err(f.err(
                    "number",
                    "only dial ports have a number (this port has role = \"answer\")",
                ));
            }
            Some(n) => {
                if n.len() > MAX_NUMBER_LEN || n.chars().any(|c| c.is_control()) {
                    return Err(f.err(
                        "number",
                        format!("at most {MAX_NUMBER_LEN} printable characters"),
                    ));
                }
                n.to_owned()
            }
        };
        let dial_timeout = match f.integer("dial_timeout_secs")? {
            None => DEFAULT_DIAL_TIMEOUT,
            Some(_) if role == Role::Answer => {
                return Err(f.err(
                    "dial_timeout_secs",
                    "only dial ports have a dial timeout (this port has role = \"answer\")",
                ));
            }
            Some(n) => u64::try_from(n)
                .ok()
                .filter(|s| (1..=3600).contains(s))
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    f.err("dial_timeout_secs", format!("{n} is not within 1 to 3600"))
                })?,
        };

        Ok(PortConfig {
            name: name.to_owned(),
            device: device.to_owned(),
            role,
            speed,
            flow_control,
            lines,
            mru,
            number,
            dial_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[[ports]]\nname = \"p0\"\ndevice = \"/dev/ttyS0\"\n";

    fn err(text: &str) -> ConfigError {
        Config::parse(text).expect_err("invalid")
    }

    #[test]
    fn minimal_port_takes_the_defaults() {
        let c = Config::parse(MINIMAL).expect("valid");
        assert_eq!(
            c.ports,
            vec![PortConfig {
                name: "p0".into(),
                device: "/dev/ttyS0".into(),
                role: Role::Answer,
                speed: 115_200,
                flow_control: FlowControl::None,
                lines: Lines::Local,
                mru: 1500,
                number: String::new(),
                dial_timeout: Duration::from_secs(60),
            }]
        );
    }

    #[test]
    fn every_setting_is_read() {
        let c = Config::parse(
            "[[ports]]\nname = \"in\"\ndevice = \"/dev/ttyS0\"\nspeed = 38400\n\
             flow_control = \"rtscts\"\nlines = \"modem\"\nmru = 1600\n\
             [[ports]]\nname = \"out.1\"\ndevice = \"/dev/ttyS1\"\nrole = \"dial\"\n\
             flow_control = \"xonxoff\"\nnumber = \"+1 555 0100\"\ndial_timeout_secs = 90\n",
        )
        .expect("valid");
        let [a, b] = c.ports.as_slice() else {
            panic!("two ports: {c:?}");
        };
        assert_eq!(
            (a.speed, a.flow_control, a.lines, a.mru),
            (38400, FlowControl::Hardware, Lines::Modem, 1600)
        );
        assert_eq!(b.role, Role::Dial);
        assert_eq!(b.flow_control, FlowControl::Software);
        assert_eq!(b.number, "+1 555 0100");
        assert_eq!(b.dial_timeout, Duration::from_secs(90));
    }

    #[test]
    fn errors_name_the_field() {
        let cases: &[(&str, &str)] = &[
            ("", "ports"),
            ("ports = 3", "ports"),
            ("ports = []", "ports"),
            ("speed = 9600", "speed"),
            ("ports = [1]", "ports[0]"),
            ("[[ports]]\ndevice = \"/dev/ttyS0\"", "ports[0].name"),
            ("[[ports]]\nname = \"p\"", "ports[0].device"),
            (
                "[[ports]]\nname = \"p q\"\ndevice = \"/dev/x\"",
                "ports[0].name",
            ),
            (
                "[[ports]]\nname = \"\"\ndevice = \"/dev/x\"",
                "ports[0].name",
            ),
            ("[[ports]]\nname = 7\ndevice = \"/dev/x\"", "ports[0].name"),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"ttyS0\"",
                "ports[0].device",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nspeed = 11520",
                "ports[0].speed",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nspeed = -1",
                "ports[0].speed",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nspeed = \"fast\"",
                "ports[0].speed",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nflow_control = \"cts\"",
                "ports[0].flow_control",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nlines = \"dcd\"",
                "ports[0].lines",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nrole = \"call\"",
                "ports[0].role",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nmru = 10",
                "ports[0].mru",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nmru = 70000",
                "ports[0].mru",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nnumber = \"1\"",
                "ports[0].number",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nrole = \"dial\"\nnumber = \"1\\n2\"",
                "ports[0].number",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nrole = \"dial\"\ndial_timeout_secs = 0",
                "ports[0].dial_timeout_secs",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\ndial_timeout_secs = 5",
                "ports[0].dial_timeout_secs",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nsped = 9600",
                "ports[0].sped",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\n[[ports]]\nname = \"p\"\ndevice = \"/e\"",
                "ports[1].name",
            ),
            (
                "[[ports]]\nname = \"p\"\ndevice = \"/d\"\n[[ports]]\nname = \"q\"\ndevice = \"/d\"",
                "ports[1].device",
            ),
        ];
        for (text, field) in cases {
            let e = err(text);
            assert_eq!(e.field, *field, "{text:?}: {e}");
            assert!(e.to_string().starts_with(&format!("{field}: ")), "{e}");
        }
    }

    fn json(text: &str) -> serde_json::Map<String, serde_json::Value> {
        let t: Table = text.parse().expect("TOML");
        serde_json::to_value(t)
            .expect("JSON")
            .as_object()
            .cloned()
            .expect("a table")
    }

    #[test]
    fn the_form_shows_ports_with_every_key_and_checks_like_the_parser() {
        let form = dialgate_plugin_form::parse(SCHEMA, UI).expect("schema and UI hints parse");
        assert_eq!(form.title, "Serial ports and modems");
        let ports = form.field("ports").expect("ports");
        let dialgate_plugin_form::Kind::Table {
            item_label, fields, ..
        } = &ports.kind
        else {
            panic!("ports is an array of tables: {ports:?}");
        };
        assert_eq!(item_label, "Port");
        let mut shown: Vec<&str> = fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(shown[..2], ["name", "device"]);
        shown.sort_unstable();
        let mut keys = PORT_KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(shown, keys);
        assert_eq!(form.check(&json(MINIMAL)), vec![]);
        // What the schema can say, it says at the same path as the parser.
        for text in [
            "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nspeed = 11520",
            "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nmru = 10",
            "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nlines = \"dcd\"",
            "[[ports]]\ndevice = \"/dev/ttyS0\"",
            "[[ports]]\nname = \"p\"\ndevice = \"/d\"\nsped = 9600",
        ] {
            let issues = form.check(&json(text));
            assert_eq!(issues.len(), 1, "{text}: {issues:?}");
            assert_eq!(issues[0].path, err(text).field, "{text}");
        }
        // Local lines (the default) are weak; modem lines are not.
        let weak = form.weak_settings(&json(MINIMAL));
        assert_eq!(weak.len(), 1);
        assert_eq!(weak[0].path, "ports[0].lines");
        let modem = format!("{MINIMAL}lines = \"modem\"\n");
        assert!(form.weak_settings(&json(&modem)).is_empty());
    }

    #[test]
    fn a_toml_syntax_error_says_so() {
        let e = err("[[ports]\nname =");
        assert!(e.to_string().starts_with("invalid TOML"), "{e}");
    }

    #[test]
    fn too_many_ports_are_refused() {
        let text: String = (0..=MAX_PORTS)
            .map(|i| format!("[[ports]]\nname = \"p{i}\"\ndevice = \"/dev/p{i}\"\n"))
            .collect();
        assert_eq!(err(&text).field, "ports");
    }
}
