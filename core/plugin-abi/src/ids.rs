//! Versions, clocks and the small `Copy` ids that cross the boundary.

use std::fmt;
use std::time::Duration;

use abi_stable::StableAbi;

/// A plugin ABI version: the `major.minor` of `dialgate-plugin-abi`.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AbiVersion {
    /// Incompatible changes bump this; host and plugin must agree on it.
    pub major: u16,
    /// Additive changes bump this; a host loads plugins whose minor is not newer than its own.
    pub minor: u16,
}

/// The ABI version this crate defines (kept equal to the crate's version by a test).
pub const ABI_VERSION: AbiVersion = AbiVersion { major: 1, minor: 3 };

impl AbiVersion {
    /// Parses `"major.minor[.patch[-pre]]"`, as found in a library's abi_stable header.
    pub fn parse(text: &str) -> Option<AbiVersion> {
        let mut parts = text.splitn(3, '.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(AbiVersion { major, minor })
    }

    /// Whether a host at version `self` can load a plugin built against `plugin`: same major,
    /// and a minor that is not newer than the host's.
    pub fn can_load(self, plugin: AbiVersion) -> bool {
        self.major == plugin.major && plugin.minor <= self.minor
    }
}

impl fmt::Display for AbiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A point on the host's monotonic clock, in nanoseconds from an origin the host chooses.
///
/// Plugins never read a clock: every call carries `now`, and timers are set as deadlines on
/// this clock ([`crate::Host::set_timer`]).
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp {
    nanos: u64,
}

impl Timestamp {
    /// The clock's origin.
    pub const ZERO: Timestamp = Timestamp { nanos: 0 };

    /// The instant `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: u64) -> Timestamp {
        Timestamp { nanos }
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// `self + d`, saturating at the end of the clock.
    pub fn saturating_add(self, d: Duration) -> Timestamp {
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Timestamp {
            nanos: self.nanos.saturating_add(d),
        }
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }
}

macro_rules! id {
    ($(#[$doc:meta])* $name:ident($int:ty)) => {
        $(#[$doc])*
        #[repr(transparent)]
        #[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $int);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id! {
    /// One call on a link plugin (a PPP link), chosen by the plugin, unique within its instance.
    LinkId(u64)
}
id! {
    /// One PPP session in the core, as seen by LAN-protocol plugins; chosen by the host.
    SessionId(u64)
}
id! {
    /// A host-owned I/O object (tty, TCP listener or connection, raw IP or packet socket).
    HandleId(u64)
}
id! {
    /// A timer, named by the plugin; setting it again moves its deadline.
    TimerId(u64)
}

/// A PPP protocol number (RFC 1661 §2, assigned numbers in the IANA PPP registry).
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PppProtocol(pub u16);

impl PppProtocol {
    /// Novell IPX datagrams (RFC 1552).
    pub const IPX: PppProtocol = PppProtocol(0x002B);
    /// NetBIOS Frames (RFC 2097).
    pub const NBF: PppProtocol = PppProtocol(0x003F);
    /// The IPX Control Protocol, IPXCP (RFC 1552).
    pub const IPXCP: PppProtocol = PppProtocol(0x802B);
    /// The NetBIOS Frames Control Protocol, NBFCP (RFC 2097).
    pub const NBFCP: PppProtocol = PppProtocol(0x803F);
}

impl fmt::Display for PppProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:04X}", self.0)
    }
}

/// What a plugin does: an open code space (a newtype, so new kinds are an additive change).
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PluginKind(pub u8);

impl PluginKind {
    /// Turns a transport into PPP frames per call (pptp, serial, isdn).
    pub const LINK: PluginKind = PluginKind(1);
    /// Registers PPP protocol numbers and moves their frames between sessions and the LAN
    /// (ipx-bridge, netbeui).
    pub const LAN_PROTOCOL: PluginKind = PluginKind(2);
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PluginKind::LINK => f.write_str("link"),
            PluginKind::LAN_PROTOCOL => f.write_str("lan-protocol"),
            PluginKind(other) => write!(f, "unknown kind {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_version_is_the_crate_version() {
        assert_eq!(
            AbiVersion::parse(env!("CARGO_PKG_VERSION")),
            Some(ABI_VERSION)
        );
    }

    #[test]
    fn abi_version_parse() {
        assert_eq!(
            AbiVersion::parse("2.13.0-frozen"),
            Some(AbiVersion {
                major: 2,
                minor: 13
            })
        );
        assert_eq!(
            AbiVersion::parse("1.0"),
            Some(AbiVersion { major: 1, minor: 0 })
        );
        assert_eq!(AbiVersion::parse("1"), None);
        assert_eq!(AbiVersion::parse("x.0.0"), None);
        assert_eq!(AbiVersion::parse(""), None);
        assert_eq!(AbiVersion::parse("70000.0.0"), None);
    }

    #[test]
    fn can_load_same_major_older_or_equal_minor() {
        let host = AbiVersion { major: 1, minor: 2 };
        assert!(host.can_load(AbiVersion { major: 1, minor: 0 }));
        assert!(host.can_load(AbiVersion { major: 1, minor: 2 }));
        assert!(!host.can_load(AbiVersion { major: 1, minor: 3 }));
        assert!(!host.can_load(AbiVersion { major: 2, minor: 0 }));
        assert!(!host.can_load(AbiVersion { major: 0, minor: 2 }));
    }

    #[test]
    fn timestamp_arithmetic_saturates() {
        let t = Timestamp::from_nanos(5);
        assert_eq!(t.saturating_add(Duration::from_nanos(7)).as_nanos(), 12);
        assert_eq!(
            Timestamp::from_nanos(u64::MAX - 1)
                .saturating_add(Duration::from_secs(1))
                .as_nanos(),
            u64::MAX
        );
        assert_eq!(
            t.saturating_duration_since(Timestamp::from_nanos(9)),
            Duration::ZERO
        );
        assert_eq!(
            Timestamp::from_nanos(9).saturating_duration_since(t),
            Duration::from_nanos(4)
        );
    }
}
