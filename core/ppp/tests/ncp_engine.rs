//! The NCP policies driven by the engine's RFC 1661 machinery ([`ControlProtocol`]): two layers
//! wired back to back, packets shuttled until both are Opened or one finishes.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dialgate_ppp::cp::{ControlProtocol, CpConfig, FinishReason, LayerEvent};
use dialgate_ppp::ncp::{
    AddressPool, CcpConfig, CcpPolicy, IpcpClientConfig, IpcpPolicy, IpcpServerConfig,
    Ipv6cpConfig, Ipv6cpPolicy, MppeKeyLength, MppeParams, MppePolicy,
};
use dialgate_ppp::options::{NegotiationFailure, OptionPolicy};

/// Shuttle packets (and, when both are quiet, advance time to the next restart timeout) until
/// both layers are open or one has finished; returns each side's events.
fn run<A: OptionPolicy, B: OptionPolicy>(
    a: &mut ControlProtocol<A>,
    b: &mut ControlProtocol<B>,
) -> (Vec<LayerEvent>, Vec<LayerEvent>) {
    let mut now = Instant::now();
    let (mut ev_a, mut ev_b) = (Vec::new(), Vec::new());
    a.up(now);
    a.open(now);
    b.up(now);
    b.open(now);
    for _ in 0..200 {
        let mut moved = false;
        let mut packet = Vec::new();
        while a.poll_transmit(&mut packet) {
            b.handle_packet(now, &packet);
            packet.clear();
            moved = true;
        }
        while b.poll_transmit(&mut packet) {
            a.handle_packet(now, &packet);
            packet.clear();
            moved = true;
        }
        ev_a.extend(std::iter::from_fn(|| a.poll_event()));
        ev_b.extend(std::iter::from_fn(|| b.poll_event()));
        let finished = |e: &Vec<LayerEvent>| e.iter().any(|e| matches!(e, LayerEvent::Finished(_)));
        if (a.is_open() && b.is_open()) || finished(&ev_a) || finished(&ev_b) {
            break;
        }
        if !moved {
            now += Duration::from_secs(4);
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    (ev_a, ev_b)
}

fn layer<P: OptionPolicy>(protocol: u16, policy: P) -> ControlProtocol<P> {
    ControlProtocol::new(protocol, policy, CpConfig::default(), &[])
}

fn failure(events: &[LayerEvent]) -> Option<NegotiationFailure> {
    events.iter().find_map(|e| match e {
        LayerEvent::Finished(FinishReason::NegotiationFailed(f)) => Some(f.clone()),
        _ => None,
    })
}

#[derive(Debug)]
struct OnePool(Mutex<Option<Ipv4Addr>>);

impl AddressPool for OnePool {
    fn allocate(&self, _user: &str, _hint: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn release(&self, addr: Ipv4Addr) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(addr);
    }
}

#[test]
fn engine_ccp_rfc3078_mppe128_stateless_both_ends() {
    let keyed = CcpConfig {
        keys_available: true,
        ..CcpConfig::default()
    };
    let mut a = layer(0x80fd, CcpPolicy::new(keyed));
    let mut b = layer(
        0x80fd,
        CcpPolicy::new(CcpConfig {
            allow_weak_mppe_40: true,
            ..keyed
        }),
    );
    let (ev_a, ev_b) = run(&mut a, &mut b);
    assert!(a.is_open() && b.is_open(), "{ev_a:?} {ev_b:?}");
    let want = Some(MppeParams {
        key_length: MppeKeyLength::Bits128,
        stateless: true,
    });
    assert_eq!(a.policy().negotiated().and_then(|n| n.mppe()), want);
    assert_eq!(b.policy().negotiated().and_then(|n| n.mppe()), want);
}

#[test]
fn engine_ccp_rfc3078_required_refused_downs_layer() {
    let mut required = layer(
        0x80fd,
        CcpPolicy::new(CcpConfig {
            keys_available: true,
            ..CcpConfig::default()
        }),
    );
    let mut refuser = layer(
        0x80fd,
        CcpPolicy::new(CcpConfig {
            mppe: MppePolicy::Refused,
            ..CcpConfig::default()
        }),
    );
    let (ev, _) = run(&mut required, &mut refuser);
    assert_eq!(
        failure(&ev),
        Some(NegotiationFailure::RequiredOptionRefused {
            option: 18,
            what: "MPPE encryption"
        }),
        "{ev:?}"
    );
    assert!(!required.is_open());
}

#[test]
fn engine_ipcp_rfc1332_server_and_client() {
    let pool = Arc::new(OnePool(Mutex::new(Some(Ipv4Addr::new(10, 77, 1, 100)))));
    let server = IpcpPolicy::server(
        IpcpServerConfig {
            local: Ipv4Addr::new(10, 77, 1, 1),
            dns: [Some(Ipv4Addr::new(10, 77, 0, 53)), None],
            nbns: [None, None],
        },
        pool.clone(),
        "testuser",
    );
    let client = IpcpPolicy::client(IpcpClientConfig {
        address: None,
        request_dns: true,
        request_nbns: true,
    });
    let mut s = layer(0x8021, server);
    let mut c = layer(0x8021, client);
    let (ev_s, ev_c) = run(&mut s, &mut c);
    assert!(s.is_open() && c.is_open(), "{ev_s:?} {ev_c:?}");
    let got = c.policy().negotiated();
    assert_eq!(got.map(|n| n.local), Some(Ipv4Addr::new(10, 77, 1, 100)));
    assert_eq!(got.and_then(|n| n.peer), Some(Ipv4Addr::new(10, 77, 1, 1)));
    assert_eq!(
        got.map(|n| n.dns),
        Some([Some(Ipv4Addr::new(10, 77, 0, 53)), None])
    );
    drop(s);
    assert!(
        pool.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some(),
        "released"
    );
}

#[test]
fn engine_ipv6cp_rfc5072_colliding_ids_resolved() {
    let mut a = layer(
        0x8057,
        Ipv6cpPolicy::new(
            Ipv6cpConfig {
                interface_id: Some(7),
            },
            {
                let mut n = 100;
                Box::new(move || {
                    n += 1;
                    n
                })
            },
        ),
    );
    let mut b = layer(
        0x8057,
        Ipv6cpPolicy::new(
            Ipv6cpConfig {
                interface_id: Some(7),
            },
            {
                let mut n = 200;
                Box::new(move || {
                    n += 1;
                    n
                })
            },
        ),
    );
    let (ev_a, ev_b) = run(&mut a, &mut b);
    assert!(a.is_open() && b.is_open(), "{ev_a:?} {ev_b:?}");
    let (na, nb) = (a.policy().negotiated(), b.policy().negotiated());
    assert_eq!(na.and_then(|n| n.peer), nb.map(|n| n.local));
    assert_eq!(nb.and_then(|n| n.peer), na.map(|n| n.local));
    assert_ne!(na.map(|n| n.local), nb.map(|n| n.local));
}
