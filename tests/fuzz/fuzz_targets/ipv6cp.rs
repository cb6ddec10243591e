//! IPV6CP packets and options: parse -> emit reproduces each option's bytes.
#![no_main]

use dialgate_fuzz::{options_round_trip, packet_round_trip};
use dialgate_wire::ipv6cp::Ipv6cpOption;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    packet_round_trip::<Ipv6cpOption<'_>>(data);
    options_round_trip::<Ipv6cpOption<'_>>(data);
});
