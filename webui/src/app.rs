//! The application: shared state, the request pipeline (security headers, sessions, CSRF,
//! login guard) and the routes.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use dialgate_routerd::api::client::{Client, ClientError};

use crate::auth::{COOKIE, LimitPolicy, LoginLimiter, Sessions, constant_time_eq};
use crate::html::{self, Chrome};
use crate::pages;
use crate::store::AdminPassword;
use crate::tls::Peer;

/// The largest form body accepted (the backup upload has its own, larger limit).
pub const MAX_FORM_BODY: usize = 256 * 1024;

/// The largest backup upload accepted.
pub const MAX_UPLOAD: usize = 4 * 1024 * 1024;

/// The Content-Security-Policy of every answer: only this origin's scripts and styles, no
/// framing, forms post only here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Shared by every request.
#[derive(Debug)]
pub struct AppState {
    /// routerd's management API.
    pub client: Client,
    /// The admin password.
    pub admin: AdminPassword,
    /// The web UI's state directory.
    pub state_dir: PathBuf,
    sessions: Mutex<Sessions>,
    limiter: Mutex<LoginLimiter>,
    setup: Mutex<()>,
    setup_code: Mutex<Option<String>>,
    plugin_nav: Mutex<Option<(Instant, PluginPages)>>,
}

/// The plugin pages in the navigation: (path, label), one per loaded plugin with a
/// configuration form.
pub type PluginPages = Arc<Vec<(String, String)>>;

/// How long the list of plugin pages is reused before routerd is asked again.
const PLUGIN_NAV_TTL: std::time::Duration = std::time::Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    /// State for a web UI talking to routerd through `client`.
    /// While no admin password is set, a one-time setup code is made, logged and written to
    /// the state directory (see [`crate::setup_code`]).
    pub fn new(client: Client, state_dir: PathBuf, policy: LimitPolicy) -> Self {
        let admin = AdminPassword::new(&state_dir);
        let code = match crate::setup_code::prepare(&state_dir, admin.is_set()) {
            Ok(code) => code,
            Err(e) => {
                tracing::error!("writing the setup code file: {e}");
                crate::setup_code::generate()
            }
        };
        if let Some(code) = &code {
            tracing::warn!(
                "one-time setup code: {code} (also in {}); /setup asks for it before the \
                 first admin password is set",
                state_dir.join(crate::setup_code::SETUP_CODE_FILE).display()
            );
        }
        AppState {
            setup_code: Mutex::new(code),
            client,
            admin,
            state_dir,
            sessions: Mutex::new(Sessions::default()),
            limiter: Mutex::new(LoginLimiter::new(policy)),
            setup: Mutex::new(()),
            plugin_nav: Mutex::new(None),
        }
    }

    /// The plugin pages for the navigation: loaded plugins that give a configuration form
    /// (plugin ABI 1.3), asked of routerd at most every few seconds; none when routerd does
    /// not answer.
    pub async fn plugin_pages(&self) -> PluginPages {
        let now = Instant::now();
        if let Some((at, pages)) = lock(&self.plugin_nav).as_ref()
            && now.saturating_duration_since(*at) < PLUGIN_NAV_TTL
        {
            return pages.clone();
        }
        let pages: Vec<(String, String)> = match self
            .client
            .get::<Vec<dialgate_routerd::api::PluginInfo>>("/v1/plugins")
            .await
        {
            Ok(plugins) => plugins
                .into_iter()
                .filter(|p| p.abi_version.is_some())
                .filter_map(|p| {
                    let title = p.form_title?;
                    Some((pages::plugin_forms::page_path(&p.name), title))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let pages = Arc::new(pages);
        *lock(&self.plugin_nav) = Some((now, pages.clone()));
        pages
    }

    /// The session table.
    pub fn sessions(&self) -> MutexGuard<'_, Sessions> {
        lock(&self.sessions)
    }

    /// Held while the first-boot password is set (two first visitors cannot both set it).
    pub fn setup_lock(&self) -> MutexGuard<'_, ()> {
        lock(&self.setup)
    }

    /// Whether `given` is the setup code (false when there is none).
    pub fn setup_code_matches(&self, given: &str) -> bool {
        lock(&self.setup_code)
            .as_deref()
            .is_some_and(|c| crate::setup_code::matches(c, given))
    }

    /// The password is set: the code is used up.
    pub fn setup_code_used(&self) {
        *lock(&self.setup_code) = None;
        crate::setup_code::remove(&self.state_dir);
    }

    /// The login limiter.
    pub fn limiter(&self) -> MutexGuard<'_, LoginLimiter> {
        lock(&self.limiter)
    }
}

/// The shared state handle.
pub type Shared = Arc<AppState>;

/// The visitor of this request (a request extension set by the session layer).
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The session id (the cookie's value).
    pub id: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Whether the admin is logged in.
    pub authenticated: bool,
    /// The client's address.
    pub ip: IpAddr,
    /// The plugin pages of the navigation.
    pub plugin_pages: PluginPages,
}

impl Visitor {
    /// The page chrome for this visitor.
    pub fn chrome<'a>(&'a self, active: &'a str, flash: Option<&'a str>) -> Chrome<'a> {
        Chrome {
            csrf: self.authenticated.then_some(self.csrf.as_str()),
            active,
            flash,
            plugins: &self.plugin_pages,
        }
    }
}

/// The value of the session cookie that sets `id`.
pub fn session_cookie(id: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for part in v.split(';') {
            if let Some((k, val)) = part.trim().split_once('=')
                && k == COOKIE
            {
                return Some(val.to_owned());
            }
        }
    }
    None
}

/// Adds the security headers to every answer.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Finds or starts the visitor's session, checks the CSRF token of every POST (403 without
/// a valid one), and sends visitors who are not logged in to the setup or login page.
async fn session_layer(State(app): State<Shared>, mut req: Request, next: Next) -> Response {
    let now = Instant::now();
    let ip = req
        .extensions()
        .get::<Peer>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
    let existing =
        cookie_value(req.headers()).and_then(|id| app.sessions().touch(&id, now).map(|s| (id, s)));
    let (mut visitor, new_cookie) = match existing {
        Some((id, s)) => (
            Visitor {
                id,
                csrf: s.csrf,
                authenticated: s.authenticated,
                ip,
                plugin_pages: PluginPages::default(),
            },
            false,
        ),
        None => {
            let mut sessions = app.sessions();
            let id = sessions.create(false, now);
            let csrf = sessions.touch(&id, now).map(|s| s.csrf).unwrap_or_default();
            (
                Visitor {
                    id,
                    csrf,
                    authenticated: false,
                    ip,
                    plugin_pages: PluginPages::default(),
                },
                true,
            )
        }
    };

    if visitor.authenticated {
        visitor.plugin_pages = app.plugin_pages().await;
    }
    let path = req.uri().path().to_owned();
    if req.method() == Method::POST {
        // A new session has no form yet: nothing it posts can carry its token.
        let (parts, body) = req.into_parts();
        let query_token = parts
            .uri
            .query()
            .and_then(|q| form_value(q.as_bytes(), "csrf"));
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let (token, body) = if is_form {
            let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BODY).await else {
                return (StatusCode::PAYLOAD_TOO_LARGE, "form too large\n").into_response();
            };
            (form_value(&bytes, "csrf"), Body::from(bytes))
        } else {
            (query_token, body)
        };
        let ok = !new_cookie && token.is_some_and(|t| constant_time_eq(&t, &visitor.csrf));
        if !ok {
            tracing::warn!(ip = %visitor.ip, path, "POST without a valid CSRF token refused");
            return forbidden(&visitor, new_cookie);
        }
        req = Request::from_parts(parts, body);
    }

    let public = path.starts_with("/static/") || path == "/favicon.ico";
    let redirect = if public {
        None
    } else if !app.admin.is_set() {
        (path != "/setup").then_some("/setup")
    } else if path == "/setup" {
        Some(if visitor.authenticated {
            "/dashboard"
        } else {
            "/login"
        })
    } else if !visitor.authenticated && path != "/login" {
        Some("/login")
    } else {
        None
    };

    let mut resp = match redirect {
        Some(to) => Redirect::to(to).into_response(),
        None => {
            req.extensions_mut().insert(visitor.clone());
            next.run(req).await
        }
    };
    if new_cookie && !resp.headers().contains_key(header::SET_COOKIE) {
        resp.headers_mut()
            .insert(header::SET_COOKIE, session_cookie(&visitor.id));
    }
    resp
}

fn forbidden(visitor: &Visitor, new_cookie: bool) -> Response {
    let body = html::page(
        "Forbidden",
        &visitor.chrome("", None),
        "<p>The form was stale or did not come from this site (missing or wrong security token). \
Go back, reload the page and try again.</p>",
    );
    let mut resp = (StatusCode::FORBIDDEN, Html(body)).into_response();
    if new_cookie {
        resp.headers_mut()
            .insert(header::SET_COOKIE, session_cookie(&visitor.id));
    }
    resp
}

/// The first value of `key` in an `application/x-www-form-urlencoded` string.
pub fn form_value(bytes: &[u8], key: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// A page telling that routerd could not be asked (502).
pub fn routerd_error(visitor: &Visitor, active: &str, e: &ClientError) -> Response {
    let body = format!(
        "<div class=\"error-summary\" role=\"alert\"><p>routerd did not answer: {}</p></div>",
        html::esc(&e.to_string())
    );
    (
        StatusCode::BAD_GATEWAY,
        Html(html::page(
            "routerd unavailable",
            &visitor.chrome(active, None),
            &body,
        )),
    )
        .into_response()
}

async fn root() -> Redirect {
    Redirect::to("/dashboard")
}

async fn static_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
}

async fn static_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../static/app.js"),
    )
}

/// The whole application.
pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/static/app.css", get(static_css))
        .route("/static/app.js", get(static_js))
        .route(
            "/setup",
            get(pages::login::setup_form).post(pages::login::setup),
        )
        .route(
            "/login",
            get(pages::login::login_form).post(pages::login::login),
        )
        .route("/logout", post(pages::login::logout))
        .route("/dashboard", get(pages::dashboard::show))
        .route("/dashboard/events", get(pages::dashboard::events))
        .route("/sessions", get(pages::sessions::list))
        .route("/sessions/events", get(pages::sessions::events))
        .route("/sessions/{id}", get(pages::sessions::detail))
        .route("/sessions/{id}/kick", post(pages::sessions::kick))
        .route("/sessions/{id}/pcap", get(pages::sessions::pcap))
        .route("/users", get(pages::users::list).post(pages::users::add))
        .route(
            "/users/{name}",
            get(pages::users::edit).post(pages::users::save),
        )
        .route("/users/{name}/password", post(pages::users::set_password))
        .route("/users/{name}/delete", post(pages::users::delete))
        .route(
            "/import",
            get(pages::import::form)
                .post(pages::import::upload)
                .layer(DefaultBodyLimit::max(2 * MAX_UPLOAD + 64 * 1024)),
        )
        .route("/import/apply", post(pages::import::apply))
        .route("/pptp", get(pages::pptp::show).post(pages::pptp::save))
        .route("/plugins", get(pages::plugins::list))
        .route("/plugins/{name}/restart", post(pages::plugins::restart))
        .route("/plugin/{name}", get(pages::plugin_forms::links))
        .route(
            "/plugin/{name}/{link}",
            get(pages::plugin_forms::edit).post(pages::plugin_forms::save),
        )
        .route("/config", get(pages::config::history))
        .route("/config/rollback/{version}", post(pages::config::rollback))
        .route("/config/diff", get(pages::config::diff))
        .route("/logs", get(pages::logs::show))
        .route("/logs/events", get(pages::logs::events))
        .route("/system", get(pages::system::show))
        .route(
            "/system/reboot",
            get(pages::system::confirm).post(pages::system::reboot),
        )
        .route("/backup", get(pages::config::backup))
        .route("/backup/download", get(pages::config::download))
        .route(
            "/backup/restore",
            post(pages::config::restore).layer(DefaultBodyLimit::max(MAX_UPLOAD + 64 * 1024)),
        )
        .route(
            "/upgrade",
            get(pages::upgrade::show)
                .post(pages::upgrade::upload)
                .layer(DefaultBodyLimit::max(pages::upgrade::MAX_UPGRADE_REQUEST)),
        )
        .layer(middleware::from_fn_with_state(app.clone(), session_layer))
        .layer(middleware::from_fn(security_headers))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_and_cookies() {
        assert_eq!(
            form_value(b"a=1&csrf=ab%20c&csrf=zz", "csrf").as_deref(),
            Some("ab c")
        );
        assert_eq!(form_value(b"a=1", "csrf"), None);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("x=1; __Host-dg_session=abc; y=2"),
        );
        assert_eq!(cookie_value(&h).as_deref(), Some("abc"));
        let c = session_cookie("abc");
        let c = c.to_str().unwrap_or_default();
        for part in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(c.contains(part), "{c}");
        }
    }
}
