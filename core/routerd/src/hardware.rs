//! The box's hardware profile at run time (`system.hw_profile`, by default
//! `/etc/dialgate/hw-profile.toml` where the appliance image installs it; read with
//! [`HwProfile::parse`], the schema the image build uses).
//!
//! - [`HardwareInfo::read`]: the box's network interfaces with their roles (WAN/LAN) and
//!   whether each is present, and its serial ports with their modem-control lines, whether each
//!   device exists and which link uses it: what `GET /v1/system/hardware` and
//!   `routerctl system hardware` show.
//! - [`check_links`]: configuration problems only the profile can reveal, checked when a
//!   configuration is checked or applied through the management API: a serial link port on a
//!   device the profile says has no modem-control lines cannot use `lines = "modem"` (DCD never
//!   rises, so no call would ever come up), and a serial port the profile does not list on a
//!   box that has a profile is refused (a typo like `/dev/ttyS40` fails at apply, not at 3 am).
//!
//! A serial link is recognised by its plugin's file (`libdialgate_plugin_serial.so`) and read
//! through the keys of that plugin's `[[link.config.ports]]` (`name`, `device`, `lines`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::config::hw_profile::{Detect, HwProfile};

/// The largest profile file read.
const MAX_PROFILE_BYTES: u64 = 256 * 1024;

/// Reads the profile at `path`: `Ok(None)` when there is no file (a box without a profile).
pub fn read_profile(path: &Path) -> Result<Option<HwProfile>, String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut text = String::new();
    file.take(MAX_PROFILE_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    HwProfile::parse(&text)
        .map(Some)
        .map_err(|e| format!("{}: {}", path.display(), e.problems.join("; ")))
}

/// The box's hardware as its profile describes it, `GET /v1/system/hardware`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareInfo {
    /// Where the profile is read from.
    pub profile_path: String,
    /// The profile's board name (`apu2`); `None` without a (valid) profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<String>,
    /// What the box is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How the profile recognises the box (`dmi sys_vendor="QEMU" ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect: Option<String>,
    /// Whether this box matches the profile's detection (`None`: detection `any`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_matches: Option<bool>,
    /// What this box says about itself (DMI strings or devicetree `compatible`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_seen: Option<String>,
    /// Why the profile could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The network interfaces.
    pub interfaces: Vec<InterfaceLabel>,
    /// The serial ports, one per device.
    pub serial: Vec<SerialLabel>,
}

/// One network interface of the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceLabel {
    /// Its name (`wan0`).
    pub name: String,
    /// `wan`, `lan`, `mgmt` or `spare`.
    pub role: String,
    /// Its stable device path.
    pub path: String,
    /// Its default address (`dhcp`, `none`, `A.B.C.D/N`).
    pub address: String,
    /// What it is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether an interface of that name exists now.
    pub present: bool,
}

/// One serial port of the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialLabel {
    /// Its device name (`ttyS4`).
    pub device: String,
    /// Whether it carries DTR/DSR/DCD/RTS/CTS (modems need them).
    pub modem_control: bool,
    /// What it is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether `/dev/<device>` exists now.
    pub present: bool,
    /// The link (and port name) configured on it: `modems/card0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// A serial link port of the configuration: (link, port name, device, lines, field path).
struct SerialUse<'a> {
    link: &'a str,
    port: &'a str,
    device: &'a str,
    lines: &'a str,
    field: String,
}

/// The serial link ports of `config` (links whose plugin is the serial plugin).
fn serial_uses(config: &Config) -> Vec<SerialUse<'_>> {
    let mut out = Vec::new();
    for (i, link) in config.links.iter().enumerate() {
        let serial = config.plugin(&link.plugin).is_some_and(|p| {
            p.file
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == "libdialgate_plugin_serial.so")
        });
        if !serial {
            continue;
        }
        let Some(ports) = link.config.get("ports").and_then(|p| p.as_array()) else {
            continue;
        };
        for (j, port) in ports.iter().enumerate() {
            let Some(table) = port.as_table() else {
                continue;
            };
            let text = |key: &str| table.get(key).and_then(|v| v.as_str()).unwrap_or("");
            out.push(SerialUse {
                link: &link.name,
                port: text("name"),
                device: text("device"),
                lines: if table.contains_key("lines") {
                    text("lines")
                } else {
                    "local"
                },
                field: format!("link[{i}].config.ports[{j}]"),
            });
        }
    }
    out
}

/// The device name of a tty path (`/dev/ttyS4` → `ttyS4`); `None` outside /dev.
fn dev_name(device: &str) -> Option<&str> {
    device.strip_prefix("/dev/").filter(|n| !n.contains('/'))
}

fn detect_text(d: &Detect) -> String {
    match d {
        Detect::Dmi {
            sys_vendor,
            product_name,
            board_name,
        } => {
            let mut s = format!("dmi sys_vendor={sys_vendor:?}");
            if let Some(p) = product_name {
                s.push_str(&format!(" product_name={p:?}"));
            }
            if let Some(b) = board_name {
                s.push_str(&format!(" board_name={b:?}"));
            }
            s
        }
        Detect::Devicetree { compatible } => format!("devicetree compatible={compatible:?}"),
        Detect::Any => "any".to_owned(),
    }
}

/// Whether the box whose `/sys` and `/proc` are under `root` (`/` on a box) matches
/// `detect`, and what it says about itself.
pub fn detect_board(root: &Path, detect: &Detect) -> (Option<bool>, String) {
    let read = |p: &str| {
        std::fs::read(root.join(p))
            .map(|b| {
                let text: String = String::from_utf8_lossy(&b).chars().take(256).collect();
                text.trim_end_matches(['\n', '\0']).to_owned()
            })
            .unwrap_or_default()
    };
    match detect {
        Detect::Dmi {
            sys_vendor,
            product_name,
            board_name,
        } => {
            let (v, p, b) = (
                read("sys/class/dmi/id/sys_vendor"),
                read("sys/class/dmi/id/product_name"),
                read("sys/class/dmi/id/board_name"),
            );
            let ok = v == *sys_vendor
                && product_name.as_ref().is_none_or(|x| *x == p)
                && board_name.as_ref().is_none_or(|x| *x == b);
            (
                Some(ok),
                format!("dmi sys_vendor={v:?} product_name={p:?} board_name={b:?}"),
            )
        }
        Detect::Devicetree { compatible } => {
            let list: Vec<String> = read("proc/device-tree/compatible")
                .split('\0')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            (
                Some(list.iter().any(|c| c == compatible)),
                format!("devicetree compatible={:?}", list.join(" ")),
            )
        }
        Detect::Any => (None, "any".to_owned()),
    }
}

impl HardwareInfo {
    /// The profile at `path` labelled with what exists now (`/sys/class/net`, `/dev`) and
    /// which links of `config` use which serial port.
    pub fn read(path: &Path, config: &Config) -> HardwareInfo {
        let mut info = HardwareInfo {
            profile_path: path.display().to_string(),
            ..HardwareInfo::default()
        };
        let profile = match read_profile(path) {
            Ok(Some(p)) => p,
            Ok(None) => return info,
            Err(e) => {
                info.error = Some(e);
                return info;
            }
        };
        let uses = serial_uses(config);
        info.board = Some(profile.board.name.clone());
        info.description = Some(profile.board.description.clone());
        info.detect = Some(detect_text(&profile.board.detect));
        let (matches, seen) = detect_board(Path::new("/"), &profile.board.detect);
        info.board_matches = matches;
        info.board_seen = Some(seen);
        info.interfaces = profile
            .interfaces
            .iter()
            .map(|i| InterfaceLabel {
                name: i.name.clone(),
                role: i.role.as_str().to_owned(),
                path: i.path.clone(),
                address: i.address.clone(),
                description: i.description.clone(),
                present: Path::new("/sys/class/net").join(&i.name).exists(),
            })
            .collect();
        for ports in &profile.serial {
            for device in ports.devices() {
                let link = uses
                    .iter()
                    .find(|u| dev_name(u.device) == Some(device.as_str()))
                    .map(|u| format!("{}/{}", u.link, u.port));
                info.serial.push(SerialLabel {
                    present: Path::new("/dev").join(&device).exists(),
                    device,
                    modem_control: ports.modem_control,
                    description: ports.description.clone(),
                    link,
                });
            }
        }
        info
    }
}

/// One problem [`check_links`] found: the field path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkProblem {
    /// `link[1].config.ports[0].lines`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// What `profile` says is wrong with the serial links of `config`.
pub fn check_links(profile: &HwProfile, config: &Config) -> Vec<LinkProblem> {
    let mut out = Vec::new();
    let ports: Vec<(String, bool)> = profile
        .serial
        .iter()
        .flat_map(|p| p.devices().into_iter().map(|d| (d, p.modem_control)))
        .collect();
    for u in serial_uses(config) {
        // Ptys and other devices outside the profile's naming are the plugin's business.
        let Some(name) =
            dev_name(u.device).filter(|n| n.starts_with("tty") && !n.starts_with("pts"))
        else {
            continue;
        };
        match ports.iter().find(|(d, _)| d == name) {
            None => out.push(LinkProblem {
                field: format!("{}.device", u.field),
                message: format!(
                    "link {:?}: {} is not a serial port of this box (hardware profile {:?} lists {})",
                    u.link,
                    u.device,
                    profile.board.name,
                    if ports.is_empty() {
                        "none".to_owned()
                    } else {
                        ports.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>().join(", ")
                    }
                ),
            }),
            Some((_, false)) if u.lines == "modem" => out.push(LinkProblem {
                field: format!("{}.lines", u.field),
                message: format!(
                    "link {:?}: {} has no modem-control lines (hardware profile {:?}), so \
                     lines = \"modem\" would wait for a carrier (DCD) that never comes; use \
                     lines = \"local\"",
                    u.link, u.device, profile.board.name
                ),
            }),
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Document;

    const PROFILE: &str = r#"
        [board]
        name = "t"
        description = "test box"
        arch = "x86_64"
        firmware = ["uefi"]
        detect = { method = "dmi", sys_vendor = "QEMU" }
        [console]
        device = "ttyS0"
        [[interface]]
        name = "lan0"
        role = "lan"
        path = "0000:00:03.0"
        [[serial]]
        device = "ttyS1"
        modem_control = false
        [[serial]]
        device = "ttyS4"
        count = 4
        modem_control = true
    "#;

    fn config(ports: &str) -> Config {
        let text = format!(
            "[[pool]]\nname = \"p\"\nranges = [\"10.0.0.10-10.0.0.20\"]\nlocal_address = \"10.0.0.1\"\n\
             [[plugin]]\nname = \"serial\"\nfile = \"libdialgate_plugin_serial.so\"\n\
             [[link]]\nname = \"modems\"\nplugin = \"serial\"\nrole = \"answer\"\npool = \"p\"\n{ports}"
        );
        match Document::parse("test.toml", text) {
            Ok(d) => d.config().clone(),
            Err(e) => panic!("{e:?}"),
        }
    }

    fn profile() -> HwProfile {
        HwProfile::parse(PROFILE).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn modem_lines_need_a_port_with_modem_control() {
        let ok = config(
            "[[link.config.ports]]\nname = \"a\"\ndevice = \"/dev/ttyS5\"\nlines = \"modem\"\n\
             [[link.config.ports]]\nname = \"b\"\ndevice = \"/dev/ttyS1\"\n",
        );
        assert_eq!(check_links(&profile(), &ok), vec![]);
        let bad = config(
            "[[link.config.ports]]\nname = \"a\"\ndevice = \"/dev/ttyS1\"\nlines = \"modem\"\n",
        );
        let problems = check_links(&profile(), &bad);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "link[0].config.ports[0].lines");
        assert!(problems[0].message.contains("no modem-control lines"));
    }

    #[test]
    fn ports_outside_the_profile_are_refused_but_ptys_are_not() {
        let bad = config("[[link.config.ports]]\nname = \"a\"\ndevice = \"/dev/ttyS40\"\n");
        let problems = check_links(&profile(), &bad);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].message.contains("ttyS1, ttyS4, ttyS5"),
            "{problems:?}"
        );
        let pty = config("[[link.config.ports]]\nname = \"a\"\ndevice = \"/dev/pts/3\"\n");
        assert_eq!(check_links(&profile(), &pty), vec![]);
    }

    #[test]
    fn board_detection_reads_dmi_and_devicetree() {
        let root = std::env::temp_dir().join(format!("dg-hw-root-{}", std::process::id()));
        let dmi = root.join("sys/class/dmi/id");
        let _ = std::fs::create_dir_all(&dmi);
        let _ = std::fs::write(dmi.join("sys_vendor"), "PC Engines\n");
        let _ = std::fs::write(dmi.join("board_name"), "apu2\n");
        let apu2 = Detect::Dmi {
            sys_vendor: "PC Engines".into(),
            product_name: None,
            board_name: Some("apu2".into()),
        };
        assert_eq!(detect_board(&root, &apu2).0, Some(true));
        let apu3 = Detect::Dmi {
            sys_vendor: "PC Engines".into(),
            product_name: None,
            board_name: Some("apu3".into()),
        };
        let (ok, seen) = detect_board(&root, &apu3);
        assert_eq!(ok, Some(false));
        assert!(seen.contains("\"apu2\""), "{seen}");
        let _ = std::fs::create_dir_all(root.join("proc/device-tree"));
        let _ = std::fs::write(
            root.join("proc/device-tree/compatible"),
            b"raspberrypi,4-model-b\0brcm,bcm2711\0",
        );
        let pi = Detect::Devicetree {
            compatible: "brcm,bcm2711".into(),
        };
        assert_eq!(detect_board(&root, &pi).0, Some(true));
        assert_eq!(detect_board(&root, &Detect::Any).0, None);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn info_labels_ports_with_their_links() {
        let dir = std::env::temp_dir().join(format!("dg-hw-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("hw-profile.toml");
        let cfg = config("[[link.config.ports]]\nname = \"card0\"\ndevice = \"/dev/ttyS4\"\n");
        let none = HardwareInfo::read(&path, &cfg);
        assert_eq!(none.board, None);
        assert!(none.error.is_none());
        let _ = std::fs::write(&path, PROFILE);
        let info = HardwareInfo::read(&path, &cfg);
        assert_eq!(info.board.as_deref(), Some("t"));
        assert_eq!(info.interfaces[0].role, "lan");
        assert_eq!(info.serial.len(), 5);
        assert!(!info.serial[0].modem_control);
        assert_eq!(info.serial[1].device, "ttyS4");
        assert_eq!(info.serial[1].link.as_deref(), Some("modems/card0"));
        let _ = std::fs::write(&path, "[board]\n");
        assert!(HardwareInfo::read(&path, &cfg).error.is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
