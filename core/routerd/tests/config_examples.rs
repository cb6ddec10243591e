//! Every example in `config/examples` passes `routerd --check-config` (the README tells users
//! to start from them).

#![allow(clippy::unwrap_used)] // Test helpers panic on purpose.

use std::path::Path;
use std::process::Command;

#[test]
fn every_example_config_checks_ok() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_routerd"))
            .arg("--check-config")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).as_ref()
            ),
            (Some(0), ""),
            "{}",
            path.display()
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{}: OK\n", path.display())
        );
        checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    checked.sort();
    for name in ["pptp-client.toml", "pptp-frontend.toml", "pptp-server.toml"] {
        assert!(
            checked.iter().any(|c| c == name),
            "{name} checked: {checked:?}"
        );
    }
}
