use super::netbios::{self, Addressing, Command};
use super::*;

/// A NAME_QUERY for `FILESRV<20>` from `ALICE<00>`, as NBF sends it (LLC UI, NetBIOS header
/// of 44 octets, little-endian fields): the bytes written out by hand from the header layout.
fn name_query_pdu() -> Vec<u8> {
    let mut pdu = vec![0xF0, 0xF0, 0x03]; // DSAP, SSAP (command), UI
    pdu.extend_from_slice(&[0x2C, 0x00]); // header length 44
    pdu.extend_from_slice(&[0xFF, 0xEF]); // delimiter 0xEFFF
    pdu.push(0x0A); // NAME_QUERY
    pdu.push(0x00); // data1
    pdu.extend_from_slice(&[0x05, 0x00]); // data2: caller's session number 5, unique name
    pdu.extend_from_slice(&[0x00, 0x00]); // xmit correlator
    pdu.extend_from_slice(&[0x34, 0x12]); // resp correlator 0x1234
    pdu.extend_from_slice(b"FILESRV        \x20");
    pdu.extend_from_slice(b"ALICE          \x00");
    pdu
}

#[test]
fn nbf_name_query_parses_field_by_field() {
    let pdu = name_query_pdu();
    let f = NbfFrame::parse(&pdu).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.llc.dsap, 0xF0);
    assert_eq!(f.llc.ssap, 0xF0);
    assert!(!f.llc.response);
    assert!(f.llc.control.is_ui());
    let h = f.netbios.unwrap_or_else(|| panic!("a NetBIOS header"));
    assert_eq!(h.command, Command::NameQuery);
    assert_eq!(h.data2, 5);
    assert_eq!(h.resp_correlator, 0x1234);
    assert_eq!(
        h.addressing,
        Addressing::Names {
            dest: netbios::name("filesrv", 0x20),
            source: netbios::name("alice", 0x00),
        }
    );
}

#[test]
fn ethernet_802_3_length_field_is_checked() {
    let pdu = name_query_pdu();
    let mut frame = vec![0x03, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 9];
    frame.extend_from_slice(&(pdu.len() as u16).to_be_bytes());
    frame.extend_from_slice(&pdu);
    frame.resize(frame.len() + 4, 0); // padding is not payload
    let eth = ethernet::Frame::new_checked(&frame[..]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(eth.dst(), MacAddr::NETBIOS_MULTICAST);
    assert_eq!(eth.src(), MacAddr([2, 0, 0, 0, 0, 9]));
    assert_eq!(eth.payload(), &pdu[..]);
    // An Ethertype is not a length; a length past the buffer is truncation.
    let mut ipx = frame.clone();
    ipx[12..14].copy_from_slice(&0x8137u16.to_be_bytes());
    assert_eq!(
        ethernet::Frame::new_checked(&ipx[..]),
        Err(Error::NotLength(0x8137))
    );
    let mut long = frame.clone();
    long[12..14].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(
        ethernet::Frame::new_checked(&long[..]),
        Err(Error::Truncated)
    );
}

#[test]
fn llc_control_formats_ieee_802_2() {
    // I frame N(S)=3 N(R)=5 P, S frame RR N(R)=7, U frames SABME with P, UA with F.
    let cases: [(&[u8], llc::Control); 4] = [
        (
            &[0xF0, 0xF0, 0x06, 0x0B],
            llc::Control::Information {
                ns: 3,
                nr: 5,
                poll: true,
            },
        ),
        (
            &[0xF0, 0xF1, 0x01, 0x0E],
            llc::Control::Supervisory {
                function: 0,
                nr: 7,
                poll: false,
            },
        ),
        (
            &[0xF0, 0xF0, 0x7F],
            llc::Control::Unnumbered {
                modifier: 0x6F,
                poll: true,
            },
        ),
        (
            &[0xF0, 0xF1, 0x73],
            llc::Control::Unnumbered {
                modifier: 0x63,
                poll: true,
            },
        ),
    ];
    for (bytes, control) in cases {
        let pdu = llc::Pdu::new_checked(bytes).unwrap_or_else(|e| panic!("{bytes:?}: {e}"));
        let repr = llc::Repr::parse(&pdu).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(repr.control, control, "{bytes:?}");
        let mut out = [0u8; 4];
        repr.emit(&mut out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&out[..repr.buffer_len()], bytes, "round trip");
    }
    // An S frame with reserved bits set is refused (found by the fuzz target: it would
    // not emit back to the same octets).
    assert_eq!(
        llc::Pdu::new_checked(&[0xF0, 0xD0, 0x31, 0x7F][..]),
        Err(Error::BadControl(0x31))
    );
    // An I frame needs both control octets.
    assert_eq!(
        llc::Pdu::new_checked(&[0xF0, 0xF0, 0x06][..]),
        Err(Error::Truncated)
    );
}

#[test]
fn netbios_reprs_round_trip() {
    let reprs = [
        netbios::Repr {
            command: Command::NameRecognized,
            data1: 0,
            data2: 0x0102,
            xmit_correlator: 0x1234,
            resp_correlator: 0xBEEF,
            addressing: Addressing::Names {
                dest: netbios::name("alice", 0),
                source: netbios::name("filesrv", 0x20),
            },
        },
        netbios::Repr {
            command: Command::DataOnlyLast,
            data1: 0x08,
            data2: 0,
            xmit_correlator: 0,
            resp_correlator: 7,
            addressing: Addressing::Sessions { dest: 3, source: 9 },
        },
        netbios::Repr {
            command: Command::Unknown(0x05),
            data1: 1,
            data2: 2,
            xmit_correlator: 3,
            resp_correlator: 4,
            addressing: Addressing::Names {
                dest: [0xff; 16],
                source: [0; 16],
            },
        },
    ];
    for r in reprs {
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf).unwrap_or_else(|e| panic!("{e}"));
        let p = netbios::Packet::new_checked(&buf[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(netbios::Repr::parse(&p), Ok(r));
    }
    // Names on a session command cannot be emitted (they would not parse back).
    let bad = netbios::Repr {
        command: Command::SessionAlive,
        ..reprs[0]
    };
    assert!(bad.emit(&mut [0u8; 44]).is_err());
}

#[test]
fn netbios_header_checks_delimiter_and_length() {
    let pdu = name_query_pdu();
    let header = &pdu[3..];
    let mut bad = header.to_vec();
    bad[2] = 0x00;
    assert!(matches!(
        netbios::Packet::new_checked(&bad[..]),
        Err(Error::BadDelimiter(_))
    ));
    let mut bad = header.to_vec();
    bad[0] = 14; // a session-frame length on NAME_QUERY
    assert!(matches!(
        netbios::Packet::new_checked(&bad[..]),
        Err(Error::BadHeaderLength {
            command: 0x0A,
            length: 14
        })
    ));
    // Every truncation of the frame is an error, never a panic.
    for n in 0..pdu.len() {
        assert!(NbfFrame::parse(&pdu[..n]).is_err(), "{n} octets");
    }
}

#[test]
fn non_netbios_saps_are_not_nbf() {
    // IPX over 802.2 (SAP 0xE0) and spanning tree (0x42).
    for pdu in [
        &[0xE0, 0xE0, 0x03, 0xFF, 0xFF][..],
        &[0x42, 0x42, 0x03, 0, 0],
    ] {
        assert!(matches!(
            NbfFrame::parse(pdu),
            Err(NbfError::NotNetbios { .. })
        ));
    }
    // An LLC connection frame (SABME) has no NetBIOS header and is NBF all the same.
    let f = NbfFrame::parse(&[0xF0, 0xF0, 0x7F]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.netbios, None);
}

#[test]
fn mac_addresses_parse_and_print() {
    let mac: MacAddr = "02:4E:42:00:00:0a".parse().unwrap_or_default();
    assert_eq!(mac, MacAddr([2, 0x4e, 0x42, 0, 0, 10]));
    assert_eq!(mac.to_string(), "02:4e:42:00:00:0a");
    assert!(mac.is_local() && !mac.is_group());
    assert!(MacAddr::NETBIOS_MULTICAST.is_group());
    for bad in [
        "",
        "02:00:00:00:00",
        "02:00:00:00:00:00:00",
        "2:0:0:0:0:0",
        "zz:00:00:00:00:00",
    ] {
        assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
    }
}
