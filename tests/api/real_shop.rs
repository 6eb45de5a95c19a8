//! Xiaoer on a real shop (issue 18): `commerce_url` points at the shop's own
//! HTTP API (shop_api.rs, a server on port 0) and everything the demo store
//! gives comes from it instead: product cards and search, recommendations from
//! its order baskets, member levels (the profile, the VIP tag, welcome rules)
//! and coupons. A shop that is down answers 503 `unavailable`, never a bare 500.

use crate::bot_scripted::replying;
use crate::bot_support::FixedKnowledge;
use crate::helpers::{Buyer, StaffLogin, TestApp, error_code, spawn_with, test_settings};
use crate::shop_api::{GOLD_BUYER, LEVELS, PLAIN_BUYER, SHOP_TOKEN, ShopApi, start_shop};
use serde_json::{Value, json};
use std::sync::Arc;
use xiaoer::domain::staff::Role;
use xiaoer::ports::{EmbedKind, Embedder, ModelError};
use xiaoer::startup::{Adapters, Models};

/// One axis per text (by a hash of it): products are told apart without
/// model files, and the recommendations' content similarity has vectors to compare.
struct AxisEmbedder;

#[async_trait::async_trait]
impl Embedder for AxisEmbedder {
    fn dim(&self) -> usize {
        384
    }

    async fn embed(
        &self,
        texts: Vec<String>,
        _kind: EmbedKind,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        Ok(texts
            .iter()
            .map(|text| {
                let axis = text
                    .bytes()
                    .fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
                    % 384;
                let mut vector = vec![0.0; 384];
                vector[axis] = 1.0;
                vector
            })
            .collect())
    }
}

/// Xiaoer with the shop's URL and token (no demo store, no model files).
async fn spawn_on_shop() -> (TestApp, Arc<ShopApi>) {
    let shop = start_shop().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.commerce_url = Some(shop.url.clone());
    settings.commerce_token = Some(xiaoer::config::Secret::new(SHOP_TOKEN.into()));
    let adapters = Adapters {
        models: Some(Models {
            llm: replying("好的"),
            embedder: Arc::new(AxisEmbedder),
        }),
        knowledge: Some(Arc::new(FixedKnowledge::default())),
        commerce: None,
    };
    (spawn_with(dir, settings, adapters).await, shop)
}

fn cards_path(buyer: &Buyer, kind: &str) -> String {
    format!(
        "/api/v1/staff/conversations/{}/{kind}",
        buyer.conversation_id
    )
}

async fn get_json(app: &TestApp, staff: &StaffLogin, path: &str) -> Value {
    let res = app.staff_get(staff, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

fn skus(products: &Value) -> Vec<&str> {
    products
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap())
        .collect()
}

fn bodies_of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["kind"] == "message" && e["body"]["type"] == kind)
        .map(|e| &e["body"])
        .collect()
}

#[tokio::test]
async fn an_agent_sends_the_shops_products_and_recommends_what_its_orders_bought_together() {
    let (app, _shop) = spawn_on_shop().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let buyer = app.signed_in_buyer(GOLD_BUYER).await;
    app.hand_to_agent(&buyer, &agent).await;

    let found = get_json(
        &app,
        &agent,
        "/api/v1/staff/products?q=%E8%BF%9E%E8%A1%A3%E8%A3%99",
    )
    .await; // 连衣裙
    assert_eq!(skus(&found), ["DRESS-001", "DRESS-002"]);

    let path = cards_path(&buyer, "product-cards");
    let res = app
        .staff_post(
            &agent,
            &path,
            json!({ "sku": "DRESS-002", "client_msg_id": "card-1" }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let events = app.buyer_events(&buyer, 0).await;
    let cards = bodies_of(&events, "product_card");
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0]["card"]["sku"], "DRESS-002");
    assert_eq!(cards[0]["card"]["title"], "真丝连衣裙");
    assert_eq!(cards[0]["card"]["price_cents"], 39_900);
    assert_eq!(
        cards[0]["card"]["link"],
        "https://shop.test/item?sku=DRESS-002"
    );

    // A sku the shop does not have: 404 and nothing sent.
    let res = app
        .staff_post(&agent, &path, json!({ "sku": "NOPE-404" }))
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(error_code(&res.json().await.unwrap()), "product_not_found");
    assert_eq!(app.buyer_events(&buyer, 0).await.len(), events.len());

    // The buyer ordered the dress; the shop's orders bought it with the belt
    // three times, with the scarf once, with the sold-out hat once.
    let recommended = get_json(&app, &agent, &cards_path(&buyer, "recommendations")).await;
    let got = skus(&recommended);
    assert_eq!(got.first(), Some(&"BELT-001"), "{got:?}");
    assert!(got.contains(&"SCARF-001"), "{got:?}");
    assert!(!got.contains(&"HAT-001"), "sold out: {got:?}");
    assert!(!got.contains(&"DRESS-001"), "bought already: {got:?}");
    let catalogue = crate::shop_api::catalogue();
    assert!(
        got.iter().all(|s| catalogue.iter().any(|p| p.sku == *s)),
        "{got:?}"
    );
    assert_eq!(recommended[0]["title"], "真皮腰带");
}

#[tokio::test]
async fn the_shops_member_level_shows_in_the_profile_and_its_levels_make_welcome_rules() {
    let (app, _shop) = spawn_on_shop().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let gold = app.signed_in_buyer(GOLD_BUYER).await;
    let plain = app.signed_in_buyer(PLAIN_BUYER).await;
    app.hand_to_agent(&gold, &agent).await;
    app.hand_to_agent(&plain, &agent).await;

    let profile = get_json(&app, &agent, &cards_path(&gold, "portrait")).await;
    assert_eq!(profile["member_level"], "gold");
    assert_eq!(profile["orders"]["orders"], 1);
    assert_eq!(
        profile["interests"],
        json!(["女装"]),
        "from the shop's product of the order"
    );
    let tags = profile["tags"].as_array().unwrap();
    assert!(tags.contains(&json!("vip")), "{profile}");

    let profile = get_json(&app, &agent, &cards_path(&plain, "portrait")).await;
    assert_eq!(profile["member_level"], Value::Null);
    assert!(
        !profile["tags"].as_array().unwrap().contains(&json!("vip")),
        "{profile}"
    );

    let admin = app.staff("admin-a", Role::Admin).await;
    let list = get_json(&app, &admin, "/api/v1/admin/welcome-messages").await;
    assert_eq!(list["member_levels"], json!(LEVELS));
    let rule = |level: &str| format!("/api/v1/admin/welcome-messages/member_level:{level}");
    let body = json!({ "text": "尊贵的金卡会员，您好！", "lang": "zh" });
    let res = app
        .staff_send(reqwest::Method::PUT, &admin, &rule("gold"), body.clone())
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = app
        .staff_send(reqwest::Method::PUT, &admin, &rule("silver"), body)
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "unknown_member_level"
    );
}

async fn offer(app: &TestApp, agent: &StaffLogin, buyer: &Buyer, coupon: &str) -> i64 {
    let res = app
        .staff_post(
            agent,
            &cards_path(buyer, "coupon-cards"),
            json!({ "coupon_id": coupon }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json::<Value>().await.unwrap()["seq"].as_i64().unwrap()
}

async fn claim(app: &TestApp, buyer: &Buyer, seq: i64) -> reqwest::Response {
    app.buyer_post(buyer, "/coupon-claims", json!({ "seq": seq }))
        .await
}

async fn held(app: &TestApp, buyer: &Buyer) -> Value {
    let path = format!(
        "/api/v1/conversations/{}/coupon-claims",
        buyer.conversation_id
    );
    let res = app
        .client
        .get(app.url(&path))
        .bearer_auth(&buyer.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_shops_coupons_are_offered_and_claimed_once_and_the_last_one_goes_to_the_first() {
    let (app, shop) = spawn_on_shop().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let first = app.signed_in_buyer(GOLD_BUYER).await;
    let second = app.signed_in_buyer(PLAIN_BUYER).await;
    app.hand_to_agent(&first, &agent).await;
    app.hand_to_agent(&second, &agent).await;

    let coupons = get_json(&app, &agent, "/api/v1/staff/coupons").await;
    let ids: Vec<&str> = coupons
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["SHOP20", "LAST1"]);
    assert_eq!(coupons[0]["rule_zh"], "满199减20");
    assert_eq!(coupons[0]["offerable"], true);

    let seq = offer(&app, &agent, &first, "SHOP20").await;
    let events = app.buyer_events(&first, 0).await;
    let cards = bodies_of(&events, "coupon_card");
    assert_eq!(cards[0]["card"]["coupon_id"], "SHOP20");
    assert_eq!(held(&app, &first).await, json!({ "coupon_ids": [] }));
    let res = claim(&app, &first, seq).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    assert_eq!(res.json::<Value>().await.unwrap()["outcome"], "claimed");
    assert_eq!(
        held(&app, &first).await,
        json!({ "coupon_ids": ["SHOP20"] })
    );
    let res = claim(&app, &first, seq).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["outcome"],
        "already_claimed"
    );
    assert_eq!(
        shop.claims(),
        [(GOLD_BUYER.to_owned(), "SHOP20".to_owned())],
        "the shop gave one, to the signed-in account"
    );

    // One LAST1 left, offered to both: the first claim takes it, the second
    // is told it is gone (the shop answers 409 with no body).
    let one = offer(&app, &agent, &first, "LAST1").await;
    let two = offer(&app, &agent, &second, "LAST1").await;
    assert_eq!(claim(&app, &first, one).await.status(), 201);
    let res = claim(&app, &second, two).await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_code(&res.json().await.unwrap()), "coupon_sold_out");
    assert_eq!(held(&app, &second).await, json!({ "coupon_ids": [] }));
    let res = app
        .staff_post(
            &agent,
            &cards_path(&second, "coupon-cards"),
            json!({ "coupon_id": "NOPE" }),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(error_code(&res.json().await.unwrap()), "coupon_not_found");
}

#[tokio::test]
async fn a_shop_that_is_down_is_answered_unavailable_with_a_code_and_nothing_is_sent() {
    let (app, shop) = spawn_on_shop().await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let admin = app.staff("admin-a", Role::Admin).await;
    let buyer = app.signed_in_buyer(GOLD_BUYER).await;
    app.hand_to_agent(&buyer, &agent).await;
    let seq = offer(&app, &agent, &buyer, "SHOP20").await;
    let before = app.buyer_events(&buyer, 0).await.len();
    shop.go_down();

    let refused = [
        app.staff_post(
            &agent,
            &cards_path(&buyer, "product-cards"),
            json!({ "sku": "DRESS-001" }),
        )
        .await,
        app.staff_post(
            &agent,
            &cards_path(&buyer, "coupon-cards"),
            json!({ "coupon_id": "SHOP20" }),
        )
        .await,
        app.staff_get(&agent, "/api/v1/staff/products?q=").await,
        app.staff_get(&agent, "/api/v1/staff/coupons").await,
        app.staff_get(&agent, &cards_path(&buyer, "portrait")).await,
        app.staff_get(&agent, &cards_path(&buyer, "recommendations"))
            .await,
        app.staff_get(&admin, "/api/v1/admin/welcome-messages")
            .await,
        claim(&app, &buyer, seq).await,
    ];
    for res in refused {
        let url = res.url().path().to_owned();
        assert_eq!(res.status(), 503, "{url}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_code(&body), "unavailable", "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains(GOLD_BUYER) && !message.contains("shop-api"),
            "{message}"
        );
    }
    assert_eq!(
        app.buyer_events(&buyer, 0).await.len(),
        before,
        "nothing was sent"
    );
    assert!(shop.claims().is_empty());
}
