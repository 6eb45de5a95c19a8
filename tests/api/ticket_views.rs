//! Saved views of the ticket list through the real API: a person saves the
//! list's filters under a name, lists and deletes their own, never another
//! person's; bad filters, a taken name and the 21st view are refused with
//! nothing stored; the saved filters open the list they describe.

use crate::helpers::{StaffLogin, TestApp, error_code, spawn_app};
use crate::tickets::logistics_ticket;
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;

async fn views(app: &TestApp, staff: &StaffLogin) -> Vec<Value> {
    let res = app.staff_get(staff, "/api/v1/staff/ticket-views").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn save(app: &TestApp, staff: &StaffLogin, body: Value) -> (u16, Value) {
    let res = app
        .staff_post(staff, "/api/v1/staff/ticket-views", body)
        .await;
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn delete(app: &TestApp, staff: &StaffLogin, id: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("/api/v1/staff/ticket-views/{id}")))
        .bearer_auth(&staff.token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_person_saves_views_of_the_ticket_list_and_nobody_else_sees_or_deletes_them() {
    let app = spawn_app().await;
    let agent = app.staff("agent-views", Role::Agent).await;
    let colleague = app.staff("agent-views-2", Role::Agent).await;
    let (admin, department) = app.ticket_desk(&agent).await;

    let (status, view) = save(
        &app,
        &agent,
        json!({ "name": " 物流加急 ", "filters": { "state": "new, open", "priority": "urgent",
                                                 "department_id": department } }),
    )
    .await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["name"], "物流加急");
    assert_eq!(
        view["filters"],
        json!({ "state": "new,open", "priority": "urgent", "department_id": department })
    );
    let id = view["id"].as_str().unwrap().to_owned();

    // Bad input: a clear code each, and nothing stored.
    let refused = [
        (
            json!({ "name": "x", "filters": { "state": "lost" } }),
            400,
            "unknown_ticket_state",
        ),
        (
            json!({ "name": "x", "filters": { "department_id": "nope" } }),
            400,
            "unknown_department",
        ),
        (
            json!({ "name": "x", "filters": { "assignee_id": "nobody" } }),
            400,
            "unknown_assignee",
        ),
        (
            json!({ "name": "x", "filters": { "type": "warranty" } }),
            400,
            "unknown_ticket_type",
        ),
        (
            json!({ "name": "  ", "filters": {} }),
            400,
            "invalid_ticket",
        ),
        (
            json!({ "name": "物流加急", "filters": {} }),
            409,
            "ticket_view_name_taken",
        ),
    ];
    for (body, status, code) in refused {
        let (got, answer) = save(&app, &agent, body.clone()).await;
        assert_eq!(
            (got, error_code(&answer)),
            (status, code),
            "{body}: {answer}"
        );
    }
    let (got, _) = save(
        &app,
        &agent,
        json!({ "name": "x", "filters": { "limit": 5 } }),
    )
    .await;
    assert!(
        (400..500).contains(&got),
        "an unknown filter is refused: {got}"
    );
    assert_eq!(views(&app, &agent).await, vec![view.clone()]);

    // Per person: the colleague neither lists nor deletes it, and may use the name.
    assert_eq!(views(&app, &colleague).await, Vec::<Value>::new());
    let res = delete(&app, &colleague, &id).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "ticket_view_not_found"
    );
    assert_eq!(views(&app, &agent).await.len(), 1);
    let (status, _) = save(&app, &colleague, json!({ "name": "物流加急" })).await;
    assert_eq!(status, 201);

    // The saved filters open the list they describe.
    let mut urgent = logistics_ticket(&department);
    urgent["priority"] = json!("urgent");
    urgent["title"] = json!("加急：包裹破损");
    for body in [urgent, logistics_ticket(&department)] {
        let res = app.staff_post(&admin, "/api/v1/staff/tickets", body).await;
        assert_eq!(res.status(), 201);
    }
    let f = &view["filters"];
    let list: Vec<Value> = app
        .staff_get(
            &agent,
            &format!(
                "/api/v1/staff/tickets?state={}&priority={}&department_id={}",
                f["state"].as_str().unwrap(),
                f["priority"].as_str().unwrap(),
                f["department_id"].as_str().unwrap()
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = list.iter().map(|k| k["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["加急：包裹破损"]);

    // At most 20 each.
    for n in 2..=20 {
        let (status, _) = save(&app, &agent, json!({ "name": format!("视图 {n}") })).await;
        assert_eq!(status, 201);
    }
    let (status, answer) = save(&app, &agent, json!({ "name": "第 21 个" })).await;
    assert_eq!(
        (status, error_code(&answer)),
        (409, "too_many_ticket_views")
    );
    assert_eq!(views(&app, &agent).await.len(), 20);

    // The owner deletes it; a second delete finds nothing.
    assert_eq!(delete(&app, &agent, &id).await.status(), 204);
    assert_eq!(delete(&app, &agent, &id).await.status(), 404);
    let left = views(&app, &agent).await;
    assert_eq!(left.len(), 19);
    assert!(left.iter().all(|v| v["id"] != id.as_str()));
}
