//! The bot through the real API with the real models (Qwen2.5 1.5B, e5), in
//! Chinese and English: hand-off triggers, refund intake and its packet, order
//! tools on the demo store, ownership, unknown questions, silence while an agent
//! owns the chat, curated and streamed grounded answers, ratings, welcome
//! messages and FAQ drafts.

use crate::bot_support::frame_within;
use crate::bot_support::{FixedKnowledge, all_text, shop_entries, spawn_bot_app, text_of};
use crate::helpers::error_code;
use serde_json::{Value, json};
use std::sync::Arc;
use xiaoer::domain::staff::Role;

/// A new signed-in buyer asks the demo shop's bot `question`: its last reply,
/// after checking that the bot kept the chat (no hand-off).
async fn asked_the_bot(app: &crate::helpers::TestApp, question: &str) -> Value {
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, question).await;
    let answer = app.bot_replies(&buyer, seq).await.pop().unwrap();
    assert_eq!(
        app.shopper_state(&buyer).await,
        "bot",
        "{question}: {answer}"
    );
    answer
}

fn shop_kb() -> Arc<FixedKnowledge> {
    Arc::new(FixedKnowledge {
        entries: shop_entries(),
        ..Default::default()
    })
}

async fn packet(
    app: &crate::helpers::TestApp,
    agent: &crate::helpers::StaffLogin,
    id: &str,
) -> Value {
    let res = app
        .staff_get(agent, &format!("/api/v1/staff/conversations/{id}/handoff"))
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn asking_for_a_human_hands_off_at_once_in_chinese_and_english() {
    let app = spawn_bot_app(shop_kb()).await;
    let agent = app.staff("agent-wang", Role::Agent).await;
    for (text, reply) in [
        ("转人工", "转接人工客服"),
        ("I want to talk to a human", "transferring"),
    ] {
        let buyer = app.shopper("demo_buyer_1").await;
        let seq = app.say(&buyer, text).await;
        let replies = app.bot_replies(&buyer, seq).await;
        assert!(all_text(&replies).contains(reply), "{replies:?}");
        assert_eq!(app.shopper_state(&buyer).await, "waiting");
        let packet = packet(&app, &agent, &buyer.conversation_id).await;
        assert_eq!(packet["reason"], "buyer_request");
        assert_eq!(
            packet["visitor"]["profile"]["shop_account_id"],
            "demo_buyer_1"
        );
        assert_eq!(
            packet["visitor"]["recent_orders"].as_array().unwrap().len(),
            3
        );
        let events = app.shopper_events(&buyer).await;
        let notice = events
            .iter()
            .find(|e| e["body"]["type"] == "system")
            .expect("a queue notice");
        assert!(
            text_of(notice).contains("排") || text_of(notice).contains("queue"),
            "{notice}"
        );
    }
}

#[tokio::test]
async fn refund_intake_collects_order_number_and_reason_then_hands_off_with_both() {
    let app = spawn_bot_app(shop_kb()).await;
    let agent = app.staff("agent-li", Role::Agent).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "我要退款").await;
    let ask = all_text(&app.bot_replies(&buyer, seq).await);
    assert!(ask.contains("订单号"), "{ask}");
    let seq = app.say(&buyer, "XE20261101002").await;
    let ask = all_text(&app.bot_replies(&buyer, seq).await);
    assert!(ask.contains("原因"), "{ask}");
    assert_eq!(app.shopper_state(&buyer).await, "bot", "still collecting");
    let seq = app.say(&buyer, "尺码太小了，穿不下").await;
    app.bot_replies(&buyer, seq).await;
    assert_eq!(app.shopper_state(&buyer).await, "waiting");
    let packet = packet(&app, &agent, &buyer.conversation_id).await;
    assert_eq!(packet["reason"], "intake_complete");
    assert_eq!(packet["intent"], "refund");
    assert_eq!(packet["slots"]["order_no"], "XE20261101002");
    assert_eq!(packet["slots"]["reason"], "尺码太小了，穿不下");
    assert!(!packet["summary"].as_str().unwrap().is_empty());
    assert!(packet["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn an_english_refund_request_asks_for_what_is_missing_one_at_a_time() {
    let app = spawn_bot_app(shop_kb()).await;
    let agent = app.staff("agent-zhao", Role::Agent).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app
        .say(&buyer, "I want a refund for order XE20261101002")
        .await;
    let ask = all_text(&app.bot_replies(&buyer, seq).await);
    assert!(ask.contains("reason"), "{ask}");
    let seq = app.say(&buyer, "It arrived in the wrong colour").await;
    app.bot_replies(&buyer, seq).await;
    let packet = packet(&app, &agent, &buyer.conversation_id).await;
    assert_eq!(packet["slots"]["order_no"], "XE20261101002");
    assert_eq!(packet["slots"]["reason"], "It arrived in the wrong colour");
}

#[tokio::test]
async fn a_parcel_question_is_answered_from_the_demo_stores_logistics() {
    let app = spawn_bot_app(shop_kb()).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "我的快递到哪了？订单号XE20261101001").await;
    let answer = all_text(&app.bot_replies(&buyer, seq).await);
    assert!(
        answer.contains("顺丰速运") && answer.contains("上海转运中心"),
        "{answer}"
    );
    assert!(answer.contains("轻薄羽绒服"), "{answer}");
    let seq = app.say(&buyer, "Where is my parcel?").await;
    let ask = all_text(&app.bot_replies(&buyer, seq).await);
    assert!(ask.contains("order number"), "{ask}");
    let seq = app.say(&buyer, "XE20261101001").await;
    let answer = all_text(&app.bot_replies(&buyer, seq).await);
    assert!(
        answer.contains("shipped, in transit") && answer.contains("SF20261101001"),
        "{answer}"
    );
    assert_eq!(app.shopper_state(&buyer).await, "bot");
}

#[tokio::test]
async fn another_buyers_order_is_refused_and_none_of_its_data_is_shown() {
    let app = spawn_bot_app(shop_kb()).await;
    let buyer = app.shopper("demo_buyer_1").await;
    for (text, refusal) in [
        ("帮我查下订单XE20261101004的物流", "没有找到订单"),
        (
            "What is the status of order XE20261101005?",
            "can't find order",
        ),
    ] {
        let seq = app.say(&buyer, text).await;
        let answer = all_text(&app.bot_replies(&buyer, seq).await);
        assert!(answer.contains(refusal), "{answer}");
        for secret in [
            "顺丰",
            "上海",
            "耳机",
            "保温杯",
            "demo_buyer_2",
            "paid",
            "in transit",
        ] {
            assert!(!answer.contains(secret), "leaked {secret}: {answer}");
        }
    }
}

#[tokio::test]
async fn an_unknown_question_is_handed_off_and_logged_for_knowledge_managers() {
    let app = spawn_bot_app(shop_kb()).await;
    let agent = app.staff("agent-sun", Role::Agent).await;
    let km = app.staff("km-zhou", Role::KnowledgeManager).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "你们能把货寄到南极科考站吗").await;
    app.bot_replies(&buyer, seq).await;
    assert_eq!(app.shopper_state(&buyer).await, "waiting");
    assert_eq!(
        packet(&app, &agent, &buyer.conversation_id).await["reason"],
        "low_confidence"
    );
    let other = app.shopper("demo_buyer_2").await;
    let seq = app.say(&other, "可以把货寄到南极科考站吗？").await;
    app.bot_replies(&other, seq).await;
    let res = app.staff_get(&km, "/api/v1/kb/unanswered").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let groups = body["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "similar questions group together: {body}");
    assert_eq!(groups[0]["count"], 2);
    assert_eq!(
        app.staff_get(&agent, "/api/v1/kb/unanswered")
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn the_bot_is_silent_while_an_agent_owns_the_chat() {
    let app = spawn_bot_app(shop_kb()).await;
    let agent = app.staff("agent-qian", Role::Agent).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "转人工").await;
    app.bot_replies(&buyer, seq).await;
    let path = format!("/api/v1/staff/conversations/{}", buyer.conversation_id);
    assert_eq!(
        app.staff_post(&agent, &format!("{path}/claim"), json!({}))
            .await
            .status(),
        200
    );
    let quiet = app.say(&buyer, "什么时候发货？").await;
    let reply = app
        .staff_post(
            &agent,
            &format!("{path}/messages"),
            json!({ "client_msg_id": "a-1", "body": { "type": "text", "text": "您好，我来帮您" } }),
        )
        .await;
    assert_eq!(reply.status(), 201);
    assert_eq!(
        app.staff_post(&agent, &format!("{path}/handback"), json!({}))
            .await
            .status(),
        200
    );
    // Back with the bot: it answers the next question, and never answered the one
    // asked while the agent owned the chat (its work is serial per conversation).
    let seq = app.say(&buyer, "多久发货").await;
    let answers = app.bot_replies(&buyer, seq).await;
    assert!(all_text(&answers).contains("48小时"));
    let events = app.shopper_events(&buyer).await;
    let bot_between = events.iter().filter(|e| {
        let s = e["seq"].as_i64().unwrap();
        s > quiet && s < seq && e["sender"]["kind"] == "bot"
    });
    assert_eq!(bot_between.count(), 0, "{events:?}");
}

#[tokio::test]
async fn a_faq_is_answered_with_its_citation_and_can_be_rated() {
    let kb = shop_kb();
    let app = spawn_bot_app(kb.clone()).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "请问什么时候发货？").await;
    let answer = app.bot_replies(&buyer, seq).await.pop().unwrap();
    assert_eq!(answer["body"]["type"], "bot_answer");
    assert_eq!(answer["body"]["source"], "curated");
    assert_eq!(
        answer["body"]["citations"][0]["entry_id"],
        "faq-shipping-time"
    );
    assert!(text_of(&answer).contains("48小时内发货"));
    let rate = |seq: i64, helpful: bool| {
        let app = &app;
        let buyer = &buyer;
        async move {
            app.client
                .post(app.url(&format!(
                    "/api/v1/buyer/conversations/{}/ratings",
                    buyer.conversation_id
                )))
                .bearer_auth(&buyer.token)
                .json(&json!({ "seq": seq, "helpful": helpful }))
                .send()
                .await
                .unwrap()
        }
    };
    let answer_seq = answer["seq"].as_i64().unwrap();
    assert_eq!(rate(answer_seq, true).await.status(), 200);
    assert_eq!(
        kb.feedback.lock().unwrap().as_slice(),
        [("faq-shipping-time".to_owned(), true)]
    );
    let not_bot = rate(seq, true).await;
    assert_eq!(not_bot.status(), 400);
    assert_eq!(
        error_code(&not_bot.json().await.unwrap()),
        "not_a_bot_answer"
    );
}

#[tokio::test]
async fn a_grounded_answer_streams_token_by_token_then_commits_with_citations() {
    let app = spawn_bot_app(shop_kb()).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let url = app.ws_url(&format!(
        "/api/v1/conversations/{}/ws?access_token={}",
        buyer.conversation_id, buyer.token
    ));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let seq = app.say(&buyer, "发票怎么开？要填什么").await;
    let mut deltas = Vec::new();
    let answer = loop {
        let frame = frame_within(&mut ws, crate::bot_support::BOT_TURN).await;
        match frame["type"].as_str() {
            Some("stream") => deltas.push(frame),
            Some("event")
                if frame["event"]["sender"]["kind"] == "bot"
                    && frame["event"]["seq"].as_i64() > Some(seq) =>
            {
                break frame["event"].clone();
            }
            _ => {}
        }
    };
    assert!(!deltas.is_empty(), "the answer was streamed: {answer}");
    let streamed: String = deltas
        .iter()
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(
        streamed.trim(),
        text_of(&answer),
        "the stream adds up to the committed answer"
    );
    let stream_id = &answer["body"]["stream_id"];
    assert!(deltas.iter().all(|d| &d["stream_id"] == stream_id));
    assert_eq!(answer["body"]["source"], "generated");
    assert_eq!(
        answer["body"]["citations"][0]["entry_id"], "faq-invoice",
        "{answer}"
    );
    assert!(text_of(&answer).contains("发票"), "{answer}");
}

#[tokio::test]
async fn admins_set_welcome_messages_per_scenario() {
    let app = spawn_bot_app(shop_kb()).await;
    let admin = app.staff("admin-a", Role::Admin).await;
    let put = |scenario: &'static str, text: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            app.client
                .put(app.url(&format!("/api/v1/admin/welcome-messages/{scenario}")))
                .bearer_auth(&admin.token)
                .json(&json!({ "text": text }))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(put("new_visitor", "欢迎光临小店！").await.status(), 200);
    assert_eq!(
        put("campaign:double11", "双11满300减50！").await.status(),
        200
    );
    assert_eq!(put("campaign:bad code!", "x").await.status(), 400);
    let buyer = app.shopper("demo_buyer_1").await;
    let events = app.shopper_events(&buyer).await;
    assert_eq!(text_of(&events[0]), "欢迎光临小店！");
    // The greeting carries the bot's menu; a tap is the buyer's own message.
    let buttons: Vec<&str> = events[0]["body"]["buttons"]
        .as_array()
        .expect("the welcome's quick-reply buttons")
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert_eq!(
        buttons,
        ["我的订单到哪了", "怎么退换货", "有什么推荐", "转人工"]
    );
    let tapped = app.say(&buyer, buttons[3]).await;
    app.bot_replies(&buyer, tapped).await;
    assert_eq!(app.shopper_state(&buyer).await, "waiting");
    let res = app
        .client
        .post(app.url("/api/v1/conversations"))
        .json(&json!({ "campaign": "double11" }))
        .send()
        .await
        .unwrap();
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
    assert_eq!(text_of(&events[0]), "双11满300减50！");
    let list: Value = app
        .staff_get(&admin, "/api/v1/admin/welcome-messages")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["messages"].as_array().unwrap().len(), 2);
    assert_eq!(list["menus"][0]["custom"], false);
    assert_eq!(list["menus"][0]["buttons"][3], "转人工");

    // The shop's own menu: the next greeting carries it; a bad one is refused
    // and changes nothing; deleting it brings the built-in one back.
    let put_menu = |body: Value| {
        let app = &app;
        let admin = &admin;
        async move {
            let res = app
                .client
                .put(app.url("/api/v1/admin/bot-menu"))
                .bearer_auth(&admin.token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, menu) =
        put_menu(json!({ "lang": "zh", "buttons": [" 查物流 ", "", "开发票", "转人工"] })).await;
    assert_eq!(status, 200, "{menu}");
    assert_eq!(menu["buttons"], json!(["查物流", "开发票", "转人工"]));
    for bad in [
        json!({ "lang": "zh", "buttons": [] }),
        json!({ "lang": "zh", "buttons": ["a", "b", "c", "d", "e", "f", "g"] }),
        json!({ "lang": "zh", "buttons": ["查物流", "查物流"] }),
        json!({ "lang": "zh", "buttons": ["这一个按钮上的字实在是太多了超过二十个字了吧"] }),
    ] {
        let (status, answer) = put_menu(bad.clone()).await;
        assert_eq!(
            (status, error_code(&answer)),
            (400, "invalid_input"),
            "{bad}"
        );
    }
    let buyer = app.shopper("demo_buyer_2").await;
    let greeting = &app.shopper_events(&buyer).await[0];
    assert_eq!(
        greeting["body"]["buttons"],
        json!(["查物流", "开发票", "转人工"])
    );
    let tapped = app.say(&buyer, "转人工").await;
    app.bot_replies(&buyer, tapped).await;
    assert_eq!(app.shopper_state(&buyer).await, "waiting");
    let reset = app
        .client
        .delete(app.url("/api/v1/admin/bot-menu?lang=zh"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    let buyer = app.shopper("demo_buyer_3").await;
    assert_eq!(
        app.shopper_events(&buyer).await[0]["body"]["buttons"][0],
        "我的订单到哪了"
    );
}

#[tokio::test]
async fn an_agents_reply_becomes_a_draft_faq_entry_in_one_step() {
    let kb = shop_kb();
    let app = spawn_bot_app(kb.clone()).await;
    let agent = app.staff("agent-he", Role::Agent).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "转人工").await;
    app.bot_replies(&buyer, seq).await;
    let path = format!("/api/v1/staff/conversations/{}", buyer.conversation_id);
    app.staff_post(&agent, &format!("{path}/claim"), json!({}))
        .await;
    app.say(&buyer, "你们支持花呗分期吗？").await;
    let reply = app
        .staff_post(&agent, &format!("{path}/messages"), json!({ "client_msg_id": "a-1", "body": { "type": "text", "text": "支持花呗3期免息。" } }))
        .await;
    let reply_seq = reply.json::<Value>().await.unwrap()["seq"]
        .as_i64()
        .unwrap();
    let res = app
        .staff_post(
            &agent,
            &format!("{path}/faq-draft"),
            json!({ "seq": reply_seq }),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "draft");
    let drafts = kb.drafts.lock().unwrap().clone();
    assert_eq!(
        drafts,
        [(
            "你们支持花呗分期吗？".to_owned(),
            "支持花呗3期免息。".to_owned(),
            agent.id.clone()
        )]
    );
    let wrong = app
        .staff_post(&agent, &format!("{path}/faq-draft"), json!({ "seq": 1 }))
        .await;
    assert_eq!(
        error_code(&wrong.json().await.unwrap()),
        "not_an_agent_answer"
    );
}

#[tokio::test]
async fn a_faq_is_answered_from_the_shop_knowledge_base_with_its_citation() {
    let app = crate::bot_support::spawn_shop_bot_app().await;
    for (question, entry) in [
        ("花呗可以分期吗", "payment-huabei-installment"),
        ("How long does a refund take?", "en-refund-time"),
    ] {
        let answer = asked_the_bot(&app, question).await;
        assert_eq!(answer["body"]["type"], "bot_answer");
        let cited: Vec<&str> = answer["body"]["citations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["entry_id"].as_str().unwrap())
            .collect();
        assert!(cited.contains(&entry), "{question}: {answer}");
    }
}

#[tokio::test]
async fn the_talk_to_a_person_button_hands_over_what_the_bot_gathered() {
    let app = spawn_bot_app(shop_kb()).await;
    let agent = app.staff("agent-zhou", Role::Agent).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "请问什么时候发货？").await;
    app.bot_replies(&buyer, seq).await;
    let press = || {
        app.client
            .post(app.url(&format!(
                "/api/v1/conversations/{}/handoff",
                buyer.conversation_id
            )))
            .bearer_auth(&buyer.token)
            .send()
    };
    let res = press().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.shopper_state(&buyer).await, "waiting");
    let first = packet(&app, &agent, &buyer.conversation_id).await;
    assert_eq!(first["reason"], "buyer_request");
    assert_eq!(first["buyer_messages"], json!(["请问什么时候发货？"]));
    assert_eq!(first["retrieved"][0]["entry_id"], "faq-shipping-time");
    assert_eq!(first["bot_answers"].as_array().unwrap().len(), 1);
    assert_eq!(
        first["visitor"]["profile"]["shop_account_id"],
        "demo_buyer_1"
    );
    assert_eq!(
        first["visitor"]["recent_orders"].as_array().unwrap().len(),
        3
    );
    // Pressing again changes nothing: same state, same packet.
    assert_eq!(press().await.unwrap().status(), 200);
    let again = packet(&app, &agent, &buyer.conversation_id).await;
    assert_eq!(again["created_at"], first["created_at"]);
}

#[tokio::test]
async fn when_the_model_cannot_answer_it_offers_the_closest_entries_to_pick_by_number() {
    let kb = Arc::new(FixedKnowledge {
        entries: vec![crate::bot_support::Entry {
            id: "faq-dispatch",
            title: "When will my order ship?",
            answer: "In-stock items ship from our Hangzhou warehouse within 48 hours of payment, and orders paid before 16:00 (China time) usually leave the same day, weekends included.",
            keys: &["go out today"],
            curated: false,
            category: "",
            products: &[],
        }],
        ..Default::default()
    });
    let app = spawn_bot_app(kb).await;
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "will my order go out today").await;
    let offer = app.bot_replies(&buyer, seq).await.pop().unwrap();
    let text = text_of(&offer);
    assert!(text.contains("Did you mean"), "{text}");
    assert!(text.contains("1. When will my order ship?"), "{text}");
    // The buyer picks it by number: the curated answer, with its citation.
    let seq = app.say(&buyer, "1").await;
    let answer = app.bot_replies(&buyer, seq).await.pop().unwrap();
    assert_eq!(answer["body"]["source"], "curated");
    assert_eq!(answer["body"]["citations"][0]["entry_id"], "faq-dispatch");
    assert!(text_of(&answer).contains("within 48 hours"));
    // The offer is used up: "1" again is an ordinary message now.
    let seq = app.say(&buyer, "1").await;
    let again = app.bot_replies(&buyer, seq).await;
    assert!(
        again.iter().all(|m| m["body"]["source"] != "curated"),
        "{again:?}"
    );
}

/// The questions of tests/data/unsupported_claims.jsonl: ones the demo KB does not answer.
fn unsupported_claims() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/unsupported_claims.jsonl"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["question"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn questions_the_shop_kb_does_not_answer_get_a_dont_know_or_a_person_never_an_invented_fact()
{
    use xiaoer::domain::lang::Lang;
    use xiaoer::services::bot::prompts::dont_know;
    let claims = unsupported_claims();
    assert!(claims.len() >= 60, "{}", claims.len());
    let app = crate::bot_support::spawn_shop_bot_app().await;
    // Twelve, spread evenly over the file's topics (the full set: `xiaoer bench bot --claims`).
    let step = claims.len() / 12;
    for question in claims.iter().step_by(step).take(12) {
        let buyer = app.shopper("demo_buyer_1").await;
        let seq = app.say(&buyer, question).await;
        let replies = app.bot_replies(&buyer, seq).await;
        if app.shopper_state(&buyer).await != "bot" {
            continue; // handed to a person
        }
        let reply = replies.last().unwrap();
        let text = text_of(reply);
        let lang = Lang::detect(question);
        assert!(
            text.starts_with(dont_know(lang)),
            "{question}: an answer instead of a don't-know: {reply}"
        );
        assert_eq!(reply["body"]["citations"], json!([]), "{question}: {reply}");
    }
}

#[tokio::test]
async fn a_question_about_an_ended_promotion_is_told_when_it_ended_not_its_offer() {
    let app = crate::bot_support::spawn_shop_bot_app().await;
    for (question, entry, ended) in [
        ("618那个满减现在还能用吗", "promo-618-2026", "2026年6月18日"),
        ("双11有啥优惠", "promo-double11-2026", "2026年11月30日"),
    ] {
        let answer = asked_the_bot(&app, question).await;
        let text = text_of(&answer);
        assert!(text.contains(ended), "{question}: {answer}");
        assert!(!text.contains("300"), "the offer is not on: {answer}");
        assert_eq!(
            answer["body"]["citations"][0]["entry_id"], entry,
            "{question}: {answer}"
        );
    }
}

#[tokio::test]
async fn two_questions_in_one_message_get_both_answers_each_with_its_entry() {
    let app = crate::bot_support::spawn_shop_bot_app().await;
    for (question, entries) in [
        (
            "能开发票吗 还有退货运费谁出",
            ["invoices-available", "returns-shipping-fee"],
        ),
        (
            "花呗能分期吗？能开发票吗？",
            ["payment-huabei-installment", "invoices-available"],
        ),
        (
            "优惠券在哪领 还有满减怎么算",
            ["promo-coupon-get", "promo-full-reduction-rules"],
        ),
    ] {
        let buyer = app.shopper("demo_buyer_1").await;
        let seq = app.say(&buyer, question).await;
        let replies = app.bot_replies(&buyer, seq).await;
        assert_eq!(replies.len(), 1, "{question}: one reply, {replies:?}");
        let cited: Vec<&str> = replies[0]["body"]["citations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["entry_id"].as_str().unwrap())
            .collect();
        assert_eq!(cited, entries, "{question}: {}", replies[0]);
        assert_eq!(replies[0]["body"]["source"], "curated");
    }
}

#[tokio::test]
async fn a_question_about_human_service_hours_is_answered_not_handed_off() {
    let app = crate::bot_support::spawn_shop_bot_app().await;
    for (question, fact) in [
        ("你们真人客服周末上班吗", "9:00"),
        ("are your human agents available on weekends?", "9:00"),
    ] {
        let answer = asked_the_bot(&app, question).await;
        assert!(text_of(&answer).contains(fact), "{question}: {answer}");
    }
    // Asking for a person still hands off.
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "找个真人跟我说").await;
    app.bot_replies(&buyer, seq).await;
    assert_eq!(app.shopper_state(&buyer).await, "waiting");
}

#[tokio::test]
async fn a_return_policy_question_is_answered_first_and_the_return_starts_when_the_buyer_says_yes()
{
    let mut entries = shop_entries();
    entries.push(crate::bot_support::Entry {
        id: "faq-returns-7day",
        title: "七天无理由退货 / 7-day returns",
        answer: "签收次日起7天内，吊牌、包装齐全且未穿着的商品可以申请无理由退货。",
        keys: &["可以退货吗", "能退不", "can i return"],
        curated: true,
        category: "",
        products: &[],
    });
    let app = spawn_bot_app(Arc::new(FixedKnowledge {
        entries,
        ..Default::default()
    }))
    .await;
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "鞋子买大了可以退货吗").await;
    let answer = app.bot_replies(&buyer, seq).await.pop().unwrap();
    assert_eq!(answer["body"]["source"], "curated", "{answer}");
    assert_eq!(
        answer["body"]["citations"][0]["entry_id"],
        "faq-returns-7day"
    );
    let text = text_of(&answer);
    assert!(text.contains("7天内"), "the policy first: {text}");
    assert!(
        text.contains("需要的话我可以帮您发起退货"),
        "then the offer: {text}"
    );
    // Yes: the return's intake starts with its first question.
    let seq = app.say(&buyer, "好的").await;
    let ask = app.bot_replies(&buyer, seq).await.pop().unwrap();
    assert!(text_of(&ask).contains("订单号"), "{ask}");
    assert_eq!(app.shopper_state(&buyer).await, "bot");
    // In English too, and a demand to act still starts the intake at once.
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app
        .say(&buyer, "Can I return shoes that are too big?")
        .await;
    let answer = app.bot_replies(&buyer, seq).await.pop().unwrap();
    assert!(
        text_of(&answer).contains("I can start the return for you"),
        "{answer}"
    );
    let buyer = app.shopper("demo_buyer_1").await;
    let seq = app.say(&buyer, "我要退货").await;
    let ask = app.bot_replies(&buyer, seq).await.pop().unwrap();
    assert!(text_of(&ask).contains("订单号"), "{ask}");
}
