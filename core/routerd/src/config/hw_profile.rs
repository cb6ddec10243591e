//! Hardware profiles: one TOML document per supported box (`hw-profiles/<box>.toml`).
//!
//! A profile says how the box is recognised at boot (DMI strings or a devicetree
//! `compatible`), which network interfaces it has with their roles (WAN/LAN) pinned by a
//! stable device path, its serial ports with their device names and whether each carries the
//! modem-control lines, its console, its architecture and the kernel parameters and modules it
//! needs. The image build (`appliance-image/build.sh`) takes one, and routerd can read it to
//! label interfaces and ports.
//!
//! [`HwProfile::parse`] reads a document, rejecting unknown keys, then checks what the types
//! cannot say (unique names, addresses, device names) and reports every problem.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// Most serial ports one profile may list (the largest cards carry 32 ports; `count` ranges
/// included).
pub const MAX_SERIAL_PORTS: u32 = 256;

/// A parsed and checked hardware profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HwProfile {
    /// The box itself.
    pub board: Board,
    /// The system console.
    pub console: Console,
    /// Kernel command line and modules.
    #[serde(default)]
    pub kernel: Kernel,
    /// Network interfaces (`[[interface]]`), at least one.
    #[serde(rename = "interface")]
    pub interfaces: Vec<Interface>,
    /// Serial ports (`[[serial]]`); a box may have none.
    #[serde(rename = "serial", default)]
    pub serial: Vec<SerialPorts>,
}

/// The box: name, architecture, firmware and how it is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Board {
    /// Short name, the file's stem by convention (`apu2`).
    pub name: String,
    /// What the box is, for people.
    pub description: String,
    /// The CPU architecture the image is built for.
    pub arch: Arch,
    /// The firmware interfaces the box boots from, in order of preference.
    pub firmware: Vec<Firmware>,
    /// How the running system recognises the box.
    pub detect: Detect,
}

/// A CPU architecture of the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Arch {
    /// 64-bit x86.
    #[serde(rename = "x86_64")]
    X86_64,
    /// 64-bit ARM.
    #[serde(rename = "aarch64")]
    Aarch64,
}

impl Arch {
    /// The name used in target triples and file names (`x86_64`, `aarch64`).
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

/// A boot firmware interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// UEFI: the image's ESP.
    Uefi,
    /// Legacy PC BIOS: the image's protective MBR and boot sector.
    Bios,
    /// The Raspberry Pi's GPU firmware (config.txt on a FAT partition).
    Rpi,
}

impl Firmware {
    /// Its name in profiles (`uefi`, `bios`, `rpi`).
    pub fn as_str(self) -> &'static str {
        match self {
            Firmware::Uefi => "uefi",
            Firmware::Bios => "bios",
            Firmware::Rpi => "rpi",
        }
    }
}

/// Board detection, `[board.detect]`: the `method` key picks the variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase", deny_unknown_fields)]
pub enum Detect {
    /// SMBIOS/DMI strings (`/sys/class/dmi/id/*`); every given one must match exactly.
    Dmi {
        /// `sys_vendor`.
        sys_vendor: String,
        /// `product_name`, when it identifies the model.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        product_name: Option<String>,
        /// `board_name`, when the product name is generic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        board_name: Option<String>,
    },
    /// The devicetree's root `compatible` list (`/proc/device-tree/compatible`) contains this.
    Devicetree {
        /// One `compatible` string, e.g. `raspberrypi,4-model-b`.
        compatible: String,
    },
    /// Any board of the architecture: a generic profile, used when no specific one matches.
    Any,
}

/// The console, `[console]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Console {
    /// The kernel's name for the console device (`ttyS0`, `ttyAMA0`, `tty0`).
    pub device: String,
    /// Line speed of a serial console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baud: Option<u32>,
}

impl Console {
    /// The kernel parameter for it: `console=ttyS0,115200`.
    pub fn kernel_param(&self) -> String {
        match self.baud {
            Some(b) => format!("console={},{b}", self.device),
            None => format!("console={}", self.device),
        }
    }
}

/// Kernel command line and modules, `[kernel]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    /// Parameters added to the command line (`8250.nr_uarts=32`).
    #[serde(default)]
    pub params: Vec<String>,
    /// Modules loaded at boot besides the image's own list (NIC and serial card drivers).
    #[serde(default)]
    pub modules: Vec<String>,
}

/// What a network interface is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Towards the Internet: PPTP clients and peers arrive here.
    Wan,
    /// The office LAN: sessions are routed (proxy ARP) here; the web UI is served here.
    Lan,
    /// Out-of-band management only.
    Mgmt,
    /// Present but not used by default.
    Spare,
}

impl Role {
    /// Its name in profiles (`wan`, `lan`, `mgmt`, `spare`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Wan => "wan",
            Role::Lan => "lan",
            Role::Mgmt => "mgmt",
            Role::Spare => "spare",
        }
    }
}

/// One network interface, `[[interface]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// The name the interface gets at boot (`wan0`, `lan0`).
    pub name: String,
    /// What it is for.
    pub role: Role,
    /// Its stable device path: the last components of its resolved sysfs device path
    /// (`readlink -f /sys/class/net/<if>/device`) or of a device above it, e.g. `0000:01:00.0`
    /// for a PCI function (virtio-net's device is `.../0000:00:03.0/virtio0`) or
    /// `fd580000.ethernet` for a platform device. Boot order and driver probing cannot move it.
    pub path: String,
    /// The default address: `dhcp`, `none`, or `A.B.C.D/N`.
    #[serde(default = "default_address")]
    pub address: String,
    /// What the port is (label on the case, chip).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn default_address() -> String {
    "none".to_owned()
}

/// Serial ports, `[[serial]]`: one port, or `count` ports numbered on from `device`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialPorts {
    /// The device name (`ttyS4`); with `count`, the first of a numbered run.
    pub device: String,
    /// How many consecutive ports from `device` (`ttyS4`..`ttyS19` for 16).
    #[serde(default = "one")]
    pub count: u32,
    /// Whether the ports carry DTR/DSR/DCD/RTS/CTS/RI (modems need them to dial and hang up).
    pub modem_control: bool,
    /// What they are (card, connector).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn one() -> u32 {
    1
}

impl SerialPorts {
    /// Every device name of the run (`["ttyS4", ..., "ttyS19"]`); just `device` when it has
    /// no number.
    pub fn devices(&self) -> Vec<String> {
        let digits = self
            .device
            .bytes()
            .rev()
            .take_while(u8::is_ascii_digit)
            .count();
        let (stem, number) = self.device.split_at(self.device.len() - digits);
        match number.parse::<u32>() {
            Ok(first) if self.count > 1 => (0..self.count)
                .map(|i| format!("{stem}{}", first.saturating_add(i)))
                .collect(),
            _ => vec![self.device.clone()],
        }
    }
}

/// Why a profile was refused: every problem found, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HwProfileError {
    /// The problems, each naming the field.
    pub problems: Vec<String>,
}

impl fmt::Display for HwProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problems.join("\n"))
    }
}

impl std::error::Error for HwProfileError {}

impl HwProfile {
    /// Parses and checks a profile document.
    pub fn parse(text: &str) -> Result<HwProfile, HwProfileError> {
        let profile: HwProfile = toml::from_str(text).map_err(|e| HwProfileError {
            problems: vec![e.to_string().trim_end().to_owned()],
        })?;
        let problems = profile.problems();
        if problems.is_empty() {
            Ok(profile)
        } else {
            Err(HwProfileError { problems })
        }
    }

    /// Every serial device name the profile lists, in order.
    pub fn serial_devices(&self) -> Vec<String> {
        self.serial.iter().flat_map(SerialPorts::devices).collect()
    }

    /// The kernel command line the profile asks for: the console, then its parameters.
    pub fn kernel_cmdline(&self) -> String {
        let mut parts = vec![self.console.kernel_param()];
        parts.extend(self.kernel.params.iter().cloned());
        parts.join(" ")
    }

    /// What the types cannot check.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !is_word(&self.board.name) {
            out.push(format!(
                "board.name: {:?} is not a plain name",
                self.board.name
            ));
        }
        if self.board.firmware.is_empty() {
            out.push("board.firmware: at least one is needed".to_owned());
        }
        if !is_device_name(&self.console.device) {
            out.push(format!(
                "console.device: {:?} is not a device name",
                self.console.device
            ));
        }
        for (i, p) in self.kernel.params.iter().enumerate() {
            if p.is_empty() || p.chars().any(|c| c.is_whitespace() || c == '\'') {
                out.push(format!(
                    "kernel.params[{i}]: {p:?} must be one word without quotes"
                ));
            }
        }
        for (i, m) in self.kernel.modules.iter().enumerate() {
            if !is_word(m) {
                out.push(format!("kernel.modules[{i}]: {m:?} is not a module name"));
            }
        }
        if self.interfaces.is_empty() {
            out.push("interface: at least one network interface is needed".to_owned());
        }
        let mut names = BTreeSet::new();
        let mut paths = BTreeSet::new();
        for (i, ifc) in self.interfaces.iter().enumerate() {
            // Linux interface names: at most 15 bytes.
            if !is_word(&ifc.name) || ifc.name.len() > 15 {
                out.push(format!(
                    "interface[{i}].name: {:?} is not an interface name",
                    ifc.name
                ));
            }
            if !names.insert(ifc.name.as_str()) {
                out.push(format!("interface[{i}].name: {:?} is used twice", ifc.name));
            }
            if ifc.path.is_empty() || ifc.path.chars().any(|c| c.is_whitespace() || c == '\'') {
                out.push(format!("interface[{i}].path: {:?} is not a path", ifc.path));
            } else if !paths.insert(ifc.path.as_str()) {
                out.push(format!("interface[{i}].path: {:?} is used twice", ifc.path));
            }
            if let Err(e) = check_address(&ifc.address) {
                out.push(format!("interface[{i}].address: {e}"));
            }
        }
        let mut total: u32 = 0;
        let mut devices = BTreeSet::new();
        for (i, s) in self.serial.iter().enumerate() {
            if !is_device_name(&s.device) {
                out.push(format!(
                    "serial[{i}].device: {:?} is not a device name",
                    s.device
                ));
            }
            if s.count == 0 {
                out.push(format!("serial[{i}].count: must be at least 1"));
            }
            total = total.saturating_add(s.count);
            if total > MAX_SERIAL_PORTS {
                out.push(format!(
                    "serial[{i}]: more than {MAX_SERIAL_PORTS} serial ports in all"
                ));
                break;
            }
            if s.count > 1 && s.devices().len() == 1 {
                out.push(format!(
                    "serial[{i}].count: {:?} has no number to count on from",
                    s.device
                ));
            }
            for d in s.devices() {
                if !devices.insert(d.clone()) {
                    out.push(format!("serial[{i}]: {d} is listed twice"));
                }
            }
        }
        out
    }
}

/// Letters, digits, `_`, `-`, `.`, not empty.
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A name under /dev: a word, not starting with a dot.
fn is_device_name(s: &str) -> bool {
    is_word(s) && !s.starts_with('.')
}

/// `dhcp`, `none` or `A.B.C.D/N`.
fn check_address(a: &str) -> Result<(), String> {
    if a == "dhcp" || a == "none" {
        return Ok(());
    }
    let bad = || format!("{a:?} is not dhcp, none or A.B.C.D/N");
    let (ip, len) = a.split_once('/').ok_or_else(bad)?;
    ip.parse::<Ipv4Addr>().map_err(|_| bad())?;
    match len.parse::<u8>() {
        Ok(n) if n <= 32 => Ok(()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [board]
        name = "t"
        description = "test box"
        arch = "x86_64"
        firmware = ["uefi"]
        detect = { method = "dmi", sys_vendor = "QEMU" }
        [console]
        device = "ttyS0"
        baud = 115200
        [[interface]]
        name = "wan0"
        role = "wan"
        path = "0000:00:03.0"
        address = "dhcp"
    "#;

    /// Every file in hw-profiles/ parses with this schema, and its name is the file's stem.
    #[test]
    fn every_profile_in_hw_profiles_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hw-profiles");
        let mut seen = 0;
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        entries.sort();
        for path in entries {
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let profile = match HwProfile::parse(&text) {
                Ok(p) => p,
                Err(e) => panic!("{}:\n{e}", path.display()),
            };
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            assert_eq!(profile.board.name, stem, "{}", path.display());
            assert!(
                profile.interfaces.iter().any(|i| i.role == Role::Lan),
                "{}: no LAN interface",
                path.display()
            );
            seen += 1;
        }
        // qemu-x86_64, qemu-aarch64, a 1U box with a serial card, APU2, Raspberry Pi 4.
        assert!(seen >= 5, "only {seen} profiles in {}", dir.display());
    }

    #[test]
    fn minimal_profile_parses_with_defaults() {
        let p = HwProfile::parse(MINIMAL).expect("valid");
        assert_eq!(p.board.arch, Arch::X86_64);
        assert_eq!(
            p.board.detect,
            Detect::Dmi {
                sys_vendor: "QEMU".into(),
                product_name: None,
                board_name: None
            }
        );
        assert!(p.serial.is_empty());
        assert_eq!(p.kernel_cmdline(), "console=ttyS0,115200");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = MINIMAL.replace("baud = 115200", "baud = 115200\nparity = \"none\"");
        let e = HwProfile::parse(&text).expect_err("unknown key");
        assert!(e.to_string().contains("parity"), "{e}");
    }

    #[test]
    fn serial_runs_expand_and_clash() {
        let text = format!(
            "{MINIMAL}\n[[serial]]\ndevice = \"ttyS4\"\ncount = 16\nmodem_control = true\n\
             [[serial]]\ndevice = \"ttyS19\"\nmodem_control = false\n"
        );
        let e = HwProfile::parse(&text).expect_err("ttyS19 twice");
        assert_eq!(e.problems, vec!["serial[1]: ttyS19 is listed twice"]);
        let ok = text.replace("ttyS19\"", "ttyS20\"");
        let p = HwProfile::parse(&ok).expect("valid");
        let devices = p.serial_devices();
        assert_eq!(devices.len(), 17);
        assert_eq!(devices[0], "ttyS4");
        assert_eq!(devices[15], "ttyS19");
        assert_eq!(devices[16], "ttyS20");
    }

    #[test]
    fn bad_values_are_all_reported() {
        let text = MINIMAL
            .replace("address = \"dhcp\"", "address = \"10.0.0.1/33\"")
            .replace("name = \"wan0\"", "name = \"a name\"")
            .replace("device = \"ttyS0\"", "device = \"../x\"");
        let e = HwProfile::parse(&text).expect_err("three problems");
        assert_eq!(e.problems.len(), 3, "{e}");
    }

    #[test]
    fn devicetree_detection_parses() {
        let text = MINIMAL.replace(
            "detect = { method = \"dmi\", sys_vendor = \"QEMU\" }",
            "detect = { method = \"devicetree\", compatible = \"raspberrypi,4-model-b\" }",
        );
        let p = HwProfile::parse(&text).expect("valid");
        assert_eq!(
            p.board.detect,
            Detect::Devicetree {
                compatible: "raspberrypi,4-model-b".into()
            }
        );
    }
}
