//! The fake [`Control`] used by the management API tests behaves like a daemon would.

mod mgmt_support;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use dialgate_routerd::api::{ApiError, ApplyRequest, Control, LogQuery};
use mgmt_support::FakeControl;

/// Polls a future the fake completes immediately.
fn now<T>(f: impl Future<Output = T>) -> T {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the fake control never waits"),
    }
}

#[test]
fn fake_sessions_kill_and_not_found() {
    let c = FakeControl::new();
    assert_eq!(now(c.sessions()).map(|s| s.len()), Ok(2));
    assert_eq!(now(c.kill_session(1)), Ok(()));
    assert!(matches!(now(c.session(1)), Err(ApiError::NotFound(_))));
    assert_eq!(c.state().killed, vec![1]);
}

#[test]
fn fake_apply_rollback_history() {
    let c = FakeControl::new();
    let bad = now(c.apply_config(ApplyRequest {
        toml: "[system]\nbogus = 1\n".to_owned(),
        reason: None,
        base_version: None,
    }));
    assert!(matches!(bad, Err(ApiError::InvalidConfig(ref i)) if !i.is_empty()));
    let toml = mgmt_support::DEFAULT_TOML.replace("127.0.0.1:9633", "127.0.0.1:9700");
    let ok = now(c.apply_config(ApplyRequest {
        toml,
        reason: Some("metrics port".to_owned()),
        base_version: Some(1),
    }));
    assert_eq!(ok.map(|r| r.version), Ok(2));
    let rb = now(c.rollback(1));
    assert_eq!(rb.map(|r| r.version), Ok(3));
    let h = now(c.history());
    assert_eq!(h.map(|h| (h.current, h.versions.len())), Ok((3, 3)));
    assert!(matches!(now(c.rollback(99)), Err(ApiError::NotFound(_))));
}

#[test]
fn fake_logs_filter_by_session() {
    let c = FakeControl::new();
    let lines = now(c.logs(LogQuery {
        session: Some(1),
        limit: None,
    }));
    assert_eq!(lines.map(|l| l.len()), Ok(2));
}
