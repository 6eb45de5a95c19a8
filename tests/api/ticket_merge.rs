//! Merging duplicate tickets and watchers through the real API.

use crate::helpers::{StaffLogin, TestApp, error_code, spawn_app};
use crate::tickets::logistics_ticket;
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;

impl TestApp {
    async fn new_ticket(&self, staff: &StaffLogin, department: &str) -> Value {
        let res = self
            .staff_post(staff, "/api/v1/staff/tickets", logistics_ticket(department))
            .await;
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }

    async fn detail_of(&self, staff: &StaffLogin, id: &str) -> Value {
        self.staff_get(staff, &format!("/api/v1/staff/tickets/{id}"))
            .await
            .json()
            .await
            .unwrap()
    }

    async fn merge(
        &self,
        staff: &StaffLogin,
        id: &str,
        into: &str,
        version: i64,
    ) -> reqwest::Response {
        self.staff_post(
            staff,
            &format!("/api/v1/staff/tickets/{id}/merge"),
            json!({ "into": into, "expected_version": version, "note": "同一个包裹" }),
        )
        .await
    }
}

fn history_kinds(detail: &Value) -> Vec<(String, Value)> {
    detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["kind"].as_str().unwrap().to_owned(), h["detail"].clone()))
        .collect()
}

#[tokio::test]
async fn a_duplicate_is_closed_as_merged_and_both_histories_link_to_each_other() {
    let app = spawn_app().await;
    let agent = app.staff("agent-merge", Role::Agent).await;
    let (_admin, department) = app.ticket_desk(&agent).await;
    let keep = app.new_ticket(&agent, &department).await;
    let duplicate = app.new_ticket(&agent, &department).await;
    let (keep_id, dup_id) = (
        keep["id"].as_str().unwrap(),
        duplicate["id"].as_str().unwrap(),
    );
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/tickets/{dup_id}/comments"),
            json!({ "visibility": "internal", "body": "买家又开了一个" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let version = app.detail_of(&agent, dup_id).await["version"]
        .as_i64()
        .unwrap();

    // Refused, and nothing changes: into itself, stale, unknown target.
    for (into, v, status, code) in [
        (dup_id, version, 400, "merge_into_self"),
        (
            keep["number"].as_str().unwrap(),
            version - 1,
            409,
            "stale_ticket_version",
        ),
        ("T19990101-0001", version, 400, "unknown_merge_target"),
    ] {
        let res = app.merge(&agent, dup_id, into, v).await;
        assert_eq!(res.status(), status, "{into}");
        assert_eq!(error_code(&res.json().await.unwrap()), code);
    }
    assert_eq!(app.detail_of(&agent, dup_id).await["version"], version);
    assert_eq!(app.detail_of(&agent, keep_id).await["version"], 1);

    let res = app
        .merge(&agent, dup_id, keep["number"].as_str().unwrap(), version)
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let merged = app.detail_of(&agent, dup_id).await;
    assert_eq!(merged["state"], "closed");
    assert!(
        merged["status_text_shown"]
            .as_str()
            .unwrap()
            .contains(keep["number"].as_str().unwrap())
    );
    assert_eq!(
        merged["comments"][0]["body"], "买家又开了一个",
        "comments stay"
    );
    let into = history_kinds(&merged)
        .into_iter()
        .find(|(k, _)| k == "merged_into")
        .expect("the duplicate's history names the ticket it went into");
    assert_eq!(into.1["ticket_id"], keep_id);
    let kept = app.detail_of(&agent, keep_id).await;
    let from = history_kinds(&kept)
        .into_iter()
        .find(|(k, _)| k == "merged_from")
        .expect("the kept ticket's history names the duplicate");
    assert_eq!(from.1["ticket_id"], dup_id);
    assert_eq!(from.1["number"], duplicate["number"]);

    // A closed ticket takes no merge either way.
    let third = app.new_ticket(&agent, &department).await;
    let res = app
        .merge(&agent, third["id"].as_str().unwrap(), dup_id, 1)
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_code(&res.json().await.unwrap()), "merge_into_closed");
    let closed_version = merged["version"].as_i64().unwrap();
    let res = app.merge(&agent, dup_id, keep_id, closed_version).await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "invalid_ticket_transition"
    );
}

#[tokio::test]
async fn a_watcher_from_another_department_sees_the_ticket_until_removed() {
    let app = spawn_app().await;
    let agent = app.staff("agent-watch", Role::Agent).await;
    let outsider = app.staff("agent-outside", Role::Agent).await;
    let (_admin, department) = app.ticket_desk(&agent).await;
    let ticket = app.new_ticket(&agent, &department).await;
    let id = ticket["id"].as_str().unwrap();
    let path = format!("/api/v1/staff/tickets/{id}");
    assert_eq!(app.staff_get(&outsider, &path).await.status(), 403);
    let watcher = format!("{path}/watchers/{}", outsider.id);
    let res = app.staff_put(&agent, &watcher, json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!([outsider.id]));
    assert_eq!(app.staff_get(&outsider, &path).await.status(), 200);
    assert_eq!(
        app.detail_of(&agent, id).await["watchers"],
        json!([outsider.id])
    );
    let res = app
        .staff_put(&agent, &format!("{path}/watchers/stf_nobody"), json!({}))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&res.json().await.unwrap()), "unknown_assignee");
    let res = app
        .client
        .delete(app.url(&watcher))
        .bearer_auth(&outsider.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.staff_get(&outsider, &path).await.status(), 403);
}
