use crate::helpers::{error_code, spawn_app};
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;

#[tokio::test]
async fn a_new_buyer_gets_a_token_and_a_conversation_owned_by_the_bot() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/conversations"))
        .json(&json!({ "channel": "app", "nickname": "小红" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert!(body["visitor_token"].as_str().unwrap().starts_with("vt_"));
    assert_eq!(body["conversation"]["state"], "bot");
    assert_eq!(body["conversation"]["channel"], "app");
    assert_eq!(body["conversation"]["last_seq"], 0);
}

#[tokio::test]
async fn a_returning_visitor_keeps_their_identity_across_conversations() {
    let app = spawn_app().await;
    let first = app.start_conversation().await;
    let res = app
        .client
        .post(app.url("/api/v1/conversations"))
        .json(&json!({ "visitor_token": first.token }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["visitor_id"], first.visitor_id.as_str());
    assert!(
        body.get("visitor_token").is_none(),
        "the token is only handed out once"
    );
    assert_ne!(body["conversation"]["id"], first.conversation_id.as_str());
}

#[tokio::test]
async fn an_unknown_visitor_token_is_refused() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/conversations"))
        .json(&json!({ "visitor_token": "vt_forged" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(error_code(&res.json().await.unwrap()), "unauthenticated");
}

#[tokio::test]
async fn messages_get_consecutive_sequence_numbers_and_keep_emoji() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    for (i, text) in ["你好 👋", "我的订单还没到 📦", "能帮我查一下吗？🙏"]
        .iter()
        .enumerate()
    {
        let res = app.buyer_send(&buyer, &format!("m{i}"), text).await;
        assert_eq!(res.status(), 201);
        let ack: Value = res.json().await.unwrap();
        assert_eq!(ack["seq"], i as i64 + 1);
        assert_eq!(ack["duplicate"], false);
    }
    let events = app.buyer_events(&buyer, 0).await;
    let texts: Vec<&str> = events
        .iter()
        .map(|e| e["body"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["你好 👋", "我的订单还没到 📦", "能帮我查一下吗？🙏"]
    );
    assert!(
        events
            .iter()
            .all(|e| e["sender"]["kind"] == "buyer" && e["kind"] == "message")
    );
}

#[tokio::test]
async fn a_retried_client_msg_id_is_stored_once() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let first = app.buyer_send(&buyer, "retry-1", "第一次").await;
    assert_eq!(first.status(), 201);
    let retry = app.buyer_send(&buyer, "retry-1", "第一次").await;
    assert_eq!(retry.status(), 200);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["seq"], 1);
    assert_eq!(retry["duplicate"], true);
    assert_eq!(app.buyer_events(&buyer, 0).await.len(), 1);
}

#[tokio::test]
async fn concurrent_senders_get_unique_gapless_sequence_numbers() {
    let app = std::sync::Arc::new(spawn_app().await);
    let buyer = std::sync::Arc::new(app.start_conversation().await);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (app, buyer) = (app.clone(), buyer.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let res = app
                    .buyer_send(&buyer, &format!("t{t}-{i}"), &format!("message {t}/{i}"))
                    .await;
                assert_eq!(res.status(), 201);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = app.buyer_events(&buyer, 0).await;
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    // Each sender's own messages stay in the order it sent them.
    for t in 0..8 {
        let mine: Vec<String> = events
            .iter()
            .filter(|e| {
                e["client_msg_id"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("t{t}-"))
            })
            .map(|e| e["client_msg_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            mine,
            (0..25).map(|i| format!("t{t}-{i}")).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn another_buyers_conversation_does_not_exist_for_you() {
    let app = spawn_app().await;
    let alice = app.start_conversation().await;
    let bob = app.start_conversation().await;
    app.buyer_send(&alice, "a1", "alice's secret order").await;
    let path = format!("/api/v1/conversations/{}/events", alice.conversation_id);
    let res = app
        .client
        .get(app.url(&path))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "conversation_not_found"
    );
    let msg = json!({ "client_msg_id": "b1", "body": { "type": "text", "text": "intrusion" } });
    let path = format!("/api/v1/conversations/{}/messages", alice.conversation_id);
    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth(&bob.token)
        .json(&msg)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(app.buyer_events(&alice, 0).await.len(), 1);
}

#[tokio::test]
async fn bad_input_gets_a_stable_4xx_code_and_changes_nothing() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    app.buyer_send(&buyer, "ok-1", "kept").await;
    let path = app.url(&format!(
        "/api/v1/conversations/{}/messages",
        buyer.conversation_id
    ));
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (app.client.post(&path).bearer_auth(&buyer.token).header("content-type", "application/json").body("{not json"), 400, "malformed_json"),
        (app.client.post(&path).bearer_auth(&buyer.token).json(&json!({ "client_msg_id": 5, "body": {} })), 400, "invalid_fields"),
        (app.client.post(&path).bearer_auth(&buyer.token).body("plain text"), 415, "unsupported_media_type"),
        (app.client.post(&path).bearer_auth(&buyer.token).json(&json!({ "client_msg_id": "x", "body": { "type": "text", "text": "长".repeat(5001) } })), 400, "text_too_long"),
        (app.client.post(&path).bearer_auth(&buyer.token).json(&json!({ "client_msg_id": "x", "body": { "type": "text", "text": "   " } })), 400, "empty_text"),
        (app.client.post(&path).bearer_auth(&buyer.token).json(&json!({ "client_msg_id": "有 空格", "body": { "type": "text", "text": "hi" } })), 400, "bad_client_msg_id"),
        (app.client.post(&path).bearer_auth(&buyer.token).json(&json!({ "client_msg_id": "x", "body": { "type": "video", "url": "x" } })), 400, "invalid_fields"),
        (app.client.post(&path).bearer_auth(&buyer.token).header("content-type", "application/json").body(format!("{{\"client_msg_id\":\"x\",\"body\":{{\"type\":\"text\",\"text\":\"{}\"}}}}", "a".repeat(70_000))), 413, "payload_too_large"),
        (app.client.post(&path).json(&json!({ "client_msg_id": "x", "body": { "type": "text", "text": "hi" } })), 401, "unauthenticated"),
        (app.client.post(app.url("/api/v1/conversations/not-a-uuid/messages")).bearer_auth(&buyer.token).json(&json!({ "client_msg_id": "x", "body": { "type": "text", "text": "hi" } })), 404, "conversation_not_found"),
        (app.client.post(app.url(&format!("/api/v1/conversations/{}/messages", uuid::Uuid::now_v7()))).bearer_auth(&buyer.token).json(&json!({ "client_msg_id": "x", "body": { "type": "text", "text": "hi" } })), 404, "conversation_not_found"),
    ];
    for (request, status, code) in cases {
        let res = request.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "expected {code}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_code(&body), code);
    }
    let events = app.buyer_events(&buyer, 0).await;
    assert_eq!(events.len(), 1, "nothing stored changed");
    assert_eq!(events[0]["body"]["text"], "kept");
}

#[tokio::test]
async fn asking_for_a_human_puts_the_chat_in_the_waiting_queue() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let res = app.buyer_post(&buyer, "/handoff", json!({})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["state"], "waiting");
    // Asking twice is harmless.
    assert_eq!(
        app.buyer_post(&buyer, "/handoff", json!({})).await.status(),
        200
    );
    let events = app.buyer_events(&buyer, 0).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "state_changed");
    assert_eq!(events[0]["from"], "bot");
    assert_eq!(events[0]["to"], "waiting");
    // Even with no bot running, the agent gets a packet with the visitor's side.
    let agent = app.staff("agent-packet", Role::Agent).await;
    let res = app
        .staff_get(
            &agent,
            &format!(
                "/api/v1/staff/conversations/{}/handoff",
                buyer.conversation_id
            ),
        )
        .await;
    assert_eq!(res.status(), 200);
    let packet: Value = res.json().await.unwrap();
    assert_eq!(packet["reason"], "buyer_request");
    assert_eq!(
        packet["visitor"]["profile"]["id"],
        buyer.visitor_id.as_str()
    );
}

#[tokio::test]
async fn visitor_context_is_validated_and_stored() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let context = json!({
        "current_page": "https://shop.example/item/42",
        "pages_viewed": [{ "url": "https://shop.example/", "title": "首页", "at": 1_700_000_000_000i64 }],
        "cart": [{ "sku": "TSHIRT-42-L", "name": "纯棉T恤 L", "quantity": 2, "unit_price_cents": 7900 }]
    });
    let put = |body: Value| {
        app.client
            .put(app.url("/api/v1/visitor/context"))
            .bearer_auth(&buyer.token)
            .json(&body)
            .send()
    };
    assert_eq!(put(context.clone()).await.unwrap().status(), 204);
    let bad =
        json!({ "cart": [{ "sku": "X", "name": "x", "quantity": 0, "unit_price_cents": 1 }] });
    let res = put(bad).await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "invalid_visitor_data"
    );
    let profile = app.state.visitors.profile(&buyer.visitor_id).await.unwrap();
    assert_eq!(
        profile.context.cart.len(),
        1,
        "the bad update changed nothing"
    );
    assert_eq!(
        profile.context.current_page.as_deref(),
        Some("https://shop.example/item/42")
    );
}
