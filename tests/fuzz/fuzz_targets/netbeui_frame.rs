//! The netbeui plugin's parsers and forwarder (plugins/netbeui): LAN frames and PPP NBF
//! information fields are untrusted. The first octet picks what the rest is: an 802.3 frame
//! from the LAN or an information field from a session (without or with MAC headers). No
//! input panics; every header that parses re-emits to the same octets and parses back equal;
//! a frame the forwarder accepts from a session is a well-formed 802.3 NBF frame from the
//! session's MAC.
#![no_main]

use dialgate_plugin_netbeui::forward::{Forwarder, ForwarderConfig, SessionParams};
use dialgate_plugin_netbeui::wire::{MacAddr, NbfFrame, ethernet, llc, netbios};
use dialgate_plugin_sdk::Timestamp;
use libfuzzer_sys::fuzz_target;

fn round_trips(pdu: &[u8]) {
    let Ok(view) = llc::Pdu::new_checked(pdu) else {
        return;
    };
    let repr = llc::Repr::parse(&view).expect("a checked PDU parses");
    let mut out = [0u8; 4];
    repr.emit(&mut out).expect("an LLC header emits");
    assert_eq!(&out[..repr.buffer_len()], &pdu[..repr.buffer_len()]);
    if let Ok(p) = netbios::Packet::new_checked(view.payload()) {
        let r = netbios::Repr::parse(&p).expect("a checked header parses");
        let mut buf = [0u8; netbios::NAME_HEADER_LEN];
        r.emit(&mut buf).expect("a parsed header emits");
        let back = netbios::Packet::new_checked(&buf[..r.buffer_len()]).expect("re-parses");
        assert_eq!(netbios::Repr::parse(&back), Ok(r));
        assert_eq!(&buf[..r.buffer_len()], &view.payload()[..r.buffer_len()]);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut fwd = Forwarder::new(ForwarderConfig {
        mac_base: MacAddr([2, 0x4e, 0x42, 0, 0, 0]),
        max_sessions: 2,
        forward_multicast: true,
        multicast_burst: 4,
        multicast_window_secs: 1,
        users: Vec::new(),
    });
    let mac_headers = selector & 2 != 0;
    let mac = fwd
        .session_up(
            1,
            SessionParams {
                mac_headers,
                ..SessionParams::default()
            },
        )
        .expect("a slot");
    let now = Timestamp::from_nanos(u64::from(selector));
    let mut out = [0u8; 1514];
    if selector & 1 == 0 {
        if let Ok(eth) = ethernet::Frame::new_checked(rest) {
            let h = ethernet::Repr::parse(&eth).expect("a checked frame parses");
            let mut buf = [0u8; ethernet::HEADER_LEN];
            h.emit(&mut buf).expect("emits");
            assert_eq!(&buf[..], &rest[..ethernet::HEADER_LEN]);
            round_trips(eth.payload());
        }
        let mut targets = Vec::new();
        if fwd.from_lan(now, rest, &mut targets).is_ok() {
            assert!(!targets.is_empty());
            for t in targets {
                let info = fwd.for_session(t, rest, &mut out).expect("an accepted frame");
                assert!(info.len() <= 1514);
            }
        }
    } else {
        round_trips(rest);
        let _ = NbfFrame::parse(rest);
        if let Ok(n) = fwd.from_session(now, 1, rest, &mut out) {
            let eth = ethernet::Frame::new_checked(&out[..n]).expect("a valid 802.3 frame");
            assert_eq!(eth.src(), mac);
            assert!(NbfFrame::parse(eth.payload()).is_ok());
        }
    }
});
