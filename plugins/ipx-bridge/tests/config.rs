//! The configuration form: the JSON Schema and UI hints parse as a plugin form (what the web
//! UI draws and routerd checks `[plugin.config]` against), and the schema lists exactly what
//! the plugin's own parser accepts, with the same bounds, choices and defaults.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dialgate_plugin_ipx_bridge::config::{Config, KEYS, SCHEMA, UI};
use dialgate_plugin_ipx_bridge::frame::FrameType;
use serde_json::{Map, Value, json};

const BASE: &str = "interface = \"eth1\"\nnetwork = 4660\n";

fn toml_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

#[test]
fn schema_and_ui_make_a_form_with_one_weak_setting() {
    let form = dialgate_plugin_form::parse(SCHEMA, UI).expect("a valid form");
    assert_eq!(form.title, "IPX bridge");
    let keys: Vec<&str> = form.fields.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "interface",
            "network",
            "frame_type",
            "allow_users",
            "allow_unauthenticated",
            "node_prefix",
            "max_sessions",
            "broadcasts_per_sec"
        ]
    );
    let table = |text: &str| -> Map<String, Value> {
        let t: toml::Table = text.parse().unwrap();
        serde_json::to_value(t)
            .unwrap()
            .as_object()
            .unwrap()
            .clone()
    };
    assert!(form.check(&table(BASE)).is_empty());
    assert!(form.weak_settings(&table(BASE)).is_empty());
    let weak = form.weak_settings(&table(&format!("{BASE}allow_unauthenticated = true\n")));
    assert_eq!(weak.len(), 1);
    assert_eq!(weak[0].path, "allow_unauthenticated");
    // The form refuses what the parser refuses: missing and unknown settings, ranges.
    assert!(!form.check(&table("interface = \"eth1\"\n")).is_empty());
    assert!(!form.check(&table(&format!("{BASE}bogus = 1\n"))).is_empty());
    assert!(
        !form
            .check(&table(&format!("{BASE}max_sessions = 0\n")))
            .is_empty()
    );
}

#[test]
fn the_schema_lists_exactly_what_the_parser_accepts() {
    let schema: Value = serde_json::from_str(SCHEMA).expect("JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], json!(["interface", "network"]));
    let props = schema["properties"].as_object().expect("properties");
    let mut listed: Vec<&str> = props.keys().map(String::as_str).collect();
    let mut known = KEYS.to_vec();
    listed.sort_unstable();
    known.sort_unstable();
    assert_eq!(listed, known);

    for (key, prop) in props {
        let without = BASE
            .lines()
            .filter(|l| !l.starts_with(&format!("{key} ")))
            .map(|l| format!("{l}\n"))
            .collect::<String>();
        let mut values: Vec<Value> = prop["enum"].as_array().cloned().unwrap_or_default();
        values.extend(prop.get("default").cloned());
        for v in &values {
            let text = format!("{without}{key} = {}\n", toml_value(v));
            assert!(Config::parse(&text).is_ok(), "{text:?}");
        }
        if let (Some(min), Some(max)) = (prop["minimum"].as_i64(), prop["maximum"].as_i64()) {
            for ok in [min, max] {
                let text = format!("{without}{key} = {ok}\n");
                assert!(Config::parse(&text).is_ok(), "{text:?}");
            }
            for bad in [min - 1, max + 1] {
                let text = format!("{without}{key} = {bad}\n");
                let e = Config::parse(&text).expect_err(&text);
                assert_eq!(e.field, *key, "{text:?}");
            }
        }
        if prop["enum"].is_array() {
            let e = Config::parse(&format!("{without}{key} = \"bogus\"\n")).expect_err(key);
            assert_eq!(e.field, *key);
        }
    }
    // The defaults the schema shows are what a configuration without them gets.
    let c = Config::parse(BASE).expect("valid");
    assert_eq!(props["frame_type"]["default"], c.frame_type.name());
    assert_eq!(c.frame_type, FrameType::Llc8022);
    assert_eq!(props["max_sessions"]["default"], c.max_sessions);
    assert_eq!(props["broadcasts_per_sec"]["default"], c.broadcasts_per_sec);
    assert_eq!(props["allow_unauthenticated"]["default"], false);
    assert_eq!(props["allow_users"]["default"], json!([]));
    assert_eq!(
        props["node_prefix"]["default"],
        format!("{:02x}:{:02x}", c.node_prefix[0], c.node_prefix[1])
    );
    let mut names: Vec<&str> = props["frame_type"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    names.sort_unstable();
    let mut ours = FrameType::NAMES.to_vec();
    ours.sort_unstable();
    assert_eq!(names, ours);
}
