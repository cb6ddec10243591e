//! The configuration as the host hands it over: invalid documents are refused by `new` with a
//! `PluginError::InvalidConfig` naming the field, and the JSON Schema the web UI draws its form
//! from describes exactly what the parser accepts.

mod support;

use dialgate_plugin_sdk::{Plugin, PluginError};
use dialgate_plugin_serial::Serial;
use dialgate_plugin_serial::config::{PORT_KEYS, SCHEMA};
use serde_json::Value;
use support::PtyHost;

fn new(config: &str) -> Result<Serial, PluginError> {
    Serial::new(config, PtyHost::new().handle())
}

fn invalid(config: &str) -> String {
    match new(config) {
        Err(PluginError::InvalidConfig { message }) => message.into_string(),
        Err(other) => panic!("{config:?}: {other:?}"),
        Ok(_) => panic!("{config:?} was accepted"),
    }
}

#[test]
fn bad_configs_are_refused_naming_the_field() {
    let port = "[[ports]]\nname = \"p0\"\ndevice = \"/dev/ttyS0\"\n";
    let cases = [
        ("", "ports: "),
        ("[[ports]]\nname = \"p0\"\n", "ports[0].device: "),
        (
            &format!("{port}speed = 11520\n") as &str,
            "ports[0].speed: ",
        ),
        (&format!("{port}lines = \"dcd\"\n"), "ports[0].lines: "),
        (&format!("{port}role = \"callback\"\n"), "ports[0].role: "),
        (&format!("{port}baud = 9600\n"), "ports[0].baud: "),
        (
            &format!("{port}[[ports]]\nname = \"p1\"\ndevice = \"/dev/ttyS0\"\n"),
            "ports[1].device: ",
        ),
        (
            "[[ports]]\nname = \"a b\"\ndevice = \"/dev/ttyS0\"\n",
            "ports[0].name: ",
        ),
    ];
    for (config, prefix) in cases {
        let message = invalid(config);
        assert!(message.starts_with(prefix), "{config:?}: {message}");
    }
    let message = invalid(&format!("{port}speed = 11520\n"));
    assert!(
        message.contains("11520") && message.contains("115200"),
        "{message}"
    );
}

/// The schema's port properties, as JSON.
fn port_schema(schema: &Value) -> &serde_json::Map<String, Value> {
    schema["properties"]["ports"]["items"]["properties"]
        .as_object()
        .expect("port properties")
}

#[test]
fn the_schema_is_json_schema_2020_12() {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the schema is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], serde_json::json!(["ports"]));
    let items = &schema["properties"]["ports"]["items"];
    assert_eq!(items["additionalProperties"], false);
    assert_eq!(items["required"], serde_json::json!(["name", "device"]));
}

#[test]
fn the_schema_lists_exactly_what_the_parser_accepts() {
    let schema: Value = serde_json::from_str(SCHEMA).expect("JSON");
    let props = port_schema(&schema);
    let mut listed: Vec<&str> = props.keys().map(String::as_str).collect();
    let mut known = PORT_KEYS.to_vec();
    listed.sort_unstable();
    known.sort_unstable();
    assert_eq!(listed, known);

    let base = |role: &str| {
        let mut t = "[[ports]]\nname = \"p0\"\ndevice = \"/dev/ttyS0\"\n".to_owned();
        if !role.is_empty() {
            t.push_str(&format!("role = \"{role}\"\n"));
        }
        t
    };
    for (key, prop) in props {
        if key == "name" || key == "device" {
            continue;
        }
        // Settings that only dial ports take are tried on a dial port.
        let role = match key.as_str() {
            "number" | "dial_timeout_secs" => "dial",
            "role" => "",
            _ => "answer",
        };
        let toml_value = |v: &Value| match v {
            Value::String(s) => format!("\"{s}\""),
            other => other.to_string(),
        };
        // Every enumerated value and the default are accepted ...
        let mut values: Vec<Value> = prop["enum"].as_array().cloned().unwrap_or_default();
        values.extend(prop.get("default").cloned());
        for v in &values {
            let config = format!("{}{key} = {}\n", base(role), toml_value(v));
            assert!(new(&config).is_ok(), "{config:?}: {:?}", new(&config).err());
        }
        // ... and so are the bounds, while values past them are refused.
        if let (Some(min), Some(max)) = (prop["minimum"].as_i64(), prop["maximum"].as_i64()) {
            for ok in [min, max] {
                assert!(
                    new(&format!("{}{key} = {ok}\n", base(role))).is_ok(),
                    "{key} = {ok}"
                );
            }
            for bad in [min - 1, max + 1] {
                let message = invalid(&format!("{}{key} = {bad}\n", base(role)));
                assert!(
                    message.starts_with(&format!("ports[0].{key}: ")),
                    "{message}"
                );
            }
        }
        if prop["enum"].is_array() && prop["type"] != "integer" {
            let message = invalid(&format!("{}{key} = \"bogus\"\n", base(role)));
            assert!(
                message.starts_with(&format!("ports[0].{key}: ")),
                "{message}"
            );
        }
    }
    // The defaults the schema shows are the ones a port without the setting gets.
    let defaults = new(&base("answer")).expect("valid");
    let port = defaults.ports().next().expect("one port");
    assert_eq!(props["speed"]["default"], port.speed);
    assert_eq!(props["mru"]["default"], port.mru);
    assert_eq!(props["role"]["default"], "answer");
    assert_eq!(props["lines"]["default"], "local");
    assert_eq!(props["flow_control"]["default"], "none");
    let dial = new(&base("dial")).expect("valid");
    let port = dial.ports().next().expect("one port");
    assert_eq!(
        props["dial_timeout_secs"]["default"],
        port.dial_timeout.as_secs()
    );
    assert_eq!(
        props["speed"]["enum"],
        serde_json::json!(dialgate_plugin_serial::config::SPEEDS)
    );
}
