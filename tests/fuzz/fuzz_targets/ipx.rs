//! IPX (the Novell header RFC 1552 carries) and the ipx-bridge data path: the checked view,
//! the Repr round trip and the checksum; Ethernet frame types decode without panicking and
//! re-encode to what they decoded; and the bridge takes any bytes from a session or the
//! LAN without panicking, its output frames and datagrams valid IPX.
#![no_main]

use dialgate_plugin_ipx_bridge::bridge::{Bridge, Sink};
use dialgate_plugin_ipx_bridge::config::Config;
use dialgate_plugin_ipx_bridge::frame::{self, FrameType};
use dialgate_wire::ipx::{Packet, Repr, checksum};
use libfuzzer_sys::fuzz_target;

const FRAME_TYPES: [FrameType; 4] = [
    FrameType::EthernetII,
    FrameType::Raw8023,
    FrameType::Llc8022,
    FrameType::Snap,
];

/// Checks what the bridge emits: LAN frames decode to valid IPX, datagrams are valid IPX.
struct Checker(FrameType);

impl Sink for Checker {
    fn to_lan(&mut self, eth: &[u8]) -> bool {
        let d = frame::decode(self.0, eth).expect("the bridge's frame decodes");
        let p = Packet::new_checked(d.ipx).expect("the bridge's frame carries IPX");
        assert!(p.verify_checksum());
        true
    }
    fn to_session(&mut self, _session: u64, datagram: &[u8]) -> bool {
        let p = Packet::new_checked(datagram).expect("the bridge sends IPX to sessions");
        assert_eq!(p.as_bytes().len(), datagram.len());
        true
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = Packet::new_checked(data) {
        let _ = checksum(packet.as_bytes());
        if let Ok(repr) = Repr::parse(&packet) {
            let mut out = Vec::new();
            repr.push(&mut out).expect("emit of a parsed packet");
            assert_eq!(out, packet.as_bytes());
            let again = Packet::new_checked(&out[..]).expect("emitted packet checks");
            assert_eq!(Repr::parse(&again), Ok(repr));
        }
    }
    let p = Packet::new_unchecked(data);
    let _ = (p.src(), p.dst(), p.payload(), p.packet_type(), p.verify_checksum());

    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let ft = FRAME_TYPES[usize::from(selector % 4)];
    if let Ok(d) = frame::decode(ft, rest) {
        let mut out = Vec::new();
        if frame::encode(ft, d.dst, d.src, d.ipx, &mut out).is_ok() {
            let again = frame::decode(ft, &out).expect("re-encoded frame decodes");
            assert!(again.ipx.starts_with(d.ipx));
        }
    }

    // The bridge: two sessions on network 0x2a, one of them the node the input names.
    let config = Config::parse(&format!(
        "interface = \"eth1\"\nnetwork = 42\nframe_type = \"{}\"\nbroadcasts_per_sec = 3\n",
        ft.name()
    ))
    .expect("valid config");
    let mut bridge = Bridge::new(&config);
    let _ = bridge.session_up(1, 42, Some([2, 0, 0, 0, 0, 1]), true);
    let _ = bridge.session_up(2, 42, None, true);
    let mut sink = Checker(ft);
    bridge.from_lan(0, rest, &mut sink);
    bridge.from_session(0, u64::from(selector % 3), rest, &mut sink);
    bridge.from_session(0, 2, rest, &mut sink);
});
