//! Order cards (issue 18): the chat's agent sends one of the buyer's own orders
//! into the chat as a card (status, items, total, newest tracking step) written
//! by the server from the shop's data; never an order of another account, never
//! for a buyer the shop did not vouch for. The bot shows the card after it
//! answers an order question.

use crate::bot_scripted::{replying, spawn_scripted};
use crate::bot_support::all_text;
use crate::helpers::{Buyer, StaffLogin, TestApp, error_code, spawn_app};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use xiaoer::domain::staff::Role;
use xiaoer::services::bot::AnswerBudget;

async fn order_cards(app: &TestApp, buyer: &Buyer) -> Vec<Value> {
    app.buyer_events(buyer, 0)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "message" && e["body"]["type"] == "order_card")
        .collect()
}

async fn send(app: &TestApp, agent: &StaffLogin, buyer: &Buyer, body: Value) -> reqwest::Response {
    let path = format!(
        "/api/v1/staff/conversations/{}/order-cards",
        buyer.conversation_id
    );
    app.staff_post(agent, &path, body).await
}

#[tokio::test]
async fn an_agent_sends_the_buyers_own_order_as_a_card_and_never_another_accounts() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let buyer = app.signed_in_buyer("demo_buyer_1").await;
    app.hand_to_agent(&buyer, &agent).await;

    // The side panel lists the order the agent is about to send.
    let path = format!(
        "/api/v1/staff/conversations/{}/orders",
        buyer.conversation_id
    );
    let listed: Value = app.staff_get(&agent, &path).await.json().await.unwrap();
    assert_eq!(listed["account_verified"], true);
    assert!(
        listed["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["order_no"] == "XE20261101001")
    );

    // Typed in lower case, as agents do: the number is the shop's own.
    let res = send(
        &app,
        &agent,
        &buyer,
        json!({ "order_no": "xe20261101001", "client_msg_id": "oc-1" }),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let cards = order_cards(&app, &buyer).await;
    assert_eq!(cards.len(), 1, "{cards:?}");
    let card = &cards[0];
    assert_eq!(card["sender"]["kind"], "agent");
    let card = &card["body"]["card"];
    assert_eq!(card["order_no"], "XE20261101001");
    assert_eq!(card["status"], "shipped");
    assert_eq!(card["status_zh"], "已发货，运输中");
    assert_eq!(card["status_en"], "shipped, in transit");
    assert_eq!(card["carrier"], "顺丰速运");
    assert_eq!(card["tracking_no"], "SF20261101001");
    assert!(card["latest_tracking"]["description"].is_string(), "{card}");
    let lines = card["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["sku"], "JK-002");
    let total: i64 = lines
        .iter()
        .map(|l| l["quantity"].as_i64().unwrap() * l["unit_price_cents"].as_i64().unwrap())
        .sum();
    assert_eq!(card["total_cents"].as_i64().unwrap(), total);

    // A retry of the same send is the same message.
    let res = send(
        &app,
        &agent,
        &buyer,
        json!({ "order_no": "XE20261101001", "client_msg_id": "oc-1" }),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(order_cards(&app, &buyer).await.len(), 1);

    // Another account's order reads as not found, and nothing of it is sent.
    let before = app.buyer_events(&buyer, 0).await.len();
    let res = send(&app, &agent, &buyer, json!({ "order_no": "XE20261101004" })).await;
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "order_not_found");
    for secret in ["EB-003", "demo_buyer_2", "SF20261101004"] {
        assert!(
            !body.to_string().contains(secret),
            "leaked {secret}: {body}"
        );
    }
    for (bad, code) in [
        (json!({ "order_no": "12345" }), "invalid_order_no"),
        (json!({ "order_no": "13800138000" }), "invalid_order_no"),
        (
            json!({ "order_no": "XE20261101001", "extra": 1 }),
            "invalid_fields",
        ),
    ] {
        let res = send(&app, &agent, &buyer, bad.clone()).await;
        assert_eq!(res.status(), 400, "{bad}");
        assert_eq!(error_code(&res.json().await.unwrap()), code, "{bad}");
    }
    assert_eq!(
        app.buyer_events(&buyer, 0).await.len(),
        before,
        "nothing sent for the refused cards"
    );

    // Another agent, not on this chat, sends nothing into it.
    let other = app.staff("agent-wang", Role::Agent).await;
    let res = send(&app, &other, &buyer, json!({ "order_no": "XE20261101002" })).await;
    assert!(
        matches!(res.status().as_u16(), 403 | 404),
        "{}",
        res.status()
    );
    assert_eq!(app.buyer_events(&buyer, 0).await.len(), before);
}

#[tokio::test]
async fn an_anonymous_buyers_chat_has_no_order_to_send() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &agent).await;
    let res = send(&app, &agent, &buyer, json!({ "order_no": "XE20261101001" })).await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "buyer_not_signed_in"
    );
    assert!(order_cards(&app, &buyer).await.is_empty());
}

#[tokio::test]
async fn the_bot_answers_an_order_question_in_words_then_shows_the_order_card() {
    let app = spawn_scripted(replying("{}"), AnswerBudget::default()).await;
    let shopper = app.shopper("demo_buyer_1").await;
    let seq = app
        .say(&shopper, "我的快递到哪了？订单号XE20261101002")
        .await;
    let answer = all_text(&app.bot_replies(&shopper, seq).await);
    assert!(answer.contains("XE20261101002"), "{answer}");
    // The card follows the words.
    let started = Instant::now();
    let card = loop {
        let events = app.shopper_events(&shopper).await;
        let after: Vec<&Value> = events
            .iter()
            .filter(|e| e["seq"].as_i64() > Some(seq) && e["sender"]["kind"] == "bot")
            .collect();
        if let Some(card) = after.iter().find(|e| e["body"]["type"] == "order_card") {
            let words = after
                .iter()
                .position(|e| e["body"]["type"] == "bot_answer")
                .expect("the words");
            let at = after
                .iter()
                .position(|e| e["body"]["type"] == "order_card")
                .unwrap();
            assert!(words < at, "words first, then the card");
            break (*card).clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no order card: {after:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let card = &card["body"]["card"];
    assert_eq!(card["order_no"], "XE20261101002");
    assert_eq!(card["status"], "delivered");
    assert_eq!(card["status_zh"], "已签收");

    // Another account's order: the refusal, and no card.
    let seq = app.say(&shopper, "帮我查下订单XE20261101004的物流").await;
    let answer = all_text(&app.bot_replies(&shopper, seq).await);
    assert!(answer.contains("没有找到订单"), "{answer}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cards = app
        .shopper_events(&shopper)
        .await
        .into_iter()
        .filter(|e| e["body"]["type"] == "order_card")
        .count();
    assert_eq!(cards, 1, "no card for another account's order");
}
