//! Sign-in as a password guesser meets it: lockout with backoff per account and
//! per address, and the password policy. Each test is named after the OWASP
//! ASVS 5.0 requirement it covers.

use crate::hardening::spawn_limited;
use crate::helpers::{PASSWORD, TestApp, error_code};
use serde_json::json;
use std::time::Duration;
use xiaoer::domain::lockout::LockoutPolicy;
use xiaoer::domain::staff::Role;
use xiaoer::services::staff::NewStaff;

async fn login(app: &TestApp, user: &str, password: &str, ip: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/staff/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .unwrap()
}

/// The 429 of a lockout: `login_locked` and how long to wait, `wait_secs`
/// or, as time passed since the lock began (a loaded machine takes seconds
/// per sign-in), a little less but more than half of it.
async fn assert_locked(res: reqwest::Response, wait_secs: u64) {
    assert_eq!(res.status(), 429);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        retry_after <= wait_secs && retry_after * 2 > wait_secs,
        "Retry-After {retry_after}, the lock {wait_secs} s"
    );
    assert_eq!(error_code(&res.json().await.unwrap()), "login_locked");
}

/// ASVS 5.0 6.3.1 (brute force and credential stuffing): after three wrong
/// passwords an account is locked, even for the right one, each further failure
/// doubles the wait; an address spraying many accounts is locked as well.
#[tokio::test]
async fn asvs_6_3_1_failed_sign_ins_lock_the_account_and_the_address_with_growing_waits() {
    let app = spawn_limited(|r| {
        r.account_lockout = LockoutPolicy {
            free_failures: 3,
            first_lock_secs: 5,
            max_lock_secs: 40,
        };
        r.ip_lockout = LockoutPolicy {
            free_failures: 5,
            first_lock_secs: 60,
            max_lock_secs: 600,
        };
    })
    .await;
    for name in ["alice", "bob"] {
        let new = NewStaff::parse(name, PASSWORD, None, Role::Agent, Some(5)).unwrap();
        app.state.staff.add_user(new).await.unwrap();
    }
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"] {
        assert_eq!(
            login(&app, "alice", "wrong password!", ip).await.status(),
            400
        );
    }
    assert_locked(login(&app, "Alice", PASSWORD, "198.51.100.1").await, 5).await;
    tokio::time::sleep(Duration::from_millis(5100)).await;
    assert_eq!(
        login(&app, "alice", "wrong password!", "203.0.113.5")
            .await
            .status(),
        400
    );
    assert_locked(login(&app, "alice", PASSWORD, "198.51.100.1").await, 10).await;
    tokio::time::sleep(Duration::from_millis(10_100)).await;
    assert_eq!(
        login(&app, "alice", PASSWORD, "198.51.100.1")
            .await
            .status(),
        200
    );
    // Unknown names lock like real ones, so a lock says nothing about existence.
    for _ in 0..4 {
        login(&app, "nobody-here", "wrong password!", "203.0.113.9").await;
    }
    assert_locked(login(&app, "nobody-here", "x", "198.51.100.2").await, 5).await;
    // Spraying: six accounts from one address locks the address, not the accounts.
    for user in ["carol", "dave", "erin", "frank", "grace", "heidi"] {
        assert_eq!(
            login(&app, user, "Spring2026!!", "192.0.2.66")
                .await
                .status(),
            400
        );
    }
    assert_locked(login(&app, "bob", PASSWORD, "192.0.2.66").await, 60).await;
    assert_eq!(
        login(&app, "bob", PASSWORD, "192.0.2.67").await.status(),
        200
    );
}

/// ASVS 5.0 6.2.1 (at least 12 characters here) and 6.2.4 (checked against a
/// list of common passwords): an admin cannot give an account a short or
/// common password; a long uncommon one is taken.
#[tokio::test]
async fn asvs_6_2_1_and_6_2_4_short_or_common_passwords_are_refused() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.staff("root", Role::Admin).await;
    for (password, code) in [
        ("elevenchars", "password_too_short"),
        ("Password123456", "password_too_common"),
        ("qwertyuiop123", "password_too_common"),
        ("woaini5201314", "password_too_common"),
        ("111111111111", "password_too_common"),
    ] {
        let res = app
            .staff_post(
                &admin,
                "/api/v1/staff/users",
                json!({ "username": "new-agent", "password": password, "role": "agent" }),
            )
            .await;
        assert_eq!(res.status(), 400, "{password}");
        assert_eq!(error_code(&res.json().await.unwrap()), code, "{password}");
    }
    let res = app
        .staff_post(
            &admin,
            "/api/v1/staff/users",
            json!({ "username": "new-agent", "password": "violet kettle on the roof", "role": "agent" }),
        )
        .await;
    assert_eq!(res.status(), 201);
}

/// ASVS 5.0 7.4.3 (other sessions end after an authentication factor changes):
/// a staff member who changes their own password keeps the session that made
/// the change; their other sessions answer 401 and their sockets close (4401).
#[tokio::test]
async fn asvs_7_4_3_changing_ones_own_password_ends_every_other_session_and_closes_its_sockets() {
    let app = crate::helpers::spawn_app().await;
    let laptop = app.staff("agent-pw", Role::Agent).await;
    let res = login(&app, "agent-pw", PASSWORD, "198.51.100.7").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let phone = crate::helpers::StaffLogin {
        id: laptop.id.clone(),
        token: body["token"].as_str().unwrap().to_owned(),
    };
    let mut phone_feed = app.staff_socket(&phone).await;
    let mut laptop_feed = app.staff_socket(&laptop).await;

    let change =
        json!({ "current_password": PASSWORD, "new_password": "violet kettle on the roof" });
    let res = app
        .staff_send(
            reqwest::Method::PUT,
            &laptop,
            "/api/v1/staff/me/password",
            change,
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    assert_eq!(close_code(&mut phone_feed).await, 4401);
    assert_eq!(
        app.staff_get(&phone, "/api/v1/staff/me").await.status(),
        401
    );
    assert_eq!(
        app.staff_get(&laptop, "/api/v1/staff/me").await.status(),
        200
    );
    let still_open = tokio::time::timeout(
        Duration::from_millis(300),
        futures::StreamExt::next(&mut laptop_feed),
    )
    .await;
    assert!(
        still_open.is_err(),
        "the changing session's socket stays open: {still_open:?}"
    );
}

/// The close code the server ends this socket with (text frames skipped).
async fn close_code(ws: &mut crate::helpers::Ws) -> u16 {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the server closes the socket within 10 s");
        match next {
            Some(Ok(Message::Close(frame))) => {
                return frame.map(|f| u16::from(f.code)).unwrap_or(0);
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}
