//! The configuration store: transactional apply, rollback on a failed apply, history,
//! rollback to an older version, recovery after a crash.

#![allow(clippy::unwrap_used)] // Test helpers panic on purpose.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::{TempDir, config_number, config_text, doc, listing};
use dialgate_routerd::config::{ConfigDiff, Document};
use dialgate_routerd::store::{ApplyError, ConfigStore, StoreError, write_atomic};

fn ok(_: &ConfigDiff, _: &Document) -> Result<(), String> {
    Ok(())
}

/// Everything on disk, for before/after comparisons.
fn snapshot(store_dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for name in listing(store_dir) {
        let p = store_dir.join(&name);
        if p.is_dir() {
            for inner in listing(&p) {
                out.push((format!("{name}/{inner}"), fs::read(p.join(&inner)).unwrap()));
            }
        } else {
            out.push((name, fs::read(p).unwrap()));
        }
    }
    out
}

#[test]
fn write_atomic_replaces_with_private_mode_and_leaves_no_temp() {
    let dir = TempDir::new("atomic");
    let p = dir.path().join("f.toml");
    write_atomic(&p, b"one").unwrap();
    write_atomic(&p, b"two").unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"two");
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(listing(dir.path()), vec!["f.toml"]);
    // A failed write (no such directory) leaves nothing behind.
    assert!(write_atomic(&dir.path().join("nope/f"), b"x").is_err());
}

#[test]
fn init_apply_history_get() {
    let dir = TempDir::new("apply");
    let sdir = dir.path().join("config");
    assert!(matches!(
        ConfigStore::open(&sdir),
        Err(StoreError::NotInitialized(_))
    ));
    let mut store = ConfigStore::init(&sdir, &doc(0, 0), "initial").unwrap();
    assert!(matches!(
        ConfigStore::init(&sdir, &doc(0, 0), "again"),
        Err(StoreError::AlreadyInitialized(_))
    ));
    assert_eq!(store.current_version(), 1);
    let mut seen = None;
    let applied = store
        .apply(&doc(1, 0), "raise limit", |diff, new| {
            seen = Some((diff.clone(), config_number(new)));
            Ok::<(), String>(())
        })
        .unwrap();
    assert_eq!(applied.version, 2);
    let (diff, n) = seen.unwrap();
    assert_eq!(n, 1);
    assert_eq!(diff, applied.diff);
    assert!(diff.system && diff.limits && !diff.ppp);
    assert_eq!(
        fs::read_to_string(store.current_file()).unwrap(),
        config_text(1, 0)
    );
    let h = store.history();
    assert_eq!(
        h.iter()
            .map(|v| (v.version, v.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "initial"), (2, "raise limit")]
    );
    assert!(h[0].time <= h[1].time);
    assert_eq!(config_number(&store.get(1).unwrap()), 0);
    assert_eq!(store.get(2).unwrap().text(), config_text(1, 0));
    assert!(matches!(store.get(3), Err(StoreError::UnknownVersion(3))));
    // Reopening finds the same state.
    drop(store);
    let store = ConfigStore::open(&sdir).unwrap();
    assert!(!store.recovered());
    assert_eq!(store.current_version(), 2);
    assert_eq!(config_number(store.current()), 1);
    assert_eq!(store.history().len(), 2);
}

#[test]
fn failed_apply_restores_file_and_keeps_history() {
    let dir = TempDir::new("failed");
    let sdir = dir.path().join("config");
    let mut store = ConfigStore::init(&sdir, &doc(0, 0), "initial").unwrap();
    store.apply(&doc(1, 0), "second", ok).unwrap();
    let before = snapshot(&sdir);
    let history = store.history().to_vec();
    let mut called_with_new_file = false;
    let err = store
        .apply(&doc(2, 0), "breaks things", |_, _| {
            // While the callback runs, the new configuration is on disk.
            called_with_new_file =
                fs::read_to_string(sdir.join("current.toml")).unwrap() == config_text(2, 0);
            Err("plugin refused the new settings".to_owned())
        })
        .unwrap_err();
    assert!(called_with_new_file);
    match err {
        ApplyError::Rejected(msg) => assert_eq!(msg, "plugin refused the new settings"),
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(&sdir), before, "files unchanged");
    assert_eq!(store.history(), history.as_slice());
    assert_eq!(config_number(store.current()), 1);
    assert_eq!(store.current_version(), 2);
    // And after a restart.
    drop(store);
    let mut store = ConfigStore::open(&sdir).unwrap();
    assert!(!store.recovered());
    assert_eq!(store.history(), history.as_slice());
    // The next apply works normally.
    let applied = store.apply(&doc(3, 0), "third", ok).unwrap();
    assert_eq!(applied.version, 3);
}

#[test]
fn invalid_config_is_refused_before_anything_is_written() {
    let dir = TempDir::new("invalid");
    let sdir = dir.path().join("config");
    let mut store = ConfigStore::init(&sdir, &doc(0, 0), "initial").unwrap();
    let before = snapshot(&sdir);
    let mut called = false;
    let err = store
        .apply_text("new.toml", "[ppp]\nmru = 5\n", "bad", |_, _| {
            called = true;
            Ok::<(), String>(())
        })
        .unwrap_err();
    match err {
        ApplyError::Invalid(e) => assert_eq!(
            e.to_string(),
            "new.toml:2:7: ppp.mru: must be 128 to 16384, not 5"
        ),
        other => panic!("{other:?}"),
    }
    assert!(!called);
    assert_eq!(snapshot(&sdir), before);
}

#[test]
fn rollback_to_an_older_version() {
    let dir = TempDir::new("rollback");
    let sdir = dir.path().join("config");
    let mut store = ConfigStore::init(&sdir, &doc(0, 0), "initial").unwrap();
    for n in 1..=3 {
        store.apply(&doc(n, 0), &format!("v{n}"), ok).unwrap();
    }
    assert_eq!(store.current_version(), 4);
    let applied = store
        .rollback(2, "v3 broke dial-in", |diff, new| {
            assert_eq!(config_number(new), 1);
            assert!(diff.system);
            Ok::<(), String>(())
        })
        .unwrap();
    assert_eq!(applied.version, 5);
    assert_eq!(config_number(store.current()), 1);
    assert_eq!(
        fs::read_to_string(store.current_file()).unwrap(),
        config_text(1, 0)
    );
    let last = store.history().last().unwrap();
    assert_eq!(last.reason, "rollback to version 2: v3 broke dial-in");
    // History is appended to, never rewritten.
    assert_eq!(
        store
            .history()
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    // A rollback whose apply fails changes nothing.
    let before = snapshot(&sdir);
    let err = store
        .rollback(1, "", |_, _| Err("no".to_owned()))
        .unwrap_err();
    assert!(matches!(err, ApplyError::Rejected(_)));
    assert_eq!(snapshot(&sdir), before);
    assert!(matches!(
        store.rollback(99, "", ok),
        Err(ApplyError::Store(StoreError::UnknownVersion(99)))
    ));
}

#[test]
fn history_keeps_config_history_versions() {
    let dir = TempDir::new("prune");
    let sdir = dir.path().join("config");
    // config_text sets config_history = 5.
    let mut store = ConfigStore::init(&sdir, &doc(0, 0), "initial").unwrap();
    for n in 1..=8 {
        store.apply(&doc(n, 0), "next", ok).unwrap();
    }
    let versions: Vec<u64> = store.history().iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![5, 6, 7, 8, 9]);
    assert_eq!(
        listing(&sdir.join("versions")),
        (5..=9).map(|v| format!("{v:010}.toml")).collect::<Vec<_>>()
    );
    assert!(matches!(store.get(4), Err(StoreError::UnknownVersion(4))));
    assert_eq!(config_number(&store.get(5).unwrap()), 4);
}

#[test]
fn open_finishes_an_interrupted_apply() {
    let dir = TempDir::new("recover");
    let sdir = dir.path().join("config");
    let mut store = ConfigStore::init(&sdir, &doc(0, 0), "initial").unwrap();
    store.apply(&doc(1, 0), "second", ok).unwrap();
    drop(store);
    // What a crash inside apply leaves: the next version's file and current.toml written,
    // the index not, plus temporary files of an unfinished write.
    fs::write(sdir.join("versions/0000000003.toml"), config_text(2, 0)).unwrap();
    fs::write(sdir.join("current.toml"), config_text(2, 0)).unwrap();
    fs::write(sdir.join(".current.toml.tmp-1234-0"), "half a confi").unwrap();
    fs::write(sdir.join("versions/.0000000003.toml.tmp-1234-1"), "x").unwrap();
    let mut store = ConfigStore::open(&sdir).unwrap();
    assert!(store.recovered());
    assert_eq!(config_number(store.current()), 1);
    assert_eq!(
        fs::read_to_string(sdir.join("current.toml")).unwrap(),
        config_text(1, 0)
    );
    assert_eq!(
        listing(&sdir),
        vec!["current.toml", "index.json", "versions"]
    );
    assert_eq!(
        listing(&sdir.join("versions")),
        vec!["0000000001.toml", "0000000002.toml"]
    );
    // A missing current.toml is restored too.
    fs::remove_file(sdir.join("current.toml")).unwrap();
    drop(store);
    store = ConfigStore::open(&sdir).unwrap();
    assert!(store.recovered());
    assert_eq!(
        fs::read_to_string(sdir.join("current.toml")).unwrap(),
        config_text(1, 0)
    );
}

#[test]
fn corrupt_index_is_an_error_not_a_panic() {
    let dir = TempDir::new("corrupt");
    let sdir = dir.path().join("config");
    ConfigStore::init(&sdir, &doc(0, 0), "initial").unwrap();
    for bad in [
        "",
        "{",
        "[]",
        "{\"format\":1,\"current\":7,\"next\":8,\"versions\":[]}",
        "{\"format\":9,\"current\":1,\"next\":2,\"versions\":[]}",
    ] {
        fs::write(sdir.join("index.json"), bad).unwrap();
        assert!(
            matches!(
                ConfigStore::open(&sdir),
                Err(StoreError::CorruptIndex { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn open_or_init() {
    let dir = TempDir::new("openinit");
    let sdir = dir.path().join("config");
    let mut store = ConfigStore::open_or_init(&sdir, &doc(0, 0), "first boot").unwrap();
    store.apply(&doc(1, 0), "edit", ok).unwrap();
    drop(store);
    let store = ConfigStore::open_or_init(&sdir, &doc(0, 0), "first boot").unwrap();
    assert_eq!(config_number(store.current()), 1);
}
