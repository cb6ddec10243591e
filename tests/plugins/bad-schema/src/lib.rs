//! Test plugin `bad-schema`: a working link plugin (ABI 1.3) whose configuration form is
//! malformed: its schema gives a field a type no form can show, as a buggy or hostile plugin
//! might. The host must load and run it, and report the form as an error naming the place.

use dialgate_plugin_sdk::{
    Direction, HostHandle, LinkId, LinkInfo, Plugin, PluginError, PluginKind, Timestamp,
};

struct BadSchema {
    host: HostHandle,
    next_link: u64,
}

impl Plugin for BadSchema {
    const NAME: &'static str = "bad-schema";
    const KIND: PluginKind = PluginKind::LINK;
    const DESCRIPTION: &'static str =
        "loops frames back; its config form is malformed (test plugin)";
    /// `port` has the type `number`, which a form does not support (floats), and the UI
    /// hints name it correctly: the schema is what is wrong.
    const CONFIG_SCHEMA: &'static str =
        r#"{"type":"object","properties":{"port":{"type":"number","title":"Port"}}}"#;
    const CONFIG_UI: &'static str = r#"{"title":"Broken form","order":["port"]}"#;

    fn new(_config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
        Ok(BadSchema { host, next_link: 0 })
    }

    fn dial(&mut self, _now: Timestamp, target: &str) -> Result<LinkId, PluginError> {
        self.next_link += 1;
        let link = LinkId(self.next_link);
        self.host
            .link_up(link, LinkInfo::new(Direction::Outgoing, target))
            .map_err(PluginError::failed)?;
        Ok(link)
    }

    fn send_frame(
        &mut self,
        _now: Timestamp,
        link: LinkId,
        frame: &[u8],
    ) -> Result<(), PluginError> {
        self.host
            .deliver_frame(link, frame)
            .map_err(PluginError::failed)
    }
}

dialgate_plugin_sdk::export_plugin!(BadSchema);
