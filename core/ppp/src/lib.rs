//! The sans-IO PPP engine: bytes and time in; frames, timer deadlines and events out.
#![deny(unsafe_code)]
pub mod auth;
pub mod cp;
pub mod fsm;
pub mod lcp;
pub mod ncp;
pub mod options;
pub mod rng;
