//! History search through the real API: past conversations found by words, order
//! number, buyer details, agent and date over the blind index, agents limited to
//! their own chats, bad searches refused, and no plaintext in the index.

use crate::helpers::{Buyer, StaffLogin, TestApp, error_code, spawn_app};
use crate::privacy::raw_database_bytes;
use serde_json::{Value, json};
use std::time::Duration;
use xiaoer::domain::staff::Role;

const QUESTION: &str = "我想问一下退货地址在哪里";
const ORDER: &str = "订单号 TB20241201";
const ANSWER: &str = "退货地址是杭州市西湖区文三路，请写上订单号";
const OTHER_QUESTION: &str = "什么时候发货呀";
const OTHER_ANSWER: &str = "今天下午就发货";
const PHONE: &str = "13912345678";
const NAME: &str = "欧阳娜娜";

impl TestApp {
    async fn history(&self, staff: &StaffLogin, query: &str) -> reqwest::Response {
        self.staff_get(staff, &format!("/api/v1/staff/history?{query}"))
            .await
    }

    /// The ids found by `query`, once the index has caught up with `expect`
    /// conversations (the index follows the event stream); with 0, at once.
    async fn found(&self, staff: &StaffLogin, query: &str, expect: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for _ in 0..100 {
            let res = self.history(staff, query).await;
            assert_eq!(res.status(), 200, "{query}");
            let hits: Vec<Value> = res.json().await.unwrap();
            ids = hits
                .iter()
                .map(|h| h["conversation_id"].as_str().unwrap().to_owned())
                .collect();
            if ids.len() >= expect {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ids
    }

    async fn served_and_resolved(
        &self,
        buyer: &Buyer,
        agent: &StaffLogin,
        said: &[&str],
        reply: &str,
    ) {
        for (i, text) in said.iter().enumerate() {
            let res = self.buyer_send(buyer, &format!("h-{i}"), text).await;
            assert!(res.status().is_success(), "{}", res.text().await.unwrap());
        }
        self.hand_to_agent(buyer, agent).await;
        let base = format!("/api/v1/staff/conversations/{}", buyer.conversation_id);
        let res = self
            .staff_post(
                agent,
                &format!("{base}/messages"),
                json!({ "client_msg_id": "a-1", "body": { "type": "text", "text": reply } }),
            )
            .await;
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
        let res = self
            .staff_post(agent, &format!("{base}/resolve"), json!({}))
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
}

#[tokio::test]
async fn past_chats_are_found_by_words_order_buyer_agent_and_date_and_agents_find_only_their_own() {
    let app = spawn_app().await;
    let (a, b) = (
        app.staff("hs-a", Role::Agent).await,
        app.staff("hs-b", Role::Agent).await,
    );
    let boss = app.staff("hs-boss", Role::Supervisor).await;

    let first = app.start_conversation().await;
    let res = app
        .client
        .put(app.url("/api/v1/visitor/profile"))
        .bearer_auth(&first.token)
        .json(&json!({ "real_name": NAME, "phone": PHONE }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    app.served_and_resolved(&first, &a, &[QUESTION, ORDER], ANSWER)
        .await;
    let second = app.start_conversation().await;
    app.served_and_resolved(&second, &b, &[OTHER_QUESTION], OTHER_ANSWER)
        .await;
    let (one, two) = (
        first.conversation_id.clone(),
        second.conversation_id.clone(),
    );

    // Words said by the buyer or the agent, as a substring of what was said.
    assert_eq!(app.found(&boss, "q=退货地址", 1).await, vec![one.clone()]);
    assert_eq!(
        app.found(&boss, "q=%E6%96%87%E4%B8%89%E8%B7%AF", 1).await,
        vec![one.clone()],
        "文三路, the agent's words"
    );
    assert_eq!(app.found(&boss, "q=发货", 1).await, vec![two.clone()]);
    assert!(app.found(&boss, "q=换货", 0).await.is_empty());
    // An order number, in either case; the buyer by phone or by name.
    assert_eq!(
        app.found(&boss, "order_no=tb20241201", 1).await,
        vec![one.clone()]
    );
    assert!(app.found(&boss, "order_no=TB20241202", 0).await.is_empty());
    assert_eq!(
        app.found(&boss, &format!("buyer={PHONE}"), 1).await,
        vec![one.clone()]
    );
    assert_eq!(app.found(&boss, "buyer=欧阳", 1).await, vec![one.clone()]);
    // Agent and date filters; no filter lists the latest first.
    assert_eq!(
        app.found(&boss, &format!("agent_id={}", b.id), 1).await,
        vec![two.clone()]
    );
    assert_eq!(
        app.found(&boss, "", 2).await,
        vec![two.clone(), one.clone()]
    );
    let tomorrow = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 86_400_000;
    assert!(
        app.found(&boss, &format!("from={tomorrow}"), 0)
            .await
            .is_empty()
    );
    assert_eq!(
        app.found(&boss, &format!("until={tomorrow}&q=退货"), 1)
            .await,
        vec![one.clone()]
    );

    // A hit says who, when, what about, and its state.
    let hits: Vec<Value> = app.history(&boss, "q=退货地址").await.json().await.unwrap();
    assert_eq!(hits[0]["first_message"], QUESTION);
    assert_eq!(hits[0]["buyer_name"], "小明");
    assert_eq!(hits[0]["agent_id"], a.id.as_str());
    assert_eq!(hits[0]["state"], "resolved");

    // An agent finds only their own chats, whatever filter they send, and can open what they find.
    assert_eq!(app.found(&a, "q=退货", 1).await, vec![one.clone()]);
    assert!(app.found(&a, "q=发货", 0).await.is_empty());
    assert!(
        app.found(&a, &format!("agent_id={}", b.id), 0)
            .await
            .is_empty()
    );
    assert_eq!(app.found(&b, "", 1).await, vec![two.clone()]);
    let res = app
        .staff_get(&a, &format!("/api/v1/staff/conversations/{one}"))
        .await;
    assert_eq!(res.status(), 200, "the agent opens the found chat");
    let km = app.staff("hs-km", Role::KnowledgeManager).await;
    assert_eq!(app.history(&km, "q=退货").await.status(), 403);

    // Bad searches: a clear code, nothing found by accident.
    for (query, code) in [
        ("q=%EF%BC%9F%EF%BC%81", "history_query_empty"),
        (&*format!("q={}", "退".repeat(65)), "history_query_too_long"),
        (
            &*format!("from={tomorrow}&until=1000"),
            "invalid_date_range",
        ),
        ("colour=red", "invalid_query"),
    ] {
        let res = app.history(&boss, query).await;
        assert_eq!(res.status(), 400, "{query}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_code(&body), code, "{query}");
    }

    // The index holds term hashes only: no word of the chats, no phone, no name.
    let raw = raw_database_bytes(&app).await;
    for secret in [
        QUESTION,
        "退货地址",
        "TB20241201",
        "20241201",
        ANSWER,
        "文三路",
        OTHER_ANSWER,
        PHONE,
        NAME,
    ] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "plaintext {secret:?} in the database"
        );
    }
}
