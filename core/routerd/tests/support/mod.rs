//! Shared by routerd's end-to-end tests: building plugins into this build's target directory,
//! temporary state directories, waiting for conditions.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The profile directory this test executable was built in (`target/<profile>`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// Builds `packages` (and the routerd binary when `bin` is set) into this build's target
/// directory and profile, so they link the same abi_stable as the host under test.
pub fn cargo_build(packages: &[&str], bins: &[&str]) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let profile_dir = profile_dir();
    let target_dir = profile_dir.parent().expect("the target directory");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("odd profile directory {}", profile_dir.display()),
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(&workspace)
        .args(["build", "--quiet", "--profile", profile, "--target-dir"])
        .arg(target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    for b in bins {
        cmd.args(["--bin", b]);
    }
    let status = cmd.status().expect("running cargo build");
    assert!(
        status.success(),
        "cargo build {packages:?} {bins:?}: {status}"
    );
}

/// The shared library of package `lib_name` (underscored crate name) in the profile dir.
pub fn library(lib_name: &str) -> PathBuf {
    profile_dir().join(format!("{DLL_PREFIX}{lib_name}{DLL_SUFFIX}"))
}

/// A test plugin's library by short name (`echo`, `panics`), built on first use.
pub fn test_plugin(name: &str) -> PathBuf {
    let package = format!("dialgate-test-plugin-{name}");
    cargo_build(&[&package], &[]);
    library(&format!("dialgate_test_plugin_{}", name.replace('-', "_")))
}

/// A fresh directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "dialgate-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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
