//! Browser sessions, CSRF tokens and the login rate limit.
//!
//! Every visitor gets a session (cookie `__Host-dg_session`: Secure, HttpOnly,
//! SameSite=Strict, Path=/) carrying a CSRF token, so the setup and login forms are protected
//! too. Logging in replaces the session with a fresh one (no session fixation). The table is
//! bounded: when full, expired sessions go first, then the oldest anonymous one.
//!
//! The login limiter counts failed logins per source address; too many within the window lock
//! that source out (even the right password is refused) until the lockout has passed. Its table
//! is bounded too. Time is a parameter everywhere (no clock is read here).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The session cookie's name (the `__Host-` prefix makes browsers insist on Secure, Path=/
/// and no Domain).
pub const COOKIE: &str = "__Host-dg_session";

/// The most sessions kept at once.
pub const MAX_SESSIONS: usize = 4096;

/// An authenticated session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// An anonymous session (setup/login form) ends after this long without a request.
pub const ANON_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Any session ends this long after it started.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);

/// A random token: 32 bytes as 64 hex digits.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    // getrandom only fails when the OS has no entropy source at all; a zero token would be
    // guessable, so fall back to something unique per process and time instead of panicking.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        b[..16].copy_from_slice(&t.to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One browser session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// Whether the admin logged in with it.
    pub authenticated: bool,
    /// A notice to show on the next page (after a redirect), taken once.
    pub flash: Option<String>,
    created: Instant,
    last_seen: Instant,
}

impl Session {
    fn expired(&self, now: Instant) -> bool {
        let idle = if self.authenticated {
            IDLE_TIMEOUT
        } else {
            ANON_TIMEOUT
        };
        now.saturating_duration_since(self.last_seen) > idle
            || now.saturating_duration_since(self.created) > ABSOLUTE_TIMEOUT
    }
}

/// The session table, keyed by the cookie's value.
#[derive(Debug, Default)]
pub struct Sessions {
    map: HashMap<String, Session>,
}

impl Sessions {
    /// Looks a session up and marks it used; `None` when unknown or expired.
    pub fn touch(&mut self, id: &str, now: Instant) -> Option<Session> {
        let s = self.map.get_mut(id)?;
        if s.expired(now) {
            self.map.remove(id);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Whether `id` is a live, logged-in session (without marking it used: a page left open
    /// does not keep its login alive).
    pub fn is_authenticated(&self, id: &str, now: Instant) -> bool {
        self.map
            .get(id)
            .is_some_and(|s| s.authenticated && !s.expired(now))
    }

    /// Starts a session; returns its id.
    pub fn create(&mut self, authenticated: bool, now: Instant) -> String {
        if self.map.len() >= MAX_SESSIONS {
            self.map.retain(|_, s| !s.expired(now));
        }
        if self.map.len() >= MAX_SESSIONS {
            let oldest_anon = self
                .map
                .iter()
                .filter(|(_, s)| !s.authenticated)
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone());
            let victim = oldest_anon.or_else(|| {
                self.map
                    .iter()
                    .min_by_key(|(_, s)| s.last_seen)
                    .map(|(k, _)| k.clone())
            });
            if let Some(v) = victim {
                self.map.remove(&v);
            }
        }
        let id = random_token();
        self.map.insert(
            id.clone(),
            Session {
                csrf: random_token(),
                authenticated,
                flash: None,
                created: now,
                last_seen: now,
            },
        );
        id
    }

    /// Leaves a notice for the session's next page.
    pub fn set_flash(&mut self, id: &str, message: impl Into<String>) {
        if let Some(s) = self.map.get_mut(id) {
            s.flash = Some(message.into());
        }
    }

    /// Takes the session's notice, if any.
    pub fn take_flash(&mut self, id: &str) -> Option<String> {
        self.map.get_mut(id).and_then(|s| s.flash.take())
    }

    /// Ends a session.
    pub fn remove(&mut self, id: &str) {
        self.map.remove(id);
    }

    /// Ends every authenticated session (after the admin password changed).
    pub fn remove_authenticated(&mut self) {
        self.map.retain(|_, s| !s.authenticated);
    }

    /// How many sessions are kept.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Login limiter settings.
#[derive(Debug, Clone, Copy)]
pub struct LimitPolicy {
    /// Failed logins from one source within `window` that lock it out.
    pub max_failures: u32,
    /// The window failures are counted in.
    pub window: Duration,
    /// How long a source stays locked out.
    pub lockout: Duration,
}

impl Default for LimitPolicy {
    fn default() -> Self {
        LimitPolicy {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

/// The most sources the limiter remembers.
pub const MAX_TRACKED_SOURCES: usize = 4096;

/// Counts failed logins per source address.
#[derive(Debug)]
pub struct LoginLimiter {
    policy: LimitPolicy,
    map: HashMap<IpAddr, Failures>,
}

impl LoginLimiter {
    /// A limiter with `policy`.
    pub fn new(policy: LimitPolicy) -> Self {
        LoginLimiter {
            policy,
            map: HashMap::new(),
        }
    }

    /// When `source` is locked out, how long it still is.
    pub fn locked(&mut self, source: IpAddr, now: Instant) -> Option<Duration> {
        let f = self.map.get(&source)?;
        match f.locked_until {
            Some(until) if until > now => Some(until - now),
            Some(_) => {
                self.map.remove(&source);
                None
            }
            None => None,
        }
    }

    /// Records a failed login; returns true when this failure locked the source out.
    pub fn failure(&mut self, source: IpAddr, now: Instant) -> bool {
        if !self.map.contains_key(&source) && self.map.len() >= MAX_TRACKED_SOURCES {
            let policy = self.policy;
            self.map.retain(|_, f| match f.locked_until {
                Some(until) => until > now,
                None => now.saturating_duration_since(f.first) <= policy.window,
            });
            if self.map.len() >= MAX_TRACKED_SOURCES {
                // Still full of live entries: forget the oldest unlocked one.
                let victim = self
                    .map
                    .iter()
                    .filter(|(_, f)| f.locked_until.is_none())
                    .min_by_key(|(_, f)| f.first)
                    .map(|(k, _)| *k);
                match victim {
                    Some(v) => {
                        self.map.remove(&v);
                    }
                    None => return false,
                }
            }
        }
        let policy = self.policy;
        let f = self.map.entry(source).or_insert(Failures {
            count: 0,
            first: now,
            locked_until: None,
        });
        if now.saturating_duration_since(f.first) > policy.window {
            *f = Failures {
                count: 0,
                first: now,
                locked_until: None,
            };
        }
        f.count = f.count.saturating_add(1);
        if f.count >= policy.max_failures && f.locked_until.is_none() {
            f.locked_until = Some(now + policy.lockout);
            return true;
        }
        false
    }

    /// Starts a login attempt from `source`: refused with the remaining lockout when it is
    /// locked out; otherwise counted as a failure *before* the (slow) password check, so
    /// that parallel attempts cannot all pass the check before the first failure is
    /// recorded. A successful login then calls [`Self::success`], which forgets it.
    pub fn attempt(&mut self, source: IpAddr, now: Instant) -> Result<(), Duration> {
        if let Some(left) = self.locked(source, now) {
            return Err(left);
        }
        self.failure(source, now);
        Ok(())
    }

    /// Forgets the failures of `source` (after a successful login).
    pub fn success(&mut self, source: IpAddr) {
        self.map.remove(&source);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_random_hex() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(constant_time_eq(&a, &a.clone()));
        assert!(!constant_time_eq(&a, &b));
        assert!(!constant_time_eq("ab", "abc"));
    }

    #[test]
    fn sessions_expire_and_stay_bounded() {
        let t0 = Instant::now();
        let mut s = Sessions::default();
        let id = s.create(true, t0);
        assert!(s.touch(&id, t0 + Duration::from_secs(60)).is_some());
        assert!(
            s.touch(
                &id,
                t0 + Duration::from_secs(60) + IDLE_TIMEOUT + Duration::from_secs(1)
            )
            .is_none()
        );
        assert!(s.is_empty());
        let admin = s.create(true, t0);
        for _ in 0..MAX_SESSIONS + 10 {
            s.create(false, t0 + Duration::from_secs(1));
        }
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(
            s.touch(&admin, t0 + Duration::from_secs(2)).is_some(),
            "anonymous sessions go first"
        );
    }

    #[test]
    fn lockout_after_max_failures_then_expires() {
        let t0 = Instant::now();
        let policy = LimitPolicy {
            max_failures: 3,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
        };
        let mut l = LoginLimiter::new(policy);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(!l.failure(ip, t0));
        assert!(!l.failure(ip, t0));
        assert!(l.locked(ip, t0).is_none());
        assert!(l.failure(ip, t0 + Duration::from_secs(1)));
        assert!(l.locked(ip, t0 + Duration::from_secs(2)).is_some());
        assert!(l.locked(other, t0).is_none(), "per source");
        assert!(l.locked(ip, t0 + Duration::from_secs(302)).is_none());
        // Attempts count before their result is known: the fourth of four parallel attempts
        // from a fresh source is refused before any password check.
        let third: IpAddr = "192.0.2.9".parse().unwrap();
        let t1 = t0 + Duration::from_secs(1000);
        assert!(l.attempt(third, t1).is_ok());
        assert!(l.attempt(third, t1).is_ok());
        assert!(l.attempt(third, t1).is_ok());
        assert!(l.attempt(third, t1).is_err());
        // A success forgets them.
        let fourth: IpAddr = "192.0.2.10".parse().unwrap();
        assert!(l.attempt(fourth, t1).is_ok());
        assert!(l.attempt(fourth, t1).is_ok());
        l.success(fourth);
        assert!(l.attempt(fourth, t1).is_ok());
        assert!(l.attempt(fourth, t1).is_ok());
        assert!(l.locked(fourth, t1).is_none());
        // Failures spread wider than the window never lock.
        for i in 0..10 {
            assert!(!l.failure(other, t0 + Duration::from_secs(61 * i)));
        }
    }
}
