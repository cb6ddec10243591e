//! CCP packets and options, MPPE supported bits (RFC 3078 §2.1) and the MPPE header (§3).
#![no_main]

use dialgate_fuzz::{options_round_trip, packet_round_trip};
use dialgate_wire::ccp::{CcpOption, MppeHeader, MppePacket};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    packet_round_trip::<CcpOption<'_>>(data);
    options_round_trip::<CcpOption<'_>>(data);
    if let Ok(h) = MppeHeader::parse(data) {
        let mut buf = [0u8; 2];
        assert_eq!(h.emit(&mut buf), Ok(2));
        assert_eq!(buf, data[..2]);
        let view = MppePacket::new_checked(data).expect("header present");
        assert_eq!(view.payload().len(), data.len() - 2);
    }
});
