//! The edge as an attacker meets it: undeclared methods, tokens in URLs, the
//! metrics endpoint, the session cookie, cross-site writes and unsafe links.
//! Each test names the OWASP ASVS 5.0 requirement it covers.

use crate::helpers::{
    PASSWORD, StaffLogin, TestApp, error_code, spawn_app, spawn_with, test_settings,
};
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;
use xiaoer::services::staff::NewStaff;
use xiaoer::startup::Adapters;

/// Signs in over HTTP and returns the whole `Set-Cookie` header.
async fn login_cookie(app: &TestApp, username: &str, role: Role) -> String {
    let new = NewStaff::parse(username, PASSWORD, None, role, Some(5)).unwrap();
    app.state.staff.add_user(new).await.unwrap();
    let res = app
        .client
        .post(app.url("/api/v1/staff/login"))
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.headers()["set-cookie"].to_str().unwrap().to_owned()
}

/// `name=value` of a `Set-Cookie` header, as a browser sends it back.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// ASVS 5.0 13.4.4 (TRACE not supported) and 16.5.3 (fail gracefully): a
/// method the route table does not declare answers 405 with `Allow`, not 500.
#[tokio::test]
async fn undeclared_methods_on_a_known_path_answer_405_with_the_allowed_methods() {
    let app = spawn_app().await;
    for (method, path, allowed) in [
        ("OPTIONS", "/api/v1/conversations", "POST"),
        ("TRACE", "/api/v1/conversations", "POST"),
        ("PATCH", "/api/v1/kb/entries/some-entry", "PUT"),
        ("DELETE", "/api/v1/staff/me", "GET"),
        ("TRACE", "/healthz", "GET"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        let allow = res.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains(allowed), "{method} {path}: Allow {allow}");
        assert!(!allow.contains("TRACE"));
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_code(&body), "method_not_allowed", "{method} {path}");
    }
    let head = app.client.head(app.url("/healthz")).send().await.unwrap();
    assert_eq!(head.status(), 200);
}

/// ASVS 5.0 3.4.2 (CORS origin allowlist): the widget is served by Xiaoer itself,
/// so the API is same-origin only; a preflight gets a clean 405 and no CORS grant.
#[tokio::test]
async fn a_cors_preflight_is_refused_cleanly_without_granting_any_origin() {
    let app = spawn_app().await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/conversations"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

/// ASVS 5.0 14.2.1 (no session tokens in URLs): `?access_token=` is honoured only
/// where a browser cannot set a header (WebSocket upgrades, <img> downloads).
#[tokio::test]
async fn tokens_in_the_query_string_are_refused_except_on_sockets_and_downloads() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let admin = app.staff("root", Role::Admin).await;
    let me = app.url(&format!("/api/v1/staff/me?access_token={}", admin.token));
    let res = app.client.get(me).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let conversation = format!(
        "/api/v1/conversations/{}?access_token={}",
        buyer.conversation_id, buyer.token
    );
    let res = app.client.get(app.url(&conversation)).send().await.unwrap();
    assert_eq!(res.status(), 401);

    // Where the query token is the only way, it still works.
    let download = format!(
        "/api/v1/conversations/{}/attachments/{}?access_token={}",
        buyer.conversation_id,
        "0".repeat(64),
        buyer.token
    );
    let res = app.client.get(app.url(&download)).send().await.unwrap();
    assert_eq!(res.status(), 404, "authenticated, then not found");
    let mut socket = app.staff_socket(&admin).await;
    drop(socket.close(None).await);
    let _buyer_socket = app.buyer_socket(&buyer, 0).await;
}

/// ASVS 5.0 13.4.5 (monitoring endpoints not exposed): /metrics answers the
/// scraper's token or staff with view_metrics, nobody else.
#[tokio::test]
async fn metrics_need_the_scrape_token_or_a_supervisor() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.metrics_token = Some(xiaoer::config::Secret::new("prom-scrape-token".into()));
    let app = spawn_with(dir, settings, Adapters::default()).await;
    let metrics = app.url("/metrics");
    let anonymous = app.client.get(&metrics).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = app
        .client
        .get(&metrics)
        .bearer_auth("prom-scrape-tokeN")
        .send()
        .await;
    assert_eq!(wrong.unwrap().status(), 401);
    let agent = app.staff("ann", Role::Agent).await;
    assert_eq!(app.staff_get(&agent, "/metrics").await.status(), 403);
    let supervisor = app.staff("sue", Role::Supervisor).await;
    assert_eq!(app.staff_get(&supervisor, "/metrics").await.status(), 200);
    let scraper = StaffLogin {
        id: String::new(),
        token: "prom-scrape-token".into(),
    };
    let res = app.staff_get(&scraper, "/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("xiaoer_http_requests_total")
    );
}

/// ASVS 5.0 3.3.1 (Secure and a cookie prefix), 3.3.2 (SameSite), 3.3.3 (__Host-)
/// and 3.3.4 (HttpOnly): behind https the session cookie is `__Host-`, Secure,
/// HttpOnly and SameSite=Strict.
#[tokio::test]
async fn behind_https_the_session_cookie_is_secure_host_only_and_strict() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.public_origin = Some("https://kefu.shop.example".into());
    settings.cookie_secure = true;
    let app = spawn_with(dir, settings, Adapters::default()).await;
    let cookie = login_cookie(&app, "alice", Role::Agent).await;
    assert!(cookie.starts_with("__Host-xiaoer_session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} in {cookie}"
        );
    }
    assert!(!cookie.contains("Domain="));
    let me = app
        .client
        .get(app.url("/api/v1/staff/me"))
        .header("cookie", cookie_pair(&cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    let plain = spawn_app().await;
    let cookie = login_cookie(&plain, "bob", Role::Agent).await;
    assert!(cookie.starts_with("xiaoer_session=") && cookie.contains("HttpOnly"));
    assert!(
        !cookie.contains("Secure"),
        "no Secure over plain http: {cookie}"
    );
}

const PROBE: &str =
    r#"{"id":"csrf-probe","question":"跨站请求能导入吗？","answer":"不能。","locale":"zh"}"#;

async fn cookie_import(app: &TestApp, cookie: &str, origin: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/v1/kb/import?format=jsonl"))
        .header("cookie", cookie)
        .header("content-type", "text/plain")
        .body(format!("{PROBE}\n"));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

/// ASVS 5.0 3.5.1 and 3.5.2 (CSRF; CORS-safelisted requests checked): a
/// `text/plain` KB import that another site's page makes the browser send, with
/// the session cookie attached, is refused; so is one that names no origin.
#[tokio::test]
async fn a_cross_origin_text_plain_import_with_the_session_cookie_is_refused() {
    let app = spawn_app().await;
    let km = cookie_pair(&login_cookie(&app, "kim", Role::KnowledgeManager).await);
    for origin in [Some("https://evil.example"), Some("null"), None] {
        let res = cookie_import(&app, &km, origin).await;
        assert_eq!(res.status(), 403, "{origin:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_code(&body), "csrf_origin_mismatch");
    }
    let referer = app
        .client
        .delete(app.url("/api/v1/kb/entries/csrf-probe"))
        .header("cookie", &km)
        .header("referer", "https://evil.example/attack.html")
        .send()
        .await
        .unwrap();
    assert_eq!(referer.status(), 403);
    // A socket opened by another site's page with the cookie is refused as well.
    let mut ws = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        app.ws_url("/api/v1/staff/ws"),
    )
    .unwrap();
    let agent = cookie_pair(&login_cookie(&app, "ann", Role::Agent).await);
    ws.headers_mut().insert("cookie", agent.parse().unwrap());
    ws.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(ws).await.is_err());
    let admin = app.staff("root", Role::Admin).await;
    let entries: Value = app
        .staff_get(&admin, "/api/v1/kb/entries")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(entries["total"], 0, "nothing was imported");
}

/// ASVS 5.0 3.5.1: the console's own requests (same origin, as browsers send
/// `Origin` on every fetch that writes) and bearer-token clients still pass.
#[tokio::test]
async fn the_consoles_own_cookie_writes_and_bearer_clients_pass_the_origin_check() {
    let app = spawn_app().await;
    let km = cookie_pair(&login_cookie(&app, "kim", Role::KnowledgeManager).await);
    let own = app.url("");
    let res = cookie_import(&app, &km, Some(&own)).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .client
        .delete(app.url("/api/v1/kb/entries/csrf-probe"))
        .header("cookie", &km)
        .header("referer", format!("{own}/console/#/kb"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let reads = app
        .client
        .get(app.url("/api/v1/staff/me"))
        .header("cookie", &km)
        .send()
        .await
        .unwrap();
    assert_eq!(reads.status(), 200, "reads need no Origin");
    let bearer = app.staff("kai", Role::KnowledgeManager).await;
    let res = app
        .client
        .post(app.url("/api/v1/kb/categories"))
        .bearer_auth(&bearer.token)
        .header("origin", "https://partner.example")
        .json(&json!({ "path": "售后/发票" }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
}

/// ASVS 5.0 1.2.2 (only safe URL protocols): page addresses the buyer's side
/// reports, which the console shows as links, must be http(s).
#[tokio::test]
async fn javascript_urls_from_the_buyer_are_refused_at_the_edge() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let put_context = |context: Value| {
        app.client
            .put(app.url("/api/v1/visitor/context"))
            .bearer_auth(&buyer.token)
            .json(&context)
            .send()
    };
    for context in [
        json!({ "current_page": "javascript:alert(document.cookie)" }),
        json!({ "current_page": "JaVaScRiPt:alert(1)" }),
        json!({ "pages_viewed": [{ "url": "javascript:fetch('//evil.example')", "title": "首页", "at": 1 }] }),
        json!({ "pages_viewed": [{ "url": "data:text/html,<script>alert(1)</script>", "at": 1 }] }),
    ] {
        let res = put_context(context.clone()).await.unwrap();
        assert_eq!(res.status(), 400, "{context}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_code(&body), "invalid_url", "{context}");
    }
    let fine = json!({
        "current_page": "https://shop.example/item/42",
        "pages_viewed": [{ "url": "http://shop.example/", "title": "首页", "at": 1 }]
    });
    assert_eq!(put_context(fine).await.unwrap().status(), 204);
    let handoff = app
        .buyer_post(
            &buyer,
            "/handoff",
            json!({ "entry_page": "javascript:alert(1)" }),
        )
        .await;
    assert_eq!(handoff.status(), 400);
    assert_eq!(error_code(&handoff.json().await.unwrap()), "invalid_url");
}

/// A server whose per-IP limits believe `X-Forwarded-For` from loopback, so one
/// test can play several clients.
pub(crate) async fn spawn_limited(limits: impl FnOnce(&mut xiaoer::config::RateLimits)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.rate_limits.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    limits(&mut settings.rate_limits);
    spawn_with(dir, settings, Adapters::default()).await
}

/// A new conversation asked for from `ip` (the balancer's `X-Forwarded-For`).
pub(crate) async fn start_from(app: &TestApp, ip: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/conversations"))
        .header("x-forwarded-for", ip)
        .json(&json!({ "nickname": "刷单机器人" }))
        .send()
        .await
        .unwrap()
}

/// The 429 every limit answers: `Retry-After` in seconds and the code `rate_limited`.
pub(crate) async fn assert_rate_limited(res: reqwest::Response) {
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(error_code(&res.json().await.unwrap()), "rate_limited");
}

/// ASVS 5.0 2.4.1 (anti-automation): a script opening conversations from one
/// address is slowed down while a buyer at another address is served.
#[tokio::test]
async fn a_burst_of_new_conversations_from_one_ip_gets_429_while_another_ip_is_served() {
    let app = spawn_limited(|r| r.conversations_per_ip = 3).await;
    for _ in 0..3 {
        assert_eq!(start_from(&app, "203.0.113.7").await.status(), 201);
    }
    assert_rate_limited(start_from(&app, "203.0.113.7").await).await;
    assert_eq!(start_from(&app, "203.0.113.8").await.status(), 201);
    // Only a trusted proxy's header is believed: a client naming itself anew
    // from an untrusted peer is still the peer.
    let untrusted = spawn_limited(|r| {
        r.conversations_per_ip = 1;
        r.trusted_proxies.clear();
    })
    .await;
    assert_eq!(start_from(&untrusted, "198.51.100.1").await.status(), 201);
    assert_rate_limited(start_from(&untrusted, "198.51.100.2").await).await;
}

/// ASVS 5.0 2.4.1: one visitor flooding messages gets 429; another is served.
#[tokio::test]
async fn a_visitor_flooding_messages_gets_429_while_another_visitor_is_served() {
    let app = spawn_limited(|r| r.messages_per_visitor = 3).await;
    let flooder = app.start_conversation().await;
    let buyer = app.start_conversation().await;
    for i in 0..3 {
        let res = app.buyer_send(&flooder, &format!("f-{i}"), "在吗").await;
        assert_eq!(res.status(), 201);
    }
    assert_rate_limited(app.buyer_send(&flooder, "f-3", "在吗").await).await;
    assert_eq!(app.buyer_send(&buyer, "b-0", "你好").await.status(), 201);
}

/// ASVS 5.0 6.3.1 (brute force): password guesses against one account are
/// slowed wherever they come from; another account still signs in.
#[tokio::test]
async fn password_guessing_on_one_account_is_slowed_from_any_ip_and_others_still_sign_in() {
    let app = spawn_limited(|r| {
        r.logins_per_account = 3;
        r.logins_per_ip = 6;
    })
    .await;
    for name in ["alice", "bob"] {
        let new = NewStaff::parse(name, PASSWORD, None, Role::Agent, Some(5)).unwrap();
        app.state.staff.add_user(new).await.unwrap();
    }
    let login = |user: &'static str, password: &'static str, ip: &'static str| {
        app.client
            .post(app.url("/api/v1/staff/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({ "username": user, "password": password }))
            .send()
    };
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        assert_eq!(login("alice", "guess", ip).await.unwrap().status(), 400);
    }
    assert_rate_limited(login("ALICE", PASSWORD, "203.0.113.4").await.unwrap()).await;
    assert_eq!(
        login("bob", PASSWORD, "203.0.113.4")
            .await
            .unwrap()
            .status(),
        200
    );
    // Per address (six a minute): after ALICE, bob and four guesses, bob waits too.
    for user in ["carol", "dave", "erin", "frank"] {
        assert_eq!(
            login(user, "guess", "203.0.113.4").await.unwrap().status(),
            400
        );
    }
    assert_rate_limited(login("bob", PASSWORD, "203.0.113.4").await.unwrap()).await;
}
