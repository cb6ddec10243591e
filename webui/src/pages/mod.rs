//! One module per page (group).

pub mod dashboard;
pub mod login;
