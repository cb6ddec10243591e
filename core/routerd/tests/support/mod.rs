//! Shared by routerd's end-to-end tests: building plugins into this build's target directory,
//! temporary state directories, waiting for conditions; a test routerd's configuration and
//! start ([`routerd`]).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub mod netns;
pub mod routerd;

// Each test binary uses a different part of the shared helpers.
#[allow(unused_imports)]
pub use dialgate_test_support::{Child, PtyCable, TempDir, cargo_build, library, profile_dir};

/// A test plugin's library by short name (`echo`, `panics`), built on first use.
pub fn test_plugin(name: &str) -> PathBuf {
    let package = format!("dialgate-test-plugin-{name}");
    cargo_build(&[&package], &[]);
    library(&format!("dialgate_test_plugin_{}", name.replace('-', "_")))
}

/// A free TCP port on the loopback (free when asked: bind it soon).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Polls `f` every 20 ms until it returns `Some` or `timeout` passes.
pub async fn wait_for<T>(timeout: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The session stop records of the accounting log in routerd's state directory `dir`.
pub fn accounting_stops(dir: &Path) -> Vec<dialgate_routerd::accounting::SessionStop> {
    use dialgate_routerd::accounting::{Record, log_files};
    log_files(&dir.join("accounting.jsonl"), 10)
        .into_iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Record>(l).ok())
                .collect::<Vec<_>>()
        })
        .filter_map(|r| match r {
            Record::Stop(s) => Some(s),
            _ => None,
        })
        .collect()
}
/// The path of one of routerd's binaries (cargo builds them for integration tests).
pub fn binary(name: &str) -> PathBuf {
    match name {
        "routerd" => PathBuf::from(env!("CARGO_BIN_EXE_routerd")),
        "routerctl" => PathBuf::from(env!("CARGO_BIN_EXE_routerctl")),
        other => profile_dir().join(other),
    }
}

/// Runs `routerctl --socket SOCKET ARGS...` (with `stdin` fed in) and returns the exit
/// code and standard output.
pub fn routerctl(socket: &Path, args: &[&str], stdin: &str) -> (i32, String) {
    use std::io::Write as _;
    let mut child = Command::new(binary("routerctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("running routerctl");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("routerctl output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
