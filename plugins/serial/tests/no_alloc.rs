//! The frame path allocates nothing (DESIGN.md §3): decoding a read into frames and
//! delivering them, and framing a frame from the core and writing it, reuse the port's
//! buffers. Counted with a global allocator on this thread while the plugin runs in-process
//! behind the real ABI host object.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dialgate_plugin_host::abi::{
    HandleId, HostError, LinkId, LinkInfo, LogLevel, Timestamp, TtySettings,
};
use dialgate_plugin_host::{HostServices, host_box};
use dialgate_plugin_sdk::{HostHandle, Plugin};
use dialgate_plugin_serial::Serial;
use dialgate_wire::hdlc::{DEFAULT_ACCM, Encoder};

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

/// A host with one pretend tty that counts what crosses it.
#[derive(Clone, Default)]
struct Count {
    written: Arc<AtomicU64>,
    delivered: Arc<AtomicU64>,
}

impl HostServices for Count {
    fn now(&self) -> Timestamp {
        Timestamp::ZERO
    }
    fn log(&self, _: LogLevel, _: &str) {}
    fn open_tty(&self, _: TtySettings<'_>) -> Result<HandleId, HostError> {
        Ok(HandleId(1))
    }
    fn write(&self, _: HandleId, bytes: &[u8]) -> Result<(), HostError> {
        self.written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    fn link_up(&self, _: LinkId, _: LinkInfo<'_>) -> Result<(), HostError> {
        Ok(())
    }
    fn deliver_frame(&self, _: LinkId, frame: &[u8]) -> Result<(), HostError> {
        self.delivered
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

#[test]
fn the_frame_path_allocates_nothing() {
    let host = Count::default();
    let mut serial = Serial::new(
        "[[ports]]\nname = \"p0\"\ndevice = \"/dev/null-modem\"\n",
        HostHandle::new(host_box(host.clone())),
    )
    .expect("config");
    serial.start(Timestamp::ZERO).expect("start");
    let link = LinkId(1);

    // An IPv4 frame of 1400 octets full of octets that need escaping, ten to a read.
    let mut frame = vec![0xFF, 0x03, 0x00, 0x21];
    frame.extend((0..1396u32).map(|i| (i % 256) as u8));
    let mut chunk = Vec::new();
    for _ in 0..10 {
        Encoder::new()
            .with_accm(DEFAULT_ACCM)
            .encode(&frame, &mut chunk);
    }

    // Warm up (lazy statics, thread locals), then count.
    serial
        .send_frame(Timestamp::ZERO, link, &frame)
        .expect("send");
    serial
        .on_data(Timestamp::ZERO, HandleId(1), &chunk)
        .expect("data");
    let before = allocations();
    for _ in 0..1000 {
        serial
            .send_frame(Timestamp::ZERO, link, &frame)
            .expect("send");
    }
    for _ in 0..100 {
        serial
            .on_data(Timestamp::ZERO, HandleId(1), &chunk)
            .expect("data");
    }
    let after = allocations();
    assert_eq!(after - before, 0, "allocations on the frame path");
    assert_eq!(
        host.delivered.load(Ordering::Relaxed),
        101 * 10 * frame.len() as u64
    );
    assert!(host.written.load(Ordering::Relaxed) > 1001 * frame.len() as u64);
}
