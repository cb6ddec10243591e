//! The PPP engine (dialgate-ppp) end to end: two engines brought deterministically to the
//! Network phase with MS-CHAPv2 + MPPE-128 (or stateful MPPE, or only to Establish or
//! Authenticate), then the input, a sequence of length-prefixed frames interleaved with clock
//! advances and datagrams to send, drives one of them. Panics on any engine panic and on any
//! broken invariant: every frame counted once and accounted for once
//! (`rx_frames == rx_datagrams + rx_control + dropped()`), phases chaining, LinkDown once and
//! never followed by LinkUp, timers that move when fired.
//!
//! The scenario and the input format live in `core/ppp/tests/common/engine_fuzz.rs`, shared
//! with `cargo test` (`core/ppp/tests/engine_fuzz.rs`, which also writes `corpus/engine/`).
//! Engines are not `Clone` (they hold authentication backends and random sources), so every
//! input negotiates afresh.
#![no_main]

#[path = "../../../core/ppp/tests/common/mod.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::engine_fuzz::run(data);
});
