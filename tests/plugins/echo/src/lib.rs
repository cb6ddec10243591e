//! Test plugin `echo`: a working link plugin. `dial` brings a link up at once, every frame the
//! core sends on a link is delivered straight back to the core on that link, bytes arriving on
//! a handle are written back to it, and a timer ticks once a second.
//!
//! ABI 1.2: a hangup with a cause reports the cause in its `link_down` message, and the frames
//! `CONGEST` / `UNCONGEST` set the link's congestion signal instead of being echoed.

use std::time::Duration;

use dialgate_plugin_sdk::{
    Direction, HandleId, HangupCause, HostError, HostHandle, LinkDownCause, LinkId, LinkInfo,
    LogLevel, Plugin, PluginError, PluginKind, TimerId, Timestamp,
};

/// The timer `start` arms.
const TICK: TimerId = TimerId(1);

struct Echo {
    host: HostHandle,
    links: Vec<LinkId>,
    next_link: u64,
    /// Frames the host refused with `Busy` (dropped, as PPP allows).
    dropped: u64,
}

impl Plugin for Echo {
    const NAME: &'static str = "echo";
    const KIND: PluginKind = PluginKind::LINK;
    const DESCRIPTION: &'static str = "loops every frame back to the core (test plugin)";

    fn new(config_toml: &str, host: HostHandle) -> Result<Self, PluginError> {
        // No configuration: only blank lines and comments are accepted.
        if let Some(line) = config_toml
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
        {
            return Err(PluginError::invalid_config(format_args!(
                "echo takes no configuration, got `{line}`"
            )));
        }
        Ok(Echo {
            host,
            links: Vec::new(),
            next_link: 0,
            dropped: 0,
        })
    }

    fn start(&mut self, now: Timestamp) -> Result<(), PluginError> {
        self.host.log(LogLevel::Info, "echo started");
        self.host
            .set_timer(TICK, now.saturating_add(Duration::from_secs(1)));
        Ok(())
    }

    fn stop(&mut self, _now: Timestamp) -> Result<(), PluginError> {
        self.host.cancel_timer(TICK);
        for link in self.links.drain(..) {
            self.host
                .link_down(link, LinkDownCause::Requested, "echo stopped");
        }
        Ok(())
    }

    fn on_timer(&mut self, now: Timestamp, timer: TimerId) -> Result<(), PluginError> {
        if timer == TICK {
            self.host.log(LogLevel::Debug, "tick");
            self.host
                .set_timer(TICK, now.saturating_add(Duration::from_secs(1)));
        }
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
        self.links.push(link);
        Ok(link)
    }

    fn hangup(&mut self, _now: Timestamp, link: LinkId) -> Result<(), PluginError> {
        let before = self.links.len();
        self.links.retain(|l| *l != link);
        if self.links.len() == before {
            return Err(PluginError::unsupported(format_args!("no link {link}")));
        }
        self.host
            .link_down(link, LinkDownCause::Requested, "hangup");
        Ok(())
    }

    fn hangup_with_cause(
        &mut self,
        now: Timestamp,
        link: LinkId,
        cause: HangupCause,
    ) -> Result<(), PluginError> {
        if cause == HangupCause::UNSPECIFIED {
            return self.hangup(now, link);
        }
        let before = self.links.len();
        self.links.retain(|l| *l != link);
        if self.links.len() == before {
            return Err(PluginError::unsupported(format_args!("no link {link}")));
        }
        self.host
            .link_down(link, LinkDownCause::Requested, &format!("hangup ({cause})"));
        Ok(())
    }

    fn send_frame(
        &mut self,
        _now: Timestamp,
        link: LinkId,
        frame: &[u8],
    ) -> Result<(), PluginError> {
        if !self.links.contains(&link) {
            return Err(PluginError::unsupported(format_args!("no link {link}")));
        }
        if frame == b"CONGEST" || frame == b"UNCONGEST" {
            self.host.set_link_congested(link, frame == b"CONGEST");
            return Ok(());
        }
        match self.host.deliver_frame(link, frame) {
            Ok(()) => Ok(()),
            Err(HostError::Busy) => {
                self.dropped += 1;
                Ok(())
            }
            Err(e) => Err(PluginError::failed(e)),
        }
    }
}

dialgate_plugin_sdk::export_plugin!(Echo);
