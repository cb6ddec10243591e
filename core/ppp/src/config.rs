//! The engine's configuration: a plain struct with secure defaults.
//!
//! Defaults follow the appliance's policy: as authenticator only MS-CHAPv2 is offered, and
//! MPPE with 128-bit keys is required. Everything weaker is an explicit opt-in whose name says
//! it is weak (`allow_weak_*`) or insecure (`allow_insecure_*`).

use std::time::Duration;

use crate::cp::CpConfig;
use crate::lcp::{LcpConfig, Method};

/// Configuration of one PPP link.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// LCP: MRU, ACCM, compression, magic number, keepalive. Its `auth_request` and
    /// `auth_accept` lists are filled by the engine from the authentication settings below.
    pub lcp: LcpConfig,
    /// Restart timer and counters shared by every control protocol (RFC 1661 §4.6).
    pub cp: CpConfig,
    /// Authenticate the peer (we are the authenticator). Default: false.
    // auth seam: becomes `Option<Arc<dyn auth::AuthBackend>>` plus our name when the auth
    // module lands.
    pub authenticate_peer: bool,
    /// Allow PAP: the password crosses the link in clear text. Weak; default false.
    pub allow_weak_pap_cleartext: bool,
    /// Allow CHAP-MD5: needs clear-text secrets on the authenticator. Weak; default false.
    pub allow_weak_chap_md5: bool,
    /// Allow MS-CHAPv1: DES over the NT hash, no mutual authentication. Weak; default false.
    pub allow_weak_mschap_v1: bool,
    /// Allow 40-bit MPPE keys. Weak; default false.
    pub allow_weak_mppe_40: bool,
    /// Allow 56-bit MPPE keys. Weak; default false.
    pub allow_weak_mppe_56: bool,
    /// Run the link without encryption when MPPE cannot be negotiated. Insecure; default false
    /// (MPPE-128 is required).
    pub allow_insecure_no_encryption: bool,
    /// Close the link after this long without data in either direction (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Close the link this long after it reached the Network phase (`None`: never).
    pub session_timeout: Option<Duration>,
    /// Seed for magic numbers and identifiers; give every link a different one (from the OS's
    /// randomness in production).
    pub seed: u64,
}

impl Config {
    /// The authentication methods policy allows, strongest first.
    pub fn allowed_methods(&self) -> Vec<Method> {
        let mut methods = vec![Method::MsChapV2];
        if self.allow_weak_mschap_v1 {
            methods.push(Method::MsChapV1);
        }
        if self.allow_weak_chap_md5 {
            methods.push(Method::ChapMd5);
        }
        if self.allow_weak_pap_cleartext {
            methods.push(Method::Pap);
        }
        methods
    }

    /// Set the seed (builder style).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Set the idle timeout (builder style).
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Set the session timeout (builder style).
    pub fn with_session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = Some(timeout);
        self
    }

    /// Set the keepalive (builder style); `None` disables it.
    pub fn with_echo(mut self, interval: Option<Duration>, failures: u32) -> Self {
        self.lcp.echo_interval = interval;
        self.lcp.echo_failures = failures;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_offer_only_mschap_v2() {
        assert_eq!(Config::default().allowed_methods(), [Method::MsChapV2]);
    }

    #[test]
    fn weak_methods_are_opt_in_and_ordered_strongest_first() {
        let c = Config {
            allow_weak_pap_cleartext: true,
            allow_weak_mschap_v1: true,
            ..Config::default()
        };
        assert_eq!(
            c.allowed_methods(),
            [Method::MsChapV2, Method::MsChapV1, Method::Pap]
        );
    }
}
