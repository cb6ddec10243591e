//! The serial plugin on real ptys, through a test host that owns the ttys (as routerd will):
//! calls coming up and going down, RFC 1662 framing in both directions, ACCM changes.

mod support;

use std::time::Duration;

use dialgate_plugin_host::abi::{
    Direction, FlowControl, LinkDownCause, LinkId, LinkParams, LogLevel, ModemControl, ModemStatus,
    Timestamp,
};
use dialgate_plugin_sdk as sdk;
use dialgate_plugin_sdk::PluginError;
use dialgate_plugin_serial::{HOLD_CAPACITY, REOPEN_DELAY, Serial};
use dialgate_wire::hdlc::{DEFAULT_ACCM, ESCAPE, FLAG};
use nix::sys::termios::{BaudRate, ControlFlags, LocalFlags, cfgetospeed, tcgetattr};
use support::{
    Event, PATIENCE, Pty, PtyHost, Target, answer_config, frames, hdlc, pump, pump_until, unhdlc,
};

/// An LCP Configure-Request with MRU 1500 and ACCM 0 (RFC 1661 §5.1, §6.1; RFC 1662 §7.1).
const LCP_CONF_REQ: &[u8] = &[
    0xFF, 0x03, 0xC0, 0x21, 0x01, 0x01, 0x00, 0x0E, 0x01, 0x04, 0x05, 0xDC, 0x02, 0x06, 0x00, 0x00,
    0x00, 0x00,
];
/// An LCP Configure-Ack of the same (RFC 1661 §5.2).
const LCP_CONF_ACK: &[u8] = &[
    0xFF, 0x03, 0xC0, 0x21, 0x02, 0x01, 0x00, 0x0E, 0x01, 0x04, 0x05, 0xDC, 0x02, 0x06, 0x00, 0x00,
    0x00, 0x00,
];
/// An LCP Terminate-Ack (RFC 1661 §5.4).
const LCP_TERM_ACK: &[u8] = &[0xFF, 0x03, 0xC0, 0x21, 0x06, 0x02, 0x00, 0x04];
/// An IPv4 frame whose payload holds every octet HDLC treats specially: flag, escape and
/// control characters (RFC 1662 §4.2, §7.1).
fn nasty_frame() -> Vec<u8> {
    let mut f = vec![0xFF, 0x03, 0x00, 0x21, 0x45, 0x00];
    f.extend(0x00..0x20);
    f.extend([FLAG, ESCAPE, 0x7F, 0x80, 0xFE, 0xFF, 0x11, 0x13, FLAG, FLAG]);
    f
}

fn link_up_of(events: &[Event]) -> LinkId {
    events
        .iter()
        .find_map(|e| match e {
            Event::LinkUp { link, .. } => Some(*link),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no link up in {events:?}"))
}

/// A started in-process plugin with one answer port on a fresh pty, and its link.
fn answer_port(config: &str) -> (PtyHost, Serial, Pty, LinkId) {
    let pty = Pty::new();
    let host = PtyHost::new();
    let mut serial = host.serial(&config.replace("PTY", &pty.path));
    serial.start(host.clock());
    let link = link_up_of(&host.take_quiet());
    (host, serial, pty, link)
}

#[test]
fn answer_port_on_a_local_line_is_up_once_opened() {
    let pty = Pty::new();
    let host = PtyHost::new();
    let mut serial = host.serial(&format!(
        "[[ports]]\nname = \"p0\"\ndevice = \"{}\"\nspeed = 38400\n",
        pty.path
    ));
    serial.start(host.clock());
    let events = host.take_quiet();
    let [
        Event::Opened {
            handle,
            path,
            speed,
            flow_control,
            local,
            hangup_on_close,
        },
        Event::LinkUp {
            link,
            direction,
            peer,
            called_number,
            speed_bps,
        },
    ] = events.as_slice()
    else {
        panic!("open then link up: {events:?}");
    };
    assert_eq!(path, &pty.path);
    assert_eq!(
        (*speed, *flow_control, *local, *hangup_on_close),
        (38400, FlowControl::None, true, false)
    );
    assert_eq!(
        (
            *link,
            *direction,
            peer.as_str(),
            called_number.as_str(),
            *speed_bps
        ),
        (LinkId(1), Direction::Incoming, pty.path.as_str(), "", 38400)
    );
    assert_eq!(host.handles(), vec![*handle]);
    // The host applied the settings: raw, 38400 bit/s, CLOCAL.
    let t = tcgetattr(&pty.slave).expect("tcgetattr");
    assert_eq!(cfgetospeed(&t), BaudRate::B38400);
    assert!(t.control_flags.contains(ControlFlags::CLOCAL));
    assert!(
        !t.local_flags
            .intersects(LocalFlags::ICANON | LocalFlags::ECHO)
    );
}

#[test]
fn frames_from_the_line_are_delivered_exactly_rfc1662_4() {
    let (host, mut serial, pty, link) = answer_port(&answer_config("PTY"));
    let nasty = nasty_frame();
    let frames_in: Vec<&[u8]> = vec![LCP_CONF_REQ, &nasty, LCP_TERM_ACK];
    // Garbage before the first flag (hunted over), a runt and a frame with a bad FCS between
    // frames, and a frame split across two writes (and so two reads).
    let mut wire = b"line noise\r\n".to_vec();
    wire.extend(hdlc(&frames_in[..1], DEFAULT_ACCM));
    wire.extend([0x55, 0x66, 0x77, FLAG]);
    wire.extend([0xDE, 0xAD, 0xBE, 0xEF, 0xAA, 0xBB, FLAG]);
    wire.extend(hdlc(&frames_in[1..], DEFAULT_ACCM));
    let split = wire.len() - 9;
    let (a, b) = wire.split_at(split);
    pty.write(a);
    let first = pump_until(&host, &mut serial, |e| frames(e).len() == 2);
    pty.write(b);
    let second = pump_until(&host, &mut serial, |e| frames(e).len() == 1);

    let chunks = host.chunks();
    assert!(chunks.len() >= 2, "the frame arrived split: {chunks:?}");
    let got: Vec<(LinkId, Vec<u8>)> = frames(&first).into_iter().chain(frames(&second)).collect();
    let want: Vec<(LinkId, Vec<u8>)> = frames_in.iter().map(|f| (link, f.to_vec())).collect();
    assert_eq!(got, want);
    let (_, stats) = serial.stats().next().expect("one port");
    assert_eq!(stats.rx_frames, 3);
    assert_eq!(
        stats.rx_bytes,
        (LCP_CONF_REQ.len() + nasty.len() + LCP_TERM_ACK.len()) as u64
    );
    assert_eq!(stats.rx_runts, 1);
    assert_eq!(stats.rx_bad_fcs, 1);
    assert_eq!(stats.rx_octets, wire.len() as u64);
}

#[test]
fn every_frame_arrives_intact_in_order() {
    let (host, mut serial, pty, link) = answer_port(&answer_config("PTY"));
    let nasty = nasty_frame();
    let sent: Vec<Vec<u8>> = (0..40u8)
        .map(|i| {
            let mut f = nasty.clone();
            f.push(i);
            f.extend(std::iter::repeat_n(i, usize::from(i) * 7));
            f
        })
        .collect();
    let refs: Vec<&[u8]> = sent.iter().map(Vec::as_slice).collect();
    let wire = hdlc(&refs, DEFAULT_ACCM);
    // Odd-sized writes, so frames straddle reads everywhere.
    for piece in wire.chunks(97) {
        pty.write(piece);
        pump(&host, &mut serial, Duration::from_millis(1));
    }
    let mut got = Vec::new();
    pump_until(&host, &mut serial, |e| {
        got = frames(e);
        got.len() == sent.len()
    });
    assert!(got.iter().all(|(l, _)| *l == link));
    let got: Vec<Vec<u8>> = got.into_iter().map(|(_, f)| f).collect();
    assert_eq!(got, sent);
}

#[test]
fn send_frame_escapes_with_the_send_accm_rfc1662_7_1() {
    let (host, mut serial, pty, link) = answer_port(&answer_config("PTY"));
    let frame = nasty_frame();

    // Default ACCM: every control character escaped, flags and escapes too.
    serial.send_frame(host.clock(), link, &frame);
    let wire = pty.read(PATIENCE, Duration::from_millis(50));
    assert_eq!(wire.first(), Some(&FLAG));
    assert_eq!(wire.last(), Some(&FLAG));
    let inner = wire.get(1..wire.len() - 1).expect("framed");
    assert!(
        inner.iter().all(|b| *b >= 0x20 && *b != FLAG),
        "unescaped special octet in {inner:02x?}"
    );
    assert_eq!(unhdlc(&wire, DEFAULT_ACCM), vec![frame.clone()]);

    // The peer asked for ACCM 0: control characters go out as they are.
    let params = LinkParams {
        tx_accm: 0,
        rx_accm: DEFAULT_ACCM,
    };
    serial.set_link_params(host.clock(), link, params);
    serial.send_frame(host.clock(), link, &frame);
    let wire = pty.read(PATIENCE, Duration::from_millis(50));
    let inner = wire.get(1..wire.len() - 1).expect("framed");
    assert!(inner.contains(&0x01) && inner.contains(&0x11));
    assert!(!inner.contains(&FLAG));
    assert_eq!(unhdlc(&wire, 0), vec![frame.clone()]);
    // Only 0x7D and 0x7E were escaped now (3 + 1 in the payload, FCS aside).
    assert!(wire.len() < frame.len() + 2 + 2 * 2 + 4 + 2);

    // Bit n of the ACCM escapes character n and only that one.
    let params = LinkParams {
        tx_accm: 1 << 0x05,
        rx_accm: DEFAULT_ACCM,
    };
    serial.set_link_params(host.clock(), link, params);
    serial.send_frame(host.clock(), link, &[0xFF, 0x03, 0x00, 0x21, 0x05, 0x06]);
    let wire = pty.read(PATIENCE, Duration::from_millis(50));
    assert!(wire.windows(2).any(|w| w == [ESCAPE, 0x25]), "{wire:02x?}");
    assert!(wire.contains(&0x06));
    let (_, stats) = serial.stats().next().expect("one port");
    assert_eq!(stats.tx_frames, 3);
}

#[test]
fn xonxoff_ports_always_escape_xon_and_xoff_rfc1662_7_1() {
    let (host, mut serial, pty, link) =
        answer_port("[[ports]]\nname = \"p0\"\ndevice = \"PTY\"\nflow_control = \"xonxoff\"\n");
    let params = LinkParams {
        tx_accm: 0,
        rx_accm: 0,
    };
    serial.set_link_params(host.clock(), link, params);
    let frame = nasty_frame();
    serial.send_frame(host.clock(), link, &frame);
    let wire = pty.read(PATIENCE, Duration::from_millis(50));
    assert!(
        !wire.contains(&0x11) && !wire.contains(&0x13),
        "{wire:02x?}"
    );
    assert!(wire.contains(&0x01));
    assert_eq!(unhdlc(&wire, 0), vec![frame]);
}

#[test]
fn the_receive_accm_drops_unescaped_control_characters_rfc1662_7_1() {
    let (host, mut serial, pty, link) = answer_port(&answer_config("PTY"));
    let frame = nasty_frame();
    // Sent without escaping control characters: with the default receive ACCM they are
    // removed as line noise, and the FCS fails.
    pty.write(&hdlc(&[&frame], 0));
    pty.write(&hdlc(&[LCP_TERM_ACK], DEFAULT_ACCM));
    let events = pump_until(&host, &mut serial, |e| !frames(e).is_empty());
    assert_eq!(frames(&events), vec![(link, LCP_TERM_ACK.to_vec())]);
    let (_, stats) = serial.stats().next().expect("one port");
    assert_eq!(stats.rx_bad_fcs, 1);
    assert!(stats.rx_accm_dropped >= 0x20);

    // LCP negotiated ACCM 0 for what we receive: now they are data.
    let params = LinkParams {
        tx_accm: DEFAULT_ACCM,
        rx_accm: 0,
    };
    serial.set_link_params(host.clock(), link, params);
    pty.write(&hdlc(&[&frame], 0));
    let events = pump_until(&host, &mut serial, |e| !frames(e).is_empty());
    assert_eq!(frames(&events), vec![(link, frame)]);
}

/// The peer's LCP opens first and its next frame, sent with the new ACCM, arrives in the same
/// read as the Configure-Ack that opens ours: the plugin holds it until the core has set the
/// new ACCM (RFC 1662 §7.1).
#[test]
fn frames_after_an_lcp_frame_wait_for_the_new_accm_rfc1662_7_1() {
    let (host, mut serial, _pty, link) = answer_port(&answer_config("PTY"));
    let handle = host.handles()[0];
    let frame = nasty_frame();
    let mut chunk = hdlc(&[LCP_CONF_ACK], DEFAULT_ACCM);
    chunk.extend(hdlc(&[&frame], 0));
    // Driven directly, so that both frames are in one chunk for sure.
    serial.on_data(host.clock(), handle, &chunk);
    assert_eq!(
        frames(&host.take_quiet()),
        vec![(link, LCP_CONF_ACK.to_vec())]
    );
    let resume = host.timers();
    assert_eq!(resume.len(), 1, "a resume timer due at once: {resume:?}");
    assert!(resume[0].1 <= host.clock());
    // More bytes while holding are kept in order.
    serial.on_data(host.clock(), handle, &hdlc(&[LCP_TERM_ACK], 0));
    assert!(frames(&host.take_quiet()).is_empty());

    // The core processed the Configure-Ack: LCP is open with ACCM 0 both ways.
    let params = LinkParams {
        tx_accm: 0,
        rx_accm: 0,
    };
    serial.set_link_params(host.clock(), link, params);
    assert_eq!(
        frames(&host.take_quiet()),
        vec![(link, frame.clone()), (link, LCP_TERM_ACK.to_vec())]
    );
    let (_, stats) = serial.stats().next().expect("one port");
    assert_eq!((stats.rx_bad_fcs, stats.rx_overruns), (0, 0));
    // The timer finds nothing left to do.
    support::fire_timers(&host, &mut serial);
    assert!(frames(&host.take_quiet()).is_empty());

    // Without new parameters the timer resumes decoding with the ACCM in force (here the
    // default, so the frame sent with ACCM 0 fails its FCS).
    let (host, mut serial, _pty, link) = answer_port(&answer_config("PTY"));
    let handle = host.handles()[0];
    serial.on_data(host.clock(), handle, &chunk);
    assert_eq!(frames(&host.take_quiet()).len(), 1);
    support::fire_timers(&host, &mut serial);
    assert!(frames(&host.take_quiet()).is_empty());
    let (_, stats) = serial.stats().next().expect("one port");
    assert_eq!(stats.rx_bad_fcs, 1);
    let _ = link;
}

#[test]
fn the_hold_buffer_is_bounded() {
    let (host, mut serial, _pty, _link) = answer_port(&answer_config("PTY"));
    let handle = host.handles()[0];
    let mut chunk = hdlc(&[LCP_CONF_ACK], DEFAULT_ACCM);
    chunk.extend(vec![0x42; 100]);
    serial.on_data(host.clock(), handle, &chunk);
    serial.on_data(host.clock(), handle, &vec![0x42; HOLD_CAPACITY]);
    let (_, stats) = serial.stats().next().expect("one port");
    assert_eq!(stats.rx_overruns, 100);
}

#[test]
fn hangup_is_requested_and_the_port_answers_the_next_configure_request() {
    let (host, mut serial, pty, link) = answer_port(&answer_config("PTY"));
    sdk::Plugin::hangup(&mut serial, host.clock(), link).expect("hangup");
    let events = host.take_quiet();
    assert!(
        matches!(events.as_slice(), [Event::LinkDown(l, LinkDownCause::Requested, _)] if *l == link),
        "{events:?}"
    );
    assert!(matches!(
        sdk::Plugin::send_frame(&mut serial, host.clock(), link, LCP_TERM_ACK),
        Err(PluginError::Unsupported { .. })
    ));

    // A trailing frame of the old call does not start a new one; a Configure-Request does,
    // and is delivered on the new link.
    pty.write(&hdlc(&[LCP_TERM_ACK], DEFAULT_ACCM));
    let deadline = std::time::Instant::now() + Duration::from_millis(300);
    while std::time::Instant::now() < deadline {
        pump(&host, &mut serial, Duration::from_millis(20));
    }
    assert!(host.take_quiet().is_empty());
    pty.write(&hdlc(&[LCP_CONF_REQ, LCP_TERM_ACK], DEFAULT_ACCM));
    let events = pump_until(&host, &mut serial, |e| frames(e).len() == 2);
    let new = link_up_of(&events);
    assert_ne!(new, link);
    assert!(matches!(
        events.first(),
        Some(Event::LinkUp {
            direction: Direction::Incoming,
            ..
        })
    ));
    assert_eq!(
        frames(&events),
        vec![(new, LCP_CONF_REQ.to_vec()), (new, LCP_TERM_ACK.to_vec())]
    );
    let (_, stats) = serial.stats().next().expect("one port");
    assert_eq!((stats.rx_idle_frames, stats.calls), (1, 2));
}

#[test]
fn the_line_hanging_up_is_carrier_loss_and_the_port_is_reopened() {
    let (host, mut serial, pty, link) = answer_port(&answer_config("PTY"));
    let Pty { master, slave, .. } = pty;
    drop(slave);
    drop(master);
    let events = pump_until(&host, &mut serial, |e| {
        e.iter().any(|e| matches!(e, Event::LinkDown(..)))
    });
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::LinkDown(l, LinkDownCause::CarrierLost, _) if *l == link)),
        "{events:?}"
    );
    // A reopen is scheduled (not fired here: the pty's number may already belong to another
    // test's pty; `a_missing_tty_is_retried` covers the retry).
    let timers = host.timers();
    assert_eq!(timers.len(), 1, "{timers:?}");
    assert!(timers[0].1 > host.clock().saturating_add(REOPEN_DELAY / 2));
    assert!(host.handles().is_empty());
}

#[test]
fn modem_lines_follow_dcd() {
    let (pty, host) = (Pty::new(), PtyHost::new());
    let mut serial = host.serial(&format!(
        "[[ports]]\nname = \"m0\"\ndevice = \"{}\"\nlines = \"modem\"\nflow_control = \"rtscts\"\n",
        pty.path
    ));
    serial.start(host.clock());
    let events = host.take_quiet();
    let handle = host.handles()[0];
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::Opened {
                    local: false,
                    hangup_on_close: true,
                    flow_control: FlowControl::Hardware,
                    ..
                },
                Event::ModemControl(
                    _,
                    ModemControl {
                        dtr: true,
                        rts: true
                    }
                )
            ]
        ),
        "{events:?}"
    );
    // Data without carrier is ignored.
    serial.on_data(host.clock(), handle, &hdlc(&[LCP_CONF_REQ], DEFAULT_ACCM));
    assert!(host.take_quiet().is_empty());

    let dcd = |dcd| ModemStatus {
        dcd,
        ..ModemStatus::default()
    };
    serial.on_modem_status(host.clock(), handle, dcd(true));
    let link = link_up_of(&host.take_quiet());
    serial.on_data(host.clock(), handle, &hdlc(&[LCP_CONF_REQ], DEFAULT_ACCM));
    assert_eq!(
        frames(&host.take_quiet()),
        vec![(link, LCP_CONF_REQ.to_vec())]
    );
    serial.on_modem_status(host.clock(), handle, dcd(false));
    let events = host.take_quiet();
    assert!(
        matches!(events.as_slice(), [Event::LinkDown(l, LinkDownCause::CarrierLost, _)] if *l == link),
        "{events:?}"
    );

    // The next call; the core hangs it up: DTR drops for a second, then comes back.
    serial.on_modem_status(host.clock(), handle, dcd(true));
    let link = link_up_of(&host.take_quiet());
    sdk::Plugin::hangup(&mut serial, host.clock(), link).expect("hangup");
    let events = host.take_quiet();
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::LinkDown(_, LinkDownCause::Requested, _),
                Event::ModemControl(_, ModemControl { dtr: false, .. })
            ]
        ),
        "{events:?}"
    );
    support::fire_timers(&host, &mut serial);
    assert!(host.take_quiet().is_empty(), "DTR stays low for a while");
    host.advance(Duration::from_secs(1));
    support::fire_timers(&host, &mut serial);
    assert_eq!(
        host.take_quiet(),
        vec![Event::ModemControl(
            handle,
            ModemControl {
                dtr: true,
                rts: true
            }
        )]
    );
}

#[test]
fn dial_ports_come_up_after_dial_returns() {
    let (pty, host) = (Pty::new(), PtyHost::new());
    let mut serial = host.serial(&format!(
        "[[ports]]\nname = \"out\"\ndevice = \"{}\"\nrole = \"dial\"\nnumber = \"5551234\"\n",
        pty.path
    ));
    serial.start(host.clock());
    assert!(
        !host
            .take_quiet()
            .iter()
            .any(|e| matches!(e, Event::LinkUp { .. })),
        "a dial port waits for dial()"
    );
    assert!(matches!(
        sdk::Plugin::dial(&mut serial, host.clock(), "in"),
        Err(PluginError::Unsupported { message }) if message.contains("`in`") && message.contains("out")
    ));
    let link = sdk::Plugin::dial(&mut serial, host.clock(), "out").expect("dial");
    assert!(
        host.take_quiet().is_empty(),
        "link up follows dial's return"
    );
    assert!(matches!(
        sdk::Plugin::dial(&mut serial, host.clock(), ""),
        Err(PluginError::Failed { message }) if message.contains("no idle dial port")
    ));
    support::fire_timers(&host, &mut serial);
    let events = host.take_quiet();
    assert_eq!(
        events,
        vec![Event::LinkUp {
            link,
            direction: Direction::Outgoing,
            peer: pty.path.clone(),
            called_number: "5551234".into(),
            speed_bps: 115_200,
        }]
    );
    serial.send_frame(host.clock(), link, LCP_CONF_REQ);
    let wire = pty.read(PATIENCE, Duration::from_millis(50));
    assert_eq!(unhdlc(&wire, DEFAULT_ACCM), vec![LCP_CONF_REQ.to_vec()]);
    sdk::Plugin::hangup(&mut serial, host.clock(), link).expect("hangup");
    let next = sdk::Plugin::dial(&mut serial, host.clock(), "").expect("the port is idle again");
    assert!(next.0 > link.0);
}

#[test]
fn a_modem_dial_without_carrier_times_out() {
    let (pty, host) = (Pty::new(), PtyHost::new());
    let mut serial = host.serial(&format!(
        "[[ports]]\nname = \"out\"\ndevice = \"{}\"\nrole = \"dial\"\nlines = \"modem\"\n\
         dial_timeout_secs = 30\n",
        pty.path
    ));
    serial.start(host.clock());
    host.take();
    let link = sdk::Plugin::dial(&mut serial, host.clock(), "out").expect("dial");
    host.advance(Duration::from_secs(29));
    support::fire_timers(&host, &mut serial);
    assert!(
        !host
            .take_quiet()
            .iter()
            .any(|e| matches!(e, Event::LinkDown(..)))
    );
    host.advance(Duration::from_secs(1));
    support::fire_timers(&host, &mut serial);
    let events = host.take_quiet();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::LinkDown(l, LinkDownCause::Timeout, m) if *l == link && m.contains("30 s"))),
        "{events:?}"
    );
}

#[test]
fn stop_ends_calls_closes_ttys_and_logs_the_counters() {
    let (host, mut serial, pty, link) = answer_port(&answer_config("PTY"));
    pty.write(&hdlc(&[LCP_CONF_REQ], DEFAULT_ACCM));
    pump_until(&host, &mut serial, |e| frames(e).len() == 1);
    let handle = host.handles()[0];
    serial.stop(host.clock());
    let events = host.take();
    assert!(events.contains(&Event::LinkDown(
        link,
        LinkDownCause::Requested,
        "serial plugin stopped".into()
    )));
    assert!(events.contains(&Event::Closed(handle)));
    assert!(
        events.iter().any(|e| matches!(e, Event::Log(LogLevel::Info, m)
            if m.starts_with("port p0: stopped;") && m.contains(" rx_frames=1 ") && m.contains(" calls=1"))),
        "{events:?}"
    );
    assert!(host.timers().is_empty());
    assert!(host.handles().is_empty());
}

#[test]
fn a_host_that_denies_the_tty_fails_start_naming_the_port() {
    let pty = Pty::new();
    let host = PtyHost::new();
    host.0.denied.lock().expect("lock").push(pty.path.clone());
    let mut serial = host.serial(&answer_config(&pty.path));
    let err = sdk::Plugin::start(&mut serial, host.clock()).expect_err("denied");
    assert!(
        matches!(&err, PluginError::Failed { message } if message.contains("port p0") && message.contains(&pty.path)),
        "{err:?}"
    );
}

#[test]
fn a_missing_tty_is_retried() {
    let host = PtyHost::new();
    let mut serial = host.serial(&answer_config("/dev/no-such-tty-for-dialgate"));
    serial.start(Timestamp::ZERO);
    let events = host.take();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Log(LogLevel::Warn, m) if m.contains("retrying"))),
        "{events:?}"
    );
    assert_eq!(host.timers().len(), 1);
    // Retried every REOPEN_DELAY; only the first failure is a warning.
    host.advance(REOPEN_DELAY);
    support::fire_timers(&host, &mut serial);
    let events = host.take();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Log(LogLevel::Warn, _))),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Log(LogLevel::Debug, m) if m.contains("retrying")))
    );
    assert_eq!(host.timers().len(), 1);
}

#[test]
fn busy_writes_drop_the_frame_and_count_it() {
    let (host, mut serial, _pty, link) = answer_port(&answer_config("PTY"));
    host.0
        .write_busy
        .store(true, std::sync::atomic::Ordering::Relaxed);
    serial.send_frame(host.clock(), link, LCP_CONF_REQ);
    let (_, stats) = serial.stats().next().expect("one port");
    assert_eq!((stats.tx_busy, stats.tx_frames), (1, 0));
    // A frame larger than the port's MRU allows is refused.
    let huge = vec![0x21; 1500 + 5];
    assert!(sdk::Plugin::send_frame(&mut serial, host.clock(), link, &huge).is_err());
}
