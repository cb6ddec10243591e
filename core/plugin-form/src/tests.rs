#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

const SCHEMA: &str = r#"{
  "title": "demo",
  "description": "A demo plugin.",
  "type": "object",
  "additionalProperties": false,
  "required": ["ports"],
  "properties": {
    "host_name": { "title": "Host name", "type": "string", "maxLength": 8, "default": "box" },
    "verbose": { "type": "boolean", "default": false },
    "listen": { "type": "array", "items": { "type": "string" }, "maxItems": 2,
                "default": ["0.0.0.0:1723"] },
    "ports": {
      "title": "Ports",
      "type": "array",
      "minItems": 1,
      "items": {
        "type": "object",
        "required": ["name"],
        "properties": {
          "name": { "title": "Name", "description": "Unique.", "type": "string",
                    "pattern": "^[a-z]+$" },
          "speed": { "type": "integer", "enum": [9600, 115200], "default": 115200 },
          "lines": { "enum": ["local", "modem"], "default": "local" },
          "mru": { "type": "integer", "minimum": 64, "maximum": 65535 }
        }
      }
    }
  }
}"#;

const UI: &str = r#"{
  "title": "Demo ports",
  "order": ["ports", "listen"],
  "fields": {
    "ports": { "item_label": "Port", "order": ["lines", "name"] },
    "ports.lines": { "label": "Modem lines", "weak": ["local"], "warning": "Hang-ups go unnoticed." },
    "verbose": { "help": "Log more.", "weak": [true], "warning": "Logs secrets." }
  }
}"#;

fn form() -> ConfigForm {
    parse(SCHEMA, UI).unwrap()
}

fn keys(fields: &[Field]) -> Vec<&str> {
    fields.iter().map(|f| f.key.as_str()).collect()
}

fn table(v: serde_json::Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn schema_and_hints_make_an_ordered_labelled_form() {
    let f = form();
    assert_eq!(f.title, "Demo ports");
    assert_eq!(f.description, "A demo plugin.");
    // Named fields first, in the hint's order; the rest in name order.
    assert_eq!(keys(&f.fields), ["ports", "listen", "host_name", "verbose"]);
    let ports = f.field("ports").unwrap();
    assert!(ports.required);
    let Kind::Table {
        item_label,
        fields,
        min_items,
        ..
    } = &ports.kind
    else {
        panic!("ports is a table: {ports:?}");
    };
    assert_eq!(item_label, "Port");
    assert_eq!(*min_items, Some(1));
    assert_eq!(keys(fields), ["lines", "name", "mru", "speed"]);
    assert_eq!(fields[0].label, "Modem lines");
    assert_eq!(
        fields[0].weak,
        Some(Weak {
            values: vec![Scalar::Text("local".into())],
            warning: "Hang-ups go unnoticed.".into()
        })
    );
    assert_eq!(fields[1].label, "Name");
    assert_eq!(fields[1].help, "Unique.");
    assert!(fields[1].required);
    assert_eq!(fields[3].label, "speed", "no title: the key is the label");
    assert_eq!(
        fields[3].kind,
        Kind::Choice {
            choices: vec![Scalar::Integer(9600), Scalar::Integer(115200)],
            default: Some(Scalar::Integer(115200))
        }
    );
    let verbose = f.field("verbose").unwrap();
    assert_eq!(verbose.help, "Log more.");
    assert_eq!(
        verbose.kind,
        Kind::Boolean {
            default: Some(false)
        }
    );
    assert_eq!(
        f.field("listen").unwrap().kind,
        Kind::TextList {
            default: Some(vec!["0.0.0.0:1723".into()]),
            min_items: None,
            max_items: Some(2)
        }
    );
}

#[test]
fn without_hints_fields_come_in_name_order_under_the_schema_title() {
    let f = parse(SCHEMA, "{}").unwrap();
    assert_eq!(f.title, "demo");
    assert_eq!(keys(&f.fields), ["host_name", "listen", "ports", "verbose"]);
}

#[test]
fn the_form_round_trips_through_json() {
    let f = form();
    let text = serde_json::to_string(&f).unwrap();
    let back: ConfigForm = serde_json::from_str(&text).unwrap();
    assert_eq!(back, f);
}

#[test]
fn malformed_documents_are_errors_naming_the_place() {
    let cases: &[(&str, &str, &str)] = &[
        ("not json", "{}", "schema"),
        ("{}", "[1", "ui"),
        ("[]", "{}", "schema"),
        (r#"{"type":"array"}"#, "{}", "schema: type"),
        (r#"{"properties":3}"#, "{}", "schema.properties"),
        (r#"{"properties":{"a":{}}}"#, "{}", "schema.properties.a"),
        (
            r#"{"properties":{"a":{"type":"number"}}}"#,
            "{}",
            "schema.properties.a.type",
        ),
        (
            r#"{"properties":{"a":{"type":["string","null"]}}}"#,
            "{}",
            "schema.properties.a.type",
        ),
        (
            r#"{"properties":{"a":{"oneOf":[]}}}"#,
            "{}",
            "schema.properties.a",
        ),
        (
            r#"{"properties":{"a b":{"type":"string"}}}"#,
            "{}",
            "schema.properties.a b",
        ),
        (
            r#"{"required":["b"],"properties":{"a":{"type":"string"}}}"#,
            "{}",
            "schema.required",
        ),
        (
            r#"{"properties":{"a":{"enum":[]}}}"#,
            "{}",
            "schema.properties.a.enum",
        ),
        (
            r#"{"properties":{"a":{"enum":["x", 1]}}}"#,
            "{}",
            "schema.properties.a.enum",
        ),
        (
            r#"{"properties":{"a":{"enum":["x"],"default":"y"}}}"#,
            "{}",
            "schema.properties.a.default",
        ),
        (
            r#"{"properties":{"a":{"type":"integer","default":1.5}}}"#,
            "{}",
            "schema.properties.a.default",
        ),
        (
            r#"{"properties":{"a":{"type":"integer","minimum":5,"maximum":1}}}"#,
            "{}",
            "schema.properties.a",
        ),
        (
            r#"{"properties":{"a":{"type":"array"}}}"#,
            "{}",
            "schema.properties.a.items",
        ),
        (
            r#"{"properties":{"a":{"type":"array","items":{"type":"object","properties":{"b":{"type":"array","items":{"type":"object","properties":{"c":{"type":"string"}}}}}}}}}"#,
            "{}",
            "schema.properties.a.items.properties.b.items",
        ),
        (
            r#"{"properties":{"a":{"type":"string","title":7}}}"#,
            "{}",
            "schema.properties.a.title",
        ),
        (SCHEMA, r#"{"colour":"red"}"#, "ui.colour"),
        (SCHEMA, r#"{"order":["nope"]}"#, "ui.order"),
        (SCHEMA, r#"{"order":["ports","ports"]}"#, "ui.order"),
        (SCHEMA, r#"{"fields":{"nope":{}}}"#, "ui: fields.nope"),
        (
            SCHEMA,
            r#"{"fields":{"ports.nope":{}}}"#,
            "ui: fields.ports.nope",
        ),
        (
            SCHEMA,
            r#"{"fields":{"verbose":{"weak":[true]}}}"#,
            "ui.fields.verbose",
        ),
        (
            SCHEMA,
            r#"{"fields":{"verbose":{"weak":["yes"],"warning":"w"}}}"#,
            "ui.fields.verbose.weak",
        ),
        (
            SCHEMA,
            r#"{"fields":{"ports.lines":{"weak":["dcd"],"warning":"w"}}}"#,
            "ui.fields.ports.lines.weak",
        ),
        (
            SCHEMA,
            r#"{"fields":{"verbose":{"order":["x"]}}}"#,
            "ui.fields.verbose",
        ),
        (
            SCHEMA,
            r#"{"fields":{"verbose":{"colour":1}}}"#,
            "ui.fields.verbose.colour",
        ),
    ];
    for (schema, ui, place) in cases {
        let e = parse(schema, ui).expect_err(&format!("{schema} / {ui} is malformed"));
        assert!(
            e.place.starts_with(place),
            "{schema} / {ui}: expected the error at {place}, got {e}"
        );
        assert!(e.to_string().starts_with(&e.place), "{e}");
    }
}

#[test]
fn oversized_and_deeply_nested_documents_are_refused() {
    let big = format!("\"{}\"", "x".repeat(MAX_DOCUMENT));
    assert!(parse(&big, "{}").unwrap_err().message.contains("at most"));
    assert!(parse("{}", &big).is_err());
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = parse(&deep, "{}").unwrap_err();
    assert_eq!(e.place, "schema");
    let long_title = format!(
        r#"{{"properties":{{"a":{{"type":"string","title":"{}"}}}}}}"#,
        "t".repeat(MAX_TEXT + 1)
    );
    assert!(parse(&long_title, "{}").is_err());
    let many: Vec<String> = (0..=MAX_FIELDS)
        .map(|i| format!("\"f{i}\":{{\"type\":\"boolean\"}}"))
        .collect();
    let many = format!("{{\"properties\":{{{}}}}}", many.join(","));
    assert!(parse(&many, "{}").unwrap_err().message.contains("fields"));
}

#[test]
fn check_reports_each_problem_with_its_path() {
    let f = form();
    assert_eq!(
        f.check(&table(json!({"ports": [{"name": "a"}]}))),
        Vec::<Issue>::new()
    );
    let issues = f.check(&table(json!({
        "colour": 1,
        "host_name": "far-too-long",
        "verbose": "yes",
        "listen": ["a", 2],
        "ports": [
            {"name": "a", "speed": 9601, "lines": "dcd", "mru": 10},
            {"speed": 9600, "extra": true},
            "x"
        ]
    })));
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "colour",
            "ports[0].lines",
            "ports[0].mru",
            "ports[0].speed",
            "ports[1].extra",
            "ports[1].name",
            "ports[2]",
            "listen",
            "host_name",
            "verbose",
        ]
    );
    assert!(
        issues[3]
            .message
            .contains("9601 is not one of `9600`, `115200`")
    );
    assert!(issues[2].message.contains("below the minimum 64"));
    assert!(issues[5].message.starts_with("missing"));
    let missing = f.check(&table(json!({})));
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].path, "ports");
    let empty = f.check(&table(json!({"ports": []})));
    assert_eq!(empty[0].message, "at least 1 items");
}

#[test]
fn check_bounds_its_answer() {
    let f = form();
    let ports: Vec<Value> = (0..1000).map(|_| json!({"mru": 1})).collect();
    let issues = f.check(&table(json!({ "ports": ports })));
    assert_eq!(issues.len(), MAX_ISSUES);
}

#[test]
fn weak_settings_include_weak_defaults() {
    let f = form();
    let weak = f.weak_settings(&table(json!({
        "verbose": true,
        "ports": [{"name": "a", "lines": "modem"}, {"name": "b"}]
    })));
    let paths: Vec<&str> = weak.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["ports[1].lines", "verbose"]);
    assert_eq!(weak[0].warning, "Hang-ups go unnoticed.");
    let none = f.weak_settings(&table(json!({"ports": [{"name": "a", "lines": "modem"}]})));
    assert!(none.is_empty(), "{none:?}");
}
