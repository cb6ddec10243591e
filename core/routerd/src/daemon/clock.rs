//! The daemon's clock: one monotonic origin for the whole process, so that plugin
//! [`Timestamp`]s, engine [`Instant`]s and tokio deadlines convert into each other.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dialgate_plugin_host::abi::Timestamp;

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Now, as an [`Instant`].
pub fn now() -> Instant {
    // Make sure the origin is not later than the instant returned.
    let _ = origin();
    Instant::now()
}

/// An [`Instant`] as a plugin [`Timestamp`] (nanoseconds since the process origin).
pub fn to_timestamp(at: Instant) -> Timestamp {
    let nanos = at.saturating_duration_since(origin()).as_nanos();
    Timestamp::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// A plugin [`Timestamp`] as an [`Instant`].
pub fn to_instant(ts: Timestamp) -> Instant {
    let o = origin();
    o.checked_add(Duration::from_nanos(ts.as_nanos()))
        .unwrap_or_else(|| o + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Now, as a plugin [`Timestamp`].
pub fn timestamp() -> Timestamp {
    to_timestamp(now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact_to_the_nanosecond() {
        let a = now() + Duration::from_millis(1234);
        assert_eq!(to_instant(to_timestamp(a)), a);
        assert!(timestamp() <= to_timestamp(now()));
    }
}
