use super::*;

/// A control message of type `message_type` with `body`, Length computed.
fn message(message_type: u16, body: &[u8]) -> Vec<u8> {
    let mut m = ((HEADER_LEN + body.len()) as u16).to_be_bytes().to_vec();
    m.extend(CONTROL_MESSAGE.to_be_bytes());
    m.extend(MAGIC_COOKIE.to_be_bytes());
    m.extend(message_type.to_be_bytes());
    m.extend([0, 0]);
    m.extend_from_slice(body);
    m
}

fn padded<const N: usize>(text: &[u8]) -> [u8; N] {
    let mut a = [0; N];
    a[..text.len()].copy_from_slice(text);
    a
}

/// Parses, re-emits byte-identically (both `emit` and `push`), and returns the Repr.
fn round_trip(bytes: &[u8]) -> Repr {
    let repr = Repr::parse(bytes).unwrap();
    assert_eq!(repr.buffer_len(), bytes.len());
    let mut buf = vec![0xee; bytes.len() + 3];
    assert_eq!(repr.emit(&mut buf), Ok(bytes.len()));
    assert_eq!(&buf[..bytes.len()], bytes);
    let mut out = vec![1, 2];
    repr.push(&mut out).unwrap();
    assert_eq!(&out[2..], bytes);
    assert!(Packet::new_checked(bytes).unwrap().reserved_is_zero());
    repr
}

/// pptp-linux 1.10.0's Start-Control-Connection-Request (reference captures, frame 6).
fn pptp_linux_sccrq() -> Vec<u8> {
    let mut body = vec![0x01, 0x00, 0, 0, 0, 0, 0, 3, 0, 0, 0, 3, 0xff, 0xff, 0, 1];
    body.extend(padded::<64>(b"local"));
    body.extend(padded::<64>(b"cananian"));
    message(1, &body)
}

#[test]
fn start_control_connection_request_rfc2637_2_1() {
    let bytes = pptp_linux_sccrq();
    assert_eq!(bytes.len(), 156);
    let Repr::StartControlConnectionRequest(m) = round_trip(&bytes) else {
        panic!("not an SCCRQ");
    };
    assert_eq!(m.protocol_version, PROTOCOL_VERSION);
    assert_eq!(
        m.framing_capabilities,
        FramingCapabilities::ASYNCHRONOUS | FramingCapabilities::SYNCHRONOUS
    );
    assert!(m.bearer_capabilities.contains(BearerCapabilities::DIGITAL));
    assert_eq!((m.maximum_channels, m.firmware_revision), (0xffff, 1));
    assert_eq!(m.host_name.trimmed(), b"local");
    assert_eq!(m.vendor.to_str(), Some("cananian"));
    assert_eq!(
        Repr::from(m).message_type(),
        MessageType::StartControlConnectionRequest
    );
}

#[test]
fn start_control_connection_reply_rfc2637_2_2() {
    let mut body = vec![0x01, 0x00, 2, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0x12, 0x34];
    body.extend(padded::<64>(b"pptpd"));
    body.extend(padded::<64>(b"linux"));
    let bytes = message(2, &body);
    let Repr::StartControlConnectionReply(m) = round_trip(&bytes) else {
        panic!("not an SCCRP");
    };
    assert_eq!(m.result, StartResult::GeneralError);
    assert_eq!(m.error, GeneralError::NoResource);
    assert_eq!(m.framing_capabilities, FramingCapabilities::ASYNCHRONOUS);
    assert_eq!(m.bearer_capabilities, BearerCapabilities::DIGITAL);
    assert_eq!((m.maximum_channels, m.firmware_revision), (1, 0x1234));
    assert_eq!(m.host_name.to_string(), "pptpd");

    // Every Result Code of §2.2 and an unknown one.
    for (code, result) in [
        (1, StartResult::Success),
        (2, StartResult::GeneralError),
        (3, StartResult::AlreadyExists),
        (4, StartResult::NotAuthorized),
        (5, StartResult::UnsupportedVersion),
        (6, StartResult::Unknown(6)),
    ] {
        let mut b = bytes.clone();
        b[14] = code;
        let Repr::StartControlConnectionReply(m) = round_trip(&b) else {
            panic!()
        };
        assert_eq!(m.result, result);
        assert_eq!(u8::from(result), code);
    }
}

#[test]
fn stop_control_connection_rfc2637_2_3_and_2_4() {
    let request = message(3, &[3, 0, 0, 0]);
    assert_eq!(
        round_trip(&request),
        Repr::StopControlConnectionRequest(StopControlConnectionRequest {
            reason: StopReason::LocalShutdown
        })
    );
    let reply = message(4, &[2, 1, 0, 0]);
    assert_eq!(
        round_trip(&reply),
        Repr::StopControlConnectionReply(StopControlConnectionReply {
            result: StopResult::GeneralError,
            error: GeneralError::NotConnected,
        })
    );
    for (code, reason) in [
        (1, StopReason::None),
        (2, StopReason::StopProtocol),
        (9, StopReason::Unknown(9)),
    ] {
        assert_eq!(
            round_trip(&message(3, &[code, 0, 0, 0])),
            Repr::StopControlConnectionRequest(StopControlConnectionRequest { reason })
        );
    }
}

#[test]
fn echo_rfc2637_2_5_and_2_6() {
    let request = message(5, &[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(
        round_trip(&request),
        Repr::EchoRequest(EchoRequest {
            identifier: 0xdead_beef
        })
    );
    let reply = message(6, &[0, 0, 0, 7, 1, 0, 0, 0]);
    assert_eq!(reply.len(), 20);
    assert_eq!(
        round_trip(&reply),
        Repr::EchoReply(EchoReply {
            identifier: 7,
            result: EchoResult::Ok,
            error: GeneralError::None,
        })
    );
}

#[test]
fn general_error_codes_rfc2637_2_16() {
    for (code, e) in [
        (0, GeneralError::None),
        (1, GeneralError::NotConnected),
        (2, GeneralError::BadFormat),
        (3, GeneralError::BadValue),
        (4, GeneralError::NoResource),
        (5, GeneralError::BadCallId),
        (6, GeneralError::PacError),
        (7, GeneralError::Unknown(7)),
    ] {
        assert_eq!(GeneralError::from(code), e);
        assert_eq!(u8::from(e), code);
    }
    assert_eq!(Error::BadCookie(0).general_error(), GeneralError::BadFormat);
}

#[test]
fn header_view_rfc2637_2() {
    let bytes = pptp_linux_sccrq();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.length(), 156);
    assert_eq!(p.pptp_type(), 1);
    assert_eq!(p.magic_cookie(), 0x1a2b_3c4d);
    assert_eq!(p.message_type(), MessageType::StartControlConnectionRequest);
    assert_eq!(p.reserved0(), 0);
    assert_eq!(p.body(), &bytes[12..]);
    assert_eq!(p.as_bytes(), &bytes[..]);
    assert_eq!(p.into_inner(), &bytes[..]);
}

#[test]
fn hostile_headers_rfc2637_2() {
    let good = message(5, &[0, 0, 0, 1]);
    assert!(Packet::new_checked(&good[..]).is_ok());

    assert_eq!(Repr::parse(&good[..11]), Err(Error::Truncated));
    assert_eq!(Repr::parse(&[]), Err(Error::Truncated));
    // Length 16 but only 15 octets.
    assert_eq!(Repr::parse(&good[..15]), Err(Error::Truncated));

    let mut b = good.clone();
    b[3] = 2; // management message type
    assert_eq!(Repr::parse(&b), Err(Error::BadPptpType(2)));

    let mut b = good.clone();
    b[7] = 0x4e;
    assert_eq!(Repr::parse(&b), Err(Error::BadCookie(0x1a2b_3c4e)));

    for t in [0u16, 16, 0xffff] {
        let b = message(t, &[0, 0, 0, 1]);
        assert_eq!(Repr::parse(&b), Err(Error::UnknownType(t)));
        assert_eq!(Packet::new_checked(&b).err(), Some(Error::UnknownType(t)));
    }

    // Length one off the fixed length, in both directions, with the octets present.
    for length in [15u16, 17, 0, 11, 12, 0xffff] {
        let mut b = good.clone();
        b.resize(40, 0);
        b[..2].copy_from_slice(&length.to_be_bytes());
        assert_eq!(
            Repr::parse(&b),
            Err(Error::BadLength {
                message_type: MessageType::EchoRequest,
                length
            }),
            "Length {length}"
        );
    }

    // Octets after Length belong to the next message and are ignored.
    let mut b = good.clone();
    b.extend([0xaa; 5]);
    assert_eq!(Repr::parse(&b), Repr::parse(&good));
    assert_eq!(Packet::new_checked(&b[..]).unwrap().as_bytes(), &good[..]);
}

#[test]
fn every_type_has_its_fixed_length_rfc2637_2() {
    let lens = [
        156, 156, 16, 16, 16, 20, 168, 32, 220, 24, 28, 16, 148, 40, 24,
    ];
    for (t, len) in (1u16..=15).zip(lens) {
        assert_eq!(MessageType::from(t).fixed_len(), Some(len), "type {t}");
        assert_eq!(u16::from(MessageType::from(t)), t);
    }
    assert_eq!(MessageType::from(16).fixed_len(), None);
    assert_eq!(lens.iter().max(), Some(&MAX_MESSAGE_LEN));
}

#[test]
fn reserved_fields_ignored_but_reported_rfc2637_2() {
    // Reserved0 set.
    let mut b = message(5, &[0, 0, 0, 1]);
    b[11] = 1;
    assert!(Repr::parse(&b).is_ok());
    assert!(!Packet::new_checked(&b).unwrap().reserved_is_zero());
    // Reserved1 of Stop-Control-Connection-Request set: parsed, emitted as zero.
    let b = message(3, &[1, 0, 0, 9]);
    let repr = Repr::parse(&b).unwrap();
    assert!(!Packet::new_checked(&b).unwrap().reserved_is_zero());
    let mut out = Vec::new();
    repr.push(&mut out).unwrap();
    assert_eq!(out, message(3, &[1, 0, 0, 0]));
    assert_eq!(Repr::parse(&out), Ok(repr));
}

#[test]
fn stream_framing_rfc2637_2() {
    let a = message(5, &[0, 0, 0, 1]);
    let b = pptp_linux_sccrq();
    let mut stream = a.clone();
    stream.extend(&b);
    assert_eq!(message_len(&stream), Ok(Some(16)));
    assert_eq!(message_len(&stream[16..]), Ok(Some(156)));
    assert_eq!(message_len(&stream[16..100]), Ok(None));
    assert_eq!(message_len(&stream[..11]), Ok(None));
    assert_eq!(message_len(&[]), Ok(None));
    // An unknown type is framed by its Length so it can be skipped ...
    let unknown = message(99, &[0; 8]);
    assert_eq!(message_len(&unknown), Ok(Some(20)));
    // ... unless the Length is absurd.
    let mut big = message(99, &[0; 8]);
    big[..2].copy_from_slice(&221u16.to_be_bytes());
    assert!(matches!(message_len(&big), Err(Error::BadLength { .. })));
    let mut bad = a.clone();
    bad[4] = 0;
    assert_eq!(message_len(&bad), Err(Error::BadCookie(0x002b_3c4d)));
}

#[test]
fn emit_into_short_buffer() {
    let repr = Repr::from(EchoRequest { identifier: 1 });
    assert_eq!(repr.emit(&mut [0; 15]), Err(Error::BufferTooSmall));
    assert_eq!(repr.emit(&mut [0; 16]), Ok(16));
}

#[test]
fn fixed_strings_rfc2637_2_1() {
    let s = FixedStr::<4>::new(b"ab").unwrap();
    assert_eq!(s.as_array(), b"ab\0\0");
    assert_eq!(s.trimmed(), b"ab");
    assert_eq!(format!("{s:?}"), "\"ab\"");
    assert!(FixedStr::<4>::new(b"abcde").is_none());
    assert_eq!(FixedStr::<4>::new_truncated(b"abcde").as_array(), b"abcd");
    // No NUL at all: the whole field.
    let full = FixedStr::from_array(*b"abcd");
    assert_eq!(full.trimmed(), b"abcd");
    // Non-UTF-8 never panics.
    let odd = FixedStr::from_array([0xff, 0xfe, 0, 7]);
    assert_eq!(odd.trimmed(), &[0xff, 0xfe]);
    assert_eq!(odd.to_str(), None);
    assert_eq!(odd.to_string_lossy(), "\u{fffd}\u{fffd}");
    // Octets after the NUL are kept (and shown).
    assert!(format!("{odd:?}").contains("octets"));
    assert!(FixedStr::<4>::empty().is_empty());
    assert_eq!(FixedStr::<64>::default(), FixedStr::<64>::empty());
}

/// pptp-linux 1.10.0's Outgoing-Call-Request (reference captures, frame 10).
fn pptp_linux_ocrq() -> Vec<u8> {
    let mut body = vec![
        0x80, 0x2f, 0, 0, // Call ID, Call Serial Number
        0, 0, 0x09, 0x60, 0, 0x98, 0x96, 0x80, // Minimum BPS 2400, Maximum BPS 10^7
        0, 0, 0, 3, 0, 0, 0, 3, // Bearer Type, Framing Type: any
        0, 3, 0, 0, 0, 0, 0, 0, // window 3, delay 0, Phone Number Length 0, Reserved1
    ];
    body.extend([0; 128]);
    message(7, &body)
}

#[test]
fn outgoing_call_request_rfc2637_2_7() {
    let Repr::OutgoingCallRequest(m) = round_trip(&pptp_linux_ocrq()) else {
        panic!("not an OCRQ");
    };
    assert_eq!((m.call_id, m.call_serial_number), (0x802f, 0));
    assert_eq!((m.minimum_bps, m.maximum_bps), (2400, 10_000_000));
    assert_eq!(
        (m.bearer_type, m.framing_type),
        (BearerType::Any, FramingType::Any)
    );
    assert_eq!((m.receive_window, m.processing_delay), (3, 0));
    assert_eq!(m.phone_number(), b"");

    // A number to dial, a subaddress, and other codes, at the offsets of §2.7.
    let mut body = vec![0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2];
    body.extend([0, 64, 0, 5, 0, 4, 0, 0]);
    body.extend(padded::<64>(b"5551234"));
    body.extend(padded::<64>(b"sub"));
    let Repr::OutgoingCallRequest(m) = round_trip(&message(7, &body)) else {
        panic!()
    };
    assert_eq!((m.call_id, m.call_serial_number), (1, 2));
    assert_eq!((m.minimum_bps, m.maximum_bps), (3, 4));
    assert_eq!(m.bearer_type, BearerType::Analog);
    assert_eq!(m.framing_type, FramingType::Synchronous);
    assert_eq!((m.receive_window, m.processing_delay), (64, 5));
    // Phone Number Length counts, not the NUL.
    assert_eq!(m.phone_number(), b"5551");
    assert_eq!(m.phone_number.trimmed(), b"5551234");
    assert_eq!(m.subaddress.trimmed(), b"sub");
    // A Phone Number Length beyond the field is clamped.
    let huge = OutgoingCallRequest {
        phone_number_len: 1000,
        ..m
    };
    assert_eq!(huge.phone_number().len(), 64);
    assert_eq!(BearerType::from(9), BearerType::Unknown(9));
    assert_eq!(FramingType::from(0), FramingType::Unknown(0));
}

#[test]
fn outgoing_call_reply_rfc2637_2_8() {
    // pptpd 1.4.0's answer to the request above: Call ID 0 (reference captures, frame 12).
    let body = [
        0, 0, 0x80, 0x2f, 1, 0, 0, 0, 0, 0x98, 0x96, 0x80, 0, 3, 0, 0, 0, 0, 0, 0,
    ];
    let bytes = message(8, &body);
    assert_eq!(bytes.len(), 32);
    let Repr::OutgoingCallReply(m) = round_trip(&bytes) else {
        panic!("not an OCRP");
    };
    assert_eq!(
        m,
        OutgoingCallReply {
            call_id: 0,
            peer_call_id: 0x802f,
            result: OutgoingCallResult::Connected,
            error: GeneralError::None,
            cause_code: 0,
            connect_speed: 10_000_000,
            receive_window: 3,
            processing_delay: 0,
            physical_channel_id: 0,
        }
    );
    let other = [
        0, 7, 0, 9, 2, 5, 0x12, 0x34, 0, 0, 0, 1, 0, 2, 0, 3, 0xca, 0xfe, 0xba, 0xbe,
    ];
    let Repr::OutgoingCallReply(m) = round_trip(&message(8, &other)) else {
        panic!()
    };
    assert_eq!((m.call_id, m.peer_call_id), (7, 9));
    assert_eq!(m.result, OutgoingCallResult::GeneralError);
    assert_eq!(m.error, GeneralError::BadCallId);
    assert_eq!((m.cause_code, m.connect_speed), (0x1234, 1));
    assert_eq!((m.receive_window, m.processing_delay), (2, 3));
    assert_eq!(m.physical_channel_id, 0xcafe_babe);
    for (code, result) in [
        (1, OutgoingCallResult::Connected),
        (2, OutgoingCallResult::GeneralError),
        (3, OutgoingCallResult::NoCarrier),
        (4, OutgoingCallResult::Busy),
        (5, OutgoingCallResult::NoDialTone),
        (6, OutgoingCallResult::TimeOut),
        (7, OutgoingCallResult::DoNotAccept),
        (8, OutgoingCallResult::Unknown(8)),
    ] {
        assert_eq!(OutgoingCallResult::from(code), result);
        assert_eq!(u8::from(result), code);
    }
}

#[test]
fn incoming_call_request_rfc2637_2_9() {
    let mut body = vec![0x12, 0x34, 0, 9, 0, 0, 0, 2, 0, 0, 0, 42, 0, 3, 0, 7];
    body.extend(padded::<64>(b"100"));
    body.extend(padded::<64>(b"5551234"));
    body.extend(padded::<64>(b"x"));
    let bytes = message(9, &body);
    assert_eq!(bytes.len(), 220);
    let Repr::IncomingCallRequest(m) = round_trip(&bytes) else {
        panic!("not an ICRQ");
    };
    assert_eq!((m.call_id, m.call_serial_number), (0x1234, 9));
    assert_eq!(m.bearer_type, BearerType::Digital);
    assert_eq!(m.physical_channel_id, 42);
    assert_eq!(m.dialed_number(), b"100");
    assert_eq!(m.dialing_number(), b"5551234");
    assert_eq!(m.subaddress.to_str(), Some("x"));
}

#[test]
fn incoming_call_reply_rfc2637_2_10() {
    let bytes = message(10, &[0, 5, 0x12, 0x34, 1, 0, 0, 64, 0, 2, 0, 0]);
    assert_eq!(bytes.len(), 24);
    assert_eq!(
        round_trip(&bytes),
        Repr::IncomingCallReply(IncomingCallReply {
            call_id: 5,
            peer_call_id: 0x1234,
            result: IncomingCallResult::Connect,
            error: GeneralError::None,
            receive_window: 64,
            transmit_delay: 2,
        })
    );
    for (code, result) in [
        (1, IncomingCallResult::Connect),
        (2, IncomingCallResult::GeneralError),
        (3, IncomingCallResult::DoNotAccept),
        (4, IncomingCallResult::Unknown(4)),
    ] {
        assert_eq!(IncomingCallResult::from(code), result);
        assert_eq!(u8::from(result), code);
    }
}

#[test]
fn incoming_call_connected_rfc2637_2_11() {
    let bytes = message(11, &[0, 5, 0, 0, 0, 0, 0xfa, 0, 0, 16, 0, 1, 0, 0, 0, 1]);
    assert_eq!(bytes.len(), 28);
    assert_eq!(
        round_trip(&bytes),
        Repr::IncomingCallConnected(IncomingCallConnected {
            peer_call_id: 5,
            connect_speed: 64_000,
            receive_window: 16,
            transmit_delay: 1,
            framing_type: FramingType::Asynchronous,
        })
    );
}

#[test]
fn call_clear_request_rfc2637_2_12() {
    // pptp-linux's last message before closing TCP (reference captures).
    let bytes = message(12, &[0x80, 0x2f, 0, 0]);
    assert_eq!(
        round_trip(&bytes),
        Repr::CallClearRequest(CallClearRequest { call_id: 0x802f })
    );
}

#[test]
fn call_disconnect_notify_rfc2637_2_13() {
    let mut body = vec![0, 7, 4, 0, 0, 16, 0, 0];
    body.extend(padded::<128>(b"rx 10 tx 12"));
    let bytes = message(13, &body);
    assert_eq!(bytes.len(), 148);
    let Repr::CallDisconnectNotify(m) = round_trip(&bytes) else {
        panic!("not a CDN");
    };
    assert_eq!(m.call_id, 7);
    assert_eq!(m.result, DisconnectResult::Request);
    assert_eq!(m.error, GeneralError::None);
    assert_eq!(m.cause_code, 16);
    assert_eq!(m.call_statistics.trimmed(), b"rx 10 tx 12");
    for (code, result) in [
        (1, DisconnectResult::LostCarrier),
        (2, DisconnectResult::GeneralError),
        (3, DisconnectResult::AdminShutdown),
        (4, DisconnectResult::Request),
        (0, DisconnectResult::Unknown(0)),
    ] {
        assert_eq!(DisconnectResult::from(code), result);
        assert_eq!(u8::from(result), code);
    }
}

#[test]
fn wan_error_notify_rfc2637_2_14() {
    let body = [
        0, 9, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6,
    ];
    let bytes = message(14, &body);
    assert_eq!(bytes.len(), 40);
    assert_eq!(
        round_trip(&bytes),
        Repr::WanErrorNotify(WanErrorNotify {
            peer_call_id: 9,
            crc_errors: 1,
            framing_errors: 2,
            hardware_overruns: 3,
            buffer_overruns: 4,
            timeout_errors: 5,
            alignment_errors: 6,
        })
    );
}

#[test]
fn set_link_info_rfc2637_2_15() {
    let bytes = message(15, &[0, 9, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    assert_eq!(bytes.len(), 24);
    assert_eq!(
        round_trip(&bytes),
        Repr::SetLinkInfo(SetLinkInfo {
            peer_call_id: 9,
            send_accm: 0xffff_ffff,
            receive_accm: 0,
        })
    );
}

#[test]
fn every_message_type_parses_with_zero_body_rfc2637_2() {
    for t in 1u16..=15 {
        let len = MessageType::from(t).fixed_len().unwrap();
        let bytes = message(t, &vec![0; len - HEADER_LEN]);
        let repr = round_trip(&bytes);
        assert_eq!(repr.message_type(), MessageType::from(t));
        assert!(
            !MessageType::from(t)
                .to_string()
                .starts_with("Control-Message-Type")
        );
        // One octet short of the fixed length (and the octets present) is a bad length.
        let mut short = bytes.clone();
        short[..2].copy_from_slice(&((len - 1) as u16).to_be_bytes());
        assert!(matches!(Repr::parse(&short), Err(Error::BadLength { .. })));
    }
}
