//! Whole links: LCP, authentication, CCP/MPPE and IPCP between two engines, then data.

mod common;

use std::time::Duration;

use common::{Link, Side, client, server};
use dialgate_ppp::auth::{AuthFailure, Method};
use dialgate_ppp::ncp::{MppeKeyLength, MppeParams};
use dialgate_ppp::{Config, DownReason, Event, NetworkParams, Phase, Protocol};
use dialgate_wire::chap;
use dialgate_wire::ppp::Header;

const SECOND: Duration = Duration::from_secs(1);

fn up(link: &mut Link) -> bool {
    link.open_both();
    link.run_until(60 * SECOND, |l| {
        l.network_up(Side::A, Protocol::IPCP) && l.network_up(Side::B, Protocol::IPCP)
    })
}

#[test]
fn rfc2759_rfc3078_mschapv2_mppe128_stateless_ipcp_then_data() {
    let mut link = Link::new(server(1), client(2, "alice", "correct horse"));
    assert!(up(&mut link), "{:#?}", link.events);
    assert_eq!(link.elapsed(), Duration::ZERO, "no retransmission needed");
    assert!(link.saw(Side::A, |e| *e
        == Event::Authenticated {
            user: "alice".into()
        }));
    let want = MppeParams {
        key_length: MppeKeyLength::Bits128,
        stateless: true,
    };
    assert_eq!(link.a.mppe(), Some(want));
    assert_eq!(link.b.mppe(), Some(want));
    let ipcp = link.events_of(Side::B).into_iter().find_map(|e| match e {
        Event::NetworkUp {
            params: NetworkParams::Ipcp(p),
            ..
        } => Some(p),
        _ => None,
    });
    let ipcp = ipcp.expect("client IPCP params");
    assert_eq!(ipcp.local, std::net::Ipv4Addr::new(10, 0, 0, 100));
    assert_eq!(ipcp.dns[0], Some(std::net::Ipv4Addr::new(10, 0, 0, 53)));
    for side in [Side::A, Side::B] {
        assert_eq!(link.engine(side).phase(), Phase::Network);
    }

    // Data both ways, encrypted on the wire.
    let ping = b"\x45\x00\x00\x54 an IPv4 datagram, or close enough";
    assert_eq!(
        link.send(Side::B, Protocol::IPV4, ping),
        Some(ping.to_vec())
    );
    assert_eq!(
        link.send(Side::A, Protocol::IPV4, ping),
        Some(ping.to_vec())
    );
    let (_, frame) = link.trace.last().expect("a frame");
    assert_eq!(frame[0], 0xfd, "ACFC+PFC: one-octet protocol 0x00fd (MPPE)");
    assert!(
        !frame.windows(8).any(|w| w == &ping[8..16]),
        "plaintext must not appear on the wire"
    );
    assert_eq!(link.a.counters().rx_datagrams, 1);
    assert_eq!(link.b.counters().tx_datagrams, 1);
}

#[test]
fn unencrypted_data_is_dropped_while_mppe_is_on() {
    let mut link = Link::new(server(1), client(2, "alice", "correct horse"));
    assert!(up(&mut link));
    let clear = [0x21, 0x45, 0, 0, 20];
    assert_eq!(link.inject(Side::A, &clear), None);
    assert_eq!(link.a.counters().drop_unencrypted, 1);
}

/// The MS-CHAP Failure packets `side` put on the wire: (E=, R=) of each, and its index in the
/// trace.
fn chap_failures(link: &Link, side: Side) -> Vec<(usize, Option<u32>, Option<bool>)> {
    link.trace
        .iter()
        .enumerate()
        .filter(|(_, (s, _))| *s == side)
        .filter_map(|(i, (_, frame))| {
            let (header, packet) = Header::parse(frame).ok()?;
            if header.protocol != Protocol::CHAP {
                return None;
            }
            match chap::Repr::parse(packet).ok()?.body {
                chap::Body::Failure { message } => {
                    let f = chap::mschap::Failure::parse(message).expect("well-formed Failure");
                    Some((i, f.error, f.retry))
                }
                _ => None,
            }
        })
        .collect()
}

/// Index in the trace of the first LCP Terminate-Request `side` sent.
fn first_terminate_request(link: &Link, side: Side) -> Option<usize> {
    link.trace.iter().position(|(s, frame)| {
        *s == side
            && Header::parse(frame)
                .is_ok_and(|(h, p)| h.protocol == Protocol::LCP && p.first() == Some(&5))
    })
}

fn wrong_password(method: Method, retries: Option<u32>) -> Link {
    let weak = |c: Config| Config {
        auth_methods: Some(vec![method]),
        allow_weak_mschap_v1: true,
        ..c
    };
    let mut a = weak(server(1));
    if let (Some(n), Some(role)) = (retries, a.authenticator.as_mut()) {
        role.settings.mschap_retries = n;
    }
    let mut link = Link::new(a, weak(client(2, "alice", "wrong")));
    link.open_both();
    assert!(
        link.run_until(600 * SECOND, |l| l.down_reason(Side::A).is_some()
            && l.down_reason(Side::B).is_some())
    );
    link
}

fn assert_auth_failed_both_sides(link: &Link) {
    assert!(
        matches!(
            link.down_reason(Side::A),
            Some(DownReason::AuthFailed(AuthFailure::WrongCredentials {
                code: 691,
                ..
            }))
        ),
        "{:?}",
        link.down_reason(Side::A)
    );
    // The peer saw the final Failure before the Terminate-Request, so it knows why.
    assert!(
        matches!(
            link.down_reason(Side::B),
            Some(DownReason::AuthFailed(AuthFailure::Refused {
                code: 691,
                ..
            }))
        ),
        "{:?}",
        link.down_reason(Side::B)
    );
    assert!(!link.network_up(Side::A, Protocol::IPCP));
    assert_eq!(link.a.counters().tx_datagrams, 0);
}

#[test]
fn rfc2759_6_wrong_password_fails_e691_r1_r1_r0_then_auth_failed() {
    for method in [Method::MsChapV2, Method::MsChapV1] {
        let link = wrong_password(method, None);
        let failures = chap_failures(&link, Side::A);
        let codes: Vec<_> = failures.iter().map(|f| (f.1, f.2)).collect();
        assert_eq!(
            codes,
            [
                (Some(691), Some(true)),
                (Some(691), Some(true)),
                (Some(691), Some(false)),
            ],
            "{method:?}: two retries (the default), then final"
        );
        let last = failures.last().map(|f| f.0);
        assert!(last < first_terminate_request(&link, Side::A), "{method:?}");
        assert_auth_failed_both_sides(&link);
    }
}

#[test]
fn rfc2759_6_wrong_password_retries_follow_the_configuration() {
    for (retries, want) in [(0, vec![Some(false)]), (1, vec![Some(true), Some(false)])] {
        let link = wrong_password(Method::MsChapV2, Some(retries));
        let got: Vec<_> = chap_failures(&link, Side::A)
            .iter()
            .map(|f| {
                assert_eq!(f.1, Some(691));
                f.2
            })
            .collect();
        assert_eq!(got, want, "{retries} retries");
        assert_auth_failed_both_sides(&link);
    }
}

#[test]
fn authenticator_without_random_source_fails_closed() {
    let mut a = server(1);
    a.random = None;
    let mut link = Link::new(a, client(2, "alice", "correct horse"));
    link.open_both();
    assert!(link.run_until(60 * SECOND, |l| l.down_reason(Side::A).is_some()));
    assert!(matches!(
        link.down_reason(Side::A),
        Some(DownReason::AuthFailed(AuthFailure::LocalConfig(_)))
    ));
    assert!(!link.saw(Side::A, |e| matches!(
        e,
        Event::PhaseChanged {
            to: Phase::Network,
            ..
        }
    )));
}

fn pap_only(c: Config) -> Config {
    Config {
        allow_weak_pap_cleartext: true,
        auth_methods: Some(vec![Method::Pap]),
        ..c
    }
}

#[test]
fn pap_gives_no_mppe_keys_so_required_encryption_is_refused() {
    let mut link = Link::new(
        pap_only(server(1)),
        pap_only(client(2, "alice", "correct horse")),
    );
    link.open_both();
    assert!(link.run_until(60 * SECOND, |l| l.down_reason(Side::A).is_some()));
    assert!(link.saw(Side::A, |e| *e
        == Event::Authenticated {
            user: "alice".into()
        }));
    assert_eq!(
        link.down_reason(Side::A),
        Some(DownReason::EncryptionRequiredRefused)
    );
    assert!(!link.network_up(Side::A, Protocol::IPCP));
}

#[test]
fn no_authentication_gives_no_keys_so_required_encryption_is_refused() {
    let mut a = server(1);
    a.authenticator = None;
    let mut link = Link::new(a, client(2, "alice", "correct horse"));
    link.open_both();
    assert!(link.run_until(60 * SECOND, |l| l.down_reason(Side::A).is_some()));
    assert_eq!(
        link.down_reason(Side::A),
        Some(DownReason::EncryptionRequiredRefused)
    );
}

#[test]
fn peer_that_protocol_rejects_ccp_is_refused_when_encryption_is_required() {
    let mut b = client(2, "alice", "correct horse");
    // A client without network protocols Protocol-Rejects CCP and IPCP.
    b.ipcp = None;
    let mut link = Link::new(server(1), b);
    link.open_both();
    assert!(link.run_until(60 * SECOND, |l| l.down_reason(Side::A).is_some()));
    assert_eq!(
        link.down_reason(Side::A),
        Some(DownReason::EncryptionRequiredRefused)
    );
}

#[test]
fn insecure_no_encryption_with_pap_carries_data_in_the_clear() {
    let insecure = |c: Config| Config {
        allow_insecure_no_encryption: true,
        ..pap_only(c)
    };
    let mut link = Link::new(
        insecure(server(1)),
        insecure(client(2, "alice", "correct horse")),
    );
    assert!(up(&mut link), "{:#?}", link.events);
    assert_eq!(link.a.mppe(), None);
    let ping = b"hello in the clear";
    assert_eq!(
        link.send(Side::B, Protocol::IPV4, ping),
        Some(ping.to_vec())
    );
    let (_, frame) = link.trace.last().expect("a frame");
    assert_eq!(frame[0], 0x21, "ACFC+PFC: one-octet protocol 0x0021 (IPv4)");
}

#[test]
fn optional_encryption_still_uses_mppe_when_mschapv2_gives_keys() {
    let optional = |c: Config| Config {
        allow_insecure_no_encryption: true,
        ..c
    };
    let mut link = Link::new(
        optional(server(1)),
        optional(client(2, "alice", "correct horse")),
    );
    assert!(up(&mut link), "{:#?}", link.events);
    assert!(link.a.mppe().is_some() && link.b.mppe().is_some());
    let ping = b"hello";
    assert_eq!(
        link.send(Side::B, Protocol::IPV4, ping),
        Some(ping.to_vec())
    );
}

#[test]
fn peer_protocol_rejects_ipv6cp_and_ipcp_stays_up() {
    let mut a = server(1);
    a.ipv6cp = Some(dialgate_ppp::ncp::Ipv6cpConfig::default());
    let mut link = Link::new(a, client(2, "alice", "correct horse"));
    assert!(up(&mut link), "{:#?}", link.events);
    assert!(!link.network_up(Side::A, Protocol::IPV6CP));
    assert_eq!(link.b.counters().protocol_rejects_sent, 1);
    link.run_for(60 * SECOND);
    assert_eq!(link.down_reason(Side::A), None);
    assert!(link.network_up(Side::A, Protocol::IPCP));
}

#[test]
fn both_ends_with_ipv6cp_negotiate_interface_ids() {
    let mut a = server(1);
    a.ipv6cp = Some(dialgate_ppp::ncp::Ipv6cpConfig::default());
    let mut b = client(2, "alice", "correct horse");
    b.ipv6cp = Some(dialgate_ppp::ncp::Ipv6cpConfig::default());
    let mut link = Link::new(a, b);
    link.open_both();
    assert!(
        link.run_until(60 * SECOND, |l| l.network_up(Side::A, Protocol::IPV6CP)
            && l.network_up(Side::B, Protocol::IPV6CP))
    );
    let v6 = [0x60, 0, 0, 0, 0, 0, 59, 64];
    assert_eq!(link.send(Side::A, Protocol::IPV6, &v6), Some(v6.to_vec()));
}

#[test]
fn send_datagram_fails_before_network_up() {
    let mut link = Link::new(server(1), client(2, "alice", "correct horse"));
    let mut out = [0u8; 64];
    let now = link.now;
    assert_eq!(
        link.a.send_datagram(now, Protocol::IPV4, b"x", &mut out),
        Err(dialgate_ppp::SendError::NotOpen)
    );
    assert!(up(&mut link));
    assert_eq!(
        link.a.send_datagram(now, Protocol::IPX, b"x", &mut out),
        Err(dialgate_ppp::SendError::NotOpen)
    );
    assert_eq!(
        link.a
            .send_datagram(now, Protocol::IPV4, &[0; 1600], &mut [0; 2000]),
        Err(dialgate_ppp::SendError::TooLarge)
    );
    assert_eq!(
        link.a
            .send_datagram(now, Protocol::IPV4, &[0; 100], &mut out),
        Err(dialgate_ppp::SendError::BufferTooSmall)
    );
}

#[test]
fn strongest_method_wins_when_weaker_ones_are_allowed() {
    let weak = |c: Config| Config {
        allow_weak_mschap_v1: true,
        allow_weak_chap_md5: true,
        allow_weak_pap_cleartext: true,
        ..c
    };
    let mut link = Link::new(weak(server(1)), weak(client(2, "alice", "correct horse")));
    assert!(up(&mut link), "{:#?}", link.events);
    assert_eq!(link.a.lcp().policy().local().auth, Some(Method::MsChapV2));
}

#[test]
fn server_falls_back_to_a_weaker_method_the_client_proposes_if_allowed() {
    let mut a = server(1);
    a.allow_weak_mschap_v1 = true;
    let mut b = client(2, "alice", "correct horse");
    b.allow_weak_mschap_v1 = true;
    b.auth_methods = Some(vec![Method::MsChapV1]);
    let mut link = Link::new(a, b);
    assert!(up(&mut link), "{:#?}", link.events);
    assert_eq!(link.a.lcp().policy().local().auth, Some(Method::MsChapV1));
    assert!(link.a.mppe().is_some(), "MS-CHAPv1 derives MPPE keys too");
}

#[test]
fn server_never_falls_back_to_a_method_it_does_not_allow() {
    let mut b = client(2, "alice", "correct horse");
    b.allow_weak_pap_cleartext = true;
    b.auth_methods = Some(vec![Method::Pap]);
    let mut link = Link::new(server(1), b);
    link.open_both();
    assert!(link.run_until(60 * SECOND, |l| l.down_reason(Side::A).is_some()));
    assert!(matches!(
        link.down_reason(Side::A),
        Some(DownReason::NegotiationFailed {
            protocol: Protocol::LCP,
            ..
        })
    ));
}

#[test]
fn data_counts_as_activity_for_the_idle_timeout() {
    let mut link = Link::new(
        server(1).with_idle_timeout(60 * SECOND),
        client(2, "alice", "correct horse"),
    );
    assert!(up(&mut link));
    for _ in 0..5 {
        link.run_until(link.elapsed() + 50 * SECOND, |_| false);
        assert!(link.send(Side::B, Protocol::IPV4, b"keep me").is_some());
    }
    assert_eq!(link.down_reason(Side::A), None);
    assert!(link.run_until(link.elapsed() + 120 * SECOND, |l| {
        l.down_reason(Side::A).is_some()
    }));
    assert_eq!(link.down_reason(Side::A), Some(DownReason::IdleTimeout));
}

#[test]
fn full_negotiation_converges_despite_loss_duplication_and_reordering() {
    for seed in 0..16u64 {
        let mut link = Link::new(server(seed * 2 + 1), client(seed * 2 + 2, "bob", "hunter2"))
            .with_impairments(
                common::Impairments {
                    loss_ppm: 150_000,
                    duplicate_ppm: 150_000,
                    reorder_ppm: 250_000,
                },
                seed,
            );
        assert!(
            up(&mut link),
            "seed {seed}: {:#?}",
            link.events.iter().rev().take(10).collect::<Vec<_>>()
        );
        assert!(
            link.a.mppe().is_some() && link.b.mppe().is_some(),
            "seed {seed}"
        );
        let ping = b"after a rough start";
        assert_eq!(
            link.send(Side::B, Protocol::IPV4, ping),
            Some(ping.to_vec()),
            "seed {seed}"
        );
    }
}

/// A backend that answers later: it computes the verdict with local users, parks it, and
/// says Pending (as RADIUS would).
#[derive(Debug)]
struct Deferred {
    inner: std::sync::Arc<dialgate_ppp::auth::LocalUsers>,
    parked: std::sync::Mutex<
        Vec<(
            dialgate_ppp::auth::RequestContext,
            dialgate_ppp::auth::Verdict,
        )>,
    >,
}

impl dialgate_ppp::auth::AuthBackend for Deferred {
    fn verify(
        &self,
        ctx: dialgate_ppp::auth::RequestContext,
        req: &dialgate_ppp::auth::AuthRequest<'_>,
    ) -> dialgate_ppp::auth::Verdict {
        let verdict = self.inner.verify(ctx, req);
        self.parked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((ctx, verdict));
        dialgate_ppp::auth::Verdict::Pending
    }
}

#[test]
fn asynchronous_backend_verdict_completes_authentication() {
    let backend = std::sync::Arc::new(Deferred {
        inner: common::users(&[("alice", "correct horse")]),
        parked: std::sync::Mutex::new(Vec::new()),
    });
    let a = server(1).with_authenticator(backend.clone(), "dialgate");
    let mut link = Link::new(a, client(2, "alice", "correct horse"));
    link.open_both();
    link.exchange();
    assert_eq!(link.a.phase(), Phase::Authenticate);
    let (ctx, verdict) = backend
        .parked
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop()
        .expect("the backend was asked");
    link.now += 2 * SECOND;
    let now = link.now;
    link.a.auth_complete(now, ctx, verdict);
    assert!(
        link.run_until(60 * SECOND, |l| l.network_up(Side::A, Protocol::IPCP)
            && l.network_up(Side::B, Protocol::IPCP))
    );
    assert!(link.saw(Side::A, |e| *e
        == Event::Authenticated {
            user: "alice".into()
        }));
}

#[test]
fn rfc1552_rfc2097_ipx_and_nbf_datagrams_cross_the_link() {
    let ipx = dialgate_ppp::ncp::IpxcpConfig {
        network: 0x0000_0042,
        local_node: [2, 0, 0, 0, 0, 1],
        peer_node: [2, 0, 0, 0, 0, 2],
        assign_peer_node: true,
        routing_protocol: None,
        allow_nlsp: false,
        router_name: None,
    };
    let mut a = server(1);
    a.ipxcp = Some(ipx.clone());
    a.nbfcp = Some(dialgate_ppp::ncp::NbfcpConfig::default());
    let mut b = client(2, "alice", "correct horse");
    b.ipxcp = Some(dialgate_ppp::ncp::IpxcpConfig {
        network: 0,
        local_node: [0; 6],
        assign_peer_node: false,
        ..ipx
    });
    b.nbfcp = Some(dialgate_ppp::ncp::NbfcpConfig::default());
    let mut link = Link::new(a, b);
    link.open_both();
    assert!(
        link.run_until(60 * SECOND, |l| [Side::A, Side::B].iter().all(|s| {
            l.network_up(*s, Protocol::IPXCP) && l.network_up(*s, Protocol::NBFCP)
        })),
        "{:#?}",
        link.events
    );
    let ipx_packet = [0xff, 0xff, 0, 30, 0, 4, 1, 2, 3, 4];
    assert_eq!(
        link.send(Side::B, Protocol::IPX, &ipx_packet),
        Some(ipx_packet.to_vec())
    );
    let nbf_frame = [0xf0, 0xf0, 0x03, 0x2c, 0, 0xff, 0xef];
    assert_eq!(
        link.send(Side::A, Protocol::NBF, &nbf_frame),
        Some(nbf_frame.to_vec())
    );
}

#[test]
fn lower_down_in_network_phase_reports_network_down_then_link_down() {
    let mut link = Link::new(server(1), client(2, "alice", "correct horse"));
    assert!(up(&mut link));
    let now = link.now;
    link.a.lower_down(now);
    link.collect_events();
    let tail: Vec<Event> = link
        .events_of(Side::A)
        .into_iter()
        .skip_while(|e| !matches!(e, Event::NetworkDown { .. }))
        .collect();
    assert!(tail.contains(&Event::NetworkDown {
        protocol: Protocol::IPCP
    }));
    assert!(tail.contains(&Event::NetworkDown {
        protocol: Protocol::CCP
    }));
    assert_eq!(
        tail.last(),
        Some(&Event::LinkDown {
            reason: DownReason::LowerDown
        })
    );
    let mut out = [0u8; 64];
    assert!(
        link.a
            .send_datagram(now, Protocol::IPV4, b"x", &mut out)
            .is_err()
    );
}

#[test]
fn handle_frame_never_panics_on_arbitrary_frames_in_the_network_phase() {
    let mut link = Link::new(server(1), client(2, "alice", "correct horse"));
    assert!(up(&mut link));
    let mut rng = dialgate_ppp::rng::Rng::new(7);
    let prefixes: [&[u8]; 9] = [
        &[0xc0, 0x21],
        &[0x80, 0x21],
        &[0x80, 0xfd],
        &[0xfd],
        &[0x00, 0xfd],
        &[0x21],
        &[0xc2, 0x23],
        &[0xc0, 0x23],
        &[0x80, 0x57],
    ];
    for i in 0..30_000u32 {
        let prefix = prefixes[(rng.next_u32() % prefixes.len() as u32) as usize];
        let len = (rng.next_u32() % 48) as usize;
        let mut frame = prefix.to_vec();
        frame.extend((0..len).map(|_| rng.next_u32() as u8));
        if i % 2 == 0 && frame.len() >= prefix.len() + 4 {
            let l = (frame.len() - prefix.len()) as u16;
            frame[prefix.len() + 2..prefix.len() + 4].copy_from_slice(&l.to_be_bytes());
        }
        let side = if i % 3 == 0 { Side::B } else { Side::A };
        link.inject(side, &frame);
        link.exchange();
        if i % 500 == 0 {
            link.run_for(SECOND);
        }
    }
}

#[test]
fn rfc1962_2_1_reset_request_is_answered_with_reset_ack() {
    let mut link = Link::new(server(1), client(2, "alice", "correct horse"));
    assert!(up(&mut link));
    // CCP Reset-Request (code 14), identifier 0x33, no data; ACFC negotiated.
    assert_eq!(link.inject(Side::A, &[0x80, 0xfd, 14, 0x33, 0, 4]), None);
    let mut out = Vec::new();
    assert!(link.a.poll_transmit(&mut out));
    assert_eq!(out, [0x80, 0xfd, 15, 0x33, 0, 4]);
    // The encrypter was reset: the next packet is flushed and still decrypts.
    let ping = b"after reset";
    assert_eq!(
        link.send(Side::A, Protocol::IPV4, ping),
        Some(ping.to_vec())
    );
}

#[test]
fn rfc1661_4_lcp_renegotiation_in_network_phase_reruns_auth_and_ncps() {
    let mut link = Link::new(server(1), client(2, "alice", "correct horse"));
    assert!(up(&mut link));
    let request = link
        .sent(Side::B, Protocol::LCP)
        .into_iter()
        .find(|f| f.get(4) == Some(&1))
        .expect("B's LCP Configure-Request");
    let before = link.events.len();
    link.inject(Side::A, &request);
    assert_eq!(link.a.phase(), Phase::Establish);
    assert!(link.events_of(Side::A).contains(&Event::NetworkDown {
        protocol: Protocol::IPCP
    }));
    assert!(link.run_until(link.elapsed() + 60 * SECOND, |l| {
        l.network_up(Side::A, Protocol::IPCP) && l.network_up(Side::B, Protocol::IPCP)
    }));
    let again = link.events[before..]
        .iter()
        .filter(|(s, e)| *s == Side::A && matches!(e, Event::Authenticated { .. }))
        .count();
    assert_eq!(again, 1, "authentication runs again after LCP renegotiates");
    assert_eq!(link.down_reason(Side::A), None);
    let ping = b"renegotiated";
    assert_eq!(
        link.send(Side::B, Protocol::IPV4, ping),
        Some(ping.to_vec())
    );
}

#[test]
fn rfc3078_2_1_peer_refusing_the_required_strength_is_encryption_required_refused() {
    // A requires MPPE-128; B would do only 40-bit, or nothing (encryption optional on B).
    let mut b = client(2, "alice", "correct horse");
    b.allow_insecure_no_encryption = true;
    b.allow_weak_mppe_40 = true;
    b.mppe_key_lengths = Some(vec![MppeKeyLength::Bits40]);
    let mut link = Link::new(server(1), b);
    link.open_both();
    assert!(
        link.run_until(60 * SECOND, |l| l.down_reason(Side::A).is_some()
            && l.down_reason(Side::B).is_some())
    );
    assert_eq!(
        link.down_reason(Side::A),
        Some(DownReason::EncryptionRequiredRefused),
        "{:#?}",
        link.events
    );
    assert_eq!(link.down_reason(Side::B), Some(DownReason::PeerTerminated));
    assert!(!link.network_up(Side::A, Protocol::IPCP));
    assert_eq!(
        link.a.counters().tx_datagrams + link.b.counters().tx_datagrams,
        0
    );
}

#[test]
fn rfc3078_2_1_prefer_stateful_against_a_stateless_only_peer_falls_back_to_stateless() {
    for (prefer_on_server, allow_on_other) in [(false, false), (true, false), (false, true)] {
        let mut a = server(1);
        let mut b = client(2, "alice", "correct horse");
        let (preferring, other) = if prefer_on_server {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        preferring.prefer_weak_mppe_stateful = true;
        other.allow_mppe_stateful = allow_on_other;
        let mut link = Link::new(a, b);
        assert!(up(&mut link), "{:#?}", link.events);
        let want = Some(MppeParams {
            key_length: MppeKeyLength::Bits128,
            stateless: !allow_on_other,
        });
        assert_eq!(link.a.mppe(), want);
        assert_eq!(link.b.mppe(), want);
        let ping = b"either way";
        assert_eq!(
            link.send(Side::B, Protocol::IPV4, ping),
            Some(ping.to_vec())
        );
    }
}

#[test]
fn rfc1661_5_7_a_network_filter_refuses_an_ncp_which_the_peer_sees_protocol_rejected() {
    let ipx = dialgate_ppp::ncp::IpxcpConfig {
        network: 0x0000_0042,
        local_node: [2, 0, 0, 0, 0, 1],
        peer_node: [2, 0, 0, 0, 0, 2],
        assign_peer_node: true,
        routing_protocol: None,
        allow_nlsp: false,
        router_name: None,
    };
    let mut a = server(1);
    a.ipxcp = Some(ipx.clone());
    // alice may run IP only: her IPXCP is never started here.
    a.network_filter = Some(std::sync::Arc::new(|user: &str, ncp: Protocol| {
        user != "alice" || ncp != Protocol::IPXCP
    }));
    let mut b = client(2, "alice", "correct horse");
    b.ipxcp = Some(dialgate_ppp::ncp::IpxcpConfig {
        network: 0,
        local_node: [0; 6],
        assign_peer_node: false,
        ..ipx
    });
    let mut link = Link::new(a, b);
    assert!(up(&mut link), "{:#?}", link.events);
    link.run_for(10 * SECOND);
    assert!(!link.network_up(Side::A, Protocol::IPXCP));
    assert!(!link.network_up(Side::B, Protocol::IPXCP));
    assert!(link.a.counters().protocol_rejects_sent >= 1);
    assert_eq!(link.down_reason(Side::A), None);
    assert!(link.network_up(Side::A, Protocol::IPCP));
}

#[test]
fn a_network_filter_refusing_every_ncp_closes_the_link() {
    let mut a = server(1);
    a.network_filter = Some(std::sync::Arc::new(|_: &str, _: Protocol| false));
    let mut link = Link::new(a, client(2, "alice", "correct horse"));
    link.open_both();
    link.run_for(30 * SECOND);
    assert!(!link.network_up(Side::A, Protocol::IPCP));
    assert_eq!(link.down_reason(Side::A), Some(DownReason::AdminClose));
}
