//! `GET /v1/plugins/{name}/schema`: a plugin's configuration form (plugin ABI 1.3), and the
//! check of each link's `[link.config]` against its plugin's form that `POST /v1/config/check`
//! adds.
//!
//! The form (a JSON Schema and UI hints the plugin gave) was parsed by the plugin host at load
//! time with `dialgate-plugin-form`'s bounded parser; here it is only passed on. A plugin
//! whose form is malformed still runs: the answer carries the parser's error instead, and the
//! web UI shows it on the plugin's page.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};

pub use dialgate_plugin_form::{ConfigForm, Field, FormError, Kind, Scalar, Weak, parse};

use super::ApiError;
use super::control::{API_DOCUMENT_NAME, ConfigIssue};
use super::http::{ApiPath, ApiState, check_plugin_name, json};
use crate::config::Config;

/// `GET /v1/plugins/{name}/schema`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginSchema {
    /// The plugin's name in the configuration.
    pub plugin: String,
    /// The plugin ABI version it was built against, once loaded.
    pub abi_version: Option<String>,
    /// Its configuration form; `None` when it has none (built for ABI 1.0 to 1.2, no UI
    /// hints, malformed, or not loaded).
    pub form: Option<ConfigForm>,
    /// Why there is no form although the plugin gave one (malformed), or why the plugin is
    /// not loaded.
    pub error: Option<String>,
}

/// The plugin's name from the path, checked like any configured name.
pub(super) async fn handler(
    State(s): State<ApiState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    check_plugin_name(&name)?;
    s.control.plugin_schema(name).await.map(json)
}

/// The problems of each link's plugin configuration (`[plugin.config]` merged with
/// `[link.config]`, as the plugin receives it) against its plugin's form; `form` gives the
/// form of a plugin by name (`None`: not loaded, or no usable form, so nothing is checked).
/// Each problem's field is `link[i].config.` and the form's path (`link[0].config.ports[1].mru`).
pub fn link_config_issues<'a>(
    config: &Config,
    form: impl Fn(&str) -> Option<&'a ConfigForm>,
) -> Vec<ConfigIssue> {
    let mut out = Vec::new();
    for (i, link) in config.links.iter().enumerate() {
        let Some(form) = form(&link.plugin) else {
            continue;
        };
        let mut table = config
            .plugin(&link.plugin)
            .map(|p| p.config.clone())
            .unwrap_or_default();
        for (k, v) in &link.config {
            table.insert(k.clone(), v.clone());
        }
        let Ok(serde_json::Value::Object(table)) = serde_json::to_value(&table) else {
            continue;
        };
        for issue in form.check(&table) {
            out.push(ConfigIssue {
                file: API_DOCUMENT_NAME.to_owned(),
                line: None,
                column: None,
                field: if issue.path.is_empty() {
                    format!("link[{i}].config")
                } else {
                    format!("link[{i}].config.{}", issue.path)
                },
                message: format!(
                    "{} (plugin {} of link {:?})",
                    issue.message, link.plugin, link.name
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Document;

    const SCHEMA: &str = r#"{"type":"object","required":["ports"],"properties":{
        "ports":{"type":"array","items":{"type":"object","required":["name"],"properties":{
            "name":{"type":"string"},"mru":{"type":"integer","minimum":64}}}},
        "speed":{"type":"integer","enum":[9600,115200]}}}"#;

    fn doc(links: &str) -> Document {
        let text = format!(
            "[[plugin]]\nname = \"serial\"\nfile = \"libserial.so\"\n[plugin.config]\nspeed = 9600\n\
             [[plugin]]\nname = \"other\"\nfile = \"libother.so\"\n\
             [[pool]]\nname = \"p\"\nranges = [\"192.0.2.10-192.0.2.20\"]\n{links}"
        );
        Document::parse("t", text).unwrap()
    }

    #[test]
    fn each_links_merged_config_is_checked_against_its_plugins_form() {
        let form = dialgate_plugin_form::parse(SCHEMA, "{}").unwrap();
        let d = doc(
            "[[link]]\nname = \"a\"\nplugin = \"other\"\nrole = \"answer\"\npool = \"p\"\n\
             [link.config]\nanything = 1\n\
             [[link]]\nname = \"b\"\nplugin = \"serial\"\nrole = \"answer\"\npool = \"p\"\n\
             [[link.config.ports]]\nname = \"x\"\nmru = 10\n\
             [[link]]\nname = \"c\"\nplugin = \"serial\"\nrole = \"answer\"\npool = \"p\"\n\
             [link.config]\nspeed = 300\n",
        );
        let issues = link_config_issues(d.config(), |p| (p == "serial").then_some(&form));
        let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
        // Link a's plugin has no form; b's port has a bad MRU (the plugin's speed is fine);
        // c has no ports and overrides the plugin's speed with a bad one.
        assert_eq!(
            fields,
            [
                "link[1].config.ports[0].mru",
                "link[2].config.ports",
                "link[2].config.speed"
            ]
        );
        assert!(issues[0].message.contains("of link \"b\""), "{issues:?}");
        assert_eq!(issues[0].file, API_DOCUMENT_NAME);
    }

    #[test]
    fn the_answer_round_trips() {
        let form = dialgate_plugin_form::parse(SCHEMA, r#"{"title":"Serial"}"#).unwrap();
        let a = PluginSchema {
            plugin: "serial".into(),
            abi_version: Some("1.3".into()),
            form: Some(form),
            error: None,
        };
        let back: PluginSchema = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }
}
