//! The sans-IO PPP engine: bytes and time in; frames, timer deadlines and events out.
#![deny(unsafe_code)]
pub mod ncp;
pub mod options;
