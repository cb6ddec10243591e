//! Random bytes, paths, methods and bodies thrown at the management socket: every answer is
//! an HTTP response below 500 (JSON when it has a body and is an error), and the server keeps
//! serving.

mod mgmt_support;

use std::time::Duration;

use mgmt_support::server::TestServer;

/// xorshift64*: deterministic, seedable, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW", "get",
];

const SEGMENTS: &[&str] = &[
    "v1",
    "status",
    "sessions",
    "users",
    "plugins",
    "config",
    "check",
    "rollback",
    "history",
    "logs",
    "metrics",
    "password",
    "1",
    "2",
    "0",
    "-1",
    "99999999999999999999",
    "abc",
    "%FF",
    "%00",
    "%2F",
    "..",
    ".",
    "",
    "alice",
    "a%01b",
    "%5C",
    "é",
    "?session=1",
    "?session=x",
    "?limit=99999999999",
    "?limit=-5",
    "?a=b&&c",
    "#frag",
    "//",
];

/// The routes, `{}` standing for a random segment.
const ROUTES: &[&str] = &[
    "/v1/status",
    "/v1/sessions",
    "/v1/sessions/{}",
    "/v1/users",
    "/v1/users/{}/password",
    "/v1/users/{}",
    "/v1/plugins",
    "/v1/config",
    "/v1/config/check",
    "/v1/config/rollback/{}",
    "/v1/config/history",
    "/v1/logs{}",
    "/metrics",
];

const BODIES: &[&str] = &[
    "",
    "{",
    "{}",
    "[]",
    "null",
    "{\"password\": \"x\"}",
    "{\"password\": \"\"}",
    "{\"toml\": \"[system]\\nbogus = 1\"}",
    "{\"toml\": \"\"}",
    "{\"toml\": 5}",
    "{\"toml\": \"x\", \"reason\": \"\\u0000\"}",
    "\"\\ud800\"",
    "{\"password\": \"\\ud800\"}",
];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "text/plain",
    "application/json; charset=utf-8",
    "application/jsonx",
    "",
];

fn random_request(rng: &mut Rng) -> Vec<u8> {
    match rng.below(10) {
        // Pure noise.
        0 => {
            let mut b = rng.bytes(512);
            b.extend_from_slice(b"\r\n\r\n");
            b
        }
        // A request line with a noisy target.
        1 => {
            let mut b = format!("{} /", rng.pick(METHODS)).into_bytes();
            b.extend(
                rng.bytes(64)
                    .into_iter()
                    .filter(|c| !c.is_ascii_whitespace()),
            );
            b.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            b
        }
        // A well-formed request with random path, method, content type and body.
        _ => {
            let mut path = String::new();
            if rng.below(3) == 0 {
                for _ in 0..1 + rng.below(5) {
                    path.push('/');
                    path.push_str(rng.pick(SEGMENTS));
                }
            } else {
                let segment = rng.pick(SEGMENTS);
                path = rng.pick(ROUTES).replace("{}", segment);
            }
            let body: Vec<u8> = if rng.below(4) == 0 {
                rng.bytes(256)
            } else {
                rng.pick(BODIES).as_bytes().to_vec()
            };
            let ct = rng.pick(CONTENT_TYPES);
            let mut req = format!(
                "{} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
                rng.pick(METHODS),
                body.len()
            );
            if !ct.is_empty() {
                req.push_str(&format!("Content-Type: {ct}\r\n"));
            }
            req.push_str("\r\n");
            let mut b = req.into_bytes();
            b.extend_from_slice(&body);
            b
        }
    }
}

/// The status code and body of a raw HTTP/1.1 answer.
fn parse_answer(answer: &[u8]) -> Option<(u16, &[u8])> {
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status_line = answer.split(|&b| b == b'\r').next()?;
    let code = std::str::from_utf8(status_line.get(9..12)?)
        .ok()?
        .parse()
        .ok()?;
    Some((code, answer.get(head_end + 4..)?))
}

#[test]
fn random_requests_never_crash_the_api() {
    let server = TestServer::start();
    let seed = std::env::var("API_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_D1A1_6A7E_u64);
    let mut rng = Rng(seed);
    let mut answered = 0;
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..1000 {
        let request = random_request(&mut rng);
        let answer = server.raw_for(&request, Duration::from_secs(5));
        if answer.is_empty() {
            // hyper may close on garbage without answering; the server must still live.
            continue;
        }
        let Some((code, body)) = parse_answer(&answer) else {
            panic!(
                "request {i} (seed {seed}): not an HTTP answer: {:?}\nrequest: {:?}",
                String::from_utf8_lossy(&answer),
                String::from_utf8_lossy(&request)
            );
        };
        assert!(
            code < 500,
            "request {i} (seed {seed}) got {code}: {:?}\nrequest: {:?}",
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(&request)
        );
        if code >= 400 && !body.is_empty() {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_else(|_| {
                panic!(
                    "request {i}: error body is not JSON: {:?}\nrequest: {:?}",
                    String::from_utf8_lossy(body),
                    String::from_utf8_lossy(&request)
                )
            });
            assert!(
                v["error"].as_str().is_some_and(|m| !m.is_empty()),
                "request {i}: {v}"
            );
        }
        answered += 1;
        *codes.entry(code).or_default() += 1;
    }
    assert!(
        answered > 800,
        "only {answered} of 1000 requests were answered"
    );
    // The requests reach the handlers, not only the router's fallbacks.
    eprintln!("answers by status: {codes:?}");
    for code in [200, 400, 404, 405, 415] {
        assert!(codes.contains_key(&code), "no {code} among {codes:?}");
    }
    assert!(server.alive());
}
