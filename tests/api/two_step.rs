//! Two-step sign-in (TOTP) through the real API: set up, turned on with a
//! first code, asked for after the password, each code taken once, a wrong
//! code counted like a wrong password, off again with a code or by an admin;
//! the secret never in clear at rest. Named after the OWASP ASVS 5.0
//! requirements they cover.

use crate::hardening::spawn_limited;
use crate::helpers::{PASSWORD, StaffLogin, TestApp, error_code};
use serde_json::{Value, json};
use xiaoer::domain::lockout::LockoutPolicy;
use xiaoer::domain::staff::Role;
use xiaoer::domain::totp;

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The secret as the app gets it (base32), back to bytes.
fn secret_bytes(base32: &str) -> Vec<u8> {
    totp::from_base32(base32).expect("the secret is base32")
}

async fn sign_in(app: &TestApp, user: &str, code: Option<&str>) -> (u16, Value) {
    let mut body = json!({ "username": user, "password": PASSWORD });
    if let Some(code) = code {
        body["totp"] = json!(code);
    }
    let res = app
        .client
        .post(app.url("/api/v1/staff/login"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn post(app: &TestApp, staff: &StaffLogin, path: &str, body: Value) -> (u16, Value) {
    let res = app.staff_post(staff, path, body).await;
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// ASVS 5.0 6.5.1 and 6.5.5 (a time-based code is usable once, within its
/// step) with 6.3.1 (a wrong code counts toward the lockout like a wrong
/// password): the whole life of two-step sign-in.
#[tokio::test]
async fn asvs_6_5_1_a_two_step_code_signs_in_once_after_the_password_and_wrong_ones_lock() {
    let app = spawn_limited(|r| {
        r.account_lockout = LockoutPolicy {
            free_failures: 1,
            first_lock_secs: 60,
            max_lock_secs: 600,
        };
    })
    .await;
    let admin = app.staff("admin-2fa", Role::Admin).await;
    let supervisor = app.staff("super-2fa", Role::Supervisor).await;
    let mine = |staff: &StaffLogin| {
        let app = &app;
        let token = staff.token.clone();
        async move {
            let res = app
                .client
                .get(app.url("/api/v1/staff/me/totp"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            res.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(
        mine(&supervisor).await,
        json!({ "enabled": false, "pending": false })
    );

    // Set up: a secret for the app; nothing is asked at sign-in yet.
    let (status, setup) = post(&app, &supervisor, "/api/v1/staff/me/totp/setup", json!({})).await;
    assert_eq!(status, 201, "{setup}");
    let url = setup["otpauth_url"].as_str().unwrap();
    assert!(
        url.starts_with("otpauth://totp/") && url.contains("super-2fa"),
        "{url}"
    );
    let secret = secret_bytes(setup["secret"].as_str().unwrap());
    assert_eq!(secret.len(), totp::SECRET_BYTES);
    assert_eq!(
        mine(&supervisor).await,
        json!({ "enabled": false, "pending": true })
    );
    assert_eq!(sign_in(&app, "super-2fa", None).await.0, 200);

    // A wrong first code leaves it off; the right one turns it on.
    let wrong = format!(
        "{:06}",
        (totp::code_at(&secret, now_secs()).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let (status, answer) = post(
        &app,
        &supervisor,
        "/api/v1/staff/me/totp/enable",
        json!({ "code": wrong }),
    )
    .await;
    assert_eq!((status, error_code(&answer)), (400, "totp_invalid"));
    assert_eq!(mine(&supervisor).await["enabled"], false);
    let first = totp::code_at(&secret, now_secs());
    let (status, answer) = post(
        &app,
        &supervisor,
        "/api/v1/staff/me/totp/enable",
        json!({ "code": first }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        mine(&supervisor).await,
        json!({ "enabled": true, "pending": false })
    );
    let (status, answer) = post(&app, &supervisor, "/api/v1/staff/me/totp/setup", json!({})).await;
    assert_eq!(
        (status, error_code(&answer)),
        (409, "totp_already_on"),
        "a session alone cannot rebind it"
    );

    // Sign-in: the code is asked only after the right password.
    let (status, answer) = sign_in(&app, "super-2fa", None).await;
    assert_eq!((status, error_code(&answer)), (400, "totp_required"));
    let (status, answer) = sign_in(&app, "super-2fa", Some(&first)).await;
    assert_eq!(
        (status, error_code(&answer)),
        (400, "totp_invalid"),
        "the code that turned it on is spent"
    );
    let next = totp::code_at(&secret, now_secs() + 30);
    let (status, answer) = sign_in(&app, "super-2fa", Some(&next)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user"]["two_step"], true);
    let (status, answer) = sign_in(&app, "super-2fa", Some(&next)).await;
    assert_eq!(
        (status, error_code(&answer)),
        (400, "totp_invalid"),
        "a code signs in once"
    );

    // Wrong codes count like wrong passwords (one is free here, and the replay
    // above was it): the account locks, for the right code too.
    let (status, _) = sign_in(&app, "super-2fa", Some("000000")).await;
    assert_eq!(status, 400);
    let later = totp::code_at(&secret, now_secs() + 60);
    let (status, answer) = sign_in(&app, "super-2fa", Some(&later)).await;
    assert_eq!(
        (status, error_code(&answer)),
        (429, "login_locked"),
        "{answer}"
    );

    // The secret is sealed at rest.
    let raw = crate::privacy::raw_database_bytes(&app).await;
    for clear in [&secret[..], setup["secret"].as_str().unwrap().as_bytes()] {
        assert!(
            !raw.windows(clear.len()).any(|w| w == clear),
            "the TOTP secret in clear"
        );
    }

    // An admin turns it off for a lost phone; the password alone signs in again
    // (once the lock has passed: a fresh account shows it).
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/staff/users/{}/totp", supervisor.id)))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        mine(&supervisor).await,
        json!({ "enabled": false, "pending": false })
    );
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/staff/users/{}/totp", admin.id)))
        .bearer_auth(&supervisor.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "only admins reset another's");

    // The admin's own: on, then off with a current code (not with a wrong one).
    let (_, setup) = post(&app, &admin, "/api/v1/staff/me/totp/setup", json!({})).await;
    let secret = secret_bytes(setup["secret"].as_str().unwrap());
    let code = totp::code_at(&secret, now_secs());
    assert_eq!(
        post(
            &app,
            &admin,
            "/api/v1/staff/me/totp/enable",
            json!({ "code": code })
        )
        .await
        .0,
        200
    );
    let (status, answer) = post(
        &app,
        &admin,
        "/api/v1/staff/me/totp/disable",
        json!({ "code": "12345x" }),
    )
    .await;
    assert_eq!((status, error_code(&answer)), (400, "totp_invalid"));
    let code = totp::code_at(&secret, now_secs() + 30);
    let (status, answer) = post(
        &app,
        &admin,
        "/api/v1/staff/me/totp/disable",
        json!({ "code": code }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(sign_in(&app, "admin-2fa", None).await.0, 200);
    let (status, answer) = post(
        &app,
        &admin,
        "/api/v1/staff/me/totp/disable",
        json!({ "code": code }),
    )
    .await;
    assert_eq!((status, error_code(&answer)), (409, "totp_not_on"));
}
