//! Plugin pages: for each loaded plugin that describes its configuration (plugin ABI 1.3),
//! a page listing its links, and for each link a form drawn from the plugin's schema and UI
//! hints (`GET /v1/plugins/{name}/schema`). Serial ports and modems get their page this way,
//! and so will ISDN, IPX and NetBEUI plugins: a plugin brings its own form.
//!
//! The form edits the link's `[link.config]` table in the configuration document (comments
//! and layout kept, with `toml_edit`); routerd checks the document (`POST /v1/config/check`,
//! which checks each link's settings against its plugin's form: problems come back on their
//! fields) and applies it with the version the page was read at, through
//! [`super::check_and_apply`], the same path as every page and `routerctl`. Settings a plugin
//! marks weak need the same acknowledged warning as the PPTP page's weak options.
//!
//! Field names: `c.` and the setting's path with dots (`c.ports.0.speed`); an array of tables
//! posts its item count (`count.ports`) and a remove box per item (`remove.ports.0`), and a
//! blank item at the end adds one when any of its text fields is filled in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use dialgate_routerd::api::client::encode_segment;
use dialgate_routerd::api::plugin_schema::{ConfigForm, Field, Kind, PluginSchema, Scalar};
use dialgate_routerd::api::{ConfigIssue, ConfigShow};
use dialgate_routerd::config::{Document, LinkRole};
use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, TableLike, value};

use super::{applied_flash, check_and_apply, current, record_failure};
use crate::app::{Shared, Visitor, routerd_error};
use crate::html::{self, FieldErrors, Kind as InputKind, csrf_field, esc};

/// The most items of an array of tables the page handles.
const MAX_ITEMS: usize = 1024;

/// The id prefix of the form's controls.
const FORM: &str = "plugin";

/// The page of plugin `name`.
pub fn page_path(name: &str) -> String {
    format!("/plugin/{}", encode_segment(name))
}

fn link_path(plugin: &str, link: &str) -> String {
    format!(
        "/plugin/{}/{}",
        encode_segment(plugin),
        encode_segment(link)
    )
}

/// A form control's name for the setting at `path` (`ports`, `0`, `speed`).
fn name(path: &[&str]) -> String {
    format!("c.{}", path.join("."))
}

/// The setting path of a control name, as routerd and the plugins write it
/// (`c.ports.0.speed` -> `ports[0].speed`).
fn setting_path(control: &str) -> String {
    let mut out = String::new();
    for part in control.trim_start_matches("c.").split('.') {
        if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
            let _ = write!(out, "[{part}]");
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// The control name of a setting path (`ports[0].speed` -> `c.ports.0.speed`).
fn control_of(path: &str) -> String {
    format!("c.{}", path.replace('[', ".").replace(']', ""))
}

async fn schema(
    app: &Shared,
    plugin: &str,
) -> Result<PluginSchema, dialgate_routerd::api::client::ClientError> {
    app.client
        .get::<PluginSchema>(&format!("/v1/plugins/{}/schema", encode_segment(plugin)))
        .await
}

fn title_of(s: &PluginSchema) -> String {
    s.form
        .as_ref()
        .map(|f| f.title.clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("Plugin {}", s.plugin))
}

fn bad_gateway(v: &Visitor, active: &str, message: &str) -> Response {
    let body = format!(
        "<div class=\"error-summary\" role=\"alert\"><p>{}</p></div>",
        esc(message)
    );
    (
        StatusCode::BAD_GATEWAY,
        Html(html::page(
            "routerd unavailable",
            &v.chrome(active, None),
            &body,
        )),
    )
        .into_response()
}

/// `GET /plugin/{name}`: the plugin's links, or why it has no form.
pub async fn links(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path(plugin): Path<String>,
) -> Response {
    let active = page_path(&plugin);
    let s = match schema(&app, &plugin).await {
        Ok(s) => s,
        Err(e) => return routerd_error(&v, &active, &e),
    };
    let (_, doc) = match current(&app).await {
        Ok(x) => x,
        Err(e) => return bad_gateway(&v, &active, &e),
    };
    let mut b = String::new();
    match (&s.form, &s.error) {
        (_, Some(e)) => {
            let _ = write!(
                b,
                "<div class=\"error-summary\" role=\"alert\" id=\"form-error\"><p>Plugin {} has no usable \
configuration form: {}</p></div>",
                esc(&s.plugin),
                esc(e)
            );
        }
        (None, None) => {
            let _ = write!(
                b,
                "<p>Plugin {} does not describe its configuration (it was built for plugin ABI {} \
or gives no form); edit its links in the configuration document.</p>",
                esc(&s.plugin),
                esc(s.abi_version.as_deref().unwrap_or("?"))
            );
        }
        (Some(form), None) if !form.description.is_empty() => {
            let _ = write!(b, "<p>{}</p>", esc(&form.description));
        }
        _ => {}
    }
    let links: Vec<_> = doc
        .config()
        .links
        .iter()
        .filter(|l| l.plugin == plugin)
        .collect();
    if links.is_empty() {
        b.push_str("<p>No link uses this plugin yet.</p>");
    } else {
        b.push_str(
            "<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Link</th>\
<th scope=\"col\">Role</th><th scope=\"col\">Enabled</th><th scope=\"col\">Settings</th></tr></thead><tbody>",
        );
        for l in links {
            let role = match l.role {
                LinkRole::Answer => "answer",
                LinkRole::Dial => "dial",
            };
            let action = if s.form.is_some() {
                format!(
                    "<a href=\"{}\" aria-label=\"Edit link {n}\">Edit</a>",
                    esc(&link_path(&plugin, &l.name)),
                    n = esc(&l.name)
                )
            } else {
                "—".to_owned()
            };
            let _ = write!(
                b,
                "<tr data-link=\"{n}\"><td>{n}</td><td>{role}</td><td>{en}</td><td>{action}</td></tr>",
                n = esc(&l.name),
                en = if l.enabled { "yes" } else { "no" },
            );
        }
        b.push_str("</tbody></table></div>");
    }
    let flash = app.sessions().take_flash(&v.id);
    Html(html::page(
        &title_of(&s),
        &v.chrome(&active, flash.as_deref()),
        &b,
    ))
    .into_response()
}

/// The form's values, as strings by control name.
type Values = BTreeMap<String, String>;

fn text_of(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Boolean(b) => if *b { "on" } else { "" }.to_owned(),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// The values of a configuration table's fields (booleans absent take their default).
fn read_fields(fields: &[Field], table: &toml::Table, prefix: &[&str], out: &mut Values) {
    for f in fields {
        let mut path = prefix.to_vec();
        path.push(&f.key);
        match (&f.kind, table.get(&f.key)) {
            (Kind::Table { fields: inner, .. }, v) => {
                let items: Vec<&toml::Table> = match v {
                    Some(toml::Value::Array(a)) => a.iter().filter_map(|x| x.as_table()).collect(),
                    _ => Vec::new(),
                };
                out.insert(format!("count.{}", f.key), items.len().to_string());
                for (i, item) in items.iter().enumerate() {
                    let n = i.to_string();
                    let mut p = path.clone();
                    p.push(&n);
                    read_fields(inner, item, &p, out);
                }
            }
            (Kind::Boolean { default }, None) => {
                out.insert(
                    name(&path),
                    if default.unwrap_or(false) { "on" } else { "" }.to_owned(),
                );
            }
            (_, Some(v)) => {
                out.insert(name(&path), text_of(v));
            }
            (_, None) => {}
        }
    }
}

/// The number of items of table field `key` in `values`.
fn count(values: &Values, key: &str) -> usize {
    values
        .get(&format!("count.{key}"))
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_ITEMS)
}

fn default_text(kind: &Kind) -> Option<String> {
    match kind {
        Kind::Text { default, .. } => default.clone(),
        Kind::Integer { default, .. } => default.map(|n| n.to_string()),
        Kind::Choice { default, .. } => default.as_ref().map(ToString::to_string),
        Kind::TextList { default, .. } => default.as_ref().map(|d| d.join(", ")),
        Kind::Boolean { default } => default.map(|b| b.to_string()),
        Kind::Table { .. } => None,
    }
}

/// One control.
fn control(f: &Field, path: &[&str], values: &Values, errors: &FieldErrors) -> String {
    let n = name(path);
    let v = values.get(&n).map_or("", String::as_str);
    let mut help = f.help.clone();
    if let Some(d) = default_text(&f.kind).filter(|d| !d.is_empty()) {
        if !help.is_empty() {
            help.push(' ');
        }
        let _ = write!(help, "Default: {d}.");
    }
    if f.weak.is_some() {
        help.push_str(" Some values are weak: see the warning below.");
    }
    let label = if f.required {
        format!("{} (required)", f.label)
    } else {
        f.label.clone()
    };
    match &f.kind {
        Kind::Text { .. } | Kind::TextList { .. } => {
            if matches!(f.kind, Kind::TextList { .. }) {
                help = format!("Separate values with commas. {help}");
            }
            html::input(FORM, &n, &label, InputKind::Text, v, help.trim(), errors)
        }
        Kind::Integer { .. } => {
            html::input(FORM, &n, &label, InputKind::Number, v, help.trim(), errors)
        }
        Kind::Boolean { .. } => {
            let mut s = html::checkbox(FORM, &n, &label, !v.is_empty(), errors);
            if !help.trim().is_empty() {
                let _ = write!(s, "<small>{}</small>", esc(help.trim()));
            }
            s
        }
        Kind::Choice { choices, default } => {
            let mut options = Vec::new();
            if !f.required || default.is_some() {
                let label = match default {
                    Some(d) => format!("Default ({d})"),
                    None => "Not set".to_owned(),
                };
                options.push((String::new(), label));
            }
            for c in choices {
                options.push((c.to_string(), c.to_string()));
            }
            let mut s = html::select(FORM, &n, &label, &options, v, errors);
            if !f.help.is_empty() {
                let _ = write!(s, "<small>{}</small>", esc(&f.help));
            }
            s
        }
        Kind::Table { .. } => String::new(),
    }
}

fn render(
    v: &Visitor,
    plugin: &str,
    link: &str,
    form: &ConfigForm,
    values: &Values,
    version: u64,
    errors: &FieldErrors,
) -> String {
    let mut b = String::new();
    if !form.description.is_empty() {
        let _ = write!(b, "<p>{}</p>", esc(&form.description));
    }
    let _ = write!(
        b,
        "{}<form method=\"post\" action=\"{}\" id=\"plugin-form\">{}\
<input type=\"hidden\" name=\"base_version\" value=\"{version}\">",
        errors.summary(),
        esc(&link_path(plugin, link)),
        csrf_field(&v.csrf)
    );
    let mut plain = String::new();
    for f in &form.fields {
        let Kind::Table {
            item_label, fields, ..
        } = &f.kind
        else {
            plain.push_str(&control(f, &[&f.key], values, errors));
            continue;
        };
        if !plain.is_empty() {
            let _ = write!(b, "<fieldset><legend>Settings</legend>{plain}</fieldset>");
            plain.clear();
        }
        let n = count(values, &f.key);
        let _ = write!(
            b,
            "<h2>{}</h2><input type=\"hidden\" name=\"count.{key}\" value=\"{n}\">",
            esc(&f.label),
            key = esc(&f.key)
        );
        if !f.help.is_empty() {
            let _ = write!(b, "<p><small>{}</small></p>", esc(&f.help));
        }
        if let Some(e) = errors.get(&name(&[&f.key])) {
            let _ = write!(
                b,
                "<p class=\"field-error\" id=\"{FORM}-{}-error\">{}</p>",
                esc(&name(&[&f.key])),
                esc(e)
            );
        }
        for i in 0..=n {
            let idx = i.to_string();
            let item_name = values
                .get(&name(&[&f.key, &idx, "name"]))
                .filter(|s| !s.is_empty());
            let legend = if i == n {
                format!("Add a {}", item_label.to_lowercase())
            } else {
                match item_name {
                    Some(nm) => format!("{item_label} {}: {nm}", i + 1),
                    None => format!("{item_label} {}", i + 1),
                }
            };
            let _ = write!(
                b,
                "<fieldset data-item=\"{key}.{i}\"><legend>{}</legend>",
                esc(&legend),
                key = esc(&f.key)
            );
            if i == n {
                b.push_str(
                    "<p><small>Fill this in to add one; leave it empty otherwise.</small></p>",
                );
            }
            for inner in fields {
                b.push_str(&control(inner, &[&f.key, &idx, &inner.key], values, errors));
            }
            if i < n {
                b.push_str(&html::checkbox(
                    FORM,
                    &format!("remove.{}.{i}", f.key),
                    &format!("Remove this {}", item_label.to_lowercase()),
                    values.contains_key(&format!("remove.{}.{i}", f.key)),
                    errors,
                ));
            }
            b.push_str("</fieldset>");
        }
    }
    if !plain.is_empty() {
        let _ = write!(b, "<fieldset><legend>Settings</legend>{plain}</fieldset>");
    }
    let weak = weak_fields(form);
    if !weak.is_empty() {
        let confirmed = values.contains_key("weak_confirm");
        let open = if confirmed || errors.get("weak_confirm").is_some() {
            " open"
        } else {
            ""
        };
        let _ = write!(
            b,
            "<details{open}><summary>Weak settings</summary><div class=\"warning\" id=\"weak-warning\">\
<p><strong>Warning:</strong> these settings weaken the box. Only use them where the \
explanation says they are safe.</p><ul>"
        );
        for (label, values, warning) in weak {
            let _ = write!(
                b,
                "<li><strong>{} = {}</strong>: {}</li>",
                esc(&label),
                esc(&values),
                esc(&warning)
            );
        }
        let _ = write!(
            b,
            "</ul></div>{}</details>",
            html::checkbox(
                FORM,
                "weak_confirm",
                "I have read the warning and want the weak settings this form has",
                confirmed,
                errors
            )
        );
    }
    b.push_str("<button type=\"submit\">Check and apply</button></form>");
    b
}

/// Every weak field of the form: (label, weak values, warning).
fn weak_fields(form: &ConfigForm) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut add = |f: &Field, outer: Option<&str>| {
        if let Some(w) = &f.weak {
            let label = match outer {
                Some(o) => format!("{o}: {}", f.label),
                None => f.label.clone(),
            };
            let values: Vec<String> = w.values.iter().map(ToString::to_string).collect();
            out.push((label, values.join(" or "), w.warning.clone()));
        }
    };
    for f in &form.fields {
        if let Kind::Table {
            fields, item_label, ..
        } = &f.kind
        {
            for inner in fields {
                add(inner, Some(item_label));
            }
        } else {
            add(f, None);
        }
    }
    out
}

/// What a link's form page works on: the plugin's form, the current configuration and the
/// link in it.
struct LinkPage {
    form: ConfigForm,
    show: ConfigShow,
    /// The link's place among the configuration's links.
    index: usize,
    /// The link's `[link.config]`.
    config: toml::Table,
}

/// Loads [`LinkPage`] for `link` of `plugin`, or the answer instead: routerd's error, back to
/// the plugin's page (`active`) when the plugin has no form, routerd out of reach, or no such
/// link.
async fn link_page(
    app: &Shared,
    v: &Visitor,
    plugin: &str,
    link: &str,
    active: &str,
) -> Result<LinkPage, Response> {
    let s = schema(app, plugin)
        .await
        .map_err(|e| routerd_error(v, active, &e))?;
    let Some(form) = s.form else {
        return Err(Redirect::to(active).into_response());
    };
    let (show, doc) = current(app).await.map_err(|e| bad_gateway(v, active, &e))?;
    let Some((index, found)) = doc
        .config()
        .links
        .iter()
        .enumerate()
        .find(|(_, l)| l.name == link && l.plugin == plugin)
    else {
        return Err(not_found(v, active, link));
    };
    let config = found.config.clone();
    Ok(LinkPage {
        form,
        show,
        index,
        config,
    })
}

fn json_table(t: &toml::Table) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

fn page_title(form: &ConfigForm, link: &str) -> String {
    format!("{}: link {link}", form.title)
}

/// `GET /plugin/{name}/{link}`: the link's form.
pub async fn edit(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path((plugin, link)): Path<(String, String)>,
) -> Response {
    let active = page_path(&plugin);
    let page = match link_page(&app, &v, &plugin, &link, &active).await {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let (form, show, config) = (&page.form, &page.show, &page.config);
    let mut values = Values::new();
    read_fields(&form.fields, config, &[], &mut values);
    if !form.weak_settings(&json_table(config)).is_empty() {
        // As on the PPTP page: weak settings already in force were acknowledged when set.
        values.insert("weak_confirm".into(), "on".into());
    }
    let flash = app.sessions().take_flash(&v.id);
    let body = render(
        &v,
        &plugin,
        &link,
        form,
        &values,
        show.version,
        &FieldErrors::default(),
    );
    Html(html::page(
        &page_title(form, &link),
        &v.chrome(&active, flash.as_deref()),
        &body,
    ))
    .into_response()
}

fn not_found(v: &Visitor, active: &str, link: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(html::page(
            "No such link",
            &v.chrome(active, None),
            &format!("<p>No link {} uses this plugin.</p>", esc(link)),
        )),
    )
        .into_response()
}

/// Writes one scalar field's posted value into `t`; a problem goes to `errors`.
fn set_field(
    t: &mut dyn TableLike,
    f: &Field,
    control: &str,
    values: &Values,
    errors: &mut FieldErrors,
) {
    let raw = values.get(control).map(|s| s.trim());
    let had = t.contains_key(&f.key);
    match &f.kind {
        Kind::Boolean { default } => {
            let on = raw.is_some_and(|r| !r.is_empty());
            if !had && Some(on) == *default {
                return;
            }
            if !had && default.is_none() && !on {
                return;
            }
            t.insert(&f.key, value(on));
        }
        _ if raw.is_none_or(str::is_empty) => {
            t.remove(&f.key);
        }
        Kind::Text { .. } => {
            let raw = raw.unwrap_or_default();
            // An unchanged value keeps its place and comments.
            if t.get(&f.key).and_then(Item::as_str) != Some(raw) {
                t.insert(&f.key, value(raw));
            }
        }
        Kind::Integer { .. } => match raw.unwrap_or_default().parse::<i64>() {
            Ok(n) => {
                if t.get(&f.key).and_then(Item::as_integer) != Some(n) {
                    t.insert(&f.key, value(n));
                }
            }
            Err(_) => errors.add(control, "A whole number."),
        },
        Kind::Choice { choices, .. } => {
            let raw = raw.unwrap_or_default();
            match choices.iter().find(|c| c.to_string() == raw) {
                Some(Scalar::Integer(n)) => {
                    if t.get(&f.key).and_then(Item::as_integer) != Some(*n) {
                        t.insert(&f.key, value(*n));
                    }
                }
                Some(Scalar::Text(s)) => {
                    if t.get(&f.key).and_then(Item::as_str) != Some(s.as_str()) {
                        t.insert(&f.key, value(s.as_str()));
                    }
                }
                Some(Scalar::Bool(b)) => {
                    t.insert(&f.key, value(*b));
                }
                None => errors.add(control, "Choose one of the listed values."),
            }
        }
        Kind::TextList { .. } => {
            let mut a = Array::new();
            for item in raw
                .unwrap_or_default()
                .split([',', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                a.push(item);
            }
            t.insert(&f.key, value(a));
        }
        Kind::Table { .. } => {}
    }
}

/// The items of an array of tables, whether written `[[x]]` or `x = [{...}]`.
fn items_of(t: &dyn TableLike, key: &str) -> Vec<Table> {
    match t.get(key) {
        Some(Item::ArrayOfTables(a)) => a.iter().cloned().collect(),
        Some(Item::Value(toml_edit::Value::Array(a))) => a
            .iter()
            .filter_map(|v| v.as_inline_table().map(|i| i.clone().into_table()))
            .collect(),
        _ => Vec::new(),
    }
}

/// Writes the posted form into the link's `config` table.
fn write(
    doc: &mut DocumentMut,
    index: usize,
    form: &ConfigForm,
    values: &Values,
    errors: &mut FieldErrors,
) -> Result<(), String> {
    let links = doc
        .get_mut("link")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or("the links are not written as [[link]] tables: edit the document instead")?;
    let l = links.get_mut(index).ok_or("the link vanished")?;
    let cfg = l
        .entry("config")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .ok_or("`config` of the link is not a table")?;
    for f in &form.fields {
        let Kind::Table { fields, .. } = &f.kind else {
            set_field(cfg, f, &name(&[&f.key]), values, errors);
            continue;
        };
        let old = items_of(cfg, &f.key);
        let n = count(values, &f.key).min(old.len());
        let mut new = ArrayOfTables::new();
        for (i, mut item) in old.into_iter().take(n).enumerate() {
            if values.contains_key(&format!("remove.{}.{i}", f.key)) {
                continue;
            }
            let idx = i.to_string();
            for inner in fields {
                set_field(
                    &mut item,
                    inner,
                    &name(&[&f.key, &idx, &inner.key]),
                    values,
                    errors,
                );
            }
            new.push(item);
        }
        // The blank item: added when any of its text fields was filled in.
        let idx = n.to_string();
        let filled = fields.iter().any(|inner| {
            matches!(
                inner.kind,
                Kind::Text { .. } | Kind::Integer { .. } | Kind::TextList { .. }
            ) && values
                .get(&name(&[&f.key, &idx, &inner.key]))
                .is_some_and(|v| !v.trim().is_empty())
        });
        if filled {
            let mut item = Table::new();
            for inner in fields {
                set_field(
                    &mut item,
                    inner,
                    &name(&[&f.key, &idx, &inner.key]),
                    values,
                    errors,
                );
            }
            new.push(item);
        }
        if new.is_empty() {
            cfg.remove(&f.key);
        } else {
            cfg.insert(&f.key, Item::ArrayOfTables(new));
        }
    }
    Ok(())
}

/// The control names the page shows for `values`.
fn shown(form: &ConfigForm, values: &Values) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in &form.fields {
        out.insert(name(&[&f.key]));
        if let Kind::Table { fields, .. } = &f.kind {
            for i in 0..=count(values, &f.key) {
                let idx = i.to_string();
                for inner in fields {
                    out.insert(name(&[&f.key, &idx, &inner.key]));
                }
            }
        }
    }
    out
}

/// Puts a problem routerd found on its field: those of this link's `config` on the control
/// of their setting, the rest on the form.
fn add_issue(
    errors: &mut FieldErrors,
    shown: &BTreeSet<String>,
    index: usize,
    issue: &ConfigIssue,
) {
    let prefix = format!("link[{index}].config");
    if let Some(rest) = issue.field.strip_prefix(&prefix) {
        let control = control_of(rest.trim_start_matches('.'));
        if shown.contains(&control) {
            // routerd adds which plugin and link; the page already says so.
            let message = issue
                .message
                .split(" (plugin ")
                .next()
                .unwrap_or(&issue.message);
            errors.add(&control, message);
            return;
        }
    }
    errors.add("", format!("{}: {}", issue.field, issue.message));
}

/// Puts a plugin's refusal (`ports[1].name: ... already ...`) on the field it names.
fn add_refusal(errors: &mut FieldErrors, shown: &BTreeSet<String>, message: &str) -> bool {
    for control in shown {
        let path = setting_path(control);
        if let Some(at) = message.find(&format!("{path}: ")) {
            let rest = &message[at + path.len() + 2..];
            errors.add(control, rest.to_owned());
            return true;
        }
    }
    false
}

/// `POST /plugin/{name}/{link}`: write the form into the document, check it, apply it.
pub async fn save(
    State(app): State<Shared>,
    Extension(v): Extension<Visitor>,
    Path((plugin, link)): Path<(String, String)>,
    Form(posted): Form<Vec<(String, String)>>,
) -> Response {
    let active = page_path(&plugin);
    let page = match link_page(&app, &v, &plugin, &link, &active).await {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let (form, show, index) = (&page.form, &page.show, page.index);
    let values: Values = posted
        .into_iter()
        .filter(|(k, _)| k != "csrf" && k != "base_version")
        .take(4096)
        .collect();
    let shown = shown(form, &values);
    let mut errors = FieldErrors::default();
    let fail = |errors: &FieldErrors| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(html::page(
                &page_title(form, &link),
                &v.chrome(&active, None),
                &render(&v, &plugin, &link, form, &values, show.version, errors),
            )),
        )
            .into_response()
    };
    let mut edit = match show.toml.parse::<DocumentMut>() {
        Ok(d) => d,
        Err(e) => {
            errors.add(
                "",
                format!("The current configuration cannot be edited: {e}"),
            );
            return fail(&errors);
        }
    };
    if let Err(e) = write(&mut edit, index, form, &values, &mut errors) {
        errors.add("", e);
    }
    if !errors.is_empty() {
        return fail(&errors);
    }
    let toml = edit.to_string();
    // Weak settings need the acknowledgement, checked on what would be applied.
    if let Ok(new) = Document::parse("edited", toml.clone())
        && let Some(l) = new.config().links.get(index)
    {
        let weak = form.weak_settings(&json_table(&l.config));
        if !weak.is_empty() && !values.contains_key("weak_confirm") {
            let paths: Vec<String> = weak.iter().map(|w| w.path.clone()).collect();
            errors.add(
                "weak_confirm",
                format!(
                    "Weak settings ({}): confirm that you read the warning, or change them.",
                    paths.join(", ")
                ),
            );
            return fail(&errors);
        }
    }
    let reason = format!("web UI: plugin {plugin}, link {link}");
    match check_and_apply(&app, toml, &reason, Some(show.version)).await {
        Ok(r) => {
            tracing::info!(ip = %v.ip, version = r.version, plugin, link, "plugin settings applied from the web UI");
            app.sessions().set_flash(&v.id, applied_flash(&r));
            Redirect::to(&link_path(&plugin, &link)).into_response()
        }
        Err(failure) => {
            record_failure(
                failure,
                &mut errors,
                |errors, issue| add_issue(errors, &shown, index, issue),
                |errors, error| {
                    add_refusal(errors, &shown, error);
                },
            );
            fail(&errors)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SCHEMA: &str = r#"{"type":"object","required":["ports"],"properties":{
        "verbose":{"type":"boolean","default":false},
        "listen":{"type":"array","items":{"type":"string"}},
        "ports":{"type":"array","items":{"type":"object","required":["name"],"properties":{
            "name":{"type":"string","title":"Name"},
            "mru":{"type":"integer","minimum":64},
            "lines":{"enum":["local","modem"],"default":"local"}}}}}}"#;
    const UI: &str = r#"{"title":"Demo","fields":{"ports":{"item_label":"Port","order":["name","lines","mru"]},
        "ports.lines":{"weak":["local"],"warning":"Hang-ups go unnoticed."}}}"#;
    const DOC: &str = "# keep me\n[[link]]\nname = \"a\"\nplugin = \"demo\"\nrole = \"answer\"\n\
        [[link.config.ports]]\nname = \"p0\" # first\nmru = 1500\n\
        [[link.config.ports]]\nname = \"p1\"\nlines = \"modem\"\n";

    fn form() -> ConfigForm {
        dialgate_routerd::api::plugin_schema::parse(SCHEMA, UI).unwrap()
    }

    fn table(doc: &str) -> toml::Table {
        let t: toml::Table = doc.parse().unwrap();
        t["link"].as_array().unwrap()[0]["config"]
            .as_table()
            .unwrap()
            .clone()
    }

    #[test]
    fn paths_and_control_names() {
        assert_eq!(setting_path("c.ports.0.speed"), "ports[0].speed");
        assert_eq!(setting_path("c.listen"), "listen");
        assert_eq!(control_of("ports[12].mru"), "c.ports.12.mru");
        assert_eq!(control_of("listen"), "c.listen");
    }

    #[test]
    fn reads_edits_adds_and_removes_items_keeping_comments() {
        let f = form();
        let mut values = Values::new();
        read_fields(&f.fields, &table(DOC), &[], &mut values);
        assert_eq!(values["count.ports"], "2");
        assert_eq!(values["c.ports.0.name"], "p0");
        assert_eq!(values["c.ports.0.mru"], "1500");
        assert_eq!(values["c.ports.1.lines"], "modem");
        assert_eq!(values["c.verbose"], "", "absent boolean: its default");
        // Edit port 0, remove port 1, add port 2, set a list.
        values.insert("c.ports.0.mru".into(), "1600".into());
        values.insert("remove.ports.1".into(), "on".into());
        values.insert("c.ports.2.name".into(), "new".into());
        values.insert("c.ports.2.lines".into(), "modem".into());
        values.insert("c.listen".into(), "a:1, b:2".into());
        let mut doc: DocumentMut = DOC.parse().unwrap();
        let mut errors = FieldErrors::default();
        write(&mut doc, 0, &f, &values, &mut errors).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let text = doc.to_string();
        assert!(
            text.contains("# keep me") && text.contains("# first"),
            "{text}"
        );
        let t = table(&text);
        let ports = t["ports"].as_array().unwrap();
        assert_eq!(ports.len(), 2, "{text}");
        assert_eq!(ports[0]["mru"].as_integer(), Some(1600));
        assert!(
            ports[0].get("lines").is_none(),
            "a default left unset stays unset"
        );
        assert_eq!(ports[1]["name"].as_str(), Some("new"));
        assert_eq!(ports[1]["lines"].as_str(), Some("modem"));
        assert!(
            t.get("verbose").is_none(),
            "an unticked default-false box is not written"
        );
        assert_eq!(t["listen"].as_array().unwrap().len(), 2);
        assert_eq!(form().check(&json_table(&t)), vec![]);
    }

    #[test]
    fn a_bad_number_is_an_error_on_its_field() {
        let f = form();
        let mut values = Values::new();
        read_fields(&f.fields, &table(DOC), &[], &mut values);
        values.insert("c.ports.1.mru".into(), "lots".into());
        let mut doc: DocumentMut = DOC.parse().unwrap();
        let mut errors = FieldErrors::default();
        write(&mut doc, 0, &f, &values, &mut errors).unwrap();
        assert_eq!(errors.get("c.ports.1.mru"), Some("A whole number."));
    }

    #[test]
    fn problems_land_on_their_controls() {
        let f = form();
        let mut values = Values::new();
        read_fields(&f.fields, &table(DOC), &[], &mut values);
        let shown = shown(&f, &values);
        let mut errors = FieldErrors::default();
        let issue = |field: &str| ConfigIssue {
            file: "<api>".into(),
            line: None,
            column: None,
            field: field.into(),
            message: "10 is below the minimum 64 (plugin demo of link \"a\")".into(),
        };
        add_issue(
            &mut errors,
            &shown,
            3,
            &issue("link[3].config.ports[1].mru"),
        );
        assert_eq!(
            errors.get("c.ports.1.mru"),
            Some("10 is below the minimum 64")
        );
        add_issue(
            &mut errors,
            &shown,
            3,
            &issue("link[0].config.ports[1].mru"),
        );
        assert!(errors.get("").is_some_and(|m| m.starts_with("link[0]")));
        let mut errors = FieldErrors::default();
        assert!(add_refusal(
            &mut errors,
            &shown,
            "plugin demo: invalid configuration: ports[1].name: `p0` is already the name of ports[0]"
        ));
        assert_eq!(
            errors.get("c.ports.1.name"),
            Some("`p0` is already the name of ports[0]")
        );
    }

    #[test]
    fn the_page_has_labelled_controls_and_the_weak_warning() {
        let f = form();
        let mut values = Values::new();
        read_fields(&f.fields, &table(DOC), &[], &mut values);
        let v = Visitor {
            id: "s".into(),
            csrf: "t".into(),
            authenticated: true,
            ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            plugin_pages: Default::default(),
        };
        let page = render(&v, "demo", "a", &f, &values, 7, &FieldErrors::default());
        for id in [
            "c.ports.0.name",
            "c.ports.1.lines",
            "c.ports.2.mru",
            "c.verbose",
            "weak_confirm",
        ] {
            assert!(
                page.contains(&format!("<label for=\"plugin-{id}\"")),
                "{id}: {page}"
            );
        }
        assert!(page.contains("Name (required)"));
        assert!(page.contains("id=\"weak-warning\""));
        assert!(page.contains("Port: lines = local"), "{page}");
        assert!(page.contains("Add a port"));
        assert!(page.contains("name=\"base_version\" value=\"7\""));
    }
}
