//! pppd's `chap-secrets` as uploaded to the web UI's import page: never panics, output
//! bounded, every kept user named once with a non-empty name, line numbers within the file.
#![no_main]

use dialgate_pptpd_import::{MAX_ENTRIES, MAX_EXCERPT, MAX_IGNORED, parse_chap_secrets};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();
    let c = parse_chap_secrets(&text);
    assert!(c.secrets.len() <= MAX_ENTRIES);
    assert!(c.ignored.lines.len() <= MAX_IGNORED);
    for (i, s) in c.secrets.iter().enumerate() {
        assert!(!s.user.is_empty() && s.user != "*");
        assert!(s.line >= 1 && s.line <= lines);
        assert!(c.secrets[..i].iter().all(|o| o.user != s.user));
    }
    for i in &c.ignored.lines {
        assert!(i.line >= 1 && i.line <= lines);
        assert!(i.text.chars().count() <= MAX_EXCERPT + 1);
    }
});
