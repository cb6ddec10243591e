//! IPXCP policy (RFC 1552 §3) against itself and against each option rule.

mod ncp_common;

use dialgate_ppp::ncp::{IpxRoutingProtocol, IpxcpConfig, IpxcpPolicy};
use dialgate_ppp::options::{NegotiationFailure, OptionPolicy, RequestVerdict};
use ncp_common::{converge, hostile, judge, request, unhex};

const NODE_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const NODE_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const ASSIGNED: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];

fn config(network: u32, local: [u8; 6]) -> IpxcpConfig {
    IpxcpConfig {
        network,
        local_node: local,
        peer_node: ASSIGNED,
        assign_peer_node: false,
        routing_protocol: None,
        allow_nlsp: false,
        router_name: None,
    }
}

fn network(n: u32) -> Vec<u8> {
    [vec![1, 6], n.to_be_bytes().to_vec()].concat()
}

fn node(n: [u8; 6]) -> Vec<u8> {
    [vec![2, 8], n.to_vec()].concat()
}

fn routing(p: u16) -> Vec<u8> {
    [vec![4, 4], p.to_be_bytes().to_vec()].concat()
}

#[test]
fn ipxcp_rfc1552_3_1_higher_network_number_wins() {
    let mut a = IpxcpPolicy::new(config(0x100, NODE_A));
    let mut b = IpxcpPolicy::new(config(0x200, NODE_B));
    let (_, log) = converge(&mut a, &mut b, 4).unwrap();
    let (na, nb) = (a.negotiated().unwrap(), b.negotiated().unwrap());
    assert_eq!((na.network, nb.network), (0x200, 0x200), "{log:#?}");
    assert_eq!(na.peer_node, Some(NODE_B));
    assert_eq!(nb.peer_node, Some(NODE_A));
    assert_eq!((na.local_node, nb.local_node), (NODE_A, NODE_B));
}

#[test]
fn ipxcp_rfc1552_3_1_zero_lets_the_other_end_pick() {
    let mut client = IpxcpPolicy::new(config(0, NODE_A));
    let mut server = IpxcpPolicy::new(config(0xcafe, NODE_B));
    converge(&mut client, &mut server, 4).unwrap();
    assert_eq!(client.negotiated().unwrap().network, 0xcafe);
    assert_eq!(server.negotiated().unwrap().network, 0xcafe);
    // Both zero: acked, network left to be learned by other means.
    let mut a = IpxcpPolicy::new(config(0, NODE_A));
    let mut b = IpxcpPolicy::new(config(0, NODE_B));
    converge(&mut a, &mut b, 4).unwrap();
    assert_eq!(a.negotiated().unwrap().network, 0);
}

#[test]
fn ipxcp_rfc1552_3_1_lower_or_zero_naked_higher_acked() {
    let mut p = IpxcpPolicy::new(config(0x200, NODE_A));
    for lower in [0, 0x1ff] {
        let (v, nak, _) = judge(&mut p, &network(lower), false).unwrap();
        assert_eq!(
            (v, nak),
            (RequestVerdict::Nak, network(0x200)),
            "{lower:#x}"
        );
    }
    let (v, _, _) = judge(&mut p, &network(0x300), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
    assert_eq!(
        request(&mut p),
        [network(0x300), node(NODE_A)].concat(),
        "adopted"
    );
    // A Nak with a lower number is not followed; a higher one is.
    p.on_nak(&network(0x10)).unwrap();
    assert_eq!(request(&mut p)[..6], network(0x300));
    p.on_nak(&network(0x400)).unwrap();
    assert_eq!(request(&mut p)[..6], network(0x400));
}

#[test]
fn ipxcp_rfc1552_3_2_node_zero_or_colliding_naked() {
    let mut p = IpxcpPolicy::new(config(0, NODE_A));
    for bad in [[0; 6], NODE_A] {
        let (v, nak, _) = judge(&mut p, &node(bad), false).unwrap();
        assert_eq!((v, nak), (RequestVerdict::Nak, node(ASSIGNED)));
    }
    let (v, _, _) = judge(&mut p, &node(NODE_B), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack, "the peer's own node is accepted");
    // Assigning mode: any node but the assigned one is Nak'd.
    let mut p = IpxcpPolicy::new(IpxcpConfig {
        assign_peer_node: true,
        ..config(0, NODE_A)
    });
    let (v, nak, _) = judge(&mut p, &node(NODE_B), false).unwrap();
    assert_eq!((v, nak), (RequestVerdict::Nak, node(ASSIGNED)));
    let (v, _, _) = judge(&mut p, &node(ASSIGNED), false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
    // Our node follows the peer's Nak.
    request(&mut p);
    p.on_nak(&node(NODE_B)).unwrap();
    assert_eq!(request(&mut p), [network(0), node(NODE_B)].concat());
}

#[test]
fn ipxcp_rfc1552_3_4_routing_protocols() {
    let mut p = IpxcpPolicy::new(config(0, NODE_A));
    let list = [routing(0), routing(2), routing(2)].concat();
    let (v, _, _) = judge(&mut p, &list, false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
    for bad in [4, 3, 0xffff] {
        let (v, _, rej) = judge(&mut p, &routing(bad), false).unwrap();
        assert_eq!((v, rej), (RequestVerdict::Reject, routing(bad)), "{bad}");
    }
    let mut nlsp = IpxcpPolicy::new(IpxcpConfig {
        allow_nlsp: true,
        routing_protocol: Some(IpxRoutingProtocol::RipSap),
        ..config(0, NODE_A)
    });
    let mut peer = IpxcpPolicy::new(IpxcpConfig {
        allow_nlsp: true,
        routing_protocol: Some(IpxRoutingProtocol::Nlsp),
        ..config(0, NODE_B)
    });
    converge(&mut nlsp, &mut peer, 4).unwrap();
    assert_eq!(
        nlsp.negotiated().unwrap().peer_routing,
        vec![IpxRoutingProtocol::Nlsp]
    );
    assert_eq!(
        peer.negotiated().unwrap().peer_routing,
        vec![IpxRoutingProtocol::RipSap]
    );
    // NLSP towards a policy without the opt-in: rejected, then dropped from the request.
    let mut plain = IpxcpPolicy::new(config(0, NODE_A));
    let mut peer = IpxcpPolicy::new(IpxcpConfig {
        allow_nlsp: true,
        routing_protocol: Some(IpxRoutingProtocol::Nlsp),
        ..config(0, NODE_B)
    });
    converge(&mut plain, &mut peer, 4).unwrap();
    assert_eq!(plain.negotiated().unwrap().peer_routing, vec![]);
}

#[test]
fn ipxcp_rfc1552_3_5_3_6_router_name_and_configuration_complete_recorded() {
    let mut p = IpxcpPolicy::new(config(0, NODE_A));
    let list = [node(NODE_B), unhex("0508 7273 7276 31 00"), unhex("0602")].concat();
    let (v, _, _) = judge(&mut p, &list, false).unwrap();
    assert_eq!(v, RequestVerdict::Ack);
    let req = request(&mut p);
    p.on_ack(&req).unwrap();
    let got = p.negotiated().unwrap();
    assert_eq!(got.peer_router_name.as_deref(), Some(&b"rsrv1\0"[..]));
    assert!(got.peer_configuration_complete);
    // Our own router name is sent when configured.
    let mut named = IpxcpPolicy::new(IpxcpConfig {
        router_name: Some(b"dialgate".to_vec()),
        ..config(7, NODE_A)
    });
    assert_eq!(
        request(&mut named),
        [
            network(7),
            node(NODE_A),
            unhex("050a"),
            b"dialgate".to_vec()
        ]
        .concat()
    );
}

#[test]
fn ipxcp_rfc1552_3_3_compression_rejected() {
    let mut p = IpxcpPolicy::new(config(0, NODE_A));
    let telebit = unhex("0308 0002 01 02 03 04");
    let (v, _, rej) = judge(&mut p, &[telebit.clone(), unhex("0702")].concat(), false).unwrap();
    assert_eq!(
        (v, rej),
        (RequestVerdict::Reject, [telebit, unhex("0702")].concat())
    );
    // Malformed known options are rejected, not misread.
    let bad = [unhex("0105 000000"), unhex("0603 00")].concat();
    let (v, _, rej) = judge(&mut p, &bad, false).unwrap();
    assert_eq!((v, rej), (RequestVerdict::Reject, bad));
}

#[test]
fn ipxcp_rfc1661_4_6_max_failure_rejects_instead_of_nak() {
    let mut p = IpxcpPolicy::new(config(0x200, NODE_A));
    let list = [network(0), node([0; 6])].concat();
    let (v, nak, rej) = judge(&mut p, &list, true).unwrap();
    assert_eq!((v, nak, rej), (RequestVerdict::Reject, vec![], list));
}

#[test]
fn ipxcp_rfc1661_5_4_reject_drops_options_and_checks_subset() {
    let mut p = IpxcpPolicy::new(IpxcpConfig {
        routing_protocol: Some(IpxRoutingProtocol::RipSap),
        ..config(5, NODE_A)
    });
    let req = request(&mut p);
    assert_eq!(
        p.on_reject(&unhex("0602")),
        Err(NegotiationFailure::Malformed)
    );
    p.on_reject(&req).unwrap();
    assert_eq!(request(&mut p), Vec::<u8>::new());
    assert_eq!(p.on_ack(&req), Err(NegotiationFailure::Malformed));
}

#[test]
fn ipxcp_rfc1661_5_hostile_lists_never_panic() {
    let seeds = vec![
        [
            network(0),
            node([0; 6]),
            routing(2),
            unhex("0503 41"),
            unhex("0602"),
        ]
        .concat(),
        unhex("0308 0002 01 02 03 04"),
        unhex("0100"),
        unhex("02ff"),
    ];
    hostile(&mut IpxcpPolicy::new(config(9, NODE_A)), &seeds, 3000);
}
