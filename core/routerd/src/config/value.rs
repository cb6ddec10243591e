//! Value types of the schema that TOML has no native form for: address ranges and IPv6
//! prefixes, written as strings and checked while deserializing (so that a malformed one is
//! reported at its own line and column).

use core::fmt;
use core::str::FromStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Deserializes a `T` from a string through a visitor, so that a parse error is raised inside
/// the value's own deserializer and carries that value's span (not its array's).
pub(crate) fn deserialize_from_str<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    struct V<T>(&'static str, core::marker::PhantomData<T>);
    impl<T: FromStr> serde::de::Visitor<'_> for V<T>
    where
        T::Err: fmt::Display,
    {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }
    }
    deserializer.deserialize_str(V(expecting, core::marker::PhantomData))
}

/// An inclusive IPv4 address range, written `"192.0.2.10-192.0.2.99"` or as one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Range {
    /// First address.
    pub first: Ipv4Addr,
    /// Last address (inclusive, not below `first`).
    pub last: Ipv4Addr,
}

impl Ipv4Range {
    /// A range; `None` when `last` is below `first`.
    pub fn new(first: Ipv4Addr, last: Ipv4Addr) -> Option<Self> {
        (first <= last).then_some(Ipv4Range { first, last })
    }

    /// Number of addresses in the range.
    pub fn len(&self) -> u64 {
        u64::from(u32::from(self.last)) - u64::from(u32::from(self.first)) + 1
    }

    /// Always false: a range holds at least one address.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `addr` is inside the range.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.first <= addr && addr <= self.last
    }

    /// Whether the two ranges share an address.
    pub fn overlaps(&self, other: &Ipv4Range) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

impl fmt::Display for Ipv4Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Why a string is not a [`Ipv4Range`] or [`Ipv6Prefix`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not `a.b.c.d-a.b.c.e` or `a.b.c.d`.
    #[error("bad address range {0:?}: expected \"a.b.c.d-a.b.c.e\" or \"a.b.c.d\"")]
    RangeSyntax(String),
    /// The last address is below the first.
    #[error("address range {0:?} ends before it starts")]
    RangeReversed(String),
    /// Not `address/length`.
    #[error("bad IPv6 prefix {0:?}: expected \"2001:db8::/48\"")]
    PrefixSyntax(String),
    /// The length is above 128.
    #[error("IPv6 prefix {0:?}: length above 128")]
    PrefixLength(String),
    /// Bits set beyond the prefix length.
    #[error("IPv6 prefix {0:?} has host bits set (did you mean {1}?)")]
    PrefixHostBits(String, Ipv6Prefix),
    /// Not `address/length` (IPv4 or IPv6).
    #[error("bad route prefix {0:?}: expected \"10.20.0.0/24\" or \"2001:db8::/48\"")]
    RouteSyntax(String),
    /// The length is above 32 (IPv4) or 128 (IPv6).
    #[error("route prefix {0:?}: length above the address width")]
    RouteLength(String),
    /// Bits set beyond the prefix length.
    #[error("route prefix {0:?} has host bits set (did you mean {1}?)")]
    RouteHostBits(String, RoutePrefix),
}

fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

impl FromStr for Ipv4Range {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || ValueError::RangeSyntax(shorten(s));
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (s.trim(), s.trim()),
        };
        let first: Ipv4Addr = a.parse().map_err(|_| syntax())?;
        let last: Ipv4Addr = b.parse().map_err(|_| syntax())?;
        Ipv4Range::new(first, last).ok_or_else(|| ValueError::RangeReversed(shorten(s)))
    }
}

impl Serialize for Ipv4Range {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Range {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_from_str(deserializer, "an address range \"a.b.c.d-a.b.c.e\"")
    }
}

/// An IPv6 prefix, written `"2001:db8:1::/48"`, with no bits set past its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv6Prefix {
    addr: Ipv6Addr,
    len: u8,
}

impl Ipv6Prefix {
    /// A prefix; `None` when `len` is above 128 or `addr` has bits set past `len`.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Self> {
        (len <= 128 && Self::mask(addr, len) == addr).then_some(Ipv6Prefix { addr, len })
    }

    fn mask(addr: Ipv6Addr, len: u8) -> Ipv6Addr {
        let bits = u128::from(addr);
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        Ipv6Addr::from(bits & mask)
    }

    /// The network address.
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether the prefix is ::/0.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `addr` is inside the prefix.
    pub fn contains(&self, addr: Ipv6Addr) -> bool {
        Self::mask(addr, self.len) == self.addr
    }
}

impl fmt::Display for Ipv6Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Ipv6Prefix {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || ValueError::PrefixSyntax(shorten(s));
        let (a, l) = s.split_once('/').ok_or_else(syntax)?;
        let addr: Ipv6Addr = a.parse().map_err(|_| syntax())?;
        let len: u8 = l.parse().map_err(|_| syntax())?;
        if len > 128 {
            return Err(ValueError::PrefixLength(shorten(s)));
        }
        Ipv6Prefix::new(addr, len).ok_or_else(|| {
            ValueError::PrefixHostBits(
                shorten(s),
                Ipv6Prefix {
                    addr: Self::mask(addr, len),
                    len,
                },
            )
        })
    }
}

impl Serialize for Ipv6Prefix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv6Prefix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_from_str(deserializer, "an IPv6 prefix \"2001:db8::/48\"")
    }
}

/// A destination network for a route, IPv4 or IPv6, written `"10.20.0.0/24"` or
/// `"2001:db8:20::/48"` (`"0.0.0.0/0"` and `"::/0"` are the default routes), with no bits set
/// past its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoutePrefix {
    addr: IpAddr,
    len: u8,
}

impl RoutePrefix {
    /// A prefix; `None` when `len` is above the family's width or `addr` has bits set past
    /// `len`.
    pub fn new(addr: IpAddr, len: u8) -> Option<Self> {
        (len <= Self::width(addr) && Self::mask(addr, len) == addr)
            .then_some(RoutePrefix { addr, len })
    }

    fn width(addr: IpAddr) -> u8 {
        if addr.is_ipv4() { 32 } else { 128 }
    }

    fn mask(addr: IpAddr, len: u8) -> IpAddr {
        match addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => IpAddr::V6(Ipv6Prefix::mask(a, len)),
        }
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether this is a default route (`0.0.0.0/0` or `::/0`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `addr` is inside the prefix (always false across families).
    pub fn contains(&self, addr: IpAddr) -> bool {
        addr.is_ipv4() == self.addr.is_ipv4() && Self::mask(addr, self.len) == self.addr
    }
}

impl fmt::Display for RoutePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for RoutePrefix {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || ValueError::RouteSyntax(shorten(s));
        let (a, l) = s.split_once('/').ok_or_else(syntax)?;
        let addr: IpAddr = a.parse().map_err(|_| syntax())?;
        let len: u8 = l.parse().map_err(|_| syntax())?;
        if len > Self::width(addr) {
            return Err(ValueError::RouteLength(shorten(s)));
        }
        RoutePrefix::new(addr, len).ok_or_else(|| {
            ValueError::RouteHostBits(
                shorten(s),
                RoutePrefix {
                    addr: Self::mask(addr, len),
                    len,
                },
            )
        })
    }
}

impl Serialize for RoutePrefix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RoutePrefix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_from_str(
            deserializer,
            "a route prefix \"10.20.0.0/24\" or \"2001:db8::/48\"",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_print() {
        let r: Ipv4Range = "192.0.2.10-192.0.2.99".parse().unwrap();
        assert_eq!(r.len(), 90);
        assert!(r.contains(Ipv4Addr::new(192, 0, 2, 10)));
        assert!(r.contains(Ipv4Addr::new(192, 0, 2, 99)));
        assert!(!r.contains(Ipv4Addr::new(192, 0, 2, 100)));
        assert_eq!(r.to_string(), "192.0.2.10-192.0.2.99");
        let one: Ipv4Range = "192.0.2.7".parse().unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one.to_string(), "192.0.2.7");
        assert_eq!(
            " 10.0.0.1 - 10.0.0.2 ".parse::<Ipv4Range>().unwrap().len(),
            2
        );
        let all: Ipv4Range = "0.0.0.0-255.255.255.255".parse().unwrap();
        assert_eq!(all.len(), 1 << 32);
    }

    #[test]
    fn ranges_reject_malformed() {
        assert!(matches!(
            "10.0.0.9-10.0.0.1".parse::<Ipv4Range>(),
            Err(ValueError::RangeReversed(_))
        ));
        for s in [
            "",
            "10.0.0.1-",
            "10.0.0.256",
            "10.0.0.1-10.0.0.2-10.0.0.3",
            "x",
        ] {
            assert!(
                matches!(s.parse::<Ipv4Range>(), Err(ValueError::RangeSyntax(_))),
                "{s:?}"
            );
        }
    }

    #[test]
    fn overlap_is_symmetric_and_inclusive() {
        let a: Ipv4Range = "10.0.0.1-10.0.0.10".parse().unwrap();
        let b: Ipv4Range = "10.0.0.10-10.0.0.20".parse().unwrap();
        let c: Ipv4Range = "10.0.0.11-10.0.0.20".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c) && !c.overlaps(&a));
    }

    #[test]
    fn prefixes() {
        let p: Ipv6Prefix = "2001:db8:1::/48".parse().unwrap();
        assert_eq!(p.len(), 48);
        assert!(p.contains("2001:db8:1:ffff::1".parse().unwrap()));
        assert!(!p.contains("2001:db8:2::1".parse().unwrap()));
        assert_eq!(p.to_string(), "2001:db8:1::/48");
        match "2001:db8:1::1/48".parse::<Ipv6Prefix>() {
            Err(ValueError::PrefixHostBits(_, fixed)) => assert_eq!(fixed, p),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            "::/129".parse::<Ipv6Prefix>(),
            Err(ValueError::PrefixLength(_))
        ));
        assert!("::/0".parse::<Ipv6Prefix>().unwrap().is_empty());
        for s in ["2001:db8::", "2001:db8::/x", "10.0.0.0/8", "/64"] {
            assert!(
                matches!(s.parse::<Ipv6Prefix>(), Err(ValueError::PrefixSyntax(_))),
                "{s:?}"
            );
        }
    }

    #[test]
    fn route_prefixes() {
        let v4: RoutePrefix = "10.20.0.0/24".parse().unwrap();
        assert_eq!(v4.len(), 24);
        assert!(v4.contains("10.20.0.77".parse().unwrap()));
        assert!(!v4.contains("10.20.1.1".parse().unwrap()));
        assert!(!v4.contains("::a14:1".parse().unwrap()));
        assert_eq!(v4.to_string(), "10.20.0.0/24");
        let v6: RoutePrefix = "2001:db8:20::/48".parse().unwrap();
        assert!(v6.contains("2001:db8:20:1::1".parse().unwrap()));
        assert_eq!(v6.to_string(), "2001:db8:20::/48");
        for default in ["0.0.0.0/0", "::/0"] {
            let d: RoutePrefix = default.parse().unwrap();
            assert!(d.is_empty(), "{default}");
        }
        assert_eq!(
            "10.20.0.1/32".parse::<RoutePrefix>().unwrap().to_string(),
            "10.20.0.1/32"
        );
        match "10.20.0.1/24".parse::<RoutePrefix>() {
            Err(ValueError::RouteHostBits(_, fixed)) => assert_eq!(fixed, v4),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            "10.0.0.0/33".parse::<RoutePrefix>(),
            Err(ValueError::RouteLength(_))
        ));
        assert!(matches!(
            "::/129".parse::<RoutePrefix>(),
            Err(ValueError::RouteLength(_))
        ));
        for s in ["10.0.0.0", "10.0.0.0/x", "eth0/24", "/24", ""] {
            assert!(
                matches!(s.parse::<RoutePrefix>(), Err(ValueError::RouteSyntax(_))),
                "{s:?}"
            );
        }
    }
}
