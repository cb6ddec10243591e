//! Client addresses from the LAN's own subnet, reachable through proxy ARP / proxy NDP.
//!
//! Two namespaces joined by a veth pair: "lan" (a LAN host) and "router" (routerd's
//! namespace, with the TUN). The client address is routed to the TUN by a host route, the
//! router answers ARP (or Neighbor Solicitations) for it on its LAN side, and traffic goes
//! both ways between the LAN host and the TUN. Needs root; fails without it
//! unless `DIALGATE_SKIP_ROOT_TESTS=1` opts out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::io;
use std::net::UdpSocket;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{NetNs, checksum, ipv4_packet, ipv6_packet, ipv6_pseudo, require_root, wait_readable};
use dialgate_dataplane::{
    AddressTable, HostConfig, HostSetup, Netlink, SessionRoutes, Tun, sysctl,
};

const SESSION: u32 = 7;

/// "lan" and "router" joined by veth `vl` (lan) <-> `vr` (router).
fn topology() -> (NetNs, NetNs) {
    let lan = NetNs::new("lan");
    let router = NetNs::new("router");
    router.ip(&[
        "link",
        "add",
        "vr",
        "type",
        "veth",
        "peer",
        "name",
        "vl",
        "netns",
        lan.name(),
    ]);
    lan.ip(&["addr", "add", "192.0.2.1/24", "dev", "vl"]);
    lan.ip(&["addr", "add", "2001:db8:a::1/64", "dev", "vl", "nodad"]);
    lan.ip(&["link", "set", "vl", "up"]);
    router.ip(&["addr", "add", "192.0.2.254/24", "dev", "vr"]);
    router.ip(&["addr", "add", "2001:db8:a::fe/64", "dev", "vr", "nodad"]);
    router.ip(&["link", "set", "vr", "up"]);
    (lan, router)
}

fn mac_of(ns: &NetNs, dev: &str) -> String {
    let out = ns.ip(&["-br", "link", "show", "dev", dev]);
    out.split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no MAC in {out:?}"))
        .to_owned()
}

/// A UDP datagram (RFC 768) with its checksum over `pseudo`.
fn udp(src_port: u16, dst_port: u16, payload: &[u8], pseudo: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    let mut u = Vec::new();
    u.extend_from_slice(&src_port.to_be_bytes());
    u.extend_from_slice(&dst_port.to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let c = checksum(&[pseudo, &u]);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

/// What the router side saw, for the assertions on the test thread.
struct Seen {
    packet: Vec<u8>,
    session: Result<u32, dialgate_dataplane::DropReason>,
}

/// Router side: waits for a UDP datagram to `client` on the TUN, then answers it with
/// `reply(packet)` written into the TUN.
fn serve_tun(tun: &Tun, table: &AddressTable<u32>, reply: impl Fn(&[u8]) -> Vec<u8>) -> Seen {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 2048];
    loop {
        assert!(
            wait_readable(tun, deadline),
            "no datagram reached the TUN in 10 s"
        );
        let n = match tun.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => panic!("{e}"),
        };
        let p = &buf[..n];
        let is_udp = match p.first().map(|b| b >> 4) {
            Some(4) => p.len() > 28 && p[9] == 17,
            Some(6) => p.len() > 48 && p[6] == 17,
            _ => false,
        };
        if is_udp {
            let seen = Seen {
                packet: p.to_vec(),
                session: table.route_from_tun(p),
            };
            tun.send(&reply(p)).unwrap();
            return seen;
        }
    }
}

/// Proxy ARP (RFC 1027): the LAN host sends to 192.0.2.100, an address of its own /24 that
/// belongs to a dial-in client. The router, with `proxy_arp` on its LAN interface and a
/// host route 192.0.2.100/32 to the TUN, answers the ARP request with its own MAC; the
/// datagram is forwarded to the TUN, where the table names the session, and the answer
/// written into the TUN reaches the LAN host.
#[test]
fn proxy_arp_client_address_from_the_lan_subnet_rfc1027() {
    if !require_root() {
        return;
    }
    let (lan, router) = topology();
    let router_mac = mac_of(&router, "vr");
    let client = Ipv4Addr::new(192, 0, 2, 100);

    let (ready_tx, ready_rx) = mpsc::channel();
    let router_body = router.spawn(move || {
        let proxy_arp_before = sysctl::read(&["net", "ipv4", "conf", "vr", "proxy_arp"]).unwrap();
        let setup = HostSetup::apply(&HostConfig {
            lan_interface: Some("vr".into()),
            ipv4_forwarding: true,
            proxy_arp: true,
            ..HostConfig::default()
        })
        .unwrap();
        let tun = Tun::create("dgpa%d").unwrap();
        let index = tun.ifindex().unwrap();
        let mut nl = Netlink::open().unwrap();
        nl.set_link_up(index, Some(1400)).unwrap();
        let mut routes = SessionRoutes::new(nl, index, None);
        routes.add_v4(client).unwrap();
        let mut table = AddressTable::new();
        table.insert_v4(client, SESSION).unwrap();
        ready_tx.send(()).unwrap();

        let seen = serve_tun(&tun, &table, |p| {
            // Swap addresses and ports; answer "pong".
            let (src, dst) = ([p[16], p[17], p[18], p[19]], [p[12], p[13], p[14], p[15]]);
            let (sport, dport) = (
                u16::from_be_bytes([p[22], p[23]]),
                u16::from_be_bytes([p[20], p[21]]),
            );
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&src);
            pseudo.extend_from_slice(&dst);
            pseudo.extend_from_slice(&[0, 17, 0, 12]);
            let reply = ipv4_packet(src, dst, 17, &udp(sport, dport, b"pong", &pseudo));
            assert_eq!(
                table.check_from_session(SESSION, &reply).map(|_| ()),
                Ok(())
            );
            reply
        });
        setup.restore().unwrap();
        assert_eq!(
            sysctl::read(&["net", "ipv4", "conf", "vr", "proxy_arp"]).unwrap(),
            proxy_arp_before
        );
        seen
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("router side did not come up");

    let got = lan.run(move || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        sock.send_to(b"ping", SocketAddr::new(IpAddr::V4(client), 9999))
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = sock
            .recv_from(&mut buf)
            .expect("no answer from the TUN side");
        let neigh = common::ip(&["neigh", "show", "192.0.2.100", "dev", "vl"]);
        (buf[..n].to_vec(), from, neigh)
    });
    let seen = router_body.join();

    assert_eq!(seen.session, Ok(SESSION), "table maps the client address");
    assert_eq!(&seen.packet[12..16], &[192, 0, 2, 1], "from the LAN host");
    assert_eq!(&seen.packet[28..], b"ping");
    let (payload, from, neigh) = got;
    assert_eq!(payload, b"pong");
    assert_eq!(from, SocketAddr::new(IpAddr::V4(client), 9999));
    // The LAN host resolved the client's address to the router's MAC: proxy ARP answered.
    assert!(
        neigh.contains(&router_mac),
        "neighbour {neigh:?}, router MAC {router_mac}"
    );
}

/// Proxy NDP (RFC 4861 §7.2.8): the same with an IPv6 client address inside the LAN's
/// on-link /64; the router has a proxy neighbour entry for it on its LAN interface and a
/// /128 route to the TUN.
#[test]
fn proxy_ndp_client_address_in_the_lan_prefix_rfc4861_7_2_8() {
    if !require_root() {
        return;
    }
    let (lan, router) = topology();
    let router_mac = mac_of(&router, "vr");
    let client: Ipv6Addr = "2001:db8:a::100".parse().unwrap();

    let (ready_tx, ready_rx) = mpsc::channel();
    let router_body = router.spawn(move || {
        let setup = HostSetup::apply(&HostConfig {
            lan_interface: Some("vr".into()),
            ipv6_forwarding: true,
            proxy_ndp: true,
            ..HostConfig::default()
        })
        .unwrap();
        let tun = Tun::create("dgpn%d").unwrap();
        let index = tun.ifindex().unwrap();
        let lan_index = dialgate_dataplane::netlink::ifindex("vr").unwrap();
        let mut nl = Netlink::open().unwrap();
        nl.set_link_up(index, Some(1400)).unwrap();
        let mut routes = SessionRoutes::new(nl, index, Some(lan_index));
        routes.add_host_v6(client, None).unwrap();
        routes.add_proxy_ndp(client).unwrap();
        let mut table = AddressTable::new();
        table.insert_v6(client, SESSION).unwrap();
        ready_tx.send(()).unwrap();

        let seen = serve_tun(&tun, &table, |p| {
            let src: [u8; 16] = p[24..40].try_into().unwrap();
            let dst: [u8; 16] = p[8..24].try_into().unwrap();
            let (sport, dport) = (
                u16::from_be_bytes([p[42], p[43]]),
                u16::from_be_bytes([p[40], p[41]]),
            );
            let pseudo = ipv6_pseudo(src, dst, 12, 17);
            ipv6_packet(src, dst, 17, &udp(sport, dport, b"pong", &pseudo))
        });
        routes.remove_proxy_ndp(client).unwrap();
        setup.restore().unwrap();
        seen
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("router side did not come up");

    let got = lan.run(move || {
        let sock = UdpSocket::bind("[::]:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        sock.send_to(b"ping", SocketAddr::new(IpAddr::V6(client), 9999))
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = sock
            .recv_from(&mut buf)
            .expect("no answer from the TUN side");
        let neigh = common::ip(&["-6", "neigh", "show", "2001:db8:a::100", "dev", "vl"]);
        (buf[..n].to_vec(), from, neigh)
    });
    let seen = router_body.join();

    assert_eq!(seen.session, Ok(SESSION));
    assert_eq!(
        &seen.packet[8..24],
        &"2001:db8:a::1".parse::<Ipv6Addr>().unwrap().octets()
    );
    assert_eq!(&seen.packet[48..], b"ping");
    let (payload, from, neigh) = got;
    assert_eq!(payload, b"pong");
    assert_eq!(from.ip(), IpAddr::V6(client));
    assert!(
        neigh.contains(&router_mac),
        "neighbour {neigh:?}, router MAC {router_mac}"
    );
}
