//! Test plugin `init-fails`: loads fine, but its `new` refuses every configuration, as a real
//! plugin refuses a bad one (naming the field).

use dialgate_plugin_sdk::{HostHandle, Plugin, PluginError, PluginKind};

struct InitFails;

impl Plugin for InitFails {
    const NAME: &'static str = "init-fails";
    const KIND: PluginKind = PluginKind::LINK;
    const CONFIG_SCHEMA: &'static str =
        r#"{"type":"object","required":["port"],"properties":{"port":{"type":"string"}}}"#;

    fn new(_config_toml: &str, _host: HostHandle) -> Result<Self, PluginError> {
        Err(PluginError::invalid_config(
            "field `port`: /dev/nonexistent: no such device",
        ))
    }
}

dialgate_plugin_sdk::export_plugin!(InitFails);
