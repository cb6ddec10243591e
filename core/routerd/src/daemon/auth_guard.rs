//! Per-source authentication-failure rate limiting: failed authentications are counted
//! against the caller's IP address (what a link plugin reports as the peer, `ip:port` for
//! PPTP); after `auth_failures_per_source` failures within `auth_failure_window_secs`, calls
//! from that address are refused for `auth_lockout_secs`.
//!
//! [`AuthFailures`] is sans-IO: every method takes `now`. Its table is bounded
//! ([`AuthFailures::capacity`]): when a new source arrives and the table is full, the source
//! touched longest ago is forgotten, so a flood of sources cannot grow memory without bound.
//!
//! [`SessionBackend`] is the authentication backend of one answering session: the local
//! users, behind the lockout of the caller's source and the per-user session limit (checked
//! as soon as the credentials are known to be good, before the peer is told so).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dialgate_ppp::auth::{
    AuthBackend, AuthRequest, E_NO_DIALIN_PERMISSION, LocalUsers, RejectReason, Rejected,
    RequestContext, Verdict,
};

use super::clock;
use super::router::{Router, lock};
use crate::config::LimitsConfig;
use crate::users::NetProtocol;

/// The end reason of a session refused by the per-user limit.
pub const PER_USER_LIMIT: &str = "per-user session limit exceeded";

/// The end reason of a session whose source was locked out while it authenticated.
pub const LOCKED_OUT: &str = "source locked out after repeated authentication failures";

/// The end reason of a session whose user may not call in on this link.
pub const LINK_NOT_ALLOWED: &str = "user may not use this link";

/// The end reason of a session whose user may run none of the link's network protocols.
pub const NO_PROTOCOL_ALLOWED: &str = "user may run none of this link's network protocols";

/// The longest user name kept for records (names are at most 255 octets on the wire).
const MAX_USER_CHARS: usize = 255;

/// Why a session's backend refused credentials that may well have been right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The user has as many sessions as `limits.per_user_sessions` allows.
    PerUserLimit,
    /// The caller's source is locked out.
    LockedOut,
    /// The user may not call in on this link's plugin (users file `links`).
    LinkNotAllowed,
    /// The user may run none of the link's network protocols (users file `protocols`).
    NoProtocolAllowed,
}

impl Refusal {
    /// The session's end reason.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::PerUserLimit => PER_USER_LIMIT,
            Refusal::LockedOut => LOCKED_OUT,
            Refusal::LinkNotAllowed => LINK_NOT_ALLOWED,
            Refusal::NoProtocolAllowed => NO_PROTOCOL_ALLOWED,
        }
    }
}

/// What a session's backend saw, for the session's records.
#[derive(Debug, Default)]
pub struct AuthNote {
    inner: Mutex<NoteInner>,
}

#[derive(Debug, Default)]
struct NoteInner {
    user: Option<String>,
    refusal: Option<Refusal>,
}

impl AuthNote {
    /// The last user name the peer presented.
    pub fn user(&self) -> Option<String> {
        lock(&self.inner).user.clone()
    }

    /// Why the backend refused the peer, if not for its credentials.
    pub fn refusal(&self) -> Option<Refusal> {
        lock(&self.inner).refusal
    }
}

/// The authentication backend of one answering session (see the [module docs](self)).
#[derive(Debug)]
pub struct SessionBackend {
    users: Arc<LocalUsers>,
    router: Arc<Router>,
    source: Option<IpAddr>,
    note: Arc<AuthNote>,
    link: LinkAccess,
}

/// What a session's link is, for the users' `links` and `protocols` attributes.
#[derive(Debug, Clone, Default)]
pub struct LinkAccess {
    /// The link's plugin (`[[link]] plugin`).
    pub plugin: String,
    /// The network protocols the link runs.
    pub protocols: Vec<NetProtocol>,
}

impl SessionBackend {
    /// A backend over the router's current users for a caller from `source` on `link`; its
    /// note is returned alongside.
    pub fn new(
        router: &Arc<Router>,
        source: Option<IpAddr>,
        link: LinkAccess,
    ) -> (Self, Arc<AuthNote>) {
        let note = Arc::new(AuthNote::default());
        let backend = SessionBackend {
            users: router.users(),
            router: router.clone(),
            source,
            note: note.clone(),
            link,
        };
        (backend, note)
    }

    /// Why the user's attributes keep it off this link, if they do.
    fn not_allowed(&self, user: &str) -> Option<Refusal> {
        let attrs = self.router.user_attrs(user);
        if !attrs.allows_link(&self.link.plugin) {
            return Some(Refusal::LinkNotAllowed);
        }
        let any = self
            .link
            .protocols
            .iter()
            .any(|p| attrs.allows_protocol(*p));
        (!any).then_some(Refusal::NoProtocolAllowed)
    }

    fn refuse(&self, refusal: Refusal) -> Verdict {
        lock(&self.note.inner).refusal = Some(refusal);
        // RFC 2759 §6: 649 (no dial-in permission) does not invite a retry.
        Verdict::Reject(Rejected {
            code: E_NO_DIALIN_PERMISSION,
            reason: RejectReason::Other(refusal.reason().into()),
        })
    }
}

impl AuthBackend for SessionBackend {
    fn verify(&self, ctx: RequestContext, req: &AuthRequest<'_>) -> Verdict {
        let user: String = String::from_utf8_lossy(req.user())
            .chars()
            .take(MAX_USER_CHARS)
            .collect();
        lock(&self.note.inner).user = Some(user.clone());
        let now = clock::now();
        if let Some(source) = self.source
            && self.router.locked_until(source, now).is_some()
        {
            return self.refuse(Refusal::LockedOut);
        }
        match self.users.verify(ctx, req) {
            Verdict::Reject(r) => {
                if let Some(source) = self.source {
                    self.router.record_auth_failure(source, now);
                }
                Verdict::Reject(r)
            }
            Verdict::Accept(a) => {
                if let Some(refusal) = self.not_allowed(&user) {
                    return self.refuse(refusal);
                }
                if self.router.user_at_limit(&user) {
                    return self.refuse(Refusal::PerUserLimit);
                }
                Verdict::Accept(a)
            }
            other => other,
        }
    }
}

/// Sources the table remembers at most.
pub const MAX_SOURCES: usize = 16_384;

/// The rate limit's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFailureLimits {
    /// Failures within `window` that lock a source out; 0 disables the limit.
    pub max_failures: u32,
    /// The window failures are counted in (from the first failure of the window).
    pub window: Duration,
    /// How long a source stays locked out.
    pub lockout: Duration,
}

impl AuthFailureLimits {
    /// The settings of a `[limits]` section.
    pub fn of(limits: &LimitsConfig) -> Self {
        AuthFailureLimits {
            max_failures: limits.auth_failures_per_source,
            window: Duration::from_secs(limits.auth_failure_window_secs.into()),
            lockout: Duration::from_secs(limits.auth_lockout_secs.into()),
        }
    }
}

/// The source IP address of a link's peer as its plugin describes it: `ip:port`, `[v6]:port`
/// or a bare address; `None` for anything else (a tty path, a phone number).
pub fn source_ip(peer: &str) -> Option<IpAddr> {
    let ip = peer
        .parse::<SocketAddr>()
        .map(|sa| sa.ip())
        .or_else(|_| peer.parse::<IpAddr>())
        .ok()?;
    Some(ip.to_canonical())
}

/// What recording a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Counted: this many failures in the current window.
    Counted(u32),
    /// This failure reached the limit: the source is locked out until then.
    LockedOut(Instant),
    /// The limit is disabled, or the source is locked out already.
    Ignored,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
    /// Position in `AuthFailures::order` (last touched).
    seq: u64,
}

/// The failure table (see the [module docs](self)).
#[derive(Debug)]
pub struct AuthFailures {
    limits: AuthFailureLimits,
    entries: HashMap<IpAddr, Entry>,
    /// Sources by last touch, oldest first.
    order: BTreeMap<u64, IpAddr>,
    next_seq: u64,
    capacity: usize,
}

impl AuthFailures {
    /// An empty table with `limits`, remembering at most `capacity` sources (at least 1).
    pub fn new(limits: AuthFailureLimits, capacity: usize) -> Self {
        AuthFailures {
            limits,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            capacity: capacity.max(1),
        }
    }

    /// New settings (a configuration change); what was counted stays.
    pub fn set_limits(&mut self, limits: AuthFailureLimits) {
        self.limits = limits;
    }

    /// The settings in force.
    pub fn limits(&self) -> AuthFailureLimits {
        self.limits
    }

    /// Sources remembered now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no source is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most sources remembered.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// When `source`'s lockout ends, if it is locked out at `now`.
    pub fn locked_until(&self, source: IpAddr, now: Instant) -> Option<Instant> {
        if self.limits.max_failures == 0 {
            return None;
        }
        self.entries
            .get(&source)
            .and_then(|e| e.locked_until)
            .filter(|until| *until > now)
    }

    /// Records one failed authentication from `source` at `now`.
    pub fn record_failure(&mut self, source: IpAddr, now: Instant) -> Recorded {
        let limits = self.limits;
        if limits.max_failures == 0 {
            return Recorded::Ignored;
        }
        let seq = self.touch(source, now);
        let Some(entry) = self.entries.get_mut(&source) else {
            return Recorded::Ignored;
        };
        entry.seq = seq;
        if let Some(until) = entry.locked_until {
            if until > now {
                return Recorded::Ignored;
            }
            entry.locked_until = None;
            entry.failures = 0;
        }
        if entry.failures == 0 || now.saturating_duration_since(entry.window_start) > limits.window
        {
            entry.failures = 0;
            entry.window_start = now;
        }
        entry.failures = entry.failures.saturating_add(1);
        if entry.failures >= limits.max_failures {
            let until = now + limits.lockout;
            entry.locked_until = Some(until);
            entry.failures = 0;
            return Recorded::LockedOut(until);
        }
        Recorded::Counted(entry.failures)
    }

    /// Marks `source` as touched at `now` (creating its entry, evicting the oldest source
    /// when the table is full); returns its new position.
    fn touch(&mut self, source: IpAddr, now: Instant) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(entry) = self.entries.get(&source) {
            self.order.remove(&entry.seq);
        } else {
            while self.entries.len() >= self.capacity {
                let Some((_, oldest)) = self.order.pop_first() else {
                    break;
                };
                self.entries.remove(&oldest);
            }
            self.entries.insert(
                source,
                Entry {
                    failures: 0,
                    window_start: now,
                    locked_until: None,
                    seq,
                },
            );
        }
        self.order.insert(seq, source);
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(n: u32) -> AuthFailureLimits {
        AuthFailureLimits {
            max_failures: n,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(300),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn source_ip_reads_pptp_peers_and_ignores_the_rest() {
        assert_eq!(source_ip("192.0.2.7:1723"), Some(ip("192.0.2.7")));
        assert_eq!(source_ip("[2001:db8::1]:1723"), Some(ip("2001:db8::1")));
        assert_eq!(source_ip("198.51.100.4"), Some(ip("198.51.100.4")));
        assert_eq!(source_ip("[::ffff:192.0.2.9]:47"), Some(ip("192.0.2.9")));
        for other in [
            "",
            "/dev/ttyS0",
            "+4930123456",
            "host.example:1723",
            "1.2.3",
        ] {
            assert_eq!(source_ip(other), None, "{other:?}");
        }
    }

    #[test]
    fn n_failures_within_the_window_lock_the_source_out_until_the_lockout_ends() {
        let t0 = Instant::now();
        let mut t = AuthFailures::new(limits(3), 100);
        let src = ip("192.0.2.7");
        let other = ip("192.0.2.8");
        assert_eq!(t.record_failure(src, t0), Recorded::Counted(1));
        assert_eq!(
            t.record_failure(src, t0 + Duration::from_secs(10)),
            Recorded::Counted(2)
        );
        assert_eq!(t.record_failure(other, t0), Recorded::Counted(1));
        assert_eq!(t.locked_until(src, t0 + Duration::from_secs(10)), None);
        let third = t0 + Duration::from_secs(20);
        let until = third + Duration::from_secs(300);
        assert_eq!(t.record_failure(src, third), Recorded::LockedOut(until));
        assert_eq!(t.locked_until(src, third), Some(until));
        assert_eq!(
            t.locked_until(src, until - Duration::from_secs(1)),
            Some(until)
        );
        assert_eq!(t.locked_until(other, third), None, "only that source");
        // Failures while locked out change nothing.
        assert_eq!(
            t.record_failure(src, third + Duration::from_secs(1)),
            Recorded::Ignored
        );
        // The lockout ends; counting starts again.
        assert_eq!(t.locked_until(src, until), None);
        assert_eq!(t.record_failure(src, until), Recorded::Counted(1));
    }

    #[test]
    fn failures_spread_over_more_than_the_window_do_not_lock_out() {
        let t0 = Instant::now();
        let mut t = AuthFailures::new(limits(3), 100);
        let src = ip("2001:db8::5");
        assert_eq!(t.record_failure(src, t0), Recorded::Counted(1));
        assert_eq!(
            t.record_failure(src, t0 + Duration::from_secs(30)),
            Recorded::Counted(2)
        );
        // 61 s after the window began: a new window.
        assert_eq!(
            t.record_failure(src, t0 + Duration::from_secs(61)),
            Recorded::Counted(1)
        );
        assert_eq!(t.locked_until(src, t0 + Duration::from_secs(61)), None);
    }

    #[test]
    fn zero_disables_the_limit() {
        let t0 = Instant::now();
        let mut t = AuthFailures::new(limits(0), 100);
        let src = ip("192.0.2.7");
        for i in 0..100 {
            assert_eq!(
                t.record_failure(src, t0 + Duration::from_secs(i)),
                Recorded::Ignored
            );
        }
        assert_eq!(t.locked_until(src, t0), None);
        assert!(t.is_empty());
    }

    #[test]
    fn a_flood_of_sources_is_bounded_and_evicts_the_oldest() {
        let t0 = Instant::now();
        let mut t = AuthFailures::new(limits(2), 4);
        let first = ip("10.0.0.1");
        assert_eq!(t.record_failure(first, t0), Recorded::Counted(1));
        for i in 2..=4u8 {
            t.record_failure(IpAddr::from([10, 0, 0, i]), t0);
        }
        // Touching `first` again makes 10.0.0.2 the oldest.
        assert!(matches!(
            t.record_failure(first, t0),
            Recorded::LockedOut(_)
        ));
        for i in 0..10_000u32 {
            let [_, a, b, c] = i.to_be_bytes();
            t.record_failure(IpAddr::from([172, a, b, c]), t0);
            assert!(t.len() <= 4);
        }
        assert_eq!(t.len(), t.capacity());
        assert_eq!(t.locked_until(first, t0), None, "evicted by the flood");
        // A fresh table: eviction order follows the last touch.
        let mut t = AuthFailures::new(limits(2), 2);
        t.record_failure(ip("10.0.0.1"), t0);
        t.record_failure(ip("10.0.0.2"), t0);
        t.record_failure(ip("10.0.0.1"), t0); // locks 10.0.0.1 out, touches it
        t.record_failure(ip("10.0.0.3"), t0); // evicts 10.0.0.2
        assert!(t.locked_until(ip("10.0.0.1"), t0).is_some());
        assert_eq!(t.record_failure(ip("10.0.0.2"), t0), Recorded::Counted(1));
    }

    #[test]
    fn new_limits_apply_to_what_was_counted() {
        let t0 = Instant::now();
        let mut t = AuthFailures::new(limits(5), 10);
        let src = ip("192.0.2.1");
        t.record_failure(src, t0);
        t.record_failure(src, t0);
        t.set_limits(limits(3));
        assert!(matches!(t.record_failure(src, t0), Recorded::LockedOut(_)));
    }
}
