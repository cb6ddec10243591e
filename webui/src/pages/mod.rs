//! One module per page (group).

pub mod config;
pub mod dashboard;
pub mod login;
pub mod logs;
pub mod plugins;
pub mod pptp;
pub mod sessions;
pub mod users;
