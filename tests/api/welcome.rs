//! Welcome messages by rule: the page the chat was opened on (longest path
//! prefix first) and the signed-in buyer's member level, after out of hours
//! and campaigns, before returning and new visitors; a rule without the
//! buyer's language falls through; bad rules are refused and store nothing.

use crate::bot_scripted::{replying, spawn_scripted};
use crate::bot_support::text_of;
use crate::helpers::{StaffLogin, TestApp, error_code, today_in_beijing};
use reqwest::Method;
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;
use xiaoer::services::bot::AnswerBudget;

const BUILT_IN_NEW: &str = "您好，我是店小二智能客服";

async fn spawn() -> (TestApp, StaffLogin) {
    let app = spawn_scripted(replying("好的"), AnswerBudget::default()).await;
    let admin = app.staff("admin-a", Role::Admin).await;
    (app, admin)
}

/// The scenario as a path segment: its '/' encoded.
fn welcome_path(scenario: &str) -> String {
    format!(
        "/api/v1/admin/welcome-messages/{}",
        scenario.replace('/', "%2F")
    )
}

async fn put_welcome(
    app: &TestApp,
    admin: &StaffLogin,
    scenario: &str,
    lang: &str,
    text: &str,
) -> (u16, Value) {
    let res = app
        .staff_send(
            Method::PUT,
            admin,
            &welcome_path(scenario),
            json!({ "text": text, "lang": lang }),
        )
        .await;
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn set(app: &TestApp, admin: &StaffLogin, scenario: &str, lang: &str, text: &str) {
    let (status, body) = put_welcome(app, admin, scenario, lang, text).await;
    assert_eq!(status, 200, "{scenario}: {body}");
    assert_eq!(body["scenario"], scenario);
}

/// The first thing the bot says in a chat started with `start` (plus `lang`).
async fn greeting(app: &TestApp, mut start: Value) -> String {
    if start.get("lang").is_none() {
        start["lang"] = json!("zh");
    }
    let res = app
        .client
        .post(app.url("/api/v1/conversations"))
        .json(&start)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{start}");
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

fn on(page: &str) -> Value {
    json!({ "entry_page": page })
}

#[tokio::test]
async fn a_buyer_opening_the_chat_on_a_product_page_gets_the_entry_page_welcome() {
    let (app, admin) = spawn().await;
    set(
        &app,
        &admin,
        "entry_page:/products/",
        "zh",
        "欢迎来看商品！",
    )
    .await;
    set(
        &app,
        &admin,
        "entry_page:/products/shoes/",
        "zh",
        "鞋子专区，尺码可以问我",
    )
    .await;
    set(&app, &admin, "entry_page:/活动/", "zh", "活动页的朋友您好").await;

    let shop = "https://shop.example";
    assert_eq!(
        greeting(&app, on(&format!("{shop}/products/42?utm_source=x"))).await,
        "欢迎来看商品！"
    );
    assert_eq!(
        greeting(&app, on(&format!("{shop}/products/shoes/7"))).await,
        "鞋子专区，尺码可以问我",
        "the longest matching prefix wins"
    );
    assert_eq!(
        greeting(&app, on(&format!("{shop}/%E6%B4%BB%E5%8A%A8/double11"))).await,
        "活动页的朋友您好",
        "the page's path is compared decoded"
    );
    assert!(
        greeting(&app, on(&format!("{shop}/about")))
            .await
            .starts_with(BUILT_IN_NEW)
    );
    assert!(greeting(&app, json!({})).await.starts_with(BUILT_IN_NEW));

    let res = app
        .client
        .post(app.url("/api/v1/conversations"))
        .json(&json!({ "entry_page": "/products/1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "an entry page is a page's full URL");
    assert_eq!(error_code(&res.json().await.unwrap()), "invalid_url");

    // Deleting the rule: the next longest prefix answers again.
    let gone = app
        .staff_send(
            Method::DELETE,
            &admin,
            &format!("{}?lang=zh", welcome_path("entry_page:/products/shoes/")),
            json!({}),
        )
        .await;
    assert_eq!(gone.status(), 204);
    assert_eq!(
        greeting(&app, on(&format!("{shop}/products/shoes/7"))).await,
        "欢迎来看商品！"
    );
}

#[tokio::test]
async fn a_signed_in_gold_buyer_gets_the_member_level_welcome() {
    let (app, admin) = spawn().await;
    set(
        &app,
        &admin,
        "member_level:gold",
        "zh",
        "尊贵的金卡会员，您好！",
    )
    .await;
    let list: Value = app
        .staff_get(&admin, "/api/v1/admin/welcome-messages")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["member_levels"],
        json!(["regular", "silver", "gold", "platinum", "diamond"]),
        "the demo shop's levels, for the console's picker"
    );

    let gold = json!({ "identity": app.signed_identity("demo_buyer_1") });
    assert_eq!(greeting(&app, gold.clone()).await, "尊贵的金卡会员，您好！");
    let regular = json!({ "identity": app.signed_identity("demo_buyer_2") });
    assert!(greeting(&app, regular).await.starts_with(BUILT_IN_NEW));
    assert!(
        greeting(&app, json!({})).await.starts_with(BUILT_IN_NEW),
        "an anonymous buyer has no level"
    );

    // A page rule comes before the member level.
    set(
        &app,
        &admin,
        "entry_page:/products/",
        "zh",
        "欢迎来看商品！",
    )
    .await;
    let mut on_product = gold.clone();
    on_product["entry_page"] = json!("https://shop.example/products/1");
    assert_eq!(greeting(&app, on_product).await, "欢迎来看商品！");
    let mut elsewhere = gold;
    elsewhere["entry_page"] = json!("https://shop.example/help");
    assert_eq!(greeting(&app, elsewhere).await, "尊贵的金卡会员，您好！");
}

#[tokio::test]
async fn campaign_and_out_of_hours_come_before_entry_page_and_member_level() {
    let (app, admin) = spawn().await;
    set(&app, &admin, "campaign:double11", "zh", "双11满300减50！").await;
    set(
        &app,
        &admin,
        "entry_page:/products/",
        "zh",
        "欢迎来看商品！",
    )
    .await;
    set(
        &app,
        &admin,
        "member_level:gold",
        "zh",
        "尊贵的金卡会员，您好！",
    )
    .await;
    let everything = json!({
        "identity": app.signed_identity("demo_buyer_1"),
        "entry_page": "https://shop.example/products/1",
        "campaign": "double11",
    });
    assert_eq!(greeting(&app, everything.clone()).await, "双11满300减50！");

    let holiday = json!({ "shop_name": "小二的店", "service_hours": "00:00-24:00", "utc_offset_minutes": 480, "holidays": [today_in_beijing()] });
    let res = app
        .staff_send(Method::PUT, &admin, "/api/v1/admin/shop-settings", holiday)
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        greeting(&app, everything).await.contains("非人工服务时间"),
        "out of hours comes first"
    );
}

#[tokio::test]
async fn a_rule_without_the_buyers_language_falls_through_to_the_next() {
    let (app, admin) = spawn().await;
    set(&app, &admin, "campaign:double11", "zh", "双11满300减50！").await;
    set(
        &app,
        &admin,
        "entry_page:/products/",
        "zh",
        "欢迎来看商品！",
    )
    .await;
    set(
        &app,
        &admin,
        "member_level:gold",
        "en",
        "Hello, gold member!",
    )
    .await;
    set(&app, &admin, "new_visitor", "en", "Welcome to our shop!").await;
    let start = |account: Option<&str>| {
        let mut body = json!({
            "lang": "en",
            "campaign": "double11",
            "entry_page": "https://shop.example/products/1",
        });
        if let Some(account) = account {
            body["identity"] = app.signed_identity(account);
        }
        body
    };
    assert_eq!(
        greeting(&app, start(Some("demo_buyer_1"))).await,
        "Hello, gold member!",
        "campaign and page speak Chinese only: the level's English answers"
    );
    assert_eq!(greeting(&app, start(None)).await, "Welcome to our shop!");
    let mut zh = start(Some("demo_buyer_1"));
    zh["lang"] = json!("zh");
    assert_eq!(greeting(&app, zh).await, "双11满300减50！");
}

#[tokio::test]
async fn bad_welcome_rules_are_refused_with_a_code_and_store_nothing() {
    let (app, admin) = spawn().await;
    let long = format!("entry_page:/{}", "a".repeat(200));
    for (scenario, code) in [
        ("entry_page:products", "invalid_entry_page_prefix"),
        ("entry_page:/a b", "invalid_entry_page_prefix"),
        (long.as_str(), "invalid_entry_page_prefix"),
        ("member_level:金卡", "invalid_member_level"),
        ("member_level:bronze", "unknown_member_level"),
        ("vip_buyer", "invalid_input"),
        ("campaign:bad code!", "invalid_input"),
    ] {
        let (status, body) = put_welcome(&app, &admin, scenario, "zh", "您好").await;
        assert_eq!(status, 400, "{scenario}: {body}");
        assert_eq!(error_code(&body), code, "{scenario}");
    }
    let (status, body) = put_welcome(&app, &admin, "entry_page:/ok/", "zh", "   ").await;
    assert_eq!((status, error_code(&body)), (400, "invalid_input"));
    let agent = app.staff("agent-b", Role::Agent).await;
    let (status, _) = put_welcome(&app, &agent, "entry_page:/ok/", "zh", "您好").await;
    assert_eq!(status, 403);
    let list: Value = app
        .staff_get(&admin, "/api/v1/admin/welcome-messages")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["messages"], json!([]), "nothing stored");
}

#[tokio::test]
async fn welcome_rules_stop_at_fifty_and_the_limit_frees_when_one_goes() {
    let (app, admin) = spawn().await;
    for i in 0..48 {
        set(&app, &admin, &format!("entry_page:/p{i}/"), "zh", "您好").await;
    }
    set(&app, &admin, "campaign:double11", "zh", "双11").await;
    set(&app, &admin, "member_level:gold", "zh", "金卡").await;
    let (status, body) = put_welcome(&app, &admin, "member_level:silver", "zh", "银卡").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "too_many_welcome_rules");
    // An existing rule still takes a new text or its other language; the
    // base scenarios are not rules.
    set(&app, &admin, "member_level:gold", "en", "Gold").await;
    set(&app, &admin, "entry_page:/p0/", "zh", "改过了").await;
    set(&app, &admin, "new_visitor", "zh", "欢迎").await;
    let gone = app
        .staff_send(
            Method::DELETE,
            &admin,
            &format!("{}?lang=zh", welcome_path("entry_page:/p1/")),
            json!({}),
        )
        .await;
    assert_eq!(gone.status(), 204);
    set(&app, &admin, "member_level:silver", "zh", "银卡").await;
}
