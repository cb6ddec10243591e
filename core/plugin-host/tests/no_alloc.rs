//! The per-frame calls allocate nothing (DESIGN.md §3): a frame sent to a plugin and delivered
//! back to the host crosses the ABI twice (host -> plugin `send_frame`, plugin -> host
//! `deliver_frame`), through both panic shields, without one allocation.
//!
//! The plugin runs in-process here (the SDK's `into_plugin_box`, the same ABI objects a loaded
//! library makes) so that this binary's counting allocator sees both sides; a loaded library
//! allocates through its own copy of std.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dialgate_plugin_host::abi::{HostError, LinkId, LogLevel, Timestamp};
use dialgate_plugin_host::{HostServices, PluginInstance, host_box};
use dialgate_plugin_sdk::{HostHandle, Plugin, PluginError, PluginKind};

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Counts allocations made by the current thread.
struct Counting;

// SAFETY: delegates to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed through.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract is passed through.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Loops frames back, like the `echo` test plugin.
struct Loop {
    host: HostHandle,
}

impl Plugin for Loop {
    const NAME: &'static str = "loop";
    const KIND: PluginKind = PluginKind::LINK;

    fn new(_: &str, host: HostHandle) -> Result<Self, PluginError> {
        Ok(Loop { host })
    }
    fn send_frame(&mut self, _: Timestamp, link: LinkId, frame: &[u8]) -> Result<(), PluginError> {
        self.host
            .deliver_frame(link, frame)
            .map_err(PluginError::failed)
    }
}

#[derive(Clone)]
struct Count(Arc<AtomicU64>);

impl HostServices for Count {
    fn now(&self) -> Timestamp {
        Timestamp::ZERO
    }
    fn log(&self, _: LogLevel, _: &str) {}
    fn deliver_frame(&self, _: LinkId, frame: &[u8]) -> Result<(), HostError> {
        self.0.fetch_add(frame.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

#[test]
fn send_frame_and_deliver_frame_allocate_nothing() {
    let delivered = Arc::new(AtomicU64::new(0));
    let host = HostHandle::new(host_box(Count(delivered.clone())));
    let plugin = Loop::new("", host).expect("new");
    let mut instance =
        PluginInstance::from_box("loop", dialgate_plugin_sdk::into_plugin_box(plugin));
    let frame = vec![0x21_u8; 1400];

    // Warm up (lazy statics, thread locals), then count.
    instance
        .send_frame(Timestamp::ZERO, LinkId(1), &frame)
        .expect("send");
    let before = allocations();
    for _ in 0..1000 {
        instance
            .send_frame(Timestamp::ZERO, LinkId(1), &frame)
            .expect("send");
    }
    let after = allocations();
    assert_eq!(after - before, 0, "allocations on the frame path");
    assert_eq!(delivered.load(Ordering::Relaxed), 1001 * 1400);
}
