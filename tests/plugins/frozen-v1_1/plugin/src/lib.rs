//! Test plugin `frozen-v1_1`: a small link plugin built against `abi-1.1/`, a byte-for-byte
//! snapshot of dialgate-plugin-abi 1.1.0 and the SDK that went with it. It stands for every
//! plugin binary built for ABI 1.1: the host's tests load it, so a change to core/plugin-abi
//! that is not additive over 1.1 fails CI. It uses the one method 1.1 added
//! (`Host::set_counter`).
//!
//! Frozen: this file, Cargo.toml and abi-1.1/ are checked against SHA1SUMS by
//! core/plugin-host/tests/frozen_snapshot.rs. Never edit them.

use dialgate_plugin_sdk::{
    Direction, HostHandle, LinkDownCause, LinkId, LinkInfo, LogLevel, Plugin, PluginError,
    PluginKind, Timestamp,
};

struct FrozenV11 {
    host: HostHandle,
    next_link: u64,
    frames: u64,
}

impl Plugin for FrozenV11 {
    const NAME: &'static str = "frozen-v1_1";
    const KIND: PluginKind = PluginKind::LINK;
    const DESCRIPTION: &'static str = "plugin ABI 1.1 test plugin (frozen)";

    fn new(_config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
        Ok(FrozenV11 {
            host,
            next_link: 0,
            frames: 0,
        })
    }

    fn start(&mut self, _now: Timestamp) -> Result<(), PluginError> {
        self.host.log(LogLevel::Info, "frozen-v1_1 started");
        self.host.set_counter("frames", self.frames);
        Ok(())
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
            panic!("frozen-v1_1: asked to panic");
        }
        self.frames += 1;
        self.host.set_counter("frames", self.frames);
        self.host
            .deliver_frame(link, frame)
            .map_err(PluginError::failed)
    }
}

dialgate_plugin_sdk::export_plugin!(FrozenV11);
