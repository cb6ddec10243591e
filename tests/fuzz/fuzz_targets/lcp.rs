//! LCP packets and options (RFC 1661 §5-6, RFC 1570, RFC 1990).
#![no_main]

use dialgate_fuzz::{options_round_trip, packet_round_trip};
use dialgate_wire::cp::{self, Code};
use dialgate_wire::lcp::{LcpOption, MagicData, ProtocolReject, TimeRemaining};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    packet_round_trip::<LcpOption<'_>>(data);
    options_round_trip::<LcpOption<'_>>(data);
    if let Ok(repr) = cp::Repr::parse(data) {
        let mut buf = vec![0; repr.data.len()];
        match repr.code {
            Code::EchoRequest | Code::EchoReply | Code::DiscardRequest | Code::Identification => {
                if let Ok(m) = MagicData::parse(repr.data) {
                    assert_eq!(m.emit(&mut buf), Ok(repr.data.len()));
                    assert_eq!(buf, repr.data);
                }
            }
            Code::TimeRemaining => {
                if let Ok(t) = TimeRemaining::parse(repr.data) {
                    assert_eq!(t.emit(&mut buf), Ok(repr.data.len()));
                    assert_eq!(buf, repr.data);
                }
            }
            Code::ProtocolReject => {
                if let Ok(p) = ProtocolReject::parse(repr.data) {
                    assert_eq!(p.emit(&mut buf), Ok(repr.data.len()));
                    assert_eq!(buf, repr.data);
                    let mut out = Vec::new();
                    p.push_packet(&mut out, 1, 64).expect("fits");
                    assert!(out.len() <= 64.max(6));
                }
            }
            _ => {}
        }
    }
});
