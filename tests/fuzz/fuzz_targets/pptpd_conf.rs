//! `pptpd.conf` (with pppd options) as uploaded to the web UI's import page: never panics,
//! output bounded, ranges ordered, line numbers within the file.
#![no_main]

use dialgate_pptpd_import::{MAX_IGNORED, MAX_RANGES, parse_pptpd_conf, parse_ranges};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();
    let c = parse_pptpd_conf(&text);
    assert!(c.ignored.lines.len() <= MAX_IGNORED);
    if let Some((line, ranges)) = &c.remote_ranges {
        assert!(*line >= 1 && *line <= lines);
        assert!(!ranges.is_empty() && ranges.len() <= MAX_RANGES);
        assert!(ranges.iter().all(|r| r.first <= r.last));
    }
    for (line, _) in c.listen.iter().chain(&c.dns).chain(&c.wins) {
        assert!(*line >= 1 && *line <= lines);
    }
    for i in &c.ignored.lines {
        assert!(i.line >= 1 && i.line <= lines);
    }
    if let Ok(r) = parse_ranges(&text) {
        assert!(r.iter().all(|r| r.first <= r.last));
    }
});
