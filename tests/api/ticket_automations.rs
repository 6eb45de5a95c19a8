//! Ticket automations through the real API and the real event stream: a rule
//! fires on its event only when its conditions hold, writes its changes to
//! the ticket's history under its name, reminds people through the bell,
//! never runs on another automation's change, applies nothing twice when an
//! event comes again, records a state change the machine refuses, and calls a
//! real HTTP receiver, signed. Admins only; bad rules store nothing.

use crate::helpers::{StaffLogin, TestApp, error_code, spawn_app};
use crate::ticket_buyer::spawn_on_moving_clock;
use crate::webhooks::Receiver;
use serde_json::{Value, json};
use std::time::Duration;
use xiaoer::domain::events::DomainEvent;
use xiaoer::domain::staff::Role;
use xiaoer::ports::Clock;
use xiaoer::services::subscribers::Subscriber;
use xiaoer::services::ticket_automations::TicketAutomations;

const AUTOMATIONS: &str = "/api/v1/admin/ticket-automations";

impl TestApp {
    async fn automation(&self, admin: &StaffLogin, body: Value) -> Value {
        let res = self.staff_post(admin, AUTOMATIONS, body).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        res.json().await.unwrap()
    }

    async fn auto_ticket(&self, staff: &StaffLogin, body: Value) -> String {
        let res = self.staff_post(staff, "/api/v1/staff/tickets", body).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn ticket_detail(&self, staff: &StaffLogin, id: &str) -> Value {
        let res = self
            .staff_get(staff, &format!("/api/v1/staff/tickets/{id}"))
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// The ticket once it has `n` automation lines in its history.
    async fn after_automations(&self, staff: &StaffLogin, id: &str, n: usize) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let detail = self.ticket_detail(staff, id).await;
            if automation_lines(&detail).len() >= n {
                return detail;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no automation ran on {id}: {detail}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn outbox_event(&self, kind: &str, ticket_id: &str) -> DomainEvent {
        self.state
            .store
            .outbox_after(0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .find(|e| {
                e.type_name() == kind
                    && serde_json::to_value(&e.data).unwrap()["ticket_id"] == ticket_id
            })
            .unwrap_or_else(|| panic!("no {kind} for {ticket_id}"))
    }
}

fn automation_lines(detail: &Value) -> Vec<Value> {
    detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "automation")
        .cloned()
        .collect()
}

async fn department_with_lead(app: &TestApp, admin: &StaffLogin, lead: &StaffLogin) -> String {
    let res = app
        .staff_post(
            admin,
            "/api/v1/staff/ticket-departments",
            json!({ "name": "售后 After-sales", "lead_id": lead.id }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_rule_fires_on_its_event_when_its_conditions_hold_and_never_twice() {
    let app = spawn_app().await;
    let agent = app.staff("agent-auto", Role::Agent).await;
    let lead = app.staff("lead-auto", Role::Agent).await;
    let (admin, _logistics) = app.ticket_desk(&agent).await;
    let aftersales = department_with_lead(&app, &admin, &lead).await;

    let refunds = app
        .automation(
            &admin,
            json!({ "name": "退款转售后", "event": "ticket_created",
                    "when": { "keywords": ["退款", "refund"], "unassigned": true },
                    "then": { "department_id": aftersales, "priority": "urgent", "tags": ["退款"],
                              "notify": { "bell": true, "department_lead": true } } }),
        )
        .await;
    assert_eq!(refunds["enabled"], true);
    // Would run on the change above if automations triggered automations.
    let tagger = app
        .automation(
            &admin,
            json!({ "name": "优先级变了", "event": "priority_changed", "then": { "tags": ["改过优先级"] } }),
        )
        .await;
    assert_eq!(
        tagger["position"].as_i64(),
        Some(refunds["position"].as_i64().unwrap() + 1)
    );

    // Conditions hold: the rule's changes, under its name.
    let id = app
        .auto_ticket(
            &admin,
            json!({ "title": "我要退款", "description": "颜色不对" }),
        )
        .await;
    let detail = app.after_automations(&admin, &id, 1).await;
    assert_eq!(detail["department_id"], aftersales.as_str());
    assert_eq!(detail["priority"], "urgent");
    assert_eq!(detail["tags"], json!(["退款"]));
    let line = &automation_lines(&detail)[0];
    assert_eq!(line["author_kind"], "automation");
    assert_eq!(line["author_id"], refunds["id"]);
    assert_eq!(line["detail"]["rule"], "退款转售后");
    assert_eq!(line["detail"]["changes"]["priority"], "urgent");
    assert_eq!(line["detail"]["notified"], json!([lead.id]));
    let updated = app.outbox_event("ticket.updated", &id).await;
    let data = serde_json::to_value(&updated.data).unwrap();
    assert_eq!(data["automation"], "退款转售后", "{data}");
    // The lead's bell, through the usual reminder path (two subscribers).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let bell = loop {
        let bell: Value = app
            .staff_get(&lead, "/api/v1/staff/me/bell")
            .await
            .json()
            .await
            .unwrap();
        if bell["items"].as_array().is_some_and(|i| !i.is_empty()) {
            break bell;
        }
        assert!(tokio::time::Instant::now() < deadline, "no bell: {bell}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(bell["items"][0]["kind"], "automation");
    assert_eq!(bell["items"][0]["ticket_id"], id.as_str());

    // Conditions fail (assigned; no keyword): nothing. A later matching
    // ticket shows the earlier events were handled first.
    let taken = app
        .auto_ticket(&admin, json!({ "title": "退款", "assignee_id": agent.id }))
        .await;
    let other = app
        .auto_ticket(&admin, json!({ "title": "发票开错了" }))
        .await;
    let later = app
        .auto_ticket(&admin, json!({ "title": "Refund me" }))
        .await;
    app.after_automations(&admin, &later, 1).await;
    for quiet in [&taken, &other] {
        let d = app.ticket_detail(&admin, quiet).await;
        assert!(automation_lines(&d).is_empty(), "{d}");
        assert_eq!(d["priority"], "normal");
    }
    // The rule's own priority change triggered no automation.
    let d = app.ticket_detail(&admin, &id).await;
    assert_eq!(automation_lines(&d).len(), 1, "{d}");

    // The same event again (at least once, on any node): nothing twice.
    let created = app.outbox_event("ticket.created", &id).await;
    let runner = TicketAutomations(app.state.tickets.clone());
    runner.handle(&created).await.unwrap();
    runner.handle(&created).await.unwrap();
    let again = app.ticket_detail(&admin, &id).await;
    assert_eq!(again["version"], d["version"]);
    assert_eq!(automation_lines(&again).len(), 1);

    // A person's priority change does trigger the second rule.
    let res = app
        .staff_put(
            &admin,
            &format!("/api/v1/staff/tickets/{id}"),
            json!({ "expected_version": again["version"], "priority": "low" }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let d = app.after_automations(&admin, &id, 2).await;
    assert_eq!(d["tags"], json!(["退款", "改过优先级"]));
    assert_eq!(automation_lines(&d)[1]["detail"]["rule"], "优先级变了");

    // Turned off, it stays off.
    let mut off = tagger.clone();
    for k in ["id", "position", "created_at", "updated_at"] {
        off.as_object_mut().unwrap().remove(k);
    }
    off["enabled"] = json!(false);
    let path = format!("{AUTOMATIONS}/{}", tagger["id"].as_str().unwrap());
    let res = app.staff_put(&admin, &path, off).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(res.json::<Value>().await.unwrap()["enabled"], false);
    let res = app
        .staff_put(
            &admin,
            &format!("/api/v1/staff/tickets/{later}"),
            json!({ "expected_version": app.ticket_detail(&admin, &later).await["version"], "priority": "high" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let marker = app
        .auto_ticket(&admin, json!({ "title": "退款 again" }))
        .await;
    app.after_automations(&admin, &marker, 1).await;
    let d = app.ticket_detail(&admin, &later).await;
    assert_eq!(
        automation_lines(&d).len(),
        1,
        "the disabled rule did not run: {d}"
    );
}

#[tokio::test]
async fn a_state_change_the_machine_refuses_is_recorded_not_crashed() {
    let app = spawn_app().await;
    let agent = app.staff("agent-refuse", Role::Agent).await;
    let (admin, _) = app.ticket_desk(&agent).await;
    app.automation(
        &admin,
        json!({ "name": "解决后待回复", "event": "state_changed", "when": { "to_state": "resolved" },
                "then": { "state": "pending", "tags": ["已解决过"] } }),
    )
    .await;
    let id = app.auto_ticket(&admin, json!({ "title": "换货" })).await;
    let res = app
        .staff_post(
            &admin,
            &format!("/api/v1/staff/tickets/{id}/transition"),
            json!({ "to": "resolved", "expected_version": 1 }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let d = app.after_automations(&admin, &id, 1).await;
    assert_eq!(d["state"], "resolved", "resolved never goes to pending");
    assert_eq!(d["tags"], json!(["已解决过"]), "the other actions ran");
    let line = &automation_lines(&d)[0];
    assert_eq!(
        line["detail"]["refused"],
        json!({ "from": "resolved", "to": "pending" })
    );
    // The subscriber goes on: the next event is handled.
    let next = app.auto_ticket(&admin, json!({ "title": "补发" })).await;
    let res = app
        .staff_post(
            &admin,
            &format!("/api/v1/staff/tickets/{next}/transition"),
            json!({ "to": "resolved", "expected_version": 1 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.after_automations(&admin, &next, 1).await;
}

#[tokio::test]
async fn a_webhook_action_reaches_a_real_receiver_signed_and_once() {
    let app = spawn_app().await;
    let agent = app.staff("agent-hook", Role::Agent).await;
    let (admin, _) = app.ticket_desk(&agent).await;
    let receiver = Receiver::start(&app.data_dir, &[]).await;
    // The endpoint itself asks for other events only: the rule sends this one.
    let res = app
        .staff_post(
            &admin,
            "/api/v1/admin/webhooks",
            json!({ "url": receiver.url, "event_types": ["conversation.closed"] }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let endpoint: Value = res.json().await.unwrap();
    app.automation(
        &admin,
        json!({ "name": "加急通知 ERP", "event": "ticket_created", "when": { "priority": "urgent" },
                "then": { "webhook_endpoint_id": endpoint["id"] } }),
    )
    .await;
    app.auto_ticket(&admin, json!({ "title": "普通" })).await;
    let id = app
        .auto_ticket(&admin, json!({ "title": "加急", "priority": "urgent" }))
        .await;
    let got = receiver
        .wait_for("the rule's delivery", 20, |r| !r.is_empty())
        .await;
    assert_eq!(got[0].kind(), "ticket.created");
    assert_eq!(got[0].body["data"]["ticket_id"], id.as_str());
    let (verified, failed) = receiver.verify(endpoint["secret"].as_str().unwrap()).await;
    assert_eq!((verified, failed), (1, 0));
    let d = app.after_automations(&admin, &id, 1).await;
    assert_eq!(automation_lines(&d)[0]["detail"]["webhook"], endpoint["id"]);

    // Again: one delivery only.
    let created = app.outbox_event("ticket.created", &id).await;
    TicketAutomations(app.state.tickets.clone())
        .handle(&created)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn only_admins_manage_automations_and_bad_rules_store_nothing() {
    let app = spawn_app().await;
    let agent = app.staff("agent-au-perm", Role::Agent).await;
    let (admin, department) = app.ticket_desk(&agent).await;
    let good = json!({ "name": "x", "event": "ticket_created", "then": { "priority": "high" } });
    assert_eq!(app.staff_get(&agent, AUTOMATIONS).await.status(), 403);
    assert_eq!(
        app.staff_post(&agent, AUTOMATIONS, good.clone())
            .await
            .status(),
        403
    );
    let made = app.automation(&admin, good.clone()).await;
    let path = format!("{AUTOMATIONS}/{}", made["id"].as_str().unwrap());
    assert_eq!(
        app.staff_put(&agent, &path, good.clone()).await.status(),
        403
    );
    let res = app
        .staff_send(reqwest::Method::DELETE, &agent, &path, json!({}))
        .await;
    assert_eq!(res.status(), 403);

    let rule = |event: &str, when: Value, then: Value| json!({ "name": "r", "event": event, "when": when, "then": then });
    for (body, code) in [
        (
            rule("ticket_created", json!({}), json!({})),
            "invalid_automation",
        ),
        (
            rule(
                "ticket_created",
                json!({ "to_state": "open" }),
                json!({ "priority": "low" }),
            ),
            "invalid_automation",
        ),
        (
            rule("assigned", json!({}), json!({ "notify": { "bell": true } })),
            "invalid_automation",
        ),
        (
            rule(
                "assigned",
                json!({}),
                json!({ "notify": { "assignee": true } }),
            ),
            "invalid_automation",
        ),
        (
            rule(
                "ticket_created",
                json!({}),
                json!({ "department_id": "dep_nope" }),
            ),
            "unknown_department",
        ),
        (
            rule(
                "ticket_created",
                json!({ "department_id": "dep_nope" }),
                json!({ "priority": "low" }),
            ),
            "unknown_department",
        ),
        (
            rule(
                "ticket_created",
                json!({}),
                json!({ "assignee_id": "stf_nope" }),
            ),
            "unknown_assignee",
        ),
        (
            rule(
                "ticket_created",
                json!({}),
                json!({ "notify": { "bell": true, "staff_ids": ["stf_nope"] } }),
            ),
            "unknown_assignee",
        ),
        (
            rule(
                "ticket_created",
                json!({}),
                json!({ "webhook_endpoint_id": "wh_nope" }),
            ),
            "unknown_webhook_endpoint",
        ),
        (
            rule(
                "ticket_created",
                json!({ "type_key": "nope" }),
                json!({ "priority": "low" }),
            ),
            "unknown_ticket_type",
        ),
        (
            json!({ "name": " ", "event": "ticket_created", "then": { "priority": "low" } }),
            "invalid_ticket",
        ),
        (
            rule(
                "ticket_created",
                json!({ "colour": "red" }),
                json!({ "priority": "low" }),
            ),
            "invalid_fields",
        ),
    ] {
        let res = app.staff_post(&admin, AUTOMATIONS, body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let got: Value = res.json().await.unwrap();
        assert_eq!(error_code(&got), code, "{body}: {got}");
    }
    let res = app
        .staff_put(&admin, &path, rule("ticket_created", json!({}), json!({})))
        .await;
    assert_eq!(res.status(), 400);
    let listed: Value = app
        .staff_get(&admin, AUTOMATIONS)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([made]), "refused rules stored nothing");

    // A department condition that exists is fine; then at most 100 rules.
    let with_department = rule(
        "ticket_created",
        json!({ "department_id": department }),
        json!({ "priority": "low" }),
    );
    for _ in 1..100 {
        app.automation(&admin, with_department.clone()).await;
    }
    let res = app.staff_post(&admin, AUTOMATIONS, with_department).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "too_many_automations"
    );

    let res = app
        .staff_send(reqwest::Method::DELETE, &admin, &path, json!({}))
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .staff_send(reqwest::Method::DELETE, &admin, &path, json!({}))
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "automation_not_found"
    );
    let listed: Value = app
        .staff_get(&admin, AUTOMATIONS)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 99);
}

/// Rules run in the list's order, each on the ticket the one before left: the
/// last to set the priority wins. An admin reorders them; an order that
/// misses, repeats or invents a rule is refused and changes nothing; agents
/// may not reorder.
#[tokio::test]
async fn automations_run_in_the_order_an_admin_sets_and_a_bad_order_is_refused() {
    let app = spawn_app().await;
    let agent = app.staff("agent-order", Role::Agent).await;
    let (admin, _logistics) = app.ticket_desk(&agent).await;
    let high = app
        .automation(
            &admin,
            json!({ "name": "设为高", "event": "ticket_created", "then": { "priority": "high" } }),
        )
        .await;
    let low = app
        .automation(
            &admin,
            json!({ "name": "设为低", "event": "ticket_created", "then": { "priority": "low" } }),
        )
        .await;
    let rules_of = |detail: &Value| -> Vec<String> {
        automation_lines(detail)
            .iter()
            .map(|l| l["detail"]["rule"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = app
        .auto_ticket(
            &admin,
            json!({ "title": "顺序一", "description": "先高后低" }),
        )
        .await;
    let detail = app.after_automations(&admin, &first, 2).await;
    assert_eq!(detail["priority"], "low");
    assert_eq!(rules_of(&detail), ["设为高", "设为低"]);

    let order = format!("{AUTOMATIONS}/order");
    let res = app
        .staff_send(
            reqwest::Method::PUT,
            &admin,
            &order,
            json!({ "ids": [low["id"], high["id"]] }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let list: Value = res.json().await.unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["设为低", "设为高"]);
    let second = app
        .auto_ticket(
            &admin,
            json!({ "title": "顺序二", "description": "先低后高" }),
        )
        .await;
    let detail = app.after_automations(&admin, &second, 2).await;
    assert_eq!(detail["priority"], "high");
    assert_eq!(rules_of(&detail), ["设为低", "设为高"]);

    for ids in [
        json!([low["id"]]),
        json!([low["id"], "tau_nope"]),
        json!([low["id"], low["id"]]),
        json!([low["id"], high["id"], "tau_nope"]),
    ] {
        let res = app
            .staff_send(reqwest::Method::PUT, &admin, &order, json!({ "ids": ids }))
            .await;
        assert_eq!(res.status(), 400, "{ids}");
        assert_eq!(
            error_code(&res.json().await.unwrap()),
            "invalid_automation_order"
        );
    }
    let res = app
        .staff_send(
            reqwest::Method::PUT,
            &agent,
            &order,
            json!({ "ids": [high["id"], low["id"]] }),
        )
        .await;
    assert_eq!(res.status(), 403);
    let list: Value = app
        .staff_get(&admin, AUTOMATIONS)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["设为低", "设为高"],
        "a refused order changed nothing"
    );
}

const HOUR_MS: i64 = 3_600_000;

/// The `ticket.idle` events written for `ticket_id`.
async fn idle_events(app: &TestApp, ticket_id: &str) -> usize {
    app.state
        .store
        .outbox_after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.type_name() == "ticket.idle"
                && serde_json::to_value(&e.data).unwrap()["ticket_id"] == ticket_id
        })
        .count()
}

#[tokio::test]
async fn an_idle_rule_runs_once_on_a_ticket_nobody_touched_for_its_hours() {
    let (app, clock) = spawn_on_moving_clock(1_796_004_000_000).await;
    let admin = app.staff("admin-idle", Role::Admin).await;
    let agent = app.staff("agent-idle", Role::Agent).await;

    // Bad idle rules store nothing.
    for bad in [
        json!({ "name": "x", "event": "idle", "then": { "tags": ["t"] } }),
        json!({ "name": "x", "event": "idle", "when": { "idle_hours": 0 }, "then": { "tags": ["t"] } }),
        json!({ "name": "x", "event": "idle", "when": { "idle_hours": 2161 }, "then": { "tags": ["t"] } }),
        json!({ "name": "x", "event": "ticket_created", "when": { "idle_hours": 5 }, "then": { "tags": ["t"] } }),
    ] {
        let res = app.staff_post(&admin, AUTOMATIONS, bad).await;
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_code(&body), "invalid_automation");
    }
    let res = app
        .staff_post(
            &agent,
            AUTOMATIONS,
            json!({ "name": "x", "event": "idle", "when": { "idle_hours": 5 }, "then": { "tags": ["t"] } }),
        )
        .await;
    assert_eq!(res.status(), 403);

    // Waiting for the buyer 72 hours without a word: closed, and tagged.
    let rule = app
        .automation(
            &admin,
            json!({ "name": "等买家超 72 小时自动关闭", "event": "idle",
                    "when": { "idle_hours": 72, "state": "pending" },
                    "then": { "state": "closed", "tags": ["自动关闭"] } }),
        )
        .await;
    assert_eq!(rule["when"]["idle_hours"], 72);
    let quiet = app
        .auto_ticket(
            &admin,
            json!({ "title": "等买家补充照片", "type_key": "general" }),
        )
        .await;
    let talked = app
        .auto_ticket(
            &admin,
            json!({ "title": "等买家确认地址", "type_key": "general" }),
        )
        .await;
    let working = app
        .auto_ticket(
            &admin,
            json!({ "title": "正在处理", "type_key": "general" }),
        )
        .await;
    app.move_to(&admin, &quiet, "pending").await;
    app.move_to(&admin, &talked, "pending").await;

    // 40 hours on, someone comments on one: its clock starts again.
    clock.forward(40 * HOUR_MS);
    let res = app
        .staff_post(
            &admin,
            &format!("/api/v1/staff/tickets/{talked}/comments"),
            json!({ "visibility": "internal", "body": "已打电话，买家稍后回复" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    // 71 hours: nobody is idle long enough.
    clock.forward(31 * HOUR_MS);
    app.state.tickets.sweep_idle(clock.now_ms()).await.unwrap();
    assert_eq!(idle_events(&app, &quiet).await, 0);
    // 72 hours: the quiet pending ticket only (the other was touched, the
    // third is not pending); sweeping again writes nothing more.
    clock.forward(HOUR_MS);
    app.state.tickets.sweep_idle(clock.now_ms()).await.unwrap();
    app.state.tickets.sweep_idle(clock.now_ms()).await.unwrap();
    assert_eq!(idle_events(&app, &quiet).await, 1);
    assert_eq!(idle_events(&app, &talked).await, 0);
    assert_eq!(idle_events(&app, &working).await, 0);
    let closed = app.after_automations(&admin, &quiet, 1).await;
    assert_eq!(closed["state"], "closed", "{closed}");
    assert!(
        closed["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("自动关闭"))
    );
    let line = &automation_lines(&closed)[0];
    assert_eq!(line["detail"]["rule"], "等买家超 72 小时自动关闭");
    assert_eq!(line["detail"]["event"], "ticket.idle");
    // The commented one goes 72 hours after its comment, once.
    clock.forward(40 * HOUR_MS);
    app.state.tickets.sweep_idle(clock.now_ms()).await.unwrap();
    assert_eq!(idle_events(&app, &talked).await, 1);
    assert_eq!(
        app.after_automations(&admin, &talked, 1).await["state"],
        "closed"
    );
    let untouched = app.ticket_detail(&admin, &working).await;
    assert_eq!(untouched["state"], "new");
    assert!(automation_lines(&untouched).is_empty());
    // A closed ticket is never idle.
    clock.forward(100 * HOUR_MS);
    app.state.tickets.sweep_idle(clock.now_ms()).await.unwrap();
    assert_eq!(idle_events(&app, &quiet).await, 1);
}
