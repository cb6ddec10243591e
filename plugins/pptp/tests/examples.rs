//! The PPTP example configurations of routerd (`core/routerd/config/examples`) give this
//! plugin a configuration it accepts: the `[plugin.config]` table merged with each pptp
//! link's `[link.config]` (the link's keys win), as routerd hands it over.

use std::path::Path;

use dialgate_plugin_pptp::{CallType, Config, Mode};
use toml::{Table, Value};

/// The instance configuration of every pptp link in a routerd config, by link name.
fn pptp_links(file: &str) -> Vec<(String, Config)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../core/routerd/config/examples")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("the example exists");
    let doc: Table = text.parse().expect("the example is TOML");
    let plugins = doc
        .get("plugin")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let links = doc
        .get("link")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for link in links.iter().filter_map(Value::as_table) {
        let plugin_name = link
            .get("plugin")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(plugin) = plugins
            .iter()
            .filter_map(Value::as_table)
            .find(|p| p.get("name").and_then(Value::as_str) == Some(plugin_name))
        else {
            continue;
        };
        if plugin_name != "pptp" {
            continue;
        }
        let mut table = plugin
            .get("config")
            .and_then(Value::as_table)
            .cloned()
            .unwrap_or_default();
        if let Some(own) = link.get("config").and_then(Value::as_table) {
            for (k, v) in own {
                table.insert(k.clone(), v.clone());
            }
        }
        let name = link.get("name").and_then(Value::as_str).unwrap_or_default();
        let config =
            Config::from_table(&table).unwrap_or_else(|e| panic!("{file}: link {name}: {e}"));
        out.push((name.to_owned(), config));
    }
    out
}

#[test]
fn the_server_example_answers_on_port_1723() {
    let links = pptp_links("pptp-server.toml");
    assert_eq!(links.len(), 1);
    let (name, config) = &links[0];
    assert_eq!(name, "pptp-in");
    assert_eq!(
        config.mode,
        Mode::Answer {
            listen: vec!["0.0.0.0:1723".parse().expect("literal")]
        }
    );
    assert_eq!(config.max_sessions, 1000);
}

#[test]
fn the_client_example_dials_with_outgoing_call_requests() {
    let links = pptp_links("pptp-client.toml");
    assert_eq!(links.len(), 1);
    let (name, config) = &links[0];
    assert_eq!(name, "office");
    assert_eq!(
        config.mode,
        Mode::Dial {
            target: "203.0.113.10:1723".parse().expect("literal"),
            call_type: CallType::Outgoing
        }
    );
}

#[test]
fn the_frontend_example_relays_with_incoming_call_requests() {
    let links = pptp_links("pptp-frontend.toml");
    assert_eq!(
        links.len(),
        1,
        "one pptp link (the serial one is not pptp's)"
    );
    let (name, config) = &links[0];
    assert_eq!(name, "to-pns");
    assert_eq!(
        config.mode,
        Mode::Dial {
            target: "198.51.100.20:1723".parse().expect("literal"),
            call_type: CallType::Incoming
        }
    );
}
