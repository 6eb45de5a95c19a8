//! The buyer profile (用户画像) beside a chat: the shop's member level and
//! orders, interests, our own history with the buyer and the rule tags
//! (src/domain/portrait.rs); and a VIP member queued ahead by the bot.

use crate::bot_scripted::{replying, spawn_scripted};
use crate::helpers::{Buyer, StaffLogin, TestApp, spawn_app};
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;
use xiaoer::services::bot::AnswerBudget;

async fn portrait(app: &TestApp, staff: &StaffLogin, buyer: &Buyer) -> Value {
    let path = format!(
        "/api/v1/staff/conversations/{}/portrait",
        buyer.conversation_id
    );
    let res = app.staff_get(staff, &path).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn tags(p: &Value) -> Vec<&str> {
    p["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_signed_in_buyers_profile_adds_up_their_orders_history_and_tags() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let buyer = app.signed_in_buyer("demo_buyer_1").await;
    app.hand_to_agent(&buyer, &agent).await;

    // demo_buyer_1: a gold member with three orders the shop keeps (¥399 + 2 × ¥79 + ¥199).
    let p = portrait(&app, &agent, &buyer).await;
    assert_eq!(p["account_verified"], true);
    assert_eq!(p["member_level"], "gold");
    assert_eq!(p["orders"]["orders"], 3);
    assert_eq!(p["orders"]["spend_cents"], 39_900 + 2 * 7_900 + 19_900);
    assert_eq!(p["orders"]["refunds"], 0);
    assert_eq!(tags(&p), ["vip", "repeat_buyer"]);
    assert_eq!(p["history"]["conversations"], 1);
    assert_eq!(p["history"]["ratings"], 0);
    let interests = p["interests"].as_array().unwrap();
    assert!(!interests.is_empty() && interests.len() <= 3, "{p}");

    // A one-star rating of the finished chat: an unhappy buyer lately.
    let resolve = format!(
        "/api/v1/staff/conversations/{}/resolve",
        buyer.conversation_id
    );
    assert_eq!(
        app.staff_post(&agent, &resolve, json!({})).await.status(),
        200
    );
    let rated = app
        .buyer_post(
            &buyer,
            "/csat",
            json!({ "stars": 1, "tags": [], "comment": "太慢了" }),
        )
        .await;
    assert_eq!(rated.status(), 201);
    let p = portrait(&app, &agent, &buyer).await;
    assert_eq!(p["history"]["ratings"], 1);
    assert_eq!(p["history"]["rating_avg"], 1.0);
    assert_eq!(p["history"]["low_ratings_recent"], 1);
    assert_eq!(tags(&p), ["vip", "complained_recently", "repeat_buyer"]);
}

#[tokio::test]
async fn an_anonymous_buyer_has_only_our_history_and_strangers_see_nothing() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &agent).await;
    let p = portrait(&app, &agent, &buyer).await;
    assert_eq!(p["account_verified"], false);
    assert_eq!(p["member_level"], Value::Null);
    assert_eq!(p["orders"]["orders"], 0);
    assert!(
        tags(&p).is_empty(),
        "an anonymous buyer is not a new buyer: {p}"
    );
    assert_eq!(p["history"]["conversations"], 1);

    // Staff mark the buyer VIP: the tag follows.
    let admin = app.staff("admin-a", Role::Admin).await;
    let res = app
        .client
        .put(app.url(&format!("/api/v1/staff/visitors/{}/vip", buyer.visitor_id)))
        .bearer_auth(&admin.token)
        .json(&json!({ "vip": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(tags(&portrait(&app, &agent, &buyer).await), ["vip"]);

    // Another agent, not on the chat: refused.
    let other = app.staff("agent-wang", Role::Agent).await;
    let path = format!(
        "/api/v1/staff/conversations/{}/portrait",
        buyer.conversation_id
    );
    let status = app.staff_get(&other, &path).await.status().as_u16();
    assert!(matches!(status, 403 | 404), "{status}");
}

#[tokio::test]
async fn the_bot_queues_a_gold_member_ahead_and_a_regular_one_in_turn() {
    let app = spawn_scripted(replying("{}"), AnswerBudget::default()).await;
    for (account, vip) in [("demo_buyer_1", true), ("demo_buyer_2", false)] {
        let buyer = app.shopper(account).await;
        let seq = app.say(&buyer, "转人工").await;
        app.bot_replies(&buyer, seq).await;
        let res = app
            .client
            .get(app.url(&format!(
                "/api/v1/conversations/{}/queue",
                buyer.conversation_id
            )))
            .bearer_auth(&buyer.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let queue: Value = res.json().await.unwrap();
        assert_eq!(queue["queue"]["vip"], vip, "{account}: {queue}");
    }
}
