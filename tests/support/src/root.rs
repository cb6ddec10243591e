//! Tests that need root (network namespaces, TUN devices, raw sockets) fail when they cannot
//! run: a test that returns early would pass silently and hide that it never ran. CI runs
//! them as root; a developer without root opts out explicitly with
//! `DIALGATE_SKIP_ROOT_TESTS=1`, and each such test then says that it was skipped.

/// The environment variable that lets root-only tests pass without running when set to `1`.
pub const SKIP_ROOT_TESTS_ENV: &str = "DIALGATE_SKIP_ROOT_TESTS";

/// The effective user id of this process, from `/proc/self/status` (`None` if unreadable).
pub fn effective_uid() -> Option<u32> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
}

/// Whether the environment opted out of root-only tests ([`SKIP_ROOT_TESTS_ENV`] is `1`).
pub fn root_tests_skipped() -> bool {
    std::env::var(SKIP_ROOT_TESTS_ENV).is_ok_and(|v| v == "1")
}

/// Decides whether a root-only test runs; `needs` says what it needs root for.
///
/// Returns `true` when the process runs as root (effective uid 0). Otherwise returns `false`
/// (the caller returns at once) when [`SKIP_ROOT_TESTS_ENV`]`=1`, after printing that the test
/// was skipped; and panics, failing the test with a message that names the opt-out, when it
/// is not set.
#[must_use = "return from the test when this is false"]
pub fn require_root(needs: &str) -> bool {
    let uid = effective_uid();
    if uid == Some(0) {
        return true;
    }
    let uid = uid.map_or_else(|| "unknown".to_owned(), |u| u.to_string());
    if root_tests_skipped() {
        eprintln!(
            "SKIPPED (not run): this test needs root for {needs} (effective uid {uid}); \
             {SKIP_ROOT_TESTS_ENV}=1 is set"
        );
        return false;
    }
    panic!(
        "this test needs root for {needs}, but runs with effective uid {uid}. Run it as root \
         (CI does), or set {SKIP_ROOT_TESTS_ENV}=1 to skip root-only tests explicitly."
    );
}
