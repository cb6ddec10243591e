//! The sans-IO PPP engine: bytes and time in; frames, timer deadlines and events out.
//!
//! [`Engine`] runs one link: the RFC 1661 automaton ([`fsm`]) inside the generic control
//! protocol layer ([`cp`]) for LCP ([`lcp`]) and every NCP, authentication, and the data path.
#![deny(unsafe_code)]
pub mod auth;
pub mod config;
pub mod cp;
pub mod engine;
pub mod fsm;
pub mod lcp;
pub mod ncp;
pub mod options;
pub mod rng;

pub use config::Config;
pub use dialgate_wire::ppp::Protocol;
pub use engine::{
    Counters, Datagram, DownReason, Engine, Event, FRAME_HEADER_ALLOWANCE, FailureCause,
    LinkParams, NetworkParams, Phase, SendError,
};
