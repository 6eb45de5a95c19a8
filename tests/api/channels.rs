//! An IM bridge through an app channel: its users' messages come in with the
//! channel's key, the bot and the agents answer, and the replies go back to the
//! bridge through a webhook (a real receiver process).

use crate::bot_support::spawn_shop_bot_app;
use crate::helpers::{StaffLogin, TestApp, error_code, spawn_app};
use crate::webhooks::Receiver;
use serde_json::{Value, json};
use std::time::Duration;
use xiaoer::domain::staff::Role;

async fn channel(
    app: &TestApp,
    admin: &StaffLogin,
    limit: i64,
    window_secs: i64,
) -> (String, String) {
    let res = app
        .staff_post(
            admin,
            "/api/v1/admin/channels",
            json!({"name": "微信客服", "reply_limit": limit, "reply_window_seconds": window_secs}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let key = body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ck_"));
    (body["id"].as_str().unwrap().to_owned(), key)
}

async fn inbound(app: &TestApp, key: &str, user: &str, id: &str, text: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/channel/messages"))
        .bearer_auth(key)
        .json(&json!({"external_user_id": user, "nickname": "小红", "client_msg_id": id, "text": text}))
        .send()
        .await
        .unwrap()
}

async fn agent_says(
    app: &TestApp,
    agent: &StaffLogin,
    conversation: &str,
    id: &str,
    text: &str,
) -> reqwest::Response {
    let path = format!("/api/v1/staff/conversations/{conversation}/messages");
    app.staff_post(
        agent,
        &path,
        json!({"client_msg_id": id, "body": {"type": "text", "text": text}}),
    )
    .await
}

/// The reply window of the channel in the webhook test, in seconds.
const WINDOW_SECS: i64 = 8;

#[tokio::test]
async fn an_im_user_asks_the_bot_then_a_person_and_gets_the_agents_reply_by_webhook() {
    let app = spawn_shop_bot_app().await;
    let admin = app.staff("admin", Role::Admin).await;
    let agent = app.staff("agent", Role::Agent).await;
    let receiver = Receiver::start(&app.data_dir, &[]).await;
    let res = app
        .staff_post(
            &admin,
            "/api/v1/admin/webhooks",
            json!({"url": receiver.url, "event_types": ["message.posted"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // An 8 s reply window: wide enough that a loaded machine answers inside it, short enough to wait out.
    let (channel_id, key) = channel(&app, &admin, 5, WINDOW_SECS).await;

    // The user asks; the bot answers from the knowledge base.
    let res = inbound(&app, &key, "wx_user_1", "wx-1", "什么时候发货").await;
    assert_eq!(res.status(), 201);
    let accepted: Value = res.json().await.unwrap();
    let conversation = accepted["conversation_id"].as_str().unwrap().to_owned();
    let from_bot = receiver
        .wait_for(
            "the bot's answer",
            crate::bot_support::BOT_TURN.as_secs(),
            |r| {
                r.iter().any(|d| {
                    d.body["data"]["sender_kind"] == "bot"
                        && d.conversation() == Some(&conversation)
                })
            },
        )
        .await;
    let answer = from_bot
        .iter()
        .find(|d| d.body["data"]["sender_kind"] == "bot")
        .unwrap();
    assert_eq!(answer.body["data"]["channel"], "api");
    assert_eq!(answer.body["data"]["channel_id"], channel_id.as_str());
    assert_eq!(answer.body["data"]["external_user_id"], "wx_user_1");
    // A retried message is stored once.
    let again = inbound(&app, &key, "wx_user_1", "wx-1", "什么时候发货").await;
    assert_eq!(again.status(), 200);

    // The user asks for a person; an agent takes the chat and answers.
    assert_eq!(
        inbound(&app, &key, "wx_user_1", "wx-2", "转人工")
            .await
            .status(),
        201
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let view: Value = app
            .staff_get(
                &agent,
                &format!("/api/v1/staff/conversations/{conversation}"),
            )
            .await
            .json()
            .await
            .unwrap();
        let state = view["conversation"]["state"]
            .as_str()
            .or(view["state"].as_str())
            .unwrap_or_default()
            .to_owned();
        if state == "waiting" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not handed off: {view}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let claim = format!("/api/v1/staff/conversations/{conversation}/claim");
    assert_eq!(
        app.staff_post(&agent, &claim, json!({})).await.status(),
        200
    );
    assert_eq!(
        agent_says(&app, &agent, &conversation, "a-1", "您好，我来帮您查")
            .await
            .status(),
        201
    );
    let got = receiver
        .wait_for("the agent's reply", 20, |r| {
            r.iter()
                .any(|d| d.body["data"]["message"]["body"]["text"] == "您好，我来帮您查")
        })
        .await;
    let reply = got
        .iter()
        .find(|d| d.body["data"]["message"]["body"]["text"] == "您好，我来帮您查")
        .unwrap();
    assert_eq!(reply.body["data"]["sender_kind"], "agent");
    assert_eq!(reply.body["data"]["external_user_id"], "wx_user_1");

    // Once the window has passed since the user's last message, the agent's reply is refused.
    tokio::time::sleep(Duration::from_millis(WINDOW_SECS as u64 * 1000 + 300)).await;
    let late = agent_says(&app, &agent, &conversation, "a-2", "还在吗？").await;
    assert_eq!(late.status(), 409);
    assert_eq!(
        error_code(&late.json().await.unwrap()),
        "reply_window_closed"
    );
    // The user's next message opens it again.
    assert_eq!(
        inbound(&app, &key, "wx_user_1", "wx-3", "在的")
            .await
            .status(),
        201
    );
    assert_eq!(
        agent_says(&app, &agent, &conversation, "a-3", "好的")
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_channel_allows_only_so_many_replies_per_user_message() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Admin).await;
    let agent = app.staff("agent", Role::Agent).await;
    let (_, key) = channel(&app, &admin, 2, 3600).await;
    let res = inbound(&app, &key, "app-user-9", "m1", "hello").await;
    let conversation = res.json::<Value>().await.unwrap()["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The app asks a person for its user (the bot is off here).
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/channel/conversations/{conversation}/handoff"
        )))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // Another channel's key cannot touch it.
    let (_, other_key) = channel(&app, &admin, 2, 3600).await;
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/channel/conversations/{conversation}/handoff"
        )))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let staff_path = format!("/api/v1/staff/conversations/{conversation}");
    let view: Value = app
        .staff_get(&admin, &staff_path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        view["conversation"]["channel"]
            .as_str()
            .or(view["channel"].as_str()),
        Some("api")
    );
    // The console's chat view names the app channel the chat came through.
    assert_eq!(view["channel_name"], "微信客服");
    let claim = format!("/api/v1/staff/conversations/{conversation}/claim");
    let res = app.staff_post(&agent, &claim, json!({})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(
        agent_says(&app, &agent, &conversation, "r1", "一")
            .await
            .status(),
        201
    );
    assert_eq!(
        agent_says(&app, &agent, &conversation, "r2", "二")
            .await
            .status(),
        201
    );
    let third = agent_says(&app, &agent, &conversation, "r3", "三").await;
    assert_eq!(third.status(), 409);
    assert_eq!(
        error_code(&third.json().await.unwrap()),
        "reply_window_closed"
    );
}

#[tokio::test]
async fn bad_channel_input_is_refused_with_stable_codes_and_nothing_is_stored() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Admin).await;
    let (_, key) = channel(&app, &admin, 5, 3600).await;
    let long = "u".repeat(129);
    for (user, code) in [
        (long.as_str(), "invalid_external_user_id"),
        ("", "invalid_external_user_id"),
        ("a b", "invalid_external_user_id"),
    ] {
        let res = inbound(&app, &key, user, "m1", "hello").await;
        assert_eq!(res.status(), 400);
        assert_eq!(error_code(&res.json().await.unwrap()), code);
    }
    let res = inbound(&app, &key, "ok-user", "m1", "   ").await;
    assert_eq!(res.status(), 400);
    // A wrong key is no key.
    let res = inbound(&app, "ck_not-a-key", "ok-user", "m1", "hello").await;
    assert_eq!(res.status(), 401);
    let res = inbound(&app, "vt_visitor-token", "ok-user", "m1", "hello").await;
    assert_eq!(res.status(), 401);
    // Nothing was stored: the first good message starts the user's first chat.
    let res = inbound(&app, &key, "ok-user", "m1", "hello").await;
    assert_eq!(res.status(), 201);
    let accepted: Value = res.json().await.unwrap();
    assert_eq!(accepted["seq"], 1);
    // The same external id on another channel is another user.
    let (_, other_key) = channel(&app, &admin, 5, 3600).await;
    let res = inbound(&app, &other_key, "ok-user", "m1", "hello").await;
    let other: Value = res.json().await.unwrap();
    assert_ne!(other["conversation_id"], accepted["conversation_id"]);
    // Channel administration is for admins; bad policies are refused.
    let agent = app.staff("agent", Role::Agent).await;
    assert_eq!(
        app.staff_get(&agent, "/api/v1/admin/channels")
            .await
            .status(),
        403
    );
    let res = app
        .staff_post(
            &admin,
            "/api/v1/admin/channels",
            json!({"name": "x", "reply_limit": 0}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let list: Value = app
        .staff_get(&admin, "/api/v1/admin/channels")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list[0].get("key").is_none(), "keys are never listed");
}

async fn channel_call(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn an_app_opens_and_follows_its_users_ticket_and_the_user_answers_on_it() {
    let app = spawn_app().await;
    let admin = app.staff("admin-ch-tk", Role::Admin).await;
    let (_, key) = channel(&app, &admin, 5, 172_800).await;
    let (_, other_key) = channel(&app, &admin, 5, 172_800).await;
    let res = inbound(&app, &key, "wx-user-1", "m-1", "快递三天没动了").await;
    assert_eq!(res.status(), 201);
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;

    // The app opens a ticket for its user: routed and listed like any other.
    let body = json!({ "external_user_id": "wx-user-1", "title": "快递三天没动",
                       "description": "订单 XE20261201001", "order_number": "XE20261201001" });
    let res = channel_call(
        &app,
        &key,
        post.clone(),
        "/api/v1/channel/tickets",
        Some(body),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let opened: Value = res.json().await.unwrap();
    let id = opened["id"].as_str().unwrap().to_owned();
    assert!(opened["number"].as_str().unwrap().starts_with('T'));
    assert_eq!(opened["status_text"], "已受理");
    let ticket: Value = app
        .staff_get(&admin, &format!("/api/v1/staff/tickets/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ticket["source"], "api");
    assert_eq!(ticket["order_number"], "XE20261201001");
    assert!(ticket["conversation_id"].is_string());

    // Staff answer in public; the app sees the answer, then its user replies.
    let version = ticket["version"].clone();
    let res = app
        .staff_post(
            &admin,
            &format!("/api/v1/staff/tickets/{id}/comments"),
            json!({ "visibility": "public", "body": "已联系快递，明天送达" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .staff_post(
            &admin,
            &format!("/api/v1/staff/tickets/{id}/transition"),
            json!({ "to": "pending", "expected_version": version.as_i64().unwrap() + 1 }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let list = "/api/v1/channel/tickets?external_user_id=wx-user-1";
    let mine: Value = channel_call(&app, &key, get.clone(), list, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["replies"][0]["body"], "已联系快递，明天送达");
    assert_eq!(mine[0]["replies"][0]["from_staff"], true);
    let reply = json!({ "external_user_id": "wx-user-1", "body": "好的，谢谢" });
    let res = channel_call(
        &app,
        &key,
        post.clone(),
        &format!("/api/v1/channel/tickets/{id}/replies"),
        Some(reply.clone()),
    )
    .await;
    assert_eq!(res.status(), 201);
    let ticket: Value = app
        .staff_get(&admin, &format!("/api/v1/staff/tickets/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ticket["state"], "open", "the user's reply opens it again");

    // Another channel's key knows no such user; an unknown user and a bad
    // ticket are refused, and nothing is opened.
    let res = channel_call(&app, &other_key, get.clone(), list, None).await;
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "unknown_channel_user");
    let res = channel_call(
        &app,
        &other_key,
        post.clone(),
        &format!("/api/v1/channel/tickets/{id}/replies"),
        Some(reply),
    )
    .await;
    assert_eq!(res.status(), 404);
    let nobody = json!({ "external_user_id": "wx-nobody", "title": "x" });
    let res = channel_call(
        &app,
        &key,
        post.clone(),
        "/api/v1/channel/tickets",
        Some(nobody),
    )
    .await;
    assert_eq!(res.status(), 404);
    let untitled = json!({ "external_user_id": "wx-user-1", "title": " " });
    let res = channel_call(
        &app,
        &key,
        post.clone(),
        "/api/v1/channel/tickets",
        Some(untitled),
    )
    .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "invalid_ticket");
    let res = channel_call(&app, "ck_wrong", get, list, None).await;
    assert_eq!(res.status(), 401);
    let all: Value = app
        .staff_get(&admin, "/api/v1/staff/tickets")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);
}
