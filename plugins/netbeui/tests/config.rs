//! The configuration form: the JSON Schema and UI hints the web UI draws the plugin's page
//! from parse as a plugin form (ABI 1.3), list exactly the settings the parser accepts, and
//! agree with it on defaults and bounds.

use dialgate_plugin_netbeui::config::{Config, KEYS, SCHEMA, UI};
use serde_json::{Map, Value};

fn toml_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

const BASE: &str = "interface = \"eth1\"\n";

#[test]
fn the_form_parses_and_lists_exactly_what_the_parser_accepts() {
    let form = dialgate_plugin_form::parse(SCHEMA, UI).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(form.title, "NetBEUI (NetBIOS Frames)");
    let mut listed: Vec<&str> = form.fields.iter().map(|f| f.key.as_str()).collect();
    let mut known = KEYS.to_vec();
    listed.sort_unstable();
    known.sort_unstable();
    assert_eq!(listed, known);
    let required: Vec<&str> = form
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(required, ["interface"]);
    // A minimal table passes the form's own check, and forward_multicast = false is weak.
    let mut table = Map::new();
    table.insert("interface".into(), Value::String("eth1".into()));
    assert!(form.check(&table).is_empty(), "{:?}", form.check(&table));
    table.insert("forward_multicast".into(), Value::Bool(false));
    assert_eq!(form.weak_settings(&table).len(), 1);
}

#[test]
fn schema_defaults_and_bounds_match_the_parser() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap_or(Value::Null);
    let props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert_eq!(props.len(), KEYS.len());
    let defaults = Config::parse(BASE).unwrap_or_else(|e| panic!("{e}"));
    for (key, prop) in &props {
        if let Some(default) = prop.get("default") {
            let text = format!("{BASE}{key} = {}\n", toml_value(default));
            let parsed = Config::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(
                parsed, defaults,
                "the schema's default of {key} is the parser's"
            );
        }
        if let (Some(min), Some(max)) = (prop["minimum"].as_i64(), prop["maximum"].as_i64()) {
            for ok in [min, max] {
                let text = format!("{BASE}{key} = {ok}\n");
                assert!(Config::parse(&text).is_ok(), "{text:?}");
            }
            for bad in [min - 1, max + 1] {
                let text = format!("{BASE}{key} = {bad}\n");
                let e = Config::parse(&text).err();
                assert_eq!(e.map(|e| e.field), Some(key.clone()), "{text:?}");
            }
        }
    }
}
