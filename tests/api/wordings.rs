//! Suggested wordings through the real API: a scripted model proposes other
//! wordings of a published entry with few, the real e5 model and index learn
//! the one a knowledge manager accepts, and a rejected one stays rejected.

use crate::bot_scripted::replying;
use crate::helpers::{TestApp, error_code, raw_sql, spawn_with, test_settings};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xiaoer::domain::staff::Role;
use xiaoer::llm::scripted::ScriptedChatModel;
use xiaoer::startup::{Adapters, Models};

/// What the model says, whatever it is asked: a heading, three usable
/// wordings, a repeat of the question, an English line and a one-character one.
const PROPOSED: &str = "以下是其他问法：\n1. 买的衣服不合适能退吗\n2. 怎么退货？\n3. 收到的东西不喜欢可以退吗\n4. Can I return it?\n5. 退\n6. 七天内能退吗";

async fn spawn_proposing(model: Arc<ScriptedChatModel>, on: bool) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.bot = true;
    settings.wording_suggestions = on;
    let adapters = Adapters {
        models: Some(Models {
            llm: model,
            embedder: crate::bot_support::shared_models().embedder,
        }),
        knowledge: None,
        commerce: None,
    };
    spawn_with(dir, settings, adapters).await
}

async fn json_of(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn send(
    app: &TestApp,
    staff: &crate::helpers::StaffLogin,
    path: &str,
    body: Value,
) -> (u16, Value) {
    json_of(app.staff_post(staff, path, body).await).await
}

/// A knowledge manager's accept or reject of a suggestion.
async fn decide(
    app: &TestApp,
    staff: &crate::helpers::StaffLogin,
    id: &str,
    verdict: &str,
) -> (u16, Value) {
    let path = format!("/api/v1/kb/wording-suggestions/{id}/{verdict}");
    send(app, staff, &path, json!({})).await
}

async fn pending(app: &TestApp, staff: &crate::helpers::StaffLogin) -> Vec<Value> {
    let (status, body) =
        json_of(app.staff_get(staff, "/api/v1/kb/wording-suggestions").await).await;
    assert_eq!(status, 200, "{body}");
    body["suggestions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_entry_with_few_wordings_gets_proposals_and_an_accepted_one_becomes_its_similar_question()
 {
    let app = spawn_proposing(replying(PROPOSED), true).await;
    let km = app.staff("kim-wordings", Role::KnowledgeManager).await;
    let agent = app.staff("amy-wordings", Role::Agent).await;
    let (s, _) = send(
        &app,
        &km,
        "/api/v1/kb/categories",
        json!({ "path": "售后" }),
    )
    .await;
    assert_eq!(s, 201);
    for entry in [
        // One wording, published: proposals.
        json!({ "id": "returns-few", "question": "怎么退货", "answer": "签收后7天内可以在订单页申请退货。",
                "category": "售后", "status": "published" }),
        // Three wordings: none needed.
        json!({ "id": "ship-many", "question": "几天发货", "similar": ["什么时候发货", "多久发出"],
                "answer": "付款后48小时内发货。", "category": "售后", "status": "published" }),
        // A draft: the bot does not use it yet, so no proposals either.
        json!({ "id": "invoice-draft", "question": "发票怎么开", "answer": "下单时备注抬头和税号。",
                "category": "售后" }),
    ] {
        let (s, body) = send(&app, &km, "/api/v1/kb/entries", entry).await;
        assert_eq!(s, 201, "{body}");
    }
    let (s, body) = send(
        &app,
        &km,
        "/api/v1/kb/wording-suggestions/refresh",
        json!({}),
    )
    .await;
    assert_eq!(
        (s, body["refreshing"].clone()),
        (202, json!(true)),
        "{body}"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut waiting = pending(&app, &agent).await;
    while waiting.len() < 3 {
        assert!(Instant::now() < deadline, "no proposals: {waiting:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        waiting = pending(&app, &agent).await;
    }
    let texts: Vec<&str> = waiting
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "买的衣服不合适能退吗",
            "收到的东西不喜欢可以退吗",
            "七天内能退吗"
        ],
        "the heading, the repeat, the English and the too-short lines are dropped"
    );
    for s in &waiting {
        assert_eq!(s["entry_id"], "returns-few", "{s}");
        assert_eq!(s["entry_question"], "怎么退货");
        assert_eq!(s["entry_wordings"], 1);
        assert_eq!(s["status"], "pending");
    }
    let id = |i: usize| waiting[i]["id"].as_str().unwrap().to_owned();

    // Agents read them; only knowledge managers decide.
    let (s, body) = json_of(
        app.staff_post(
            &agent,
            &format!("/api/v1/kb/wording-suggestions/{}/accept", id(0)),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 403, "{body}");

    let (s, accepted) = decide(&app, &km, &id(0), "accept").await;
    assert_eq!(s, 200, "{accepted}");
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["decided_by"], "kim-wordings");
    assert_eq!(accepted["entry_wordings"], 2);
    let (_, entry) = json_of(app.staff_get(&km, "/api/v1/kb/entries/returns-few").await).await;
    assert_eq!(entry["similar"], json!(["买的衣服不合适能退吗"]), "{entry}");
    assert_eq!(entry["version"], 2, "an edit like any other: a new version");
    let (_, versions) = json_of(
        app.staff_get(&km, "/api/v1/kb/entries/returns-few/versions")
            .await,
    )
    .await;
    assert_eq!(
        versions["versions"][0]["note"], "wording_accepted",
        "{versions}"
    );
    assert_eq!(versions["versions"][0]["author"], "kim-wordings");

    // The index learned it: the wording finds its entry.
    let url = reqwest::Url::parse_with_params(
        &app.url("/api/v1/kb/search"),
        &[("q", "买的衣服不合适能退吗")],
    )
    .unwrap();
    let search = app
        .client
        .get(url)
        .bearer_auth(&km.token)
        .send()
        .await
        .unwrap();
    let (_, found) = json_of(search).await;
    assert_eq!(found["hits"][0]["entry_id"], "returns-few", "{found}");

    // Decided is decided.
    let (s, body) = decide(&app, &km, &id(0), "accept").await;
    assert_eq!(
        (s, error_code(&body)),
        (409, "suggestion_decided"),
        "{body}"
    );
    let (s, rejected) = decide(&app, &km, &id(1), "reject").await;
    assert_eq!(
        (s, rejected["status"].clone()),
        (200, json!("rejected")),
        "{rejected}"
    );
    let (s, body) = decide(&app, &km, &id(1), "accept").await;
    assert_eq!(
        (s, error_code(&body)),
        (409, "suggestion_decided"),
        "{body}"
    );
    let (_, entry) = json_of(app.staff_get(&km, "/api/v1/kb/entries/returns-few").await).await;
    assert_eq!(entry["version"], 2, "a refused accept changes nothing");
    let (s, body) = send(
        &app,
        &km,
        "/api/v1/kb/wording-suggestions/no-such-id/reject",
        json!({}),
    )
    .await;
    assert_eq!(
        (s, error_code(&body)),
        (404, "suggestion_not_found"),
        "{body}"
    );
    let (s, body) = json_of(
        app.staff_get(&km, "/api/v1/kb/wording-suggestions?status=maybe")
            .await,
    )
    .await;
    assert_eq!((s, error_code(&body)), (400, "bad_status"), "{body}");

    // The entry changed and still has only two wordings: the model is asked
    // about its new version, and proposes nothing it proposed before.
    let (s, _) = send(
        &app,
        &km,
        "/api/v1/kb/wording-suggestions/refresh",
        json!({}),
    )
    .await;
    assert_eq!(s, 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    let asked_again = "UPDATE kb_wording_asks SET asked_at = asked_at \
                       WHERE entry_id = 'returns-few' AND version = 2";
    while raw_sql(&app, asked_again).await.unwrap() == 0 {
        assert!(
            Instant::now() < deadline,
            "the new version was not asked about"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let left = pending(&app, &km).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["id"].as_str().unwrap(), id(2));
    let (_, all) = json_of(
        app.staff_get(&km, "/api/v1/kb/wording-suggestions?status=all")
            .await,
    )
    .await;
    let statuses: Vec<&str> = all["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["accepted", "rejected", "pending"], "{all}");
    assert_eq!(all["enabled"], true);
    // The drafts and the entry with three wordings were never asked about.
    for entry in ["ship-many", "invoice-draft"] {
        let sql =
            format!("UPDATE kb_wording_asks SET asked_at = asked_at WHERE entry_id = '{entry}'");
        assert_eq!(raw_sql(&app, &sql).await.unwrap(), 0, "{entry}");
    }
}

#[tokio::test]
async fn a_server_that_does_not_propose_says_so() {
    let app = spawn_proposing(replying(PROPOSED), false).await;
    let km = app.staff("kim-off", Role::KnowledgeManager).await;
    let (s, body) = json_of(app.staff_get(&km, "/api/v1/kb/wording-suggestions").await).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["enabled"], false);
    assert_eq!(body["suggestions"], json!([]));
    let (s, body) = json_of(
        app.staff_post(&km, "/api/v1/kb/wording-suggestions/refresh", json!({}))
            .await,
    )
    .await;
    assert_eq!(
        (s, error_code(&body)),
        (409, "wording_suggestions_off"),
        "{body}"
    );
}
