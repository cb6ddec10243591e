//! Interop evidence against Linux's ppp_mppe: a real MS-CHAPv2 + stateless MPPE-128 session
//! between pptpd/pppd (authenticator, 10.77.0.10) and pptp-linux/pppd (peer, 10.77.0.11),
//! user "testuser", password "testpass", authenticator name "pptpd"
//! (`tests/ref-pcaps/pptpd-vs-pptp-linux-mschapv2-mppe128.pcap` at the repository root).
//!
//! Two more captures of the same peers check MS-CHAPv2 without MPPE and CHAP-MD5.
//!
//! From the password alone this test recomputes the captured NT-Response and authenticator
//! response, derives both directions' MPPE keys, decrypts every MPPE packet to the known
//! ICMP echo traffic 10.77.1.100 <-> 10.77.1.1, and re-encrypts each plaintext to the exact
//! captured bytes.

use std::net::Ipv4Addr;

use dialgate_crypto::chap::{chap_md5_response, verify_chap_md5_response};
use dialgate_crypto::mppe::{self, Decrypter, Encrypter, KeyLength, MppeHeader, Role};
use dialgate_crypto::mschap::{
    generate_authenticator_response, generate_nt_response, nt_password_hash,
    verify_authenticator_response, verify_nt_response,
};
use dialgate_test_support::{GrePacket, PPTP_LINUX, PPTPD, Protocol, ref_ppp_frames};

const PCAP: &str = "pptpd-vs-pptp-linux-mschapv2-mppe128.pcap";
/// The same peers with MS-CHAPv2 and no MPPE.
const PCAP_NO_MPPE: &str = "pptpd-vs-pptp-linux-mschapv2.pcap";
/// The same peers with CHAP-MD5.
const PCAP_CHAP_MD5: &str = "pptpd-vs-pptp-linux-chap.pcap";
const SERVER: Ipv4Addr = PPTPD;
const CLIENT: Ipv4Addr = PPTP_LINUX;
const PEER_INNER: [u8; 4] = [10, 77, 1, 100];
const SERVER_INNER: [u8; 4] = [10, 77, 1, 1];

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn unhex(s: &[u8]) -> Vec<u8> {
    s.chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).expect("ASCII"), 16).expect("hex"))
        .collect()
}

struct Chap {
    authenticator_challenge: [u8; 16],
    authenticator_name: Vec<u8>,
    peer_challenge: [u8; 16],
    nt_response: [u8; 24],
    user_name: Vec<u8>,
    authenticator_response: Vec<u8>,
}

/// Finds the MS-CHAPv2 Challenge, Response and Success (RFC 2759 §3-§5).
fn chap(frames: &[GrePacket]) -> Chap {
    let chap: Vec<&GrePacket> = frames
        .iter()
        .filter(|f| f.protocol() == Protocol::CHAP)
        .collect();
    let find = |code: u8| {
        chap.iter()
            .find(|f| f.info()[0] == code)
            .unwrap_or_else(|| panic!("no CHAP code {code}"))
            .info()
            .to_vec()
    };
    let challenge = find(1);
    assert_eq!(challenge[4], 16, "MS-CHAPv2 challenge value size");
    let response = find(2);
    assert_eq!(response[4], 49, "MS-CHAPv2 response value size");
    let value = &response[5..54];
    let success = find(3);
    let message = &success[4..be16(&success, 2)];
    assert!(
        message.starts_with(b"S="),
        "{:?}",
        String::from_utf8_lossy(message)
    );
    Chap {
        authenticator_challenge: challenge[5..21].try_into().expect("16 octets"),
        authenticator_name: challenge[21..be16(&challenge, 2)].to_vec(),
        peer_challenge: value[..16].try_into().expect("16 octets"),
        nt_response: value[24..48].try_into().expect("24 octets"),
        user_name: response[54..be16(&response, 2)].to_vec(),
        authenticator_response: unhex(&message[2..42]),
    }
}

fn ones_complement_sum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Checks the decrypted MPPE payload is an IPv4 ICMP echo between the tunnel addresses.
fn check_plaintext(plain: &[u8], from_peer: bool) {
    // Inner PPP protocol field: Linux sends 2 octets (00 21); accept the compressed 21 too.
    let ip = match plain {
        [0x00, 0x21, rest @ ..] | [0x21, rest @ ..] => rest,
        _ => panic!("not IPv4: {:02x?}", &plain[..plain.len().min(4)]),
    };
    assert_eq!(ip[0], 0x45, "IPv4, no options");
    let total = be16(ip, 2);
    assert_eq!(total, ip.len(), "IPv4 total length");
    assert_eq!(
        ones_complement_sum(&ip[..20]),
        0xffff,
        "IPv4 header checksum"
    );
    assert_eq!(ip[9], 1, "ICMP");
    let (src, dst) = if from_peer {
        (PEER_INNER, SERVER_INNER)
    } else {
        (SERVER_INNER, PEER_INNER)
    };
    assert_eq!(ip[12..16], src);
    assert_eq!(ip[16..20], dst);
    let icmp = &ip[20..];
    assert_eq!(
        icmp[0],
        if from_peer { 8 } else { 0 },
        "echo request / reply"
    );
    assert_eq!(ones_complement_sum(icmp), 0xffff, "ICMP checksum");
}

/// Recomputes the captured NT-Response and authenticator response from the password.
fn check_mschapv2(frames: &[GrePacket]) {
    let c = chap(frames);
    assert_eq!(c.user_name, b"testuser");
    assert_eq!(c.authenticator_name, b"pptpd");
    let nt = nt_password_hash("testpass").expect("short password");
    let nt_response = generate_nt_response(
        &c.authenticator_challenge,
        &c.peer_challenge,
        &c.user_name,
        &nt,
    );
    assert_eq!(nt_response, c.nt_response);
    assert!(verify_nt_response(
        &c.authenticator_challenge,
        &c.peer_challenge,
        &c.user_name,
        &nt,
        &c.nt_response
    ));
    let auth = generate_authenticator_response(
        &nt,
        &c.nt_response,
        &c.peer_challenge,
        &c.authenticator_challenge,
        &c.user_name,
    );
    assert!(verify_authenticator_response(
        &auth,
        &c.authenticator_response
    ));
    let wrong = nt_password_hash("testpasS").expect("short password");
    assert!(!verify_nt_response(
        &c.authenticator_challenge,
        &c.peer_challenge,
        &c.user_name,
        &wrong,
        &c.nt_response
    ));
}

#[test]
fn mschapv2_rfc2759_linux_pppd_exchange() {
    check_mschapv2(&ref_ppp_frames(PCAP));
}

#[test]
fn mschapv2_rfc2759_linux_pppd_exchange_without_mppe() {
    let frames = ref_ppp_frames(PCAP_NO_MPPE);
    check_mschapv2(&frames);
    // No CCP, so the pings travel as plain IPv4 (protocol 0x21): the same checks apply.
    let ip: Vec<&GrePacket> = frames
        .iter()
        .filter(|f| f.protocol() == Protocol::IPV4)
        .collect();
    assert_eq!(ip.len(), 16);
    for f in ip {
        let mut plain = vec![0x21];
        plain.extend_from_slice(f.info());
        check_plaintext(&plain, f.src == CLIENT);
    }
}

#[test]
fn mppe_rfc3078_linux_ppp_mppe_stateless_128() {
    let frames = ref_ppp_frames(PCAP);
    // CCP (0x80FD) Configure-Ack carrying option 18 with H and S: stateless 128-bit.
    let ccp_ack = frames
        .iter()
        .find(|f| f.protocol() == Protocol::CCP && f.info()[0] == 2)
        .expect("CCP Configure-Ack");
    assert_eq!(ccp_ack.info()[4..10], [18, 6, 0x01, 0x00, 0x00, 0x40]);

    let c = chap(&frames);
    let nt = nt_password_hash("testpass").expect("short password");
    let server = mppe::mppe_keys_from_mschapv2(&nt, &c.nt_response, Role::Authenticator);
    let client = mppe::mppe_keys_from_mschapv2(&nt, &c.nt_response, Role::Peer);
    assert_eq!(server.send, client.recv);
    assert_eq!(server.recv, client.send);

    // Each side as the receiver of the other, and as a re-encrypting sender.
    let mut server_rx = Decrypter::new(&server.recv, KeyLength::Bits128, true);
    let mut client_rx = Decrypter::new(&client.recv, KeyLength::Bits128, true);
    let mut server_tx = Encrypter::new(&server.send, KeyLength::Bits128, true);
    let mut client_tx = Encrypter::new(&client.send, KeyLength::Bits128, true);

    let mut seen = [0usize; 2];
    for f in frames
        .iter()
        .filter(|f| f.protocol() == Protocol::COMPRESSED)
    {
        let from_peer = match f.src {
            CLIENT => true,
            SERVER => false,
            other => panic!("unexpected source {other:?}"),
        };
        let header = u16::from_be_bytes([f.info()[0], f.info()[1]]);
        let h = MppeHeader::from_bits(header);
        assert!(
            h.encrypted() && h.flushed(),
            "stateless: A and D on every packet"
        );
        assert_eq!(
            usize::from(h.coherency_count()),
            seen[usize::from(from_peer)]
        );
        let mut buf = f.info()[2..].to_vec();
        let rx = if from_peer {
            &mut server_rx
        } else {
            &mut client_rx
        };
        rx.decrypt(header, &mut buf).expect("decrypts");
        check_plaintext(&buf, from_peer);

        // Our encrypter, fed the same plaintext, produces the captured packet exactly.
        let tx = if from_peer {
            &mut client_tx
        } else {
            &mut server_tx
        };
        let mut again = buf.clone();
        assert_eq!(tx.encrypt(&mut again).bits(), header);
        assert_eq!(again, f.info()[2..]);
        seen[usize::from(from_peer)] += 1;
    }
    // 5 pings of 56 octets and 3 of 1200, each answered.
    assert_eq!(seen, [8, 8]);
}

#[test]
fn chap_rfc1994_linux_pppd_md5_exchange() {
    let frames = ref_ppp_frames(PCAP_CHAP_MD5);
    let chap: Vec<&GrePacket> = frames
        .iter()
        .filter(|f| f.protocol() == Protocol::CHAP)
        .collect();
    let challenge = chap
        .iter()
        .find(|f| f.info()[0] == 1)
        .expect("Challenge")
        .info();
    let response = chap
        .iter()
        .find(|f| f.info()[0] == 2)
        .expect("Response")
        .info();
    assert!(chap.iter().any(|f| f.info()[0] == 3), "Success");
    let id = challenge[1];
    assert_eq!(response[1], id);
    let value = &challenge[5..5 + usize::from(challenge[4])];
    let received = &response[5..5 + usize::from(response[4])];
    assert_eq!(
        &response[5 + received.len()..be16(response, 2)],
        b"testuser"
    );
    assert_eq!(chap_md5_response(id, b"testpass", value), received);
    assert!(verify_chap_md5_response(id, b"testpass", value, received));
    assert!(!verify_chap_md5_response(id, b"testpasS", value, received));
}
