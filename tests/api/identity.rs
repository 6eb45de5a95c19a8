//! Buyers' shop accounts: only the shop vouches for them (a signed identity);
//! everyone else is anonymous and the bot's order tools ask them to sign in.

use crate::bot_support::{FixedKnowledge, all_text};
use crate::helpers::{TestApp, error_code, spawn_app, spawn_with, test_settings};
use serde_json::{Value, json};
use std::sync::Arc;
use xiaoer::domain::visitor::SignedIdentity;
use xiaoer::ports::{
    ChatMessage, ChatModel, EmbedKind, Embedder, GenerationParams, GenerationStream, ModelError,
};
use xiaoer::startup::{Adapters, Models};

/// No LLM: the order tools answer from the shop's data without one.
struct NoLlm;

#[async_trait::async_trait]
impl ChatModel for NoLlm {
    async fn generate(
        &self,
        _messages: Vec<ChatMessage>,
        _params: GenerationParams,
    ) -> Result<GenerationStream, ModelError> {
        Err(ModelError::Unavailable("no model in this test".into()))
    }
}

struct ZeroEmbedder;

#[async_trait::async_trait]
impl Embedder for ZeroEmbedder {
    fn dim(&self) -> usize {
        384
    }

    async fn embed(
        &self,
        texts: Vec<String>,
        _kind: EmbedKind,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        Ok(texts.iter().map(|_| vec![0.0; 384]).collect())
    }
}

/// The bot with the demo store, but no models: order questions never reach an LLM.
async fn spawn_order_bot() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.bot = true;
    let adapters = Adapters {
        models: Some(Models {
            llm: Arc::new(NoLlm),
            embedder: Arc::new(ZeroEmbedder),
        }),
        knowledge: Some(Arc::new(FixedKnowledge::default())),
        commerce: None,
    };
    spawn_with(dir, settings, adapters).await
}

async fn start(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/conversations"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn refused_with(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    error_code(&body).to_owned()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn signed_with(secret: &str, account: &str, expires_at: i64) -> Value {
    serde_json::to_value(SignedIdentity::sign(account, expires_at, secret.as_bytes())).unwrap()
}

/// ASVS 5.0 V8.2.2 (data-specific access, no IDOR): a bare account id proves
/// nothing, so it is refused and no conversation (let alone an order) is opened.
#[tokio::test]
async fn claiming_a_shop_account_without_the_shops_signature_is_refused() {
    let app = spawn_app().await;
    let res = start(&app, json!({ "shop_account_id": "demo_buyer_2" })).await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    assert!(body.contains("unsigned_account"), "{body}");
    for order_data in ["XE2026", "耳机", "保温杯", "顺丰"] {
        assert!(!body.contains(order_data), "{body}");
    }
    let staff = app
        .staff("sup", xiaoer::domain::staff::Role::Supervisor)
        .await;
    let open = app
        .staff_get(&staff, "/api/v1/staff/supervision/conversations")
        .await;
    let open: Vec<Value> = open.json().await.unwrap();
    assert!(open.is_empty(), "a refused start opened {open:?}");
}

/// ASVS 5.0 V9.1.1 (self-contained tokens are checked by their MAC before their
/// contents are used): a signature made without the shop's secret, or moved to
/// another account, is refused.
#[tokio::test]
async fn a_forged_or_transplanted_signature_is_refused() {
    let app = spawn_app().await;
    let expires = now_secs() + 600;
    let forged = signed_with(
        "guessed-secret-guessed-secret-guessed",
        "demo_buyer_2",
        expires,
    );
    let res = start(&app, json!({ "identity": forged })).await;
    assert_eq!(refused_with(res).await, "identity_signature_mismatch");

    let mut moved = app.signed_identity("demo_buyer_1");
    moved["account_id"] = json!("demo_buyer_2");
    let res = start(&app, json!({ "identity": moved })).await;
    assert_eq!(refused_with(res).await, "identity_signature_mismatch");

    let mut garbled = app.signed_identity("demo_buyer_1");
    garbled["signature"] = json!("not hex");
    let res = start(&app, json!({ "identity": garbled })).await;
    assert_eq!(refused_with(res).await, "invalid_identity");
}

/// ASVS 5.0 V9.2.1 (a token is accepted only within its validity time span).
#[tokio::test]
async fn an_expired_or_too_long_lived_identity_is_refused() {
    let app = spawn_app().await;
    let secret = xiaoer_secret(&app);
    let expired = signed_with(&secret, "demo_buyer_1", now_secs() - 1);
    let res = start(&app, json!({ "identity": expired })).await;
    assert_eq!(refused_with(res).await, "identity_expired");

    let forever = signed_with(&secret, "demo_buyer_1", now_secs() + 400 * 24 * 3600);
    let res = start(&app, json!({ "identity": forever })).await;
    assert_eq!(refused_with(res).await, "identity_too_long_lived");
}

fn xiaoer_secret(app: &TestApp) -> String {
    let secret = app.settings.identity_secret.as_ref().unwrap();
    secret.expose().clone()
}

#[tokio::test]
async fn a_server_without_an_identity_secret_refuses_signed_identities() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.identity_secret = None;
    let app = spawn_with(dir, settings, Adapters::default()).await;
    let identity = signed_with(
        crate::helpers::IDENTITY_SECRET,
        "demo_buyer_1",
        now_secs() + 600,
    );
    let res = start(&app, json!({ "identity": identity })).await;
    assert_eq!(refused_with(res).await, "identity_not_configured");
    // Anonymous visitors still chat.
    assert_eq!(start(&app, json!({})).await.status(), 201);
}

/// ASVS 5.0 V8.2.2: the order tool shows the signed-in buyer their own order.
#[tokio::test]
async fn a_signed_in_buyer_gets_their_own_order_from_the_bots_order_tool() {
    let app = spawn_order_bot().await;
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "我的快递到哪了？订单号XE20261101001").await;
    let answer = all_text(&app.bot_replies(&buyer, seq).await);
    assert!(
        answer.contains("顺丰速运") && answer.contains("轻薄羽绒服"),
        "{answer}"
    );
}

/// ASVS 5.0 V8.2.2: an anonymous buyer gets no order, theirs or anyone's, only
/// the request to sign in, in their language.
#[tokio::test]
async fn an_anonymous_buyer_asking_about_an_order_is_asked_to_sign_in() {
    let app = spawn_order_bot().await;
    let res = start(&app, json!({ "nickname": "路人" })).await;
    let body: Value = res.json().await.unwrap();
    let buyer = crate::bot_support::Shopper {
        conversation_id: body["conversation"]["id"].as_str().unwrap().into(),
        token: body["visitor_token"].as_str().unwrap().into(),
    };
    for (text, sign_in) in [
        ("我的快递到哪了？订单号XE20261101004", "登录"),
        ("Where is my parcel?", "sign in"),
        ("What is the status of order XE20261101001?", "sign in"),
    ] {
        let seq = app.say(&buyer, text).await;
        let answer = all_text(&app.bot_replies(&buyer, seq).await);
        assert!(answer.contains(sign_in), "{text}: {answer}");
        for order_data in [
            "顺丰",
            "上海",
            "耳机",
            "保温杯",
            "羽绒服",
            "SF2026",
            "in transit",
        ] {
            assert!(
                !answer.contains(order_data),
                "leaked {order_data}: {answer}"
            );
        }
    }
}

async fn started(app: &TestApp, body: Value) -> Value {
    let res = start(app, body).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn account_of(app: &TestApp, visitor_id: &Value) -> Option<String> {
    let id = visitor_id.as_str().unwrap();
    app.state
        .visitors
        .profile(id)
        .await
        .unwrap()
        .shop_account_id
}

/// ASVS 5.0 V8.2.2: a visitor token bound to one account never lends it to
/// another buyer on the same device: signed in as someone else, or no longer
/// vouched for, the buyer starts as a new visitor with a new token.
#[tokio::test]
async fn a_visitor_token_reused_with_another_account_does_not_inherit_the_old_one() {
    let app = spawn_app().await;
    let first = started(
        &app,
        json!({ "identity": app.signed_identity("demo_buyer_1") }),
    )
    .await;
    let token = first["visitor_token"].clone();
    assert_eq!(
        account_of(&app, &first["visitor_id"]).await.as_deref(),
        Some("demo_buyer_1")
    );

    // The same buyer again: same visitor, no new token.
    let again = started(
        &app,
        json!({ "visitor_token": token, "identity": app.signed_identity("demo_buyer_1") }),
    )
    .await;
    assert_eq!(again["visitor_id"], first["visitor_id"]);
    assert!(again.get("visitor_token").is_none());

    // Another account on the same token: a new visitor, bound to that account.
    let other = started(
        &app,
        json!({ "visitor_token": token, "identity": app.signed_identity("demo_buyer_2") }),
    )
    .await;
    assert_ne!(other["visitor_id"], first["visitor_id"]);
    assert!(other["visitor_token"].is_string());
    assert_eq!(
        account_of(&app, &other["visitor_id"]).await.as_deref(),
        Some("demo_buyer_2")
    );
    assert_eq!(
        account_of(&app, &first["visitor_id"]).await.as_deref(),
        Some("demo_buyer_1")
    );
    // The new token does not open the first buyer's chat.
    let path = format!(
        "/api/v1/conversations/{}",
        first["conversation"]["id"].as_str().unwrap()
    );
    let res = app
        .client
        .get(app.url(&path))
        .bearer_auth(other["visitor_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // No identity any more (signed out of the shop): an anonymous visitor.
    let anonymous = started(&app, json!({ "visitor_token": token })).await;
    assert_ne!(anonymous["visitor_id"], first["visitor_id"]);
    assert_eq!(account_of(&app, &anonymous["visitor_id"]).await, None);
}

#[tokio::test]
async fn an_anonymous_visitor_who_signs_in_keeps_their_chats() {
    let app = spawn_app().await;
    let first = started(&app, json!({})).await;
    let token = first["visitor_token"].clone();
    let signed_in = started(
        &app,
        json!({ "visitor_token": token, "identity": app.signed_identity("demo_buyer_1") }),
    )
    .await;
    assert_eq!(signed_in["visitor_id"], first["visitor_id"]);
    assert_eq!(
        account_of(&app, &first["visitor_id"]).await.as_deref(),
        Some("demo_buyer_1")
    );
}

#[tokio::test]
async fn the_demo_route_signs_only_the_demo_stores_own_buyers() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/v1/demo/identity?account=demo_buyer_1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let identity: Value = res.json().await.unwrap();
    let body = started(&app, json!({ "identity": identity })).await;
    assert_eq!(
        account_of(&app, &body["visitor_id"]).await.as_deref(),
        Some("demo_buyer_1")
    );

    let res = app
        .client
        .get(app.url("/api/v1/demo/identity?account=tb_123"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "not_a_demo_account");
}
