//! Authentication methods, their LCP Authentication-Protocol encoding (RFC 1661 §6.2,
//! RFC 1994 §3, RFC 2433 §2, RFC 2759 §2) and the policies that choose among them.

use core::fmt;

/// PPP protocol number of PAP (RFC 1334 §2).
pub const PROTO_PAP: u16 = 0xc023;
/// PPP protocol number of CHAP and its Microsoft variants (RFC 1994 §3).
pub const PROTO_CHAP: u16 = 0xc223;

/// CHAP algorithm: MD5 (RFC 1994 §3).
pub const CHAP_ALG_MD5: u8 = 0x05;
/// CHAP algorithm: MS-CHAP version 1 (RFC 2433 §2).
pub const CHAP_ALG_MSCHAP_V1: u8 = 0x80;
/// CHAP algorithm: MS-CHAP version 2 (RFC 2759 §2).
pub const CHAP_ALG_MSCHAP_V2: u8 = 0x81;

/// One authentication method as LCP negotiates it.
///
/// Variants are declared weakest first, so the derived `Ord` is the strength order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// PAP (RFC 1334): the password crosses the link in clear text. Weak.
    Pap,
    /// CHAP with MD5 (RFC 1994): needs the clear-text secret on the authenticator. Weak.
    ChapMd5,
    /// MS-CHAP version 1 (RFC 2433): DES over the NT hash, no mutual authentication. Weak.
    MsChapV1,
    /// MS-CHAP version 2 (RFC 2759): mutual authentication, MPPE keys (RFC 3079).
    MsChapV2,
}

impl Method {
    /// Every method, strongest first.
    pub const STRONGEST_FIRST: [Method; 4] = [
        Method::MsChapV2,
        Method::MsChapV1,
        Method::ChapMd5,
        Method::Pap,
    ];

    /// The PPP protocol that carries this method's packets.
    pub const fn protocol(self) -> u16 {
        match self {
            Method::Pap => PROTO_PAP,
            _ => PROTO_CHAP,
        }
    }

    /// The CHAP algorithm octet of the LCP option, `None` for PAP.
    pub const fn chap_algorithm(self) -> Option<u8> {
        match self {
            Method::Pap => None,
            Method::ChapMd5 => Some(CHAP_ALG_MD5),
            Method::MsChapV1 => Some(CHAP_ALG_MSCHAP_V1),
            Method::MsChapV2 => Some(CHAP_ALG_MSCHAP_V2),
        }
    }

    /// The data of the LCP Authentication-Protocol option (type 3, RFC 1661 §6.2): the
    /// protocol, then the CHAP algorithm when there is one. Without the type and length octets.
    pub const fn lcp_option_data(self) -> &'static [u8] {
        match self {
            Method::Pap => &[0xc0, 0x23],
            Method::ChapMd5 => &[0xc2, 0x23, CHAP_ALG_MD5],
            Method::MsChapV1 => &[0xc2, 0x23, CHAP_ALG_MSCHAP_V1],
            Method::MsChapV2 => &[0xc2, 0x23, CHAP_ALG_MSCHAP_V2],
        }
    }

    /// Parse the data of an LCP Authentication-Protocol option. `None` for a protocol or
    /// algorithm we do not implement (the LCP policy then Naks with one we do), or for a CHAP
    /// option without its algorithm octet. PAP's option carries no data after the protocol;
    /// trailing octets there are tolerated.
    pub fn from_lcp_option_data(data: &[u8]) -> Option<Method> {
        match data {
            [0xc0, 0x23, ..] => Some(Method::Pap),
            [0xc2, 0x23, alg] => match *alg {
                CHAP_ALG_MD5 => Some(Method::ChapMd5),
                CHAP_ALG_MSCHAP_V1 => Some(Method::MsChapV1),
                CHAP_ALG_MSCHAP_V2 => Some(Method::MsChapV2),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether the method is considered weak (everything but MS-CHAPv2).
    pub const fn is_weak(self) -> bool {
        !matches!(self, Method::MsChapV2)
    }

    /// Whether the method is one of the Microsoft CHAP dialects (Failure messages carry
    /// `E= R= C= V=`, RFC 2433 §6 / RFC 2759 §6, and MPPE keys can be derived).
    pub const fn is_ms_chap(self) -> bool {
        matches!(self, Method::MsChapV1 | Method::MsChapV2)
    }

    /// Short name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Method::Pap => "PAP",
            Method::ChapMd5 => "CHAP-MD5",
            Method::MsChapV1 => "MS-CHAPv1",
            Method::MsChapV2 => "MS-CHAPv2",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which methods one side of the link is willing to use.
///
/// The same shape serves both directions:
/// - as the **authenticator's** policy it lists the methods we ask the peer to authenticate
///   with (LCP Configure-Request / Nak, [`AuthPolicy::offer`]);
/// - as the **peer's** policy ([`PeerPolicy`]) it lists the methods we agree to prove
///   ourselves with when the other end asks (our Ack / Nak of its Authentication-Protocol).
///
/// MS-CHAPv2 is always allowed; every weaker method is an explicit opt-in whose name says
/// that it is weak. The default allows MS-CHAPv2 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthPolicy {
    /// Allow MS-CHAPv1 (RFC 2433): no mutual authentication, crackable responses.
    pub allow_weak_mschap_v1: bool,
    /// Allow CHAP-MD5 (RFC 1994): the authenticator must keep the clear-text secret.
    pub allow_weak_chap_md5: bool,
    /// Allow PAP (RFC 1334): the password crosses the link in clear text.
    pub allow_weak_pap_cleartext: bool,
}

/// The peer side's accepted methods: the same opt-ins as [`AuthPolicy`].
pub type PeerPolicy = AuthPolicy;

impl AuthPolicy {
    /// MS-CHAPv2 only (the default).
    pub const STRICT: AuthPolicy = AuthPolicy {
        allow_weak_mschap_v1: false,
        allow_weak_chap_md5: false,
        allow_weak_pap_cleartext: false,
    };

    /// Whether `method` is allowed.
    pub const fn allows(&self, method: Method) -> bool {
        match method {
            Method::MsChapV2 => true,
            Method::MsChapV1 => self.allow_weak_mschap_v1,
            Method::ChapMd5 => self.allow_weak_chap_md5,
            Method::Pap => self.allow_weak_pap_cleartext,
        }
    }

    /// The allowed methods, strongest first: what to offer, in order, in LCP. Never empty.
    pub fn offer(&self) -> impl Iterator<Item = Method> + '_ {
        Method::STRONGEST_FIRST
            .into_iter()
            .filter(|m| self.allows(*m))
    }

    /// The strongest allowed method weaker than `method`: what to ask for next when the peer
    /// Naks or Rejects `method` in LCP (RFC 1661 §6.2). `None` when nothing weaker is allowed.
    pub fn next_weaker(&self, method: Method) -> Option<Method> {
        self.offer().find(|m| *m < method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcp_option_round_trip_rfc1661_6_2() {
        for m in Method::STRONGEST_FIRST {
            assert_eq!(Method::from_lcp_option_data(m.lcp_option_data()), Some(m));
        }
        // RFC 2759 §2: C2 23 81; RFC 2433 §2: C2 23 80; RFC 1994 §3: C2 23 05; PAP C0 23.
        assert_eq!(Method::MsChapV2.lcp_option_data(), [0xc2, 0x23, 0x81]);
        assert_eq!(Method::from_lcp_option_data(&[0xc2, 0x23]), None);
        assert_eq!(Method::from_lcp_option_data(&[0xc2, 0x23, 0x06]), None);
        assert_eq!(Method::from_lcp_option_data(&[0xc2, 0x27]), None);
        assert_eq!(Method::from_lcp_option_data(&[]), None);
    }

    #[test]
    fn default_policy_is_mschapv2_only() {
        let p = AuthPolicy::default();
        assert_eq!(p, AuthPolicy::STRICT);
        assert_eq!(p.offer().collect::<Vec<_>>(), [Method::MsChapV2]);
        assert_eq!(p.next_weaker(Method::MsChapV2), None);
        assert!(!p.allows(Method::Pap));
    }

    #[test]
    fn opt_ins_are_offered_strongest_first() {
        let p = AuthPolicy {
            allow_weak_mschap_v1: true,
            allow_weak_chap_md5: false,
            allow_weak_pap_cleartext: true,
        };
        assert_eq!(
            p.offer().collect::<Vec<_>>(),
            [Method::MsChapV2, Method::MsChapV1, Method::Pap]
        );
        assert_eq!(p.next_weaker(Method::MsChapV2), Some(Method::MsChapV1));
        assert_eq!(p.next_weaker(Method::MsChapV1), Some(Method::Pap));
        assert_eq!(p.next_weaker(Method::Pap), None);
        assert!(Method::MsChapV2 > Method::MsChapV1 && Method::ChapMd5 > Method::Pap);
    }
}
