//! Authenticator and Peer wired back to back, on a virtual clock.

// Test code: a failed unwrap is a failed test (helpers sit outside #[test] functions).
#![allow(clippy::unwrap_used)]

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dialgate_ppp::auth::*;

/// Deterministic "randomness": an xorshift stream, different per seed.
fn rng(seed: u8) -> FillRandom {
    let mut n = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(seed);
    Box::new(move |buf: &mut [u8]| {
        for b in buf {
            n ^= n << 13;
            n ^= n >> 7;
            n ^= n << 17;
            *b = (n >> 24) as u8;
        }
    })
}

fn users() -> Arc<LocalUsers> {
    let mut u = LocalUsers::with_weak_cleartext_secrets();
    u.add_password("alice", "correct horse").unwrap();
    u.add_weak_cleartext_secret("bob", "bobsecret").unwrap();
    Arc::new(u)
}

fn all_weak() -> AuthPolicy {
    AuthPolicy {
        allow_weak_mschap_v1: true,
        allow_weak_chap_md5: true,
        allow_weak_pap_cleartext: true,
    }
}

fn server_cfg() -> AuthenticatorConfig {
    AuthenticatorConfig {
        name: "dialgate".into(),
        ..AuthenticatorConfig::default()
    }
}

struct Link {
    now: Instant,
    auth: Authenticator,
    peer: Peer,
    /// Drop the n-th packet from authenticator to peer (0-based) if set.
    drop_a2p: Vec<usize>,
    drop_p2a: Vec<usize>,
    a2p: usize,
    p2a: usize,
    /// Every packet the authenticator sent, in order.
    a_sent: Vec<Vec<u8>>,
    p_sent: Vec<Vec<u8>>,
}

impl Link {
    fn new(method: Method, backend: Arc<dyn AuthBackend>, user: &str, password: &str) -> Link {
        Link::with(
            method,
            server_cfg(),
            backend,
            user,
            password,
            PeerConfig::default(),
        )
    }

    fn with(
        method: Method,
        cfg: AuthenticatorConfig,
        backend: Arc<dyn AuthBackend>,
        user: &str,
        password: &str,
        pcfg: PeerConfig,
    ) -> Link {
        let now = Instant::now();
        let auth = Authenticator::new(method, cfg, backend, rng(1));
        let creds = Credentials::new(user, password).unwrap();
        let peer = Peer::new(method, &all_weak(), pcfg, creds, rng(2)).unwrap();
        Link {
            now,
            auth,
            peer,
            drop_a2p: vec![],
            drop_p2a: vec![],
            a2p: 0,
            p2a: 0,
            a_sent: vec![],
            p_sent: vec![],
        }
    }

    fn start(&mut self) {
        self.peer.start(self.now);
        self.auth.start(self.now);
        self.pump();
    }

    /// Deliver packets both ways until neither side has anything to send.
    fn pump(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            while let Some(t) = self.auth.poll_transmit() {
                moved = true;
                self.a_sent.push(t.data.clone());
                let n = self.a2p;
                self.a2p += 1;
                if !self.drop_a2p.contains(&n) {
                    self.peer.handle_packet(self.now, t.protocol, &t.data);
                }
            }
            while let Some(t) = self.peer.poll_transmit() {
                moved = true;
                self.p_sent.push(t.data.clone());
                let n = self.p2a;
                self.p2a += 1;
                if !self.drop_p2a.contains(&n) {
                    self.auth.handle_packet(self.now, t.protocol, &t.data);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("packets ping-pong forever");
    }

    /// Advance the clock to the next deadline of either side and fire it.
    fn tick(&mut self) -> bool {
        let next = [self.auth.poll_timeout(), self.peer.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(t) = next else { return false };
        assert!(t >= self.now, "deadline in the past");
        self.now = t;
        self.auth.handle_timeout(t);
        self.peer.handle_timeout(t);
        self.pump();
        true
    }

    fn run(&mut self) {
        self.start();
        for _ in 0..1000 {
            if self.auth.outcome().is_some() && self.peer.outcome().is_some() {
                return;
            }
            if !self.tick() {
                return;
            }
        }
        panic!("never finished");
    }
}

fn code(pkt: &[u8]) -> u8 {
    pkt[0]
}

fn message(pkt: &[u8]) -> String {
    String::from_utf8_lossy(&pkt[4..]).into_owned()
}

#[test]
fn every_method_succeeds_back_to_back() {
    for (method, user, pw) in [
        (Method::MsChapV2, "alice", "correct horse"),
        (Method::MsChapV1, "alice", "correct horse"),
        (Method::ChapMd5, "bob", "bobsecret"),
        (Method::Pap, "alice", "correct horse"),
    ] {
        let mut l = Link::new(method, users(), user, pw);
        l.run();
        let a = l
            .auth
            .poll_outcome()
            .expect("authenticator outcome")
            .expect("success");
        let p = l
            .peer
            .poll_outcome()
            .expect("peer outcome")
            .expect("success");
        assert_eq!((a.user.as_str(), a.method), (user, method), "{method}");
        assert_eq!((p.user.as_str(), p.method), (user, method), "{method}");
        assert!(l.auth.poll_outcome().is_none(), "outcome is reported once");
        assert_eq!(l.auth.poll_timeout(), None);
        assert_eq!(l.peer.poll_timeout(), None);
        assert_eq!(
            l.auth.stats().dropped() + l.peer.stats().dropped(),
            0,
            "{method}"
        );
        // PAP: request then ack; CHAP: challenge, response, success.
        let expected = if method == Method::Pap {
            (1, 1)
        } else {
            (2, 1)
        };
        assert_eq!(
            (l.a_sent.len() + l.p_sent.len(), l.p_sent.len()),
            (expected.0 + 1, expected.1)
        );
    }
}

#[test]
fn mppe_keys_agree_across_the_link_rfc3079() {
    for method in [Method::MsChapV2, Method::MsChapV1] {
        let mut l = Link::new(method, users(), "alice", "correct horse");
        l.run();
        let a = l
            .auth
            .outcome()
            .unwrap()
            .as_ref()
            .unwrap()
            .mppe
            .clone()
            .expect("keys");
        let p = l
            .peer
            .outcome()
            .unwrap()
            .as_ref()
            .unwrap()
            .mppe
            .clone()
            .expect("keys");
        assert_eq!(a.send, p.recv, "{method}: authenticator send == peer recv");
        assert_eq!(a.recv, p.send, "{method}: authenticator recv == peer send");
        // RFC 3079 §3: MS-CHAPv2 keys differ per direction; §2: MS-CHAPv1 keys do not.
        assert_eq!(a.send == a.recv, method == Method::MsChapV1, "{method}");
    }
    // Fresh challenges give fresh keys.
    let mut l1 = Link::new(Method::MsChapV2, users(), "alice", "correct horse");
    l1.run();
    let mut l2 = Link::with(
        Method::MsChapV2,
        server_cfg(),
        users(),
        "alice",
        "correct horse",
        PeerConfig::default(),
    );
    l2.auth = Authenticator::new(Method::MsChapV2, server_cfg(), users(), rng(9));
    l2.run();
    let k1 = l1
        .auth
        .outcome()
        .unwrap()
        .as_ref()
        .unwrap()
        .mppe
        .clone()
        .unwrap();
    let k2 = l2
        .auth
        .outcome()
        .unwrap()
        .as_ref()
        .unwrap()
        .mppe
        .clone()
        .unwrap();
    assert_ne!(k1.send, k2.send);
    // No keys for the methods that cannot derive them.
    for method in [Method::ChapMd5, Method::Pap] {
        let mut l = Link::new(method, users(), "bob", "bobsecret");
        l.run();
        assert!(l.auth.outcome().unwrap().as_ref().unwrap().mppe.is_none());
        assert!(l.peer.outcome().unwrap().as_ref().unwrap().mppe.is_none());
    }
}

#[test]
fn mschapv2_success_message_carries_authenticator_response_rfc2759_5() {
    let mut l = Link::new(Method::MsChapV2, users(), "alice", "correct horse");
    l.run();
    let success = l.a_sent.last().unwrap();
    assert_eq!(code(success), 3);
    let m = message(success);
    assert!(
        m.starts_with("S=") && m[2..42].chars().all(|c| c.is_ascii_hexdigit()),
        "{m}"
    );
    assert!(
        !m[2..42].chars().any(|c| c.is_ascii_lowercase()),
        "RFC 2759 §5: uppercase hex"
    );
    assert!(m.ends_with(" M=Access granted"), "{m}");
}

#[test]
fn domain_prefixed_user_name_rfc2759_8_2() {
    let mut l = Link::new(Method::MsChapV2, users(), "CORP\\alice", "correct horse");
    l.run();
    let a = l.auth.outcome().unwrap().as_ref().unwrap();
    assert_eq!(a.user, "CORP\\alice");
    assert!(l.peer.outcome().unwrap().is_ok());
}

#[test]
fn wrong_password_mschapv2_retries_then_fails_rfc2759_6() {
    let mut l = Link::new(Method::MsChapV2, users(), "alice", "wrong");
    l.run();
    // Challenge, then three Failures: two with R=1 (default 2 retries), the last R=0.
    let failures: Vec<String> = l
        .a_sent
        .iter()
        .filter(|p| code(p) == 4)
        .map(|p| message(p))
        .collect();
    assert_eq!(failures.len(), 3, "{failures:?}");
    for (i, f) in failures.iter().enumerate() {
        let r = if i < 2 { "R=1" } else { "R=0" };
        assert!(f.starts_with(&format!("E=691 {r} C=")), "{f}");
        assert!(f.contains(" V=3 M=Access denied"), "{f}");
    }
    // Each Failure carries a fresh challenge.
    let c = |f: &String| f[10..42].to_owned();
    assert_ne!(c(&failures[0]), c(&failures[1]));
    assert_eq!(l.p_sent.len(), 3, "first response and two retries");
    // The retry takes the Failure's identifier + 1.
    assert_eq!(l.p_sent[1][1], l.a_sent[1][1].wrapping_add(1));
    assert_eq!(
        l.auth.outcome(),
        Some(&Err(AuthFailure::WrongCredentials {
            code: 691,
            reason: RejectReason::WrongPassword
        }))
    );
    match l.peer.outcome() {
        Some(Err(AuthFailure::Refused { code: 691, message })) => {
            assert_eq!(message, "Access denied")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn configurable_retry_count() {
    let cfg = AuthenticatorConfig {
        mschap_retries: 0,
        ..server_cfg()
    };
    let mut l = Link::with(
        Method::MsChapV1,
        cfg,
        users(),
        "alice",
        "nope",
        PeerConfig::default(),
    );
    l.run();
    let failures: Vec<String> = l
        .a_sent
        .iter()
        .filter(|p| code(p) == 4)
        .map(|p| message(p))
        .collect();
    assert_eq!(failures.len(), 1);
    // MS-CHAPv1 (RFC 2433 §6): an 8-octet challenge, no V= (version 1, no password change).
    assert!(
        failures[0].starts_with("E=691 R=0 C=") && !failures[0].contains("V="),
        "{failures:?}"
    );
    assert_eq!(failures[0].find(" M=").unwrap(), "E=691 R=0 C=".len() + 16);
}

#[test]
fn unknown_user_looks_like_wrong_password_to_the_peer() {
    let mut l = Link::new(Method::MsChapV2, users(), "mallory", "x");
    l.run();
    assert_eq!(
        l.auth.outcome(),
        Some(&Err(AuthFailure::WrongCredentials {
            code: 691,
            reason: RejectReason::UnknownUser
        }))
    );
    assert!(matches!(
        l.peer.outcome(),
        Some(Err(AuthFailure::Refused { code: 691, .. }))
    ));
}

#[test]
fn wrong_password_chap_md5_and_pap_fail_without_retry() {
    for method in [Method::ChapMd5, Method::Pap] {
        let mut l = Link::new(method, users(), "bob", "wrong");
        l.run();
        assert_eq!(l.p_sent.len(), 1, "{method}: no retry");
        assert!(matches!(
            l.auth.outcome(),
            Some(Err(AuthFailure::WrongCredentials { code: 691, .. }))
        ));
        assert!(matches!(
            l.peer.outcome(),
            Some(Err(AuthFailure::Refused { .. }))
        ));
    }
}

/// Rejects the first `fail_first` attempts, then defers to the inner backend.
#[derive(Debug)]
struct Flaky {
    inner: Arc<LocalUsers>,
    fail_first: u32,
    seen: AtomicU32,
}

impl AuthBackend for Flaky {
    fn verify(&self, ctx: RequestContext, req: &AuthRequest<'_>) -> Verdict {
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        assert_eq!(ctx.attempt, n, "attempts are numbered");
        if n < self.fail_first {
            Verdict::Reject(Rejected::auth_failure(RejectReason::Other("flaky".into())))
        } else {
            self.inner.verify(ctx, req)
        }
    }
}

#[test]
fn retry_after_r1_succeeds_rfc2759_6() {
    for method in [Method::MsChapV2, Method::MsChapV1] {
        let backend = Arc::new(Flaky {
            inner: users(),
            fail_first: 2,
            seen: AtomicU32::new(0),
        });
        let mut l = Link::new(method, backend.clone(), "alice", "correct horse");
        l.run();
        assert_eq!(backend.seen.load(Ordering::SeqCst), 3);
        assert!(
            l.auth.outcome().unwrap().is_ok(),
            "{method}: {:?}",
            l.auth.outcome()
        );
        assert!(
            l.peer.outcome().unwrap().is_ok(),
            "{method}: {:?}",
            l.peer.outcome()
        );
        // The Success answers the second retry's identifier.
        assert_eq!(l.a_sent.last().unwrap()[1], l.p_sent.last().unwrap()[1]);
    }
}

#[test]
fn peer_gives_up_after_its_own_retry_budget() {
    let backend = Arc::new(Flaky {
        inner: users(),
        fail_first: 5,
        seen: AtomicU32::new(0),
    });
    let cfg = AuthenticatorConfig {
        mschap_retries: 5,
        ..server_cfg()
    };
    let pcfg = PeerConfig {
        max_retries: 1,
        ..PeerConfig::default()
    };
    let mut l = Link::with(
        Method::MsChapV2,
        cfg,
        backend,
        "alice",
        "correct horse",
        pcfg,
    );
    l.run();
    assert_eq!(l.p_sent.len(), 2);
    assert!(matches!(
        l.peer.outcome(),
        Some(Err(AuthFailure::Refused { code: 691, .. }))
    ));
    // The authenticator waited for the retry that never came.
    assert_eq!(l.auth.outcome(), Some(&Err(AuthFailure::PeerGaveUp)));
}

/// Accepts MS-CHAPv2 but with a forged authenticator response.
#[derive(Debug)]
struct Forger(Arc<LocalUsers>);

impl AuthBackend for Forger {
    fn verify(&self, ctx: RequestContext, req: &AuthRequest<'_>) -> Verdict {
        match self.0.verify(ctx, req) {
            Verdict::Accept(mut a) => {
                if let Some(r) = a.authenticator_response.as_mut() {
                    r[7] ^= 0x01;
                }
                Verdict::Accept(a)
            }
            v => v,
        }
    }
}

#[test]
fn peer_detects_forged_authenticator_response_rfc2759_5() {
    let mut l = Link::new(
        Method::MsChapV2,
        Arc::new(Forger(users())),
        "alice",
        "correct horse",
    );
    l.run();
    assert!(l.auth.outcome().unwrap().is_ok());
    assert_eq!(
        l.peer.outcome(),
        Some(&Err(AuthFailure::BadAuthenticatorResponse))
    );
}

#[test]
fn peer_rejects_success_without_s_value_rfc2759_5() {
    let now = Instant::now();
    let creds = Credentials::new("alice", "correct horse").unwrap();
    let mut peer = Peer::new(
        Method::MsChapV2,
        &AuthPolicy::default(),
        PeerConfig::default(),
        creds,
        rng(3),
    )
    .unwrap();
    peer.start(now);
    let mut challenge = vec![1, 9, 0, 21, 16];
    challenge.extend_from_slice(&[0x11; 16]);
    peer.handle_packet(now, PROTO_CHAP, &challenge);
    assert!(peer.poll_transmit().is_some());
    peer.handle_packet(now, PROTO_CHAP, b"\x03\x09\x00\x12Access granted");
    assert_eq!(
        peer.outcome(),
        Some(&Err(AuthFailure::BadAuthenticatorResponse))
    );
}

/// Answers Pending and records the requests; the test completes them.
#[derive(Debug, Default)]
struct Deferred {
    asked: Mutex<Vec<RequestContext>>,
}

impl AuthBackend for Deferred {
    fn verify(&self, ctx: RequestContext, _req: &AuthRequest<'_>) -> Verdict {
        self.asked.lock().unwrap().push(ctx);
        Verdict::Pending
    }
}

#[test]
fn pending_backend_completes_later() {
    let backend = Arc::new(Deferred::default());
    let cfg = AuthenticatorConfig {
        session: 77,
        ..server_cfg()
    };
    let mut l = Link::with(
        Method::MsChapV2,
        cfg,
        backend.clone(),
        "alice",
        "correct horse",
        PeerConfig::default(),
    );
    l.start();
    let ctx = backend.asked.lock().unwrap()[0];
    assert_eq!(
        ctx,
        RequestContext {
            session: 77,
            attempt: 0
        }
    );
    assert!(l.auth.is_pending());
    assert_eq!(l.auth.pending_context(), Some(ctx));
    // The peer retransmits its Response while the backend thinks: no answer, no new request.
    l.tick();
    assert_eq!(backend.asked.lock().unwrap().len(), 1);
    assert!(l.auth.stats().duplicates >= 1);
    assert!(l.auth.poll_transmit().is_none());
    // A verdict for another request is ignored.
    l.auth.complete(
        l.now,
        RequestContext {
            session: 77,
            attempt: 5,
        },
        Verdict::Error("x".into()),
    );
    assert_eq!(l.auth.stats().stale_verdicts, 1);
    // The real answer: compute it with the local store, as RADIUS would remotely.
    let creds_store = users();
    let value = &l.p_sent[0];
    let challenge: [u8; 16] = l.a_sent[0][5..21].try_into().unwrap();
    let req = AuthRequest::MsChapV2 {
        user: b"alice",
        authenticator_challenge: challenge,
        peer_challenge: value[5..21].try_into().unwrap(),
        nt_response: value[29..53].try_into().unwrap(),
    };
    let verdict = creds_store.verify(ctx, &req);
    assert!(matches!(verdict, Verdict::Accept(_)));
    l.auth.complete(l.now, ctx, verdict);
    l.pump();
    assert!(l.auth.outcome().unwrap().is_ok());
    assert!(l.peer.outcome().unwrap().is_ok());
    // Late duplicate verdicts are stale.
    l.auth.complete(l.now, ctx, Verdict::Pending);
    assert_eq!(l.auth.stats().stale_verdicts, 2);
}

#[test]
fn pending_backend_rejection_and_timeout() {
    // Rejected later: the Failure goes out with R=1 and the retry asks the backend again.
    let backend = Arc::new(Deferred::default());
    let mut l = Link::new(Method::MsChapV2, backend.clone(), "alice", "correct horse");
    l.start();
    let ctx = backend.asked.lock().unwrap()[0];
    l.auth.complete(
        l.now,
        ctx,
        Verdict::Reject(Rejected::auth_failure(RejectReason::WrongPassword)),
    );
    l.pump();
    assert!(message(l.a_sent.last().unwrap()).starts_with("E=691 R=1"));
    let asked = backend.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[1].attempt, 1);
    // Then the backend never answers: after 30 s the peer is refused, outcome BackendError.
    let start = l.now;
    while l.auth.outcome().is_none() {
        assert!(l.tick());
    }
    assert_eq!(l.now - start, Duration::from_secs(30));
    assert!(matches!(
        l.auth.outcome(),
        Some(Err(AuthFailure::BackendError(_)))
    ));
    assert!(message(l.a_sent.last().unwrap()).starts_with("E=691 R=0"));
    l.auth
        .complete(l.now, asked[1], Verdict::Error(Cow::Borrowed("late")));
    assert_eq!(l.auth.stats().stale_verdicts, 1);
}

#[test]
fn backend_error_and_non_retryable_codes() {
    #[derive(Debug)]
    struct Fixed(Verdict);
    impl AuthBackend for Fixed {
        fn verify(&self, _: RequestContext, _: &AuthRequest<'_>) -> Verdict {
            self.0.clone()
        }
    }
    let v = Verdict::Reject(Rejected {
        code: E_ACCT_DISABLED,
        reason: RejectReason::Other("disabled".into()),
    });
    let mut l = Link::new(
        Method::MsChapV2,
        Arc::new(Fixed(v)),
        "alice",
        "correct horse",
    );
    l.run();
    assert!(
        message(l.a_sent.last().unwrap()).starts_with("E=647 R=0"),
        "only 691 is retried"
    );
    assert!(matches!(
        l.peer.outcome(),
        Some(Err(AuthFailure::Refused { code: 647, .. }))
    ));

    let mut l = Link::new(
        Method::Pap,
        Arc::new(Fixed(Verdict::Error("down".into()))),
        "alice",
        "x",
    );
    l.run();
    assert_eq!(
        l.auth.outcome(),
        Some(&Err(AuthFailure::BackendError("down".into())))
    );
    assert_eq!(code(l.a_sent.last().unwrap()), 3, "Authenticate-Nak");

    // MS-CHAPv2 accepted without an authenticator response cannot be completed.
    let v = Verdict::Accept(Accepted {
        authenticator_response: None,
        mppe: None,
    });
    let mut l = Link::new(
        Method::MsChapV2,
        Arc::new(Fixed(v)),
        "alice",
        "correct horse",
    );
    l.run();
    assert!(matches!(
        l.auth.outcome(),
        Some(Err(AuthFailure::BackendError(_)))
    ));
    assert!(matches!(
        l.peer.outcome(),
        Some(Err(AuthFailure::Refused { .. }))
    ));
}

#[test]
fn challenge_retransmitted_every_3s_ten_times_then_timeout_rfc1994_4_1() {
    let now = Instant::now();
    let mut a = Authenticator::new(Method::MsChapV2, server_cfg(), users(), rng(1));
    a.start(now);
    let first = a.poll_transmit().unwrap();
    let mut t = now;
    for _ in 1..10 {
        assert_eq!(a.poll_timeout(), Some(t + Duration::from_secs(3)));
        t += Duration::from_secs(3);
        a.handle_timeout(t - Duration::from_millis(1));
        assert!(a.poll_transmit().is_none(), "not before the deadline");
        a.handle_timeout(t);
        assert_eq!(
            a.poll_transmit().unwrap(),
            first,
            "same identifier and challenge"
        );
    }
    t += Duration::from_secs(3);
    a.handle_timeout(t);
    assert!(a.poll_transmit().is_none());
    assert_eq!(a.poll_outcome(), Some(Err(AuthFailure::Timeout)));
    assert_eq!(a.stats().retransmissions, 9);
    assert_eq!(a.stats().tx_packets, 10);
    assert_eq!(t - now, Duration::from_secs(30));
}

#[test]
fn lost_challenges_are_recovered_by_retransmission() {
    let mut l = Link::new(Method::MsChapV2, users(), "alice", "correct horse");
    l.drop_a2p = vec![0, 1];
    l.run();
    assert!(l.auth.outcome().unwrap().is_ok());
    assert!(l.peer.outcome().unwrap().is_ok());
    assert_eq!(l.auth.stats().retransmissions, 2);
}

#[test]
fn lost_success_is_repeated_on_duplicate_response_rfc1994_4_2() {
    for method in [Method::MsChapV2, Method::Pap] {
        let mut l = Link::new(method, users(), "alice", "correct horse");
        // Packet 1 from the authenticator is the Success (CHAP) / packet 0 is the Ack (PAP).
        l.drop_a2p = vec![if method == Method::Pap { 0 } else { 1 }];
        l.run();
        assert!(l.auth.outcome().unwrap().is_ok());
        assert!(l.peer.outcome().unwrap().is_ok(), "{method}");
        assert_eq!(l.auth.stats().duplicates, 1, "{method}");
        assert_eq!(l.peer.stats().retransmissions, 1, "{method}");
        let n = l.a_sent.len();
        assert_eq!(l.a_sent[n - 1], l.a_sent[n - 2], "the same reply again");
    }
}

#[test]
fn lost_failure_with_retry_is_repeated() {
    let backend = Arc::new(Flaky {
        inner: users(),
        fail_first: 1,
        seen: AtomicU32::new(0),
    });
    let mut l = Link::new(Method::MsChapV2, backend.clone(), "alice", "correct horse");
    l.drop_a2p = vec![1];
    l.run();
    assert!(l.peer.outcome().unwrap().is_ok());
    assert_eq!(
        backend.seen.load(Ordering::SeqCst),
        2,
        "the duplicate is not re-verified"
    );
    assert_eq!(l.a_sent[1], l.a_sent[2]);
}

#[test]
fn peer_timeouts() {
    // CHAP: no Challenge within 30 s.
    let now = Instant::now();
    let creds = Credentials::new("alice", "pw").unwrap();
    let mut p = Peer::new(
        Method::MsChapV2,
        &AuthPolicy::default(),
        PeerConfig::default(),
        creds.clone(),
        rng(1),
    )
    .unwrap();
    p.start(now);
    assert_eq!(p.poll_timeout(), Some(now + Duration::from_secs(30)));
    p.handle_timeout(now + Duration::from_secs(30));
    assert_eq!(p.poll_outcome(), Some(Err(AuthFailure::Timeout)));

    // PAP: the Authenticate-Request goes out 10 times, 3 s apart.
    let mut p = Peer::new(
        Method::Pap,
        &all_weak(),
        PeerConfig::default(),
        creds,
        rng(1),
    )
    .unwrap();
    p.start(now);
    let first = p.poll_transmit().unwrap();
    assert_eq!(first.protocol, PROTO_PAP);
    let mut n = 1;
    while let Some(t) = p.poll_timeout() {
        p.handle_timeout(t);
        if let Some(again) = p.poll_transmit() {
            assert_eq!(again, first);
            n += 1;
        }
    }
    assert_eq!(n, 10);
    assert_eq!(p.poll_outcome(), Some(Err(AuthFailure::Timeout)));
}

#[test]
fn pap_authenticator_times_out_rfc1334_2_2() {
    let now = Instant::now();
    let mut a = Authenticator::new(Method::Pap, server_cfg(), users(), rng(1));
    a.start(now);
    assert!(
        a.poll_transmit().is_none(),
        "PAP's authenticator sends nothing first"
    );
    let t = a.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(30));
    a.handle_timeout(t);
    assert_eq!(a.poll_outcome(), Some(Err(AuthFailure::Timeout)));
}

#[test]
fn chap_md5_needs_cleartext_store() {
    let mut strict = LocalUsers::new();
    strict.add_password("bob", "bobsecret").unwrap();
    assert_eq!(
        strict.add_weak_cleartext_secret("bob", "bobsecret"),
        Err(StoreError::CleartextNotAllowed)
    );
    let mut l = Link::new(Method::ChapMd5, Arc::new(strict), "bob", "bobsecret");
    l.run();
    assert_eq!(
        l.auth.outcome(),
        Some(&Err(AuthFailure::WrongCredentials {
            code: 691,
            reason: RejectReason::CleartextSecretUnavailable
        }))
    );
    assert!(
        RejectReason::CleartextSecretUnavailable
            .to_string()
            .contains("allow_weak_cleartext_secrets")
    );
    // A weak store without a secret for that user refuses the same way.
    let mut l = Link::new(Method::ChapMd5, users(), "alice", "correct horse");
    l.run();
    assert!(matches!(
        l.auth.outcome(),
        Some(Err(AuthFailure::WrongCredentials {
            reason: RejectReason::CleartextSecretUnavailable,
            ..
        }))
    ));
}

#[test]
fn pap_verified_from_nt_hash_only() {
    let mut u = LocalUsers::new();
    u.add_password("carol", "pässwörd").unwrap();
    let ctx = RequestContext {
        session: 0,
        attempt: 0,
    };
    let ok = u.verify(
        ctx,
        &AuthRequest::Pap {
            user: b"carol",
            password: "pässwörd".as_bytes(),
        },
    );
    assert!(matches!(ok, Verdict::Accept(_)));
    let bad = u.verify(
        ctx,
        &AuthRequest::Pap {
            user: b"carol",
            password: b"passwort",
        },
    );
    assert_eq!(
        bad,
        Verdict::Reject(Rejected::auth_failure(RejectReason::WrongPassword))
    );
    let bad = u.verify(
        ctx,
        &AuthRequest::Pap {
            user: b"carol",
            password: b"\xff\xfe",
        },
    );
    assert_eq!(
        bad,
        Verdict::Reject(Rejected::auth_failure(RejectReason::WrongPassword))
    );
}

#[test]
fn mschapv1_lm_response_refused_rfc2433_5() {
    let ctx = RequestContext {
        session: 0,
        attempt: 0,
    };
    let v = users().verify(
        ctx,
        &AuthRequest::MsChapV1 {
            user: b"alice",
            challenge: [1; 8],
            lm_response: [2; 24],
            nt_response: [0; 24],
            use_nt: false,
        },
    );
    assert_eq!(
        v,
        Verdict::Reject(Rejected::auth_failure(RejectReason::LmResponseRefused))
    );
}

#[test]
fn secrets_are_redacted_in_debug() {
    let creds = Credentials::new("alice", "hunter22").unwrap();
    let d = format!("{creds:?}");
    assert!(d.contains("alice") && !d.contains("hunter22"), "{d}");
    let store = users();
    let d = format!("{store:?}");
    assert!(!d.contains("bobsecret") && !d.contains("alice"), "{d}");
    let req = AuthRequest::Pap {
        user: b"alice",
        password: b"hunter22",
    };
    let d = format!("{req:?}");
    assert!(d.contains("alice") && !d.contains("hunter22"), "{d}");
}

#[test]
fn pap_credentials_over_255_octets_are_refused_rfc1334_2_2_1() {
    let creds = Credentials::new("alice", "x".repeat(256)).unwrap();
    let r = Peer::new(
        Method::Pap,
        &all_weak(),
        PeerConfig::default(),
        creds,
        rng(1),
    );
    assert!(matches!(r, Err(AuthFailure::LocalConfig(_))));
    // MS-CHAP has no such limit below the NT hash's 256 characters.
    let creds = Credentials::new("alice", "x".repeat(256)).unwrap();
    assert!(
        Peer::new(
            Method::MsChapV2,
            &all_weak(),
            PeerConfig::default(),
            creds,
            rng(1)
        )
        .is_ok()
    );
    assert_eq!(
        Credentials::new("alice", "x".repeat(257)).err(),
        Some(PasswordError::TooLongForNtHash)
    );
}

#[test]
fn peer_refuses_methods_outside_its_policy() {
    for m in [Method::MsChapV1, Method::ChapMd5, Method::Pap] {
        let creds = Credentials::new("alice", "pw").unwrap();
        let r = Peer::new(
            m,
            &PeerPolicy::default(),
            PeerConfig::default(),
            creds,
            rng(1),
        );
        assert_eq!(r.err(), Some(AuthFailure::MethodMismatch { method: m }));
    }
}

#[test]
fn peer_answers_rechallenge_after_success_rfc1994_2() {
    let mut l = Link::new(Method::ChapMd5, users(), "bob", "bobsecret");
    l.run();
    assert!(l.peer.poll_outcome().unwrap().is_ok());
    let mut challenge = vec![1, 200, 0, 21, 16];
    challenge.extend_from_slice(&[0x42; 16]);
    l.peer.handle_packet(l.now, PROTO_CHAP, &challenge);
    let resp = l.peer.poll_transmit().unwrap();
    assert_eq!((resp.data[0], resp.data[1]), (2, 200));
    l.peer.handle_packet(l.now, PROTO_CHAP, b"\x04\xc8\x00\x04");
    assert!(matches!(
        l.peer.poll_outcome(),
        Some(Err(AuthFailure::Refused { .. }))
    ));
}

fn phase(auth: Option<Method>, peer: Option<(Method, &str, &str)>, seed: u8) -> AuthPhase {
    let a = auth.map(|m| Authenticator::new(m, server_cfg(), users(), rng(seed)));
    let p = peer.map(|(m, u, pw)| {
        let creds = Credentials::new(u, pw).unwrap();
        Peer::new(m, &all_weak(), PeerConfig::default(), creds, rng(seed + 1)).unwrap()
    });
    AuthPhase::new(a, p)
}

fn run_phases(x: &mut AuthPhase, y: &mut AuthPhase) {
    let mut now = Instant::now();
    x.start(now);
    y.start(now);
    for _ in 0..200 {
        let mut moved = false;
        while let Some(t) = x.poll_transmit() {
            moved = true;
            y.handle_packet(now, t.protocol, &t.data);
        }
        while let Some(t) = y.poll_transmit() {
            moved = true;
            x.handle_packet(now, t.protocol, &t.data);
        }
        if x.result().is_some() && y.result().is_some() {
            return;
        }
        if !moved {
            let t = [x.poll_timeout(), y.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .unwrap();
            now = t;
            x.handle_timeout(now);
            y.handle_timeout(now);
        }
    }
    panic!("phases never finished");
}

#[test]
fn auth_phase_both_directions_rfc1661_3_5() {
    // x authenticates y with MS-CHAPv2 while y authenticates x with PAP, over one link.
    let mut x = phase(
        Some(Method::MsChapV2),
        Some((Method::Pap, "alice", "correct horse")),
        10,
    );
    let mut y = phase(
        Some(Method::Pap),
        Some((Method::MsChapV2, "alice", "correct horse")),
        20,
    );
    run_phases(&mut x, &mut y);
    let rx = x.result().unwrap().as_ref().unwrap();
    let ry = y.result().unwrap().as_ref().unwrap();
    assert_eq!(rx.peer.as_ref().unwrap().method, Method::MsChapV2);
    assert_eq!(rx.us.as_ref().unwrap().method, Method::Pap);
    assert_eq!(ry.peer.as_ref().unwrap().method, Method::Pap);
    // MPPE comes from the MS-CHAPv2 direction on both ends and agrees.
    let (kx, ky) = (rx.mppe().unwrap(), ry.mppe().unwrap());
    assert_eq!((kx.send, kx.recv), (ky.recv, ky.send));
    assert_eq!(x.unrouted() + y.unrouted(), 0);
}

#[test]
fn auth_phase_fails_when_one_direction_fails() {
    let mut x = phase(Some(Method::ChapMd5), None, 30);
    let mut y = phase(None, Some((Method::ChapMd5, "bob", "wrong")), 40);
    run_phases(&mut x, &mut y);
    assert!(matches!(
        x.result(),
        Some(Err((
            Side::Authenticator,
            AuthFailure::WrongCredentials { .. }
        )))
    ));
    assert!(matches!(
        y.result(),
        Some(Err((Side::Peer, AuthFailure::Refused { .. })))
    ));
    // A phase with no direction succeeds at once; stray packets are counted.
    let mut none = AuthPhase::new(None, None);
    none.start(Instant::now());
    assert_eq!(
        none.result(),
        Some(&Ok(PhaseSuccess {
            peer: None,
            us: None
        }))
    );
    none.handle_packet(Instant::now(), PROTO_CHAP, &[1, 1, 0, 6, 1, 0]);
    none.handle_packet(Instant::now(), PROTO_CHAP, &[9, 1, 0, 4]);
    assert_eq!(none.unrouted(), 2);
}

#[test]
fn route_by_code_rfc1994_4_rfc1334_2_2() {
    assert_eq!(route(PROTO_CHAP, &[2]), Some(Route::Authenticator));
    assert_eq!(route(PROTO_PAP, &[1]), Some(Route::Authenticator));
    for c in [1, 3, 4] {
        assert_eq!(route(PROTO_CHAP, &[c]), Some(Route::Peer));
    }
    assert_eq!(route(PROTO_PAP, &[2]), Some(Route::Peer));
    assert_eq!(route(PROTO_PAP, &[4]), None);
    assert_eq!(route(PROTO_CHAP, &[]), None);
    assert_eq!(route(0xc021, &[1]), None);
}
