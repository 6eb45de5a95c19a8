//! Ticket routing rules through the real API: the first matching rule routes
//! a new ticket; what the creator chose stays; bad rules store nothing.

use crate::helpers::{StaffLogin, TestApp, error_code, spawn_app};
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;

const RULES: &str = "/api/v1/admin/ticket-routing-rules";

impl TestApp {
    async fn general_ticket(&self, staff: &StaffLogin, body: Value) -> Value {
        let res = self.staff_post(staff, "/api/v1/staff/tickets", body).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.staff_get(staff, &format!("/api/v1/staff/tickets/{id}"))
            .await
            .json()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn the_first_matching_rule_routes_a_new_ticket_and_bad_rules_store_nothing() {
    let app = spawn_app().await;
    let agent = app.staff("agent-route", Role::Agent).await;
    let lead = app.staff("lead-route", Role::Agent).await;
    let (admin, logistics) = app.ticket_desk(&agent).await;
    let res = app
        .staff_post(
            &admin,
            "/api/v1/staff/ticket-departments",
            json!({ "name": "财务 Finance" }),
        )
        .await;
    let finance = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let rules = json!({ "rules": [
        { "name": "退款找财务", "when": { "keywords": ["退款", "Refund"] },
          "then": { "department_id": finance, "assignee_id": lead.id, "tags": ["财务"] } },
        { "name": "物流加急", "when": { "keywords": ["快递", "包裹"], "priority": "normal" },
          "then": { "department_id": logistics, "priority": "urgent", "tags": ["物流", "加急"] } },
        { "name": "物流兜底", "when": { "keywords": ["快递"] },
          "then": { "department_id": finance } },
    ]});
    // Agents may not read or change the rules.
    assert_eq!(app.staff_get(&agent, RULES).await.status(), 403);
    assert_eq!(
        app.staff_put(&agent, RULES, rules.clone()).await.status(),
        403
    );
    let res = app.staff_put(&admin, RULES, rules.clone()).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let stored: Value = app.staff_get(&admin, RULES).await.json().await.unwrap();
    assert_eq!(stored["rules"].as_array().unwrap().len(), 3);
    assert_eq!(stored["rules"][1]["name"], "物流加急");

    // Keywords in the description, any case; the second rule is the first
    // that matches (the first looks for refunds).
    let routed = app
        .general_ticket(
            &admin,
            json!({ "title": "我的单子", "description": "快递三天没动了" }),
        )
        .await;
    assert_eq!(routed["department_id"], logistics.as_str());
    assert_eq!(routed["priority"], "urgent");
    assert_eq!(routed["tags"], json!(["物流", "加急"]));
    assert!(routed["assignee_id"].is_null());
    let created = &routed["history"][0];
    assert_eq!(created["kind"], "created");
    assert_eq!(created["detail"]["routing_rule"], "物流加急");

    // A high-priority parcel ticket skips rule 2 and falls to rule 3.
    let high = app
        .general_ticket(&admin, json!({ "title": "快递丢了", "priority": "high" }))
        .await;
    assert_eq!(high["department_id"], finance.as_str());
    assert_eq!(high["priority"], "high");

    // Rule 1 gives a person and a department; a department the creator
    // chose stays, and so does the person when one was chosen.
    let refund = app
        .general_ticket(&admin, json!({ "title": "REFUND please" }))
        .await;
    assert_eq!(refund["department_id"], finance.as_str());
    assert_eq!(refund["assignee_id"], lead.id.as_str());
    let chosen = app
        .general_ticket(
            &admin,
            json!({ "title": "退款和快递", "department_id": logistics, "assignee_id": agent.id }),
        )
        .await;
    assert_eq!(chosen["department_id"], logistics.as_str());
    assert_eq!(chosen["assignee_id"], agent.id.as_str());
    assert_eq!(chosen["tags"], json!(["财务"]));

    // Nothing matches: the ticket stays as created, no rule named.
    let plain = app
        .general_ticket(&admin, json!({ "title": "发票抬头开错了" }))
        .await;
    assert!(plain["department_id"].is_null());
    assert_eq!(plain["priority"], "normal");
    assert!(plain["history"][0]["detail"]["routing_rule"].is_null());

    // Bad rules: 400 with a stable code, the stored rules unchanged.
    let one = |when: Value, then: Value| json!({ "rules": [{ "name": "x", "when": when, "then": then }] });
    for (body, code) in [
        (one(json!({}), json!({})), "invalid_routing_rule"),
        (
            json!({ "rules": [{ "name": " ", "then": { "priority": "high" } }] }),
            "invalid_ticket",
        ),
        (
            one(json!({}), json!({ "department_id": "dep_nope" })),
            "unknown_department",
        ),
        (
            one(json!({}), json!({ "assignee_id": "stf_nope" })),
            "unknown_assignee",
        ),
        (
            one(json!({ "type_key": "nope" }), json!({ "priority": "low" })),
            "unknown_ticket_type",
        ),
        (
            one(json!({ "keywords": [""] }), json!({ "priority": "low" })),
            "invalid_routing_rule",
        ),
        (
            one(json!({ "colour": "red" }), json!({ "priority": "low" })),
            "invalid_fields",
        ),
    ] {
        let res = app.staff_put(&admin, RULES, body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let got: Value = res.json().await.unwrap();
        assert_eq!(error_code(&got), code, "{body}: {got}");
    }
    let after: Value = app.staff_get(&admin, RULES).await.json().await.unwrap();
    assert_eq!(after, stored, "a refused change keeps the stored rules");
}
