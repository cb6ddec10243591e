//! A PPTP load generator: many PPTP clients (the PNS role of RFC 2637, as Windows and Linux
//! clients play it) from many source addresses, each driving a complete session on the
//! workspace's own sans-IO crates: control connection, Outgoing-Call-Request, LCP, MS-CHAPv2,
//! CCP/MPPE-128, IPCP, then echo traffic through the tunnel, held for a while and closed.
//!
//! - [`client::Conn`]: one control connection and its calls, sans-IO.
//! - [`driver`]: the tokio driver (one thread): TCP per connection, GRE through raw IP
//!   sockets, the launcher with its rate and in-flight bounds, periodic reports.
//! - [`stats`]: counters, latency histogram, text and JSON reports.
//! - [`icmp`]: the echo traffic.
//! - [`server`], [`serve`]: a minimal PPTP server (sans-IO, and its tokio driver) for tests
//!   and for measuring the generator itself (`pptp-testserver`).
//! - [`sources`]: the source addresses to spread connections over.
//! - [`gre_socket`]: raw IP protocol 47 sockets (the only `unsafe` code, libc calls).

pub mod client;
pub mod driver;
pub mod gre_socket;
pub mod icmp;
pub mod serve;
pub mod server;
pub mod sources;
pub mod stats;
