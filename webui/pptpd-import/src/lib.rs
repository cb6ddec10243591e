//! Parsers of PoPToP's files, for migrating a pptpd box to dialgate:
//!
//! - [`parse_chap_secrets`]: pppd's `chap-secrets` (`client server secret [address ...]`,
//!   `#` comments, double- or single-quoted fields with backslash escapes, `*` for any
//!   server or address, `-` for no address).
//! - [`parse_pptpd_conf`]: `pptpd.conf` (`localip`, `remoteip` with pptpd's range syntax
//!   `192.168.0.234-238,192.168.0.245`, `listen`, `connections`), and the pppd options
//!   pptpd passes on (`ms-dns`, `ms-wins`, `require-mppe-128`, `refuse-pap`, `mru`,
//!   `idle`...), which often sit in the same upload.
//!
//! Both are total: any input gives a result, and every line that is not used is listed in
//! [`Ignored`] with its 1-based line number and why. Nothing here panics on input, and the
//! results are bounded ([`MAX_ENTRIES`], [`MAX_IGNORED`]) whatever the input's size.

#![deny(unsafe_code)]

use core::fmt;
use std::net::Ipv4Addr;

/// The most users (or options) kept from one file; later lines are ignored.
pub const MAX_ENTRIES: usize = 10_000;

/// The most ignored lines listed; later ones are only counted.
pub const MAX_IGNORED: usize = 1_000;

/// The longest excerpt of a line kept in [`Ignored::text`], in characters.
pub const MAX_EXCERPT: usize = 80;

/// The default PPTP port (RFC 2637 §2.1).
pub const PPTP_PORT: u16 = 1723;

/// A line that was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// 1-based line number.
    pub line: usize,
    /// The line (shortened; secrets replaced by `***`).
    pub text: String,
    /// Why it was not used.
    pub reason: String,
}

/// The ignored lines of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoredLines {
    /// The first [`MAX_IGNORED`] of them.
    pub lines: Vec<Ignored>,
    /// How many more there were.
    pub more: usize,
}

impl IgnoredLines {
    fn push(&mut self, line: usize, text: &str, reason: impl Into<String>) {
        if self.lines.len() < MAX_IGNORED {
            self.lines.push(Ignored {
                line,
                text: excerpt(text),
                reason: reason.into(),
            });
        } else {
            self.more = self.more.saturating_add(1);
        }
    }

    /// Every ignored line, counted.
    pub fn len(&self) -> usize {
        self.lines.len().saturating_add(self.more)
    }

    /// Whether no line was ignored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn excerpt(s: &str) -> String {
    let mut out: String = s
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_EXCERPT)
        .collect();
    if s.chars().count() > MAX_EXCERPT {
        out.push('…');
    }
    out
}

/// One user of a `chap-secrets` file.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    /// 1-based line number.
    pub line: usize,
    /// The client (user) name.
    pub user: String,
    /// The server field (`*` for any).
    pub server: String,
    /// The clear-text secret (to be turned into an NT hash; never shown).
    pub secret: String,
    /// The first address of the line, when one is given (`*` and `-` are none).
    pub address: Option<Ipv4Addr>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("line", &self.line)
            .field("user", &self.user)
            .field("server", &self.server)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = core::mem::take(&mut self.secret).into_bytes();
        bytes.fill(0);
        core::hint::black_box(&mut bytes);
    }
}

/// A parsed `chap-secrets` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChapSecrets {
    /// The users, in file order, each user once (its first line).
    pub secrets: Vec<Secret>,
    /// Lines not used, with why.
    pub ignored: IgnoredLines,
}

/// Why a field of a line could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldError {
    UnterminatedQuote,
}

/// Splits a pppd secrets/options line into fields: whitespace separates, `#` outside quotes
/// starts a comment, `"..."` and `'...'` quote, a backslash escapes the next character.
fn fields(line: &str) -> Result<Vec<String>, FieldError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_field = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (_, '\\') => {
                in_field = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                in_field = true;
                quote = Some(c);
            }
            (None, '#') => break,
            (None, c) if c.is_whitespace() => {
                if in_field {
                    out.push(core::mem::take(&mut cur));
                    in_field = false;
                }
            }
            (None, c) => {
                in_field = true;
                cur.push(c);
            }
        }
        if out.len() > 64 {
            break;
        }
    }
    if quote.is_some() {
        return Err(FieldError::UnterminatedQuote);
    }
    if in_field {
        out.push(cur);
    }
    Ok(out)
}

/// The line with its secret (third field) replaced, for listing it.
fn masked(fields: &[String]) -> String {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| if i == 2 { "***" } else { f.as_str() })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a `chap-secrets` file (see the [crate docs](crate)).
pub fn parse_chap_secrets(text: &str) -> ChapSecrets {
    let mut out = ChapSecrets::default();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let f = match fields(raw) {
            Ok(f) => f,
            Err(FieldError::UnterminatedQuote) => {
                out.ignored.push(n, "(not shown)", "a quote is not closed");
                continue;
            }
        };
        if f.is_empty() {
            continue;
        }
        let shown = masked(&f);
        let [user, server, secret, addresses @ ..] = f.as_slice() else {
            out.ignored
                .push(n, &shown, "fewer than three fields (client server secret)");
            continue;
        };
        if out.secrets.len() >= MAX_ENTRIES {
            out.ignored
                .push(n, &shown, format!("more than {MAX_ENTRIES} users"));
            continue;
        }
        if user == "*" || user.is_empty() {
            out.ignored.push(
                n,
                &shown,
                "a wildcard or empty client matches no single user",
            );
            continue;
        }
        if secret.starts_with('@') {
            out.ignored.push(
                n,
                &shown,
                "the secret is read from a file (@file): not imported",
            );
            continue;
        }
        if out.secrets.iter().any(|s| s.user == *user) {
            out.ignored
                .push(n, &shown, "the user appeared on an earlier line");
            continue;
        }
        let mut address = None;
        for a in addresses {
            match a.as_str() {
                "*" | "-" => {}
                a if address.is_none() => match a.parse::<Ipv4Addr>() {
                    Ok(ip) => address = Some(ip),
                    Err(_) => out.ignored.push(
                        n,
                        &shown,
                        format!("address {:?} is not one IPv4 address: not used", excerpt(a)),
                    ),
                },
                _ => out.ignored.push(
                    n,
                    &shown,
                    "only the first address becomes the static address",
                ),
            }
        }
        out.secrets.push(Secret {
            line: n,
            user: user.clone(),
            server: server.clone(),
            secret: secret.clone(),
            address,
        });
    }
    out
}

/// An inclusive IPv4 range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The first address.
    pub first: Ipv4Addr,
    /// The last address (not below `first`).
    pub last: Ipv4Addr,
}

impl fmt::Display for Range {
    /// `a-b` (dialgate's range syntax), or `a` alone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// The most ranges kept from one `localip`/`remoteip` line.
pub const MAX_RANGES: usize = 64;

/// Parses pptpd's address list: `a.b.c.d`, `a.b.c.d-e` (last octet) or `a.b.c.d-w.x.y.z`,
/// separated by commas.
pub fn parse_ranges(s: &str) -> Result<Vec<Range>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if out.len() >= MAX_RANGES {
            return Err(format!("more than {MAX_RANGES} ranges"));
        }
        let bad = || format!("{:?} is not an address or range", excerpt(part));
        let (first, last) = match part.split_once('-') {
            None => {
                let a: Ipv4Addr = part.parse().map_err(|_| bad())?;
                (a, a)
            }
            Some((a, b)) => {
                let first: Ipv4Addr = a.trim().parse().map_err(|_| bad())?;
                let b = b.trim();
                let last = if let Ok(octet) = b.parse::<u8>() {
                    let [w, x, y, _] = first.octets();
                    Ipv4Addr::new(w, x, y, octet)
                } else {
                    b.parse().map_err(|_| bad())?
                };
                (first, last)
            }
        };
        if last < first {
            return Err(format!("{:?} ends before it starts", excerpt(part)));
        }
        out.push(Range { first, last });
    }
    if out.is_empty() {
        return Err("no address given".to_owned());
    }
    Ok(out)
}

/// What a `pptpd.conf` (with pppd options) asks for, in dialgate's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PptpdConf {
    /// `localip`: our address on the sessions (the first one; dialgate uses one).
    pub local_address: Option<(usize, Ipv4Addr)>,
    /// `remoteip`: the pool's ranges.
    pub remote_ranges: Option<(usize, Vec<Range>)>,
    /// `listen`: the addresses to accept calls on.
    pub listen: Vec<(usize, Ipv4Addr)>,
    /// `connections`: calls at once.
    pub connections: Option<(usize, u32)>,
    /// `ms-dns`: DNS servers handed out (at most 2 used by clients).
    pub dns: Vec<(usize, Ipv4Addr)>,
    /// `ms-wins`: WINS servers handed out.
    pub wins: Vec<(usize, Ipv4Addr)>,
    /// MPPE-128 required (`require-mppe-128`, `mppe required`, `require-mppe`).
    pub require_mppe_128: Option<usize>,
    /// 40-bit keys allowed (`require-mppe-40`, `mppe ...` without `no40`).
    pub allow_mppe_40: Option<usize>,
    /// 56-bit keys allowed (`require-mppe-56`).
    pub allow_mppe_56: Option<usize>,
    /// Stateful MPPE allowed (`mppe-stateful`).
    pub allow_mppe_stateful: Option<usize>,
    /// Authentication methods refused (`refuse-pap`, `refuse-chap`, `refuse-mschap`,
    /// `refuse-mschap-v2`): the names `pap`, `chap-md5`, `mschap-v1`, `mschap-v2`.
    pub refused_auth: Vec<(usize, &'static str)>,
    /// Authentication methods required (`require-pap` ...), same names.
    pub required_auth: Vec<(usize, &'static str)>,
    /// `mru` / `mtu`.
    pub mru: Option<(usize, u16)>,
    /// `idle`: seconds without data before the session ends.
    pub idle_secs: Option<(usize, u32)>,
    /// Lines not used, with why.
    pub ignored: IgnoredLines,
}

/// Options that are fine to drop without a word of explanation beyond this one.
const NOT_NEEDED: &[(&str, &str)] = &[
    (
        "option",
        "an options file: upload its contents in this file too to import them",
    ),
    ("debug", "logging is configured in routerd"),
    ("logwtmp", "dialgate keeps its own accounting log"),
    ("noipparam", "not needed by dialgate"),
    ("bcrelay", "broadcast relay is not supported"),
    ("delegate", "addresses come from the pool"),
    ("ppp", "dialgate runs its own PPP engine"),
    ("speed", "not needed by dialgate"),
    ("stimeout", "not needed by dialgate"),
    (
        "name",
        "the authenticator name is routerd's system.hostname",
    ),
    (
        "proxyarp",
        "set [lan] proxy_arp in the configuration instead",
    ),
    ("lock", "not needed by dialgate"),
    ("nobsdcomp", "dialgate never compresses"),
    ("nodeflate", "dialgate never compresses"),
    ("novj", "dialgate never compresses headers"),
    ("novjccomp", "dialgate never compresses headers"),
    ("nologfd", "not needed by dialgate"),
    ("auth", "dialgate always authenticates callers"),
    (
        "require-chap",
        "CHAP-MD5 is weak: enable it on the PPTP page if really needed",
    ),
    ("nodefaultroute", "not needed by dialgate"),
    ("noccp", "CCP (MPPE) is required"),
];

fn ipv4_arg(args: &[String]) -> Result<Ipv4Addr, String> {
    match args {
        [one] => one
            .parse()
            .map_err(|_| format!("{:?} is not an IPv4 address", excerpt(one))),
        _ => Err("expects one IPv4 address".to_owned()),
    }
}

fn number_arg<T: core::str::FromStr>(args: &[String]) -> Result<T, String> {
    match args {
        [one] => one
            .parse()
            .map_err(|_| format!("{:?} is not a number in range", excerpt(one))),
        _ => Err("expects one number".to_owned()),
    }
}

/// Parses a `pptpd.conf` (with pppd options; see the [crate docs](crate)).
pub fn parse_pptpd_conf(text: &str) -> PptpdConf {
    let mut out = PptpdConf::default();
    let mut used = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let f = match fields(raw) {
            Ok(f) => f,
            Err(FieldError::UnterminatedQuote) => {
                out.ignored.push(n, raw, "a quote is not closed");
                continue;
            }
        };
        let Some((key, args)) = f.split_first() else {
            continue;
        };
        if used >= MAX_ENTRIES {
            out.ignored
                .push(n, raw, format!("more than {MAX_ENTRIES} options"));
            continue;
        }
        used += 1;
        let key = key.to_ascii_lowercase();
        let result: Result<(), String> = match key.as_str() {
            "localip" => parse_ranges(&args.join(",")).map(|r| {
                if let Some(first) = r.first() {
                    out.local_address = Some((n, first.first));
                }
                if r.len() > 1 || r.first().is_some_and(|x| x.first != x.last) {
                    out.ignored.push(
                        n,
                        raw,
                        "dialgate uses one local address for every session: the first is kept",
                    );
                }
            }),
            "remoteip" => parse_ranges(&args.join(",")).map(|r| {
                out.remote_ranges = Some((n, r));
            }),
            "listen" => ipv4_arg(args).map(|a| out.listen.push((n, a))),
            "connections" => number_arg::<u32>(args).map(|c| out.connections = Some((n, c))),
            "ms-dns" => ipv4_arg(args).map(|a| out.dns.push((n, a))),
            "ms-wins" => ipv4_arg(args).map(|a| out.wins.push((n, a))),
            "require-mppe-128" | "require-mppe" => {
                out.require_mppe_128 = Some(n);
                Ok(())
            }
            "require-mppe-40" => {
                out.allow_mppe_40 = Some(n);
                Ok(())
            }
            "require-mppe-56" => {
                out.allow_mppe_56 = Some(n);
                Ok(())
            }
            "mppe-stateful" => {
                out.allow_mppe_stateful = Some(n);
                Ok(())
            }
            "mppe" => {
                let opts: Vec<String> = args
                    .iter()
                    .flat_map(|a| a.split(','))
                    .map(|s| s.trim().to_ascii_lowercase())
                    .collect();
                if opts.iter().any(|o| o == "required") {
                    out.require_mppe_128 = Some(n);
                }
                if !opts.iter().any(|o| o == "no40") {
                    out.allow_mppe_40 = Some(n);
                }
                if !opts.iter().any(|o| o == "no56") {
                    out.allow_mppe_56 = Some(n);
                }
                if opts.iter().any(|o| o == "stateful") {
                    out.allow_mppe_stateful = Some(n);
                }
                Ok(())
            }
            "refuse-pap" | "refuse-chap" | "refuse-mschap" | "refuse-mschap-v2" => {
                out.refused_auth
                    .push((n, auth_name(&key["refuse-".len()..])));
                Ok(())
            }
            "require-pap" | "require-mschap" | "require-mschap-v2" => {
                out.required_auth
                    .push((n, auth_name(&key["require-".len()..])));
                Ok(())
            }
            "mru" | "mtu" => number_arg::<u16>(args).map(|m| out.mru = Some((n, m))),
            "idle" => number_arg::<u32>(args).map(|s| out.idle_secs = Some((n, s))),
            other => {
                let why = NOT_NEEDED
                    .iter()
                    .find(|(k, _)| *k == other)
                    .map_or("not an option dialgate imports", |(_, why)| why);
                Err(why.to_owned())
            }
        };
        if let Err(why) = result {
            out.ignored.push(n, raw, why);
        }
    }
    out
}

fn auth_name(pppd: &str) -> &'static str {
    match pppd {
        "pap" => "pap",
        "chap" => "chap-md5",
        "mschap" => "mschap-v1",
        _ => "mschap-v2",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn chap_secrets_with_quotes_comments_wildcards_and_addresses() {
        let text = "# Secrets for authentication using CHAP\n\
# client\tserver\tsecret\t\t\tIP addresses\n\
alice\tpptpd\tAlicePass\t*\n\
\"bob smith\" * \"pass with # hash\" 192.168.0.240\n\
carol * 'it''s' - # trailing comment\n\
dave * dave\\ pass 192.168.0.241 192.168.0.242\n\
erin *\n\
* * anyone *\n\
frank * @/etc/ppp/frank.secret\n\
alice * again\n\
gina * \"unterminated\n\
hank * hp not-an-ip\n";
        let c = parse_chap_secrets(text);
        let users: Vec<(&str, &str, Option<Ipv4Addr>, usize)> = c
            .secrets
            .iter()
            .map(|s| (s.user.as_str(), s.secret.as_str(), s.address, s.line))
            .collect();
        assert_eq!(
            users,
            vec![
                ("alice", "AlicePass", None, 3),
                (
                    "bob smith",
                    "pass with # hash",
                    Some(ip("192.168.0.240")),
                    4
                ),
                ("carol", "its", None, 5),
                ("dave", "dave pass", Some(ip("192.168.0.241")), 6),
                ("hank", "hp", None, 12),
            ]
        );
        assert_eq!(c.secrets[1].server, "*");
        let ignored: Vec<usize> = c.ignored.lines.iter().map(|i| i.line).collect();
        assert_eq!(ignored, vec![6, 7, 8, 9, 10, 11, 12]);
        // Secrets never appear in the list of ignored lines.
        for i in &c.ignored.lines {
            assert!(
                !i.text.contains("again") && !i.text.contains("anyone"),
                "{i:?}"
            );
        }
        assert!(c.ignored.lines[1].reason.contains("three fields"));
        assert!(c.ignored.lines[5].reason.contains("quote"));
        // The Debug form hides the secret too.
        assert!(!format!("{:?}", c.secrets[0]).contains("AlicePass"));
    }

    #[test]
    fn pptpd_ranges_follow_pptpds_syntax() {
        assert_eq!(
            parse_ranges("192.168.0.234-238,192.168.0.245").unwrap(),
            vec![
                Range {
                    first: ip("192.168.0.234"),
                    last: ip("192.168.0.238")
                },
                Range {
                    first: ip("192.168.0.245"),
                    last: ip("192.168.0.245")
                },
            ]
        );
        assert_eq!(
            parse_ranges("10.0.0.1-10.0.1.9").unwrap()[0].to_string(),
            "10.0.0.1-10.0.1.9"
        );
        assert!(parse_ranges("192.168.0.9-3").is_err());
        assert!(parse_ranges("192.168.0.9-300").is_err());
        assert!(parse_ranges("").is_err());
        assert!(parse_ranges(&"1.2.3.4,".repeat(100)).is_err());
    }

    #[test]
    fn pptpd_conf_maps_what_dialgate_has_and_lists_the_rest() {
        let text = "###############\n\
option /etc/ppp/pptpd-options\n\
debug\n\
localip 192.168.0.1\n\
remoteip 192.168.0.234-238,192.168.0.245\n\
listen 203.0.113.5\n\
connections 100\n\
ms-dns 192.168.0.1\n\
ms-dns 8.8.8.8\n\
ms-wins 192.168.0.2\n\
require-mppe-128\n\
refuse-pap\n\
refuse-chap\n\
mtu 1400\n\
idle 600\n\
frobnicate yes\n\
listen nowhere\n";
        let c = parse_pptpd_conf(text);
        assert_eq!(c.local_address, Some((4, ip("192.168.0.1"))));
        let (line, ranges) = c.remote_ranges.clone().unwrap();
        assert_eq!(line, 5);
        assert_eq!(ranges.len(), 2);
        assert_eq!(c.listen, vec![(6, ip("203.0.113.5"))]);
        assert_eq!(c.connections, Some((7, 100)));
        assert_eq!(c.dns.len(), 2);
        assert_eq!(c.wins, vec![(10, ip("192.168.0.2"))]);
        assert_eq!(c.require_mppe_128, Some(11));
        assert_eq!(c.refused_auth, vec![(12, "pap"), (13, "chap-md5")]);
        assert_eq!(c.mru, Some((14, 1400)));
        assert_eq!(c.idle_secs, Some((15, 600)));
        let ignored: Vec<usize> = c.ignored.lines.iter().map(|i| i.line).collect();
        assert_eq!(ignored, vec![2, 3, 16, 17]);
        assert!(c.ignored.lines[0].reason.contains("options file"));
        assert!(c.ignored.lines[3].reason.contains("IPv4"));
    }

    #[test]
    fn mppe_option_lists_and_a_local_range() {
        let c = parse_pptpd_conf("mppe required,no40,no56,stateless\nlocalip 10.0.0.1-5\n");
        assert_eq!(c.require_mppe_128, Some(1));
        assert_eq!(c.allow_mppe_40, None);
        assert_eq!(c.allow_mppe_56, None);
        assert_eq!(c.allow_mppe_stateful, None);
        assert_eq!(c.local_address, Some((2, ip("10.0.0.1"))));
        assert_eq!(c.ignored.len(), 1);
    }

    #[test]
    fn output_is_bounded() {
        let text = "x\n".repeat(MAX_IGNORED + 50);
        let c = parse_chap_secrets(&text);
        assert_eq!(c.ignored.lines.len(), MAX_IGNORED);
        assert_eq!(c.ignored.len(), MAX_IGNORED + 50);
        let long = "a".repeat(10_000);
        let c = parse_pptpd_conf(&long);
        assert!(c.ignored.lines[0].text.chars().count() <= MAX_EXCERPT + 1);
    }
}
