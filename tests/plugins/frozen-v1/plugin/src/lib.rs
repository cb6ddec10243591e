//! Test plugin `frozen-v1`: a small link plugin built against `abi-1.0/`, a byte-for-byte
//! snapshot of dialgate-plugin-abi 1.0.0 and the SDK that went with it. It stands for every
//! plugin binary built for ABI 1.0: the host's tests load it, so a change to
//! core/plugin-abi that is not additive fails CI.
//!
//! Frozen: this file, Cargo.toml and abi-1.0/ are checked against SHA1SUMS by
//! core/plugin-host/tests/frozen_snapshot.rs. Never edit them; a new ABI major version gets
//! a new frozen plugin beside this one.

use dialgate_plugin_sdk::{
    Direction, HandleId, HostHandle, LinkDownCause, LinkId, LinkInfo, LogLevel, Plugin,
    PluginError, PluginKind, Timestamp,
};

struct FrozenV1 {
    host: HostHandle,
    next_link: u64,
}

impl Plugin for FrozenV1 {
    const NAME: &'static str = "frozen-v1";
    const KIND: PluginKind = PluginKind::LINK;
    const DESCRIPTION: &'static str = "plugin ABI 1.0 test plugin (frozen)";

    fn new(_config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
        Ok(FrozenV1 { host, next_link: 0 })
    }

    fn start(&mut self, _now: Timestamp) -> Result<(), PluginError> {
        self.host.log(LogLevel::Info, "frozen-v1 started");
        Ok(())
    }

    fn on_data(
        &mut self,
        _now: Timestamp,
        handle: HandleId,
        bytes: &[u8],
    ) -> Result<(), PluginError> {
        self.host.write(handle, bytes).map_err(PluginError::failed)
    }

    fn dial(&mut self, _now: Timestamp, target: &str) -> Result<LinkId, PluginError> {
        self.next_link += 1;
        let link = LinkId(self.next_link);
        self.host
            .link_up(link, LinkInfo::new(Direction::Outgoing, target))
            .map_err(PluginError::failed)?;
        Ok(link)
    }

    fn hangup(&mut self, _now: Timestamp, link: LinkId) -> Result<(), PluginError> {
        self.host
            .link_down(link, LinkDownCause::Requested, "hangup");
        Ok(())
    }

    fn send_frame(
        &mut self,
        _now: Timestamp,
        link: LinkId,
        frame: &[u8],
    ) -> Result<(), PluginError> {
        if frame.starts_with(b"PANIC") {
            panic!("frozen-v1: asked to panic");
        }
        self.host
            .deliver_frame(link, frame)
            .map_err(PluginError::failed)
    }
}

dialgate_plugin_sdk::export_plugin!(FrozenV1);
