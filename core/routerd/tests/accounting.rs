//! The accounting log: records round trip, restarts append, rotation keeps N files, and a
//! torn line from a crash is skipped without breaking later records.

#![allow(clippy::unwrap_used)] // Test helpers panic on purpose.

mod common;

use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;

use common::TempDir;
use dialgate_routerd::accounting::{
    AccountingLog, MAX_LINE, ReadItem, Record, Records, SessionStart, SessionStop, log_files,
    rotated_path,
};
use dialgate_routerd::time::Timestamp;

fn start(session: u64) -> Record {
    Record::Start(SessionStart {
        time: Timestamp::from_unix_ms(1_714_564_800_000 + session * 1000),
        session,
        user: format!("user{session}"),
        link: "modem0".into(),
        peer: Some("tty:/dev/ttyS0".into()),
        ipv4: Some(Ipv4Addr::new(192, 168, 7, 100)),
        ipv6_prefix: Some("2001:db8:100:7::/64".parse().unwrap()),
    })
}

fn stop(session: u64) -> Record {
    Record::Stop(SessionStop {
        time: Timestamp::from_unix_ms(1_714_564_860_000 + session * 1000),
        session,
        user: format!("user{session}"),
        link: "modem0".into(),
        peer: None,
        ipv4: Some(Ipv4Addr::new(192, 168, 7, 100)),
        ipv6_prefix: None,
        started: Timestamp::from_unix_ms(1_714_564_800_000 + session * 1000),
        duration_ms: 60_000,
        bytes_in: 123_456,
        bytes_out: 654_321,
        packets_in: 100,
        packets_out: 200,
        reason: "idle-timeout".into(),
    })
}

#[test]
fn records_round_trip_as_json_lines() {
    let dir = TempDir::new("acct");
    let path = dir.path().join("accounting.jsonl");
    let mut log = AccountingLog::open(&path, 1 << 20, 3).unwrap();
    log.append(&start(1)).unwrap();
    log.append(&stop(1)).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        "{\"event\":\"start\",\"time\":\"2024-05-01T12:00:01.000Z\",\"session\":1,\
         \"user\":\"user1\",\"link\":\"modem0\",\"peer\":\"tty:/dev/ttyS0\",\
         \"ipv4\":\"192.168.7.100\",\"ipv6_prefix\":\"2001:db8:100:7::/64\"}"
    );
    let stop_json: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(stop_json["event"], "stop");
    assert_eq!(stop_json["bytes_out"], 654_321);
    assert_eq!(stop_json["reason"], "idle-timeout");
    assert_eq!(log.size(), text.len() as u64);
    let (records, bad) = Records::read_all(&path, 3).unwrap();
    assert_eq!(records, vec![start(1), stop(1)]);
    assert_eq!(bad, 0);
}

#[test]
fn restarts_append_to_the_same_log() {
    let dir = TempDir::new("acct-restart");
    let path = dir.path().join("accounting.jsonl");
    for s in 1..=3 {
        let mut log = AccountingLog::open(&path, 1 << 20, 3).unwrap();
        log.append(&start(s)).unwrap();
        log.append(&stop(s)).unwrap();
    }
    let (records, bad) = Records::read_all(&path, 3).unwrap();
    assert_eq!(bad, 0);
    assert_eq!(
        records,
        vec![start(1), stop(1), start(2), stop(2), start(3), stop(3)]
    );
}

#[test]
fn torn_last_line_is_skipped_and_later_records_survive() {
    let dir = TempDir::new("acct-torn");
    let path = dir.path().join("accounting.jsonl");
    let mut log = AccountingLog::open(&path, 1 << 20, 3).unwrap();
    log.append(&start(1)).unwrap();
    log.append(&start(2)).unwrap();
    drop(log);
    // A crash in the middle of writing the stop record of session 1.
    let line = serde_json::to_string(&stop(1)).unwrap();
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&line.as_bytes()[..line.len() / 2]).unwrap();
    drop(f);
    // Restart: new records go on lines of their own.
    let mut log = AccountingLog::open(&path, 1 << 20, 3).unwrap();
    log.append(&stop(2)).unwrap();
    log.append(&start(3)).unwrap();
    let items: Vec<ReadItem> = Records::open(&path, 3).map(Result::unwrap).collect();
    assert_eq!(
        items,
        vec![
            ReadItem::Record(start(1)),
            ReadItem::Record(start(2)),
            ReadItem::Bad {
                file: path.clone(),
                line: 3
            },
            ReadItem::Record(stop(2)),
            ReadItem::Record(start(3)),
        ]
    );
    // A restart without a torn line adds nothing.
    drop(log);
    let size = fs::metadata(&path).unwrap().len();
    AccountingLog::open(&path, 1 << 20, 3).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), size);
}

#[test]
fn a_record_complete_but_for_its_newline_is_kept() {
    let dir = TempDir::new("acct-nonl");
    let path = dir.path().join("accounting.jsonl");
    fs::write(&path, serde_json::to_string(&start(1)).unwrap()).unwrap();
    let mut log = AccountingLog::open(&path, 1 << 20, 3).unwrap();
    log.append(&stop(1)).unwrap();
    assert_eq!(
        Records::read_all(&path, 3).unwrap(),
        (vec![start(1), stop(1)], 0)
    );
}

#[test]
fn garbage_blank_and_oversized_lines_are_skipped() {
    let dir = TempDir::new("acct-garbage");
    let path = dir.path().join("accounting.jsonl");
    let mut text = String::new();
    text.push_str(&serde_json::to_string(&start(1)).unwrap());
    text.push_str("\n\n   \nnot json\n{\"event\":\"teleport\"}\n");
    text.push_str(&"x".repeat(MAX_LINE + 10));
    text.push('\n');
    text.push_str(&serde_json::to_string(&stop(1)).unwrap());
    text.push('\n');
    fs::write(&path, text).unwrap();
    let items: Vec<ReadItem> = Records::open(&path, 1).map(Result::unwrap).collect();
    let bad_lines: Vec<u64> = items
        .iter()
        .filter_map(|i| match i {
            ReadItem::Bad { line, .. } => Some(*line),
            ReadItem::Record(_) => None,
        })
        .collect();
    assert_eq!(bad_lines, vec![4, 5, 6]);
    assert_eq!(
        Records::read_all(&path, 1).unwrap(),
        (vec![start(1), stop(1)], 3)
    );
}

#[test]
fn rotation_keeps_n_files_and_reads_oldest_first() {
    let dir = TempDir::new("acct-rotate");
    let path = dir.path().join("accounting.jsonl");
    let line_len = serde_json::to_string(&start(10)).unwrap().len() as u64 + 1;
    // Room for three start records per file.
    let rotate = 3 * line_len + 5;
    let mut log = AccountingLog::open(&path, rotate, 2).unwrap();
    for s in 10..40 {
        log.append(&start(s)).unwrap();
        assert!(log.size() <= rotate);
    }
    // 30 records, 3 per file: the current file and two rotated ones remain.
    assert_eq!(
        log_files(&path, 5),
        vec![rotated_path(&path, 2), rotated_path(&path, 1), path.clone()]
    );
    assert!(!rotated_path(&path, 3).exists());
    let (records, bad) = Records::read_all(&path, 2).unwrap();
    assert_eq!(bad, 0);
    let sessions: Vec<u64> = records.iter().map(Record::session).collect();
    assert_eq!(sessions, (31..40).collect::<Vec<_>>());
    // Restarting continues the current file and rotation goes on.
    drop(log);
    let mut log = AccountingLog::open(&path, rotate, 2).unwrap();
    assert_eq!(log.size(), 3 * line_len);
    log.append(&start(40)).unwrap();
    assert_eq!(log.size(), line_len);
    let (records, _) = Records::read_all(&path, 2).unwrap();
    let sessions: Vec<u64> = records.iter().map(Record::session).collect();
    assert_eq!(sessions, (34..41).collect::<Vec<_>>());
    // An explicit rotation.
    log.rotate().unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    assert_eq!(
        Records::read_all(&path, 2).unwrap().0.len(),
        4,
        "37..=40 remain in .2 and .1"
    );
}

#[test]
fn a_torn_line_in_a_rotated_file_does_not_hide_the_next_file() {
    let dir = TempDir::new("acct-torn-rotated");
    let path = dir.path().join("accounting.jsonl");
    fs::write(
        rotated_path(&path, 1),
        format!(
            "{}\n{{\"event\":\"st",
            serde_json::to_string(&start(1)).unwrap()
        ),
    )
    .unwrap();
    let mut log = AccountingLog::open(&path, 1 << 20, 3).unwrap();
    log.append(&stop(1)).unwrap();
    assert_eq!(
        Records::read_all(&path, 3).unwrap(),
        (vec![start(1), stop(1)], 1)
    );
}
