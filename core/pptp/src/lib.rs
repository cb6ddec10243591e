//! Sans-IO PPTP (RFC 2637): the control connection over TCP port 1723 with its calls, and the
//! enhanced GRE data channel of each call.
//!
//! Like `quinn-proto`, nothing here performs I/O or reads the clock: the owner feeds bytes
//! and the current time in (`handle_*`), and takes bytes to send, deadlines and events out
//! (`poll_*`). Message formats come from `dialgate_wire::pptp`.
//!
//! - [`control::ControlConnection`]: one control connection (RFC 2637 §3.1): start,
//!   keep-alive, stop, the collision rule, and many calls (§3.2) in the four roles: answer
//!   or send Outgoing-Call-Request, answer or send Incoming-Call-Request.
//! - [`gre::GreCall`]: one call's data channel (RFC 2637 §4): sequence numbers,
//!   acknowledgments, the sliding window, the adaptive acknowledgment time-out, reordering,
//!   and a compatibility mode for peers that run none of it.
#![deny(unsafe_code)]

pub mod control;
pub mod gre;
