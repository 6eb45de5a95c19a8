use crate::helpers::{PASSWORD, error_code, spawn_app};
use serde_json::{Value, json};
use xiaoer::domain::staff::Role;
use xiaoer::http::routes::{Access, ROUTES};

#[tokio::test]
async fn login_with_a_wrong_password_is_refused_and_a_cookie_session_works() {
    let app = spawn_app().await;
    app.staff("alice", Role::Agent).await;
    let res = app
        .client
        .post(app.url("/api/v1/staff/login"))
        .json(&json!({ "username": "alice", "password": "wrong password!" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(&res.json().await.unwrap()), "bad_credentials");
    let res = app
        .client
        .post(app.url("/api/v1/staff/login"))
        .json(&json!({ "username": "nobody", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    let res = app
        .client
        .post(app.url("/api/v1/staff/login"))
        .json(&json!({ "username": "Alice", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let session = cookie.split(';').next().unwrap().to_owned();
    let me = app
        .client
        .get(app.url("/api/v1/staff/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["role"], "agent");

    let out = app
        .client
        .post(app.url("/api/v1/staff/logout"))
        .header("cookie", &session)
        .header("origin", app.url(""))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let me = app
        .client
        .get(app.url("/api/v1/staff/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
}

/// Every staff route in the table, called by every role: the server refuses each
/// role that lacks the route's permission, and anyone without a session.
#[tokio::test]
async fn the_permission_matrix_is_enforced_on_every_staff_route() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let mut logins = Vec::new();
    for role in Role::ALL {
        logins.push((
            role,
            app.staff(&format!("user-{}", role.as_str().replace('_', "-")), role)
                .await,
        ));
    }
    let mut checked = 0;
    for spec in ROUTES {
        let Access::Staff(permission) = spec.access else {
            continue;
        };
        let path = spec
            .path
            .replace("{id}", &buyer.conversation_id)
            .replace("{attachment_id}", &"0".repeat(64))
            .replace("{visitor_id}", &buyer.visitor_id);
        let method = reqwest::Method::from_bytes(spec.method.as_bytes()).unwrap();
        let anonymous = app
            .client
            .request(method.clone(), app.url(&path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            anonymous.status(),
            401,
            "{} {} without a session",
            spec.method,
            spec.path
        );
        for (role, login) in &logins {
            if role.allows(permission) || spec.path == "/api/v1/staff/logout" {
                continue;
            }
            let res = app
                .client
                .request(method.clone(), app.url(&path))
                .bearer_auth(&login.token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                403,
                "{} {} as {}",
                spec.method,
                spec.path,
                role.as_str()
            );
            assert_eq!(error_code(&res.json().await.unwrap()), "forbidden");
            checked += 1;
        }
    }
    assert!(
        checked >= 25,
        "the matrix was exercised ({checked} refusals)"
    );
}

#[tokio::test]
async fn an_agent_claims_a_waiting_chat_replies_and_the_buyer_reads_it() {
    let app = spawn_app().await;
    let agent = app.staff("agent-a", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.buyer_send(&buyer, "b1", "我要退货").await;
    app.buyer_post(&buyer, "/handoff", json!({})).await;

    let queue: Vec<Value> = app
        .staff_get(&agent, "/api/v1/staff/queue")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0]["id"], buyer.conversation_id.as_str());

    let base = format!("/api/v1/staff/conversations/{}", buyer.conversation_id);
    let claimed: Value = app
        .staff_post(&agent, &format!("{base}/claim"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(claimed["state"], "with_agent");
    assert_eq!(claimed["agent_id"], agent.id.as_str());

    let reply = json!({ "client_msg_id": "a1", "body": { "type": "text", "text": "您好，我来帮您处理退货 😊" } });
    assert_eq!(
        app.staff_post(&agent, &format!("{base}/messages"), reply)
            .await
            .status(),
        201
    );

    let events = app.buyer_events(&buyer, 0).await;
    let last = events.last().unwrap();
    assert_eq!(last["sender"]["kind"], "agent");
    assert_eq!(last["body"]["text"], "您好，我来帮您处理退货 😊");
    let mine: Vec<Value> = app
        .staff_get(&agent, "/api/v1/staff/conversations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    let queue: Vec<Value> = app
        .staff_get(&agent, "/api/v1/staff/queue")
        .await
        .json()
        .await
        .unwrap();
    assert!(queue.is_empty());
}

#[tokio::test]
async fn a_chat_is_claimed_once_and_others_cannot_speak_in_it() {
    let app = spawn_app().await;
    let a = app.staff("agent-a", Role::Agent).await;
    let b = app.staff("agent-b", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &a).await;
    let base = format!("/api/v1/staff/conversations/{}", buyer.conversation_id);
    let second = app
        .staff_post(&b, &format!("{base}/claim"), json!({}))
        .await;
    assert_eq!(
        second.status(),
        403,
        "a chat owned by someone else is not visible to another agent"
    );
    let reply = json!({ "client_msg_id": "b1", "body": { "type": "text", "text": "hi" } });
    assert_eq!(
        app.staff_post(&b, &format!("{base}/messages"), reply)
            .await
            .status(),
        403
    );
    assert_eq!(app.staff_get(&b, &base).await.status(), 403);
}

#[tokio::test]
async fn concurrent_claims_give_the_chat_to_exactly_one_agent() {
    let app = std::sync::Arc::new(spawn_app().await);
    let mut agents = Vec::new();
    for i in 0..4 {
        agents.push(app.staff(&format!("racer-{i}"), Role::Agent).await);
    }
    let buyer = app.start_conversation().await;
    app.buyer_post(&buyer, "/handoff", json!({})).await;
    let path = format!(
        "/api/v1/staff/conversations/{}/claim",
        buyer.conversation_id
    );
    let claims = agents
        .iter()
        .map(|agent| app.staff_post(agent, &path, json!({})));
    let statuses: Vec<u16> = futures::future::join_all(claims)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 403, 409].contains(s)),
        "{statuses:?}"
    );
    let events = app.buyer_events(&buyer, 0).await;
    let claims = events.iter().filter(|e| e["to"] == "with_agent").count();
    assert_eq!(claims, 1);
}

#[tokio::test]
async fn hand_back_returns_the_chat_to_the_bot_and_silences_the_agent() {
    let app = spawn_app().await;
    let agent = app.staff("agent-a", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &agent).await;
    let base = format!("/api/v1/staff/conversations/{}", buyer.conversation_id);
    let res: Value = app
        .staff_post(&agent, &format!("{base}/handback"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["state"], "bot");
    assert!(res["agent_id"].is_null());
    let supervisor = app.staff("boss", Role::Supervisor).await;
    let reply =
        json!({ "client_msg_id": "late", "body": { "type": "text", "text": "still here?" } });
    let res = app
        .staff_post(&supervisor, &format!("{base}/messages"), reply)
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_code(&res.json().await.unwrap()), "not_your_turn");
}

#[tokio::test]
async fn a_buyer_writing_after_resolution_reopens_with_the_bot_and_closed_is_final() {
    let app = spawn_app().await;
    let agent = app.staff("agent-a", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &agent).await;
    let base = format!("/api/v1/staff/conversations/{}", buyer.conversation_id);
    let resolved: Value = app
        .staff_post(&agent, &format!("{base}/resolve"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resolved["state"], "resolved");
    assert_eq!(
        app.buyer_send(&buyer, "again", "还有一个问题")
            .await
            .status(),
        201
    );
    let conv: Value = app
        .client
        .get(app.url(&format!("/api/v1/conversations/{}", buyer.conversation_id)))
        .bearer_auth(&buyer.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(conv["state"], "bot");

    let supervisor = app.staff("boss", Role::Supervisor).await;
    assert_eq!(
        app.staff_post(&supervisor, &format!("{base}/close"), json!({}))
            .await
            .status(),
        200
    );
    let res = app.buyer_send(&buyer, "after-close", "hello?").await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        error_code(&res.json().await.unwrap()),
        "conversation_closed"
    );
    let res = app
        .staff_post(&supervisor, &format!("{base}/resolve"), json!({}))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_code(&res.json().await.unwrap()), "invalid_transition");
}

#[tokio::test]
async fn agents_see_their_own_chats_and_supervisors_see_all() {
    let app = spawn_app().await;
    let a = app.staff("agent-a", Role::Agent).await;
    let b = app.staff("agent-b", Role::Agent).await;
    let boss = app.staff("boss", Role::Supervisor).await;
    let one = app.start_conversation().await;
    let two = app.start_conversation().await;
    app.hand_to_agent(&one, &a).await;
    app.hand_to_agent(&two, &b).await;
    let mine: Vec<Value> = app
        .staff_get(&a, "/api/v1/staff/conversations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        mine.iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [one.conversation_id.as_str()]
    );
    let all: Vec<Value> = app
        .staff_get(&boss, "/api/v1/staff/supervision/conversations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let detail = app
        .staff_get(
            &boss,
            &format!("/api/v1/staff/conversations/{}", two.conversation_id),
        )
        .await;
    assert_eq!(detail.status(), 200);
}

#[tokio::test]
async fn an_agent_at_capacity_cannot_claim_more() {
    let app = spawn_app().await;
    let new =
        xiaoer::services::staff::NewStaff::parse("solo", PASSWORD, None, Role::Agent, Some(1))
            .unwrap();
    app.state.staff.add_user(new).await.unwrap();
    let login: Value = app
        .client
        .post(app.url("/api/v1/staff/login"))
        .json(&json!({ "username": "solo", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agent = crate::helpers::StaffLogin {
        id: login["user"]["id"].as_str().unwrap().into(),
        token: login["token"].as_str().unwrap().into(),
    };
    let one = app.start_conversation().await;
    let two = app.start_conversation().await;
    app.hand_to_agent(&one, &agent).await;
    app.buyer_post(&two, "/handoff", json!({})).await;
    let res = app
        .staff_post(
            &agent,
            &format!("/api/v1/staff/conversations/{}/claim", two.conversation_id),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(error_code(&res.json().await.unwrap()), "at_capacity");
}

#[tokio::test]
async fn admins_create_staff_accounts_with_validated_input() {
    let app = spawn_app().await;
    let admin = app.staff("root", Role::Admin).await;
    let res = app
        .staff_post(
            &admin,
            "/api/v1/staff/users",
            json!({ "username": "km.li", "password": PASSWORD, "role": "knowledge_manager" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let dup = app
        .staff_post(
            &admin,
            "/api/v1/staff/users",
            json!({ "username": "KM.li", "password": PASSWORD, "role": "agent" }),
        )
        .await;
    assert_eq!(dup.status(), 409);
    assert_eq!(error_code(&dup.json().await.unwrap()), "username_taken");
    let weak = app
        .staff_post(
            &admin,
            "/api/v1/staff/users",
            json!({ "username": "weak", "password": "123", "role": "agent" }),
        )
        .await;
    assert_eq!(weak.status(), 400);
    let role = app
        .staff_post(
            &admin,
            "/api/v1/staff/users",
            json!({ "username": "x-user", "password": PASSWORD, "role": "god" }),
        )
        .await;
    assert_eq!(role.status(), 400);
    let users: Vec<Value> = app
        .staff_get(&admin, "/api/v1/staff/users")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users.len(), 2);
    assert!(users.iter().all(|u| u.get("password_hash").is_none()));
}
