//! The HTTP side of the management API: routes, request checks, JSON errors.
//!
//! Every failure is a JSON [`ErrorBody`] with a 4xx or 5xx status: malformed JSON, a wrong
//! content type, an oversized body, a bad path parameter, an unknown route (404), a wrong
//! method (405), and a panic inside a handler or the [`Control`] implementation (500).
//! Only errors hyper answers itself, before a request exists (a malformed HTTP request line or
//! headers), get its bare 400.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;

use super::control::{
    ApiError, ApplyRequest, CheckRequest, Control, LogQuery, SessionId, SetPasswordRequest,
};
use super::metrics;
use super::{hardware, upgrade};

/// The largest request body accepted (a configuration document is far smaller).
pub const MAX_BODY: usize = 1024 * 1024;

/// The most log lines one `GET /v1/logs` returns.
pub const MAX_LOG_LINES: usize = 10_000;

/// The longest password accepted (RFC 2759 §8.3: at most 256 Unicode characters).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Requests served at the same time; more get a 503 rather than queueing without bound.
pub const MAX_CONCURRENT_REQUESTS: usize = 64;

/// The `Content-Type` of `GET /metrics` (Prometheus text exposition format 0.0.4).
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
pub(super) struct ApiState {
    pub(super) control: Arc<dyn Control>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self, "management request failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %self, "management request refused");
        }
        (status, axum::Json(self.body())).into_response()
    }
}

/// A JSON body whose rejections become [`ApiError`]s.
pub(super) struct ApiJson<T>(pub(super) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(format!("request body larger than {MAX_BODY} bytes"))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(
            "expected a request body with content type application/json".to_owned(),
        ),
        _ => match rejection {
            JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_) => {
                ApiError::bad_request(format!("malformed JSON body: {}", rejection.body_text()))
            }
            other => ApiError::bad_request(format!("unreadable body: {}", other.body_text())),
        },
    }
}

/// A query string whose rejections become [`ApiError`]s.
struct ApiQuery<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    ApiError::bad_request(format!("bad query string: {}", rejection.body_text()))
}

/// Path parameters as strings; rejections become [`ApiError`]s.
pub(super) struct ApiPath<T>(pub(super) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rejection) => Err(path_rejection(&rejection)),
        }
    }
}

fn path_rejection(rejection: &PathRejection) -> ApiError {
    ApiError::bad_request(format!("bad path: {}", rejection.body_text()))
}

pub(super) fn parse_session_id(raw: &str) -> Result<SessionId, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "session id must be a decimal number, got {:?}",
            shorten(raw)
        ))
    })
}

fn parse_version(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "configuration version must be a decimal number, got {:?}",
            shorten(raw)
        ))
    })
}

pub(super) fn check_user_name(name: &str) -> Result<(), ApiError> {
    match crate::config::user_name_problem(name) {
        None => Ok(()),
        Some(reason) => Err(ApiError::bad_request(format!(
            "user {:?}: {reason}",
            shorten(name)
        ))),
    }
}

/// A plugin's (or link's) name from a request path, checked like any configured name.
pub(super) fn check_plugin_name(name: &str) -> Result<(), ApiError> {
    match crate::config::name_problem(name) {
        None => Ok(()),
        Some(reason) => Err(ApiError::bad_request(format!(
            "plugin {:?}: {reason}",
            shorten(name)
        ))),
    }
}

/// At most 64 characters of untrusted input, for messages.
pub(super) fn shorten(s: &str) -> String {
    s.chars().take(64).collect()
}

pub(super) fn json<T: Serialize>(value: T) -> Response {
    axum::Json(value).into_response()
}

async fn status(State(s): State<ApiState>) -> Result<Response, ApiError> {
    s.control.status().await.map(json)
}

async fn sessions(State(s): State<ApiState>) -> Result<Response, ApiError> {
    s.control.sessions().await.map(json)
}

async fn session(
    State(s): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let id = parse_session_id(&id)?;
    s.control.session(id).await.map(json)
}

async fn kill_session(
    State(s): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_session_id(&id)?;
    s.control.kill_session(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn users(State(s): State<ApiState>) -> Result<Response, ApiError> {
    s.control.users().await.map(json)
}

async fn set_password(
    State(s): State<ApiState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<SetPasswordRequest>,
) -> Result<Response, ApiError> {
    check_user_name(&name)?;
    let n = body.password.chars().count();
    if n == 0 {
        return Err(ApiError::bad_request("the password is empty"));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(ApiError::bad_request(format!(
            "the password is longer than {MAX_PASSWORD_CHARS} characters"
        )));
    }
    s.control.set_password(name, body.password).await.map(json)
}

async fn remove_user(
    State(s): State<ApiState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    check_user_name(&name)?;
    s.control.remove_user(name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn plugins(State(s): State<ApiState>) -> Result<Response, ApiError> {
    s.control.plugins().await.map(json)
}

async fn restart_plugin(
    State(s): State<ApiState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    check_plugin_name(&name)?;
    s.control.restart_plugin(name).await.map(json)
}

async fn config(State(s): State<ApiState>) -> Result<Response, ApiError> {
    s.control.config().await.map(json)
}

async fn check_config(
    State(s): State<ApiState>,
    ApiJson(body): ApiJson<CheckRequest>,
) -> Result<Response, ApiError> {
    s.control.check_config(body.toml).await.map(json)
}

async fn apply_config(
    State(s): State<ApiState>,
    ApiJson(body): ApiJson<ApplyRequest>,
) -> Result<Response, ApiError> {
    if let Some(reason) = &body.reason
        && (reason.chars().count() > 1024 || reason.chars().any(char::is_control))
    {
        return Err(ApiError::bad_request(
            "the reason is at most 1024 characters, without control characters",
        ));
    }
    s.control.apply_config(body).await.map(json)
}

async fn rollback(
    State(s): State<ApiState>,
    ApiPath(version): ApiPath<String>,
) -> Result<Response, ApiError> {
    let version = parse_version(&version)?;
    s.control.rollback(version).await.map(json)
}

async fn history(State(s): State<ApiState>) -> Result<Response, ApiError> {
    s.control.history().await.map(json)
}

async fn logs(
    State(s): State<ApiState>,
    ApiQuery(mut query): ApiQuery<LogQuery>,
) -> Result<Response, ApiError> {
    query.limit = Some(query.limit.unwrap_or(MAX_LOG_LINES).min(MAX_LOG_LINES));
    s.control.logs(query).await.map(json)
}

async fn metrics_text(State(s): State<ApiState>) -> Result<Response, ApiError> {
    let snapshot = s.control.metrics().await?;
    let mut response = metrics::render(&snapshot).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE));
    Ok(response)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!("no such route: {}", shorten(req.uri().path())))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "method {} is not allowed on {}",
        shorten(req.method().as_str()),
        shorten(req.uri().path())
    ))
}

/// Polls the inner future inside `catch_unwind`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

/// Turns a panic while serving a request into a 500, and refuses requests beyond
/// [`MAX_CONCURRENT_REQUESTS`] with a 503.
async fn guard(limit: Arc<Semaphore>, req: Request, next: Next) -> Response {
    let Ok(_permit) = limit.try_acquire() else {
        return ApiError::Unavailable("too many concurrent management requests".to_owned())
            .into_response();
    };
    let path = shorten(req.uri().path());
    match CatchUnwind(Box::pin(next.run(req))).await {
        Ok(response) => response,
        Err(()) => {
            tracing::error!(path, "panic while serving a management request");
            ApiError::internal("internal error while serving the request").into_response()
        }
    }
}

fn finish(router: Router<ApiState>, control: Arc<dyn Control>) -> Router {
    let limit = Arc::new(Semaphore::new(MAX_CONCURRENT_REQUESTS));
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            guard(limit.clone(), req, next)
        }))
        .with_state(ApiState { control })
}

/// The management API's routes (see the module documentation of [`super`]).
pub fn router(control: Arc<dyn Control>) -> Router {
    let routes = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/sessions", get(sessions))
        .route("/v1/sessions/{id}", get(session).delete(kill_session))
        .route("/v1/sessions/{id}/pcap", get(super::capture::handler))
        .route("/v1/users", get(users))
        .route("/v1/users/{name}/password", put(set_password))
        .route("/v1/users/{name}", delete(remove_user))
        .route(
            "/v1/users/{name}/attrs",
            get(super::users_attrs::get_attrs).put(super::users_attrs::put_attrs),
        )
        .route("/v1/plugins", get(plugins))
        .route("/v1/plugins/{name}/restart", post(restart_plugin))
        .route(
            "/v1/plugins/{name}/schema",
            get(super::plugin_schema::handler),
        )
        .route("/v1/config", get(config).post(apply_config))
        .route("/v1/config/check", post(check_config))
        .route("/v1/config/rollback/{version}", post(rollback))
        .route("/v1/config/history", get(history))
        .route(
            "/v1/config/versions/{version}",
            get(super::users_attrs::config_version),
        )
        .route("/v1/logs", get(logs))
        .route("/v1/system/hardware", get(hardware::hardware))
        .route(
            "/v1/system/upgrade",
            get(upgrade::status)
                .post(upgrade::stage)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/stats/history", get(super::stats::history))
        .route("/v1/system", get(super::system::info))
        .route("/v1/system/reboot", post(super::system::reboot))
        .route("/metrics", get(metrics_text));
    finish(routes, control)
}

/// Only `GET /metrics`, for the TCP metrics listener (`management.metrics_listen`).
pub fn metrics_router(control: Arc<dyn Control>) -> Router {
    finish(Router::new().route("/metrics", get(metrics_text)), control)
}
