//! The frozen ABI 1.0 and 1.1 plugins stay frozen: every file under tests/plugins/frozen-v1
//! (the plugin and its `abi-1.0/` snapshot of plugin-abi and plugin-sdk) and
//! tests/plugins/frozen-v1_1 (`abi-1.1/`) matches the SHA-1 listed in that directory's
//! SHA1SUMS, and no file was added or removed. Editing a snapshot would let a non-additive ABI
//! change pass the loading test unnoticed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

fn frozen_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/plugins")
        .join(name)
}

/// Files under `dir`, relative, `/`-separated; build output (`target/`, `Cargo.lock`) and the
/// manifest itself are not part of the snapshot.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read snapshot dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "target" {
                walk(root, &path, out);
            }
        } else if name == "Cargo.lock" || (name == "SHA1SUMS" && path.parent() == Some(root)) {
            continue;
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            let rel: Vec<_> = rel.iter().map(|c| c.to_string_lossy()).collect();
            out.push(rel.join("/"));
        }
    }
}

fn sha1_hex(bytes: &[u8]) -> String {
    let digest = Sha1::digest(bytes);
    digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Checks tests/plugins/`name` against its SHA1SUMS; `snapshot` is its ABI snapshot
/// directory (`abi-1.0`).
fn check_snapshot(name: &str, snapshot: &str) {
    let root = frozen_dir(name);
    let listing = std::fs::read_to_string(root.join("SHA1SUMS"))
        .unwrap_or_else(|e| panic!("tests/plugins/{name}/SHA1SUMS: {e}"));
    let mut expected = BTreeMap::new();
    for line in listing.lines().filter(|l| !l.trim().is_empty()) {
        let (hash, file) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("malformed SHA1SUMS line {line:?}"));
        expected.insert(file.to_owned(), hash.to_owned());
    }
    assert!(
        expected.contains_key(&format!("{snapshot}/plugin-abi/src/lib.rs"))
            && expected.contains_key("plugin/src/lib.rs"),
        "{name}/SHA1SUMS must cover the snapshot and the plugin"
    );

    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    let mut found = BTreeMap::new();
    for file in files {
        let bytes = std::fs::read(root.join(&file)).expect("read snapshot file");
        found.insert(file, sha1_hex(&bytes));
    }

    for (file, hash) in &expected {
        match found.get(file) {
            None => panic!("frozen file {name}/{file} is missing"),
            Some(h) => assert_eq!(
                h, hash,
                "tests/plugins/{name}/{file} was edited: the ABI snapshot must never change"
            ),
        }
    }
    for file in found.keys() {
        assert!(
            expected.contains_key(file),
            "tests/plugins/{name}/{file} was added to the frozen snapshot"
        );
    }
}

#[test]
fn frozen_v1_snapshot_matches_its_checksums() {
    check_snapshot("frozen-v1", "abi-1.0");
}

#[test]
fn frozen_v1_1_snapshot_matches_its_checksums() {
    check_snapshot("frozen-v1_1", "abi-1.1");
}

#[test]
fn sha1_hex_known_answer() {
    // FIPS 180-2 appendix A.1.
    assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}
