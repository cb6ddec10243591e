//! routerd: configuration, plugin host, sessions, data plane and management API.
//!
//! This crate is the daemon's library; the `routerd` binary is a thin shell over it. The
//! configuration and state layer lives here:
//!
//! - [`config`]: the TOML schema ([`config::Config`]), parsing with errors that name the file,
//!   line, column and field path ([`config::Document::parse`]), semantic validation, the
//!   embedded default configuration ([`config::DEFAULT_CONFIG`]) and the diff between two
//!   configurations ([`config::ConfigDiff`]).
//! - [`store`]: the crash-safe configuration store in the state directory, with history,
//!   rollback and transactional apply ([`store::ConfigStore`]), and the atomic file writer
//!   ([`store::write_atomic`]) everything else reuses.
//! - [`users`]: the local user file (NT hashes, never clear text unless explicitly allowed)
//!   and its conversion into [`dialgate_ppp::auth::LocalUsers`].
//! - [`accounting`]: the append-only session accounting log (JSON lines) with rotation and a
//!   reader that survives a torn last line.
//! - [`time`]: a small UTC timestamp type shared by the store and the accounting log.

pub mod accounting;
pub mod api;
pub mod config;
pub mod daemon;
pub mod hardware;
pub mod store;
pub mod time;
pub mod upgrade;
pub mod users;
