//! The ticket board and the CSV export through the real API, on a clock the
//! test moves (so "overdue" is a fact, not a race).

use crate::helpers::{error_code, spawn_with_clock, test_settings};
use crate::ticket_buyer::MovingClock;
use crate::tickets::logistics_ticket;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use xiaoer::domain::staff::Role;

#[tokio::test]
async fn the_board_counts_what_i_may_see_and_the_csv_holds_the_filtered_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    // The test clock runs days ahead: sessions must outlive it.
    settings.session_hours = 24 * 365;
    let clock = Arc::new(MovingClock(AtomicI64::new(1_796_000_000_000)));
    let app = spawn_with_clock(dir, settings, Default::default(), clock.clone()).await;
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
