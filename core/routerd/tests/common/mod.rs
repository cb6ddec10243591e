//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use dialgate_routerd::config::Document;

/// A fresh directory under cargo's per-target temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("routerd-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
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

/// A valid configuration numbered `n` (its host name is `h<n>`), padded with `pad` bytes of
/// comments so that writing it takes a while.
pub fn config_text(n: u64, pad: usize) -> String {
    let mut s = format!(
        "# version {n}\n[system]\nhostname = \"h{n}\"\nconfig_history = 5\n\n[limits]\nmax_sessions = {}\n",
        n % 1000 + 1
    );
    let line = format!("# padding line of version {n:>12} ..............................\n");
    while s.len() < pad {
        s.push_str(&line);
    }
    s
}

/// The number a [`config_text`] document carries.
pub fn config_number(doc: &Document) -> u64 {
    doc.config()
        .system
        .hostname
        .strip_prefix('h')
        .and_then(|n| n.parse().ok())
        .unwrap()
}

pub fn doc(n: u64, pad: usize) -> Document {
    Document::parse(format!("v{n}.toml"), config_text(n, pad)).unwrap()
}

/// Names of the files in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
