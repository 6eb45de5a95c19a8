//! Who is on the shop now: the widget's heartbeat puts visitors on the agents'
//! list (live), agents and rules invite them, an accepted invitation starts the
//! chat, and agents send product cards from the catalogue.

use crate::helpers::{Buyer, StaffLogin, TestApp, error_code, spawn_app};
use serde_json::{Value, json};
use std::time::Duration;
use xiaoer::domain::staff::Role;

pub(crate) const SHOP: &str = "https://shop.example";

pub(crate) fn browser(n: u32) -> String {
    format!("b_test_browser_{n:04}")
}

async fn beat(app: &TestApp, body: Value) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/presence"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// A first heartbeat from `browser` on `url`: returns (visit id, visit key).
pub(crate) async fn arrive(
    app: &TestApp,
    browser: &str,
    url: &str,
    referrer: Option<&str>,
) -> (String, String) {
    let reply = beat(
        app,
        json!({ "browser_id": browser, "url": url, "title": "示例小店", "referrer": referrer }),
    )
    .await;
    (
        reply["visit_id"].as_str().unwrap().to_owned(),
        reply["visit_key"].as_str().unwrap().to_owned(),
    )
}

pub(crate) async fn again(app: &TestApp, browser: &str, key: &str, url: &str) -> Value {
    beat(
        app,
        json!({ "browser_id": browser, "visit_key": key, "url": url }),
    )
    .await
}

async fn visits(app: &TestApp, staff: &StaffLogin, query: &str) -> Vec<Value> {
    let res = app
        .staff_get(staff, &format!("/api/v1/staff/visits{query}"))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

fn ids(list: &[Value]) -> Vec<&str> {
    list.iter().map(|v| v["id"].as_str().unwrap()).collect()
}

fn cart(sku: &str, quantity: i64, cents: i64) -> Value {
    json!([{ "sku": sku, "name": "商品", "quantity": quantity, "unit_price_cents": cents }])
}

async fn add_rule(app: &TestApp, admin: &StaffLogin, rule: Value) -> reqwest::Response {
    app.staff_post(admin, "/api/v1/admin/invitation-rules", rule)
        .await
}

pub(crate) async fn accept(app: &TestApp, invitation: &str, key: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/conversations"))
        .json(&json!({ "invitation": { "id": invitation, "visit_key": key } }))
        .send()
        .await
        .unwrap()
}

pub(crate) fn buyer_of(started: &Value) -> Buyer {
    Buyer {
        conversation_id: started["conversation"]["id"].as_str().unwrap().to_owned(),
        visitor_id: started["visitor_id"].as_str().unwrap().to_owned(),
        token: started["visitor_token"].as_str().unwrap().to_owned(),
    }
}

/// The invited buyer asks about a size, then pays an order at the shop (the
/// demo store's own write), which counts the invitation as converted.
async fn asks_then_pays(app: &TestApp, buyer: &Buyer, order_no: &str) {
    let id = uuid::Uuid::new_v4().to_string();
    assert_eq!(app.buyer_send(buyer, &id, "有 L 码吗").await.status(), 201);
    let shop = xiaoer::storage::demo_store::DemoStore::open(&app.data_dir, 0)
        .await
        .unwrap();
    let order = xiaoer::domain::commerce::OrderNumber::parse(order_no).unwrap();
    let now = xiaoer::ports::Clock::now_ms(app.state.clock.as_ref());
    let paid = xiaoer::domain::commerce::OrderStatus::Paid;
    shop.place_order(&order, "buyer_invited", paid, now, "TS-001", 1)
        .await
        .unwrap();
}

fn messages(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["kind"] == "message").collect()
}

#[tokio::test]
async fn a_heartbeat_puts_the_visitor_on_the_list_with_page_source_utm_and_cart() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let entry =
        format!("{SHOP}/item?sku=TS-001&utm_source=baidu&utm_medium=cpc&utm_campaign=double11");
    let reply = beat(
        &app,
        json!({ "browser_id": browser(1), "url": entry, "title": "纯棉T恤", "cart": cart("TS-001", 2, 7900) }),
    )
    .await;
    assert_eq!(reply["next_in_ms"], 5000);
    assert!(reply["visit_key"].as_str().unwrap().starts_with("vk_"));
    let list = visits(&app, &agent, "").await;
    assert_eq!(list.len(), 1);
    let v = &list[0];
    assert_eq!(v["current_page"], entry);
    assert_eq!(v["current_title"], "纯棉T恤");
    assert_eq!(v["source"], "ads");
    assert_eq!(v["utm"]["campaign"], "double11");
    assert_eq!(v["pages"], 1);
    assert_eq!(v["cart_cents"], 15800);
    assert_eq!(v["cart_items"], 2);
    assert_eq!(v["returning"], false);
    assert_eq!(v["tags"], json!(["cart", "campaign"]));

    // A new page is a new page of the visit; the cart is kept when not reported.
    let key = reply["visit_key"].as_str().unwrap();
    again(&app, &browser(1), key, &format!("{SHOP}/cart")).await;
    let v = &visits(&app, &agent, "").await[0];
    assert_eq!(v["pages"], 2);
    assert_eq!(v["current_page"], format!("{SHOP}/cart"));
    assert_eq!(v["cart_cents"], 15800);
    assert_eq!(v["source"], "ads", "the source is the visit's entry");
}

#[tokio::test]
async fn a_second_visit_from_the_same_browser_is_a_returning_visitor() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let (first, _) = arrive(&app, &browser(1), &format!("{SHOP}/"), None).await;
    let (second, _) = arrive(&app, &browser(1), &format!("{SHOP}/"), None).await;
    let (other, _) = arrive(&app, &browser(2), &format!("{SHOP}/"), None).await;
    let returning = visits(&app, &agent, "?returning=true").await;
    assert_eq!(ids(&returning), vec![second.as_str()]);
    let new = visits(&app, &agent, "?returning=false&sort=arrived").await;
    assert_eq!(ids(&new), vec![first.as_str(), other.as_str()]);
}

#[tokio::test]
async fn agents_filter_and_sort_the_visitor_list() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let search = beat(
        &app,
        json!({ "browser_id": browser(1), "url": format!("{SHOP}/item?sku=JK-002"),
        "referrer": "https://www.baidu.com/s?wd=羽绒服", "cart": cart("JK-002", 2, 39900) }),
    )
    .await;
    let direct = beat(
        &app,
        json!({ "browser_id": browser(2), "url": format!("{SHOP}/"),
        "cart": cart("MG-004", 1, 8900) }),
    )
    .await;
    let referred = beat(
        &app,
        json!({ "browser_id": browser(3), "url": format!("{SHOP}/item?sku=EB-003"),
        "referrer": "https://blog.example/review" }),
    )
    .await;
    let id = |r: &Value| r["visit_id"].as_str().unwrap().to_owned();
    let (search, direct, referred) = (id(&search), id(&direct), id(&referred));

    let by_cart = visits(&app, &agent, "?sort=cart_value").await;
    assert_eq!(
        ids(&by_cart),
        vec![search.as_str(), direct.as_str(), referred.as_str()]
    );
    assert_eq!(
        ids(&visits(&app, &agent, "?source=search").await),
        vec![search.as_str()]
    );
    assert_eq!(
        ids(&visits(&app, &agent, "?source=referral").await),
        vec![referred.as_str()]
    );
    assert_eq!(
        ids(&visits(&app, &agent, "?min_cart_cents=10000").await),
        vec![search.as_str()]
    );
    assert_eq!(
        ids(&visits(&app, &agent, "?tag=high_value").await),
        vec![search.as_str()]
    );
    let product_pages = visits(&app, &agent, "?page=sku%3D&sort=arrived").await;
    assert_eq!(
        ids(&product_pages),
        vec![search.as_str(), referred.as_str()]
    );

    let res = app
        .staff_get(&agent, "/api/v1/staff/visits?source=television")
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&res.json().await.unwrap()), "invalid_query");
    let res = app
        .staff_get(&agent, "/api/v1/staff/visits?sort=loudest")
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_signed_in_visitor_shows_their_member_level() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let identity = app.signed_identity("demo_buyer_1");
    beat(
        &app,
        json!({ "browser_id": browser(1), "url": format!("{SHOP}/"), "identity": identity }),
    )
    .await;
    beat(
        &app,
        json!({ "browser_id": browser(2), "url": format!("{SHOP}/") }),
    )
    .await;
    let gold = visits(&app, &agent, "?member_level=gold").await;
    assert_eq!(gold.len(), 1);
    assert_eq!(gold[0]["member_level"], "gold");
    assert!(
        gold[0]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("member"))
    );
}

#[tokio::test]
async fn bad_heartbeats_are_refused() {
    let app = spawn_app().await;
    for (body, code) in [
        (
            json!({ "browser_id": "x", "url": format!("{SHOP}/") }),
            "invalid_browser_id",
        ),
        (
            json!({ "browser_id": browser(1), "url": "javascript:alert(1)" }),
            "invalid_url",
        ),
        (
            json!({ "browser_id": browser(1), "url": format!("{SHOP}/"), "colour": "red" }),
            "invalid_fields",
        ),
    ] {
        let res = app
            .client
            .post(app.url("/api/v1/presence"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert_eq!(error_code(&res.json().await.unwrap()), code);
    }
}

#[tokio::test]
async fn agents_watching_the_list_are_told_of_visits_live() {
    let app = spawn_app().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let mut stream = app
        .client
        .get(app.url("/api/v1/staff/visits/stream"))
        .bearer_auth(&agent.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (visit, _) = arrive(&app, &browser(1), &format!("{SHOP}/"), None).await;
    let mut seen = String::new();
    while !seen.contains(&visit) {
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: visit"), "{seen}");
}

#[tokio::test]
async fn an_agents_invitation_reaches_the_page_and_the_chat_starts_assigned_to_them() {
    let app = spawn_app().await;
    let agent = app.online_agent("agent-li", 3).await;
    let (visit, key) = arrive(&app, &browser(1), &format!("{SHOP}/item?sku=TS-001"), None).await;
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/visits/{visit}/invite"),
            json!({ "greeting": "您好，这款T恤今天有优惠，需要帮您看看尺码吗？" }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let reply = again(&app, &browser(1), &key, &format!("{SHOP}/item?sku=TS-001")).await;
    let offer = &reply["invitation"];
    assert_eq!(offer["from"], "agent");
    assert_eq!(
        offer["greeting"],
        "您好，这款T恤今天有优惠，需要帮您看看尺码吗？"
    );
    let invitation = offer["id"].as_str().unwrap();
    let next = again(&app, &browser(1), &key, &format!("{SHOP}/item?sku=TS-001")).await;
    assert!(
        next["invitation"].is_null(),
        "an invitation is handed over once"
    );

    let res = accept(&app, invitation, &key).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let started: Value = res.json().await.unwrap();
    assert_eq!(started["conversation"]["state"], "with_agent");
    assert_eq!(started["conversation"]["agent_id"], agent.id.as_str());
    let buyer = buyer_of(&started);
    let events = app.buyer_events(&buyer, 0).await;
    let said = messages(&events);
    let greeting = said.last().expect("the agent's greeting");
    assert_eq!(greeting["sender"]["kind"], "agent");
    assert_eq!(
        greeting["body"]["text"],
        "您好，这款T恤今天有优惠，需要帮您看看尺码吗？"
    );
    assert!(
        !said.iter().any(|e| e["sender"]["kind"] == "bot"),
        "no bot welcome when an agent invited"
    );

    // The agent sees the chat among theirs; the visit is linked to the visitor.
    let mine: Value = app
        .staff_get(&agent, "/api/v1/staff/conversations")
        .await
        .json()
        .await
        .unwrap();
    assert!(mine.to_string().contains(&buyer.conversation_id));
    let listed = &visits(&app, &agent, "").await[0];
    assert_eq!(listed["visitor_id"], buyer.visitor_id.as_str());

    let res = accept(&app, invitation, &key).await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "invitation_answered"
    );
}

#[tokio::test]
async fn an_invitation_is_claimed_only_with_its_own_visits_key() {
    let app = spawn_app().await;
    let agent = app.online_agent("agent-li", 3).await;
    let (visit, _) = arrive(&app, &browser(1), &format!("{SHOP}/"), None).await;
    let (_, other_key) = arrive(&app, &browser(2), &format!("{SHOP}/"), None).await;
    let offer: Value = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/visits/{visit}/invite"),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(offer["greeting"].as_str().unwrap().starts_with("您好"));
    assert!(offer["agent_name"].is_string());
    let res = accept(&app, offer["id"].as_str().unwrap(), &other_key).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "invitation_not_found"
    );
}

#[tokio::test]
async fn inviting_a_visit_that_does_not_exist_or_with_a_bad_greeting_fails() {
    let app = spawn_app().await;
    let agent = app.online_agent("agent-li", 3).await;
    let res = app
        .staff_post(
            &agent,
            "/api/v1/staff/visits/no-such-visit/invite",
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(error_code(&res.json().await.unwrap()), "visit_not_found");
    let (visit, _) = arrive(&app, &browser(1), &format!("{SHOP}/"), None).await;
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/visits/{visit}/invite"),
            json!({ "greeting": "  " }),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&res.json().await.unwrap()), "invalid_greeting");
}

fn product_page_rule(caps: Value) -> Value {
    json!({
        "name": "商品页邀请",
        "conditions": { "page_url_contains": "sku=", "min_dwell_seconds": 0, "sources": ["direct", "search"] },
        "action": { "kind": "bot", "greeting": "您好，这款商品有什么想了解的吗？" },
        "caps": caps
    })
}

#[tokio::test]
async fn a_rule_invites_a_visitor_on_a_matching_page_once_per_session() {
    let app = spawn_app().await;
    let admin = app.staff("admin-wang", Role::Admin).await;
    let res = add_rule(
        &app,
        &admin,
        product_page_rule(json!({ "once_per_session": true })),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let home = format!("{SHOP}/");
    let product = format!("{SHOP}/item?sku=TS-001");
    let first = beat(&app, json!({ "browser_id": browser(1), "url": home })).await;
    assert!(
        first["invitation"].is_null(),
        "the home page does not match"
    );
    let key = first["visit_key"].as_str().unwrap();
    let on_product = again(&app, &browser(1), key, &product).await;
    assert_eq!(on_product["invitation"]["from"], "bot");
    assert_eq!(
        on_product["invitation"]["greeting"],
        "您好，这款商品有什么想了解的吗？"
    );
    let invitation = on_product["invitation"]["id"].as_str().unwrap();
    let res = app
        .client
        .post(app.url(&format!(
            "/api/v1/presence/invitations/{invitation}/decline"
        )))
        .json(&json!({ "visit_key": key }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for url in [&home, &product] {
        let later = again(&app, &browser(1), key, url).await;
        assert!(later["invitation"].is_null(), "once per session");
    }

    let rules: Value = app
        .staff_get(&admin, "/api/v1/admin/invitation-rules")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rules[0]["shown"], 1);
    assert_eq!(rules[0]["accepted"], 0);
    assert_eq!(rules[0]["name"], "商品页邀请");
}

#[tokio::test]
async fn a_rule_invites_a_browser_at_most_n_times_a_day() {
    let app = spawn_app().await;
    let admin = app.staff("admin-wang", Role::Admin).await;
    let rule = product_page_rule(json!({ "once_per_session": true, "per_day": 1 }));
    assert_eq!(add_rule(&app, &admin, rule).await.status(), 201);
    let product = format!("{SHOP}/item?sku=TS-001");
    let first = beat(&app, json!({ "browser_id": browser(1), "url": product })).await;
    assert!(first["invitation"].is_object());
    let next_visit = beat(&app, json!({ "browser_id": browser(1), "url": product })).await;
    assert!(
        next_visit["invitation"].is_null(),
        "one a day for this browser"
    );
    let other = beat(&app, json!({ "browser_id": browser(2), "url": product })).await;
    assert!(
        other["invitation"].is_object(),
        "another browser is invited"
    );
}

#[tokio::test]
async fn rules_invite_only_visits_that_meet_every_condition() {
    let app = spawn_app().await;
    let admin = app.staff("admin-wang", Role::Admin).await;
    for rule in [
        json!({ "name": "久留", "conditions": { "min_dwell_seconds": 3600 }, "action": { "kind": "bot", "greeting": "hi" } }),
        json!({ "name": "老客", "conditions": { "returning": true }, "action": { "kind": "bot", "greeting": "hi" } }),
        json!({ "name": "广告", "conditions": { "sources": ["ads"] }, "action": { "kind": "bot", "greeting": "hi" } }),
        json!({ "name": "大单", "conditions": { "min_cart_cents": 100000 }, "action": { "kind": "bot", "greeting": "hi" } }),
        json!({ "name": "金卡", "conditions": { "member_levels": ["gold"] }, "action": { "kind": "bot", "greeting": "hi" } }),
        json!({ "name": "多件", "conditions": { "min_cart_items": 3 }, "action": { "kind": "bot", "greeting": "hi" } }),
        json!({ "name": "百度", "conditions": { "utm_source": "baidu" }, "action": { "kind": "bot", "greeting": "hi" } }),
        json!({ "name": "关闭", "enabled": false, "action": { "kind": "bot", "greeting": "hi" } }),
    ] {
        assert_eq!(add_rule(&app, &admin, rule).await.status(), 201);
    }
    let reply = beat(
        &app,
        json!({ "browser_id": browser(1), "url": format!("{SHOP}/"),
        "cart": cart("MG-004", 1, 8900) }),
    )
    .await;
    assert!(reply["invitation"].is_null(), "{reply}");
    // The campaign rule matches a campaign visit.
    let campaign = json!({ "name": "双11", "conditions": { "utm_campaign": "double11", "min_pages": 1 },
        "action": { "kind": "bot", "greeting": "双11活动进行中" } });
    assert_eq!(add_rule(&app, &admin, campaign).await.status(), 201);
    let reply = beat(
        &app,
        json!({ "browser_id": browser(2),
        "url": format!("{SHOP}/?utm_source=weibo&utm_campaign=double11") }),
    )
    .await;
    assert_eq!(reply["invitation"]["greeting"], "双11活动进行中");

    // A rule on the ad's channel and the number of items in the cart invites a
    // visit from that channel with enough items, and no other.
    let channel = json!({ "name": "微博凑单", "conditions": { "utm_source": "weibo", "min_cart_items": 2 },
        "action": { "kind": "bot", "greeting": "微博专享：满两件包邮" } });
    assert_eq!(add_rule(&app, &admin, channel).await.status(), 201);
    let weibo = format!("{SHOP}/?utm_source=weibo");
    let one_item = beat(
        &app,
        json!({ "browser_id": browser(3), "url": weibo, "cart": cart("MG-004", 1, 8900) }),
    )
    .await;
    assert!(one_item["invitation"].is_null(), "one item: {one_item}");
    let other_channel = beat(
        &app,
        json!({ "browser_id": browser(4), "url": format!("{SHOP}/?utm_source=douyin"),
        "cart": cart("MG-004", 2, 8900) }),
    )
    .await;
    assert!(
        other_channel["invitation"].is_null(),
        "another channel: {other_channel}"
    );
    let reply = beat(
        &app,
        json!({ "browser_id": browser(5), "url": weibo, "cart": cart("MG-004", 2, 8900) }),
    )
    .await;
    assert_eq!(reply["invitation"]["greeting"], "微博专享：满两件包邮");
}

/// A VIP is one the shop marked, or a signed-in member whose level the buyer
/// profile counts as VIP (gold and up).
#[tokio::test]
async fn agents_filter_the_visitor_list_to_vips() {
    let app = spawn_app().await;
    let agent = app.online_agent("agent-li", 3).await;
    let admin = app.staff("admin-wang", Role::Admin).await;
    let (marked, key) = arrive(&app, &browser(1), &format!("{SHOP}/"), None).await;
    let (plain, _) = arrive(&app, &browser(2), &format!("{SHOP}/"), None).await;
    let member = |n: u32, account: &str| {
        json!({ "browser_id": browser(n), "url": format!("{SHOP}/"),
        "identity": app.signed_identity(account) })
    };
    let gold = beat(&app, member(3, "demo_buyer_1")).await;
    let gold = gold["visit_id"].as_str().unwrap().to_owned();
    let regular = beat(&app, member(4, "demo_buyer_2")).await;
    let regular = regular["visit_id"].as_str().unwrap().to_owned();
    // The shop marks a visitor a VIP once they are known: they opened a chat.
    let offer: Value = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/visits/{marked}/invite"),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let res = accept(&app, offer["id"].as_str().unwrap(), &key).await;
    assert_eq!(res.status(), 201);
    let buyer = buyer_of(&res.json().await.unwrap());
    let mark = format!("/api/v1/staff/visitors/{}/vip", buyer.visitor_id);
    let res = app
        .staff_send(reqwest::Method::PUT, &admin, &mark, json!({ "vip": true }))
        .await;
    assert_eq!(res.status(), 204);

    let vips = visits(&app, &agent, "?vip=true&sort=arrived").await;
    assert_eq!(ids(&vips), vec![marked.as_str(), gold.as_str()]);
    assert!(vips.iter().all(|v| v["vip"] == true), "{vips:?}");
    assert_eq!(vips[1]["member_level"], "gold");
    let others = visits(&app, &agent, "?vip=false&sort=arrived").await;
    assert_eq!(ids(&others), vec![plain.as_str(), regular.as_str()]);
    assert!(others.iter().all(|v| v["vip"] == false), "{others:?}");
}

#[tokio::test]
async fn a_rule_greeting_from_an_agent_starts_the_chat_assigned_to_that_agent() {
    const GREETING: &str = "您好，我是客服小李，大件商品我来帮您看看";
    let app = spawn_app().await;
    let admin = app.staff("admin-wang", Role::Admin).await;
    let agent = app.online_agent("agent-li", 3).await;
    let rule = json!({ "name": "大单专人接待", "conditions": { "min_cart_cents": 50000 },
        "action": { "kind": "agent", "greeting": GREETING, "agent_id": agent.id } });
    let res = add_rule(&app, &admin, rule).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    let small = beat(
        &app,
        json!({ "browser_id": browser(1), "url": format!("{SHOP}/cart"), "cart": cart("MG-004", 1, 8900) }),
    )
    .await;
    assert!(small["invitation"].is_null(), "{small}");
    let reply = beat(
        &app,
        json!({ "browser_id": browser(2), "url": format!("{SHOP}/cart"), "cart": cart("JK-002", 2, 39900) }),
    )
    .await;
    let offer = &reply["invitation"];
    assert_eq!(offer["from"], "agent", "{reply}");
    assert_eq!(offer["greeting"], GREETING);
    assert!(offer["agent_name"].is_string(), "{offer}");

    let key = reply["visit_key"].as_str().unwrap();
    let res = accept(&app, offer["id"].as_str().unwrap(), key).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let started: Value = res.json().await.unwrap();
    assert_eq!(started["conversation"]["state"], "with_agent");
    assert_eq!(started["conversation"]["agent_id"], agent.id.as_str());
    let buyer = buyer_of(&started);
    let events = app.buyer_events(&buyer, 0).await;
    let said = messages(&events);
    let greeting = said.last().expect("the agent's greeting");
    assert_eq!(greeting["sender"]["kind"], "agent");
    assert_eq!(greeting["body"]["text"], GREETING);
    assert!(
        !said.iter().any(|e| e["sender"]["kind"] == "bot"),
        "no bot welcome when the rule names an agent: {said:?}"
    );
    let mine: Value = app
        .staff_get(&agent, "/api/v1/staff/conversations")
        .await
        .json()
        .await
        .unwrap();
    assert!(mine.to_string().contains(&buyer.conversation_id));

    let rules: Value = app
        .staff_get(&admin, "/api/v1/admin/invitation-rules")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&rules[0]["shown"], &rules[0]["accepted"]),
        (&json!(1), &json!(1))
    );
}

#[tokio::test]
async fn bad_invitation_rules_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let admin = app.staff("admin-wang", Role::Admin).await;
    let greeting = json!({ "kind": "bot", "greeting": "hi" });
    for (rule, code) in [
        (
            json!({ "name": "x", "action": greeting, "colour": "red" }),
            "invalid_invitation_rule",
        ),
        (
            json!({ "name": "x", "action": greeting, "conditions": { "dwell": 5 } }),
            "invalid_invitation_rule",
        ),
        (
            json!({ "name": "x", "action": { "kind": "robot", "greeting": "hi" } }),
            "invalid_invitation_rule",
        ),
        (
            json!({ "name": "x", "action": greeting, "conditions": { "sources": ["tv"] } }),
            "invalid_invitation_rule",
        ),
        (
            json!({ "name": "x", "action": greeting, "conditions": { "min_dwell_seconds": -5 } }),
            "invalid_invitation_rule",
        ),
        (
            json!({ "name": "x", "action": greeting, "conditions": { "time_window": { "from": "9am", "to": "22:00" } } }),
            "invalid_invitation_rule",
        ),
        (
            json!({ "name": "x", "action": greeting, "caps": { "per_day": 0 } }),
            "invalid_invitation_rule",
        ),
        (
            json!({ "name": "", "action": greeting }),
            "invalid_invitation_rule",
        ),
        (
            json!({ "name": "x", "action": { "kind": "agent", "greeting": "hi", "agent_id": "nobody" } }),
            "unknown_agent",
        ),
    ] {
        let res = add_rule(&app, &admin, rule.clone()).await;
        assert_eq!(res.status(), 400, "{rule}");
        assert_eq!(error_code(&res.json().await.unwrap()), code, "{rule}");
    }
    let rules: Value = app
        .staff_get(&admin, "/api/v1/admin/invitation-rules")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rules, json!([]));
    let agent = app.staff("agent-li", Role::Agent).await;
    let res = add_rule(&app, &agent, product_page_rule(json!({}))).await;
    assert_eq!(res.status(), 403, "agents do not write rules");
}

#[tokio::test]
async fn accepting_a_bot_invitation_on_a_product_page_greets_and_shows_that_product() {
    let app = spawn_app().await;
    let admin = app.staff("admin-wang", Role::Admin).await;
    assert_eq!(
        add_rule(&app, &admin, product_page_rule(json!({})))
            .await
            .status(),
        201
    );
    let reply = beat(
        &app,
        json!({ "browser_id": browser(1), "url": format!("{SHOP}/demo/?sku=TS-001") }),
    )
    .await;
    let key = reply["visit_key"].as_str().unwrap();
    let invitation = reply["invitation"]["id"].as_str().unwrap();
    // The visitor is signed in to the shop: the chat can be matched to orders.
    let res = app
        .client
        .post(app.url("/api/v1/conversations"))
        .json(&json!({
            "invitation": { "id": invitation, "visit_key": key },
            "identity": app.signed_identity("buyer_invited"),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let started: Value = res.json().await.unwrap();
    assert_eq!(started["conversation"]["state"], "bot");
    let events = app.buyer_events(&buyer_of(&started), 0).await;
    let said = messages(&events);
    assert_eq!(said.len(), 2, "{events:?}");
    assert_eq!(said[0]["body"]["text"], "您好，这款商品有什么想了解的吗？");
    let card = &said[1]["body"];
    assert_eq!(card["type"], "product_card");
    assert_eq!(card["card"]["sku"], "TS-001");
    assert_eq!(card["card"]["price_cents"], 7900);
    assert_eq!(card["card"]["link"], "/demo/?sku=TS-001");

    let rules: Value = app
        .staff_get(&admin, "/api/v1/admin/invitation-rules")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rules[0]["accepted"], 1);
    assert_eq!(rules[0]["converted"], 0);

    // The buyer asks, then pays an order: the rule counts a conversion once
    // the sweep finds it.
    let buyer = buyer_of(&started);
    asks_then_pays(&app, &buyer, "XE20261130555").await;
    let mut converted = Value::Null;
    for _ in 0..200 {
        // Analytics folds the buyer's message asynchronously; sweep until seen.
        app.state.conversions.sweep().await.unwrap();
        let rules: Value = app
            .staff_get(&admin, "/api/v1/admin/invitation-rules")
            .await
            .json()
            .await
            .unwrap();
        converted = rules[0]["converted"].clone();
        if converted == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(converted, 1, "the invited chat converted");
}

#[tokio::test]
async fn an_agent_sends_a_product_card_from_the_catalogue_in_one_call() {
    let app = spawn_app().await;
    // Not online: routing leaves the chat for them to claim.
    let agent = app.staff("agent-li", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &agent).await;

    let found: Vec<Value> = app
        .staff_get(&agent, "/api/v1/staff/products?q=%E8%80%B3%E6%9C%BA") // 耳机
        .await
        .json()
        .await
        .unwrap();
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|p| p["title"].as_str().unwrap().contains("耳机"))
    );
    let sku = found[0]["sku"].as_str().unwrap();

    let path = format!(
        "/api/v1/staff/conversations/{}/product-cards",
        buyer.conversation_id
    );
    let res = app
        .staff_post(
            &agent,
            &path,
            json!({ "sku": sku, "client_msg_id": "card-1" }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let events = app.buyer_events(&buyer, 0).await;
    let card = messages(&events)
        .into_iter()
        .find(|e| e["body"]["type"] == "product_card")
        .unwrap();
    assert_eq!(card["sender"]["kind"], "agent");
    assert_eq!(card["body"]["card"]["sku"], sku);
    assert_eq!(card["body"]["card"]["title"], found[0]["title"]);
    assert!(card["body"]["card"]["stock"].is_i64());
    assert!(card["body"]["card"]["image_url"].is_string());

    let res = app
        .staff_post(&agent, &path, json!({ "sku": "NO-SUCH-1" }))
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(error_code(&res.json().await.unwrap()), "product_not_found");
    let res = app
        .staff_post(&agent, &path, json!({ "sku": "../etc" }))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&res.json().await.unwrap()), "invalid_sku");
    let before = app.buyer_events(&buyer, 0).await.len();
    assert_eq!(before, events.len(), "nothing was sent for the bad cards");
}

#[tokio::test]
async fn the_demo_store_serves_its_catalogue_for_product_pages() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/v1/demo/products/TS-001"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let product: Value = res.json().await.unwrap();
    assert_eq!(product["title"], "纯棉圆领T恤 白色 L");
    assert_eq!(product["category"], "服装");
    let res = app
        .client
        .get(app.url("/api/v1/demo/products/NOPE-404"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let agent = app.staff("agent-li", Role::Agent).await;
    let all: Vec<Value> = app
        .staff_get(&agent, "/api/v1/staff/products?limit=50")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 50);
}

/// A heartbeat from the client address `ip` (the test server believes
/// `X-Forwarded-For` from loopback).
async fn beat_from(app: &TestApp, ip: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/presence"))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// ASVS 5.0 2.4.1 (anti-automation) on the public heartbeat: one visit (or one
/// browser starting visits) past its quota gets 429 `rate_limited` with
/// Retry-After and stores nothing more, while another visit is served.
#[tokio::test]
async fn a_visit_flooding_heartbeats_gets_429_while_another_visit_is_served() {
    let app = crate::hardening::spawn_limited(|r| r.presence_per_visit = 3).await;
    let agent = app.staff("agent-flood", Role::Agent).await;
    let ip = "203.0.113.20";
    let first = beat_from(
        &app,
        ip,
        json!({ "browser_id": browser(1), "url": format!("{SHOP}/") }),
    )
    .await;
    assert_eq!(first.status(), 200);
    let key = first.json::<Value>().await.unwrap()["visit_key"]
        .as_str()
        .unwrap()
        .to_owned();
    for n in 0..4 {
        let res = beat_from(
            &app,
            ip,
            json!({ "browser_id": browser(1), "visit_key": key, "url": format!("{SHOP}/p{n}") }),
        )
        .await;
        if n < 3 {
            assert_eq!(res.status(), 200, "{n}");
        } else {
            crate::hardening::assert_rate_limited(res).await;
        }
    }
    let listed = visits(&app, &agent, "").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0]["current_page"],
        format!("{SHOP}/p2"),
        "the refused heartbeat changed nothing"
    );
    assert_eq!(listed[0]["pages"], 4);

    // A browser starting visit after visit is held by its browser id.
    for n in 0..4 {
        let res = beat_from(
            &app,
            ip,
            json!({ "browser_id": browser(2), "url": format!("{SHOP}/") }),
        )
        .await;
        if n < 3 {
            assert_eq!(res.status(), 200, "{n}");
        } else {
            crate::hardening::assert_rate_limited(res).await;
        }
    }
    assert_eq!(visits(&app, &agent, "").await.len(), 4);

    let other = beat_from(
        &app,
        ip,
        json!({ "browser_id": browser(3), "url": format!("{SHOP}/") }),
    )
    .await;
    assert_eq!(other.status(), 200, "another visit from the same address");
}

/// ASVS 5.0 2.4.1: one address sending heartbeats for many browsers is limited
/// as a whole, and a shopper at another address is served.
#[tokio::test]
async fn heartbeats_past_the_per_address_quota_get_429_while_another_address_is_served() {
    let app = crate::hardening::spawn_limited(|r| r.presence_per_ip = 4).await;
    for n in 0..5 {
        let res = beat_from(
            &app,
            "203.0.113.30",
            json!({ "browser_id": browser(10 + n), "url": format!("{SHOP}/") }),
        )
        .await;
        if n < 4 {
            assert_eq!(res.status(), 200, "{n}");
        } else {
            crate::hardening::assert_rate_limited(res).await;
        }
    }
    let res = beat_from(
        &app,
        "203.0.113.31",
        json!({ "browser_id": browser(20), "url": format!("{SHOP}/") }),
    )
    .await;
    assert_eq!(res.status(), 200);
}

async fn agent_invitation_counts(app: &TestApp, admin: &StaffLogin) -> Value {
    let res = app
        .staff_get(admin, "/api/v1/admin/agent-invitations")
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// An agent's own invitation from the visitor list has no rule: its shows,
/// acceptances and orders are counted on a line of their own, apart from the
/// rules' counts.
#[tokio::test]
async fn invitations_agents_send_themselves_are_counted_on_their_own_line() {
    let app = spawn_app().await;
    let admin = app.staff("admin-wang", Role::Admin).await;
    let agent = app.online_agent("agent-li", 3).await;
    assert_eq!(
        agent_invitation_counts(&app, &admin).await,
        json!({ "shown": 0, "accepted": 0, "converted": 0 })
    );
    let rule = add_rule(&app, &admin, product_page_rule(json!({}))).await;
    assert_eq!(rule.status(), 201);
    let by_rule = beat(
        &app,
        json!({ "browser_id": browser(1), "url": format!("{SHOP}/item?sku=TS-001") }),
    )
    .await;
    assert_eq!(by_rule["invitation"]["from"], "bot");

    // Two visitors see an agent's invitation: one closes it, one takes it and
    // pays an order.
    let home = format!("{SHOP}/");
    let mut offers = Vec::new();
    for n in [2, 3] {
        let (visit, key) = arrive(&app, &browser(n), &home, None).await;
        let res = app
            .staff_post(
                &agent,
                &format!("/api/v1/staff/visits/{visit}/invite"),
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let shown = again(&app, &browser(n), &key, &home).await;
        assert_eq!(shown["invitation"]["from"], "agent", "{shown}");
        offers.push((shown["invitation"]["id"].as_str().unwrap().to_owned(), key));
    }
    let (declined, key) = &offers[0];
    let res = app
        .client
        .post(app.url(&format!("/api/v1/presence/invitations/{declined}/decline")))
        .json(&json!({ "visit_key": key }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (taken, key) = &offers[1];
    let res = app
        .client
        .post(app.url("/api/v1/conversations"))
        .json(&json!({
            "invitation": { "id": taken, "visit_key": key },
            "identity": app.signed_identity("buyer_invited"),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let buyer = buyer_of(&res.json().await.unwrap());
    asks_then_pays(&app, &buyer, "XE20261130556").await;
    let mut counts = Value::Null;
    for _ in 0..200 {
        // Analytics folds the buyer's message asynchronously; sweep until seen.
        app.state.conversions.sweep().await.unwrap();
        counts = agent_invitation_counts(&app, &admin).await;
        if counts["converted"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        counts,
        json!({ "shown": 2, "accepted": 1, "converted": 1 }),
        "the agents' line"
    );

    let rules: Value = app
        .staff_get(&admin, "/api/v1/admin/invitation-rules")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    assert_eq!(
        (
            &rules[0]["shown"],
            &rules[0]["accepted"],
            &rules[0]["converted"]
        ),
        (&json!(1), &json!(0), &json!(0)),
        "the rule's line holds only its own invitation"
    );
    let res = app
        .staff_get(&agent, "/api/v1/admin/agent-invitations")
        .await;
    assert_eq!(res.status(), 403, "the counts are the admin's");
}

/// The first heartbeat of a new browser on `url`: the invitation it got, if any.
async fn invited_on(app: &TestApp, n: u32, url: &str) -> Value {
    beat(app, json!({ "browser_id": browser(n), "url": url })).await["invitation"].clone()
}

async fn put_rule(app: &TestApp, staff: &StaffLogin, id: &str, rule: &Value) -> reqwest::Response {
    let path = format!("/api/v1/admin/invitation-rules/{id}");
    app.staff_send(reqwest::Method::PUT, staff, &path, rule.clone())
        .await
}

/// An admin edits a rule and switches it off and on again: the edit takes
/// effect at once, a rule switched off invites nobody, what the rule achieved
/// stays counted, and a bad edit, an unknown rule or an agent's edit change
/// nothing.
#[tokio::test]
async fn an_admin_edits_a_rule_and_switches_it_off_and_on() {
    let app = spawn_app().await;
    let admin = app.staff("admin-wang", Role::Admin).await;
    let res = add_rule(&app, &admin, product_page_rule(json!({}))).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let page = |sku: &str| format!("{SHOP}/item?sku={sku}");
    assert_eq!(invited_on(&app, 1, &page("EB-003")).await["from"], "bot");

    // Only the T-shirt pages now, with a greeting of their own.
    const SHIRTS: &str = "T恤今天有优惠，想看看尺码吗？";
    let mut edited = product_page_rule(json!({}));
    edited["conditions"]["page_url_contains"] = json!("sku=TS-");
    edited["action"]["greeting"] = json!(SHIRTS);
    let res = put_rule(&app, &admin, &id, &edited).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let view: Value = res.json().await.unwrap();
    assert_eq!(
        (&view["id"], &view["created_at"], &view["shown"]),
        (&created["id"], &created["created_at"], &json!(1)),
        "the same rule, its count kept: {view}"
    );
    assert_eq!(view["conditions"]["page_url_contains"], "sku=TS-");
    assert!(invited_on(&app, 2, &page("EB-003")).await.is_null());
    assert_eq!(
        invited_on(&app, 3, &page("TS-002")).await["greeting"],
        SHIRTS
    );

    // Switched off, it invites nobody, and the list says it is off.
    let mut off = edited.clone();
    off["enabled"] = json!(false);
    let res = put_rule(&app, &admin, &id, &off).await;
    assert_eq!(res.status(), 200);
    assert!(invited_on(&app, 4, &page("TS-003")).await.is_null());
    let rules: Value = app
        .staff_get(&admin, "/api/v1/admin/invitation-rules")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&rules[0]["enabled"], &rules[0]["shown"]),
        (&json!(false), &json!(2))
    );

    // Back on, it invites again.
    let res = put_rule(&app, &admin, &id, &edited).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        invited_on(&app, 5, &page("TS-001")).await["greeting"],
        SHIRTS
    );

    // Refused edits change nothing.
    let mut colour = edited.clone();
    colour["colour"] = json!("red");
    let mut nobody = edited.clone();
    nobody["action"] = json!({ "kind": "agent", "greeting": "hi", "agent_id": "nobody" });
    for (rule, rule_id, status, code) in [
        (&colour, id.as_str(), 400, "invalid_invitation_rule"),
        (&nobody, id.as_str(), 400, "unknown_agent"),
        (&off, "no-such-rule", 404, "invitation_rule_not_found"),
    ] {
        let res = put_rule(&app, &admin, rule_id, rule).await;
        assert_eq!(res.status(), status, "{rule}");
        assert_eq!(error_code(&res.json().await.unwrap()), code, "{rule}");
    }
    let agent = app.staff("agent-li", Role::Agent).await;
    assert_eq!(put_rule(&app, &agent, &id, &off).await.status(), 403);
    let rules: Value = app
        .staff_get(&admin, "/api/v1/admin/invitation-rules")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            &rules[0]["enabled"],
            &rules[0]["action"]["greeting"],
            &rules[0]["shown"]
        ),
        (&json!(true), &json!(SHIRTS), &json!(3))
    );
}
