//! Test plugin `panics`: a link plugin that works like `echo` until asked to panic.
//!
//! Configuration (TOML, matched literally): `panic_in_new = true` makes `new` panic;
//! `panic_in_drop = true` makes dropping the instance panic. A frame starting with `PANIC`
//! makes `send_frame` panic, and any timer makes `on_timer` panic.

use dialgate_plugin_sdk::{
    Direction, HostHandle, LinkId, LinkInfo, Plugin, PluginError, PluginKind, TimerId, Timestamp,
};

struct Panics {
    host: HostHandle,
    next_link: u64,
    panic_in_drop: bool,
}

impl Plugin for Panics {
    const NAME: &'static str = "panics";
    const KIND: PluginKind = PluginKind::LINK;

    fn new(config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
        if config_toml.contains("panic_in_new = true") {
            panic!("panics: asked to panic in new");
        }
        Ok(Panics {
            host,
            next_link: 0,
            panic_in_drop: config_toml.contains("panic_in_drop = true"),
        })
    }

    fn on_timer(&mut self, _now: Timestamp, timer: TimerId) -> Result<(), PluginError> {
        panic!("panics: timer {timer} fired");
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
        if frame.starts_with(b"PANIC") {
            // An out-of-bounds index: the kind of bug the shield is for.
            let past_the_end = frame.len() + 10;
            #[allow(clippy::indexing_slicing)]
            std::hint::black_box(frame[past_the_end]);
        }
        self.host
            .deliver_frame(link, frame)
            .map_err(PluginError::failed)
    }
}

impl Drop for Panics {
    fn drop(&mut self) {
        if self.panic_in_drop {
            panic!("panics: asked to panic in drop");
        }
    }
}

dialgate_plugin_sdk::export_plugin!(Panics);
