//! Tickets through the real API: departments and types, creation by hand and
//! from a handed-off chat (prefilled from the packet), the state machine with
//! its history and events, stale edits, permissions, the buyer's view, and the
//! SLA sweeper.

use crate::bot_scripted::ZeroEmbedder;
use crate::bot_support::FixedKnowledge;
use crate::bot_support::shop_entries;
use crate::helpers::{
    Buyer, StaffLogin, TestApp, error_code, spawn_app, spawn_with, test_settings, today_in_beijing,
};
use serde_json::{Value, json};
use std::sync::Arc;
use xiaoer::domain::staff::Role;
use xiaoer::llm::scripted::{Scripted, ScriptedChatModel};
use xiaoer::startup::{Adapters, Models};

impl TestApp {
    pub(crate) async fn staff_put(
        &self,
        staff: &StaffLogin,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(&staff.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn ticket(&self, staff: &StaffLogin, id: &str) -> Value {
        let res = self
            .staff_get(staff, &format!("/api/v1/staff/tickets/{id}"))
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn move_ticket(&self, staff: &StaffLogin, id: &str, to: &str) -> reqwest::Response {
        let version = self.ticket(staff, id).await["version"].as_i64().unwrap();
        self.staff_post(
            staff,
            &format!("/api/v1/staff/tickets/{id}/transition"),
            json!({ "to": to, "expected_version": version, "note": format!("→ {to}") }),
        )
        .await
    }

    /// An admin, a logistics department with `agent` in it, and a logistics
    /// type that needs a tracking number.
    pub(crate) async fn ticket_desk(&self, agent: &StaffLogin) -> (StaffLogin, String) {
        let admin = self.staff("admin-tk", Role::Admin).await;
        let res = self
            .staff_post(
                &admin,
                "/api/v1/staff/ticket-departments",
                json!({ "name": "物流 Logistics" }),
            )
            .await;
        assert_eq!(res.status(), 201);
        let department = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = self
            .staff_put(
                &admin,
                &format!(
                    "/api/v1/staff/ticket-departments/{department}/members/{}",
                    agent.id
                ),
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 204);
        let res = self
            .staff_post(
                &admin,
                "/api/v1/staff/ticket-types",
                json!({ "key": "logistics", "name": "物流 Logistics",
                        "required_fields": ["tracking_number"],
                        "sla": [{ "priority": "high", "first_response_minutes": 60, "resolution_minutes": 480 }] }),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        (admin, department)
    }
}

pub(crate) fn logistics_ticket(department: &str) -> Value {
    json!({ "type_key": "logistics", "title": "包裹三天没更新", "priority": "high",
            "department_id": department, "order_number": "XE20261101002",
            "custom_fields": { "tracking_number": "SF1234567890" }, "tags": ["物流"] })
}

async fn outbox_types(app: &TestApp) -> Vec<String> {
    app.state
        .store
        .outbox_after(0, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.type_name().to_owned())
        .collect()
}

#[tokio::test]
async fn a_ticket_moves_through_its_states_with_history_and_events() {
    let app = spawn_app().await;
    let agent = app.staff("agent-tk", Role::Agent).await;
    let (_admin, department) = app.ticket_desk(&agent).await;
    let res = app
        .staff_post(
            &agent,
            "/api/v1/staff/tickets",
            logistics_ticket(&department),
        )
        .await;
    assert_eq!(res.status(), 201);
    let ticket: Value = res.json().await.unwrap();
    let id = ticket["id"].as_str().unwrap().to_owned();
    let number = ticket["number"].as_str().unwrap();
    assert!(
        number.starts_with('T') && number.ends_with("-0001") && number.len() == 14,
        "{number}"
    );
    assert_eq!(ticket["state"], "new");
    assert!(ticket["resolution_due_at"].as_i64().is_some());
    for to in ["open", "pending", "open", "resolved", "closed"] {
        let res = app.move_ticket(&agent, &id, to).await;
        assert_eq!(res.status(), 200, "{to}: {}", res.text().await.unwrap());
    }
    let detail = app.ticket(&agent, &id).await;
    assert_eq!(detail["state"], "closed");
    assert_eq!(detail["version"], 6);
    let kinds: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "state_changed",
            "state_changed",
            "state_changed",
            "state_changed",
            "state_changed"
        ]
    );
    assert_eq!(detail["history"][0]["author_id"], agent.id);
    assert_eq!(detail["history"][2]["detail"]["to"], "pending");
    // Closed is final.
    let res = app.move_ticket(&agent, &id, "pending").await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "invalid_ticket_transition"
    );
    assert_eq!(
        app.ticket(&agent, &id).await["version"],
        6,
        "nothing changed"
    );
    let types = outbox_types(&app).await;
    assert_eq!(types.iter().filter(|t| *t == "ticket.created").count(), 1);
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "ticket.state_changed")
            .count(),
        5
    );
}

#[tokio::test]
async fn bad_ticket_input_is_refused_with_stable_codes_and_changes_nothing() {
    let app = spawn_app().await;
    let agent = app.staff("agent-bad", Role::Agent).await;
    let (_admin, department) = app.ticket_desk(&agent).await;
    let mut unknown_department = logistics_ticket(&department);
    unknown_department["department_id"] = json!("dep_nope");
    let mut unknown_type = logistics_ticket(&department);
    unknown_type["type_key"] = json!("warranty");
    let mut missing_field = logistics_ticket(&department);
    missing_field["custom_fields"] = json!({});
    let mut bad_priority = logistics_ticket(&department);
    bad_priority["priority"] = json!("whenever");
    for (body, code) in [
        (unknown_department, "unknown_department"),
        (unknown_type, "unknown_ticket_type"),
        (missing_field, "missing_custom_field"),
        (bad_priority, "invalid_fields"),
    ] {
        let res = app.staff_post(&agent, "/api/v1/staff/tickets", body).await;
        assert_eq!(res.status(), 400);
        assert_eq!(error_code(&res.json().await.unwrap()), code);
    }
    let list: Value = app
        .staff_get(&agent, "/api/v1/staff/tickets")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([]), "nothing was created");
    assert!(
        !outbox_types(&app)
            .await
            .iter()
            .any(|t| t.starts_with("ticket."))
    );

    let res = app
        .staff_post(
            &agent,
            "/api/v1/staff/tickets",
            logistics_ticket(&department),
        )
        .await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/staff/tickets/{id}");
    let first = app
        .staff_put(
            &agent,
            &path,
            json!({ "expected_version": 1, "priority": "urgent" }),
        )
        .await;
    assert_eq!(first.status(), 200);
    // A second editor still holding version 1 is refused.
    let stale = app
        .staff_put(
            &agent,
            &path,
            json!({ "expected_version": 1, "title": "旧的标题" }),
        )
        .await;
    assert_eq!(stale.status(), 409);
    assert_eq!(
        error_code(&stale.json().await.unwrap()),
        "stale_ticket_version"
    );
    // Removing the required field is refused too.
    let res = app
        .staff_put(
            &agent,
            &path,
            json!({ "expected_version": 2, "custom_fields": {} }),
        )
        .await;
    assert_eq!(res.status(), 400);
    let detail = app.ticket(&agent, &id).await;
    assert_eq!(detail["version"], 2);
    assert_eq!(detail["priority"], "urgent");
    assert_eq!(detail["title"], "包裹三天没更新");
    assert_eq!(detail["custom_fields"]["tracking_number"], "SF1234567890");
}

#[tokio::test]
async fn agents_see_their_own_and_their_departments_tickets_and_supervisors_all() {
    let app = spawn_app().await;
    let member = app.staff("agent-member", Role::Agent).await;
    let outsider = app.staff("agent-outside", Role::Agent).await;
    let supervisor = app.staff("super-tk", Role::Supervisor).await;
    let (admin, department) = app.ticket_desk(&member).await;
    let res = app
        .staff_post(
            &admin,
            "/api/v1/staff/tickets",
            logistics_ticket(&department),
        )
        .await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let count = |v: Value| v.as_array().unwrap().len();
    for (who, n) in [(&member, 1), (&outsider, 0), (&supervisor, 1)] {
        let list = app.staff_get(who, "/api/v1/staff/tickets").await;
        assert_eq!(count(list.json().await.unwrap()), n);
    }
    let res = app
        .staff_get(&outsider, &format!("/api/v1/staff/tickets/{id}"))
        .await;
    assert_eq!(res.status(), 403);
    // Only admins manage departments.
    let res = app
        .staff_post(
            &supervisor,
            "/api/v1/staff/ticket-departments",
            json!({ "name": "财务" }),
        )
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn the_sla_sweeper_escalates_once_per_level_and_a_public_reply_cancels_it() {
    let app = spawn_app().await;
    let agent = app.staff("agent-sla", Role::Agent).await;
    let (_admin, department) = app.ticket_desk(&agent).await;
    let res = app
        .staff_post(
            &agent,
            "/api/v1/staff/tickets",
            logistics_ticket(&department),
        )
        .await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = chrono_now();
    // Two working hours later the one-hour first response is far overdue.
    let report = app.state.tickets.sweep(now + 3 * 86_400_000).await.unwrap();
    assert_eq!((report.tickets, report.escalated), (1, 1));
    let again = app.state.tickets.sweep(now + 3 * 86_400_000).await.unwrap();
    assert_eq!(again.escalated, 0, "announced once");
    let detail = app.ticket(&agent, &id).await;
    assert_eq!(detail["sla"]["escalation"], "supervisor");
    assert_eq!(detail["version"], 1, "a sweep never makes an editor stale");
    assert!(
        outbox_types(&app)
            .await
            .contains(&"ticket.escalated".to_owned())
    );
    // An internal comment is no reply to the buyer.
    let comments = format!("/api/v1/staff/tickets/{id}/comments");
    let res = app
        .staff_post(
            &agent,
            &comments,
            json!({ "visibility": "internal", "body": "先查物流" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        app.ticket(&agent, &id).await["sla"]["escalation"],
        "supervisor"
    );
    let res = app
        .staff_post(
            &agent,
            &comments,
            json!({ "visibility": "public", "body": "已联系快递公司" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let detail = app.ticket(&agent, &id).await;
    assert_eq!(detail["sla"]["escalation"], "none");
    assert!(detail["sla"]["first_responded_at"].as_i64().is_some());
    assert_eq!(detail["first_response_due_at"], Value::Null);
    // Pending stops the clock: no sweep escalates it.
    app.move_ticket(&agent, &id, "pending").await;
    let report = app
        .state
        .tickets
        .sweep(now + 30 * 86_400_000)
        .await
        .unwrap();
    assert_eq!((report.tickets, report.escalated), (0, 0));
}

pub(crate) fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A server whose bot runs a scripted model: intake and hand-off without weights.
async fn spawn_desk_with_bot() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.bot = true;
    let adapters = Adapters {
        models: Some(Models {
            llm: Arc::new(ScriptedChatModel::always(Scripted::text("{}"))),
            embedder: Arc::new(ZeroEmbedder),
        }),
        knowledge: Some(Arc::new(FixedKnowledge {
            entries: shop_entries(),
            ..Default::default()
        })),
        commerce: None,
    };
    spawn_with(dir, settings, adapters).await
}

#[tokio::test]
async fn a_handed_off_chat_becomes_a_prefilled_ticket_and_the_buyer_sees_only_public_replies() {
    let app = spawn_desk_with_bot().await;
    let agent = app.staff("agent-chat", Role::Agent).await;
    let (_admin, department) = app.ticket_desk(&agent).await;
    let buyer = app.shopper("demo_buyer_1").await;
    for text in ["我要退款", "XE20261101002", "尺码太小了，穿不下"] {
        let seq = app.say(&buyer, text).await;
        app.bot_replies(&buyer, seq).await;
    }
    assert_eq!(app.shopper_state(&buyer).await, "waiting");
    let conversation = &buyer.conversation_id;
    let claim = format!("/api/v1/staff/conversations/{conversation}/claim");
    assert_eq!(
        app.staff_post(&agent, &claim, json!({})).await.status(),
        200
    );
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/conversations/{conversation}/ticket"),
            json!({ "type_key": "logistics", "department_id": department,
                    "custom_fields": { "tracking_number": "SF1234567890" } }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let ticket: Value = res.json().await.unwrap();
    assert_eq!(ticket["source"], "chat");
    assert_eq!(ticket["conversation_id"], conversation.as_str());
    assert_eq!(ticket["order_number"], "XE20261101002");
    assert_eq!(ticket["custom_fields"]["order_no"], "XE20261101002");
    assert_eq!(ticket["custom_fields"]["reason"], "尺码太小了，穿不下");
    assert!(!ticket["description"].as_str().unwrap().is_empty());
    let id = ticket["id"].as_str().unwrap().to_owned();
    let comments = format!("/api/v1/staff/tickets/{id}/comments");
    for (visibility, body) in [
        ("internal", "仓库说是发错尺码"),
        ("public", "已为您安排换货"),
    ] {
        let res = app
            .staff_post(
                &agent,
                &comments,
                json!({ "visibility": visibility, "body": body }),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    app.move_ticket(&agent, &id, "resolved").await;
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
    assert_eq!(mine[0]["number"], ticket["number"]);
    assert_eq!(mine[0]["status_text"], "已解决");
    assert_eq!(mine[0]["done"], true);
    let replies = mine[0]["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["body"], "已为您安排换货");
    assert!(
        mine[0].get("state").is_none(),
        "the internal state stays inside"
    );
    // Another buyer sees nothing of it.
    let other = app.start_conversation().await;
    let theirs: Value = app
        .client
        .get(app.url("/api/v1/buyer/tickets"))
        .bearer_auth(&other.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs, json!([]));
}

#[tokio::test]
async fn an_agents_chat_reply_is_the_tickets_first_response() {
    let app = spawn_app().await;
    let agent = app.staff("agent-reply", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &agent).await;
    let conversation = &buyer.conversation_id;
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/conversations/{conversation}/ticket"),
            json!({ "title": "发票抬头写错了" }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let ticket: Value = res.json().await.unwrap();
    assert_eq!(ticket["visitor_id"], buyer.visitor_id.as_str());
    assert_eq!(ticket["sla"]["first_responded_at"], Value::Null);
    let id = ticket["id"].as_str().unwrap().to_owned();
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/conversations/{conversation}/messages"),
            json!({ "client_msg_id": "a-1", "body": { "type": "text", "text": "您好，我来帮您改发票" } }),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let mut answered = Value::Null;
    // The SLA subscriber records it a moment later (up to 30 s on a loaded machine).
    for _ in 0..600 {
        answered = app.ticket(&agent, &id).await;
        if !answered["sla"]["first_responded_at"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(answered["sla"]["first_responded_at"].as_i64().is_some());
    assert_eq!(answered["first_response_due_at"], Value::Null);
    assert_eq!(answered["history"][1]["kind"], "first_response");
}

/// Today is a holiday: nobody is on duty, and a buyer asks for a person.
pub(crate) async fn buyer_waiting_out_of_hours(app: &TestApp, admin: &StaffLogin) -> Buyer {
    let holiday = json!({ "shop_name": "小二的店", "service_hours": "09:00-18:00",
                          "utc_offset_minutes": 480, "holidays": [today_in_beijing()] });
    let res = app
        .staff_put(admin, "/api/v1/admin/shop-settings", holiday)
        .await;
    assert_eq!(res.status(), 200);
    let buyer = app.start_conversation().await;
    assert_eq!(
        app.buyer_post(&buyer, "/handoff", json!({})).await.status(),
        200
    );
    buyer
}

#[tokio::test]
async fn out_of_hours_a_buyers_message_becomes_a_ticket_and_the_buyer_is_told_its_number() {
    let app = spawn_app().await;
    let admin = app.staff("admin-ooh", Role::Admin).await;
    let buyer = buyer_waiting_out_of_hours(&app, &admin).await;
    let res = app
        .buyer_send(
            &buyer,
            "m-1",
            "我的包裹丢了，订单 XE20261101002，麻烦尽快处理",
        )
        .await;
    assert!(res.status().is_success());
    let mut notice = None;
    for _ in 0..300 {
        let events = app.buyer_events(&buyer, 0).await;
        notice = events
            .iter()
            .filter(|e| e["body"]["type"] == "system")
            .map(|e| e["body"]["text"].as_str().unwrap_or("").to_owned())
            .find(|t| t.contains("工单"));
        if notice.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let notice = notice.expect("the buyer is told about the ticket");
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
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let number = mine[0]["number"].as_str().unwrap();
    assert!(notice.contains(number), "{notice} names {number}");
    assert_eq!(mine[0]["status_text"], "已受理");
    // A second message is added to the same ticket, not a new one.
    app.buyer_send(&buyer, "m-2", "补充：快递单号 SF1234567890")
        .await;
    let supervisor = app.staff("super-ooh", Role::Supervisor).await;
    let mut replies = 0;
    for _ in 0..300 {
        let list: Value = app
            .staff_get(&supervisor, "/api/v1/staff/tickets")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);
        let id = list[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(list[0]["source"], "out_of_hours");
        replies = app.ticket(&supervisor, &id).await["comments"]
            .as_array()
            .unwrap()
            .len();
        if replies == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(replies, 1);
}
