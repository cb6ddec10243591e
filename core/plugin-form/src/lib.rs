//! A plugin's configuration form (plugin ABI 1.3): what a link's `[link.config]` table holds,
//! as the plugin describes it, so the web UI can draw its form and routerd can check a
//! configuration against it before applying.
//!
//! A plugin gives two JSON documents through the ABI (`PluginModule::config_schema` since 1.0,
//! `PluginModule::config_ui` since 1.3):
//!
//! - the **schema**: a JSON Schema (draft 2020-12) of the configuration table, limited to what a
//!   form can show: an object whose properties are strings, integers, booleans, enums (of
//!   strings or integers), arrays of strings, and at the top level arrays of objects of those
//!   (serial's `[[ports]]`). `title` and `description` are the labels and help texts.
//! - the **UI hints** ([`parse`] documents the format): the page's title, the field order, label
//!   and help overrides, and the *weak* values that put a field behind an acknowledged warning.
//!
//! Both come from a plugin, so they are untrusted input: [`parse`] bounds their size
//! ([`MAX_DOCUMENT`]), nesting (serde_json's recursion limit, then the two levels a form has),
//! and every count and length ([`MAX_FIELDS`], [`MAX_CHOICES`], [`MAX_TEXT`]), and answers a
//! [`FormError`] naming the place, never a panic. A fuzz target (tests/fuzz `plugin_form`)
//! holds it to that.
//!
//! [`ConfigForm::check`] checks a configuration table (as JSON) against the form: unknown
//! settings, missing required ones, types, enums, ranges, lengths and item counts, each
//! problem with its path (`ports[1].speed`), the way the plugins' own parsers name fields.
//! Patterns are left to the plugin (and the browser): no regex engine runs here.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The largest schema or UI hints document accepted, in bytes.
pub const MAX_DOCUMENT: usize = 64 * 1024;
/// The most fields a form has, nested ones included.
pub const MAX_FIELDS: usize = 128;
/// The most choices of an enum, and weak values of a field.
pub const MAX_CHOICES: usize = 64;
/// The longest label, help text, warning, title, default or pattern, in characters.
pub const MAX_TEXT: usize = 2048;
/// The longest setting name.
pub const MAX_KEY: usize = 64;
/// The most problems [`ConfigForm::check`] reports.
pub const MAX_ISSUES: usize = 64;

/// A plugin's configuration form: the page's title and its fields, in display order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigForm {
    /// The page's title (`Serial ports and modems`).
    pub title: String,
    /// What the plugin does, one paragraph.
    pub description: String,
    /// The fields, in display order.
    pub fields: Vec<Field>,
}

/// One setting of the configuration table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// The setting's name in the TOML table.
    pub key: String,
    /// Its label.
    pub label: String,
    /// Help text shown under it (may be empty).
    pub help: String,
    /// Whether the table must have it.
    pub required: bool,
    /// What it holds.
    pub kind: Kind,
    /// Values that need the admin to acknowledge a warning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weak: Option<Weak>,
}

/// Values of a field that weaken the box (security or robustness), and the warning shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weak {
    /// The weak values (for a list: any item equal to one of them).
    pub values: Vec<Scalar>,
    /// Why they are weak, for the admin.
    pub warning: String,
}

/// A single value: what enums, defaults and weak values hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A string.
    Text(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Integer(n) => write!(f, "{n}"),
            Scalar::Text(s) => f.write_str(s),
        }
    }
}

impl Scalar {
    fn from_json(v: &Value) -> Option<Scalar> {
        match v {
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            Value::Number(n) => n.as_i64().map(Scalar::Integer),
            Value::String(s) => Some(Scalar::Text(s.clone())),
            _ => None,
        }
    }

    /// Whether the JSON value `v` is this scalar.
    pub fn matches(&self, v: &Value) -> bool {
        match (self, v) {
            (Scalar::Bool(a), Value::Bool(b)) => a == b,
            (Scalar::Integer(a), Value::Number(b)) => b.as_i64() == Some(*a),
            (Scalar::Text(a), Value::String(b)) => a == b,
            _ => false,
        }
    }
}

/// What a field holds, with its constraints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// A string.
    Text {
        /// Its default.
        default: Option<String>,
        /// The fewest characters.
        min_length: Option<u64>,
        /// The most characters.
        max_length: Option<u64>,
        /// An ECMA-262 regular expression it must match (checked by the plugin and the
        /// browser, not by [`ConfigForm::check`]).
        pattern: Option<String>,
    },
    /// A whole number.
    Integer {
        /// Its default.
        default: Option<i64>,
        /// The smallest value.
        minimum: Option<i64>,
        /// The largest value.
        maximum: Option<i64>,
    },
    /// `true` or `false`.
    Boolean {
        /// Its default.
        default: Option<bool>,
    },
    /// One of a list of strings or integers.
    Choice {
        /// The choices, in order.
        choices: Vec<Scalar>,
        /// The default.
        default: Option<Scalar>,
    },
    /// An array of strings.
    TextList {
        /// Its default.
        default: Option<Vec<String>>,
        /// The fewest items.
        min_items: Option<u64>,
        /// The most items.
        max_items: Option<u64>,
    },
    /// An array of tables (`[[ports]]`), each with its own fields (top level only).
    Table {
        /// What one item is called (`Port`).
        item_label: String,
        /// The fields of one item, in display order.
        fields: Vec<Field>,
        /// The fewest items.
        min_items: Option<u64>,
        /// The most items.
        max_items: Option<u64>,
    },
}

/// Why a plugin's schema or UI hints cannot be used: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormError {
    /// `schema` or `ui`, then a JSON path (`schema: properties.ports.items`).
    pub place: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

impl std::error::Error for FormError {}

fn err(place: impl Into<String>, message: impl Into<String>) -> FormError {
    FormError {
        place: place.into(),
        message: message.into(),
    }
}

/// One problem of a configuration table found by [`ConfigForm::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// The setting's path (`ports[1].speed`; empty for the table itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// A weak value found in a configuration by [`ConfigForm::weak_settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakSetting {
    /// The setting's path (`ports[0].lines`).
    pub path: String,
    /// The field's warning.
    pub warning: String,
}

/// Parses a plugin's schema and UI hints into its form.
///
/// The UI hints document is a JSON object, every member optional, unknown members refused:
///
/// ```json
/// {
///   "title": "Serial ports and modems",
///   "description": "...",
///   "order": ["ports"],
///   "fields": {
///     "ports": { "label": "Ports", "help": "...", "item_label": "Port",
///                "order": ["name", "device", "lines"] },
///     "ports.lines": { "weak": ["local"], "warning": "..." }
///   }
/// }
/// ```
///
/// `fields` is keyed by the setting's name, or `table.setting` inside an array of tables; an
/// entry may set `label`, `help`, `weak` (values of the field's own type) with its `warning`
/// (required with `weak`), and for an array of tables `item_label` and `order`. Fields not
/// named in an `order` follow those that are, in the order of their names (JSON objects are
/// unordered). Labels and help default
/// to the schema's `title` and `description`, the form's title to the schema's `title`.
pub fn parse(schema: &str, ui: &str) -> Result<ConfigForm, FormError> {
    let schema = document("schema", schema)?;
    let ui = document("ui", ui)?;
    let root = object(&schema, "schema")?;
    if let Some(t) = root.get("type")
        && t != "object"
    {
        return Err(err("schema: type", "the configuration must be an object"));
    }
    let mut budget = MAX_FIELDS;
    let mut fields = properties(root, "schema", true, &mut budget)?;

    let ui = object(&ui, "ui")?;
    let mut hints = UiHints::read(ui)?;
    let title = match hints.title.take() {
        Some(t) => t,
        None => text_member(root, "title", "schema")?.unwrap_or_default(),
    };
    let description = match hints.description.take() {
        Some(d) => d,
        None => text_member(root, "description", "schema")?.unwrap_or_default(),
    };
    apply_hints(&mut fields, "", hints.order.as_deref(), &mut hints.fields)?;
    if let Some(path) = hints.fields.keys().next() {
        return Err(err(
            format!("ui: fields.{path}"),
            "names no field of the schema",
        ));
    }
    Ok(ConfigForm {
        title,
        description,
        fields,
    })
}

fn document(which: &str, text: &str) -> Result<Value, FormError> {
    if text.len() > MAX_DOCUMENT {
        return Err(err(
            which,
            format!("{} bytes, at most {MAX_DOCUMENT} allowed", text.len()),
        ));
    }
    // serde_json refuses nesting deeper than 128 levels, so this recursion is bounded too.
    serde_json::from_str(text).map_err(|e| err(which, format!("not JSON: {e}")))
}

fn object<'a>(v: &'a Value, place: &str) -> Result<&'a Map<String, Value>, FormError> {
    v.as_object()
        .ok_or_else(|| err(place, "expected a JSON object"))
}

fn bounded_text(s: &str, place: &str) -> Result<String, FormError> {
    if s.chars().count() > MAX_TEXT {
        return Err(err(place, format!("longer than {MAX_TEXT} characters")));
    }
    Ok(s.to_owned())
}

fn text_member(
    obj: &Map<String, Value>,
    key: &str,
    place: &str,
) -> Result<Option<String>, FormError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => bounded_text(s, &format!("{place}.{key}")).map(Some),
        Some(_) => Err(err(format!("{place}.{key}"), "expected a string")),
    }
}

fn count_member(
    obj: &Map<String, Value>,
    key: &str,
    place: &str,
) -> Result<Option<u64>, FormError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| err(format!("{place}.{key}"), "expected a whole number ≥ 0")),
    }
}

fn int_member(obj: &Map<String, Value>, key: &str, place: &str) -> Result<Option<i64>, FormError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| err(format!("{place}.{key}"), "expected a whole number")),
    }
}

fn check_key(key: &str, place: &str) -> Result<(), FormError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(err(
            place,
            format!("setting names are 1 to {MAX_KEY} letters, digits, `_` or `-`"),
        ))
    }
}

/// The fields of an object schema's `properties`, in order; `top` allows arrays of tables.
fn properties(
    obj: &Map<String, Value>,
    place: &str,
    top: bool,
    budget: &mut usize,
) -> Result<Vec<Field>, FormError> {
    let props = match obj.get("properties") {
        None => return Ok(Vec::new()),
        Some(Value::Object(p)) => p,
        Some(_) => return Err(err(format!("{place}.properties"), "expected an object")),
    };
    let required: Vec<&str> = match obj.get("required") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| err(format!("{place}.required"), "expected strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err(format!("{place}.required"), "expected an array")),
    };
    if let Some(r) = required.iter().find(|r| !props.contains_key(**r)) {
        return Err(err(
            format!("{place}.required"),
            format!("`{}` is not a property", shorten(r)),
        ));
    }
    let mut out = Vec::with_capacity(props.len().min(MAX_FIELDS));
    for (key, prop) in props {
        let here = format!("{place}.properties.{}", shorten(key));
        check_key(key, &here)?;
        if *budget == 0 {
            return Err(err(here, format!("more than {MAX_FIELDS} fields")));
        }
        *budget -= 1;
        let prop = object(prop, &here)?;
        let kind = kind(prop, &here, top, budget)?;
        out.push(Field {
            key: key.clone(),
            label: text_member(prop, "title", &here)?.unwrap_or_else(|| key.clone()),
            help: text_member(prop, "description", &here)?.unwrap_or_default(),
            required: required.contains(&key.as_str()),
            kind,
            weak: None,
        });
    }
    // JSON objects are unordered: without an `order` hint, fields come in the order of
    // their names, whatever map serde_json was built with.
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

fn shorten(s: &str) -> String {
    s.chars().take(MAX_KEY).collect()
}

fn type_of<'a>(prop: &'a Map<String, Value>, place: &str) -> Result<Option<&'a str>, FormError> {
    match prop.get("type") {
        None => Ok(None),
        Some(Value::String(t)) => Ok(Some(t)),
        Some(_) => Err(err(
            format!("{place}.type"),
            "expected one type name (type lists are not supported)",
        )),
    }
}

fn kind(
    prop: &Map<String, Value>,
    place: &str,
    top: bool,
    budget: &mut usize,
) -> Result<Kind, FormError> {
    for unsupported in [
        "oneOf", "anyOf", "allOf", "not", "$ref", "if", "const", "format",
    ] {
        if prop.contains_key(unsupported) {
            return Err(err(
                place,
                format!("`{unsupported}` is not supported in a form"),
            ));
        }
    }
    let ty = type_of(prop, place)?;
    if let Some(choices) = prop.get("enum") {
        let Value::Array(choices) = choices else {
            return Err(err(format!("{place}.enum"), "expected an array"));
        };
        if choices.is_empty() || choices.len() > MAX_CHOICES {
            return Err(err(
                format!("{place}.enum"),
                format!("1 to {MAX_CHOICES} choices"),
            ));
        }
        let mut out: Vec<Scalar> = Vec::with_capacity(choices.len());
        for c in choices {
            let s = match (c, ty) {
                (Value::String(s), None | Some("string")) => {
                    Scalar::Text(bounded_text(s, &format!("{place}.enum"))?)
                }
                (Value::Number(n), None | Some("integer")) => {
                    Scalar::Integer(n.as_i64().ok_or_else(|| {
                        err(format!("{place}.enum"), "numbers must be whole numbers")
                    })?)
                }
                _ => {
                    return Err(err(
                        format!("{place}.enum"),
                        "choices are all strings or all integers, of the field's type",
                    ));
                }
            };
            if out.contains(&s) {
                return Err(err(format!("{place}.enum"), format!("`{s}` twice")));
            }
            out.push(s);
        }
        if out.iter().any(|c| matches!(c, Scalar::Text(_)))
            && out.iter().any(|c| matches!(c, Scalar::Integer(_)))
        {
            return Err(err(
                format!("{place}.enum"),
                "choices are all strings or all integers",
            ));
        }
        let default = match prop.get("default") {
            None => None,
            Some(d) => {
                let d = Scalar::from_json(d)
                    .filter(|d| out.contains(d))
                    .ok_or_else(|| err(format!("{place}.default"), "not one of the choices"))?;
                Some(d)
            }
        };
        return Ok(Kind::Choice {
            choices: out,
            default,
        });
    }
    let default_place = format!("{place}.default");
    match ty {
        Some("string") => {
            let default = match prop.get("default") {
                None => None,
                Some(Value::String(s)) => Some(bounded_text(s, &default_place)?),
                Some(_) => return Err(err(default_place, "expected a string")),
            };
            Ok(Kind::Text {
                default,
                min_length: count_member(prop, "minLength", place)?,
                max_length: count_member(prop, "maxLength", place)?,
                pattern: text_member(prop, "pattern", place)?,
            })
        }
        Some("integer") => {
            let default = match prop.get("default") {
                None => None,
                Some(v) => Some(
                    v.as_i64()
                        .ok_or_else(|| err(default_place, "expected a whole number"))?,
                ),
            };
            let minimum = int_member(prop, "minimum", place)?;
            let maximum = int_member(prop, "maximum", place)?;
            if let (Some(lo), Some(hi)) = (minimum, maximum)
                && lo > hi
            {
                return Err(err(place, "minimum is above maximum"));
            }
            Ok(Kind::Integer {
                default,
                minimum,
                maximum,
            })
        }
        Some("boolean") => {
            let default = match prop.get("default") {
                None => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(err(default_place, "expected true or false")),
            };
            Ok(Kind::Boolean { default })
        }
        Some("array") => {
            let items_place = format!("{place}.items");
            let items = prop
                .get("items")
                .ok_or_else(|| err(&items_place, "an array needs `items`"))?;
            let items = object(items, &items_place)?;
            let min_items = count_member(prop, "minItems", place)?;
            let max_items = count_member(prop, "maxItems", place)?;
            match type_of(items, &items_place)? {
                Some("string") if !items.contains_key("enum") => {
                    let default = match prop.get("default") {
                        None => None,
                        Some(Value::Array(a)) => {
                            if a.len() > MAX_CHOICES {
                                return Err(err(default_place, "too many items"));
                            }
                            Some(
                                a.iter()
                                    .map(|v| match v {
                                        Value::String(s) => bounded_text(s, &default_place),
                                        _ => Err(err(&default_place, "expected strings")),
                                    })
                                    .collect::<Result<Vec<_>, _>>()?,
                            )
                        }
                        Some(_) => return Err(err(default_place, "expected an array")),
                    };
                    Ok(Kind::TextList {
                        default,
                        min_items,
                        max_items,
                    })
                }
                Some("object") if top => {
                    let fields = properties(items, &items_place, false, budget)?;
                    if fields.is_empty() {
                        return Err(err(items_place, "an item needs properties"));
                    }
                    Ok(Kind::Table {
                        item_label: text_member(items, "title", &items_place)?
                            .unwrap_or_else(|| "Item".to_owned()),
                        fields,
                        min_items,
                        max_items,
                    })
                }
                Some("object") => Err(err(
                    items_place,
                    "arrays of tables are supported at the top level only",
                )),
                _ => Err(err(
                    items_place,
                    "arrays hold strings, or tables at the top level",
                )),
            }
        }
        Some(other) => Err(err(
            format!("{place}.type"),
            format!("type `{}` is not supported in a form", shorten(other)),
        )),
        None => Err(err(place, "a field needs a `type` or an `enum`")),
    }
}

/// The UI hints document, read.
struct UiHints {
    title: Option<String>,
    description: Option<String>,
    order: Option<Vec<String>>,
    fields: BTreeMap<String, FieldHint>,
}

#[derive(Default)]
struct FieldHint {
    label: Option<String>,
    help: Option<String>,
    item_label: Option<String>,
    order: Option<Vec<String>>,
    weak: Option<Vec<Value>>,
    warning: Option<String>,
}

fn string_list(v: &Value, place: &str) -> Result<Vec<String>, FormError> {
    let Value::Array(a) = v else {
        return Err(err(place, "expected an array of names"));
    };
    if a.len() > MAX_FIELDS {
        return Err(err(place, format!("more than {MAX_FIELDS} names")));
    }
    a.iter()
        .map(|v| {
            v.as_str()
                .map(shorten)
                .ok_or_else(|| err(place, "expected names (strings)"))
        })
        .collect()
}

impl UiHints {
    fn read(ui: &Map<String, Value>) -> Result<UiHints, FormError> {
        if let Some(k) = ui
            .keys()
            .find(|k| !["title", "description", "order", "fields"].contains(&k.as_str()))
        {
            return Err(err(
                format!("ui.{}", shorten(k)),
                "unknown member (title, description, order, fields)",
            ));
        }
        let order = ui.get("order").map(|v| string_list(v, "ui.order"));
        let mut fields = BTreeMap::new();
        match ui.get("fields") {
            None => {}
            Some(Value::Object(map)) => {
                if map.len() > MAX_FIELDS {
                    return Err(err("ui.fields", format!("more than {MAX_FIELDS} entries")));
                }
                for (path, hint) in map {
                    let place = format!("ui.fields.{}", shorten(path));
                    let hint = object(hint, &place)?;
                    fields.insert(path.clone(), FieldHint::read(hint, &place)?);
                }
            }
            Some(_) => return Err(err("ui.fields", "expected an object")),
        }
        Ok(UiHints {
            title: text_member(ui, "title", "ui")?,
            description: text_member(ui, "description", "ui")?,
            order: order.transpose()?,
            fields,
        })
    }
}

impl FieldHint {
    fn read(hint: &Map<String, Value>, place: &str) -> Result<FieldHint, FormError> {
        const KNOWN: [&str; 6] = ["label", "help", "item_label", "order", "weak", "warning"];
        if let Some(k) = hint.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(err(
                format!("{place}.{}", shorten(k)),
                "unknown member (label, help, item_label, order, weak, warning)",
            ));
        }
        let weak = match hint.get("weak") {
            None => None,
            Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_CHOICES => Some(a.clone()),
            Some(_) => {
                return Err(err(
                    format!("{place}.weak"),
                    format!("expected an array of 1 to {MAX_CHOICES} values"),
                ));
            }
        };
        let warning = text_member(hint, "warning", place)?;
        if weak.is_some() != warning.is_some() {
            return Err(err(place, "`weak` and `warning` go together"));
        }
        Ok(FieldHint {
            label: text_member(hint, "label", place)?,
            help: text_member(hint, "help", place)?,
            item_label: text_member(hint, "item_label", place)?,
            order: hint
                .get("order")
                .map(|v| string_list(v, &format!("{place}.order")))
                .transpose()?,
            weak,
            warning,
        })
    }
}

/// Applies the hints to `fields` (prefix `""` or `table.`), taking each used hint out of
/// `hints`, and orders the fields.
fn apply_hints(
    fields: &mut [Field],
    prefix: &str,
    order: Option<&[String]>,
    hints: &mut BTreeMap<String, FieldHint>,
) -> Result<(), FormError> {
    for field in fields.iter_mut() {
        let path = format!("{prefix}{}", field.key);
        let place = format!("ui.fields.{path}");
        let hint = hints.remove(&path).unwrap_or_default();
        if let Some(l) = hint.label {
            field.label = l;
        }
        if let Some(h) = hint.help {
            field.help = h;
        }
        match &mut field.kind {
            Kind::Table {
                item_label,
                fields: inner,
                ..
            } => {
                if let Some(l) = hint.item_label {
                    *item_label = l;
                }
                apply_hints(inner, &format!("{path}."), hint.order.as_deref(), hints)?;
            }
            _ if hint.item_label.is_some() || hint.order.is_some() => {
                return Err(err(
                    place,
                    "`item_label` and `order` are for arrays of tables",
                ));
            }
            _ => {}
        }
        if let (Some(values), Some(warning)) = (hint.weak, hint.warning) {
            let values = values
                .iter()
                .map(|v| {
                    Scalar::from_json(v)
                        .filter(|s| fits(&field.kind, s))
                        .ok_or_else(|| {
                            err(
                                format!("{place}.weak"),
                                "a weak value must be a value the field can hold",
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            field.weak = Some(Weak { values, warning });
        }
    }
    if let Some(order) = order {
        let place = if prefix.is_empty() {
            "ui.order".to_owned()
        } else {
            format!("ui.fields.{}order", prefix)
        };
        for (i, name) in order.iter().enumerate() {
            if !fields.iter().any(|f| &f.key == name) {
                return Err(err(&place, format!("`{name}` is not a field")));
            }
            if order[..i].contains(name) {
                return Err(err(&place, format!("`{name}` twice")));
            }
        }
        let rank = |f: &Field| {
            order
                .iter()
                .position(|n| *n == f.key)
                .unwrap_or(order.len())
        };
        // A stable sort: fields not named keep their name order, after the named ones.
        fields.sort_by_key(rank);
    }
    Ok(())
}

/// Whether a weak value can be a value of a field of this kind.
fn fits(kind: &Kind, s: &Scalar) -> bool {
    match (kind, s) {
        (Kind::Text { .. } | Kind::TextList { .. }, Scalar::Text(_)) => true,
        (Kind::Integer { .. }, Scalar::Integer(_)) => true,
        (Kind::Boolean { .. }, Scalar::Bool(_)) => true,
        (Kind::Choice { choices, .. }, s) => choices.contains(s),
        _ => false,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a float",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

impl ConfigForm {
    /// Checks a configuration table (the TOML table as JSON) against the form; an empty
    /// answer means it passes. At most [`MAX_ISSUES`] problems are reported.
    pub fn check(&self, table: &Map<String, Value>) -> Vec<Issue> {
        let mut out = Vec::new();
        check_table(&self.fields, table, "", &mut out);
        out.truncate(MAX_ISSUES);
        out
    }

    /// The settings of `table` that hold a weak value, with their warnings.
    pub fn weak_settings(&self, table: &Map<String, Value>) -> Vec<WeakSetting> {
        let mut out = Vec::new();
        weak_in(&self.fields, table, "", &mut out);
        out
    }

    /// The field at `key` (top level).
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn check_table(fields: &[Field], table: &Map<String, Value>, prefix: &str, out: &mut Vec<Issue>) {
    let issue = |out: &mut Vec<Issue>, path: String, message: String| {
        if out.len() < MAX_ISSUES {
            out.push(Issue { path, message });
        }
    };
    for key in table.keys() {
        if !fields.iter().any(|f| &f.key == key) {
            let names: Vec<&str> = fields.iter().map(|f| f.key.as_str()).collect();
            issue(
                out,
                join(prefix, &shorten(key)),
                format!("unknown setting (known: {})", names.join(", ")),
            );
        }
    }
    for f in fields {
        let path = join(prefix, &f.key);
        match table.get(&f.key) {
            None if f.required => issue(out, path, "missing: it is required".to_owned()),
            None => {}
            Some(v) => {
                if let Some(message) = check_value(&f.kind, v, &path, out) {
                    issue(out, path, message);
                }
            }
        }
    }
}

fn count_problem(n: usize, min: Option<u64>, max: Option<u64>, what: &str) -> Option<String> {
    let n = n as u64;
    match (min, max) {
        (Some(lo), _) if n < lo => Some(format!("at least {lo} {what}")),
        (_, Some(hi)) if n > hi => Some(format!("at most {hi} {what}")),
        _ => None,
    }
}

/// The problem of one value, if any (tables report their items' problems into `out`).
fn check_value(kind: &Kind, v: &Value, path: &str, out: &mut Vec<Issue>) -> Option<String> {
    match kind {
        Kind::Text {
            min_length,
            max_length,
            ..
        } => match v {
            Value::String(s) => {
                count_problem(s.chars().count(), *min_length, *max_length, "characters")
            }
            other => Some(format!("expected a string, found {}", type_name(other))),
        },
        Kind::Integer {
            minimum, maximum, ..
        } => match v.as_i64() {
            Some(n) => match (minimum, maximum) {
                (Some(lo), _) if n < *lo => Some(format!("{n} is below the minimum {lo}")),
                (_, Some(hi)) if n > *hi => Some(format!("{n} is above the maximum {hi}")),
                _ => None,
            },
            None => Some(format!("expected an integer, found {}", type_name(v))),
        },
        Kind::Boolean { .. } => {
            (!v.is_boolean()).then(|| format!("expected true or false, found {}", type_name(v)))
        }
        Kind::Choice { choices, .. } => {
            if choices.iter().any(|c| c.matches(v)) {
                None
            } else {
                let list: Vec<String> = choices.iter().map(|c| format!("`{c}`")).collect();
                let shown = match v {
                    Value::String(s) => format!("`{}`", shorten(s)),
                    Value::Number(n) => n.to_string(),
                    other => type_name(other).to_owned(),
                };
                Some(format!("{shown} is not one of {}", list.join(", ")))
            }
        }
        Kind::TextList {
            min_items,
            max_items,
            ..
        } => match v {
            Value::Array(a) => {
                if let Some(i) = a.iter().position(|x| !x.is_string()) {
                    Some(format!("item {i} is not a string"))
                } else {
                    count_problem(a.len(), *min_items, *max_items, "items")
                }
            }
            other => Some(format!(
                "expected an array of strings, found {}",
                type_name(other)
            )),
        },
        Kind::Table {
            fields,
            min_items,
            max_items,
            ..
        } => match v {
            Value::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    let here = format!("{path}[{i}]");
                    match item {
                        Value::Object(t) => check_table(fields, t, &here, out),
                        other => {
                            if out.len() < MAX_ISSUES {
                                out.push(Issue {
                                    path: here,
                                    message: format!(
                                        "expected a table, found {}",
                                        type_name(other)
                                    ),
                                });
                            }
                        }
                    }
                    if out.len() >= MAX_ISSUES {
                        break;
                    }
                }
                count_problem(a.len(), *min_items, *max_items, "items")
            }
            other => Some(format!(
                "expected an array of tables, found {}",
                type_name(other)
            )),
        },
    }
}

fn scalar_json(s: &Scalar) -> Value {
    match s {
        Scalar::Bool(b) => Value::Bool(*b),
        Scalar::Integer(n) => Value::from(*n),
        Scalar::Text(t) => Value::String(t.clone()),
    }
}

fn weak_in(fields: &[Field], table: &Map<String, Value>, prefix: &str, out: &mut Vec<WeakSetting>) {
    for f in fields {
        let path = join(prefix, &f.key);
        let default = match &f.kind {
            Kind::Choice {
                default: Some(d), ..
            } => Some(scalar_json(d)),
            Kind::Boolean { default: Some(b) } => Some(Value::Bool(*b)),
            Kind::Integer {
                default: Some(n), ..
            } => Some(Value::from(*n)),
            Kind::Text {
                default: Some(s), ..
            } => Some(Value::String(s.clone())),
            _ => None,
        };
        // An absent setting takes its default, which may itself be weak.
        let Some(v) = table.get(&f.key).or(default.as_ref()) else {
            continue;
        };
        if let Kind::Table { fields: inner, .. } = &f.kind {
            if let Value::Array(items) = v {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Object(t) = item {
                        weak_in(inner, t, &format!("{path}[{i}]"), out);
                    }
                }
            }
            continue;
        }
        let Some(weak) = &f.weak else { continue };
        let hit = match v {
            Value::Array(items) => items
                .iter()
                .any(|x| weak.values.iter().any(|w| w.matches(x))),
            x => weak.values.iter().any(|w| w.matches(x)),
        };
        if hit {
            out.push(WeakSetting {
                path,
                warning: weak.warning.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests;
