//! A plugin's configuration form (plugin ABI 1.3): the schema and UI hints come from a plugin,
//! so they are untrusted. The input is the schema, a NUL byte, then the UI hints. Parsing never
//! panics; a parsed form round-trips through JSON (what the management API sends the web UI),
//! and checking any JSON table against it (here the schema document itself) never panics and
//! stays within its bound.
#![no_main]

use dialgate_plugin_form::{ConfigForm, MAX_ISSUES, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (schema, ui) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"{}"[..]),
    };
    let (Ok(schema), Ok(ui)) = (std::str::from_utf8(schema), std::str::from_utf8(ui)) else {
        return;
    };
    let Ok(form) = parse(schema, ui) else {
        return;
    };
    let json = serde_json::to_string(&form).expect("a form serializes");
    let back: ConfigForm = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(back, form);
    if let Ok(serde_json::Value::Object(table)) = serde_json::from_str(schema) {
        assert!(form.check(&table).len() <= MAX_ISSUES);
        let _ = form.weak_settings(&table);
    }
});
