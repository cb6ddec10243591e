//! The TUN device, rtnetlink and sysctls against the real kernel, each test in a network
//! namespace of its own. Needs root; fails without it
//! unless `DIALGATE_SKIP_ROOT_TESTS=1` opts out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::io;
use std::time::{Duration, Instant};

use common::{NetNs, checksum, ipv4_packet, ipv6_packet, ipv6_pseudo, require_root, wait_readable};
use dialgate_dataplane::netlink::NetlinkError;
use dialgate_dataplane::ra::{self, ALL_NODES, RouterAdvert};
use dialgate_dataplane::{
    AddressTable, HostConfig, HostSetup, Netlink, PacketBatch, SessionRoutes, Tun, sysctl,
};

const SESSION: u32 = 42;

/// Reads packets from `tun` until `want` accepts one, for at most 15 s.
fn read_until(tun: &Tun, want: impl FnMut(&[u8]) -> bool) -> Vec<u8> {
    send_until(tun, None, want)
}

/// Like [`read_until`], and (re)sends `request` every 200 ms meanwhile, as ping does: the
/// kernel installs the local route of a new IPv6 address from a work queue, so the first
/// request can arrive before the address is usable.
fn send_until(tun: &Tun, request: Option<&[u8]>, mut want: impl FnMut(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = vec![0u8; 2048];
    let mut other = Vec::new();
    let mut next_send = Instant::now();
    loop {
        if let Some(request) = request
            && Instant::now() >= next_send
        {
            tun.send(request).unwrap();
            next_send = Instant::now() + Duration::from_millis(200);
        }
        let wake = if request.is_some() {
            next_send.min(deadline)
        } else {
            deadline
        };
        if !wait_readable(tun, wake) {
            if Instant::now() < deadline {
                continue;
            }
            let state = common::ip(&["-6", "addr", "show"]) + &common::ip(&["-6", "route", "show"]);
            let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp6").unwrap_or_default();
            let snmp: Vec<&str> = snmp.lines().filter(|l| !l.ends_with(" 0")).collect();
            panic!(
                "nothing wanted arrived on the TUN within 15 s; other packets (first 48 \
                 octets): {other:02x?}\n{state}\n{snmp:#?}"
            );
        }
        match tun.recv(&mut buf) {
            Ok(n) if want(&buf[..n]) => return buf[..n].to_vec(),
            Ok(n) => other.push(buf[..n.min(48)].to_vec()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("TUN read: {e}"),
        }
    }
}

fn icmp_echo(kind: u8, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(payload);
    m
}

/// A TUN in a namespace, up with MTU 1400, the router's addresses on it, and the routes of
/// one session (10.99.0.2/32 and 2001:db8:99:5::/64) pointing at it.
fn setup_tun() -> (Tun, SessionRoutes, AddressTable<u32>) {
    let tun = Tun::create("dgt%d").expect("create TUN");
    assert!(tun.name().starts_with("dgt"), "{}", tun.name());
    let index = tun.ifindex().unwrap();
    let mut nl = Netlink::open().unwrap();
    nl.set_link_up(index, Some(1400)).unwrap();
    nl.add_address(index, IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1)), 32)
        .unwrap();
    nl.add_address(index, IpAddr::V6("2001:db8:99::1".parse().unwrap()), 128)
        .unwrap();
    // The kernel installs the local route of a new IPv6 address from a work queue, which
    // netns teardown elsewhere on the machine can hold up: wait for it (bounded).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !common::ip(&["-6", "route", "show", "table", "local"]).contains("local 2001:db8:99::1 ")
    {
        assert!(
            Instant::now() < deadline,
            "IPv6 address never became usable"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut routes = SessionRoutes::new(nl, index, None);
    routes.add_v4(Ipv4Addr::new(10, 99, 0, 2)).unwrap();
    routes.add_v6("2001:db8:99:5::".parse().unwrap()).unwrap();
    let mut table = AddressTable::new();
    table
        .insert_v4(Ipv4Addr::new(10, 99, 0, 2), SESSION)
        .unwrap();
    table
        .insert_v6("2001:db8:99:5::".parse().unwrap(), SESSION)
        .unwrap();
    (tun, routes, table)
}

/// An ICMP echo request written into the TUN as if a session's client sent it reaches the
/// kernel, and the kernel's echo reply comes back out of the TUN, routed by the /32 route,
/// and the table maps it to the session (RFC 792 echo; the WireGuard-style data path).
#[test]
fn tun_ipv4_echo_both_ways_rfc792() {
    if !require_root() {
        return;
    }
    let ns = NetNs::new("echo4");
    ns.run(|| {
        let (tun, _routes, table) = setup_tun();
        // Non-blocking: an empty queue is WouldBlock, not a hang.
        let mut scratch = [0u8; 2048];
        while tun.recv(&mut scratch).is_ok() {}
        assert_eq!(
            tun.recv(&mut scratch).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );

        let payload = b"dialgate echo payload";
        let mut icmp = icmp_echo(8, 0x1234, 7, payload);
        let c = checksum(&[&icmp]);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let request = ipv4_packet([10, 99, 0, 2], [10, 99, 0, 1], 1, &icmp);
        assert_eq!(
            table.check_from_session(SESSION, &request),
            Ok(dialgate_dataplane::IpVersion::V4)
        );
        let reply = send_until(&tun, Some(&request), |p| {
            p.len() >= 28 && p[0] >> 4 == 4 && p[9] == 1 && p[20] == 0
        });
        assert_eq!(&reply[12..16], &[10, 99, 0, 1], "reply source");
        assert_eq!(&reply[16..20], &[10, 99, 0, 2], "reply destination");
        assert_eq!(
            &reply[24..28],
            &[0x12, 0x34, 0, 7],
            "identifier and sequence"
        );
        assert_eq!(&reply[28..], payload);
        assert_eq!(checksum(&[&reply[20..]]), 0, "kernel's ICMP checksum");
        assert_eq!(table.route_from_tun(&reply), Ok(SESSION));
        // The MTU set over rtnetlink is what the kernel reports.
        let link = common::ip(&["link", "show", "dev", tun.name()]);
        assert!(link.contains("mtu 1400"), "{link}");
        assert!(link.contains(",UP"), "{link}");
    });
}

/// The same for IPv6: ICMPv6 echo (RFC 4443 §4.1, §4.2) from an address in the session's
/// /64 to the router's address; the reply is routed by the /64 route.
#[test]
fn tun_ipv6_echo_both_ways_rfc4443_4() {
    if !require_root() {
        return;
    }
    let ns = NetNs::new("echo6");
    ns.run(|| {
        let (tun, _routes, table) = setup_tun();
        let src: Ipv6Addr = "2001:db8:99:5::1234".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8:99::1".parse().unwrap();
        let mut icmp = icmp_echo(128, 0x4321, 9, b"six");
        let c = checksum(&[
            &ipv6_pseudo(src.octets(), dst.octets(), icmp.len(), 58),
            &icmp,
        ]);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let request = ipv6_packet(src.octets(), dst.octets(), 58, &icmp);
        let reply = send_until(&tun, Some(&request), |p| {
            p.len() >= 48 && p[0] >> 4 == 6 && p[6] == 58 && p[40] == 129
        });
        assert_eq!(&reply[8..24], &dst.octets());
        assert_eq!(&reply[24..40], &src.octets());
        assert_eq!(&reply[44..48], &[0x43, 0x21, 0, 9]);
        assert_eq!(&reply[48..], b"six");
        assert_eq!(table.route_from_tun(&reply), Ok(SESSION));
    });
}

/// Several echo replies are picked up by one batched read into reused buffers, and MSS
/// clamping or the table work on the batch in place.
#[test]
fn tun_batch_reads_until_empty() {
    if !require_root() {
        return;
    }
    let ns = NetNs::new("batch");
    ns.run(|| {
        let (tun, _routes, table) = setup_tun();
        let mut scratch = [0u8; 2048];
        while tun.recv(&mut scratch).is_ok() {}
        for seq in 0..5u16 {
            let mut icmp = icmp_echo(8, 1, seq, &[0xab; 100]);
            let c = checksum(&[&icmp]);
            icmp[2..4].copy_from_slice(&c.to_be_bytes());
            tun.send(&ipv4_packet([10, 99, 0, 2], [10, 99, 0, 1], 1, &icmp))
                .unwrap();
        }
        let mut batch = PacketBatch::new(4, 1500);
        let mut seqs = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        while seqs.len() < 5 {
            assert!(wait_readable(&tun, deadline), "got only {seqs:?}");
            match tun.recv_batch(&mut batch) {
                Ok(n) => {
                    assert!(n <= 4, "a batch never exceeds its slots");
                    for p in batch.iter() {
                        if p.len() >= 28 && p[0] == 0x45 && p[9] == 1 && p[20] == 0 {
                            assert_eq!(table.route_from_tun(p), Ok(SESSION));
                            seqs.push(u16::from_be_bytes([p[26], p[27]]));
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        seqs.sort_unstable();
        assert_eq!(seqs, [0, 1, 2, 3, 4]);
        // Drained: the next batch read says WouldBlock.
        assert_eq!(
            tun.recv_batch(&mut batch).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    });
}

/// A session whose MTU is below the TUN's gets a route with that MTU (RTAX_MTU), and the
/// kernel fragments what it sends to that client (RFC 791 §2.3): a 1400-octet echo reply to
/// a 1280-MTU session leaves the TUN as fragments of at most 1280 octets, each routed to the
/// session by the table.
#[test]
fn session_route_mtu_makes_the_kernel_fragment_rfc791() {
    if !require_root() {
        return;
    }
    let ns = NetNs::new("mtu");
    ns.run(|| {
        let (tun, mut routes, mut table) = setup_tun();
        let client = Ipv4Addr::new(10, 99, 0, 3);
        routes.add_v4_mtu(client, Some(1280)).unwrap();
        table.insert_v4(client, SESSION + 1).unwrap();
        let shown = common::ip(&["route", "show", "10.99.0.3"]);
        assert!(shown.contains("mtu 1280"), "{shown}");

        let payload = vec![0x5a; 1400 - 28];
        let mut icmp = icmp_echo(8, 0x0bad, 1, &payload);
        let c = checksum(&[&icmp]);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let request = ipv4_packet(client.octets(), [10, 99, 0, 1], 1, &icmp);
        assert_eq!(request.len(), 1400);
        let mut octets = 0;
        let mut fragments = 0;
        // IPv4 addresses are usable at once: one request, so fragments of one reply.
        tun.send(&request).unwrap();
        read_until(&tun, |p| {
            if p.len() < 20 || p[0] >> 4 != 4 || p[16..20] != client.octets() {
                return false;
            }
            assert!(
                p.len() <= 1280,
                "{}-octet packet to a 1280-MTU session",
                p.len()
            );
            assert_eq!(table.route_from_tun(p), Ok(SESSION + 1));
            let frag = u16::from_be_bytes([p[6], p[7]]);
            let offset = usize::from(frag & 0x1fff) * 8;
            let more = frag & 0x2000 != 0;
            octets += p.len() - 20;
            fragments += 1;
            // Done at the last fragment once everything before it arrived.
            !more && octets == offset + p.len() - 20
        });
        assert!(
            fragments >= 2,
            "the reply was fragmented ({fragments} fragments)"
        );
        assert_eq!(octets, 1400 - 20);
    });
}

/// A multi-queue TUN (IFF_MULTI_QUEUE) gives one descriptor per queue on one interface.
#[test]
fn tun_multi_queue() {
    if !require_root() {
        return;
    }
    let ns = NetNs::new("mq");
    let (name, count) = ns.run(|| {
        let queues = Tun::create_multi_queue("dgmq%d", 3).unwrap();
        let name = queues[0].name().to_owned();
        assert!(queues.iter().all(|q| q.name() == name));
        (name, queues.len())
    });
    assert_eq!(count, 3);
    assert!(name.starts_with("dgmq"));
}

/// Whether `ip route show` printed a route to `dst` with each of the `attributes` (key and
/// value), wherever they stand among the others `ip` prints (which ones it adds, `dev`
/// among them, varies with its version and the kernel's answer).
fn route_has(output: &str, dst: &str, attributes: &[(&str, &str)]) -> bool {
    output.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.first() == Some(&dst)
            && attributes
                .iter()
                .all(|(k, v)| words.windows(2).any(|w| w[0] == *k && w[1] == *v))
    })
}

/// Routes added over rtnetlink show up in the kernel's table with the session's prefix
/// lengths; re-adding replaces, deleting a missing route reports ESRCH with the request.
#[test]
fn netlink_routes_and_errors() {
    if !require_root() {
        return;
    }
    let ns = NetNs::new("routes");
    let name = ns.run(|| {
        let (tun, mut routes, _table) = setup_tun();
        routes.add_v4(Ipv4Addr::new(10, 99, 0, 2)).unwrap();
        routes.add_v4(Ipv4Addr::new(192, 0, 2, 77)).unwrap();
        routes.remove_v4(Ipv4Addr::new(192, 0, 2, 77)).unwrap();
        let e = routes.remove_v4(Ipv4Addr::new(192, 0, 2, 77)).unwrap_err();
        assert_eq!(NetlinkError::errno_of(&e), Some(libc::ESRCH), "{e}");
        assert!(e.to_string().contains("delete route 192.0.2.77/32"), "{e}");
        routes
            .add_host_v6("2001:db8:99:7::9".parse().unwrap(), None)
            .unwrap();
        // Proxy NDP without a LAN interface is refused before reaching the kernel.
        assert!(
            routes
                .add_proxy_ndp("2001:db8::1".parse().unwrap())
                .is_err()
        );
        // Commands spawned from this thread run in its namespace.
        let v4 = common::ip(&["-4", "route", "show", "dev", tun.name()]);
        assert!(
            route_has(&v4, "10.99.0.2", &[("proto", "static"), ("scope", "link")]),
            "{v4}"
        );
        assert!(!v4.contains("192.0.2.77"), "{v4}");
        let v6 = common::ip(&["-6", "route", "show", "dev", tun.name()]);
        assert!(
            route_has(&v6, "2001:db8:99:5::/64", &[("proto", "static")]),
            "{v6}"
        );
        assert!(
            route_has(&v6, "2001:db8:99:7::9", &[("proto", "static")]),
            "{v6}"
        );
        tun.name().to_owned()
    });
    // The TUN is gone with its descriptor, and its routes with it. Its last descriptor, that
    // is: a process another test thread forks (to run `ip`) holds a copy of every descriptor
    // until it execs, so the kernel may unregister the device a moment after our close.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ns.ip(&["link", "show"]).contains(&name) {
        assert!(
            Instant::now() < deadline,
            "the TUN {name} outlived its descriptor"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = ns.ip(&["route", "show"]) + &ns.ip(&["-6", "route", "show"]);
    assert!(!all.contains(&name), "{all}");
}

/// Forwarding set through HostSetup is visible in the namespace, restored afterwards, and
/// never leaks to the host's namespace.
#[test]
fn host_setup_sets_and_restores_in_its_namespace() {
    if !require_root() {
        return;
    }
    let host_before = sysctl::read(&["net", "ipv4", "ip_forward"]).unwrap();
    let ns = NetNs::new("sysctl");
    ns.ip(&[
        "link", "add", "dgdummy", "type", "veth", "peer", "name", "dgdummy1",
    ]);
    ns.run(|| {
        let before = sysctl::read(&["net", "ipv4", "conf", "dgdummy", "proxy_arp"]).unwrap();
        // Whatever the namespace inherited, start from "off" so restoring is observable.
        sysctl::write(&["net", "ipv4", "ip_forward"], "0").unwrap();
        let setup = HostSetup::apply(&HostConfig {
            lan_interface: Some("dgdummy".into()),
            ipv4_forwarding: true,
            ipv6_forwarding: true,
            proxy_arp: true,
            proxy_ndp: true,
        })
        .unwrap();
        assert_eq!(sysctl::read(&["net", "ipv4", "ip_forward"]).unwrap(), "1");
        assert_eq!(
            sysctl::read(&["net", "ipv6", "conf", "all", "forwarding"]).unwrap(),
            "1"
        );
        assert_eq!(
            sysctl::read(&["net", "ipv4", "conf", "dgdummy", "proxy_arp"]).unwrap(),
            "1"
        );
        assert_eq!(
            sysctl::read(&["net", "ipv6", "conf", "dgdummy", "proxy_ndp"]).unwrap(),
            "1"
        );
        assert_eq!(setup.changed().count(), 6);
        setup.restore().unwrap();
        assert_eq!(sysctl::read(&["net", "ipv4", "ip_forward"]).unwrap(), "0");
        assert_eq!(
            sysctl::read(&["net", "ipv4", "conf", "dgdummy", "proxy_arp"]).unwrap(),
            before
        );
        // A missing interface is an error naming the key, and nothing stays changed.
        let e = HostSetup::apply(&HostConfig {
            lan_interface: Some("dgnosuch".into()),
            ipv4_forwarding: true,
            proxy_arp: true,
            ..HostConfig::default()
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("net.ipv4.conf.dgnosuch.proxy_arp"),
            "{e}"
        );
        assert_eq!(sysctl::read(&["net", "ipv4", "ip_forward"]).unwrap(), "0");
    });
    assert_eq!(
        sysctl::read(&["net", "ipv4", "ip_forward"]).unwrap(),
        host_before
    );
}

/// The kernel as a PPP client would be: its IPv6 stack on the TUN sends a Router
/// Solicitation, which `parse_router_solicitation` recognises (RFC 4861 §6.1.1); our Router
/// Advertisement in reply is accepted by the kernel, which forms a SLAAC address in the
/// announced /64 (RFC 4862 §5.5.3), takes us as default router and applies the MTU option.
/// This checks the RA's checksum and layout independently of our own parser.
#[test]
fn kernel_solicits_and_autoconfigures_from_our_router_advert_rfc4861_6_2() {
    if !require_root() {
        return;
    }
    let ns = NetNs::new("slaac");
    ns.run(|| {
        let tun = Tun::create("dgra%d").unwrap();
        let index = tun.ifindex().unwrap();
        let name = tun.name().to_owned();
        sysctl::write(&["net", "ipv6", "conf", &name, "accept_ra"], "1").unwrap();
        sysctl::write(&["net", "ipv6", "conf", &name, "forwarding"], "0").unwrap();
        let mut nl = Netlink::open().unwrap();
        nl.set_link_up(index, Some(1500)).unwrap();

        let rs_packet = read_until(&tun, |p| ra::parse_router_solicitation(p).is_some());
        let rs = ra::parse_router_solicitation(&rs_packet).unwrap();
        assert!(
            rs.source.is_unspecified() || rs.source.segments()[0] == 0xfe80,
            "{:?}",
            rs.source
        );

        let subnet: Ipv6Addr = "2001:db8:42:7::".parse().unwrap();
        let advert = RouterAdvert::for_session(subnet, Some(1400));
        let mut buf = [0u8; 256];
        let n = advert
            .emit(&mut buf, ra::link_local(0x0200_00ff_fe00_0001), ALL_NODES)
            .unwrap();
        tun.send(&buf[..n]).unwrap();

        // The MTU option lands in the interface's IPv6 MTU.
        let deadline = Instant::now() + Duration::from_secs(15);
        while sysctl::read(&["net", "ipv6", "conf", &name, "mtu"]).unwrap() != "1400" {
            assert!(Instant::now() < deadline, "RA MTU option not applied");
            std::thread::sleep(Duration::from_millis(50));
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let addrs = common::ip(&["-6", "addr", "show", "dev", &name]);
            if addrs.contains("inet6 2001:db8:42:7:") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no SLAAC address from our RA: {addrs}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let default = common::ip(&["-6", "route", "show", "default"]);
        assert!(default.contains("via fe80::200:ff:fe00:1"), "{default}");
    });
}

/// Routes a dial-out session adds carry its address as preferred source (`RTA_PREFSRC`), and
/// never take over an existing route to the same destination: that one stays, the add fails
/// with EEXIST.
#[test]
fn netlink_routes_from_a_source_never_take_over() {
    if !require_root() {
        return;
    }
    let ns = NetNs::new("prefsrc");
    ns.run(|| {
        let (tun, mut routes, _table) = setup_tun();
        let index = tun.ifindex().unwrap();
        let src4 = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1));
        let src6: IpAddr = "2001:db8:99::1".parse().unwrap();
        let nl = routes.netlink();
        let lan = IpAddr::V4(Ipv4Addr::new(10, 98, 0, 0));
        nl.add_route_from(index, lan, 24, src4, Some(1400)).unwrap();
        let shown = common::ip(&["-4", "route", "show", "10.98.0.0/24"]);
        assert!(
            shown.contains(&format!("dev {}", tun.name())) && shown.contains("src 10.99.0.1"),
            "{shown}"
        );
        let again = nl.add_route_from(index, lan, 24, src4, None).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists, "{again}");
        assert!(again.to_string().contains("src 10.99.0.1"), "{again}");

        // The box's own default route stays.
        common::ip(&["route", "add", "default", "dev", "lo"]);
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let e = nl.add_route_from(index, any, 0, src4, None).unwrap_err();
        assert_eq!(NetlinkError::errno_of(&e), Some(libc::EEXIST), "{e}");
        let default = common::ip(&["-4", "route", "show", "default"]);
        assert!(default.contains("dev lo"), "{default}");
        assert!(!default.contains(tun.name()), "{default}");

        // IPv6: a default route through the TUN from the session's address.
        nl.add_route_from(
            index,
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            0,
            src6,
            Some(1400),
        )
        .unwrap();
        let v6 = common::ip(&["-6", "route", "show", "default"]);
        assert!(
            v6.contains(&format!("dev {}", tun.name())) && v6.contains("src 2001:db8:99::1"),
            "{v6}"
        );
        nl.del_route(index, IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
            .unwrap();
        nl.del_route(index, lan, 24).unwrap();
        let left = common::ip(&["-6", "route", "show", "default"])
            + &common::ip(&["-4", "route", "show", "10.98.0.0/24"]);
        assert!(!left.contains(tun.name()), "{left}");
    });
}
