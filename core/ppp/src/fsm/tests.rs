//! One test per cell of the RFC 1661 §4.1 state transition table (16 events × 10 states).
//!
//! The expected values are typed in from the printed table; the only additions are the explicit
//! restart-timer actions documented in the module (StartTimer after scr/str/zrc, StopTimer first
//! when leaving a state in which the timer runs).

use super::Action::{
    Irc, Sca, Scj, Scn, Scr, Ser, Sta, StartTimer, StopTimer, Str, Tld, Tlf, Tls, Tlu, Zrc,
};
use super::Event::{
    Close, Down, Open, Rca, Rcn, RcrMinus, RcrPlus, Rta, Rtr, Ruc, RxjMinus, RxjPlus, Rxr,
    TimeoutMinus, TimeoutPlus, Up,
};
use super::State::{
    AckRcvd, AckSent, Closed, Closing, Initial, Opened, ReqSent, Starting, Stopped, Stopping,
};
use super::*;

/// An automaton in `state` whose restart counter makes a timeout TO+ (3) or TO- (0).
fn fsm_for(state: State, event: Event) -> Fsm {
    let counter = if event == TimeoutMinus { 0 } else { 3 };
    Fsm::at(state, counter)
}

macro_rules! cell {
    ($name:ident: $state:ident, $event:ident => -) => {
        #[test]
        fn $name() {
            let mut fsm = fsm_for($state, $event);
            let got = fsm.handle($event);
            assert_eq!(
                got,
                Err(IllegalEvent {
                    state: $state,
                    event: $event
                })
            );
            assert_eq!(fsm.state(), $state, "a '-' cell must not change state");
            assert_eq!(fsm.illegal_events(), 1, "a '-' cell must be counted");
        }
    };
    ($name:ident: $state:ident, $event:ident => [$($action:ident),*] / $next:ident) => {
        #[test]
        fn $name() {
            let mut fsm = fsm_for($state, $event);
            let got = fsm.handle($event).expect("legal cell");
            let want: &[Action] = &[$($action),*];
            assert_eq!(got.as_slice(), want, "actions");
            assert_eq!(fsm.state(), $next, "next state");
            assert_eq!(fsm.illegal_events(), 0);
        }
    };
}

// Up      |    2     irc,scr/6     -         -         -         -        -         -         -           -
cell!(rfc1661_4_1_initial_up: Initial, Up => [] / Closed);
cell!(rfc1661_4_1_starting_up: Starting, Up => [Irc, Scr, StartTimer] / ReqSent);
cell!(rfc1661_4_1_closed_up: Closed, Up => -);
cell!(rfc1661_4_1_stopped_up: Stopped, Up => -);
cell!(rfc1661_4_1_closing_up: Closing, Up => -);
cell!(rfc1661_4_1_stopping_up: Stopping, Up => -);
cell!(rfc1661_4_1_reqsent_up: ReqSent, Up => -);
cell!(rfc1661_4_1_ackrcvd_up: AckRcvd, Up => -);
cell!(rfc1661_4_1_acksent_up: AckSent, Up => -);
cell!(rfc1661_4_1_opened_up: Opened, Up => -);

// Down    |    -         -         0       tls/1       0         1        1         1         1         tld/1
cell!(rfc1661_4_1_initial_down: Initial, Down => -);
cell!(rfc1661_4_1_starting_down: Starting, Down => -);
cell!(rfc1661_4_1_closed_down: Closed, Down => [] / Initial);
cell!(rfc1661_4_1_stopped_down: Stopped, Down => [Tls] / Starting);
cell!(rfc1661_4_1_closing_down: Closing, Down => [StopTimer] / Initial);
cell!(rfc1661_4_1_stopping_down: Stopping, Down => [StopTimer] / Starting);
cell!(rfc1661_4_1_reqsent_down: ReqSent, Down => [StopTimer] / Starting);
cell!(rfc1661_4_1_ackrcvd_down: AckRcvd, Down => [StopTimer] / Starting);
cell!(rfc1661_4_1_acksent_down: AckSent, Down => [StopTimer] / Starting);
cell!(rfc1661_4_1_opened_down: Opened, Down => [Tld] / Starting);

// Open    |  tls/1       1     irc,scr/6     3r        5r        5r       6         7         8           9r
cell!(rfc1661_4_1_initial_open: Initial, Open => [Tls] / Starting);
cell!(rfc1661_4_1_starting_open: Starting, Open => [] / Starting);
cell!(rfc1661_4_1_closed_open: Closed, Open => [Irc, Scr, StartTimer] / ReqSent);
cell!(rfc1661_4_1_stopped_open: Stopped, Open => [] / Stopped);
cell!(rfc1661_4_1_closing_open: Closing, Open => [] / Stopping);
cell!(rfc1661_4_1_stopping_open: Stopping, Open => [] / Stopping);
cell!(rfc1661_4_1_reqsent_open: ReqSent, Open => [] / ReqSent);
cell!(rfc1661_4_1_ackrcvd_open: AckRcvd, Open => [] / AckRcvd);
cell!(rfc1661_4_1_acksent_open: AckSent, Open => [] / AckSent);
cell!(rfc1661_4_1_opened_open: Opened, Open => [] / Opened);

// Close   |    0       tlf/0       2         2         4         4    irc,str/4 irc,str/4 irc,str/4 tld,irc,str/4
cell!(rfc1661_4_1_initial_close: Initial, Close => [] / Initial);
cell!(rfc1661_4_1_starting_close: Starting, Close => [Tlf] / Initial);
cell!(rfc1661_4_1_closed_close: Closed, Close => [] / Closed);
cell!(rfc1661_4_1_stopped_close: Stopped, Close => [] / Closed);
cell!(rfc1661_4_1_closing_close: Closing, Close => [] / Closing);
cell!(rfc1661_4_1_stopping_close: Stopping, Close => [] / Closing);
cell!(rfc1661_4_1_reqsent_close: ReqSent, Close => [Irc, Str, StartTimer] / Closing);
cell!(rfc1661_4_1_ackrcvd_close: AckRcvd, Close => [Irc, Str, StartTimer] / Closing);
cell!(rfc1661_4_1_acksent_close: AckSent, Close => [Irc, Str, StartTimer] / Closing);
cell!(rfc1661_4_1_opened_close: Opened, Close => [Tld, Irc, Str, StartTimer] / Closing);

// TO+     |    -         -         -         -       str/4     str/5    scr/6     scr/6     scr/8         -
cell!(rfc1661_4_1_initial_to_plus: Initial, TimeoutPlus => -);
cell!(rfc1661_4_1_starting_to_plus: Starting, TimeoutPlus => -);
cell!(rfc1661_4_1_closed_to_plus: Closed, TimeoutPlus => -);
cell!(rfc1661_4_1_stopped_to_plus: Stopped, TimeoutPlus => -);
cell!(rfc1661_4_1_closing_to_plus: Closing, TimeoutPlus => [Str, StartTimer] / Closing);
cell!(rfc1661_4_1_stopping_to_plus: Stopping, TimeoutPlus => [Str, StartTimer] / Stopping);
cell!(rfc1661_4_1_reqsent_to_plus: ReqSent, TimeoutPlus => [Scr, StartTimer] / ReqSent);
cell!(rfc1661_4_1_ackrcvd_to_plus: AckRcvd, TimeoutPlus => [Scr, StartTimer] / ReqSent);
cell!(rfc1661_4_1_acksent_to_plus: AckSent, TimeoutPlus => [Scr, StartTimer] / AckSent);
cell!(rfc1661_4_1_opened_to_plus: Opened, TimeoutPlus => -);

// TO-     |    -         -         -         -       tlf/2     tlf/3    tlf/3p    tlf/3p    tlf/3p        -
cell!(rfc1661_4_1_initial_to_minus: Initial, TimeoutMinus => -);
cell!(rfc1661_4_1_starting_to_minus: Starting, TimeoutMinus => -);
cell!(rfc1661_4_1_closed_to_minus: Closed, TimeoutMinus => -);
cell!(rfc1661_4_1_stopped_to_minus: Stopped, TimeoutMinus => -);
cell!(rfc1661_4_1_closing_to_minus: Closing, TimeoutMinus => [StopTimer, Tlf] / Closed);
cell!(rfc1661_4_1_stopping_to_minus: Stopping, TimeoutMinus => [StopTimer, Tlf] / Stopped);
cell!(rfc1661_4_1_reqsent_to_minus: ReqSent, TimeoutMinus => [StopTimer, Tlf] / Stopped);
cell!(rfc1661_4_1_ackrcvd_to_minus: AckRcvd, TimeoutMinus => [StopTimer, Tlf] / Stopped);
cell!(rfc1661_4_1_acksent_to_minus: AckSent, TimeoutMinus => [StopTimer, Tlf] / Stopped);
cell!(rfc1661_4_1_opened_to_minus: Opened, TimeoutMinus => -);

// RCR+    |    -         -       sta/2 irc,scr,sca/8   4         5      sca/8   sca,tlu/9   sca/8   tld,scr,sca/8
cell!(rfc1661_4_1_initial_rcr_plus: Initial, RcrPlus => -);
cell!(rfc1661_4_1_starting_rcr_plus: Starting, RcrPlus => -);
cell!(rfc1661_4_1_closed_rcr_plus: Closed, RcrPlus => [Sta] / Closed);
cell!(rfc1661_4_1_stopped_rcr_plus: Stopped, RcrPlus => [Irc, Scr, StartTimer, Sca] / AckSent);
cell!(rfc1661_4_1_closing_rcr_plus: Closing, RcrPlus => [] / Closing);
cell!(rfc1661_4_1_stopping_rcr_plus: Stopping, RcrPlus => [] / Stopping);
cell!(rfc1661_4_1_reqsent_rcr_plus: ReqSent, RcrPlus => [Sca] / AckSent);
cell!(rfc1661_4_1_ackrcvd_rcr_plus: AckRcvd, RcrPlus => [StopTimer, Sca, Tlu] / Opened);
cell!(rfc1661_4_1_acksent_rcr_plus: AckSent, RcrPlus => [Sca] / AckSent);
cell!(rfc1661_4_1_opened_rcr_plus: Opened, RcrPlus => [Tld, Scr, StartTimer, Sca] / AckSent);

// RCR-    |    -         -       sta/2 irc,scr,scn/6   4         5      scn/6     scn/7     scn/6   tld,scr,scn/6
cell!(rfc1661_4_1_initial_rcr_minus: Initial, RcrMinus => -);
cell!(rfc1661_4_1_starting_rcr_minus: Starting, RcrMinus => -);
cell!(rfc1661_4_1_closed_rcr_minus: Closed, RcrMinus => [Sta] / Closed);
cell!(rfc1661_4_1_stopped_rcr_minus: Stopped, RcrMinus => [Irc, Scr, StartTimer, Scn] / ReqSent);
cell!(rfc1661_4_1_closing_rcr_minus: Closing, RcrMinus => [] / Closing);
cell!(rfc1661_4_1_stopping_rcr_minus: Stopping, RcrMinus => [] / Stopping);
cell!(rfc1661_4_1_reqsent_rcr_minus: ReqSent, RcrMinus => [Scn] / ReqSent);
cell!(rfc1661_4_1_ackrcvd_rcr_minus: AckRcvd, RcrMinus => [Scn] / AckRcvd);
cell!(rfc1661_4_1_acksent_rcr_minus: AckSent, RcrMinus => [Scn] / ReqSent);
cell!(rfc1661_4_1_opened_rcr_minus: Opened, RcrMinus => [Tld, Scr, StartTimer, Scn] / ReqSent);

// RCA     |    -         -       sta/2     sta/3       4         5      irc/7     scr/6x  irc,tlu/9   tld,scr/6x
cell!(rfc1661_4_1_initial_rca: Initial, Rca => -);
cell!(rfc1661_4_1_starting_rca: Starting, Rca => -);
cell!(rfc1661_4_1_closed_rca: Closed, Rca => [Sta] / Closed);
cell!(rfc1661_4_1_stopped_rca: Stopped, Rca => [Sta] / Stopped);
cell!(rfc1661_4_1_closing_rca: Closing, Rca => [] / Closing);
cell!(rfc1661_4_1_stopping_rca: Stopping, Rca => [] / Stopping);
cell!(rfc1661_4_1_reqsent_rca: ReqSent, Rca => [Irc] / AckRcvd);
cell!(rfc1661_4_1_ackrcvd_rca: AckRcvd, Rca => [Scr, StartTimer] / ReqSent);
cell!(rfc1661_4_1_acksent_rca: AckSent, Rca => [StopTimer, Irc, Tlu] / Opened);
cell!(rfc1661_4_1_opened_rca: Opened, Rca => [Tld, Scr, StartTimer] / ReqSent);

// RCN     |    -         -       sta/2     sta/3       4         5    irc,scr/6   scr/6x  irc,scr/8   tld,scr/6x
cell!(rfc1661_4_1_initial_rcn: Initial, Rcn => -);
cell!(rfc1661_4_1_starting_rcn: Starting, Rcn => -);
cell!(rfc1661_4_1_closed_rcn: Closed, Rcn => [Sta] / Closed);
cell!(rfc1661_4_1_stopped_rcn: Stopped, Rcn => [Sta] / Stopped);
cell!(rfc1661_4_1_closing_rcn: Closing, Rcn => [] / Closing);
cell!(rfc1661_4_1_stopping_rcn: Stopping, Rcn => [] / Stopping);
cell!(rfc1661_4_1_reqsent_rcn: ReqSent, Rcn => [Irc, Scr, StartTimer] / ReqSent);
cell!(rfc1661_4_1_ackrcvd_rcn: AckRcvd, Rcn => [Scr, StartTimer] / ReqSent);
cell!(rfc1661_4_1_acksent_rcn: AckSent, Rcn => [Irc, Scr, StartTimer] / AckSent);
cell!(rfc1661_4_1_opened_rcn: Opened, Rcn => [Tld, Scr, StartTimer] / ReqSent);

// RTR     |    -         -       sta/2     sta/3     sta/4     sta/5    sta/6     sta/6     sta/6   tld,zrc,sta/5
cell!(rfc1661_4_1_initial_rtr: Initial, Rtr => -);
cell!(rfc1661_4_1_starting_rtr: Starting, Rtr => -);
cell!(rfc1661_4_1_closed_rtr: Closed, Rtr => [Sta] / Closed);
cell!(rfc1661_4_1_stopped_rtr: Stopped, Rtr => [Sta] / Stopped);
cell!(rfc1661_4_1_closing_rtr: Closing, Rtr => [Sta] / Closing);
cell!(rfc1661_4_1_stopping_rtr: Stopping, Rtr => [Sta] / Stopping);
cell!(rfc1661_4_1_reqsent_rtr: ReqSent, Rtr => [Sta] / ReqSent);
cell!(rfc1661_4_1_ackrcvd_rtr: AckRcvd, Rtr => [Sta] / ReqSent);
cell!(rfc1661_4_1_acksent_rtr: AckSent, Rtr => [Sta] / ReqSent);
cell!(rfc1661_4_1_opened_rtr: Opened, Rtr => [Tld, Zrc, StartTimer, Sta] / Stopping);

// RTA     |    -         -         2         3       tlf/2     tlf/3      6         6         8       tld,scr/6
cell!(rfc1661_4_1_initial_rta: Initial, Rta => -);
cell!(rfc1661_4_1_starting_rta: Starting, Rta => -);
cell!(rfc1661_4_1_closed_rta: Closed, Rta => [] / Closed);
cell!(rfc1661_4_1_stopped_rta: Stopped, Rta => [] / Stopped);
cell!(rfc1661_4_1_closing_rta: Closing, Rta => [StopTimer, Tlf] / Closed);
cell!(rfc1661_4_1_stopping_rta: Stopping, Rta => [StopTimer, Tlf] / Stopped);
cell!(rfc1661_4_1_reqsent_rta: ReqSent, Rta => [] / ReqSent);
cell!(rfc1661_4_1_ackrcvd_rta: AckRcvd, Rta => [] / ReqSent);
cell!(rfc1661_4_1_acksent_rta: AckSent, Rta => [] / AckSent);
cell!(rfc1661_4_1_opened_rta: Opened, Rta => [Tld, Scr, StartTimer] / ReqSent);

// RUC     |    -         -       scj/2     scj/3     scj/4     scj/5    scj/6     scj/7     scj/8       scj/9
cell!(rfc1661_4_1_initial_ruc: Initial, Ruc => -);
cell!(rfc1661_4_1_starting_ruc: Starting, Ruc => -);
cell!(rfc1661_4_1_closed_ruc: Closed, Ruc => [Scj] / Closed);
cell!(rfc1661_4_1_stopped_ruc: Stopped, Ruc => [Scj] / Stopped);
cell!(rfc1661_4_1_closing_ruc: Closing, Ruc => [Scj] / Closing);
cell!(rfc1661_4_1_stopping_ruc: Stopping, Ruc => [Scj] / Stopping);
cell!(rfc1661_4_1_reqsent_ruc: ReqSent, Ruc => [Scj] / ReqSent);
cell!(rfc1661_4_1_ackrcvd_ruc: AckRcvd, Ruc => [Scj] / AckRcvd);
cell!(rfc1661_4_1_acksent_ruc: AckSent, Ruc => [Scj] / AckSent);
cell!(rfc1661_4_1_opened_ruc: Opened, Ruc => [Scj] / Opened);

// RXJ+    |    -         -         2         3         4         5        6         6         8           9
cell!(rfc1661_4_1_initial_rxj_plus: Initial, RxjPlus => -);
cell!(rfc1661_4_1_starting_rxj_plus: Starting, RxjPlus => -);
cell!(rfc1661_4_1_closed_rxj_plus: Closed, RxjPlus => [] / Closed);
cell!(rfc1661_4_1_stopped_rxj_plus: Stopped, RxjPlus => [] / Stopped);
cell!(rfc1661_4_1_closing_rxj_plus: Closing, RxjPlus => [] / Closing);
cell!(rfc1661_4_1_stopping_rxj_plus: Stopping, RxjPlus => [] / Stopping);
cell!(rfc1661_4_1_reqsent_rxj_plus: ReqSent, RxjPlus => [] / ReqSent);
cell!(rfc1661_4_1_ackrcvd_rxj_plus: AckRcvd, RxjPlus => [] / ReqSent);
cell!(rfc1661_4_1_acksent_rxj_plus: AckSent, RxjPlus => [] / AckSent);
cell!(rfc1661_4_1_opened_rxj_plus: Opened, RxjPlus => [] / Opened);

// RXJ-    |    -         -       tlf/2     tlf/3     tlf/2     tlf/3    tlf/3     tlf/3     tlf/3   tld,irc,str/5
cell!(rfc1661_4_1_initial_rxj_minus: Initial, RxjMinus => -);
cell!(rfc1661_4_1_starting_rxj_minus: Starting, RxjMinus => -);
cell!(rfc1661_4_1_closed_rxj_minus: Closed, RxjMinus => [Tlf] / Closed);
cell!(rfc1661_4_1_stopped_rxj_minus: Stopped, RxjMinus => [Tlf] / Stopped);
cell!(rfc1661_4_1_closing_rxj_minus: Closing, RxjMinus => [StopTimer, Tlf] / Closed);
cell!(rfc1661_4_1_stopping_rxj_minus: Stopping, RxjMinus => [StopTimer, Tlf] / Stopped);
cell!(rfc1661_4_1_reqsent_rxj_minus: ReqSent, RxjMinus => [StopTimer, Tlf] / Stopped);
cell!(rfc1661_4_1_ackrcvd_rxj_minus: AckRcvd, RxjMinus => [StopTimer, Tlf] / Stopped);
cell!(rfc1661_4_1_acksent_rxj_minus: AckSent, RxjMinus => [StopTimer, Tlf] / Stopped);
cell!(rfc1661_4_1_opened_rxj_minus: Opened, RxjMinus => [Tld, Irc, Str, StartTimer] / Stopping);

// RXR     |    -         -         2         3         4         5        6         7         8         ser/9
cell!(rfc1661_4_1_initial_rxr: Initial, Rxr => -);
cell!(rfc1661_4_1_starting_rxr: Starting, Rxr => -);
cell!(rfc1661_4_1_closed_rxr: Closed, Rxr => [] / Closed);
cell!(rfc1661_4_1_stopped_rxr: Stopped, Rxr => [] / Stopped);
cell!(rfc1661_4_1_closing_rxr: Closing, Rxr => [] / Closing);
cell!(rfc1661_4_1_stopping_rxr: Stopping, Rxr => [] / Stopping);
cell!(rfc1661_4_1_reqsent_rxr: ReqSent, Rxr => [] / ReqSent);
cell!(rfc1661_4_1_ackrcvd_rxr: AckRcvd, Rxr => [] / AckRcvd);
cell!(rfc1661_4_1_acksent_rxr: AckSent, Rxr => [] / AckSent);
cell!(rfc1661_4_1_opened_rxr: Opened, Rxr => [Ser] / Opened);

// ---- Counters (RFC 1661 §4.6) ----

#[test]
fn rfc1661_4_6_max_configure_requests_then_to_minus() {
    let mut fsm = Fsm::new(FsmConfig::default());
    fsm.handle(Open).expect("open");
    let first = fsm.handle(Up).expect("up");
    assert_eq!(first.as_slice(), &[Irc, Scr, StartTimer]);
    let mut sent = 1;
    loop {
        let a = fsm.timeout().expect("timer runs in Req-Sent");
        if a.contains(&Scr) {
            sent += 1;
        } else {
            assert_eq!(a.as_slice(), &[StopTimer, Tlf]);
            break;
        }
    }
    assert_eq!(sent, 10, "Max-Configure defaults to 10 Configure-Requests");
    assert_eq!(fsm.state(), Stopped);
}

#[test]
fn rfc1661_4_6_max_terminate_requests_then_to_minus() {
    let mut fsm = Fsm::at(Opened, 0);
    let a = fsm.handle(Close).expect("close");
    assert_eq!(a.as_slice(), &[Tld, Irc, Str, StartTimer]);
    assert_eq!(
        fsm.restart_counter(),
        1,
        "irc loads Max-Terminate (2), str takes one"
    );
    assert_eq!(fsm.timeout().expect("TO+").as_slice(), &[Str, StartTimer]);
    assert_eq!(fsm.timeout().expect("TO-").as_slice(), &[StopTimer, Tlf]);
    assert_eq!(fsm.state(), Closed);
}

#[test]
fn rfc1661_4_4_zrc_makes_the_next_timeout_to_minus() {
    let mut fsm = Fsm::at(Opened, 9);
    fsm.handle(Rtr).expect("rtr");
    assert_eq!(fsm.restart_counter(), 0);
    assert_eq!(fsm.timeout().expect("TO-").as_slice(), &[StopTimer, Tlf]);
    assert_eq!(fsm.state(), Stopped);
}

#[test]
fn rfc1661_4_6_irc_in_req_sent_reloads_max_configure() {
    let mut fsm = Fsm::at(ReqSent, 1);
    fsm.handle(Rca).expect("rca");
    assert_eq!(fsm.restart_counter(), 10);
}

#[test]
fn rfc1661_4_6_max_failure_naks_then_exhausted_until_ack() {
    let mut fsm = Fsm::new(FsmConfig::default());
    fsm.handle(Open).expect("open");
    fsm.handle(Up).expect("up");
    for _ in 0..5 {
        assert!(!fsm.nak_exhausted());
        let a = fsm.handle(RcrMinus).expect("rcr-");
        assert_eq!(a.as_slice(), &[Scn]);
        fsm.record_nak();
    }
    assert!(fsm.nak_exhausted(), "Max-Failure (5) Naks sent");
    fsm.handle(RcrPlus).expect("rcr+");
    assert!(
        !fsm.nak_exhausted(),
        "a Configure-Ack resets the failure count"
    );
}

#[test]
fn rfc1661_4_1_illegal_events_are_counted_not_fatal() {
    let mut fsm = Fsm::new(FsmConfig::default());
    for _ in 0..3 {
        assert!(fsm.handle(RcrPlus).is_err());
    }
    assert_eq!(fsm.illegal_events(), 3);
    assert_eq!(fsm.state(), Initial);
}

#[test]
fn rfc1661_4_1_timeout_input_is_decided_by_the_counter() {
    // A caller passing TO+ while the counter is exhausted still gets TO-.
    let mut fsm = Fsm::at(ReqSent, 0);
    let a = fsm.handle(TimeoutPlus).expect("legal");
    assert_eq!(a.as_slice(), &[StopTimer, Tlf]);
}
