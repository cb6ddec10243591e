//! The box itself: `GET /v1/system` (network interfaces with their role, addresses, state and
//! counters; DNS servers; time) and `POST /v1/system/reboot` (runs `system.reboot_command`).
//!
//! The readers take a root directory (`/` on the box, a copy in tests) and the parsers take
//! the files' text. DNS servers and time are shown, not set: the appliance gets its DNS
//! servers by DHCP (`/etc/resolv.conf`) and keeps UTC; routerd's configuration has no DNS or
//! NTP keys.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::control::ApiError;
use super::http::ApiState;
use crate::time::Timestamp;

/// The most interfaces listed (a box has a handful; the rest are left out).
pub const MAX_INTERFACES: usize = 256;

/// The most DNS servers listed (the resolver itself uses three).
pub const MAX_DNS_SERVERS: usize = 16;

/// The largest file read from `/sys` or `/etc`.
const MAX_FILE: u64 = 64 * 1024;

/// `GET /v1/system`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemInfo {
    /// The kernel's host name.
    pub hostname: Option<String>,
    /// The kernel release (`6.1.0-18-amd64`).
    pub kernel: Option<String>,
    /// The wall-clock time now (UTC).
    pub time: Timestamp,
    /// Seconds since the box booted.
    pub boot_uptime_secs: Option<u64>,
    /// The DNS servers the box resolves with (`nameserver` lines of `/etc/resolv.conf`).
    pub dns: Vec<String>,
    /// Network interfaces, by name.
    pub interfaces: Vec<NetInterface>,
}

/// One network interface of the box (`/sys/class/net/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetInterface {
    /// Its name.
    pub name: String,
    /// What routerd uses it for: `tun` (the sessions' TUN device) or `lan` (`[lan]
    /// interface`); `None` when routerd does not use it. The hardware profile's roles (WAN,
    /// LAN) are in `GET /v1/system/hardware`.
    pub role: Option<String>,
    /// `operstate`: `up`, `down`, `unknown` (a TUN or loopback), ...
    pub state: String,
    /// Whether the link is administratively up (`IFF_UP` of `flags`).
    pub admin_up: bool,
    /// The hardware address.
    pub mac: Option<String>,
    /// Its MTU.
    pub mtu: Option<u32>,
    /// Addresses with prefix length (`192.0.2.1/24`, `2001:db8::1/64`).
    pub addresses: Vec<String>,
    /// Counters (`statistics/`).
    pub counters: NetCounters,
}

/// An interface's counters, from `/sys/class/net/<name>/statistics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetCounters {
    /// Bytes received.
    pub rx_bytes: Option<u64>,
    /// Bytes sent.
    pub tx_bytes: Option<u64>,
    /// Packets received.
    pub rx_packets: Option<u64>,
    /// Packets sent.
    pub tx_packets: Option<u64>,
    /// Receive errors.
    pub rx_errors: Option<u64>,
    /// Transmit errors.
    pub tx_errors: Option<u64>,
}

/// `POST /v1/system/reboot` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebootStarted {
    /// The command that was run (`system.reboot_command`).
    pub command: Vec<String>,
}

/// The `nameserver` addresses of a `resolv.conf` text (resolv.conf(5)), at most
/// [`MAX_DNS_SERVERS`]; lines that are not an address are skipped.
pub fn parse_resolv_conf(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_ascii_whitespace();
            (words.next() == Some("nameserver")).then_some(())?;
            let addr = words.next()?;
            // A scoped IPv6 address (fe80::1%eth0) keeps its scope for display.
            let bare = addr.split('%').next().unwrap_or(addr);
            bare.parse::<IpAddr>().ok().map(|_| addr.to_owned())
        })
        .take(MAX_DNS_SERVERS)
        .collect()
}

/// Seconds since boot from a `/proc/uptime` text.
pub fn parse_uptime(text: &str) -> Option<u64> {
    let first = text.split_ascii_whitespace().next()?;
    let whole = first.split('.').next()?;
    whole.parse().ok()
}

/// Reads a small text file, trimmed; `None` when missing or unreadable.
fn read_small(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(MAX_FILE)
        .read_to_string(&mut s)
        .ok()?;
    Some(s.trim().to_owned())
}

/// Reads the box's figures under `root` (`/` on the box).
#[derive(Debug, Clone)]
pub struct SystemReader {
    root: PathBuf,
}

impl Default for SystemReader {
    fn default() -> Self {
        SystemReader::new("/")
    }
}

impl SystemReader {
    /// A reader of the files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SystemReader { root: root.into() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Every interface of `sys/class/net`, by name (at most [`MAX_INTERFACES`]), without
    /// addresses or roles.
    pub fn interfaces(&self) -> Vec<NetInterface> {
        let Ok(dir) = std::fs::read_dir(self.path("sys/class/net")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = dir
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names.truncate(MAX_INTERFACES);
        names
            .into_iter()
            .map(|name| {
                let base = self.path("sys/class/net").join(&name);
                let num = |f: &str| read_small(&base.join(f)).and_then(|s| s.parse::<u64>().ok());
                let flags = read_small(&base.join("flags"))
                    .and_then(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok());
                NetInterface {
                    state: read_small(&base.join("operstate")).unwrap_or_else(|| "unknown".into()),
                    admin_up: flags.is_some_and(|f| f & 1 != 0),
                    mac: read_small(&base.join("address")).filter(|m| !m.is_empty()),
                    mtu: num("mtu").and_then(|m| u32::try_from(m).ok()),
                    addresses: Vec::new(),
                    role: None,
                    counters: NetCounters {
                        rx_bytes: num("statistics/rx_bytes"),
                        tx_bytes: num("statistics/tx_bytes"),
                        rx_packets: num("statistics/rx_packets"),
                        tx_packets: num("statistics/tx_packets"),
                        rx_errors: num("statistics/rx_errors"),
                        tx_errors: num("statistics/tx_errors"),
                    },
                    name,
                }
            })
            .collect()
    }

    /// The DNS servers of `etc/resolv.conf`.
    pub fn dns(&self) -> Vec<String> {
        read_small(&self.path("etc/resolv.conf"))
            .map(|t| parse_resolv_conf(&t))
            .unwrap_or_default()
    }

    /// Everything but the roles: interfaces (with the addresses the kernel reports when
    /// `root` is `/`), DNS, host name, kernel, time, uptime.
    pub fn read(&self) -> SystemInfo {
        let mut interfaces = self.interfaces();
        if self.root == Path::new("/") {
            add_addresses(&mut interfaces);
        }
        SystemInfo {
            hostname: read_small(&self.path("proc/sys/kernel/hostname")),
            kernel: read_small(&self.path("proc/sys/kernel/osrelease")),
            time: Timestamp::now(),
            boot_uptime_secs: read_small(&self.path("proc/uptime"))
                .as_deref()
                .and_then(parse_uptime),
            dns: self.dns(),
            interfaces,
        }
    }
}

/// Adds each interface's addresses (getifaddrs(3)).
fn add_addresses(interfaces: &mut [NetInterface]) {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return;
    };
    for a in addrs {
        let Some(iface) = interfaces.iter_mut().find(|i| i.name == a.interface_name) else {
            continue;
        };
        let (Some(addr), Some(mask)) = (a.address, a.netmask) else {
            continue;
        };
        let text = if let (Some(v4), Some(m)) = (addr.as_sockaddr_in(), mask.as_sockaddr_in()) {
            format!("{}/{}", v4.ip(), m.ip().to_bits().count_ones())
        } else if let (Some(v6), Some(m)) = (addr.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
            format!("{}/{}", v6.ip(), m.ip().to_bits().count_ones())
        } else {
            continue;
        };
        if iface.addresses.len() < 64 {
            iface.addresses.push(text);
        }
    }
}

/// `GET /v1/system`.
pub(super) async fn info(State(s): State<ApiState>) -> Result<Response, ApiError> {
    s.control
        .system_info()
        .await
        .map(|i| axum::Json(i).into_response())
}

/// `POST /v1/system/reboot`.
pub(super) async fn reboot(State(s): State<ApiState>) -> Result<Response, ApiError> {
    s.control
        .reboot()
        .await
        .map(|r| (axum::http::StatusCode::ACCEPTED, axum::Json(r)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# Generated by udhcpc\nsearch example.net\nnameserver 192.0.2.53\n\
nameserver   2001:db8::53\nnameserver fe80::1%eth0\nnameserver not-an-address\n\
options edns0\n  nameserver 198.51.100.1\nnameserver\n";
        assert_eq!(
            parse_resolv_conf(text),
            ["192.0.2.53", "2001:db8::53", "fe80::1%eth0", "198.51.100.1"]
        );
        let many = "nameserver 192.0.2.1\n".repeat(100);
        assert_eq!(parse_resolv_conf(&many).len(), MAX_DNS_SERVERS);
        assert!(parse_resolv_conf("").is_empty());
    }

    #[test]
    fn proc_uptime() {
        assert_eq!(parse_uptime("35435.86 70081.70\n"), Some(35435));
        assert_eq!(parse_uptime("12 5"), Some(12));
        assert_eq!(parse_uptime(""), None);
        assert_eq!(parse_uptime("x.5 1"), None);
    }

    #[test]
    fn sysfs_interfaces_from_a_copy() {
        let root = std::env::temp_dir().join(format!("dg-sysfs-{}", std::process::id()));
        let eth = root.join("sys/class/net/eth0");
        std::fs::create_dir_all(eth.join("statistics")).ok();
        std::fs::create_dir_all(root.join("sys/class/net/dg0")).ok();
        std::fs::create_dir_all(root.join("etc")).ok();
        for (f, v) in [
            ("operstate", "up\n"),
            ("flags", "0x1003\n"),
            ("address", "52:54:00:12:34:56\n"),
            ("mtu", "1500\n"),
            ("statistics/rx_bytes", "1234\n"),
            ("statistics/tx_bytes", "99999999999\n"),
            ("statistics/rx_errors", "garbage\n"),
        ] {
            std::fs::write(eth.join(f), v).ok();
        }
        std::fs::write(root.join("etc/resolv.conf"), "nameserver 192.0.2.53\n").ok();
        let r = SystemReader::new(&root);
        let list = r.interfaces();
        std::fs::remove_dir_all(&root).ok();
        assert_eq!(list.len(), 2);
        let (dg, eth) = (&list[0], &list[1]);
        assert_eq!(dg.name, "dg0");
        assert_eq!(
            (dg.state.as_str(), dg.admin_up, dg.mtu),
            ("unknown", false, None)
        );
        assert_eq!(eth.name, "eth0");
        assert_eq!(eth.state, "up");
        assert!(eth.admin_up);
        assert_eq!(eth.mac.as_deref(), Some("52:54:00:12:34:56"));
        assert_eq!(eth.mtu, Some(1500));
        assert_eq!(eth.counters.rx_bytes, Some(1234));
        assert_eq!(eth.counters.tx_bytes, Some(99_999_999_999));
        assert_eq!(eth.counters.rx_errors, None);
        assert_eq!(eth.counters.tx_packets, None);
    }

    #[test]
    fn this_box_has_loopback_with_its_address() {
        let info = SystemReader::default().read();
        let Some(lo) = info.interfaces.iter().find(|i| i.name == "lo") else {
            return; // no sysfs here
        };
        assert!(lo.admin_up);
        assert!(
            lo.addresses.iter().any(|a| a == "127.0.0.1/8"),
            "{:?}",
            lo.addresses
        );
        assert!(info.boot_uptime_secs.is_some());
    }
}
