//! Test support for the dialgate workspace (a dev-dependency only, never published).
//!
//! The reference captures of real pppd / pptpd / pptp-linux sessions are vendored in
//! `tests/ref-pcaps` (see its README.md). This crate finds them from inside the checkout and
//! walks them down to the PPTP pieces:
//!
//! - [`ref_pcap`] reads a capture by file name, [`ref_pcap_names`] lists them all;
//! - [`pcap::parse`] reads classic pcap (both byte orders, µs or ns timestamps);
//! - [`walk::ppp_frames`] / [`walk::gre_packets`] give the enhanced GRE packets (RFC 2637
//!   §4.1) with frame number, time, IPv4 source and destination, Call ID, sequence and
//!   acknowledgement numbers; the PPP frame itself is parsed by `dialgate_wire::ppp`;
//! - [`walk::pptp_segments`] gives the TCP payloads of the control connection (port 1723).
//!
//! [`vm`] boots the interop VM (Debian's kernel with pppd, pptpd and pptp-linux, built by
//! `tests/vm/build.sh`) under QEMU on a tap device in a network namespace.
//!
//! [`ref_ppp_frames`] and friends combine both steps and panic with the file name on any
//! error: a test that cannot read its vectors fails loudly.
//!
//! [`process`] builds workspace crates from a test, and holds temporary directories, child
//! processes killed on drop and [`PtyCable`], a null-modem cable made of two ptys.
//!
//! [`require_root`] fails a root-only test run without root, unless the environment opts
//! out with `DIALGATE_SKIP_ROOT_TESTS=1`.
#![deny(unsafe_code)]

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub mod pcap;
pub mod process;
pub mod root;
pub mod vm;
pub mod walk;

pub use dialgate_wire::ppp::{Header, Protocol};
pub use process::{Child, PtyCable, TempDir, cargo_build, library, profile_dir};
pub use root::{SKIP_ROOT_TESTS_ENV, require_root};
pub use walk::{GrePacket, TcpSegment};

/// Environment variable naming the captures directory, overriding the search.
pub const REF_PCAPS_ENV: &str = "DIALGATE_REF_PCAPS";

/// The captures directory relative to the repository root.
const REF_PCAPS_IN_REPO: &str = "tests/ref-pcaps";

/// The server of the `pptpd-vs-pptp-linux-*` captures: pptpd + pppd, 10.77.0.10.
pub const PPTPD: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 10);
/// The client of the `pptpd-vs-pptp-linux-*` captures: pptp-linux + pppd, 10.77.0.11.
pub const PPTP_LINUX: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 11);

/// Why a capture could not be walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The file does not start with a classic pcap magic number (pcapng is not supported).
    NotPcap {
        /// The first four octets, big-endian.
        magic: u32,
    },
    /// A link type the walker does not know.
    LinkType(u32),
    /// A header or record ends early (`frame` 0: the file header).
    Truncated {
        /// 1-based frame number.
        frame: usize,
        /// The layer that was cut short.
        layer: &'static str,
    },
    /// A field holds a value the format forbids.
    Malformed {
        /// 1-based frame number (0: the file header).
        frame: usize,
        /// What is wrong.
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotPcap { magic } => write!(f, "not a classic pcap file (magic {magic:#010x})"),
            Error::LinkType(t) => write!(f, "unsupported pcap link type {t}"),
            Error::Truncated { frame, layer } => write!(f, "frame {frame}: {layer} truncated"),
            Error::Malformed { frame, what } => write!(f, "frame {frame}: {what}"),
        }
    }
}

impl std::error::Error for Error {}

/// The directory of the reference captures.
///
/// `$DIALGATE_REF_PCAPS` if set; otherwise the first `tests/ref-pcaps` found walking up from
/// the manifest directory of the package under test (`CARGO_MANIFEST_DIR`, which
/// `cargo test` sets), then from this crate's own (both inside the checkout).
///
/// # Panics
/// When the override is not a directory or no checkout directory holds the captures.
pub fn ref_pcaps_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(REF_PCAPS_ENV) {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "{REF_PCAPS_ENV}={} is not a directory",
            dir.display()
        );
        return dir;
    }
    let starts: Vec<PathBuf> = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from(env!("CARGO_MANIFEST_DIR"))])
        .collect();
    if let Some(dir) = starts.iter().find_map(|start| find_upwards(start)) {
        return dir;
    }
    panic!(
        "reference captures not found: no {REF_PCAPS_IN_REPO} in {starts:?} or their \
         ancestors; run from a dialgate checkout or set {REF_PCAPS_ENV}"
    );
}

/// The first `tests/ref-pcaps` directory in `start` or one of its ancestors.
fn find_upwards(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|a| a.join(REF_PCAPS_IN_REPO))
        .find(|d| d.is_dir())
}

/// The path of the capture `name` (a file name such as `pptpd-vs-pptp-linux-chap.pcap`).
///
/// # Panics
/// When the file does not exist.
pub fn ref_pcap_path(name: &str) -> PathBuf {
    let path = ref_pcaps_dir().join(name);
    assert!(
        path.is_file(),
        "reference capture {} missing",
        path.display()
    );
    path
}

/// The bytes of the capture `name`.
///
/// # Panics
/// When it cannot be read.
pub fn ref_pcap(name: &str) -> Vec<u8> {
    let path = ref_pcap_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The file names of every `*.pcap` in the captures directory, sorted.
///
/// # Panics
/// When the directory cannot be read or holds no capture.
pub fn ref_pcap_names() -> Vec<String> {
    let dir = ref_pcaps_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap_or_else(|e| panic!("{}: {e}", dir.display())))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no *.pcap in {}", dir.display());
    names
}

/// The GRE packets carrying PPP frames in the capture `name` ([`walk::ppp_frames`]).
///
/// # Panics
/// When the capture is missing or does not walk.
pub fn ref_ppp_frames(name: &str) -> Vec<GrePacket> {
    walk::ppp_frames(&ref_pcap(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every GRE packet in the capture `name`, acknowledgements included ([`walk::gre_packets`]).
///
/// # Panics
/// When the capture is missing or does not walk.
pub fn ref_gre_packets(name: &str) -> Vec<GrePacket> {
    walk::gre_packets(&ref_pcap(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The PPTP control connection's data segments in the capture `name`
/// ([`walk::pptp_segments`]).
///
/// # Panics
/// When the capture is missing or does not walk.
pub fn ref_pptp_segments(name: &str) -> Vec<TcpSegment> {
    walk::pptp_segments(&ref_pcap(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}
