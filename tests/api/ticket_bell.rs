//! The console bell through the real API and staff feed: a ticket given to an
//! agent rings their bell live (a `bell` frame on their own feed socket, never
//! on a supervisor's who sees every chat), lists in their bell only, and is
//! marked read by its owner only; the same event delivered again rings once;
//! a person who turned in-app reminders off is not rung.

use crate::helpers::{StaffLogin, TestApp, error_code, next_json, next_of_type, spawn_app};
use crate::tickets::logistics_ticket;
use serde_json::{Value, json};
use std::time::Duration;
use xiaoer::domain::staff::Role;
use xiaoer::services::subscribers::Subscriber;

async fn bell(app: &TestApp, staff: &StaffLogin) -> Value {
    let res = app.staff_get(staff, "/api/v1/staff/me/bell").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// A logistics ticket given to `assignee` by `admin`.
async fn assign_ticket(
    app: &TestApp,
    admin: &StaffLogin,
    department: &str,
    assignee: &StaffLogin,
) -> Value {
    let mut body = logistics_ticket(department);
    body["assignee_id"] = json!(assignee.id);
    let res = app.staff_post(admin, "/api/v1/staff/tickets", body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn in_app(app: &TestApp, staff: &StaffLogin, on: bool) {
    let res = app
        .staff_put(
            staff,
            "/api/v1/staff/me/notifications",
            json!({ "in_app": on }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn a_ticket_given_to_an_agent_rings_their_bell_live_and_only_they_can_mark_it_read() {
    let app = spawn_app().await;
    let agent = app.staff("agent-bell", Role::Agent).await;
    let other = app.staff("agent-bell-2", Role::Agent).await;
    let supervisor = app.staff("super-bell", Role::Supervisor).await;
    let (admin, department) = app.ticket_desk(&agent).await;
    let res = app
        .staff_put(
            &admin,
            &format!(
                "/api/v1/staff/ticket-departments/{department}/members/{}",
                other.id
            ),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let mut agent_ws = app.staff_socket(&agent).await;
    let mut supervisor_ws = app.staff_socket(&supervisor).await;

    let ticket = assign_ticket(&app, &admin, &department, &agent).await;
    assert_eq!(next_of_type(&mut agent_ws, "bell").await["unread"], 1);
    let mine = bell(&app, &agent).await;
    assert_eq!(mine["unread"], 1);
    let item = &mine["items"][0];
    assert_eq!(item["kind"], "assigned");
    assert_eq!(item["ticket_id"], ticket["id"]);
    assert_eq!(item["ticket_number"], ticket["number"]);
    assert!(item["read_at"].is_null(), "{item}");
    // Nobody else's: not in the supervisor's bell, not on their feed.
    assert_eq!(bell(&app, &supervisor).await["items"], json!([]));
    while let Ok(frame) =
        tokio::time::timeout(Duration::from_millis(500), next_json(&mut supervisor_ws)).await
    {
        assert_ne!(frame["type"], "bell", "another person's bell: {frame}");
    }

    // Only its owner marks it read.
    let read = format!(
        "/api/v1/staff/me/bell/{}/read",
        item["id"].as_str().unwrap()
    );
    let res = app.staff_post(&other, &read, json!({})).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "notification_not_found"
    );
    assert_eq!(bell(&app, &agent).await["unread"], 1, "nothing changed");
    let res = app.staff_post(&agent, &read, json!({})).await;
    assert_eq!(res.status(), 204);
    let mine = bell(&app, &agent).await;
    assert_eq!(mine["unread"], 0);
    assert!(mine["items"][0]["read_at"].is_i64(), "{mine}");

    // The event delivered again (at least once) rings nobody twice.
    let events = app.state.store.outbox_after(0, 10_000).await.unwrap();
    let created = events
        .iter()
        .find(|e| e.type_name() == "ticket.created")
        .unwrap();
    xiaoer::services::bell::BellWriter(app.state.bell.clone())
        .handle(created)
        .await
        .unwrap();
    assert_eq!(
        bell(&app, &agent).await["items"].as_array().unwrap().len(),
        1
    );

    // In-app reminders off: the next ticket does not ring the agent. The one
    // after it, for another person, shows the first was handled (in order).
    in_app(&app, &agent, false).await;
    assign_ticket(&app, &admin, &department, &agent).await;
    let mut other_ws = app.staff_socket(&other).await;
    assign_ticket(&app, &admin, &department, &other).await;
    assert_eq!(next_of_type(&mut other_ws, "bell").await["unread"], 1);
    let mine = bell(&app, &agent).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["unread"], 0);

    // Mark all read.
    let res = app
        .staff_post(&other, "/api/v1/staff/me/bell/read-all", json!({}))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(bell(&app, &other).await["unread"], 0);
}
