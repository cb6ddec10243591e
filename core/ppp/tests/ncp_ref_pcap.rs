//! Replays the NCP exchanges of the reference captures (pptpd + pppd 2.4.9 server against
//! pptp-linux + pppd 2.4.9 client, `tests/ref-pcaps`) against our policies: every
//! Configure-Request our policy would build must be the one pppd sent, and every answer our
//! policy gives to pppd's requests must be the answer pppd gave (RFC 1332 IPCP, RFC 5072
//! IPV6CP, RFC 3078 CCP/MPPE `+H -M +S`).

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};

use dialgate_ppp::ncp::{
    AddressPool, CcpConfig, CcpPolicy, IpcpClientConfig, IpcpPolicy, IpcpServerConfig,
    Ipv6cpConfig, Ipv6cpPolicy, MppeKeyLength, MppeParams,
};
use dialgate_ppp::options::{OptionPolicy, Reply, RequestVerdict};
use dialgate_test_support::{PPTP_LINUX as CLIENT, PPTPD as SERVER, ref_ppp_frames};

const CCP: u16 = 0x80fd;
const IPCP: u16 = 0x8021;
const IPV6CP: u16 = 0x8057;

/// Captures with NCP traffic.
const CAPTURES: [&str; 4] = [
    "pptpd-vs-pptp-linux-pap.pcap",
    "pptpd-vs-pptp-linux-chap.pcap",
    "pptpd-vs-pptp-linux-mschapv2.pcap",
    "pptpd-vs-pptp-linux-mschapv2-mppe128.pcap",
];

/// One control packet of the capture.
#[derive(Debug, Clone)]
struct Packet {
    frame: usize,
    src: Ipv4Addr,
    code: u8,
    id: u8,
    options: Vec<u8>,
}

/// The control packets of `protocol` in the capture `name`, in capture order.
fn load(name: &str, protocol: u16) -> Vec<Packet> {
    let packets: Vec<Packet> = ref_ppp_frames(name)
        .iter()
        .filter(|f| u16::from(f.protocol()) == protocol)
        .map(|f| {
            let info = f.info();
            let length = usize::from(u16::from_be_bytes([info[2], info[3]]));
            Packet {
                frame: f.number,
                src: f.src,
                code: info[0],
                id: info[1],
                options: info[4..length].to_vec(),
            }
        })
        .collect();
    assert!(!packets.is_empty(), "{name}: no {protocol:#06x} packets");
    packets
}

/// Play the capture's exchange of one protocol through a policy per side: check every
/// request we would build and every answer we would give; returns the number of packets
/// compared.
fn replay(
    name: &str,
    packets: &[Packet],
    server: &mut dyn OptionPolicy,
    client: &mut dyn OptionPolicy,
) -> usize {
    let mut compared = 0;
    for (i, p) in packets.iter().enumerate() {
        let (sender, receiver): (&mut dyn OptionPolicy, &mut dyn OptionPolicy) = if p.src == SERVER
        {
            (&mut *server, &mut *client)
        } else {
            (&mut *client, &mut *server)
        };
        let at = format!("{name} frame {} ({})", p.frame, sender.name());
        match p.code {
            1 => {
                let mut ours = Vec::new();
                sender.build_request(&mut ours);
                assert_eq!(
                    ours, p.options,
                    "{at}: our Configure-Request differs from pppd's"
                );
                // The answer pppd gave to this request, from the other side.
                let answer = packets[i + 1..]
                    .iter()
                    .find(|a| a.src != p.src && a.id == p.id && (2..=4).contains(&a.code));
                let Some(answer) = answer else { continue };
                let mut reply = Reply::default();
                let verdict = receiver
                    .check_request(&p.options, &mut reply, false)
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                let (want_verdict, got) = match answer.code {
                    2 => (RequestVerdict::Ack, p.options.clone()),
                    3 => (RequestVerdict::Nak, reply.nak),
                    _ => (RequestVerdict::Reject, reply.rej),
                };
                assert_eq!(verdict, want_verdict, "{at}: answer to this request");
                assert_eq!(got, answer.options, "{at}: options of our answer");
                compared += 2;
            }
            2 => sender_of_request(receiver, p, &at, |r, o| r.on_ack(o)),
            3 => sender_of_request(receiver, p, &at, |r, o| r.on_nak(o)),
            4 => sender_of_request(receiver, p, &at, |r, o| r.on_reject(o)),
            _ => {} // Terminate-Request/Ack: pppd's IPV6CP gives up on the interface.
        }
    }
    compared
}

/// Deliver an answer to the side whose request it answers.
fn sender_of_request(
    requester: &mut dyn OptionPolicy,
    answer: &Packet,
    at: &str,
    deliver: impl FnOnce(
        &mut dyn OptionPolicy,
        &[u8],
    ) -> Result<(), dialgate_ppp::options::NegotiationFailure>,
) {
    if let Err(e) = deliver(requester, &answer.options) {
        panic!("{at}: our policy refused pppd's answer: {e}");
    }
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
fn ipcp_rfc1332_3_3_ref_pcaps_same_answers_as_pppd() {
    for name in CAPTURES {
        let packets = load(name, IPCP);
        let pool = Arc::new(OnePool(Mutex::new(Some(Ipv4Addr::new(10, 77, 1, 100)))));
        let mut server = IpcpPolicy::server(
            IpcpServerConfig {
                local: Ipv4Addr::new(10, 77, 1, 1),
                dns: [None, None],
                nbns: [None, None],
            },
            pool,
            "testuser",
        );
        let mut client = IpcpPolicy::client(IpcpClientConfig::default());
        let compared = replay(name, &packets, &mut server, &mut client);
        assert_eq!(compared, 6, "{name}: three requests, three answers");
        let s = server.negotiated().unwrap();
        let c = client.negotiated().unwrap();
        assert_eq!(
            (s.local, s.peer),
            (Ipv4Addr::new(10, 77, 1, 1), Some(c.local))
        );
        assert_eq!(
            (c.local, c.peer),
            (Ipv4Addr::new(10, 77, 1, 100), Some(s.local))
        );
    }
}

#[test]
fn ipv6cp_rfc5072_4_1_ref_pcaps_same_answers_as_pppd() {
    for name in CAPTURES {
        let packets = load(name, IPV6CP);
        // Each side's identifier is the one it requested first.
        let first_id = |side: Ipv4Addr| {
            let p = packets
                .iter()
                .find(|p| p.src == side && p.code == 1)
                .unwrap();
            u64::from_be_bytes(p.options[2..10].try_into().unwrap())
        };
        let policy = |id: u64| {
            Ipv6cpPolicy::new(
                Ipv6cpConfig {
                    interface_id: Some(id),
                },
                Box::new(|| 0x5151),
            )
        };
        let mut server = policy(first_id(SERVER));
        let mut client = policy(first_id(CLIENT));
        assert_eq!(
            replay(name, &packets, &mut server, &mut client),
            4,
            "{name}"
        );
        assert_eq!(
            server.negotiated().unwrap().peer,
            Some(client.negotiated().unwrap().local)
        );
    }
}

#[test]
fn ccp_rfc3078_2_1_ref_pcap_same_answers_as_pppd() {
    let name = "pptpd-vs-pptp-linux-mschapv2-mppe128.pcap";
    let packets = load(name, CCP);
    let keyed = CcpConfig {
        keys_available: true,
        ..CcpConfig::default()
    };
    let mut server = CcpPolicy::new(keyed);
    let mut client = CcpPolicy::new(keyed);
    assert_eq!(replay(name, &packets, &mut server, &mut client), 4);
    let want = Some(MppeParams {
        key_length: MppeKeyLength::Bits128,
        stateless: true,
    });
    assert_eq!(server.negotiated().and_then(|n| n.mppe()), want);
    assert_eq!(client.negotiated().and_then(|n| n.mppe()), want);
}
