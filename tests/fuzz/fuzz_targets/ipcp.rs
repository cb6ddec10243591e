//! IPCP packets and options: parse -> emit reproduces each option's bytes.
#![no_main]

use dialgate_fuzz::{options_round_trip, packet_round_trip};
use dialgate_wire::ipcp::IpcpOption;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    packet_round_trip::<IpcpOption<'_>>(data);
    options_round_trip::<IpcpOption<'_>>(data);
});
