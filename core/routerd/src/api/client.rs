//! A client of the management API over its unix socket (used by `routerctl`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use super::control::ErrorBody;

/// The largest answer the client reads.
pub const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached (missing, refused, no permission).
    #[error("cannot connect to routerd at {}: {source}", path.display())]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// routerd did not answer in time.
    #[error("routerd did not answer within {0:?}")]
    Timeout(Duration),
    /// The HTTP exchange failed.
    #[error("talking to routerd: {0}")]
    Http(String),
    /// routerd answered with an error.
    #[error("routerd: {} (HTTP {status})", body.error)]
    Api {
        /// The HTTP status.
        status: u16,
        /// The error body.
        body: ErrorBody,
    },
    /// The answer is not what was expected.
    #[error("unexpected answer from routerd: {0}")]
    Decode(String),
}

/// A raw answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
}

/// A management API client; one connection per request.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    timeout: Duration,
}

impl Client {
    /// A client of the socket at `socket`, with a 30 s timeout per request.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Client {
            socket: socket.into(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Sets the per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends one request and reads the whole answer, whatever its status.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        json_body: Option<Vec<u8>>,
    ) -> Result<Response, ClientError> {
        let body = json_body.map(|b| (b, "application/json"));
        tokio::time::timeout(self.timeout, self.exchange(method, path, body))
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<(Vec<u8>, &'static str)>,
    ) -> Result<Response, ClientError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| ClientError::Connect {
                    path: self.socket.clone(),
                    source,
                })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let driver = tokio::spawn(conn);
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, "routerd");
        let bytes = match body {
            Some((bytes, content_type)) => {
                builder = builder.header(CONTENT_TYPE, content_type);
                bytes
            }
            None => Vec::new(),
        };
        let request = builder
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let answer = sender
            .send_request(request)
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let status = answer.status().as_u16();
        let body = Limited::new(answer.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?
            .to_bytes();
        driver.abort();
        Ok(Response { status, body })
    }

    /// Sends a request and decodes a successful JSON answer (`T = ()` accepts an empty 204).
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let json_body = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| ClientError::Decode(e.to_string()))?),
            None => None,
        };
        let r = self.success(method, path, json_body).await?;
        let bytes: &[u8] = if r.body.is_empty() { b"null" } else { &r.body };
        serde_json::from_slice(bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `GET path`, decoded.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(Method::GET, path, None::<&()>).await
    }

    /// `GET path` as text (for `/metrics`).
    pub async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let r = self.success(Method::GET, path, None).await?;
        String::from_utf8(r.body.to_vec()).map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn success(
        &self,
        method: Method,
        path: &str,
        json_body: Option<Vec<u8>>,
    ) -> Result<Response, ClientError> {
        let r = self.raw(method, path, json_body).await?;
        Self::checked(r)
    }

    fn checked(r: Response) -> Result<Response, ClientError> {
        if (200..300).contains(&r.status) {
            return Ok(r);
        }
        let body = serde_json::from_slice::<ErrorBody>(&r.body).unwrap_or_else(|_| ErrorBody {
            error: String::from_utf8_lossy(&r.body).chars().take(512).collect(),
            detail: None,
        });
        Err(ClientError::Api {
            status: r.status,
            body,
        })
    }

    /// `GET /v1/plugins/{name}/schema`: a plugin's configuration form (plugin ABI 1.3).
    pub async fn plugin_schema(
        &self,
        name: &str,
    ) -> Result<super::plugin_schema::PluginSchema, ClientError> {
        self.get(&format!("/v1/plugins/{}/schema", encode_segment(name)))
            .await
    }

    /// `GET /v1/sessions/{id}/pcap`: the session's capture ring as a pcap file.
    pub async fn session_pcap(&self, id: u64) -> Result<Bytes, ClientError> {
        Ok(self
            .success(Method::GET, &format!("/v1/sessions/{id}/pcap"), None)
            .await?
            .body)
    }

    /// `GET /v1/stats/history`: the last hour of traffic, sessions and CPU, memory now.
    pub async fn stats_history(&self) -> Result<super::stats::StatsHistory, ClientError> {
        self.get("/v1/stats/history").await
    }

    /// `GET /v1/system`: interfaces, DNS servers, time.
    pub async fn system_info(&self) -> Result<super::system::SystemInfo, ClientError> {
        self.get("/v1/system").await
    }

    /// `POST /v1/system/reboot`: runs routerd's `system.reboot_command`.
    pub async fn reboot(&self) -> Result<super::system::RebootStarted, ClientError> {
        self.call(Method::POST, "/v1/system/reboot", None::<&()>)
            .await
    }
}

impl Client {
    /// Sends `body` with `content_type` (e.g. an upgrade bundle as
    /// `application/octet-stream`) and decodes a successful JSON answer.
    pub async fn send_bytes<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: &'static str,
    ) -> Result<T, ClientError> {
        let r = tokio::time::timeout(
            self.timeout,
            self.exchange(method, path, Some((body, content_type))),
        )
        .await
        .map_err(|_| ClientError::Timeout(self.timeout))??;
        let r = Self::checked(r)?;
        serde_json::from_slice(&r.body).map_err(|e| ClientError::Decode(e.to_string()))
    }
}

/// Percent-encodes one path segment (everything but unreserved characters).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
