//! Admin pages' API: staff accounts (role, deactivation, password resets),
//! per-language welcome messages and shop settings changed at run time.

use crate::bot_support::{FixedKnowledge, shop_entries, spawn_bot_app, text_of};
use crate::helpers::{PASSWORD, StaffLogin, TestApp, error_code, spawn_app, today_in_beijing};
use reqwest::Method;
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/staff/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn change_user(
    app: &TestApp,
    admin: &StaffLogin,
    id: &str,
    body: Value,
) -> reqwest::Response {
    let path = format!("/api/v1/staff/users/{id}");
    app.staff_send(Method::PUT, admin, &path, body).await
}

#[tokio::test]
async fn a_deactivated_account_cannot_sign_in_and_its_sessions_end_until_reactivated() {
    let app = spawn_app().await;
    let admin = app.staff("admin-a", Role::Admin).await;
    let agent = app.staff("agent-b", Role::Agent).await;
    assert_eq!(
        app.staff_get(&agent, "/api/v1/staff/me").await.status(),
        200
    );

    let res = change_user(&app, &admin, &agent.id, json!({ "active": false })).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["active"], false);
    assert_eq!(
        app.staff_get(&agent, "/api/v1/staff/me").await.status(),
        401,
        "the open session ended"
    );
    let refused = login(&app, "agent-b", PASSWORD).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        error_code(&refused.json().await.unwrap()),
        "bad_credentials"
    );

    let res = change_user(&app, &admin, &agent.id, json!({ "active": true })).await;
    assert_eq!(res.status(), 200);
    assert_eq!(login(&app, "agent-b", PASSWORD).await.status(), 200);
    let users: Value = app
        .staff_get(&admin, "/api/v1/staff/users")
        .await
        .json()
        .await
        .unwrap();
    let listed = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == agent.id.as_str());
    assert_eq!(listed.unwrap()["active"], true);
}

#[tokio::test]
async fn a_role_change_applies_at_once_and_the_last_admin_stays_an_admin() {
    let app = spawn_app().await;
    let admin = app.staff("admin-a", Role::Admin).await;
    let agent = app.staff("agent-b", Role::Agent).await;
    let board = "/api/v1/staff/supervision/board";
    assert_eq!(app.staff_get(&agent, board).await.status(), 403);
    let res = change_user(
        &app,
        &admin,
        &agent.id,
        json!({ "role": "supervisor", "display_name": "小李", "max_chats": 8 }),
    )
    .await;
    assert_eq!(res.status(), 200);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(changed["role"], "supervisor");
    assert_eq!(changed["display_name"], "小李");
    assert_eq!(changed["max_chats"], 8);
    assert_eq!(app.staff_get(&agent, board).await.status(), 200);

    let res = change_user(&app, &admin, &admin.id, json!({ "role": "agent" })).await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_code(&res.json().await.unwrap()), "last_admin");
    let res = change_user(&app, &admin, &admin.id, json!({ "active": false })).await;
    assert_eq!(res.status(), 409);
    let res = change_user(&app, &admin, "no-such-user", json!({ "active": false })).await;
    assert_eq!(res.status(), 404);
    let res = change_user(&app, &admin, &agent.id, json!({ "role": "owner" })).await;
    assert_eq!(res.status(), 400);
    let res = change_user(&app, &agent, &admin.id, json!({ "active": false })).await;
    assert_eq!(res.status(), 403, "only admins manage users");
}

#[tokio::test]
async fn a_reset_password_ends_sessions_and_forces_a_change_at_next_sign_in() {
    let app = spawn_app().await;
    let admin = app.staff("admin-a", Role::Admin).await;
    let agent = app.staff("agent-b", Role::Agent).await;
    let temporary = "temporary password 1";
    let path = format!("/api/v1/staff/users/{}/password", agent.id);
    let res = app
        .staff_post(&admin, &path, json!({ "password": "short" }))
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .staff_post(&admin, &path, json!({ "password": temporary }))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.staff_get(&agent, "/api/v1/staff/me").await.status(),
        401
    );
    assert_eq!(
        login(&app, "agent-b", PASSWORD).await.status(),
        400,
        "the old password is gone"
    );

    let res = login(&app, "agent-b", temporary).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["must_change_password"], true);
    let agent = StaffLogin {
        id: agent.id.clone(),
        token: body["token"].as_str().unwrap().to_owned(),
    };
    let res = app.staff_get(&agent, "/api/v1/staff/queue").await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "password_change_required"
    );
    assert_eq!(
        app.staff_get(&agent, "/api/v1/staff/me").await.status(),
        200
    );

    let mine = "/api/v1/staff/me/password";
    let wrong =
        json!({ "current_password": "not it at all", "new_password": "my own long password" });
    let res = app.staff_send(Method::PUT, &agent, mine, wrong).await;
    assert_eq!(error_code(&res.json().await.unwrap()), "wrong_password");
    let same = json!({ "current_password": temporary, "new_password": temporary });
    let res = app.staff_send(Method::PUT, &agent, mine, same).await;
    assert_eq!(error_code(&res.json().await.unwrap()), "same_password");
    let good = json!({ "current_password": temporary, "new_password": "my own long password" });
    let res = app.staff_send(Method::PUT, &agent, mine, good).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["must_change_password"],
        false
    );
    assert_eq!(
        app.staff_get(&agent, "/api/v1/staff/queue").await.status(),
        200
    );
    assert_eq!(
        login(&app, "agent-b", "my own long password")
            .await
            .status(),
        200
    );
}

async fn first_words(app: &TestApp, lang: &str) -> String {
    let res = app
        .client
        .post(app.url("/api/v1/conversations"))
        .json(&json!({ "lang": lang }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let started: Value = res.json().await.unwrap();
    let path = format!(
        "/api/v1/conversations/{}/events",
        started["conversation"]["id"].as_str().unwrap()
    );
    let events: Vec<Value> = app
        .client
        .get(app.url(&path))
        .bearer_auth(started["visitor_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    text_of(&events[0]).to_owned()
}

#[tokio::test]
async fn shop_settings_change_at_run_time_and_welcome_messages_follow_the_buyers_language() {
    let app = spawn_bot_app(std::sync::Arc::new(FixedKnowledge {
        entries: shop_entries(),
        ..Default::default()
    }))
    .await;
    let admin = app.staff("admin-a", Role::Admin).await;
    let settings: Value = app
        .staff_get(&admin, "/api/v1/admin/shop-settings")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        settings["shop_name"],
        app.settings.shop_name.as_str(),
        "seeded from the flags"
    );
    assert_eq!(settings["utc_offset_minutes"], 480);

    for (lang, text) in [("zh", "欢迎光临小店！"), ("en", "Welcome to our shop!")] {
        let path = "/api/v1/admin/welcome-messages/new_visitor";
        let body = json!({ "text": text, "lang": lang });
        assert_eq!(
            app.staff_send(Method::PUT, &admin, path, body)
                .await
                .status(),
            200
        );
    }
    assert_eq!(first_words(&app, "en").await, "Welcome to our shop!");
    assert_eq!(first_words(&app, "zh").await, "欢迎光临小店！");

    // Today becomes a holiday: new buyers hear the out-of-hours greeting at once.
    let holiday = json!({ "shop_name": "小二的店", "service_hours": "00:00-24:00", "utc_offset_minutes": 480, "holidays": [today_in_beijing()] });
    let res = app
        .staff_send(Method::PUT, &admin, "/api/v1/admin/shop-settings", holiday)
        .await;
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["open_now"], false);
    assert_eq!(saved["shop_name"], "小二的店");
    assert!(first_words(&app, "zh").await.contains("非人工服务时间"));

    let workday = json!({ "shop_name": "小二的店", "service_hours": "00:00-24:00", "utc_offset_minutes": 480, "holidays": [] });
    let res = app
        .staff_send(Method::PUT, &admin, "/api/v1/admin/shop-settings", workday)
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["open_now"], true);
    assert_eq!(first_words(&app, "zh").await, "欢迎光临小店！");

    let bad = json!({ "shop_name": "", "service_hours": "9-22", "utc_offset_minutes": 480 });
    let res = app
        .staff_send(Method::PUT, &admin, "/api/v1/admin/shop-settings", bad)
        .await;
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "invalid_shop_settings"
    );
    let agent = app.staff("agent-b", Role::Agent).await;
    assert_eq!(
        app.staff_get(&agent, "/api/v1/admin/shop-settings")
            .await
            .status(),
        403
    );

    let list: Value = app
        .staff_get(&admin, "/api/v1/admin/welcome-messages")
        .await
        .json()
        .await
        .unwrap();
    let langs: Vec<&str> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["lang"].as_str().unwrap())
        .collect();
    assert_eq!(langs, ["zh", "en"]);
    let gone = app
        .staff_send(
            Method::DELETE,
            &admin,
            "/api/v1/admin/welcome-messages/new_visitor?lang=en",
            json!({}),
        )
        .await;
    assert_eq!(gone.status(), 204);
    assert_eq!(
        first_words(&app, "en").await,
        "欢迎光临小店！",
        "the other language's text before the built-in one"
    );
}

#[tokio::test]
async fn chat_lists_show_the_buyer_the_last_message_and_what_is_unread() {
    let app = spawn_app().await;
    let agent = app.staff("agent-b", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.buyer_send(&buyer, "c-1", "在吗？").await;
    let queue: Value = app
        .staff_get(&agent, "/api/v1/staff/queue")
        .await
        .json()
        .await
        .unwrap();
    assert!(queue.as_array().unwrap().is_empty());
    app.hand_to_agent(&buyer, &agent).await;
    let res = app
        .buyer_send(&buyer, "c-2", "我的快递到哪了？这个订单号是 XE20261101002")
        .await;
    let seq = res.json::<Value>().await.unwrap()["seq"].as_i64().unwrap();
    let mine: Value = app
        .staff_get(&agent, "/api/v1/staff/conversations")
        .await
        .json()
        .await
        .unwrap();
    let chat = &mine[0];
    assert_eq!(chat["id"], buyer.conversation_id.as_str());
    assert_eq!(chat["buyer_name"], "小明");
    assert_eq!(chat["channel"], "web");
    assert_eq!(chat["unread"], 2);
    assert_eq!(chat["last_message"]["sender"], "buyer");
    assert!(
        chat["last_message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("我的快递到哪了")
    );
    let read = format!("/api/v1/staff/conversations/{}/read", buyer.conversation_id);
    assert_eq!(
        app.staff_post(&agent, &read, json!({ "seq": seq }))
            .await
            .status(),
        200
    );
    let mine: Value = app
        .staff_get(&agent, "/api/v1/staff/conversations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine[0]["unread"], 0);
}
