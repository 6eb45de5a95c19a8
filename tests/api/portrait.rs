//! The buyer profile (用户画像) beside a chat: the shop's member level and
//! orders, interests, our own history with the buyer and the rule tags
//! (src/domain/portrait.rs); and a VIP member queued ahead by the bot.

use crate::bot_scripted::{replying, spawn_scripted};
use crate::helpers::{Buyer, StaffLogin, TestApp, error_code, spawn_app};
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
    assert_eq!(
        p["history"]["recent_chats"],
        json!([]),
        "the chat itself is not an earlier one"
    );

    // A ticket from that chat, then the buyer comes back: the new chat's
    // profile lists the earlier chat (resolved, one star) and the ticket.
    let (_admin, department) = app.ticket_desk(&agent).await;
    let made = app
        .staff_post(
            &agent,
            &format!(
                "/api/v1/staff/conversations/{}/ticket",
                buyer.conversation_id
            ),
            crate::tickets::logistics_ticket(&department),
        )
        .await;
    assert_eq!(made.status(), 201);
    let ticket: Value = made.json().await.unwrap();
    let res = app
        .client
        .post(app.url("/api/v1/conversations"))
        .json(&json!({ "visitor_token": buyer.token, "identity": app.signed_identity("demo_buyer_1") }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let again = Buyer {
        conversation_id: body["conversation"]["id"].as_str().unwrap().to_owned(),
        visitor_id: body["visitor_id"].as_str().unwrap().to_owned(),
        // A returning visitor keeps the token it has.
        token: body["visitor_token"]
            .as_str()
            .unwrap_or(&buyer.token)
            .to_owned(),
    };
    assert_eq!(again.visitor_id, buyer.visitor_id, "the same buyer");
    app.hand_to_agent(&again, &agent).await;
    let p = portrait(&app, &agent, &again).await;
    assert_eq!(p["history"]["conversations"], 2);
    let chats = p["history"]["recent_chats"].as_array().unwrap();
    assert_eq!(chats.len(), 1, "{p}");
    assert_eq!(chats[0]["id"], buyer.conversation_id.as_str());
    assert_eq!(chats[0]["state"], "resolved");
    assert_eq!(chats[0]["stars"], 1);
    let tickets = p["history"]["recent_tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 1, "{p}");
    assert_eq!(tickets[0]["id"], ticket["id"]);
    assert_eq!(tickets[0]["number"], ticket["number"]);
    assert_eq!(tickets[0]["state"], ticket["state"]);
    assert!(
        tickets[0].get("title").is_none(),
        "the ticket's own rules decide who reads its title: {p}"
    );
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
        let queue = queued(&app, &buyer).await;
        assert_eq!(queue["queue"]["vip"], vip, "{account}: {queue}");
    }
}

/// The buyer's place in the queue. The bot's "transferring you" notice is
/// posted before the chat is queued (so that it never follows "an agent has
/// joined"), so the place may come a moment after the notice.
async fn queued(app: &TestApp, buyer: &crate::bot_support::Shopper) -> Value {
    let path = format!("/api/v1/conversations/{}/queue", buyer.conversation_id);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let res = app
            .client
            .get(app.url(&path))
            .bearer_auth(&buyer.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let queue: Value = res.json().await.unwrap();
        if !queue["queue"].is_null() || std::time::Instant::now() > deadline {
            return queue;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn tags_path(buyer: &Buyer) -> String {
    format!(
        "/api/v1/staff/conversations/{}/portrait/tags",
        buyer.conversation_id
    )
}

async fn add_tag(app: &TestApp, staff: &StaffLogin, buyer: &Buyer, tag: &str) -> (u16, Value) {
    let res = app
        .staff_post(staff, &tags_path(buyer), json!({ "tag": tag }))
        .await;
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn remove_tag(app: &TestApp, staff: &StaffLogin, buyer: &Buyer, tag: &str) -> (u16, Value) {
    let path = format!("{}/{tag}", tags_path(buyer));
    let res = app
        .staff_send(reqwest::Method::DELETE, staff, &path, json!({}))
        .await;
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

fn hand_tags(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn staff_tag_a_signed_in_buyer_by_hand_and_the_tags_follow_the_account() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let buyer = app.signed_in_buyer("demo_buyer_1").await;
    app.hand_to_agent(&buyer, &agent).await;

    let (status, list) = add_tag(&app, &agent, &buyer, "老客户").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list[0]["by"], agent.id.as_str());
    let (_, list) = add_tag(&app, &agent, &buyer, " 爱砍价 ").await;
    assert_eq!(hand_tags(&list), ["老客户", "爱砍价"]);
    let (status, list) = add_tag(&app, &agent, &buyer, "老客户").await;
    assert_eq!(status, 200, "a tag already there stays once");
    assert_eq!(hand_tags(&list), ["老客户", "爱砍价"]);
    let p = portrait(&app, &agent, &buyer).await;
    assert_eq!(hand_tags(&p["hand_tags"]), ["老客户", "爱砍价"]);
    assert_eq!(tags(&p), ["vip", "repeat_buyer"], "rule tags apart");
    // Staff's words about a buyer are personal data: sealed at rest.
    let raw = crate::privacy::raw_database_bytes(&app).await;
    crate::data_protection::assert_absent(&raw, &["老客户", "爱砍价"]);

    // The same account in another chat, with another agent: the same tags.
    let again = app.signed_in_buyer("demo_buyer_1").await;
    let other = app.staff("agent-wang", Role::Agent).await;
    app.hand_to_agent(&again, &other).await;
    let p = portrait(&app, &other, &again).await;
    assert_eq!(hand_tags(&p["hand_tags"]), ["老客户", "爱砍价"]);
    let (status, _) = remove_tag(&app, &other, &again, "爱砍价").await;
    assert_eq!(status, 204);
    let (status, body) = remove_tag(&app, &other, &again, "爱砍价").await;
    assert_eq!((status, error_code(&body)), (404, "buyer_tag_not_found"));
    let p = portrait(&app, &agent, &buyer).await;
    assert_eq!(hand_tags(&p["hand_tags"]), ["老客户"]);

    // Bad tags: 400 and nothing stored; the 21st tag: 409.
    for bad in ["", "   ", "一二三四五六七八九十一二三四五六七", "爱\n砍价"] {
        let (status, body) = add_tag(&app, &agent, &buyer, bad).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "invalid_buyer_tag"),
            "{bad:?}"
        );
    }
    for i in 1..20 {
        let (status, _) = add_tag(&app, &agent, &buyer, &format!("标签{i}")).await;
        assert_eq!(status, 200);
    }
    let (status, body) = add_tag(&app, &agent, &buyer, "再来一个").await;
    assert_eq!((status, error_code(&body)), (409, "too_many_buyer_tags"));
    let p = portrait(&app, &agent, &buyer).await;
    assert_eq!(p["hand_tags"].as_array().unwrap().len(), 20);

    // Audited, with the chat in the target.
    let admin = app.staff("admin-a", Role::Admin).await;
    for (action, method, n) in [
        ("buyer_tagged", "POST", 22),
        ("buyer_untagged", "DELETE", 1),
    ] {
        let log: Value = app
            .staff_get(
                &admin,
                &format!("/api/v1/admin/audit?action={action}&limit=100"),
            )
            .await
            .json()
            .await
            .unwrap();
        let records = log["records"].as_array().unwrap();
        assert_eq!(records.len(), n, "{action}: {log}");
        assert!(
            records[0]["target"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{method} /api/v1/staff/conversations/")),
            "{log}"
        );
    }

    // The buyer's data export (PIPL access) holds the tags, not who set them.
    let record = crate::data_protection::export(&app, &admin, &buyer.visitor_id).await;
    let exported: Vec<&str> = record["hand_tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect();
    // 老客户 and the nineteen the cap test added, oldest first.
    assert_eq!(exported.len(), 20, "{}", record["hand_tags"]);
    assert_eq!((exported[0], exported[19]), ("老客户", "标签19"));
    assert!(record["hand_tags"][0].get("created_by").is_none());

    // Erasing the buyer takes the account's tags with it.
    let erased = app
        .staff_send(
            reqwest::Method::DELETE,
            &admin,
            &format!("/api/v1/admin/buyers/{}", buyer.visitor_id),
            json!({}),
        )
        .await;
    assert_eq!(erased.status(), 204);
    let p = portrait(&app, &other, &again).await;
    assert_eq!(p["hand_tags"], json!([]), "{p}");
}

#[tokio::test]
async fn anonymous_buyers_cannot_be_tagged_and_staff_off_the_chat_are_refused() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let anonymous = app.start_conversation().await;
    app.hand_to_agent(&anonymous, &agent).await;
    let (status, body) = add_tag(&app, &agent, &anonymous, "老客户").await;
    assert_eq!((status, error_code(&body)), (409, "buyer_not_signed_in"));

    let buyer = app.signed_in_buyer("demo_buyer_2").await;
    app.hand_to_agent(&buyer, &agent).await;
    let stranger = app.staff("agent-wang", Role::Agent).await;
    let km = app.staff("km-zhou", Role::KnowledgeManager).await;
    for staff in [&stranger, &km] {
        let (status, _) = add_tag(&app, staff, &buyer, "爱砍价").await;
        assert_eq!(status, 403);
    }
    assert_eq!(add_tag(&app, &agent, &buyer, "老客户").await.0, 200);
    let (status, _) = remove_tag(&app, &stranger, &buyer, "老客户").await;
    assert_eq!(status, 403);
    let p = portrait(&app, &agent, &buyer).await;
    assert_eq!(hand_tags(&p["hand_tags"]), ["老客户"], "nothing changed");
    // A supervisor sees every chat, and may tag.
    let supervisor = app.staff("sup-zhao", Role::Supervisor).await;
    assert_eq!(add_tag(&app, &supervisor, &buyer, "爱砍价").await.0, 200);
}
