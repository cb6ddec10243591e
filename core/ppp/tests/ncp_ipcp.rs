//! IPCP policy (RFC 1332, RFC 1877) against itself, against pppd's captured requests, and
//! against every Nak/Reject rule.

mod ncp_common;

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};

use dialgate_ppp::ncp::{AddressPool, IpcpClientConfig, IpcpPolicy, IpcpServerConfig};
use dialgate_ppp::options::{NegotiationFailure, OptionPolicy, RequestVerdict};
use ncp_common::{converge, hostile, judge, request, unhex};

/// A pool over a fixed list; records every call.
#[derive(Debug, Default)]
struct TestPool {
    free: Mutex<Vec<Ipv4Addr>>,
    /// Per-user static addresses, honoured before the free list.
    statics: Vec<(String, Ipv4Addr)>,
    /// Honour the peer's hint when it is in the free list.
    honour_hint: bool,
    calls: Mutex<Vec<(String, Option<Ipv4Addr>)>>,
    released: Mutex<Vec<Ipv4Addr>>,
}

impl TestPool {
    fn with(addrs: &[Ipv4Addr]) -> Arc<Self> {
        Arc::new(Self {
            free: Mutex::new(addrs.iter().rev().copied().collect()),
            ..Self::default()
        })
    }

    fn calls(&self) -> Vec<(String, Option<Ipv4Addr>)> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn released(&self) -> Vec<Ipv4Addr> {
        self.released
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl AddressPool for TestPool {
    fn allocate(&self, user: &str, hint: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((user.to_owned(), hint));
        if let Some((_, addr)) = self.statics.iter().find(|(u, _)| u == user) {
            return Some(*addr);
        }
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if self.honour_hint
            && let Some(h) = hint
            && let Some(i) = free.iter().position(|a| *a == h)
        {
            return Some(free.remove(i));
        }
        free.pop()
    }

    fn release(&self, addr: Ipv4Addr) {
        self.released
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(addr);
    }
}

const LOCAL: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 100);
const DNS1: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 53);
const DNS2: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 54);
const WINS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 137);

fn server_config() -> IpcpServerConfig {
    IpcpServerConfig {
        local: LOCAL,
        dns: [Some(DNS1), Some(DNS2)],
        nbns: [Some(WINS), None],
    }
}

fn server(pool: &Arc<TestPool>) -> IpcpPolicy {
    IpcpPolicy::server(server_config(), pool.clone(), "testuser")
}

fn opt(kind: u8, addr: Ipv4Addr) -> Vec<u8> {
    let mut v = vec![kind, 6];
    v.extend_from_slice(&addr.octets());
    v
}

#[test]
fn ipcp_rfc1332_3_3_server_against_client_converges() {
    let pool = TestPool::with(&[PEER]);
    let mut srv = server(&pool);
    let mut cli = IpcpPolicy::client(IpcpClientConfig::default());
    let (rounds, log) = converge(&mut srv, &mut cli, 4).unwrap();
    assert!(rounds <= 2, "{log:#?}");
    let s = srv.negotiated().unwrap();
    let c = cli.negotiated().unwrap();
    assert_eq!((s.local, s.peer), (LOCAL, Some(PEER)));
    assert_eq!((c.local, c.peer), (PEER, Some(LOCAL)));
    assert_eq!(pool.calls(), vec![("testuser".to_owned(), None)]);
}

#[test]
fn ipcp_rfc1332_3_3_replays_pppd_capture() {
    // pptpd-vs-pptp-linux-mschapv2-mppe128.pcap, frames 28-40: the client (pppd) requests
    // 0.0.0.0, the server (pppd) requests 10.77.1.1 and naks the client to 10.77.1.100.
    let pool = TestPool::with(&[PEER]);
    let mut srv = server(&pool);
    assert_eq!(
        request(&mut srv),
        unhex("03060a4d0101"),
        "server request, frame 30"
    );
    let (v, nak, rej) = judge(&mut srv, &unhex("030600000000"), false).unwrap();
    assert_eq!(
        (v, nak, rej),
        (RequestVerdict::Nak, unhex("03060a4d0164"), vec![]),
        "frame 34"
    );
    let (v, _, _) = judge(&mut srv, &unhex("03060a4d0164"), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack, "frame 40");

    let mut cli = IpcpPolicy::client(IpcpClientConfig::default());
    assert_eq!(
        request(&mut cli),
        unhex("030600000000"),
        "client request, frame 28"
    );
    let (v, _, _) = judge(&mut cli, &unhex("03060a4d0101"), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack, "frame 31");
    cli.on_nak(&unhex("03060a4d0164")).unwrap();
    assert_eq!(request(&mut cli), unhex("03060a4d0164"), "frame 35");
    cli.on_ack(&unhex("03060a4d0164")).unwrap();
    assert_eq!(cli.negotiated().unwrap().local, PEER);
}

#[test]
fn ipcp_rfc1332_3_3_address_not_granted_is_naked_with_granted() {
    let pool = TestPool::with(&[PEER]);
    let mut srv = server(&pool);
    let asked = Ipv4Addr::new(192, 168, 9, 9);
    let (v, nak, _) = judge(&mut srv, &opt(3, asked), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, opt(3, PEER)));
    // The peer's wish was passed to the pool as a hint, with the authenticated user.
    assert_eq!(pool.calls(), vec![("testuser".to_owned(), Some(asked))]);
    // A second request with yet another address still gets the same grant, no new call.
    let (v, nak, _) = judge(&mut srv, &opt(3, Ipv4Addr::new(1, 2, 3, 4)), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, opt(3, PEER)));
    assert_eq!(pool.calls().len(), 1);
}

#[test]
fn ipcp_rfc1332_3_3_pool_honours_hint_and_static_user() {
    let wanted = Ipv4Addr::new(10, 77, 1, 150);
    let pool = Arc::new(TestPool {
        free: Mutex::new(vec![PEER, wanted]),
        honour_hint: true,
        ..TestPool::default()
    });
    let mut srv = server(&pool);
    let (v, _, _) = judge(&mut srv, &opt(3, wanted), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);

    let fixed = Ipv4Addr::new(10, 77, 2, 2);
    let pool = Arc::new(TestPool {
        statics: vec![("alice".to_owned(), fixed)],
        ..TestPool::default()
    });
    let mut srv = IpcpPolicy::server(server_config(), pool.clone(), "alice");
    let (v, nak, _) = judge(&mut srv, &opt(3, Ipv4Addr::UNSPECIFIED), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, opt(3, fixed)));
}

#[test]
fn ipcp_rfc1332_3_3_pool_exhausted_refuses_link() {
    let pool = TestPool::with(&[]);
    let mut srv = server(&pool);
    let err = judge(&mut srv, &opt(3, Ipv4Addr::UNSPECIFIED), false).unwrap_err();
    match err {
        NegotiationFailure::RequiredOptionRefused { option, what } => {
            assert_eq!(option, 3);
            assert!(what.contains("pool"), "{what}");
        }
        other => panic!("{other:?}"),
    }
    // Also when the peer does not ask for an address at all.
    let err = judge(&mut srv, &[], false).unwrap_err();
    assert!(matches!(
        err,
        NegotiationFailure::RequiredOptionRefused { option: 3, .. }
    ));
}

#[test]
fn ipcp_rfc1332_3_3_grant_released_on_drop_kept_across_reset() {
    let pool = TestPool::with(&[PEER, Ipv4Addr::new(10, 77, 1, 101)]);
    let mut srv = server(&pool);
    judge(&mut srv, &opt(3, Ipv4Addr::UNSPECIFIED), false).unwrap();
    srv.reset();
    let (_, nak, _) = judge(&mut srv, &opt(3, Ipv4Addr::UNSPECIFIED), false).unwrap();
    assert_eq!(nak, opt(3, PEER), "the same address after a restart");
    assert_eq!(pool.calls().len(), 1);
    assert!(pool.released().is_empty());
    drop(srv);
    assert_eq!(pool.released(), vec![PEER]);
}

#[test]
fn ipcp_rfc1661_5_3_missing_address_prompted_once() {
    let pool = TestPool::with(&[PEER]);
    let mut srv = server(&pool);
    let (v, nak, _) = judge(&mut srv, &[], false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, opt(3, PEER)));
    let (v, _, _) = judge(&mut srv, &[], false).unwrap();
    assert_eq!(
        v,
        RequestVerdict::Ack,
        "RFC 1661 §5.3: prompt, do not insist"
    );
}

#[test]
fn ipcp_rfc1877_1_dns_and_nbns_naked_with_configured_servers() {
    let pool = TestPool::with(&[PEER]);
    let mut srv = server(&pool);
    let mut asked = opt(3, PEER);
    for kind in [129, 131, 130] {
        asked.extend(opt(kind, Ipv4Addr::UNSPECIFIED));
    }
    let (v, nak, rej) = judge(&mut srv, &asked, false).unwrap();
    let mut want = opt(129, DNS1);
    want.extend(opt(131, DNS2));
    want.extend(opt(130, WINS));
    assert_eq!((v, nak, rej), (RequestVerdict::Nak, want, vec![]));
    // A wrong non-zero server is corrected too; the right one is acked.
    let (v, nak, _) = judge(&mut srv, &[opt(3, PEER), opt(129, WINS)].concat(), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, opt(129, DNS1)));
    let (v, _, _) = judge(&mut srv, &[opt(3, PEER), opt(129, DNS1)].concat(), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
}

#[test]
fn ipcp_rfc1877_1_4_unconfigured_server_rejected() {
    // Only a primary NBNS is configured: secondary NBNS (132) is rejected.
    let pool = TestPool::with(&[PEER]);
    let mut srv = server(&pool);
    let asked = [
        opt(3, PEER),
        opt(130, Ipv4Addr::UNSPECIFIED),
        opt(132, Ipv4Addr::UNSPECIFIED),
    ];
    let (v, _, rej) = judge(&mut srv, &asked.concat(), false).unwrap();
    assert_eq!(
        (v, rej),
        (RequestVerdict::Reject, opt(132, Ipv4Addr::UNSPECIFIED))
    );
}

#[test]
fn ipcp_rfc1877_client_learns_servers_and_drops_rejected_ones() {
    let pool = TestPool::with(&[PEER]);
    let mut srv = server(&pool);
    let mut cli = IpcpPolicy::client(IpcpClientConfig {
        address: None,
        request_dns: true,
        request_nbns: true,
    });
    let (_, log) = converge(&mut srv, &mut cli, 6).unwrap();
    let got = cli.negotiated().unwrap();
    assert_eq!(got.dns, [Some(DNS1), Some(DNS2)], "{log:#?}");
    assert_eq!(
        got.nbns,
        [Some(WINS), None],
        "secondary NBNS rejected and dropped"
    );
    assert_eq!(got.local, PEER);
    assert_eq!(srv.negotiated().unwrap().dns, [Some(DNS1), Some(DNS2)]);
    assert!(!request(&mut cli).windows(2).any(|w| w == [132, 6]));
}

#[test]
fn ipcp_rfc1877_server_without_dns_rejects_client_drops() {
    let pool = TestPool::with(&[PEER]);
    let mut srv = IpcpPolicy::server(
        IpcpServerConfig {
            local: LOCAL,
            dns: [None, None],
            nbns: [None, None],
        },
        pool,
        "testuser",
    );
    let mut cli = IpcpPolicy::client(IpcpClientConfig {
        address: None,
        request_dns: true,
        request_nbns: false,
    });
    converge(&mut srv, &mut cli, 6).unwrap();
    assert_eq!(cli.negotiated().unwrap().dns, [None, None]);
}

#[test]
fn ipcp_rfc1332_3_2_vj_compression_and_3_1_ip_addresses_rejected() {
    let pool = TestPool::with(&[PEER]);
    let mut srv = server(&pool);
    let vj = unhex("0206002d0f01");
    let addresses = unhex("010a0a4d01640a4d0101");
    let unknown = unhex("0404aabb");
    let list = [opt(3, PEER), vj.clone(), addresses.clone(), unknown.clone()].concat();
    let (v, nak, rej) = judge(&mut srv, &list, false).unwrap();
    assert_eq!(v, RequestVerdict::Reject);
    assert_eq!(nak, vec![]);
    assert_eq!(rej, [vj, addresses, unknown].concat());
    // Same rules in the client role.
    let mut cli = IpcpPolicy::client(IpcpClientConfig::default());
    let (v, _, rej) = judge(&mut cli, &unhex("0206002d0f01"), false).unwrap();
    assert_eq!((v, rej), (RequestVerdict::Reject, unhex("0206002d0f01")));
}

#[test]
fn ipcp_rfc1332_3_3_bad_option_length_rejected() {
    let pool = TestPool::with(&[PEER]);
    let mut srv = server(&pool);
    let short = unhex("03040a4d");
    let (v, _, rej) = judge(&mut srv, &short, false).unwrap();
    assert_eq!((v, rej), (RequestVerdict::Reject, short));
}

#[test]
fn ipcp_rfc1661_4_6_max_failure_rejects_instead_of_nak() {
    let pool = TestPool::with(&[PEER]);
    let mut srv = server(&pool);
    let list = [
        opt(3, Ipv4Addr::UNSPECIFIED),
        opt(129, Ipv4Addr::UNSPECIFIED),
    ]
    .concat();
    let (v, nak, rej) = judge(&mut srv, &list, true).unwrap();
    assert_eq!((v, nak, rej), (RequestVerdict::Reject, vec![], list));
}

#[test]
fn ipcp_rfc1332_client_rejects_servers_zero_address() {
    let mut cli = IpcpPolicy::client(IpcpClientConfig::default());
    let (v, _, rej) = judge(&mut cli, &opt(3, Ipv4Addr::UNSPECIFIED), false).unwrap();
    assert_eq!(
        (v, rej),
        (RequestVerdict::Reject, opt(3, Ipv4Addr::UNSPECIFIED))
    );
    // And DNS requests to a client (it has none to give).
    let (v, _, _) = judge(&mut cli, &opt(129, Ipv4Addr::UNSPECIFIED), false).unwrap();
    assert_eq!(v, RequestVerdict::Reject);
}

#[test]
fn ipcp_rfc1332_3_3_client_address_rejected_fails_unless_static() {
    let mut cli = IpcpPolicy::client(IpcpClientConfig::default());
    let req = request(&mut cli);
    assert_eq!(
        cli.on_reject(&req),
        Err(NegotiationFailure::RequiredOptionRefused {
            option: 3,
            what: "IP address assignment"
        })
    );
    let fixed = Ipv4Addr::new(192, 0, 2, 7);
    let mut cli = IpcpPolicy::client(IpcpClientConfig {
        address: Some(fixed),
        ..IpcpClientConfig::default()
    });
    let req = request(&mut cli);
    assert_eq!(req, opt(3, fixed));
    cli.on_reject(&req).unwrap();
    assert_eq!(request(&mut cli), Vec::<u8>::new());
    cli.on_ack(&[]).unwrap();
    judge(&mut cli, &opt(3, LOCAL), false).unwrap();
    assert_eq!(cli.negotiated().unwrap().local, fixed);
}

#[test]
fn ipcp_rfc1661_5_2_ack_must_match_request_5_4_reject_subset() {
    let mut cli = IpcpPolicy::client(IpcpClientConfig::default());
    request(&mut cli);
    assert_eq!(
        cli.on_ack(&opt(3, PEER)),
        Err(NegotiationFailure::Malformed)
    );
    assert_eq!(
        cli.on_reject(&opt(129, PEER)),
        Err(NegotiationFailure::Malformed)
    );
    // An acked 0.0.0.0 leaves the client without an address: refused as bogus.
    assert_eq!(
        cli.on_ack(&opt(3, Ipv4Addr::UNSPECIFIED)),
        Err(NegotiationFailure::Malformed)
    );
    assert!(cli.negotiated().is_none());
}

#[test]
fn ipcp_rfc1661_5_server_keeps_own_address_on_nak() {
    let pool = TestPool::with(&[PEER]);
    let mut srv = server(&pool);
    request(&mut srv);
    srv.on_nak(&opt(3, Ipv4Addr::new(8, 8, 8, 8))).unwrap();
    assert_eq!(request(&mut srv), opt(3, LOCAL));
}

#[test]
fn ipcp_rfc1661_5_hostile_lists_never_panic() {
    let pool = TestPool::with(&[PEER]);
    let seeds = vec![
        opt(3, PEER),
        [
            opt(3, Ipv4Addr::UNSPECIFIED),
            opt(129, PEER),
            unhex("0206002d0f01"),
        ]
        .concat(),
        unhex("0300"),
        unhex("03ff0a4d"),
        unhex("8106"),
        vec![],
    ];
    hostile(&mut server(&pool), &seeds, 3000);
    hostile(
        &mut IpcpPolicy::client(IpcpClientConfig {
            address: None,
            request_dns: true,
            request_nbns: true,
        }),
        &seeds,
        3000,
    );
    for bad in ["0301", "0307000000", "03", "0306000000000100"] {
        assert_eq!(
            judge(&mut server(&pool), &unhex(bad), false),
            Err(NegotiationFailure::Malformed),
            "{bad}"
        );
    }
}
