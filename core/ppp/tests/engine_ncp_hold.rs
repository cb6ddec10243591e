//! Network-layer NCPs wait for CCP/MPPE when encryption is required (RFC 3078 §3, RFC 1968
//! §2.1), against a model of Linux pppd: pppd with `require-mppe` opens IPCP only once CCP
//! is up, and until then its IPCP sits in Closed, where a Configure-Request is answered with
//! Terminate-Ack (RFC 1661 §4.1 state table, Closed row). An IPCP Configure-Request sent
//! before the peer's CCP opened is thus lost and costs a full restart timer (3 s).

mod common;

use std::time::Duration;

use common::{Link, Side, client, server};
use dialgate_ppp::{Engine, Protocol};
use dialgate_wire::ppp::Header;

const SECOND: Duration = Duration::from_secs(1);

/// What the pppd model did.
#[derive(Debug, Default)]
struct PppdModel {
    /// IPCP Configure-Requests the model answered with Terminate-Ack (its CCP was not open).
    terminated: u32,
}

/// Whether `frame` is an IPCP Configure-Request; returns its identifier.
fn ipcp_configure_request(frame: &[u8]) -> Option<u8> {
    let (header, info) = Header::parse(frame).ok()?;
    match info {
        [1, id, ..] if header.protocol == Protocol::IPCP => Some(*id),
        _ => None,
    }
}

fn deliver(engine: &mut Engine, now: std::time::Instant, frame: &[u8]) {
    let mut buf = frame.to_vec();
    let _ = engine.handle_frame(now, &mut buf);
}

/// Move frames until both sides are quiet. `model` plays pppd: while its MPPE is not up, an
/// IPCP Configure-Request sent to it is answered with Terminate-Ack instead of delivered.
fn exchange(link: &mut Link, model: Side, pppd: &mut PppdModel) {
    for _ in 0..1000 {
        let mut moved = 0;
        for side in [Side::A, Side::B] {
            let mut buf = Vec::new();
            while link.engine(side).poll_transmit(&mut buf) {
                moved += 1;
                link.trace.push((side, buf.clone()));
                let now = link.now;
                let early = side != model && link.engine(model).mppe().is_none();
                match ipcp_configure_request(&buf) {
                    Some(id) if early => {
                        pppd.terminated += 1;
                        let ack = [0xff, 0x03, 0x80, 0x21, 6, id, 0, 4];
                        deliver(link.engine(side), now, &ack);
                    }
                    _ => deliver(link.engine(side.other()), now, &buf),
                }
            }
        }
        link.collect_events();
        if moved == 0 {
            break;
        }
    }
}

/// Run on the virtual clock until both sides report IPCP up (or `limit`); returns whether
/// they did.
fn run_to_ipcp(link: &mut Link, model: Side, pppd: &mut PppdModel, limit: Duration) -> bool {
    link.open_both();
    let end = link.start + limit;
    loop {
        exchange(link, model, pppd);
        if link.network_up(Side::A, Protocol::IPCP) && link.network_up(Side::B, Protocol::IPCP) {
            return true;
        }
        let Some(deadline) = link.next_deadline().filter(|d| *d <= end) else {
            return false;
        };
        link.now = link.now.max(deadline);
        let now = link.now;
        link.a.handle_timeout(now);
        link.b.handle_timeout(now);
        link.collect_events();
    }
}

/// Our server (`A`) against a pppd-like client (`B`): no IPCP reaches the client before its
/// CCP is open, and IPCP opens with no retransmission (well under the 3 s restart timer).
#[test]
fn rfc3078_3_server_ipcp_waits_for_ccp_against_pppd_client() {
    let mut link = Link::new(server(11), client(12, "alice", "correct horse"));
    let mut pppd = PppdModel::default();
    assert!(
        run_to_ipcp(&mut link, Side::B, &mut pppd, 60 * SECOND),
        "{:#?}",
        link.events
    );
    assert!(link.elapsed() < SECOND, "took {:?}", link.elapsed());
    assert_eq!(pppd.terminated, 0, "IPCP sent before the peer's CCP opened");
    assert!(link.a.mppe().is_some() && link.b.mppe().is_some());
}

/// Our client (`B`) against a pppd-like server (`A`).
#[test]
fn rfc3078_3_client_ipcp_waits_for_ccp_against_pppd_server() {
    let mut link = Link::new(server(13), client(14, "alice", "correct horse"));
    let mut pppd = PppdModel::default();
    assert!(
        run_to_ipcp(&mut link, Side::A, &mut pppd, 60 * SECOND),
        "{:#?}",
        link.events
    );
    assert!(link.elapsed() < SECOND, "took {:?}", link.elapsed());
    assert_eq!(pppd.terminated, 0, "IPCP sent before the peer's CCP opened");
}

/// No IPCP packet leaves either engine before that engine's CCP is open and MPPE keyed: in
/// the trace, each side's first IPCP frame follows a CCP exchange that opened it.
#[test]
fn rfc3078_3_no_ipcp_before_ccp_opened_back_to_back() {
    let mut link = Link::new(server(15), client(16, "alice", "correct horse"));
    link.open_both();
    assert!(link.run_until(60 * SECOND, |l| {
        l.network_up(Side::A, Protocol::IPCP) && l.network_up(Side::B, Protocol::IPCP)
    }));
    assert_eq!(link.elapsed(), Duration::ZERO, "no retransmission needed");
    for side in [Side::A, Side::B] {
        let first_ipcp = link.trace.iter().position(|(s, f)| {
            *s == side && Header::parse(f).is_ok_and(|(h, _)| h.protocol == Protocol::IPCP)
        });
        let first_ipcp = first_ipcp.expect("IPCP sent");
        // Both CCP Configure-Acks (one each way) precede it: CCP had opened on this side.
        let acks = link.trace[..first_ipcp]
            .iter()
            .filter(|(_, f)| {
                Header::parse(f)
                    .is_ok_and(|(h, i)| h.protocol == Protocol::CCP && i.first() == Some(&2))
            })
            .count();
        assert_eq!(acks, 2, "{side:?} sent IPCP before CCP opened");
    }
}

/// A peer that runs IPCP in parallel with CCP (Windows; or ours with
/// `allow_insecure_no_encryption`) sends its IPCP Configure-Request early: the engine that
/// requires encryption keeps it and answers it once CCP opens, so IPCP converges with no
/// retransmission. Here the parallel side is the server, whose IPCP request follows its
/// CHAP Success and reaches the client before the client's CCP can be open.
#[test]
fn rfc1661_3_6_early_peer_ipcp_request_answered_once_ccp_opens() {
    let mut parallel = server(17);
    parallel.allow_insecure_no_encryption = true;
    let mut link = Link::new(parallel, client(18, "alice", "correct horse"));
    link.open_both();
    assert!(
        link.run_until(60 * SECOND, |l| {
            l.network_up(Side::A, Protocol::IPCP) && l.network_up(Side::B, Protocol::IPCP)
        }),
        "{:#?}",
        link.events
    );
    assert_eq!(link.elapsed(), Duration::ZERO, "no retransmission needed");
    assert_eq!(link.b.counters().ncp_requests_held, 1);
    assert!(link.b.mppe().is_some());
    // The client sent no Terminate-Ack for IPCP (the early request was kept, not refused).
    let ipcp_term_acks = link
        .sent(Side::B, Protocol::IPCP)
        .iter()
        .filter(|f| Header::parse(f).is_ok_and(|(_, i)| i.first() == Some(&6)))
        .count();
    assert_eq!(ipcp_term_acks, 0);
}
