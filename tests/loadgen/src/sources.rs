//! Source addresses: `10.99.0.0/20` (every host address of the prefix), `10.99.0.1-10.99.0.9`
//! (a range), `10.99.0.1` (one), or a comma-separated list of these.

use std::fmt;
use std::net::Ipv4Addr;

/// A parse error, with the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad source addresses {:?}: use A.B.C.D, A.B.C.D/LEN or A.B.C.D-A.B.C.D",
            self.0
        )
    }
}

impl std::error::Error for ParseError {}

/// Most addresses a list may hold.
pub const MAX_SOURCES: usize = 1 << 20;

/// Parse a list of source addresses (see the module documentation), in order, without
/// duplicates removed.
pub fn parse(text: &str) -> Result<Vec<Ipv4Addr>, ParseError> {
    let err = || ParseError(text.to_owned());
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (first, last) = if let Some((addr, len)) = part.split_once('/') {
            let addr: Ipv4Addr = addr.parse().map_err(|_| err())?;
            let len: u32 = len.parse().map_err(|_| err())?;
            if len > 32 {
                return Err(err());
            }
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            let net = u32::from(addr) & mask;
            let bcast = net | !mask;
            if len >= 31 {
                (net, bcast)
            } else {
                (net + 1, bcast - 1)
            }
        } else if let Some((a, b)) = part.split_once('-') {
            let a: Ipv4Addr = a.trim().parse().map_err(|_| err())?;
            let b: Ipv4Addr = b.trim().parse().map_err(|_| err())?;
            (u32::from(a), u32::from(b))
        } else {
            let a: Ipv4Addr = part.parse().map_err(|_| err())?;
            (u32::from(a), u32::from(a))
        };
        if first > last || (last - first) as usize >= MAX_SOURCES - out.len().min(MAX_SOURCES) {
            return Err(err());
        }
        out.extend((first..=last).map(Ipv4Addr::from));
    }
    if out.is_empty() {
        return Err(err());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_ranges_and_lists() {
        let v = parse("10.99.0.0/30").unwrap();
        assert_eq!(
            v,
            [Ipv4Addr::new(10, 99, 0, 1), Ipv4Addr::new(10, 99, 0, 2)]
        );
        assert_eq!(parse("10.99.0.0/20").unwrap().len(), 4094);
        assert_eq!(parse("10.0.0.7/32").unwrap(), [Ipv4Addr::new(10, 0, 0, 7)]);
        assert_eq!(parse("10.0.0.6/31").unwrap().len(), 2);
        let v = parse("10.0.0.9, 10.0.0.1-10.0.0.3").unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0], Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(v[3], Ipv4Addr::new(10, 0, 0, 3));
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "",
            "10.0.0.1/33",
            "10.0.0.3-10.0.0.1",
            "host",
            "10.0.0.0/x",
            "0.0.0.0/0",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
