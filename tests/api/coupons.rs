//! Coupons in the chat (issue 18): the chat's agent offers one of the shop's
//! coupons as a card; a buyer signed in with a shop account claims it from that
//! card, once, while some are left; the claim is told in the chat. The demo
//! store's coupons: SHOP20 (满199减20), NEW5 (无门槛减5元), FLASH30 (one left).

use crate::helpers::{Buyer, StaffLogin, TestApp, error_code, spawn_app};
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;

/// Offers `coupon` in the buyer's chat and returns the card's seq.
async fn offer(app: &TestApp, agent: &StaffLogin, buyer: &Buyer, coupon: &str) -> i64 {
    let path = format!(
        "/api/v1/staff/conversations/{}/coupon-cards",
        buyer.conversation_id
    );
    let res = app
        .staff_post(agent, &path, json!({ "coupon_id": coupon }))
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let ack: Value = res.json().await.unwrap();
    ack["seq"].as_i64().unwrap()
}

async fn claim(app: &TestApp, buyer: &Buyer, seq: i64) -> reqwest::Response {
    app.buyer_post(buyer, "/coupon-claims", json!({ "seq": seq }))
        .await
}

/// The coupon ids the buyer holds, as the widget asks for them after a reload.
async fn held(app: &TestApp, buyer: &Buyer) -> reqwest::Response {
    let path = format!(
        "/api/v1/conversations/{}/coupon-claims",
        buyer.conversation_id
    );
    app.client
        .get(app.url(&path))
        .bearer_auth(&buyer.token)
        .send()
        .await
        .unwrap()
}

fn system_lines(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "message" && e["body"]["type"] == "system")
        .map(|e| e["body"]["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_agent_offers_a_coupon_and_the_buyer_claims_it_once() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let buyer = app.signed_in_buyer("demo_buyer_1").await;
    app.hand_to_agent(&buyer, &agent).await;

    let coupons: Vec<Value> = app
        .staff_get(&agent, "/api/v1/staff/coupons")
        .await
        .json()
        .await
        .unwrap();
    let shop = coupons.iter().find(|c| c["id"] == "SHOP20").unwrap();
    assert_eq!(shop["rule_zh"], "满199减20");
    assert_eq!(shop["rule_en"], "¥20 off orders of ¥199 or more");
    assert_eq!(shop["offerable"], true);
    let left = shop["remaining"].as_i64().unwrap();

    let seq = offer(&app, &agent, &buyer, "SHOP20").await;
    let before: Value = held(&app, &buyer).await.json().await.unwrap();
    assert_eq!(before, json!({ "coupon_ids": [] }));
    let events = app.buyer_events(&buyer, 0).await;
    let card = events.iter().find(|e| e["seq"] == seq).unwrap();
    assert_eq!(card["sender"]["kind"], "agent");
    assert_eq!(card["body"]["type"], "coupon_card");
    assert_eq!(card["body"]["card"]["coupon_id"], "SHOP20");
    assert_eq!(card["body"]["card"]["discount_cents"], 2000);
    assert_eq!(card["body"]["card"]["rule_zh"], "满199减20");

    let res = claim(&app, &buyer, seq).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let claimed: Value = res.json().await.unwrap();
    assert_eq!(claimed["outcome"], "claimed");
    let lines = system_lines(&app.buyer_events(&buyer, 0).await);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("已领取优惠券") && l.contains("满199减20")),
        "{lines:?}"
    );
    // Held from now on: the widget shows the card claimed after a reload.
    let res = held(&app, &buyer).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "coupon_ids": ["SHOP20"] })
    );
    // Again: the same coupon, not a second one, and no second line.
    let res = claim(&app, &buyer, seq).await;
    assert_eq!(res.status(), 200);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["outcome"], "already_claimed");
    assert_eq!(
        system_lines(&app.buyer_events(&buyer, 0).await).len(),
        lines.len()
    );
    let coupons: Vec<Value> = app
        .staff_get(&agent, "/api/v1/staff/coupons")
        .await
        .json()
        .await
        .unwrap();
    let shop = coupons.iter().find(|c| c["id"] == "SHOP20").unwrap();
    assert_eq!(shop["remaining"].as_i64().unwrap(), left - 1);

    // Only a coupon card can be claimed: a seq of something else is refused.
    let res = claim(&app, &buyer, 1).await;
    assert_eq!(res.status(), 404);
    assert_eq!(error_code(&res.json().await.unwrap()), "coupon_not_offered");
    let res = claim(&app, &buyer, 10_000).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_last_coupon_goes_to_the_first_buyer_and_the_next_is_told_it_is_gone() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let first = app.signed_in_buyer("demo_buyer_1").await;
    let second = app.signed_in_buyer("demo_buyer_2").await;
    app.hand_to_agent(&first, &agent).await;
    app.hand_to_agent(&second, &agent).await;
    let one = offer(&app, &agent, &first, "FLASH30").await;
    let two = offer(&app, &agent, &second, "FLASH30").await;
    assert_eq!(claim(&app, &first, one).await.status(), 201);
    let res = claim(&app, &second, two).await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_code(&res.json().await.unwrap()), "coupon_sold_out");
    assert!(
        system_lines(&app.buyer_events(&second, 0).await)
            .iter()
            .all(|l| !l.contains("已领取")),
        "nothing claimed, nothing told"
    );
    // None left: the picker says so and it can no longer be offered.
    let coupons: Vec<Value> = app
        .staff_get(&agent, "/api/v1/staff/coupons")
        .await
        .json()
        .await
        .unwrap();
    let flash = coupons.iter().find(|c| c["id"] == "FLASH30").unwrap();
    assert_eq!(flash["offerable"], false);
    let path = format!(
        "/api/v1/staff/conversations/{}/coupon-cards",
        second.conversation_id
    );
    let res = app
        .staff_post(&agent, &path, json!({ "coupon_id": "FLASH30" }))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_code(&res.json().await.unwrap()), "coupon_unavailable");
}

#[tokio::test]
async fn coupons_are_refused_to_strangers_anonymous_buyers_and_bad_input() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let buyer = app.signed_in_buyer("demo_buyer_1").await;
    app.hand_to_agent(&buyer, &agent).await;
    let seq = offer(&app, &agent, &buyer, "NEW5").await;
    let before = app.buyer_events(&buyer, 0).await.len();

    // Another buyer cannot claim from this chat (to them it does not exist).
    let stranger = app.signed_in_buyer("demo_buyer_2").await;
    let path = format!(
        "/api/v1/conversations/{}/coupon-claims",
        buyer.conversation_id
    );
    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth(&stranger.token)
        .json(&json!({ "seq": seq }))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(res.status().as_u16(), 403 | 404),
        "{}",
        res.status()
    );
    // Nor read which coupons this chat's buyer holds.
    let res = app
        .client
        .get(app.url(&path))
        .bearer_auth(&stranger.token)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(res.status().as_u16(), 403 | 404),
        "{}",
        res.status()
    );

    // An anonymous buyer is asked to sign in; nothing is claimed.
    let anonymous = app.start_conversation().await;
    app.hand_to_agent(&anonymous, &agent).await;
    let offered = offer(&app, &agent, &anonymous, "NEW5").await;
    let res = claim(&app, &anonymous, offered).await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "buyer_not_signed_in"
    );
    let none: Value = held(&app, &anonymous).await.json().await.unwrap();
    assert_eq!(none, json!({ "coupon_ids": [] }));

    // Bad input from the agent: clear codes, nothing sent.
    let cards = format!(
        "/api/v1/staff/conversations/{}/coupon-cards",
        buyer.conversation_id
    );
    for (body, status, code) in [
        (json!({ "coupon_id": "NOPE" }), 404, "coupon_not_found"),
        (json!({ "coupon_id": "../x" }), 400, "invalid_coupon_id"),
        (
            json!({ "coupon_id": "NEW5", "amount": 100 }),
            400,
            "invalid_fields",
        ),
    ] {
        let res = app.staff_post(&agent, &cards, body.clone()).await;
        assert_eq!(res.status(), status, "{body}");
        assert_eq!(error_code(&res.json().await.unwrap()), code, "{body}");
    }
    // Another agent, not on the chat, offers nothing in it.
    let other = app.staff("agent-wang", Role::Agent).await;
    let res = app
        .staff_post(&other, &cards, json!({ "coupon_id": "NEW5" }))
        .await;
    assert!(
        matches!(res.status().as_u16(), 403 | 404),
        "{}",
        res.status()
    );
    assert_eq!(app.buyer_events(&buyer, 0).await.len(), before);
    // A buyer's claim body is checked too.
    let res = app
        .buyer_post(&buyer, "/coupon-claims", json!({ "seq": "five" }))
        .await;
    assert_eq!(res.status(), 400);
}
