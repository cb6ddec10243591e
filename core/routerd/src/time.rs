//! UTC timestamps with millisecond resolution, written as RFC 3339 (`2024-05-01T12:00:00.123Z`).
//!
//! The store's history and the accounting log need a readable, sortable wall-clock time; this
//! avoids a date crate for one format. Only years 1970 to 9999 are represented.

use core::fmt;
use core::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    unix_ms: u64,
}

/// The last representable instant: 9999-12-31T23:59:59.999Z.
const MAX_UNIX_MS: u64 = 253_402_300_799_999;

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp { unix_ms: 0 };

    /// From milliseconds since the Unix epoch (clamped to year 9999).
    pub const fn from_unix_ms(unix_ms: u64) -> Self {
        Timestamp {
            unix_ms: if unix_ms > MAX_UNIX_MS {
                MAX_UNIX_MS
            } else {
                unix_ms
            },
        }
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_ms(self) -> u64 {
        self.unix_ms
    }

    /// From a wall-clock time (times before 1970 become the epoch).
    pub fn from_system_time(t: SystemTime) -> Self {
        let ms = t
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self::from_unix_ms(ms)
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// As a wall-clock time.
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.unix_ms)
    }

    /// Milliseconds from `earlier` to `self` (0 if `earlier` is later).
    pub fn ms_since(self, earlier: Timestamp) -> u64 {
        self.unix_ms.saturating_sub(earlier.unix_ms)
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // month is 1..=12 and day 1..=31 by construction.
    (year, month as u32, day as u32)
}

/// (year, month, day) to days since 1970-01-01, proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.unix_ms / 1000;
        let ms = self.unix_ms % 1000;
        let days = i64::try_from(secs / 86_400).unwrap_or(0);
        let rem = secs % 86_400;
        let (y, mo, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

/// A string that is not an RFC 3339 UTC timestamp of the form this module writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad timestamp {0:?}: expected YYYY-MM-DDTHH:MM:SS[.mmm]Z")]
pub struct BadTimestamp(String);

impl FromStr for Timestamp {
    type Err = BadTimestamp;

    /// Parses `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC only).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadTimestamp(s.chars().take(40).collect());
        let b = s.as_bytes();
        let num = |range: core::ops::Range<usize>| -> Result<u64, BadTimestamp> {
            let digits = b.get(range).ok_or_else(bad)?;
            digits.iter().try_fold(0u64, |acc, &c| {
                if c.is_ascii_digit() {
                    Ok(acc * 10 + u64::from(c - b'0'))
                } else {
                    Err(bad())
                }
            })
        };
        let sep = |i: usize, c: u8| -> Result<(), BadTimestamp> {
            if b.get(i) == Some(&c) {
                Ok(())
            } else {
                Err(bad())
            }
        };
        sep(4, b'-')?;
        sep(7, b'-')?;
        sep(10, b'T')?;
        sep(13, b':')?;
        sep(16, b':')?;
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let ms = match b.len() {
            20 => {
                sep(19, b'Z')?;
                0
            }
            24 => {
                sep(19, b'.')?;
                sep(23, b'Z')?;
                num(20..23)?
            }
            _ => return Err(bad()),
        };
        let year = i64::try_from(year).map_err(|_| bad())?;
        let (month, day) = (
            u32::try_from(month).map_err(|_| bad())?,
            u32::try_from(day).map_err(|_| bad())?,
        );
        if year < 1970
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(bad());
        }
        let days = u64::try_from(days_from_civil(year, month, day)).map_err(|_| bad())?;
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
        Ok(Timestamp::from_unix_ms(secs * 1000 + ms))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::config::deserialize_from_str(deserializer, "an RFC 3339 UTC timestamp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(Timestamp::EPOCH.to_string(), "1970-01-01T00:00:00.000Z");
        // 2000-02-29T12:34:56.789Z: a leap day in a year divisible by 400.
        let t = Timestamp::from_unix_ms(951_827_696_789);
        assert_eq!(t.to_string(), "2000-02-29T12:34:56.789Z");
        assert_eq!(
            Timestamp::from_unix_ms(u64::MAX).to_string(),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn parse_inverts_display() {
        for ms in [
            0,
            1,
            86_399_999,
            951_782_400_000,
            1_714_564_800_123,
            4_107_542_400_000,
            MAX_UNIX_MS,
        ] {
            let t = Timestamp::from_unix_ms(ms);
            assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t), "{t}");
        }
        assert_eq!(
            "2024-05-01T12:00:00Z"
                .parse::<Timestamp>()
                .map(|t| t.unix_ms()),
            Ok(1_714_564_800_000)
        );
    }

    #[test]
    fn parse_rejects_malformed() {
        for s in [
            "",
            "2024-05-01",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00+01:00",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "2024-05-01T12:00:00.1Z",
            "2024-05-01T12:00:00.12aZ",
            "２０２４-05-01T12:00:00Z",
        ] {
            assert!(s.parse::<Timestamp>().is_err(), "{s:?}");
        }
    }
}
