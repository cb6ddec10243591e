//! Plugin configuration forms (plugin ABI 1.3) through routerd: `GET /v1/plugins/{name}/schema`
//! answers the form the real serial plugin gives, the error of a malformed one (bad-schema),
//! and no form for plugins built before 1.3 (the frozen 1.0 plugin) or without hints (echo);
//! `POST /v1/config/check` puts a link's settings that break its plugin's form on their
//! fields. In process, without root, over the real unix socket and client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use dialgate_routerd::api::PluginInfo;
use dialgate_routerd::api::client::ClientError;
use dialgate_routerd::api::plugin_schema::Kind;
use dialgate_routerd::config::Document;
use support::routerd::{Api, Config, serial_plugin, start_in_process};
use support::{TempDir, test_plugin};

/// The serial plugin, test plugins with a malformed form (bad-schema), a 1.3 one without UI
/// hints (echo) and a 1.0 one (frozen); a serial link on `ports`, disabled (the ports need not
/// exist).
fn config(dir: &TempDir, ports: &str) -> String {
    Config::new(dir.path())
        .pool()
        .plugin("serial", &serial_plugin())
        .plugin("bad-schema", &test_plugin("bad-schema"))
        .plugin("echo", &test_plugin("echo"))
        .plugin("frozen", &test_plugin("frozen-v1"))
        .raw(MODEMS)
        .raw(ports)
        .text()
}

const MODEMS: &str = r#"
[[link]]
name = "modems"
plugin = "serial"
role = "answer"
pool = "office"
enabled = false
"#;

const PORTS: &str =
    "[[link.config.ports]]\nname = \"m0\"\ndevice = \"/dev/ttyS0\"\nlines = \"modem\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_forms_over_the_api_and_the_check_of_link_settings() {
    let dir = TempDir::new("forms");
    let doc = Document::parse("test.toml", config(&dir, PORTS)).unwrap();
    let daemon = start_in_process(dir.path(), &doc).await;
    let api = Api::serve(dir.path(), daemon.clone());
    let (client, control) = (&api.client, &api.control);

    // The real serial plugin: ports and modems, the weak local lines.
    let serial = client.plugin_schema("serial").await.unwrap();
    assert_eq!(serial.error, None);
    assert_eq!(serial.abi_version.as_deref(), Some("1.3"));
    let form = serial.form.expect("serial has a form");
    assert_eq!(form.title, "Serial ports and modems");
    let ports = form.field("ports").expect("ports");
    let Kind::Table { fields, .. } = &ports.kind else {
        panic!("ports: {ports:?}");
    };
    let lines = fields.iter().find(|f| f.key == "lines").expect("lines");
    assert!(lines.weak.is_some());

    // A malformed form: the error, naming the place; the plugin is still loaded.
    let bad = client.plugin_schema("bad-schema").await.unwrap();
    assert_eq!(bad.form, None);
    let e = bad.error.expect("an error");
    assert!(e.contains("schema.properties.port.type"), "{e}");
    // Built for 1.0 (frozen), or 1.3 without hints (echo): no form, no error.
    for name in ["frozen", "echo"] {
        let s = client.plugin_schema(name).await.unwrap();
        assert_eq!((s.form, s.error), (None, None), "{name}");
    }
    assert_eq!(
        client
            .plugin_schema("frozen")
            .await
            .unwrap()
            .abi_version
            .as_deref(),
        Some("1.0")
    );
    match client.plugin_schema("nothing").await {
        Err(ClientError::Api { status: 404, .. }) => {}
        other => panic!("404 for an unknown plugin: {other:?}"),
    }
    match client.plugin_schema("bad name").await {
        Err(ClientError::Api { status: 400, .. }) => {}
        other => panic!("400 for a bad name: {other:?}"),
    }
    // The plugin list says which plugins have a page.
    let plugins: Vec<PluginInfo> = client.get("/v1/plugins").await.unwrap();
    let title = |n: &str| {
        plugins
            .iter()
            .find(|p| p.name == n)
            .and_then(|p| p.form_title.clone())
    };
    assert_eq!(title("serial").as_deref(), Some("Serial ports and modems"));
    assert_eq!(title("bad-schema").as_deref(), Some("bad-schema"));
    assert_eq!(title("echo"), None);
    assert_eq!(title("frozen"), None);

    // The check puts what breaks the serial form on its field.
    let bad_ports = PORTS.replace(
        "lines = \"modem\"",
        "lines = \"modem\"\nmru = 10\nspeed = 11520",
    );
    let report = control
        .check_config(config(&dir, &bad_ports))
        .await
        .unwrap();
    assert!(!report.valid);
    let fields: Vec<&str> = report.errors.iter().map(|i| i.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "link[0].config.ports[0].speed",
            "link[0].config.ports[0].mru"
        ],
        "{report:?}"
    );
    assert!(
        report.errors[0].message.contains("11520 is not one of"),
        "{report:?}"
    );
    let good = control.check_config(config(&dir, PORTS)).await.unwrap();
    assert!(good.valid, "{good:?}");

    let _ = api.stop().await;
    daemon.shutdown("test over").await;
}
