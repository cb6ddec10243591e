//! "routerd killed during a config write leaves the old or the new file, never a torn one."
//!
//! The test binary re-executes itself as a child that applies large configurations in a
//! loop; the parent SIGKILLs it at random moments (50 times) and checks after each kill that
//! `current.toml` is exactly one of the versions written, and that the store opens cleanly.

#![allow(clippy::unwrap_used)] // Test helpers panic on purpose.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, config_number, config_text, doc};
use dialgate_routerd::config::Document;
use dialgate_routerd::store::ConfigStore;

const CHILD_DIR: &str = "DIALGATE_STORE_KILL_CHILD_DIR";
/// Bytes per configuration: big enough that a write spans many blocks, small enough that
/// an unoptimized build parses it quickly.
const PAD: usize = 64 * 1024;
const READY: &str = "child-writer-ready";
const KILLS: usize = 50;

/// The child's body: runs only when re-executed by the parent test.
#[test]
fn child_writer() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let dir = Path::new(&dir);
    let mut store = ConfigStore::open(dir).unwrap();
    let mut n = config_number(store.current());
    let mut out = std::io::stdout().lock();
    writeln!(out, "{READY}").unwrap();
    out.flush().unwrap();
    drop(out);
    loop {
        n += 1;
        store
            .apply(&doc(n, PAD), "child", |_, _| Ok::<(), String>(()))
            .unwrap();
    }
}

/// Kills the child however the parent's checks end (a panic must not leave it running).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A small xorshift generator: kill timing only needs to be irregular.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Checks `current.toml` is exactly version `n` for some `n`; returns `n`.
fn check_whole(file: &Path) -> u64 {
    let text = std::fs::read_to_string(file).unwrap();
    let doc = Document::parse("current.toml", text.as_str())
        .unwrap_or_else(|e| panic!("torn configuration ({} bytes): {e}", text.len()));
    let n = config_number(&doc);
    assert_eq!(text, config_text(n, PAD), "content of version {n} differs");
    n
}

#[test]
fn killed_during_config_write_leaves_old_or_new_file() {
    let dir = TempDir::new("kill");
    let sdir = dir.path().join("config");
    ConfigStore::init(&sdir, &doc(0, PAD), "initial").unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seed = Instant::now().elapsed().as_nanos() as u64 | 1;
    seed ^= u64::from(std::process::id()) << 32;
    let (mut mid_apply, mut committed_max) = (0, 0);
    let started = Instant::now();
    for kill in 0..KILLS {
        let committed_before = ConfigStore::open(&sdir).unwrap().current_version();
        let mut child = Child(
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_writer",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(CHILD_DIR, &sdir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // Wait until the child has opened the store, then kill it 0 to 120 ms later: at any
        // point of its first few applies.
        let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.trim_end().ends_with(READY) => break,
                Some(Ok(_)) => {}
                other => panic!("kill {kill}: the child ended before it was ready: {other:?}"),
            }
        }
        let wait = next(&mut seed) % 121;
        std::thread::sleep(Duration::from_millis(wait));
        child.0.kill().unwrap(); // SIGKILL
        let status = child.0.wait().unwrap();
        assert!(
            !status.success(),
            "kill {kill}: the child must not exit by itself"
        );

        // The file routerd boots with is whole: the old version or a new one.
        let on_disk = check_whole(&sdir.join("current.toml"));
        let store = ConfigStore::open(&sdir).unwrap();
        if store.recovered() {
            mid_apply += 1;
        }
        // After recovery: the committed version, whole, and every kept version too.
        let current = check_whole(&sdir.join("current.toml"));
        assert_eq!(current, config_number(store.current()));
        assert!(on_disk == current || on_disk == current + 1, "kill {kill}");
        assert!(store.current_version() >= committed_before);
        for v in store.history() {
            let d = store.get(v.version).unwrap();
            assert_eq!(d.text(), config_text(config_number(&d), PAD));
        }
        committed_max = store.current_version();
    }
    eprintln!(
        "{KILLS} kills in {:?}: {mid_apply} interrupted an apply, {committed_max} versions committed",
        started.elapsed()
    );
    assert!(committed_max > 1, "the child never committed a version");
}
