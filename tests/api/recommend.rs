//! Recommendations for the chat's buyer: products other visitors viewed with
//! the one this buyer is looking at, learned from the shop's real visits.

use crate::helpers::{TestApp, spawn_with, test_settings};
use crate::visitors::{SHOP, accept, again, arrive, browser, buyer_of};
use serde_json::{Value, json};
use std::sync::Arc;
use xiaoer::domain::catalogue::Product;
use xiaoer::domain::staff::Role;
use xiaoer::startup::Adapters;
use xiaoer::storage::demo_catalogue;
use xiaoer::storage::demo_store::DemoStore;

/// A server whose demo store the test opens itself, so the recommendations
/// learn only from this test's visits (not from the generated demo logs).
async fn spawn_without_demo_logs() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(dir.path()).await;
    let store = DemoStore::open(dir.path(), 0).await.unwrap();
    let adapters = Adapters {
        commerce: Some(Arc::new(store)),
        ..Default::default()
    };
    spawn_with(dir, settings, adapters).await
}

fn page(sku: &str) -> String {
    format!("{SHOP}/item?sku={sku}")
}

/// A visit from browser `n` that views these products in turn.
async fn views(app: &TestApp, n: u32, skus: &[&str]) {
    let (_, key) = arrive(app, &browser(n), &page(skus[0]), None).await;
    for sku in &skus[1..] {
        again(app, &browser(n), &key, &page(sku)).await;
    }
}

/// Products of the demo catalogue: `count` in stock from different categories,
/// and one sold out.
fn products() -> (Vec<Product>, Product) {
    let all = demo_catalogue::generate();
    let mut picked: Vec<Product> = Vec::new();
    for p in all.iter().filter(|p| p.stock > 0) {
        if !picked.iter().any(|q| q.category == p.category) {
            picked.push(p.clone());
        }
    }
    let sold_out = all.iter().find(|p| p.stock == 0).unwrap().clone();
    (picked, sold_out)
}

#[tokio::test]
async fn an_agent_sees_products_viewed_with_the_buyers_page_best_first_and_none_sold_out() {
    let app = spawn_without_demo_logs().await;
    let (picked, sold_out) = products();
    let (x, y, z) = (&picked[0].sku, &picked[1].sku, &picked[2].sku);
    // Three visitors viewed X then Y; two X then the sold-out product; one X then Z.
    for n in 0..3 {
        views(&app, 100 + n, &[x, y]).await;
    }
    for n in 0..2 {
        views(&app, 200 + n, &[x, &sold_out.sku]).await;
    }
    views(&app, 300, &[x, z]).await;

    // The buyer is on X's page; an agent invites them and they accept.
    let agent = app.online_agent("agent-reco", 3).await;
    let (visit, key) = arrive(&app, &browser(1), &page(x), None).await;
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/visits/{visit}/invite"),
            json!({ "greeting": "您好，看看搭配吗？" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let offer = again(&app, &browser(1), &key, &page(x)).await;
    let res = accept(&app, offer["invitation"]["id"].as_str().unwrap(), &key).await;
    assert_eq!(res.status(), 201);
    let buyer = buyer_of(&res.json().await.unwrap());

    let path = format!(
        "/api/v1/staff/conversations/{}/recommendations",
        buyer.conversation_id
    );
    let res = app.staff_get(&agent, &path).await;
    assert_eq!(res.status(), 200);
    let got: Vec<Value> = res.json().await.unwrap();
    let skus: Vec<&str> = got.iter().map(|p| p["sku"].as_str().unwrap()).collect();
    assert_eq!(
        skus,
        [y.as_str(), z.as_str()],
        "Y was viewed with X more often than Z; the sold-out one is left out"
    );
    assert_eq!(got[0]["title"], picked[1].title.as_str());
    assert_eq!(got[0]["price_cents"], picked[1].price_cents);

    // One click sends the recommended product as a card.
    let res = app
        .staff_post(
            &agent,
            &format!(
                "/api/v1/staff/conversations/{}/product-cards",
                buyer.conversation_id
            ),
            json!({ "sku": y }),
        )
        .await;
    assert_eq!(res.status(), 201);

    // Another agent may not see this chat, nor its buyer's recommendations.
    let other = app.staff("agent-other", Role::Agent).await;
    assert_eq!(app.staff_get(&other, &path).await.status(), 403);
    let bad = app
        .staff_get(
            &agent,
            "/api/v1/staff/conversations/not-a-uuid/recommendations",
        )
        .await;
    assert!(bad.status().is_client_error(), "{}", bad.status());
}

#[tokio::test]
async fn a_buyer_with_nothing_viewed_gets_no_recommendations_rather_than_an_error() {
    let app = spawn_without_demo_logs().await;
    let supervisor = app.staff("sup-empty", Role::Supervisor).await;
    let buyer = app.start_conversation().await;
    let res = app
        .staff_get(
            &supervisor,
            &format!(
                "/api/v1/staff/conversations/{}/recommendations",
                buyer.conversation_id
            ),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));
}

/// A buyer on a product page asks the bot for something similar: the bot
/// answers with recommended products as cards (in stock, not the one they are
/// looking at), learned from the demo store's logs.
#[tokio::test]
async fn the_bot_offers_recommended_product_cards_when_a_buyer_asks_for_something_similar() {
    use crate::bot_scripted::{replying, spawn_scripted};
    let app = spawn_scripted(replying("摘要"), Default::default()).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let context = json!({ "current_page": page("EB-003"), "pages_viewed": [], "cart": [] });
    let res = app
        .client
        .put(app.url("/api/v1/visitor/context"))
        .bearer_auth(&buyer.token)
        .json(&context)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let seq = app.say(&buyer, "这款有没有类似的？推荐一下").await;
    let started = std::time::Instant::now();
    let cards = loop {
        let events = app.shopper_events(&buyer).await;
        let cards: Vec<Value> = events
            .iter()
            .filter(|e| e["seq"].as_i64() > Some(seq) && e["body"]["type"] == "product_card")
            .cloned()
            .collect();
        if cards.len() == 3 {
            let said = events
                .iter()
                .filter(|e| e["seq"].as_i64() > Some(seq) && e["sender"]["kind"] == "bot")
                .map(|e| e["body"]["text"].as_str().unwrap_or_default().to_owned())
                .collect::<String>();
            assert!(said.contains("为您推荐"), "{said}");
            break cards;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no recommended cards: {events:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    for card in &cards {
        assert_eq!(card["sender"]["kind"], "bot");
        assert_ne!(card["body"]["card"]["sku"], "EB-003", "{card}");
        assert!(
            card["body"]["card"]["stock"].as_i64().unwrap() > 0,
            "{card}"
        );
    }
}
