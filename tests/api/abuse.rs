//! Floods as a script would send them: over the chat socket, and one client
//! hammering the server while another buyer is served. Each test names the
//! OWASP ASVS 5.0 requirement it covers.

use crate::hardening::{assert_rate_limited, spawn_limited};
use crate::helpers::{error_code, next_of_type, ws_send};
use serde_json::json;
use std::time::{Duration, Instant};

/// ASVS 5.0 2.4.1: messages over the socket count against the same per-visitor
/// limit as over REST, and typing frames against their own.
#[tokio::test]
async fn a_visitor_flooding_the_socket_with_messages_or_typing_gets_rate_limited_frames() {
    let app = spawn_limited(|r| {
        r.messages_per_visitor = 2;
        r.typing_per_visitor = 3;
    })
    .await;
    let buyer = app.start_conversation().await;
    let mut ws = app.buyer_socket(&buyer, 0).await;
    for i in 0..2 {
        let id = format!("w-{i}");
        let text = json!({ "type": "text", "text": "在吗" });
        ws_send(
            &mut ws,
            json!({ "type": "send", "client_msg_id": id, "body": text }),
        )
        .await;
        assert_eq!(next_of_type(&mut ws, "ack").await["client_msg_id"], id);
    }
    let text = json!({ "type": "text", "text": "在吗" });
    ws_send(
        &mut ws,
        json!({ "type": "send", "client_msg_id": "w-2", "body": text }),
    )
    .await;
    let refused = next_of_type(&mut ws, "error").await;
    assert_eq!(
        (refused["code"].as_str(), refused["status"].as_u64()),
        (Some("rate_limited"), Some(429))
    );
    assert_eq!(refused["client_msg_id"], "w-2");
    // REST shares the budget.
    assert_rate_limited(app.buyer_send(&buyer, "r-0", "在吗").await).await;
    for _ in 0..3 {
        ws_send(&mut ws, json!({ "type": "typing" })).await;
    }
    ws_send(&mut ws, json!({ "type": "typing" })).await;
    let refused = next_of_type(&mut ws, "error").await;
    assert_eq!(refused["code"], "rate_limited");
    assert!(refused["client_msg_id"].is_null());
}

/// One client hammering `POST /api/v1/conversations` from one address for
/// `for_how_long`, on its own thread and runtime (as another process would):
/// (requests sent, of which 429).
fn hammer(
    client: reqwest::Client,
    url: String,
    for_how_long: Duration,
) -> std::thread::JoinHandle<(u64, u64)> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let until = Instant::now() + for_how_long;
            let workers = (0..8).map(|_| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    let (mut sent, mut limited) = (0u64, 0u64);
                    while Instant::now() < until {
                        let res = client
                            .post(&url)
                            .header("x-forwarded-for", "203.0.113.66")
                            .json(&json!({ "nickname": "刷单" }))
                            .send()
                            .await
                            .unwrap();
                        sent += 1;
                        limited += u64::from(res.status() == 429);
                    }
                    (sent, limited)
                })
            });
            let mut totals = (0, 0);
            for worker in workers.collect::<Vec<_>>() {
                let (sent, limited) = worker.await.unwrap();
                totals = (totals.0 + sent, totals.1 + limited);
            }
            totals
        })
    })
}

/// ASVS 5.0 2.4.1 and 15.2.2 (availability under load): while one address floods
/// new conversations as fast as it can (loopback, ~2 s), it gets 429s and a
/// buyer at another address is still served, every request, none starved (its
/// latencies are printed; a timed target belongs in a benchmark, not in a test
/// that runs beside the whole suite on two cores).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_flooding_new_conversations_is_limited_while_another_buyer_is_still_served() {
    let app = spawn_limited(|r| r.conversations_per_ip = 10).await;
    let buyer = app.start_conversation().await;
    let path = format!("/api/v1/conversations/{}", buyer.conversation_id);
    let flood = hammer(
        xiaoer::net::client(),
        app.url("/api/v1/conversations"),
        Duration::from_secs(2),
    );
    let served = async {
        let mut latencies = Vec::new();
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            let started = Instant::now();
            let res = app
                .client
                .get(app.url(&path))
                .bearer_auth(&buyer.token)
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                200,
                "{}",
                error_code(&res.json().await.unwrap())
            );
            latencies.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        latencies
    };
    let mut latencies = served.await;
    let (sent, limited) = flood.join().unwrap();
    latencies.sort();
    let pct =
        |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).min(latencies.len()) - 1];
    let (p50, p99) = (pct(0.50), pct(0.99));
    println!(
        "flood: {sent} requests in 2 s ({} /s), {limited} answered 429; other buyer: {} requests, p50 {p50:?}, p99 {p99:?}",
        sent / 2,
        latencies.len()
    );
    assert!(
        limited > 0 && sent - limited <= 12,
        "{sent} sent, {limited} limited"
    );
    assert!(latencies.len() >= 10, "{} requests served", latencies.len());
    assert!(p99 <= Duration::from_secs(1), "starved: p99 {p99:?}");
}

/// ASVS 5.0 2.4.1 (anti-automation) for the model: once a conversation has
/// spent its hourly token budget the bot stops calling the model and answers
/// from curated entries; another conversation still gets generated answers.
#[tokio::test]
async fn asvs_2_4_1_a_conversation_past_its_llm_token_budget_gets_curated_answers_without_the_model()
 {
    use crate::bot_scripted::{INVOICE_A, INVOICE_Q, ZeroEmbedder};
    use crate::bot_support::{FixedKnowledge, shop_entries};
    use std::sync::Arc;
    use xiaoer::llm::scripted::{Scripted, ScriptedChatModel};
    use xiaoer::startup::{Adapters, Models};

    let model = Arc::new(ScriptedChatModel::always(Scripted::text(INVOICE_A)));
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(dir.path()).await;
    settings.bot = true;
    settings.answer_budget = Default::default();
    settings.llm_token_budget = xiaoer::domain::llm_budget::TokenBudget {
        per_hour: 20,
        per_day: 1000,
    };
    let adapters = Adapters {
        models: Some(Models {
            llm: model.clone(),
            embedder: Arc::new(ZeroEmbedder),
        }),
        knowledge: Some(Arc::new(FixedKnowledge {
            entries: shop_entries(),
            ..Default::default()
        })),
        commerce: None,
    };
    let app = crate::helpers::spawn_with(dir, settings, adapters).await;

    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, INVOICE_Q).await;
    let first = app.bot_replies(&buyer, seq).await.pop().unwrap();
    assert_eq!(first["body"]["source"], "generated", "{first}");
    assert_eq!(model.prompts().len(), 1);

    let seq = app.say(&buyer, INVOICE_Q).await;
    let second = app.bot_replies(&buyer, seq).await.pop().unwrap();
    assert_eq!(model.prompts().len(), 1, "the model was not asked again");
    assert_eq!(second["body"]["source"], "curated", "{second}");
    assert_eq!(second["body"]["citations"][0]["entry_id"], "faq-invoice");

    let other = app.shopper("demo_buyer_2").await;
    let seq = app.say(&other, INVOICE_Q).await;
    let answer = app.bot_replies(&other, seq).await.pop().unwrap();
    assert_eq!(answer["body"]["source"], "generated", "{answer}");
}

/// ASVS 5.0 2.4.1 (anti-automation) by hand: an agent blocks a chat's visitor
/// (reason, expiry) and their requests answer 403 `visitor_blocked`; an admin
/// blocks a network and new conversations from it answer 403 `ip_blocked`
/// until the block is lifted; staff routes stay reachable; both are audited.
#[tokio::test]
async fn asvs_2_4_1_an_agent_blocks_a_visitor_and_an_admin_blocks_a_network_until_lifted() {
    let app = crate::helpers::spawn_app().await;
    let agent = app
        .staff("agent-block", xiaoer::domain::staff::Role::Agent)
        .await;
    let admin = app
        .staff("admin-block", xiaoer::domain::staff::Role::Admin)
        .await;
    let rude = app.start_conversation().await;
    let polite = app.start_conversation().await;
    app.hand_to_agent(&rude, &agent).await;

    let path = format!("/api/v1/staff/conversations/{}/block", rude.conversation_id);
    let res = app
        .staff_post(&agent, &path, json!({ "reason": " ", "hours": 2 }))
        .await;
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "invalid_block_reason"
    );
    let res = app
        .staff_post(
            &agent,
            &path,
            json!({ "reason": "反复辱骂客服", "hours": 2 }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let block: serde_json::Value = res.json().await.unwrap();
    assert_eq!(block["kind"], "visitor");
    assert!(block["expires_at"].as_i64().is_some());

    let message = json!({ "client_msg_id": "b-1", "body": { "type": "text", "text": "在吗" } });
    let res = app.buyer_post(&rude, "/messages", message.clone()).await;
    assert_eq!(res.status(), 403);
    assert_eq!(error_code(&res.json().await.unwrap()), "visitor_blocked");
    assert_eq!(
        app.buyer_post(&polite, "/messages", message).await.status(),
        201
    );

    // Agents cannot block networks; admins can, and lift them.
    let net = json!({ "network": "127.0.0.0/8", "reason": "scripted conversations" });
    let res = app
        .staff_post(&agent, "/api/v1/admin/blocks", net.clone())
        .await;
    assert_eq!(res.status(), 403);
    let bad = json!({ "network": "127.0.0", "reason": "x" });
    let res = app.staff_post(&admin, "/api/v1/admin/blocks", bad).await;
    assert_eq!(error_code(&res.json().await.unwrap()), "invalid_network");
    let res = app.staff_post(&admin, "/api/v1/admin/blocks", net).await;
    assert_eq!(res.status(), 201);
    let network_block: serde_json::Value = res.json().await.unwrap();
    let start = || {
        app.client
            .post(app.url("/api/v1/conversations"))
            .json(&json!({ "channel": "web" }))
            .send()
    };
    let res = start().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(error_code(&res.json().await.unwrap()), "ip_blocked");
    let list: serde_json::Value = app
        .staff_get(&admin, "/api/v1/admin/blocks")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

    let lift = format!(
        "/api/v1/admin/blocks/{}",
        network_block["id"].as_str().unwrap()
    );
    let res = app
        .staff_send(reqwest::Method::DELETE, &admin, &lift, json!({}))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(start().await.unwrap().status(), 201);

    let log: serde_json::Value = app
        .staff_get(&admin, "/api/v1/admin/audit?action=blocked")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["records"].as_array().unwrap().len(), 2, "{log}");
}

/// ASVS 5.0 2.4.1 (anti-automation) on content: a banned word is refused
/// (400 `banned_words`); the same text again and again mutes the visitor
/// (403 `visitor_muted`, then `visitor_blocked`), over REST and the socket,
/// and the mute is a block admins see with the flood as its reason.
#[tokio::test]
async fn asvs_2_4_1_banned_words_are_refused_and_a_repeated_text_mutes_and_flags_the_visitor() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(dir.path()).await;
    settings.flood = xiaoer::domain::flood::FloodPolicy {
        same_text: 3,
        burst: 0,
        window_secs: 60,
        mute_minutes: 10,
    };
    settings.banned_words = vec!["代开发票".into()];
    let app = crate::helpers::spawn_with(dir, settings, xiaoer::startup::Adapters::default()).await;
    let admin = app
        .staff("admin-flood", xiaoer::domain::staff::Role::Admin)
        .await;
    let buyer = app.start_conversation().await;
    let other = app.start_conversation().await;

    let res = app.buyer_send(&buyer, "f-0", "可以 代开 发票吗").await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&res.json().await.unwrap()), "banned_words");

    assert_eq!(
        app.buyer_send(&buyer, "f-1", "加我微信 abc").await.status(),
        201
    );
    let mut ws = app.buyer_socket(&buyer, 0).await;
    let text = json!({ "type": "text", "text": "加我微信abc" });
    ws_send(
        &mut ws,
        json!({ "type": "send", "client_msg_id": "f-2", "body": text }),
    )
    .await;
    assert_eq!(next_of_type(&mut ws, "ack").await["client_msg_id"], "f-2");
    ws_send(
        &mut ws,
        json!({ "type": "send", "client_msg_id": "f-3", "body": text }),
    )
    .await;
    let muted = next_of_type(&mut ws, "error").await;
    assert_eq!(muted["code"], "visitor_muted", "{muted}");

    let res = app.buyer_send(&buyer, "f-4", "还在吗").await;
    assert_eq!(res.status(), 403);
    assert_eq!(error_code(&res.json().await.unwrap()), "visitor_blocked");
    assert_eq!(
        app.buyer_send(&other, "o-1", "加我微信 abc").await.status(),
        201
    );

    let blocks: serde_json::Value = app
        .staff_get(&admin, "/api/v1/admin/blocks")
        .await
        .json()
        .await
        .unwrap();
    let block = &blocks[0];
    assert_eq!(block["kind"], "visitor", "{blocks}");
    assert!(
        block["reason"].as_str().unwrap().starts_with("flood"),
        "{blocks}"
    );
    assert!(block["expires_at"].as_i64().is_some());
    assert!(
        !blocks.to_string().contains("微信"),
        "no message text is kept"
    );
}
