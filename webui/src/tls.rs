//! HTTPS: the self-signed certificate made on first start, the TLS accept loop, and the plain
//! HTTP listener that only redirects to HTTPS.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::store::{StoreError, write_atomic};

/// The certificate file, under `<state_dir>/`.
pub const CERT_FILE: &str = "tls-cert.pem";
/// The private key file (mode 0600), under `<state_dir>/`.
pub const KEY_FILE: &str = "tls-key.pem";

/// The most connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 256;

/// A TLS handshake that takes longer than this is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing the certificate or key failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The certificate could not be made.
    #[error("making the self-signed certificate: {0}")]
    Generate(String),
    /// The stored certificate or key is unusable.
    #[error("{file}: {message}")]
    Load {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
}

/// Loads the certificate and key from `state_dir`, making a self-signed pair for `names`
/// (host names and addresses, as subject alternative names) when there is none.
/// Returns the server configuration and whether a new certificate was made.
pub fn load_or_create(
    state_dir: &Path,
    names: &[String],
) -> Result<(Arc<ServerConfig>, bool), TlsError> {
    let cert_path = state_dir.join(CERT_FILE);
    let key_path = state_dir.join(KEY_FILE);
    let mut created = false;
    if !cert_path.is_file() || !key_path.is_file() {
        let ck = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| TlsError::Generate(e.to_string()))?;
        // The key first: a crash between the two leaves no certificate, so both are remade.
        write_atomic(&key_path, ck.signing_key.serialize_pem().as_bytes(), 0o600)?;
        write_atomic(&cert_path, ck.cert.pem().as_bytes(), 0o644)?;
        created = true;
    }
    let load = |file: &Path, message: String| TlsError::Load {
        file: file.display().to_string(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| load(&cert_path, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| load(&cert_path, e.to_string()))?;
    let key =
        PrivateKeyDer::from_pem_file(&key_path).map_err(|e| load(&key_path, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| load(&cert_path, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| load(&cert_path, e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), created))
}

/// The client's address, as a request extension set by the accept loops.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Serves `app` over TLS on `listener` until the task is dropped.
pub async fn serve_tls(listener: TcpListener, config: Arc<ServerConfig>, app: Router) {
    let acceptor = TlsAcceptor::from(config);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone().layer(axum::Extension(Peer(peer)));
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, "TLS handshake: {e}");
                    return;
                }
                Err(_) => return,
            };
            let service = TowerToHyperService::new(app);
            if let Err(e) = Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, "connection: {e}");
            }
        });
    }
}

/// Serves plain HTTP on `listener`: every request is redirected (308) to the same path on
/// HTTPS port `https_port`.
pub async fn serve_redirect(listener: TcpListener, https_port: u16) {
    let app = Router::new().fallback(move |headers: HeaderMap, req: Request| async move {
        redirect(&headers, req.uri(), https_port)
    });
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!("HTTP redirect listener: {e}");
    }
}

/// The host part of a `Host` header, when it is a plain name or address.
fn host_of(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        let end = rest.find(']')?;
        format!("[{}]", &rest[..end])
    } else {
        host.split(':').next()?.to_owned()
    };
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    ok.then_some(name)
}

fn redirect(headers: &HeaderMap, uri: &Uri, https_port: u16) -> Response {
    let Some(host) = host_of(headers) else {
        return (StatusCode::BAD_REQUEST, "HTTPS only\n").into_response();
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let location = format!("https://{host}{port}{path}");
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, location)],
        "",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn loc(host: &str, path: &str, port: u16) -> (u16, Option<String>) {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        let r = redirect(&h, &path.parse().unwrap(), port);
        (
            r.status().as_u16(),
            r.headers()
                .get(header::LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
        )
    }

    #[test]
    fn redirects_keep_host_and_path() {
        assert_eq!(
            loc("box.lan:8080", "/users?x=1", 8443),
            (308, Some("https://box.lan:8443/users?x=1".into()))
        );
        assert_eq!(
            loc("[::1]:80", "/", 443),
            (308, Some("https://[::1]/".into()))
        );
        assert_eq!(loc("evil\"host", "/", 443).0, 400);
    }

    #[test]
    fn certificate_made_once_and_reloaded() {
        let dir = std::env::temp_dir().join(format!("webui-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let (_, created) = load_or_create(&dir, &names).unwrap();
        assert!(created);
        let first = std::fs::read(dir.join(CERT_FILE)).unwrap();
        let (_, created) = load_or_create(&dir, &names).unwrap();
        assert!(!created);
        assert_eq!(first, std::fs::read(dir.join(CERT_FILE)).unwrap());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
