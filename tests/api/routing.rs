//! Routing through the real API: strategies, capacity, VIPs, overflow, transfer,
//! rules, queue position pushed to the buyer.

use crate::helpers::{Buyer, StaffLogin, TestApp, error_code, next_of_type, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use xiaoer::domain::staff::Role;

pub async fn create_group(app: &TestApp, admin: &StaffLogin, body: Value) -> String {
    let res = app
        .staff_post(admin, "/api/v1/staff/routing/groups", body)
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let group: Value = res.json().await.unwrap();
    group["id"].as_str().unwrap().to_owned()
}

pub async fn add_member(
    app: &TestApp,
    admin: &StaffLogin,
    group: &str,
    agent: &StaffLogin,
    body: Value,
) {
    let path = format!("/api/v1/staff/routing/groups/{group}/members/{}", agent.id);
    let res = app.staff_send(Method::PUT, admin, &path, body).await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
}

async fn remove_from_default(app: &TestApp, admin: &StaffLogin, agent: &StaffLogin) {
    let path = format!("/api/v1/staff/routing/groups/general/members/{}", agent.id);
    let res = app
        .staff_send(Method::DELETE, admin, &path, json!({}))
        .await;
    assert_eq!(res.status(), 204);
}

/// A group whose only members are `agents` (taken out of the default group), and
/// a rule sending category `category` to it.
async fn group_for(
    app: &TestApp,
    admin: &StaffLogin,
    category: &str,
    strategy: &str,
    agents: &[(&StaffLogin, Value)],
) -> String {
    let group = create_group(
        app,
        admin,
        json!({ "name": category, "strategy": strategy }),
    )
    .await;
    for (agent, membership) in agents {
        remove_from_default(app, admin, agent).await;
        add_member(app, admin, &group, agent, membership.clone()).await;
    }
    let rule = json!({ "kind": "category", "pattern": category, "group_id": group });
    let res = app
        .staff_post(admin, "/api/v1/staff/routing/rules", rule)
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    group
}

async fn hand_off(app: &TestApp, buyer: &Buyer, body: Value) -> Value {
    let res = app.buyer_post(buyer, "/handoff", body).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

/// Hands off `n` new chats in order; returns who got each (None: still waiting).
async fn hand_off_many(app: &TestApp, n: usize, body: Value) -> Vec<Option<String>> {
    let mut owners = Vec::new();
    for _ in 0..n {
        let buyer = app.start_conversation().await;
        let conversation = hand_off(app, &buyer, body.clone()).await;
        owners.push(conversation["agent_id"].as_str().map(str::to_owned));
    }
    owners
}

fn counts(owners: &[Option<String>]) -> HashMap<String, usize> {
    let mut map = HashMap::new();
    for owner in owners.iter().flatten() {
        *map.entry(owner.clone()).or_default() += 1;
    }
    map
}

async fn poll_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_online_agent_gets_a_handed_off_chat_at_once_on_their_live_feed() {
    let app = spawn_app().await;
    let agent = app.online_agent("agent-a", 3).await;
    let mut feed = app.staff_socket(&agent).await;
    let buyer = app.start_conversation().await;
    let conversation = hand_off(&app, &buyer, json!({})).await;
    assert_eq!(conversation["state"], "with_agent");
    assert_eq!(conversation["agent_id"], agent.id.as_str());
    // The queue change comes first, then the assignment.
    let mut frame = next_of_type(&mut feed, "event").await;
    if frame["event"]["to"] == "waiting" {
        frame = next_of_type(&mut feed, "event").await;
    }
    assert_eq!(
        frame["event"]["conversation_id"],
        buyer.conversation_id.as_str()
    );
    assert_eq!(frame["event"]["to"], "with_agent");
    assert_eq!(frame["event"]["agent_id"], agent.id.as_str());
}

#[tokio::test]
async fn offline_busy_and_away_agents_get_no_new_chats() {
    let app = spawn_app().await;
    let agent = app.online_agent("agent-a", 3).await;
    for status in ["offline", "busy", "away"] {
        app.set_presence(&agent, status).await;
        let buyer = app.start_conversation().await;
        let conversation = hand_off(&app, &buyer, json!({})).await;
        assert_eq!(conversation["state"], "waiting", "{status}");
    }
    // Coming online takes the waiting chats, up to capacity.
    app.set_presence(&agent, "online").await;
    let mine = app.staff_get(&agent, "/api/v1/staff/conversations").await;
    assert_eq!(mine.json::<Vec<Value>>().await.unwrap().len(), 3);
}

#[tokio::test]
async fn saturation_gives_the_next_chat_to_the_least_loaded_relative_to_capacity() {
    let app = spawn_app().await;
    let small = app.online_agent("small", 2).await;
    let large = app.online_agent("large", 6).await;
    let owners = hand_off_many(&app, 8, json!({})).await;
    let got = counts(&owners);
    assert_eq!(got[&small.id], 2);
    assert_eq!(got[&large.id], 6);
    // Full up: the ninth waits, and no one goes over capacity.
    assert_eq!(hand_off_many(&app, 1, json!({})).await, vec![None]);
}

#[tokio::test]
async fn round_robin_takes_turns() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Admin).await;
    let mut agents = Vec::new();
    for name in ["rr-a", "rr-b", "rr-c"] {
        agents.push(app.online_agent(name, 10).await);
    }
    let members: Vec<(&StaffLogin, Value)> = agents.iter().map(|a| (a, json!({}))).collect();
    group_for(&app, &admin, "shoes", "round_robin", &members).await;
    let owners = hand_off_many(&app, 6, json!({ "category": "shoes" })).await;
    let mut ids: Vec<&str> = agents.iter().map(|a| a.id.as_str()).collect();
    ids.sort_unstable();
    let expected: Vec<Option<String>> = ids
        .iter()
        .chain(ids.iter())
        .map(|s| Some(s.to_string()))
        .collect();
    assert_eq!(owners, expected);
}

#[tokio::test]
async fn priority_fills_the_senior_agent_before_the_junior() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Admin).await;
    let senior = app.online_agent("senior", 2).await;
    let junior = app.online_agent("junior", 5).await;
    let members = [
        (&senior, json!({ "level": 5 })),
        (&junior, json!({ "level": 1 })),
    ];
    group_for(&app, &admin, "vip-phones", "priority", &members).await;
    let owners = hand_off_many(&app, 4, json!({ "category": "vip-phones" })).await;
    let expected = [&senior.id, &senior.id, &junior.id, &junior.id];
    assert_eq!(owners, expected.map(|id| Some(id.clone())).to_vec());
}

#[tokio::test]
async fn weights_200_and_500_share_chats_two_to_five() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Admin).await;
    let a = app.online_agent("weight-a", 100).await;
    let b = app.online_agent("weight-b", 100).await;
    let members = [
        (&a, json!({ "weight": 200 })),
        (&b, json!({ "weight": 500 })),
    ];
    group_for(&app, &admin, "bags", "weighted", &members).await;
    let got = counts(&hand_off_many(&app, 14, json!({ "category": "bags" })).await);
    assert_eq!((got[&a.id], got[&b.id]), (4, 10));
}

#[tokio::test]
async fn a_waiting_chat_goes_to_the_agent_who_frees_up() {
    let app = spawn_app().await;
    let agent = app.online_agent("agent-a", 1).await;
    let first = app.start_conversation().await;
    hand_off(&app, &first, json!({})).await;
    let second = app.start_conversation().await;
    assert_eq!(hand_off(&app, &second, json!({})).await["state"], "waiting");
    let resolve = format!(
        "/api/v1/staff/conversations/{}/resolve",
        first.conversation_id
    );
    assert_eq!(
        app.staff_post(&agent, &resolve, json!({})).await.status(),
        200
    );
    let now = app.buyer_conversation(&second).await;
    assert_eq!(now["state"], "with_agent");
    assert_eq!(now["agent_id"], agent.id.as_str());
}

#[tokio::test]
async fn vip_buyers_jump_the_queue() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Admin).await;
    let mut waiting = Vec::new();
    for _ in 0..3 {
        let buyer = app.start_conversation().await;
        hand_off(&app, &buyer, json!({})).await;
        waiting.push(buyer);
    }
    let vip = app.start_conversation().await;
    let mark = format!("/api/v1/staff/visitors/{}/vip", vip.visitor_id);
    let res = app
        .staff_send(Method::PUT, &admin, &mark, json!({ "vip": true }))
        .await;
    assert_eq!(res.status(), 204);
    hand_off(&app, &vip, json!({})).await;
    let status = |buyer: &Buyer| {
        let path = format!("/api/v1/conversations/{}/queue", buyer.conversation_id);
        let req = app.client.get(app.url(&path)).bearer_auth(&buyer.token);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(status(&vip).await["queue"]["position"], 1);
    assert_eq!(status(&waiting[0]).await["queue"]["position"], 2);
    // Nobody is online: a place, but no wait is promised.
    let last = status(&waiting[2]).await;
    assert_eq!(last["queue"]["agents_online"], 0);
    assert!(last["queue"]["expected_wait_ms"].is_null(), "{last}");
    let agent = app.online_agent("agent-a", 1).await;
    assert_eq!(
        app.buyer_conversation(&vip).await["agent_id"],
        agent.id.as_str()
    );
    assert!(status(&vip).await["queue"].is_null());
}

#[tokio::test]
async fn the_buyer_is_told_their_queue_position_as_it_changes() {
    let app = spawn_app().await;
    let ahead = app.start_conversation().await;
    hand_off(&app, &ahead, json!({})).await;
    let buyer = app.start_conversation().await;
    let mut ws = app.buyer_socket(&buyer, 0).await;
    hand_off(&app, &buyer, json!({})).await;
    let frame = next_of_type(&mut ws, "queue").await;
    assert_eq!(frame["queue"]["position"], 2);
    app.online_agent("agent-a", 1).await;
    let frame = next_of_type(&mut ws, "queue").await;
    assert_eq!(frame["queue"]["position"], 1);
}

#[tokio::test]
async fn a_chat_overflows_to_the_backup_group_after_its_wait() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Admin).await;
    let backup_agent = app.online_agent("backup", 2).await;
    let backup = create_group(
        &app,
        &admin,
        json!({ "name": "backup", "strategy": "saturation" }),
    )
    .await;
    remove_from_default(&app, &admin, &backup_agent).await;
    add_member(&app, &admin, &backup, &backup_agent, json!({})).await;
    let front = create_group(
        &app,
        &admin,
        json!({ "name": "front", "strategy": "saturation", "overflow_group_id": backup, "overflow_after_ms": 1000 }),
    )
    .await;
    let rule = json!({ "kind": "entry_page", "pattern": "/item/", "group_id": front });
    app.staff_post(&admin, "/api/v1/staff/routing/rules", rule)
        .await;
    let buyer = app.start_conversation().await;
    let page = json!({ "entry_page": "https://shop.example/item/42" });
    assert_eq!(hand_off(&app, &buyer, page).await["state"], "waiting");
    poll_until("overflow assigns the chat", || async {
        app.buyer_conversation(&buyer).await["agent_id"] == backup_agent.id.as_str()
    })
    .await;
}

#[tokio::test]
async fn transfer_to_an_agent_carries_a_note_the_buyer_never_sees() {
    let app = spawn_app().await;
    let first = app.online_agent("first", 3).await;
    let buyer = app.start_conversation().await;
    hand_off(&app, &buyer, json!({})).await;
    let second = app.online_agent("second", 3).await;
    let path = format!(
        "/api/v1/staff/conversations/{}/transfer",
        buyer.conversation_id
    );
    let body = json!({ "to_agent": second.id, "note": "买家要换货，请跟进" });
    let res = app.staff_post(&first, &path, body).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(
        res.json::<Value>().await.unwrap()["agent_id"],
        second.id.as_str()
    );
    let staff_events: Vec<Value> = app
        .staff_get(
            &second,
            &format!(
                "/api/v1/staff/conversations/{}/events",
                buyer.conversation_id
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(staff_events.last().unwrap()["note"], "买家要换货，请跟进");
    let buyer_events = app.buyer_events(&buyer, 0).await;
    assert!(buyer_events.iter().all(|e| e.get("note").is_none()));
    // The first agent no longer has the chat (not even to read); the second writes in it.
    let send = format!(
        "/api/v1/staff/conversations/{}/messages",
        buyer.conversation_id
    );
    let msg = |id: &str| json!({ "client_msg_id": id, "body": { "type": "text", "text": "hi" } });
    assert_eq!(
        app.staff_post(&first, &send, msg("f-1")).await.status(),
        403
    );
    assert_eq!(
        app.staff_post(&second, &send, msg("s-1")).await.status(),
        201
    );
}

#[tokio::test]
async fn transfer_to_a_full_or_offline_agent_is_refused() {
    let app = spawn_app().await;
    let first = app.online_agent("first", 3).await;
    let buyer = app.start_conversation().await;
    hand_off(&app, &buyer, json!({})).await;
    let away = app.staff("away-agent", Role::Agent).await;
    let path = format!(
        "/api/v1/staff/conversations/{}/transfer",
        buyer.conversation_id
    );
    let res = app
        .staff_post(&first, &path, json!({ "to_agent": away.id }))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_code(&res.json().await.unwrap()), "agent_unavailable");
    let res = app
        .staff_post(&first, &path, json!({ "to_agent": "nobody" }))
        .await;
    assert_eq!(res.status(), 404);
    let full = app.online_agent("full-agent", 1).await;
    let other = app.start_conversation().await;
    hand_off(&app, &other, json!({})).await;
    assert_eq!(
        app.buyer_conversation(&other).await["agent_id"],
        full.id.as_str()
    );
    let res = app
        .staff_post(&first, &path, json!({ "to_agent": full.id }))
        .await;
    assert_eq!(res.status(), 409, "a full agent takes no transfer");
    let res = app.staff_post(&first, &path, json!({})).await;
    assert_eq!(error_code(&res.json().await.unwrap()), "invalid_transfer");
}

#[tokio::test]
async fn transfer_to_a_group_puts_the_chat_in_its_queue() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Admin).await;
    let first = app.online_agent("first", 3).await;
    let buyer = app.start_conversation().await;
    hand_off(&app, &buyer, json!({})).await;
    let specialist = app.online_agent("specialist", 3).await;
    let group = group_for(
        &app,
        &admin,
        "after-sales",
        "saturation",
        &[(&specialist, json!({}))],
    )
    .await;
    let path = format!(
        "/api/v1/staff/conversations/{}/transfer",
        buyer.conversation_id
    );
    let res = app
        .staff_post(&first, &path, json!({ "to_group": group, "note": "退货" }))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(
        res.json::<Value>().await.unwrap()["agent_id"],
        specialist.id.as_str()
    );
}

#[tokio::test]
async fn a_supervisor_whispers_and_takes_over() {
    let app = spawn_app().await;
    let agent = app.online_agent("agent-a", 3).await;
    let supervisor = app.staff("super", Role::Supervisor).await;
    let buyer = app.start_conversation().await;
    hand_off(&app, &buyer, json!({})).await;
    let base = format!("/api/v1/staff/conversations/{}", buyer.conversation_id);
    let res = app
        .staff_post(
            &supervisor,
            &format!("{base}/notes"),
            json!({ "text": "先核对订单号" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let agent_view: Vec<Value> = app
        .staff_get(&agent, &format!("{base}/events"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(agent_view.last().unwrap()["kind"], "note");
    let mut buyer_ws = app.buyer_socket(&buyer, 0).await;
    let ready = next_of_type(&mut buyer_ws, "ready").await;
    assert!(
        app.buyer_events(&buyer, 0)
            .await
            .iter()
            .all(|e| e["kind"] != "note")
    );
    let res = app
        .staff_post(&supervisor, &format!("{base}/takeover"), json!({}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["agent_id"],
        supervisor.id.as_str()
    );
    // The buyer's socket skips the note and shows the take-over.
    let frame = next_of_type(&mut buyer_ws, "event").await;
    assert_eq!(
        frame["event"]["seq"],
        ready["last_seq"].as_i64().unwrap() + 1
    );
    assert_eq!(frame["event"]["agent_id"], supervisor.id.as_str());
    let res = app
        .staff_post(&agent, &format!("{base}/takeover"), json!({}))
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn the_supervisor_board_shows_queues_agents_and_live_chats() {
    let app = spawn_app().await;
    let agent = app.online_agent("agent-a", 1).await;
    let supervisor = app.staff("super", Role::Supervisor).await;
    let served = app.start_conversation().await;
    hand_off(&app, &served, json!({})).await;
    app.buyer_send(&served, "m-1", "在吗").await;
    let waiting = app.start_conversation().await;
    hand_off(&app, &waiting, json!({})).await;
    let board: Value = app
        .staff_get(&supervisor, "/api/v1/staff/supervision/board")
        .await
        .json()
        .await
        .unwrap();
    let general = board["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == "general")
        .unwrap();
    assert_eq!(general["waiting"], 1);
    let me = board["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent_id"] == agent.id.as_str())
        .unwrap();
    assert_eq!(
        (me["status"].as_str(), me["active"].as_i64()),
        (Some("online"), Some(1))
    );
    let chats = board["chats"].as_array().unwrap();
    let chat = |id: &str| {
        chats
            .iter()
            .find(|c| c["conversation_id"] == id)
            .unwrap()
            .clone()
    };
    assert!(
        chat(&served.conversation_id)["unanswered_ms"]
            .as_i64()
            .unwrap()
            >= 0
    );
    assert!(
        chat(&waiting.conversation_id)["queued_ms"]
            .as_i64()
            .unwrap()
            >= 0
    );
}

#[tokio::test]
async fn routing_configuration_rejects_bad_input_clearly() {
    let app = spawn_app().await;
    let admin = app.staff("admin", Role::Admin).await;
    let groups = "/api/v1/staff/routing/groups";
    let res = app
        .staff_post(
            &admin,
            groups,
            json!({ "name": "x", "strategy": "fastest" }),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .staff_post(&admin, groups, json!({ "name": "x", "strategy": "saturation", "overflow_group_id": "nope", "overflow_after_ms": 5000 }))
        .await;
    assert_eq!(error_code(&res.json().await.unwrap()), "group_not_found");
    let res = app
        .staff_post(
            &admin,
            groups,
            json!({ "name": "general", "strategy": "saturation" }),
        )
        .await;
    assert_eq!(error_code(&res.json().await.unwrap()), "group_name_taken");
    let rule = json!({ "kind": "intent", "pattern": "refund", "group_id": "nope" });
    let res = app
        .staff_post(&admin, "/api/v1/staff/routing/rules", rule)
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .staff_send(
            Method::PUT,
            &admin,
            "/api/v1/staff/presence",
            json!({ "status": "sleeping" }),
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn quick_replies_are_personal_or_shared_with_checked_shortcuts_and_variables() {
    let app = spawn_app().await;
    let agent = app.staff("agent-a", Role::Agent).await;
    let other = app.staff("agent-b", Role::Agent).await;
    let supervisor = app.staff("super", Role::Supervisor).await;
    let replies = "/api/v1/staff/quick-replies";
    let mine = json!({ "category": "售后", "shortcut": "/Refund", "text": "{buyer_name}您好，订单 {order_no} 的退款已提交" });
    let res = app.staff_post(&agent, replies, mine.clone()).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["shortcut"], "/refund");
    assert_eq!(app.staff_post(&agent, replies, mine).await.status(), 409);
    let shared = json!({ "category": "通用", "shortcut": "/hi", "text": "您好，{agent_name}为您服务", "shared": true });
    assert_eq!(
        app.staff_post(&agent, replies, shared.clone())
            .await
            .status(),
        403
    );
    assert_eq!(
        app.staff_post(&supervisor, replies, shared).await.status(),
        201
    );
    let bad = json!({ "category": "x", "shortcut": "/x", "text": "hi {nmae}" });
    let res = app.staff_post(&agent, replies, bad).await;
    assert_eq!(error_code(&res.json().await.unwrap()), "unknown_variable");
    let bad = json!({ "category": "x", "shortcut": "refund", "text": "hi" });
    let res = app.staff_post(&agent, replies, bad).await;
    assert_eq!(error_code(&res.json().await.unwrap()), "bad_shortcut");
    let list: Vec<Value> = app.staff_get(&agent, replies).await.json().await.unwrap();
    let shortcuts: Vec<&str> = list
        .iter()
        .map(|r| r["shortcut"].as_str().unwrap())
        .collect();
    assert_eq!(
        shortcuts,
        ["/refund", "/hi"],
        "grouped by category: 售后 sorts before 通用"
    );
    let theirs: Vec<Value> = app.staff_get(&other, replies).await.json().await.unwrap();
    assert_eq!(theirs.len(), 1, "another agent sees only the shared reply");
    let path = format!("{replies}/{}", created["id"].as_str().unwrap());
    let edit = json!({ "category": "售后", "shortcut": "/refund", "text": "退款已提交" });
    let res = app
        .staff_send(Method::PUT, &other, &path, edit.clone())
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        app.staff_send(Method::PUT, &agent, &path, edit)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.staff_send(Method::DELETE, &agent, &path, json!({}))
            .await
            .status(),
        204
    );
}

/// A crash between "waiting" and the queue write would strand a chat; the sweep
/// puts it back in the default group's queue and it is served.
#[tokio::test]
async fn a_waiting_chat_that_lost_its_queue_entry_is_requeued_and_served() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    hand_off(&app, &buyer, json!({})).await;
    let store = &app.state.store;
    store
        .delete_queue_entry(&buyer.conversation_id)
        .await
        .unwrap();
    let agent = app.online_agent("agent-a", 1).await;
    assert_eq!(app.buyer_conversation(&buyer).await["state"], "waiting");
    poll_until("the sweep requeues and assigns the chat", || async {
        app.buyer_conversation(&buyer).await["agent_id"] == agent.id.as_str()
    })
    .await;
}

/// Every frame the socket gets within `quiet` of the last one.
async fn frames_until_quiet(ws: &mut crate::helpers::Ws, quiet: Duration) -> Vec<Value> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut frames = Vec::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(quiet, ws.next()).await {
        if let Message::Text(text) = msg {
            frames.push(serde_json::from_str(&text).unwrap());
        }
    }
    frames
}

/// What a buyer's widget would word: state changes, system messages, queue frames.
fn notices(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter_map(|f| match f["type"].as_str() {
            Some("event") if f["event"]["kind"] == "state_changed" => {
                Some(format!("state:{}", f["event"]["to"].as_str().unwrap()))
            }
            Some("event") if f["event"]["body"]["type"] == "system" => Some("system".into()),
            Some("queue") if f["queue"].is_null() => None,
            Some("queue") => Some(format!(
                "queue:online={}:wait={}",
                f["queue"]["agents_online"], f["queue"]["expected_wait_ms"]
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn with_nobody_online_the_buyer_is_queued_without_a_place_or_wait_and_no_agent_joins() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let mut ws = app.buyer_socket(&buyer, 0).await;
    assert_eq!(next_of_type(&mut ws, "ready").await["type"], "ready");
    assert_eq!(hand_off(&app, &buyer, json!({})).await["state"], "waiting");
    let seen = notices(&frames_until_quiet(&mut ws, Duration::from_millis(1500)).await);
    assert_eq!(
        seen,
        ["state:waiting", "queue:online=0:wait=null"],
        "one queue status saying nobody is online, no wait, no agent"
    );
    let path = format!("/api/v1/conversations/{}/queue", buyer.conversation_id);
    let queue: Value = app
        .client
        .get(app.url(&path))
        .bearer_auth(&buyer.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(queue["queue"]["agents_online"], 0);
    assert!(queue["queue"]["expected_wait_ms"].is_null(), "{queue}");

    // Someone comes online: the agent joins, and nothing about the queue follows.
    app.online_agent("agent-a", 1).await;
    let seen = notices(&frames_until_quiet(&mut ws, Duration::from_millis(1500)).await);
    assert_eq!(seen, ["state:with_agent"], "{seen:?}");
}

#[tokio::test]
async fn with_an_agent_online_the_agent_joins_after_the_queue_and_no_place_is_told_after() {
    let app = spawn_app().await;
    app.online_agent("agent-a", 1).await;
    let buyer = app.start_conversation().await;
    let mut ws = app.buyer_socket(&buyer, 0).await;
    assert_eq!(next_of_type(&mut ws, "ready").await["type"], "ready");
    assert_eq!(
        hand_off(&app, &buyer, json!({})).await["state"],
        "with_agent"
    );
    let seen = notices(&frames_until_quiet(&mut ws, Duration::from_millis(1500)).await);
    assert_eq!(seen, ["state:waiting", "state:with_agent"], "{seen:?}");
}

#[tokio::test]
async fn the_bots_hand_off_notice_comes_before_the_agent_joins_and_names_no_place() {
    use crate::bot_support::{FixedKnowledge, spawn_bot_app, text_of};
    let app = spawn_bot_app(std::sync::Arc::new(FixedKnowledge::default())).await;
    app.online_agent("agent-a", 1).await;
    let buyer = app.shopper("demo_buyer_1").await;
    app.say(&buyer, "转人工").await;
    poll_until("the agent joins", || {
        let (app, buyer) = (&app, &buyer);
        async move {
            let events = app.shopper_events(buyer).await;
            events.iter().any(|e| e["to"] == "with_agent")
        }
    })
    .await;
    let events = app.shopper_events(&buyer).await;
    let seq_of = |pred: &dyn Fn(&Value) -> bool| {
        events
            .iter()
            .find(|e| pred(e))
            .and_then(|e| e["seq"].as_i64())
            .unwrap_or_else(|| panic!("missing in {events:?}"))
    };
    let notice = seq_of(&|e| e["body"]["type"] == "system");
    let joined = seq_of(&|e| e["to"] == "with_agent");
    assert!(
        notice < joined,
        "queue notice before 'agent joined': {events:?}"
    );
    let text: String = events
        .iter()
        .filter(|e| e["body"]["type"] == "system")
        .map(|e| text_of(e).to_owned())
        .collect();
    for stale in ["第", "暂无", "马上"] {
        assert!(!text.contains(stale), "{text}");
    }
}

/// Queue alerts: an admin sets a group's thresholds (bad ones are refused);
/// when the queue reaches them the sweeper raises one alert, which the
/// supervisor's live feed and the board show and an agent's feed never gets;
/// a second sweep adds nothing; when the queue empties the alert clears.
#[tokio::test]
async fn a_queue_past_its_alert_threshold_tells_supervisors_once_then_clears() {
    let app = spawn_app().await;
    let admin = app.staff("admin-alerts", Role::Admin).await;
    let lead = app.staff("lead-alerts", Role::Supervisor).await;
    let agent = app.staff("agent-alerts", Role::Agent).await;
    let groups: Value = app
        .staff_get(&admin, "/api/v1/staff/routing/groups")
        .await
        .json()
        .await
        .unwrap();
    let general = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["is_default"] == true)
        .unwrap()
        .clone();
    let path = format!(
        "/api/v1/staff/routing/groups/{}",
        general["id"].as_str().unwrap()
    );
    let body = |waiting: Value, wait_ms: Value| {
        json!({ "name": general["name"], "strategy": "saturation", "overflow_group_id": null,
                "overflow_after_ms": null, "alert_waiting": waiting, "alert_wait_ms": wait_ms })
    };
    for (waiting, wait_ms) in [
        (json!(0), json!(null)),
        (json!(null), json!(5_000)),
        (json!(1001), json!(null)),
    ] {
        let res = app
            .staff_send(Method::PUT, &admin, &path, body(waiting.clone(), wait_ms))
            .await;
        assert_eq!(res.status(), 400, "{waiting}");
        assert_eq!(error_code(&res.json().await.unwrap()), "invalid_routing");
    }
    let res = app
        .staff_send(Method::PUT, &admin, &path, body(json!(2), json!(600_000)))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let saved: Value = res.json().await.unwrap();
    assert_eq!(
        (
            saved["alert_waiting"].as_i64(),
            saved["alert_wait_ms"].as_i64()
        ),
        (Some(2), Some(600_000))
    );

    let mut lead_feed = app.staff_socket(&lead).await;
    let mut agent_feed = app.staff_socket(&agent).await;
    let first = app.start_conversation().await;
    app.buyer_send(&first, "alert-1", "有人吗").await;
    hand_off(&app, &first, json!({})).await;
    let sweeper = &app.state.queue_alerts;
    assert_eq!(
        sweeper.sweep().await.unwrap().raised,
        0,
        "one waiting is under 2"
    );
    let second = app.start_conversation().await;
    hand_off(&app, &second, json!({})).await;
    // The sweeper also runs by itself every 5 s: either may raise it, once.
    sweeper.sweep().await.unwrap();
    assert_eq!(sweeper.sweep().await.unwrap().raised, 0, "raised once");
    assert_eq!(queue_events(&app).await, ["queue.alert_raised"]);

    let frame = next_of_type(&mut lead_feed, "queue_alert").await;
    assert_eq!(frame["alert"]["group_id"], general["id"]);
    assert_eq!(frame["alert"]["reason"], "waiting");
    assert_eq!(frame["alert"]["waiting"], 2);
    let board = board_of(&app, &lead).await;
    let row = group_row(&board, &general["id"]);
    assert_eq!(row["waiting"], 2);
    assert_eq!(row["alert"]["reason"], "waiting");
    assert!(row["alert"]["since"].as_i64().is_some(), "{row}");
    assert!(row["longest_wait_ms"].as_i64().unwrap() >= 0, "{row}");
    // Agents do not watch queues: the frame never reaches them.
    let seen = tokio::time::timeout(
        Duration::from_millis(500),
        next_of_type(&mut agent_feed, "queue_alert"),
    )
    .await;
    assert!(seen.is_err(), "an agent got the alert: {seen:?}");

    // The lead answers both chats herself: the queue empties and the alert clears.
    for buyer in [&first, &second] {
        let claim = format!(
            "/api/v1/staff/conversations/{}/claim",
            buyer.conversation_id
        );
        assert_eq!(app.staff_post(&lead, &claim, json!({})).await.status(), 200);
    }
    // Her answer counts in the board's reply speed of the last 15 minutes.
    let reply = json!({ "client_msg_id": "alert-reply", "body": { "type": "text", "text": "您好，我来处理" } });
    let path = format!(
        "/api/v1/staff/conversations/{}/messages",
        first.conversation_id
    );
    assert!(
        app.staff_post(&lead, &path, reply)
            .await
            .status()
            .is_success()
    );
    let sweep = sweeper.sweep().await.unwrap();
    assert_eq!(sweep.raised, 0);
    let frame = next_of_type(&mut lead_feed, "queue_alert").await;
    assert_eq!(frame["alert"]["reason"], Value::Null);
    assert_eq!(
        queue_events(&app).await,
        ["queue.alert_raised", "queue.alert_cleared"]
    );
    let board = board_of(&app, &lead).await;
    let row = group_row(&board, &general["id"]);
    assert_eq!(
        (row["waiting"].as_i64(), &row["alert"]),
        (Some(0), &Value::Null)
    );
    let me = board["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent_id"] == lead.id.as_str())
        .unwrap();
    assert_eq!(me["replies_15m"], 1, "{me}");
    assert!(me["reply_avg_15m_ms"].as_i64().unwrap() >= 0, "{me}");
}

/// The queue alert events in the outbox, oldest first.
async fn queue_events(app: &TestApp) -> Vec<String> {
    app.state
        .store
        .outbox_after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.data.type_name().to_owned())
        .filter(|k| k.starts_with("queue."))
        .collect()
}

/// The supervisor board as `who` sees it.
async fn board_of(app: &TestApp, who: &StaffLogin) -> Value {
    let res = app.staff_get(who, "/api/v1/staff/supervision/board").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn group_row<'a>(board: &'a Value, id: &Value) -> &'a Value {
    board["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == *id)
        .unwrap_or_else(|| panic!("no group {id}: {board}"))
}

/// A resolve committed without the service's own follow-up (as when the node
/// dies right after the commit, or the change came from another node): the
/// routing subscriber still gives the freed agent the waiting chat. The
/// routing sweep, which would also find it, runs once a minute here.
#[tokio::test]
async fn a_committed_resolve_frees_the_agent_even_without_the_services_follow_up() {
    use xiaoer::domain::conversation::{ConversationId, Transition};
    use xiaoer::domain::message::Sender;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(dir.path()).await;
    settings.routing_sweep_ms = 60_000;
    let app = crate::helpers::spawn_with(dir, settings, Default::default()).await;
    let agent = app.online_agent("solo", 1).await;
    let first = app.start_conversation().await;
    assert_eq!(
        hand_off(&app, &first, json!({})).await["agent_id"],
        agent.id.as_str()
    );
    let second = app.start_conversation().await;
    assert_eq!(hand_off(&app, &second, json!({})).await["state"], "waiting");

    let chat = &app.state.chat;
    let id = ConversationId::parse(&first.conversation_id).unwrap();
    let held = chat.conversation(&id).await.unwrap();
    let sender = Sender::Agent {
        id: agent.id.clone(),
    };
    chat.transition_with_note(&held, Transition::Resolve, sender, None, None)
        .await
        .unwrap();

    let second_id = ConversationId::parse(&second.conversation_id).unwrap();
    // Well within the sweep's minute (the first sweep ran at start).
    for _ in 0..200 {
        let now = chat.conversation(&second_id).await.unwrap();
        if now.agent_id.as_deref() == Some(agent.id.as_str()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the waiting chat was not offered to the freed agent");
}
