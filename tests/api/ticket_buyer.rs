//! The buyer's replies from 我的工单 through the real API: a reply on a
//! ticket waiting for the buyer opens it, a reply within the reopen window
//! reopens a resolved ticket, a later one and one on a closed ticket are
//! refused, and someone else's ticket is not there.

use crate::helpers::{Buyer, StaffLogin, TestApp, error_code, spawn_with_clock, test_settings};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use xiaoer::domain::staff::Role;
use xiaoer::ports::Clock;

const DAY_MS: i64 = 86_400_000;

pub(crate) struct MovingClock(pub(crate) AtomicI64);

impl Clock for MovingClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl MovingClock {
    pub(crate) fn forward(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

/// A server on a clock the test moves, starting at `start_ms`; its sessions
/// outlive the days the test runs ahead.
pub(crate) async fn spawn_on_moving_clock(start_ms: i64) -> (TestApp, Arc<MovingClock>) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.session_hours = 24 * 365;
    let clock = Arc::new(MovingClock(AtomicI64::new(start_ms)));
    let app = spawn_with_clock(dir, settings, Default::default(), clock.clone()).await;
    (app, clock)
}

impl TestApp {
    async fn buyer_reply(&self, buyer: &Buyer, id: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/buyer/tickets/{id}/replies")))
            .bearer_auth(&buyer.token)
            .json(&json!({ "body": body }))
            .send()
            .await
            .unwrap()
    }

    async fn state_of(&self, staff: &StaffLogin, id: &str) -> (String, i64) {
        let t: Value = self
            .staff_get(staff, &format!("/api/v1/staff/tickets/{id}"))
            .await
            .json()
            .await
            .unwrap();
        (
            t["state"].as_str().unwrap().to_owned(),
            t["version"].as_i64().unwrap(),
        )
    }

    pub(crate) async fn move_to(&self, staff: &StaffLogin, id: &str, to: &str) {
        let (_, version) = self.state_of(staff, id).await;
        let res = self
            .staff_post(
                staff,
                &format!("/api/v1/staff/tickets/{id}/transition"),
                json!({ "to": to, "expected_version": version }),
            )
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
}

/// A buyer whose chat an agent turned into a ticket.
pub(crate) async fn ticket_for_buyer(app: &TestApp, agent: &StaffLogin) -> (Buyer, String) {
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, agent).await;
    let res = app
        .staff_post(
            agent,
            &format!(
                "/api/v1/staff/conversations/{}/ticket",
                buyer.conversation_id
            ),
            json!({ "title": "换货进度", "assignee_id": agent.id }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (buyer, id)
}

#[tokio::test]
async fn a_buyers_reply_reopens_within_the_window_and_is_refused_after_it() {
    let (app, clock) = spawn_on_moving_clock(1_796_000_000_000).await;
    let agent = app.staff("agent-reply", Role::Agent).await;
    let admin = app.staff("admin-reply", Role::Admin).await;
    let (buyer, id) = ticket_for_buyer(&app, &agent).await;

    // Waiting for the buyer: their reply opens it again.
    app.move_to(&agent, &id, "pending").await;
    let res = app.buyer_reply(&buyer, &id, "快递单号是 SF123").await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    assert_eq!(app.state_of(&agent, &id).await.0, "open");

    // Resolved, then a reply three days later reopens it.
    app.move_to(&agent, &id, "resolved").await;
    clock.forward(3 * DAY_MS);
    let res = app.buyer_reply(&buyer, &id, "还是没收到").await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.state_of(&agent, &id).await.0, "open");
    let detail: Value = app
        .staff_get(&agent, &format!("/api/v1/staff/tickets/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let reopened = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "state_changed" && h["detail"]["to"] == "open")
        .count();
    assert_eq!(reopened, 2, "both openings are in the history: {detail}");

    // The shop shortens the window to 2 days; a reply 3 days after is refused.
    let res = app
        .client
        .put(app.url("/api/v1/admin/ticket-settings"))
        .bearer_auth(&admin.token)
        .json(&json!({ "reopen_days": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.move_to(&agent, &id, "resolved").await;
    clock.forward(3 * DAY_MS);
    let before = app.state_of(&agent, &id).await;
    let res = app.buyer_reply(&buyer, &id, "又坏了").await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "ticket_reply_window_closed"
    );
    assert_eq!(app.state_of(&agent, &id).await, before, "nothing changed");

    // Closed takes no replies; another buyer does not see the ticket at all.
    app.move_to(&agent, &id, "closed").await;
    let res = app.buyer_reply(&buyer, &id, "你好").await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_code(&res.json().await.unwrap()), "ticket_closed");
    let other = app.start_conversation().await;
    let res = app.buyer_reply(&other, &id, "你好").await;
    assert_eq!(res.status(), 404);
    let res = app
        .client
        .put(app.url("/api/v1/admin/ticket-settings"))
        .bearer_auth(&admin.token)
        .json(&json!({ "reopen_days": 365 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // The buyer's replies are in 我的工单.
    let mine: Value = app
        .client
        .get(app.url("/api/v1/buyer/tickets"))
        .bearer_auth(&buyer.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bodies: Vec<&str> = mine[0]["replies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["from_staff"] == false)
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["快递单号是 SF123", "还是没收到"]);
}
