use super::*;
use crate::wire::netbios::{self, Addressing};
use crate::wire::{MacAddr, llc};

const BASE: MacAddr = MacAddr([0x02, 0x4e, 0x42, 0, 0x10, 0]);
const STATION: MacAddr = MacAddr([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
const OTHER: MacAddr = MacAddr([0x00, 0x11, 0x22, 0x33, 0x44, 0x66]);

fn config() -> ForwarderConfig {
    ForwarderConfig {
        mac_base: BASE,
        max_sessions: 2,
        forward_multicast: true,
        multicast_burst: 2,
        multicast_window_secs: 1,
        users: Vec::new(),
    }
}

fn at(secs: u64) -> Timestamp {
    Timestamp::from_nanos(secs * 1_000_000_000)
}

fn params(user: &str) -> SessionParams {
    SessionParams {
        user: user.into(),
        ..SessionParams::default()
    }
}

/// An LLC UI PDU with a name-addressed NetBIOS header.
fn ui(command: netbios::Command, dest: &str, source: &str, xmit: u16, resp: u16) -> Vec<u8> {
    let llc = llc::Repr {
        dsap: llc::SAP_NETBIOS,
        ssap: llc::SAP_NETBIOS,
        response: false,
        control: llc::Control::Unnumbered {
            modifier: llc::UI,
            poll: false,
        },
    };
    let nb = netbios::Repr {
        command,
        data1: 0,
        data2: 0,
        xmit_correlator: xmit,
        resp_correlator: resp,
        addressing: Addressing::Names {
            dest: netbios::name(dest, 0x20),
            source: netbios::name(source, 0x20),
        },
    };
    let mut buf = vec![0u8; llc.buffer_len() + nb.buffer_len()];
    let (l, n) = buf.split_at_mut(llc.buffer_len());
    llc.emit(l).unwrap_or_else(|e| panic!("{e}"));
    nb.emit(n).unwrap_or_else(|e| panic!("{e}"));
    buf
}

/// SABME with P: an LLC connection frame without NetBIOS header.
const SABME: [u8; 3] = [0xF0, 0xF0, 0x7F];

fn lan(dst: MacAddr, src: MacAddr, pdu: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&(pdu.len() as u16).to_be_bytes());
    f.extend_from_slice(pdu);
    f
}

fn from_lan(fwd: &mut Forwarder, now: Timestamp, frame: &[u8]) -> Result<Vec<u64>, Drop> {
    let mut targets = Vec::new();
    fwd.from_lan(now, frame, &mut targets).map(|()| targets)
}

fn to_lan(fwd: &mut Forwarder, id: u64, info: &[u8]) -> Result<Vec<u8>, Drop> {
    let mut out = [0u8; 1514];
    let n = fwd.from_session(at(0), id, info, &mut out)?;
    Ok(out[..n].to_vec())
}

#[test]
fn sessions_get_unique_locally_administered_macs_and_slots_come_back() {
    let mut fwd = Forwarder::new(config());
    let a = fwd.session_up(10, params("alice"));
    let b = fwd.session_up(11, params("bob"));
    assert_eq!(a, Ok(BASE));
    assert_eq!(b, Ok(MacAddr([0x02, 0x4e, 0x42, 0, 0x10, 1])));
    assert_eq!(fwd.session_up(12, params("carol")), Err(UpError::Full));
    // The same session again keeps its slot.
    assert_eq!(fwd.session_up(11, params("bob")), b);
    assert!(fwd.session_down(10));
    assert!(!fwd.session_down(10));
    assert_eq!(fwd.session_up(12, params("carol")), Ok(BASE));
    assert_eq!(fwd.mac_of(12), Some(BASE));
    assert_eq!(fwd.mac_of(10), None);
    for mac in [a, b].into_iter().flatten() {
        assert!(mac.is_local() && !mac.is_group());
    }
}

#[test]
fn only_listed_users_may_use_it() {
    let mut fwd = Forwarder::new(ForwarderConfig {
        users: vec!["alice".into()],
        ..config()
    });
    assert_eq!(
        fwd.session_up(1, params("mallory")),
        Err(UpError::NotAllowed)
    );
    assert!(fwd.session_up(2, params("alice")).is_ok());
    // Frames of a session that is not served are dropped and counted.
    assert_eq!(to_lan(&mut fwd, 1, &SABME), Err(Drop::UnknownSession));
    assert_eq!(fwd.counters().dropped(Drop::UnknownSession), 1);
}

#[test]
fn name_query_from_the_caller_goes_to_the_netbios_group_address_rfc2097_2_1() {
    let mut fwd = Forwarder::new(config());
    let mac = fwd.session_up(7, params("alice")).unwrap_or_default();
    let query = ui(netbios::Command::NameQuery, "filesrv", "alice", 0, 0x4242);
    let frame = to_lan(&mut fwd, 7, &query).unwrap_or_else(|d| panic!("{d:?}"));
    let eth = ethernet::Frame::new_checked(&frame[..]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(eth.dst(), MacAddr::NETBIOS_MULTICAST);
    assert_eq!(eth.src(), mac, "the caller's own LAN MAC");
    assert_eq!(usize::from(eth.length()), query.len());
    assert_eq!(
        eth.payload(),
        &query[..],
        "LLC header and NetBIOS frame unchanged"
    );
    assert_eq!(frame.len(), ethernet::MIN_FRAME.max(14 + query.len()));
    assert_eq!(fwd.counters().to_lan, 1);
}

#[test]
fn lan_multicast_reaches_every_session_within_its_limit_rfc2097_3_3() {
    let mut fwd = Forwarder::new(config());
    let _ = fwd.session_up(1, params("a"));
    let _ = fwd.session_up(2, params("b"));
    let query = ui(netbios::Command::NameQuery, "someone", "srv", 0, 1);
    let frame = lan(MacAddr::NETBIOS_MULTICAST, STATION, &query);
    // Burst 2 per 1-second window: two go through to both sessions, the third does not.
    for _ in 0..2 {
        assert_eq!(from_lan(&mut fwd, at(5), &frame), Ok(vec![1, 2]));
    }
    assert_eq!(from_lan(&mut fwd, at(5), &frame), Err(Drop::Multicast));
    assert_eq!(fwd.counters().multicast_forwarded, 4);
    assert_eq!(fwd.counters().multicast_limited, 2);
    // A new window.
    assert_eq!(from_lan(&mut fwd, at(6), &frame), Ok(vec![1, 2]));
    // The session gets the LLC PDU (no MAC header negotiated).
    let mut out = [0u8; 1514];
    assert_eq!(fwd.for_session(1, &frame, &mut out), Some(&query[..]));
    // A peer that asked for period 0xFFFF gets none; one that asked for 10 s gets its burst
    // per 10 s.
    let mut fwd = Forwarder::new(config());
    let _ = fwd.session_up(
        1,
        SessionParams {
            multicast_period: Some(NEVER),
            ..params("a")
        },
    );
    let _ = fwd.session_up(
        2,
        SessionParams {
            multicast_period: Some(10),
            ..params("b")
        },
    );
    for t in [0, 1, 9] {
        let got = from_lan(&mut fwd, at(t), &frame);
        assert_eq!(
            got,
            if t < 9 {
                Ok(vec![2])
            } else {
                Err(Drop::Multicast)
            },
            "at {t}"
        );
    }
    assert_eq!(from_lan(&mut fwd, at(10), &frame), Ok(vec![2]));
}

#[test]
fn queries_for_a_callers_own_names_reach_it_alone_rfc2097_2_3() {
    let mut fwd = Forwarder::new(ForwarderConfig {
        forward_multicast: false,
        ..config()
    });
    let _ = fwd.session_up(
        1,
        SessionParams {
            names: vec![netbios::name("alice", 0x20)],
            ..params("a")
        },
    );
    let _ = fwd.session_up(2, params("b"));
    // Projected name: delivered although multicast forwarding is off.
    let add = ui(netbios::Command::AddNameQuery, "alice", "alice", 0, 9);
    let frame = lan(MacAddr::NETBIOS_MULTICAST, STATION, &add);
    assert_eq!(from_lan(&mut fwd, at(0), &frame), Ok(vec![1]));
    // A name session 2 added itself (ADD_NAME_QUERY it sent) is learned.
    let own = ui(netbios::Command::AddNameQuery, "bob", "bob", 0, 3);
    assert!(to_lan(&mut fwd, 2, &own).is_ok());
    let query = ui(netbios::Command::NameQuery, "bob", "srv", 0, 3);
    let frame = lan(MacAddr::BROADCAST, STATION, &query);
    assert_eq!(from_lan(&mut fwd, at(0), &frame), Ok(vec![2]));
    // Nobody's: dropped while multicast forwarding is off.
    let query = ui(netbios::Command::NameQuery, "carol", "srv", 0, 3);
    let frame = lan(MacAddr::NETBIOS_MULTICAST, STATION, &query);
    assert_eq!(from_lan(&mut fwd, at(0), &frame), Err(Drop::Multicast));
}

#[test]
fn a_response_goes_back_to_the_querier_by_correlator() {
    let mut fwd = Forwarder::new(config());
    let _ = fwd.session_up(1, params("a"));
    for (station, corr) in [(STATION, 0x1111), (OTHER, 0x2222)] {
        let q = ui(netbios::Command::NameQuery, "alice", "x", 0, corr);
        assert!(
            from_lan(
                &mut fwd,
                at(0),
                &lan(MacAddr::NETBIOS_MULTICAST, station, &q)
            )
            .is_ok()
        );
    }
    for (station, corr) in [(STATION, 0x1111), (OTHER, 0x2222), (OTHER, 0x9999)] {
        // NAME_RECOGNIZED carries the query's response correlator as its transmit one; an
        // unknown one goes to the latest querier.
        let answer = ui(netbios::Command::NameRecognized, "x", "alice", corr, 0x77);
        let frame = to_lan(&mut fwd, 1, &answer).unwrap_or_else(|d| panic!("{d:?}"));
        let eth = ethernet::Frame::new_checked(&frame[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(eth.dst(), station, "correlator {corr:#x}");
    }
    // A session nobody queried has nowhere to send a response.
    let _ = fwd.session_up(2, params("b"));
    let answer = ui(netbios::Command::NameRecognized, "x", "bob", 1, 2);
    assert_eq!(to_lan(&mut fwd, 2, &answer), Err(Drop::NoDestination));
}

#[test]
fn connection_frames_go_to_the_station_that_spoke_to_the_caller() {
    let mut fwd = Forwarder::new(config());
    let mac = fwd.session_up(1, params("a")).unwrap_or_default();
    assert_eq!(to_lan(&mut fwd, 1, &SABME), Err(Drop::NoDestination));
    // The file server answers the caller's NAME_QUERY, unicast to the caller's MAC.
    let answer = ui(
        netbios::Command::NameRecognized,
        "alice",
        "filesrv",
        0x4242,
        5,
    );
    assert_eq!(
        from_lan(&mut fwd, at(0), &lan(mac, STATION, &answer)),
        Ok(vec![1])
    );
    let frame = to_lan(&mut fwd, 1, &SABME).unwrap_or_else(|d| panic!("{d:?}"));
    let eth = ethernet::Frame::new_checked(&frame[..]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((eth.dst(), eth.src()), (STATION, mac));
    assert_eq!(eth.payload(), &SABME[..]);
    // Unicast to some other station's MAC, and our own frames looped back, are not ours.
    assert_eq!(
        from_lan(&mut fwd, at(0), &lan(OTHER, STATION, &SABME)),
        Err(Drop::NotForUs)
    );
    assert_eq!(
        from_lan(
            &mut fwd,
            at(0),
            &lan(MacAddr::NETBIOS_MULTICAST, mac, &SABME)
        ),
        Err(Drop::Looped)
    );
}

#[test]
fn mac_header_sessions_keep_their_headers_rfc2097_3_4() {
    let mut fwd = Forwarder::new(config());
    let caller = MacAddr([0x02, 0, 0x4c, 0x4f, 0x4f, 0x50]);
    let mac = fwd
        .session_up(
            1,
            SessionParams {
                mac_headers: true,
                ..params("a")
            },
        )
        .unwrap_or_default();
    // The caller addresses the file server itself; its own MAC is replaced by its LAN MAC.
    let info = lan(STATION, caller, &SABME);
    let frame = to_lan(&mut fwd, 1, &info).unwrap_or_else(|d| panic!("{d:?}"));
    let eth = ethernet::Frame::new_checked(&frame[..]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((eth.dst(), eth.src()), (STATION, mac));
    // The reply, to the caller's LAN MAC, reaches it with its own MAC as destination.
    let reply = lan(mac, STATION, &[0xF0, 0xF1, 0x73]);
    assert_eq!(from_lan(&mut fwd, at(0), &reply), Ok(vec![1]));
    let mut out = [0u8; 1514];
    let got = fwd.for_session(1, &reply, &mut out).map(<[u8]>::to_vec);
    assert_eq!(got, Some(lan(caller, STATION, &[0xF0, 0xF1, 0x73])));
    // A MAC-header session's information field without a MAC header is not NBF.
    assert!(to_lan(&mut fwd, 1, &SABME).is_err());
}

#[test]
fn hostile_input_is_counted_never_a_panic() {
    let mut fwd = Forwarder::new(config());
    let _ = fwd.session_up(1, params("a"));
    let query = ui(netbios::Command::NameQuery, "x", "y", 0, 0);
    let frame = lan(MacAddr::NETBIOS_MULTICAST, STATION, &query);
    for n in 0..frame.len() {
        let _ = from_lan(&mut fwd, at(0), &frame[..n]);
        let _ = to_lan(&mut fwd, 1, &query[..n.min(query.len())]);
    }
    assert_eq!(
        from_lan(
            &mut fwd,
            at(0),
            &lan(MacAddr::BROADCAST, STATION, &[0xE0, 0xE0, 3, 0xFF])
        ),
        Err(Drop::NotNetbios)
    );
    assert_eq!(to_lan(&mut fwd, 1, &[0x42, 0x42, 3]), Err(Drop::NotNetbios));
    let big = {
        let mut b = query.clone();
        b.resize(1501, 0);
        b
    };
    assert_eq!(to_lan(&mut fwd, 1, &big), Err(Drop::TooLong));
    let c = fwd.counters();
    let drops: u64 = c.drops.iter().sum();
    assert!(drops > 0);
    assert_eq!(c.named().count(), 6 + Drop::ALL.len());
}
