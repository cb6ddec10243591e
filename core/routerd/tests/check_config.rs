//! `routerd --check-config FILE`: OK and exit 0, every error and exit 1, unreadable exit 2.

#![allow(clippy::unwrap_used)] // Test helpers panic on purpose.

mod common;

use std::process::Command;

use common::TempDir;

fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_routerd"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn valid_file_prints_ok() {
    let dir = TempDir::new("check-ok");
    let path = dir.path().join("routerd.toml");
    std::fs::write(&path, dialgate_routerd::config::DEFAULT_CONFIG).unwrap();
    let (code, out, err) = run(&["--check-config".as_ref(), path.as_os_str()]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, format!("{}: OK\n", path.display()));
}

#[test]
fn invalid_file_prints_every_error() {
    let dir = TempDir::new("check-bad");
    let path = dir.path().join("routerd.toml");
    std::fs::write(
        &path,
        "[[pool]]\nname = \"office\"\nranges = [\"10.0.0.1-10.0.0.9\"]\n\n[[plugin]]\nname = \"serial\"\nfile = \"s.so\"\n\n\
         [[link]]\nname = \"a\"\nplugin = \"serial\"\nrole = \"answer\"\npool = \"office\"\n\n\
         [[link]]\nname = \"b\"\nplugin = \"serial\"\nrole = \"answer\"\npool = \"ofice\"\n\n\
         [tun]\nmtu = 10\n",
    )
    .unwrap();
    let (code, out, err) = run(&["--check-config".as_ref(), path.as_os_str()]);
    assert_eq!((code, out.as_str()), (1, ""));
    let p = path.display();
    assert_eq!(
        err,
        format!(
            "{p}:19:8: link[1].pool: unknown pool \"ofice\" (known: [\"office\"])\n\
             {p}:22:7: tun.mtu: must be 576 to 65535, not 10\n\
             {p}: 2 errors\n"
        )
    );
}

#[test]
fn unreadable_file_exits_2() {
    let (code, out, err) = run(&[
        "--check-config".as_ref(),
        "/nonexistent/routerd.toml".as_ref(),
    ]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.starts_with("routerd: /nonexistent/routerd.toml: "),
        "{err}"
    );
}

#[test]
fn default_config_can_be_printed_and_checks_ok() {
    let (code, out, _) = run(&["--print-default-config".as_ref()]);
    assert_eq!(code, 0);
    assert_eq!(out, dialgate_routerd::config::DEFAULT_CONFIG);
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = run(&["--no-such-flag".as_ref()]);
    assert_eq!(code, 2);
    assert!(err.contains("--no-such-flag"), "{err}");
}
