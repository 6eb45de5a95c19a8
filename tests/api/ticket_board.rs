//! The ticket board and the CSV export through the real API, on a clock the
//! test moves (so "overdue" is a fact, not a race).

use crate::helpers::{StaffLogin, TestApp, error_code, spawn_with_clock, test_settings};
use crate::ticket_buyer::{MovingClock, ticket_for_buyer};
use crate::tickets::logistics_ticket;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use xiaoer::domain::staff::Role;
use xiaoer::domain::tickets::{Priority, TicketState};
use xiaoer::storage::TicketFilter;

/// The app on a clock the test moves; sessions outlive the days it skips.
async fn spawn_on_a_moving_clock() -> (TestApp, Arc<MovingClock>) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.session_hours = 24 * 365;
    let clock = Arc::new(MovingClock(AtomicI64::new(1_796_000_000_000)));
    let app = spawn_with_clock(dir, settings, Default::default(), clock.clone()).await;
    (app, clock)
}

/// Ageing: active tickets by how long ago they were opened, at the edges of
/// the bands (exactly one day old is one to three days); resolved tickets and
/// tickets the caller may not see are left out.
#[tokio::test]
async fn the_board_ages_active_tickets_by_when_they_were_opened() {
    const DAY: i64 = 86_400_000;
    let (app, clock) = spawn_on_a_moving_clock().await;
    let agent = app.staff("agent-ageing", Role::Agent).await;
    let outsider = app.staff("agent-not-ageing", Role::Agent).await;
    let supervisor = app.staff("super-ageing", Role::Supervisor).await;
    let (_admin, department) = app.ticket_desk(&agent).await;
    let open = |title: &str| {
        let mut body = logistics_ticket(&department);
        body["title"] = json!(title);
        body["assignee_id"] = json!(agent.id);
        app.staff_post(&agent, "/api/v1/staff/tickets", body)
    };
    // Opened 10 days, 7 days, 3 days, 1 day and 1 hour before the board is read;
    // one more 5 days before, resolved since. The clock only moves forward:
    // the oldest is opened first.
    let mut resolved = None;
    let mut ago_now = 10 * DAY;
    for (title, ago) in [
        ("ten days", 10 * DAY),
        ("seven days", 7 * DAY),
        ("resolved", 5 * DAY),
        ("three days", 3 * DAY),
        ("one day", DAY),
        ("one hour", DAY / 24),
    ] {
        clock.forward(ago_now - ago);
        ago_now = ago;
        let res = open(title).await;
        assert_eq!(res.status(), 201);
        if title == "resolved" {
            let ticket: Value = res.json().await.unwrap();
            resolved = Some(ticket["id"].as_str().unwrap().to_owned());
        }
    }
    clock.forward(ago_now);
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/tickets/{}/transition", resolved.unwrap()),
            json!({ "to": "resolved", "expected_version": 1 }),
        )
        .await;
    assert_eq!(res.status(), 200);

    let ageing = |board: &Value| -> Vec<(String, i64)> {
        board["ageing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["band"].as_str().unwrap().to_owned(),
                    b["count"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let board: Value = app
        .staff_get(&supervisor, "/api/v1/staff/tickets/board")
        .await
        .json()
        .await
        .unwrap();
    // under a day: one hour; [1, 3) days: one day; [3, 7): three days;
    // 7 and more: seven and ten days. The resolved one counts nowhere.
    let want = |counts: [i64; 4]| -> Vec<(String, i64)> {
        ["under_1d", "1d_3d", "3d_7d", "over_7d"]
            .iter()
            .zip(counts)
            .map(|(band, n)| (band.to_string(), n))
            .collect()
    };
    assert_eq!(ageing(&board), want([1, 1, 1, 2]), "{board}");
    // Filters apply: the low-priority list has none of them.
    let low: Value = app
        .staff_get(&supervisor, "/api/v1/staff/tickets/board?priority=low")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ageing(&low), want([0, 0, 0, 0]));
    // Another department's agent sees every band, all empty.
    let theirs: Value = app
        .staff_get(&outsider, "/api/v1/staff/tickets/board")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ageing(&theirs), want([0, 0, 0, 0]));
}

#[tokio::test]
async fn the_board_counts_what_i_may_see_and_the_csv_holds_the_filtered_list() {
    let (app, clock) = spawn_on_a_moving_clock().await;
    let agent = app.staff("agent-board", Role::Agent).await;
    let outsider = app.staff("agent-elsewhere", Role::Agent).await;
    let supervisor = app.staff("super-board", Role::Supervisor).await;
    let (_admin, department) = app.ticket_desk(&agent).await;
    let mut ids = Vec::new();
    for (priority, title) in [
        ("high", "包裹丢失, \"急\""),
        ("normal", "=补发"),
        ("low", "发票"),
    ] {
        let mut body = logistics_ticket(&department);
        body["priority"] = json!(priority);
        body["title"] = json!(title);
        body["assignee_id"] = json!(agent.id);
        let res = app.staff_post(&agent, "/api/v1/staff/tickets", body).await;
        assert_eq!(res.status(), 201);
        ids.push(
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // The low one is resolved at once (within its target).
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/tickets/{}/transition", ids[2]),
            json!({ "to": "resolved", "expected_version": 1 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    clock.forward(30 * 86_400_000);

    let board: Value = app
        .staff_get(&supervisor, "/api/v1/staff/tickets/board")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        board["by_state"],
        json!({ "new": 2, "resolved": 1 }),
        "{board}"
    );
    assert_eq!(board["by_priority"], json!({ "high": 1, "normal": 1 }));
    assert_eq!(
        board["by_department"],
        json!([{ "id": department, "count": 2 }])
    );
    assert_eq!(board["workload"], json!([{ "id": agent.id, "count": 2 }]));
    assert_eq!(board["sla_attainment_pct"], json!(100.0));
    let overdue: Vec<&str> = board["overdue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(overdue.len(), 2);
    assert!(overdue.contains(&ids[0].as_str()) && overdue.contains(&ids[1].as_str()));
    assert_eq!(board["due_soon"], json!([]));

    // Another department's agent sees none of it.
    let theirs: Value = app
        .staff_get(&outsider, "/api/v1/staff/tickets/board")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["by_state"], json!({}));
    assert_eq!(theirs["overdue"], json!([]));

    // CSV of the filtered list, cells quoted and formulas defused.
    let res = app
        .staff_get(&agent, "/api/v1/staff/tickets/export.csv?state=new")
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0]
            .trim_start_matches('\u{feff}')
            .starts_with("number,title,")
    );
    assert!(text.contains("\"包裹丢失, \"\"急\"\"\""), "{text}");
    assert!(text.contains(",'=补发,"), "{text}");
    assert!(!text.contains("发票"), "the resolved one is filtered out");
    let res = app
        .staff_get(&agent, "/api/v1/staff/tickets/export.csv?state=bogus")
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "unknown_ticket_state"
    );
}

impl TestApp {
    async fn version_of(&self, staff: &StaffLogin, id: &str) -> i64 {
        let t: Value = self
            .staff_get(staff, &format!("/api/v1/staff/tickets/{id}"))
            .await
            .json()
            .await
            .unwrap();
        t["version"].as_i64().unwrap()
    }

    /// Sends a ticket change guarded by its current version; 200 expected.
    async fn change(&self, staff: &StaffLogin, id: &str, action: &str, mut body: Value) {
        body["expected_version"] = json!(self.version_of(staff, id).await);
        let path = format!("/api/v1/staff/tickets/{id}{action}");
        let res = if action.is_empty() {
            self.staff_put(staff, &path, body).await
        } else {
            self.staff_post(staff, &path, body).await
        };
        assert_eq!(res.status(), 200, "{action}: {}", res.text().await.unwrap());
    }
}

#[tokio::test]
async fn the_running_board_counts_equal_a_fresh_grouping_after_every_kind_of_ticket_change() {
    let (app, clock) = spawn_on_a_moving_clock().await;
    let agent = app.staff("agent-count", Role::Agent).await;
    let other = app.staff("agent-count-2", Role::Agent).await;
    let (admin, logistics) = app.ticket_desk(&agent).await;
    let res = app
        .staff_post(
            &admin,
            "/api/v1/staff/ticket-departments",
            json!({ "name": "财务 Finance" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let finance = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!(
        "/api/v1/staff/ticket-departments/{finance}/members/{}",
        other.id
    );
    assert_eq!(app.staff_put(&admin, &path, json!({})).await.status(), 204);

    let mut ids = Vec::new();
    for (priority, assignee) in [
        ("high", Some(&agent.id)),
        ("high", None),
        ("normal", Some(&agent.id)),
        ("low", None),
        ("urgent", Some(&agent.id)),
        ("normal", None),
    ] {
        let mut body = logistics_ticket(&logistics);
        body["priority"] = json!(priority);
        body["assignee_id"] = json!(assignee);
        let res = app.staff_post(&agent, "/api/v1/staff/tickets", body).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        ids.push(
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (buyer, from_chat) = ticket_for_buyer(&app, &agent).await;

    // Transfers, a cleared assignee, state changes, one resolved in time.
    let to_finance = json!({ "department_id": finance, "assignee_id": other.id });
    app.change(&agent, &ids[1], "", to_finance).await;
    app.change(
        &agent,
        &ids[2],
        "",
        json!({ "assignee_id": "", "priority": "low" }),
    )
    .await;
    app.change(&agent, &ids[0], "/transition", json!({ "to": "open" }))
        .await;
    app.change(&agent, &ids[3], "/transition", json!({ "to": "pending" }))
        .await;
    app.change(&agent, &ids[4], "/transition", json!({ "to": "resolved" }))
        .await;
    // A month on, the sweeper finds the running clocks past their targets;
    // one more resolved late, one closed, a duplicate merged.
    clock.forward(30 * 86_400_000);
    let swept = app
        .state
        .tickets
        .sweep(clock.0.load(std::sync::atomic::Ordering::SeqCst))
        .await;
    assert!(swept.unwrap().escalated > 0);
    app.change(&agent, &ids[0], "/transition", json!({ "to": "resolved" }))
        .await;
    app.change(&agent, &ids[0], "/transition", json!({ "to": "closed" }))
        .await;
    let merge = json!({ "into": ids[2], "note": "同一个包裹" });
    app.change(&agent, &ids[5], "/merge", merge).await;
    // The buyer is erased: their ticket stays, blanked, in its group.
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/admin/buyers/{}", buyer.visitor_id)))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(!from_chat.is_empty());

    let store = &app.state.store;
    let views = [
        TicketFilter::default(),
        TicketFilter {
            visible_to: Some((agent.id.clone(), vec![logistics.clone()])),
            ..TicketFilter::default()
        },
        TicketFilter {
            visible_to: Some((other.id.clone(), vec![finance.clone()])),
            ..TicketFilter::default()
        },
        TicketFilter {
            states: vec![TicketState::New, TicketState::Open],
            priority: Some(Priority::High),
            ..TicketFilter::default()
        },
        TicketFilter {
            department_id: Some(logistics.clone()),
            assignee_id: Some(agent.id.clone()),
            ..TicketFilter::default()
        },
    ];
    for view in &views {
        let counted = store.ticket_board_counted(view).await.unwrap();
        let scanned = store.ticket_board_scanned(view).await.unwrap();
        assert_eq!(counted, scanned, "{view:?}");
    }
    let all = store.ticket_board_counted(&views[0]).await.unwrap();
    let states: i64 = all.by_state.iter().map(|(_, n)| n).sum();
    assert_eq!(states, 7);
    assert_eq!((all.done, all.done_in_time), (3, 1), "{all:?}");
    let finance_view = store.ticket_board_counted(&views[2]).await.unwrap();
    assert_eq!(finance_view.by_department, vec![(Some(finance), 1)]);
}
