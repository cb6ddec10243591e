//! dialgate's web UI: an unprivileged HTTPS server, a client of routerd's management API over
//! its unix socket.
//!
//! - [`app`]: the request pipeline (security headers, sessions, CSRF, login guard) and routes;
//! - [`pages`]: the server-rendered pages (everything works without JavaScript; live parts
//!   update over SSE);
//! - [`auth`]: sessions, CSRF tokens, login rate limit and lockout;
//! - [`store`]: the admin password (argon2id) and crash-safe writes in the state directory;
//! - [`tls`]: the self-signed certificate, the TLS accept loop and the HTTP → HTTPS redirect;
//! - [`privs`]: dropping root after binding the ports;
//! - [`setup_code`]: the one-time code `/setup` asks for before the first password is set.
#![deny(unsafe_code)]

pub mod app;
pub mod auth;
pub mod html;
pub mod pages;
pub mod privs;
pub mod setup_code;
pub mod store;
pub mod tls;
