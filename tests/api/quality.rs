//! Quality inspection (质检) through the real API, on the scripted analytics
//! day (C2 li; C3 li → wang, transferred; C5 wang, CSAT 2): rubrics, sampling
//! that picks the same conversations for the same seed, scoring against the
//! rubric beside the decrypted transcript, the agent's one appeal, the
//! settlement, who may see what, and the QA score in the per-agent report.

use crate::analytics::{Day, spawn_day};
use crate::helpers::{StaffLogin, TestApp, error_code};
use crate::ticket_buyer::spawn_on_moving_clock;
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;

const DAY_MS: i64 = 86_400_000;

const DAY: &str = "2026-11-30";

async fn ok(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

async fn refused(res: reqwest::Response, status: u16, code: &str) {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!((got, error_code(&body)), (status, code), "{body}");
}

/// A rubric: base 90, greeting adds up to 10, rudeness deducts up to 50.
async fn scheme(day: &Day) -> String {
    let body = json!({ "name": "售后质检", "base": 90, "items": [
        { "key": "greeting", "label": "主动问候", "kind": "add", "points": 10 },
        { "key": "rude", "label": "态度生硬", "kind": "deduct", "points": 50 },
    ]});
    let res = day
        .app
        .staff_post(&day.supervisor, "/api/v1/staff/qa/schemes", body)
        .await;
    ok(res, 201).await["id"].as_str().unwrap().to_owned()
}

async fn plan(day: &Day, scheme_id: &str, rules: Value, seed: i64) -> Value {
    let body = json!({ "name": "plan", "scheme_id": scheme_id, "rules": rules, "seed": seed });
    let res = day
        .app
        .staff_post(&day.supervisor, "/api/v1/staff/qa/plans", body)
        .await;
    let plan = ok(res, 201).await;
    let path = format!(
        "/api/v1/staff/qa/plans/{}/run",
        plan["id"].as_str().unwrap()
    );
    let res = day
        .app
        .staff_post(&day.supervisor, &path, json!({ "from": DAY, "to": DAY }))
        .await;
    ok(res, 200).await
}

async fn reviews(day: &Day, who: &StaffLogin) -> Vec<Value> {
    let res = day.app.staff_get(who, "/api/v1/staff/qa/reviews").await;
    ok(res, 200).await.as_array().unwrap().clone()
}

fn of_agent<'a>(list: &'a [Value], agent: &StaffLogin) -> Vec<&'a Value> {
    list.iter()
        .filter(|r| r["agent_id"] == agent.id.as_str())
        .collect()
}

#[tokio::test]
async fn sampling_picks_the_same_conversations_and_queues_each_once() {
    let day = spawn_day().await;
    day.script().await;
    let scheme_id = scheme(&day).await;
    // Every transferred chat (C3) and every one rated 2 stars or less (C5).
    let rules = json!([{ "kind": "escalated" }, { "kind": "low_csat", "max_stars": 2 }]);
    let ran = plan(&day, &scheme_id, rules.clone(), 7).await;
    assert_eq!(ran, json!({ "picked": 2, "queued": 2 }));
    let list = reviews(&day, &day.supervisor).await;
    let mut reasons: Vec<&str> = list.iter().map(|r| r["reason"].as_str().unwrap()).collect();
    reasons.sort_unstable();
    assert_eq!(reasons, ["escalated", "low_csat"]);
    assert!(
        list.iter()
            .all(|r| r["agent_id"] == day.wang.id.as_str() && r["status"] == "pending")
    );
    // The same rules again: the same two, nothing queued twice.
    assert_eq!(
        plan(&day, &scheme_id, rules, 7).await,
        json!({ "picked": 2, "queued": 0 })
    );
    // Up to 5 per agent: li's C2 is new, wang's two were queued.
    let ran = plan(
        &day,
        &scheme_id,
        json!([{ "kind": "per_agent", "count": 5 }]),
        1,
    )
    .await;
    assert_eq!(ran, json!({ "picked": 3, "queued": 1 }));
    // Bad rules and rubrics are refused, nothing stored.
    let bad = json!({ "name": "x", "scheme_id": scheme_id, "rules": [{ "kind": "random_percent", "percent": 0 }], "seed": 1 });
    let res = day
        .app
        .staff_post(&day.supervisor, "/api/v1/staff/qa/plans", bad)
        .await;
    refused(res, 400, "invalid_sampling_rule").await;
    let bad = json!({ "name": "x", "base": 120, "items": [{ "key": "a", "label": "a", "kind": "add", "points": 1 }] });
    let res = day
        .app
        .staff_post(&day.supervisor, "/api/v1/staff/qa/schemes", bad)
        .await;
    refused(res, 400, "invalid_rubric").await;
    let schemes = day
        .app
        .staff_get(&day.admin, "/api/v1/staff/qa/schemes")
        .await;
    assert_eq!(ok(schemes, 200).await.as_array().unwrap().len(), 1);
    // Agents cannot set up inspection.
    let res = day
        .app
        .staff_post(
            &day.li,
            "/api/v1/staff/qa/schemes",
            json!({ "name": "x", "base": 0, "items": [] }),
        )
        .await;
    assert_eq!(res.status(), 403);
}

/// The scripted day, the rubric, and a plan of 5 per agent: li's queued review.
async fn li_review(day: &Day) -> String {
    day.script().await;
    let scheme_id = scheme(day).await;
    plan(
        day,
        &scheme_id,
        json!([{ "kind": "per_agent", "count": 5 }]),
        3,
    )
    .await;
    let all = reviews(day, &day.supervisor).await;
    of_agent(&all, &day.li)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_reviewer_scores_the_agent_appeals_once_and_the_supervisor_settles() {
    let day = spawn_day().await;
    let li_review = li_review(&day).await;
    let path = format!("/api/v1/staff/qa/reviews/{li_review}");
    // Pending: li does not see it yet; the reviewer reads the transcript in clear.
    assert!(reviews(&day, &day.li).await.is_empty());
    refused(day.app.staff_get(&day.li, &path).await, 404, "qa_not_found").await;
    let detail = ok(day.app.staff_get(&day.supervisor, &path).await, 200).await;
    let texts: Vec<&str> = detail["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"我想退这件") && texts.contains(&"您好，我来帮您"),
        "{texts:?}"
    );
    assert_eq!(detail["scheme"]["rubric"]["items"][1]["key"], "rude");
    assert_eq!(detail["can_score"], true);
    // Scores outside an item's points, or missing an item, change nothing.
    let score = format!("{path}/score");
    let res = day
        .app
        .staff_post(
            &day.supervisor,
            &score,
            json!({ "scores": { "greeting": 11, "rude": 0 } }),
        )
        .await;
    refused(res, 400, "invalid_scores").await;
    let res = day
        .app
        .staff_post(
            &day.supervisor,
            &score,
            json!({ "scores": { "greeting": 5 } }),
        )
        .await;
    refused(res, 400, "invalid_scores").await;
    assert_eq!(
        ok(day.app.staff_get(&day.supervisor, &path).await, 200).await["status"],
        "pending"
    );
    // An agent cannot score (the route's permission).
    let res = day
        .app
        .staff_post(
            &day.li,
            &score,
            json!({ "scores": { "greeting": 10, "rude": 0 } }),
        )
        .await;
    assert_eq!(res.status(), 403);
    // 90 + 5 − 20 = 75; the comment is sealed at rest.
    let body =
        json!({ "scores": { "greeting": 5, "rude": 20 }, "comment": "回复生硬，请注意语气" });
    let scored = ok(day.app.staff_post(&day.supervisor, &score, body).await, 200).await;
    assert_eq!(
        (scored["status"].as_str(), scored["total"].as_i64()),
        (Some("scored"), Some(75))
    );
    let row = day.app.state.store.qa_review(&li_review).await.unwrap();
    let sealed = row.comment_sealed.unwrap();
    assert!(!sealed.windows(6).any(|w| w == "生硬".as_bytes()));
    // li sees the result and the comment; wang sees nothing of li's.
    let mine = reviews(&day, &day.li).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["total"], 75);
    let seen = ok(day.app.staff_get(&day.li, &path).await, 200).await;
    assert_eq!(seen["comment"], "回复生硬，请注意语气");
    assert_eq!(
        (seen["can_appeal"].as_bool(), seen["can_score"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(of_agent(&reviews(&day, &day.wang).await, &day.li).is_empty());
    refused(
        day.app.staff_get(&day.wang, &path).await,
        404,
        "qa_not_found",
    )
    .await;
    let appeal = format!("{path}/appeal");
    let res = day
        .app
        .staff_post(&day.wang, &appeal, json!({ "reason": "不是我的" }))
        .await;
    refused(res, 404, "qa_not_found").await;
    // li appeals once, with a reason; a second appeal is refused.
    let res = day
        .app
        .staff_post(&day.li, &appeal, json!({ "reason": " " }))
        .await;
    refused(res, 400, "invalid_text").await;
    let body = json!({ "reason": "买家要求的是换货，我按流程处理了" });
    let appealed = ok(
        day.app.staff_post(&day.li, &appeal, body.clone()).await,
        200,
    )
    .await;
    assert_eq!(appealed["status"], "appealed");
    refused(
        day.app.staff_post(&day.li, &appeal, body).await,
        409,
        "qa_wrong_state",
    )
    .await;
    // Re-scoring waits for the settlement; the supervisor revises: 90 + 5 − 0 = 95.
    let res = day
        .app
        .staff_post(
            &day.supervisor,
            &score,
            json!({ "scores": { "greeting": 5, "rude": 0 } }),
        )
        .await;
    refused(res, 409, "qa_wrong_state").await;
    let open = ok(day.app.staff_get(&day.supervisor, &path).await, 200).await;
    assert_eq!(open["appeal_reason"], "买家要求的是换货，我按流程处理了");
    assert_eq!(open["can_settle"], true);
    let settle = format!("{path}/settle");
    let body = json!({ "outcome": "revised", "scores": { "greeting": 5, "rude": 0 } });
    let settled = ok(
        day.app
            .staff_post(&day.supervisor, &settle, body.clone())
            .await,
        200,
    )
    .await;
    assert_eq!(
        (
            settled["status"].as_str(),
            settled["outcome"].as_str(),
            settled["total"].as_i64()
        ),
        (Some("settled"), Some("revised"), Some(95))
    );
    refused(
        day.app.staff_post(&day.supervisor, &settle, body).await,
        409,
        "qa_wrong_state",
    )
    .await;
    // The QA score is li's average in the per-agent table; wang has none scored.
    let summary: Value = day.summary(&day.admin, "").await.json().await.unwrap();
    let row = |id: &str| {
        summary["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == id)
            .unwrap()["values"]["qa_score"]
            .clone()
    };
    assert_eq!(row(&day.li.id), json!(95.0));
    assert_eq!(row(&day.wang.id), Value::Null);
}

/// Polls a review until its draft has this status.
async fn draft_with_status(day: &Day, path: &str, status: &str) -> Value {
    for _ in 0..400 {
        let detail = ok(day.app.staff_get(&day.supervisor, path).await, 200).await;
        if detail["draft"]["status"] == status {
            return detail["draft"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the draft of {path} never became {status}");
}

/// The local model's draft score (a scripted model here; the real one drafts
/// in the browser test and in `xiaoer eval qa`): made in the background once a
/// plan queues the review, an item counted only with a line of the agent's as
/// evidence (the model points to one by its number), sealed at rest, shown to reviewers
/// and never to the agent, and made again when a reviewer asks.
#[tokio::test]
async fn the_models_draft_counts_only_what_the_agent_said_and_only_reviewers_see_it() {
    use xiaoer::llm::scripted::{Scripted, ScriptedChatModel};
    let model = std::sync::Arc::new(ScriptedChatModel::answering(
        &[
            ("检查项：主动问候", Scripted::text("是，客服[1]")),
            // The line it pointed to, asked of alone.
            ("能说明“主动问候”吗", Scripted::text("是")),
            // A line li does not have (the buyer's words are not numbered).
            ("检查项：态度生硬", Scripted::text("是，客服[7]")),
        ],
        Scripted::text("摘要"),
    ));
    let day = crate::analytics::spawn_day_with(model.clone()).await;
    let li_review = li_review(&day).await;
    let path = format!("/api/v1/staff/qa/reviews/{li_review}");
    let draft = draft_with_status(&day, &path, "ready").await;
    assert_eq!(
        draft["items"],
        json!([
            { "key": "greeting", "verdict": "met", "points": 10, "evidence": "您好，我来帮您" },
            { "key": "rude", "verdict": "unquoted", "points": 0, "evidence": null },
        ])
    );
    assert_eq!(draft["total"], 100, "90 + 10 − 0");
    // The model read this chat, each line marked with who said it, the
    // agent's numbered.
    let read_this_chat = |p: &Vec<xiaoer::ports::ChatMessage>| {
        let text = &p.last().unwrap().content;
        text.contains("客服[1]：您好，我来帮您")
            && text.contains("买家：我想退这件")
            && text.contains("客服[2]：好的，已为您登记")
    };
    let asked = model.prompts().iter().filter(|p| read_this_chat(p)).count();
    assert_eq!(asked, 2, "one question per check item");
    // It quotes the chat: sealed at rest.
    let sealed = crate::data_protection::raw_bytes(
        &day.app,
        format!("SELECT items_sealed FROM qa_drafts WHERE review_id = '{li_review}'"),
    )
    .await;
    assert!(!sealed.windows(6).any(|w| w == "您好".as_bytes()));
    // An agent may not ask for a draft; a reviewer may, and it is made again.
    let redraft = format!("{path}/draft");
    let res = day.app.staff_post(&day.li, &redraft, json!({})).await;
    assert_eq!(res.status(), 403);
    let res = day
        .app
        .staff_post(&day.supervisor, &redraft, json!({}))
        .await;
    assert_eq!(res.status(), 202);
    for _ in 0..400 {
        if model.prompts().iter().filter(|p| read_this_chat(p)).count() == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(draft_with_status(&day, &path, "ready").await, draft);
    assert_eq!(
        model.prompts().iter().filter(|p| read_this_chat(p)).count(),
        4
    );
    // Scored, the agent sees the result, never the draft.
    let body = json!({ "scores": { "greeting": 10, "rude": 0 } });
    ok(
        day.app
            .staff_post(&day.supervisor, &format!("{path}/score"), body)
            .await,
        200,
    )
    .await;
    let seen = ok(day.app.staff_get(&day.li, &path).await, 200).await;
    assert_eq!(seen["total"], 100);
    assert!(seen["draft"].is_null(), "{seen}");
}

/// The analytics fold has read every committed event (sampling reads its facts).
async fn folded(app: &TestApp) {
    let store = &app.state.store;
    for _ in 0..600 {
        let head = store.outbox_head().await.unwrap();
        let positions = store.subscriber_positions().await.unwrap();
        let at = positions
            .into_iter()
            .find(|(name, _)| name == "analytics")
            .map_or(0, |(_, p)| p);
        if at >= head {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the analytics fold did not catch up");
}

/// Waits until the daily plan has sampled `day` by itself.
async fn ran(app: &TestApp, admin: &StaffLogin, plan_id: &str, day: &str) {
    let mut plans = Value::Null;
    for _ in 0..400 {
        plans = ok(app.staff_get(admin, "/api/v1/staff/qa/plans").await, 200).await;
        let plan = plans
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == plan_id)
            .unwrap();
        if plan["daily_ran_day"] == day {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the plan did not sample {day}: {plans}");
}

#[tokio::test]
async fn a_daily_plan_samples_the_day_before_by_itself_once() {
    // 2026-11-30 10:00 in the shop's time zone (Beijing).
    let (app, clock) = spawn_on_moving_clock(1_796_004_000_000).await;
    let agent = app.staff("agent-qa-daily", Role::Agent).await;
    let admin = app.staff("admin-qa-daily", Role::Admin).await;
    // Two chats the agent resolves on the 30th.
    for _ in 0..2 {
        let buyer = app.start_conversation().await;
        app.hand_to_agent(&buyer, &agent).await;
        let resolve = format!(
            "/api/v1/staff/conversations/{}/resolve",
            buyer.conversation_id
        );
        ok(app.staff_post(&agent, &resolve, json!({})).await, 200).await;
    }
    folded(&app).await;
    let body = json!({ "name": "售后质检", "base": 90, "items": [
        { "key": "greeting", "label": "主动问候", "kind": "add", "points": 10 },
    ]});
    let res = app
        .staff_post(&admin, "/api/v1/staff/qa/schemes", body)
        .await;
    let scheme_id = ok(res, 201).await["id"].as_str().unwrap().to_owned();
    let body = json!({ "name": "每日抽检", "scheme_id": scheme_id, "seed": 3, "daily": true,
                       "rules": [{ "kind": "per_agent", "count": 5 }] });
    let plan = ok(
        app.staff_post(&admin, "/api/v1/staff/qa/plans", body).await,
        201,
    )
    .await;
    assert_eq!(plan["daily"], true);
    let plan_id = plan["id"].as_str().unwrap().to_owned();

    // At once it samples the day before today: nothing there.
    ran(&app, &admin, &plan_id, "2026-11-29").await;
    let list = ok(app.staff_get(&admin, "/api/v1/staff/qa/reviews").await, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
    // The next morning it samples the 30th by itself: both chats.
    clock.forward(DAY_MS);
    ran(&app, &admin, &plan_id, "2026-11-30").await;
    let list = ok(app.staff_get(&admin, "/api/v1/staff/qa/reviews").await, 200).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(
        list.iter().all(|r| r["agent_id"] == agent.id.as_str()
            && r["reason"] == "per_agent"
            && r["day"] == "2026-11-30"),
        "{list:?}"
    );
    // A day later: the 1st had no chats, and nothing is queued twice.
    clock.forward(DAY_MS);
    ran(&app, &admin, &plan_id, "2026-12-01").await;
    let list = ok(app.staff_get(&admin, "/api/v1/staff/qa/reviews").await, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Reviewers turn it off and on; agents may not; an unknown plan is not found.
    let path = format!("/api/v1/staff/qa/plans/{plan_id}/daily");
    let off = ok(
        app.staff_put(&admin, &path, json!({ "daily": false }))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (off["daily"].clone(), off["daily_ran_day"].clone()),
        (json!(false), json!("2026-12-01"))
    );
    let res = app.staff_put(&agent, &path, json!({ "daily": true })).await;
    assert_eq!(res.status(), 403);
    let res = app
        .staff_put(
            &admin,
            "/api/v1/staff/qa/plans/qap_none/daily",
            json!({ "daily": true }),
        )
        .await;
    refused(res, 404, "qa_not_found").await;
    let res = app
        .staff_put(&admin, &path, json!({ "daily": "yes" }))
        .await;
    assert_eq!(res.status(), 400);
}
