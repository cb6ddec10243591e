//! The management API over a real unix socket, against a fake daemon: every route, and bad
//! input answered with a 4xx JSON error, never a crash.

mod mgmt_support;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use dialgate_routerd::api::client::{Client, ClientError, Response};
use dialgate_routerd::api::server::{BindError, SOCKET_MODE};
use dialgate_routerd::api::{
    ApplyRequest, ApplyResult, CheckReport, CheckRequest, ConfigShow, History, LogLine, PluginInfo,
    PluginRestart, PluginState, SessionInfo, SetPasswordRequest, Status, UserEntry, UserSet,
    bind_unix,
};
use hyper::Method;
use mgmt_support::server::{TempDir, TestServer};
use serde_json::Value;

fn client(server: &TestServer) -> Client {
    Client::new(&server.socket)
}

/// Asserts a JSON error answer with a non-empty message, and returns the body.
fn error_json(r: &Response, status: u16) -> Value {
    assert_eq!(
        r.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&r.body)
    );
    let v: Value = serde_json::from_slice(&r.body).expect("error bodies are JSON");
    let msg = v["error"].as_str().expect("error is a string");
    assert!(!msg.is_empty());
    assert!(v.get("detail").is_some(), "detail is always present: {v}");
    v
}

async fn raw(c: &Client, method: Method, path: &str, body: Option<&str>) -> Response {
    c.raw(method, path, body.map(|b| b.as_bytes().to_vec()))
        .await
        .expect("routerd answers")
}

#[tokio::test]
async fn status_sessions_show_and_kill() {
    let server = TestServer::start();
    let c = client(&server);
    let status: Status = c.get("/v1/status").await.expect("status");
    assert_eq!(status.sessions.total, 2);
    assert_eq!(status.config_version, 1);
    assert_eq!(status.interfaces[0].name, "dg0");
    assert!(
        status
            .plugins
            .iter()
            .any(|p| p.name == "broken" && p.state == PluginState::Failed)
    );

    let sessions: Vec<SessionInfo> = c.get("/v1/sessions").await.expect("sessions");
    assert_eq!(
        sessions.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let one: SessionInfo = c.get("/v1/sessions/2").await.expect("session 2");
    assert_eq!(one.user.as_deref(), Some("bob"));
    assert_eq!(one, sessions[1]);

    let r = raw(&c, Method::DELETE, "/v1/sessions/1", None).await;
    assert_eq!(r.status, 204);
    assert_eq!(server.control.state().killed, vec![1]);
    let again = raw(&c, Method::DELETE, "/v1/sessions/1", None).await;
    let v = error_json(&again, 404);
    assert_eq!(v["error"], "no session 1");
    error_json(&raw(&c, Method::GET, "/v1/sessions/1", None).await, 404);
}

#[tokio::test]
async fn users_set_password_and_remove() {
    let server = TestServer::start();
    let c = client(&server);
    let users: Vec<UserEntry> = c.get("/v1/users").await.expect("users");
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].name, "alice");
    assert_eq!(users[0].sessions, 1);

    let set: UserSet = c
        .call(
            Method::PUT,
            "/v1/users/carol%20smith/password",
            Some(&SetPasswordRequest {
                password: "s3cret ü".to_owned(),
            }),
        )
        .await
        .expect("set password");
    assert_eq!(set.name, "carol smith");
    assert!(set.created);
    assert_eq!(
        server
            .control
            .state()
            .users
            .get("carol smith")
            .map(|s| &s[..]),
        Some("s3cret ü")
    );
    let set: UserSet = c
        .call(
            Method::PUT,
            "/v1/users/alice/password",
            Some(&SetPasswordRequest {
                password: "new".to_owned(),
            }),
        )
        .await
        .expect("change password");
    assert!(!set.created);
    // The user list never carries a password or hash.
    let r = raw(&c, Method::GET, "/v1/users", None).await;
    assert!(!String::from_utf8_lossy(&r.body).contains("s3cret"));

    let r = raw(&c, Method::DELETE, "/v1/users/bob", None).await;
    assert_eq!(r.status, 204);
    assert!(!server.control.state().users.contains_key("bob"));
    error_json(&raw(&c, Method::DELETE, "/v1/users/bob", None).await, 404);
}

#[tokio::test]
async fn plugins_list() {
    let server = TestServer::start();
    let plugins: Vec<PluginInfo> = client(&server).get("/v1/plugins").await.expect("plugins");
    assert_eq!(plugins.len(), 2);
    assert_eq!(plugins[0].abi_version.as_deref(), Some("1.0.0"));
    assert!(plugins[1].error.as_deref().unwrap_or("").contains("2.0.0"));
    assert_eq!(plugins[0].restarts, 1);
    assert!(plugins[0].last_error.is_some());
}

#[tokio::test]
async fn plugin_restart() {
    let server = TestServer::start();
    let c = client(&server);
    let r: PluginRestart = c
        .call(Method::POST, "/v1/plugins/serial/restart", None::<&()>)
        .await
        .expect("restart");
    assert_eq!(r.name, "serial");
    assert_eq!(r.restarted, vec!["serial0".to_owned()]);
    assert_eq!(server.control.state().plugins[0].restarts, 2);
    error_json(
        &raw(&c, Method::POST, "/v1/plugins/nothing/restart", None).await,
        404,
    );
    error_json(
        &raw(&c, Method::POST, "/v1/plugins/broken/restart", None).await,
        500,
    );
    error_json(
        &raw(&c, Method::POST, "/v1/plugins/bad%20name/restart", None).await,
        400,
    );
    error_json(
        &raw(&c, Method::GET, "/v1/plugins/serial/restart", None).await,
        405,
    );
}

#[tokio::test]
async fn config_show_check_apply_rollback_history() {
    let server = TestServer::start();
    let c = client(&server);
    let show: ConfigShow = c.get("/v1/config").await.expect("config");
    assert_eq!(show.version, 1);
    assert!(show.toml.contains("[management]"));

    let changed = show.toml.replace("127.0.0.1:9633", "127.0.0.1:9700");
    let report: CheckReport = c
        .call(
            Method::POST,
            "/v1/config/check",
            Some(&CheckRequest {
                toml: changed.clone(),
            }),
        )
        .await
        .expect("check");
    assert!(report.valid);
    assert_eq!(report.changes, vec!["section [management] changed"]);

    let bad = "[system]\nhostname = \"ok\"\nbogus = 1\n";
    let report: CheckReport = c
        .call(
            Method::POST,
            "/v1/config/check",
            Some(&CheckRequest {
                toml: bad.to_owned(),
            }),
        )
        .await
        .expect("check answers for an invalid document too");
    assert!(!report.valid);
    assert_eq!(report.errors[0].line, Some(3));
    assert_eq!(report.errors[0].column, Some(1));
    assert!(report.errors[0].field.contains("bogus"), "{report:?}");

    // Apply: invalid document, conflict, success.
    let body = serde_json::json!({"toml": bad}).to_string();
    let r = raw(&c, Method::POST, "/v1/config", Some(&body)).await;
    let v = error_json(&r, 400);
    assert!(v["error"].as_str().unwrap_or("").contains("bogus"), "{v}");
    assert_eq!(v["detail"][0]["line"], 3);
    let body = serde_json::json!({"toml": changed, "base_version": 7}).to_string();
    error_json(&raw(&c, Method::POST, "/v1/config", Some(&body)).await, 409);
    let applied: ApplyResult = c
        .call(
            Method::POST,
            "/v1/config",
            Some(&ApplyRequest {
                toml: changed,
                reason: Some("metrics port".to_owned()),
                base_version: Some(1),
            }),
        )
        .await
        .expect("apply");
    assert_eq!(applied.version, 2);

    let rolled: ApplyResult = c
        .call(Method::POST, "/v1/config/rollback/1", None::<&()>)
        .await
        .expect("rollback");
    assert_eq!(rolled.version, 3);
    assert_eq!(rolled.changes, vec!["section [management] changed"]);
    error_json(
        &raw(&c, Method::POST, "/v1/config/rollback/42", None).await,
        404,
    );
    error_json(
        &raw(&c, Method::POST, "/v1/config/rollback/-1", None).await,
        400,
    );

    let history: History = c.get("/v1/config/history").await.expect("history");
    assert_eq!(history.current, 3);
    let reasons: Vec<_> = history.versions.iter().map(|v| &v.reason[..]).collect();
    assert_eq!(reasons, vec!["initial", "metrics port", "rollback to 1"]);
}

#[tokio::test]
async fn logs_filter_and_limit() {
    let server = TestServer::start();
    let c = client(&server);
    let all: Vec<LogLine> = c.get("/v1/logs").await.expect("logs");
    assert_eq!(all.len(), 4);
    let one: Vec<LogLine> = c.get("/v1/logs?session=1").await.expect("logs");
    assert_eq!(one.len(), 2);
    assert!(one.iter().all(|l| l.session == Some(1)));
    let last: Vec<LogLine> = c.get("/v1/logs?limit=1").await.expect("logs");
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].message, "mppe-128 negotiated");
    error_json(
        &raw(&c, Method::GET, "/v1/logs?session=abc", None).await,
        400,
    );
    error_json(&raw(&c, Method::GET, "/v1/logs?sesion=1", None).await, 400);
}

#[tokio::test]
async fn metrics_exposition() {
    let server = TestServer::start();
    let c = client(&server);
    let text = c.get_text("/metrics").await.expect("metrics");
    assert!(text.contains("# TYPE dialgate_sessions gauge"));
    assert!(
        text.lines()
            .any(|l| l == "dialgate_sessions{role=\"terminate\"} 1")
    );
    assert!(
        text.lines()
            .any(|l| l == "dialgate_drops_total{reason=\"no-session\"} 5")
    );
    assert!(
        text.lines()
            .any(|l| l == "dialgate_sessions_ended_total{reason=\"peer \\\"quit\\\"\"} 2")
    );
    let r = server.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let head = String::from_utf8_lossy(&r).to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
}

#[tokio::test]
async fn bad_input_gets_4xx_json() {
    let server = TestServer::start();
    let c = client(&server);
    // Malformed JSON, wrong shape, unknown field, missing field.
    for body in [
        "{",
        "[]",
        "{\"password\": 5}",
        "{\"password\": \"x\", \"extra\": 1}",
        "{}",
    ] {
        let r = raw(&c, Method::PUT, "/v1/users/alice/password", Some(body)).await;
        error_json(&r, 400);
    }
    error_json(
        &raw(&c, Method::POST, "/v1/config/check", Some("not json")).await,
        400,
    );
    // Wrong content type: the client sends application/json only with a body; send text.
    let r = server.raw(
        b"POST /v1/config/check HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\
          Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    let text = String::from_utf8_lossy(&r);
    assert!(text.starts_with("HTTP/1.1 415"), "{text}");
    assert!(text.contains("{\"error\":"), "{text}");
    // Oversized body.
    let big = format!(
        "{{\"toml\": \"{}\"}}",
        "x".repeat(dialgate_routerd::api::http::MAX_BODY)
    );
    error_json(
        &raw(&c, Method::POST, "/v1/config/check", Some(&big)).await,
        413,
    );
    // Ids and names.
    error_json(&raw(&c, Method::GET, "/v1/sessions/99", None).await, 404);
    for bad_id in ["abc", "-1", "1.5", "99999999999999999999999", "%FF"] {
        let r = raw(&c, Method::GET, &format!("/v1/sessions/{bad_id}"), None).await;
        error_json(&r, 400);
        let r = raw(&c, Method::DELETE, &format!("/v1/sessions/{bad_id}"), None).await;
        error_json(&r, 400);
    }
    let pw = serde_json::json!({"password": "x"}).to_string();
    for bad_name in ["a%01b", "dom%5Cuser", &"n".repeat(300)] {
        let r = raw(
            &c,
            Method::PUT,
            &format!("/v1/users/{bad_name}/password"),
            Some(&pw),
        )
        .await;
        error_json(&r, 400);
    }
    for bad_pw in [String::new(), "p".repeat(257)] {
        let body = serde_json::json!({ "password": bad_pw }).to_string();
        let r = raw(&c, Method::PUT, "/v1/users/alice/password", Some(&body)).await;
        error_json(&r, 400);
    }
    let body = serde_json::json!({"toml": "", "reason": "a\nb"}).to_string();
    error_json(&raw(&c, Method::POST, "/v1/config", Some(&body)).await, 400);
    // Wrong method, unknown route.
    let v = error_json(&raw(&c, Method::POST, "/v1/status", None).await, 405);
    assert!(v["error"].as_str().unwrap_or("").contains("POST"));
    error_json(
        &raw(&c, Method::GET, "/v1/users/alice/password", None).await,
        405,
    );
    error_json(&raw(&c, Method::PATCH, "/v1/config", None).await, 405);
    let v = error_json(&raw(&c, Method::GET, "/v1/nope", None).await, 404);
    assert!(v["error"].as_str().unwrap_or("").contains("/v1/nope"));
    error_json(&raw(&c, Method::GET, "/", None).await, 404);
    error_json(
        &raw(&c, Method::GET, "/v1/sessions/1/extra", None).await,
        404,
    );
    // Still serving, nothing was changed by the refused requests.
    assert!(server.alive());
    assert_eq!(
        server.control.state().users.get("alice").map(|s| &s[..]),
        Some("a")
    );
}

#[tokio::test]
async fn a_panicking_control_is_a_500_and_the_server_survives() {
    let server = TestServer::start();
    let c = client(&server);
    server.control.state().panic = true;
    let v = error_json(&raw(&c, Method::GET, "/v1/status", None).await, 500);
    assert!(v["error"].as_str().unwrap_or("").contains("internal"));
    server.control.state().panic = false;
    assert!(server.alive());
}

#[tokio::test]
async fn client_reports_api_errors_and_missing_sockets() {
    let server = TestServer::start();
    let c = client(&server);
    match c.get::<SessionInfo>("/v1/sessions/77").await {
        Err(ClientError::Api { status: 404, body }) => assert_eq!(body.error, "no session 77"),
        other => panic!("expected a 404, got {other:?}"),
    }
    let dir = TempDir::new("nosock");
    let missing = Client::new(dir.path().join("none.sock"));
    assert!(matches!(
        missing.get::<Status>("/v1/status").await,
        Err(ClientError::Connect { .. })
    ));
}

#[tokio::test]
async fn socket_mode_stale_socket_and_refusals() {
    let dir = TempDir::new("bind");
    let path = dir.path().join("api.sock");
    // A stale socket (bound, then its listener dropped) is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind stale"));
    let listener = bind_unix(&path).expect("replaces a stale socket");
    let meta = std::fs::symlink_metadata(&path).expect("socket exists");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, SOCKET_MODE);
    // No temporary names are left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("api.sock")]);
    // A live socket is not taken over.
    assert!(matches!(bind_unix(&path), Err(BindError::InUse(_))));
    drop(listener);
    // A regular file is left alone.
    let file = dir.path().join("file");
    std::fs::write(&file, b"keep").expect("write");
    assert!(matches!(bind_unix(&file), Err(BindError::NotASocket(_))));
    assert_eq!(std::fs::read(&file).ok(), Some(b"keep".to_vec()));
}

#[tokio::test]
async fn metrics_on_tcp_only_serve_metrics() {
    use std::io::{Read, Write};
    let control = std::sync::Arc::new(mgmt_support::FakeControl::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dialgate_routerd::api::serve_metrics(
        listener,
        control,
        async move {
            let _ = stopped.await;
        },
    ));
    let get = move |path: &'static str| {
        tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            let _ = write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out
        })
    };
    let metrics = get("/metrics").await.expect("join");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("dialgate_sessions_up 2"), "{metrics}");
    let status = get("/v1/status").await.expect("join");
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    assert!(status.contains("{\"error\":"), "{status}");
    let _ = stop.send(());
    let _ = server.await;
}

#[test]
fn a_stuck_client_does_not_block_shutdown() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let server = TestServer::start();
    // Half a request, never finished; and an idle connection.
    let mut stuck = std::os::unix::net::UnixStream::connect(&server.socket).expect("connect");
    stuck
        .write_all(b"POST /v1/config HTTP/1.1\r\nHost: x\r\nContent-Le")
        .expect("write");
    let _idle = std::os::unix::net::UnixStream::connect(&server.socket).expect("connect");
    std::thread::sleep(Duration::from_millis(100));
    assert!(server.alive(), "other clients are still served");
    let t = Instant::now();
    drop(server);
    let took = t.elapsed();
    let bound = dialgate_routerd::api::server::SHUTDOWN_GRACE + Duration::from_secs(2);
    assert!(took < bound, "shutdown took {took:?}");
}

#[tokio::test]
async fn management_server_runs_both_listeners_and_cleans_up() {
    use dialgate_routerd::api::ManagementServer;
    use dialgate_routerd::config::ManagementConfig;
    let dir = TempDir::new("mgmt");
    let config = ManagementConfig {
        socket: dir.path().join("run/dialgate/routerd.sock"),
        metrics_listen: Some("127.0.0.1:0".parse().expect("addr")),
    };
    let control = std::sync::Arc::new(mgmt_support::FakeControl::new());
    let server = ManagementServer::start(&config, control.clone())
        .await
        .expect("start");
    let mode = std::fs::metadata(dir.path().join("run/dialgate"))
        .expect("socket dir created")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750);
    let status: Status = Client::new(server.socket())
        .get("/v1/status")
        .await
        .expect("status");
    assert_eq!(status.sessions.total, 2);
    let addr = server.metrics_addr().expect("metrics bound");
    let text = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    })
    .await
    .expect("join");
    assert!(text.contains("dialgate_sessions_up 2"), "{text}");

    // A second server on the same socket is refused while the first runs.
    let again = ManagementServer::start(
        &ManagementConfig {
            socket: config.socket.clone(),
            metrics_listen: None,
        },
        control.clone(),
    )
    .await;
    assert!(matches!(again, Err(BindError::InUse(_))));
    // A metrics address in use fails the start and leaves no socket behind.
    let other = dir.path().join("other.sock");
    let busy = ManagementServer::start(
        &ManagementConfig {
            socket: other.clone(),
            metrics_listen: Some(addr),
        },
        control,
    )
    .await;
    assert!(matches!(busy, Err(BindError::Metrics { .. })));
    assert!(!other.exists());

    server.stop().await;
    assert!(!config.socket.exists(), "the socket is removed at stop");
}
