//! `send_frame` across the plugin boundary vs a direct Rust call, with a 1400-octet frame.
//!
//! Each iteration is one frame sent to a loop-back link plugin and delivered back to the host:
//! two crossings (host -> plugin `send_frame`, plugin -> host `deliver_frame`), each through a
//! panic shield. Three ways:
//! - `loaded`: the `echo` test plugin, loaded from its shared library;
//! - `in_process`: the same logic as SDK ABI objects in this binary (no dynamic library);
//! - `direct`: the same logic as plain Rust calls (the baseline).
//!
//! Run: `cargo bench -p dialgate-plugin-host --bench send_frame`

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dialgate_plugin_host::abi::{HostError, LinkId, Timestamp};
use dialgate_plugin_host::{PluginInstance, host_box, load};
use dialgate_plugin_sdk::{HostHandle, Plugin, PluginError, PluginKind};
use support::{Recorder, SharedRecorder, plugin_path};

const FRAME_LEN: usize = 1400;

/// The echo plugin's frame path, as an in-process SDK plugin.
struct Loop {
    host: HostHandle,
    links: Vec<LinkId>,
}

impl Plugin for Loop {
    const NAME: &'static str = "loop";
    const KIND: PluginKind = PluginKind::LINK;

    fn new(_: &str, host: HostHandle) -> Result<Self, PluginError> {
        Ok(Loop {
            host,
            links: vec![LinkId(1)],
        })
    }
    fn send_frame(&mut self, _: Timestamp, link: LinkId, frame: &[u8]) -> Result<(), PluginError> {
        if !self.links.contains(&link) {
            return Err(PluginError::unsupported("no link"));
        }
        self.host
            .deliver_frame(link, frame)
            .map_err(PluginError::failed)
    }
}

/// The same frame path as plain Rust: no ABI objects, no shields.
struct Direct {
    host: Arc<Recorder>,
    links: Vec<LinkId>,
}

impl Direct {
    #[inline(never)]
    fn send_frame(&mut self, _: Timestamp, link: LinkId, frame: &[u8]) -> Result<(), HostError> {
        if !self.links.contains(&link) {
            return Err(HostError::Closed);
        }
        self.host.frames.fetch_add(1, Ordering::Relaxed);
        self.host
            .bytes
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let frame = vec![0x21_u8; FRAME_LEN];
    let now = Timestamp::ZERO;
    let mut group = c.benchmark_group("send_frame_1400");
    group.throughput(Throughput::Elements(1));

    let plugin = load(plugin_path("echo")).expect("echo plugin loads");
    let rec = Recorder::counting();
    let mut loaded = plugin
        .instantiate("", host_box(SharedRecorder(rec.clone())))
        .expect("instance");
    let link = loaded.dial(now, "bench").expect("dial");
    group.bench_function("loaded", |b| {
        b.iter(|| loaded.send_frame(now, black_box(link), black_box(&frame)))
    });

    let rec = Recorder::counting();
    let host = HostHandle::new(host_box(SharedRecorder(rec.clone())));
    let mut in_process = PluginInstance::from_box(
        "loop",
        dialgate_plugin_sdk::into_plugin_box(Loop::new("", host).expect("new")),
    );
    group.bench_function("in_process", |b| {
        b.iter(|| in_process.send_frame(now, black_box(LinkId(1)), black_box(&frame)))
    });

    let mut direct = Direct {
        host: Recorder::counting(),
        links: vec![LinkId(1)],
    };
    group.bench_function("direct", |b| {
        b.iter(|| direct.send_frame(now, black_box(LinkId(1)), black_box(&frame)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
