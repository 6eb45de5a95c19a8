use crate::helpers::{next_json, next_of_type, spawn_app, ws_send};
use futures::StreamExt;
use serde_json::json;
use xiaoer::domain::staff::Role;

#[tokio::test]
async fn a_buyer_socket_receives_the_agents_reply_live() {
    let app = spawn_app().await;
    let agent = app.staff("agent-a", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &agent).await;
    let mut ws = app.buyer_socket(&buyer, 0).await;
    // Replay of the two state changes, then "ready".
    assert_eq!(next_json(&mut ws).await["event"]["to"], "waiting");
    assert_eq!(next_json(&mut ws).await["event"]["to"], "with_agent");
    assert_eq!(
        next_json(&mut ws).await,
        json!({ "type": "ready", "last_seq": 2 })
    );

    let path = format!(
        "/api/v1/staff/conversations/{}/messages",
        buyer.conversation_id
    );
    app.staff_post(
        &agent,
        &path,
        json!({ "client_msg_id": "a1", "body": { "type": "text", "text": "在的，请讲" } }),
    )
    .await;
    let frame = next_json(&mut ws).await;
    assert_eq!(frame["type"], "event");
    assert_eq!(frame["event"]["seq"], 3);
    assert_eq!(frame["event"]["body"]["text"], "在的，请讲");
}

#[tokio::test]
async fn sending_over_the_socket_is_acknowledged_once_per_client_msg_id() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let mut ws = app.buyer_socket(&buyer, 0).await;
    next_of_type(&mut ws, "ready").await;
    let send = json!({ "type": "send", "client_msg_id": "ws-1", "body": { "type": "text", "text": "通过 WebSocket 发送" } });
    ws_send(&mut ws, send.clone()).await;
    let ack = next_of_type(&mut ws, "ack").await;
    assert_eq!(ack["seq"], 1);
    assert_eq!(ack["duplicate"], false);
    ws_send(&mut ws, send).await;
    let again = next_of_type(&mut ws, "ack").await;
    assert_eq!(again["seq"], 1);
    assert_eq!(again["duplicate"], true);
    ws_send(
        &mut ws,
        json!({ "type": "send", "client_msg_id": "ws-2", "body": { "type": "text", "text": "" } }),
    )
    .await;
    let err = next_of_type(&mut ws, "error").await;
    assert_eq!(err["code"], "empty_text");
    assert_eq!(err["client_msg_id"], "ws-2");
    assert_eq!(app.buyer_events(&buyer, 0).await.len(), 1);
}

#[tokio::test]
async fn a_reconnecting_client_gets_exactly_the_gap_in_order() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    for i in 1..=5 {
        app.buyer_send(&buyer, &format!("m{i}"), &format!("消息 {i}"))
            .await;
    }
    let mut ws = app.buyer_socket(&buyer, 0).await;
    for seq in 1..=5 {
        assert_eq!(next_json(&mut ws).await["event"]["seq"], seq);
    }
    next_of_type(&mut ws, "ready").await;
    drop(ws);
    for i in 6..=9 {
        app.buyer_send(&buyer, &format!("m{i}"), &format!("消息 {i}"))
            .await;
    }
    let mut ws = app.buyer_socket(&buyer, 5).await;
    let mut seqs = Vec::new();
    loop {
        let frame = next_json(&mut ws).await;
        if frame["type"] == "ready" {
            assert_eq!(frame["last_seq"], 9);
            break;
        }
        seqs.push(frame["event"]["seq"].as_i64().unwrap());
    }
    assert_eq!(seqs, [6, 7, 8, 9]);
}

#[tokio::test]
async fn typing_and_read_receipts_reach_the_other_side() {
    let app = spawn_app().await;
    let agent = app.staff("agent-a", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &agent).await;
    let url = app.ws_url(&format!(
        "/api/v1/staff/conversations/{}/ws?access_token={}",
        buyer.conversation_id, agent.token
    ));
    let (mut agent_ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    next_of_type(&mut agent_ws, "ready").await;
    let mut buyer_ws = app.buyer_socket(&buyer, 0).await;
    next_of_type(&mut buyer_ws, "ready").await;

    ws_send(&mut buyer_ws, json!({ "type": "typing" })).await;
    assert_eq!(next_of_type(&mut agent_ws, "typing").await["from"], "buyer");
    ws_send(&mut agent_ws, json!({ "type": "read", "seq": 2 })).await;
    let read = next_of_type(&mut buyer_ws, "read").await;
    assert_eq!(read["seq"], 2);
    assert_eq!(read["reader"], format!("agent:{}", agent.id));
}

#[tokio::test]
async fn the_staff_feed_announces_new_waiting_chats_and_my_chats_messages() {
    let app = spawn_app().await;
    let agent = app.staff("agent-a", Role::Agent).await;
    let km = app.staff("km-li", Role::KnowledgeManager).await;
    let url = app.ws_url(&format!("/api/v1/staff/ws?access_token={}", agent.token));
    let (mut feed, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    next_of_type(&mut feed, "ready").await;
    let buyer = app.start_conversation().await;
    app.buyer_send(&buyer, "before", "bot-only message, not for agents")
        .await;
    app.hand_to_agent(&buyer, &agent).await;
    assert_eq!(
        next_of_type(&mut feed, "event").await["event"]["to"],
        "waiting"
    );
    assert_eq!(
        next_of_type(&mut feed, "event").await["event"]["to"],
        "with_agent"
    );
    app.buyer_send(&buyer, "after", "现在是人工了吗").await;
    let frame = next_of_type(&mut feed, "event").await;
    assert_eq!(frame["event"]["body"]["text"], "现在是人工了吗");

    // A knowledge manager has no queue permission: the feed is refused.
    let url = app.ws_url(&format!("/api/v1/staff/ws?access_token={}", km.token));
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
}

#[tokio::test]
async fn sockets_close_with_a_restart_code_on_shutdown() {
    let app = spawn_app().await;
    let buyer = app.start_conversation().await;
    let mut ws = app.buyer_socket(&buyer, 0).await;
    next_of_type(&mut ws, "ready").await;
    let stopping = tokio::spawn(app.stop());
    let close = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.unwrap().code), 1012);
    drop(ws);
    stopping.await.unwrap();
}

/// The conversation socket of a staff member, after its `ready` frame.
async fn staff_conversation_socket(
    app: &crate::helpers::TestApp,
    staff: &crate::helpers::StaffLogin,
    conversation_id: &str,
) -> crate::helpers::Ws {
    let url = app.ws_url(&format!(
        "/api/v1/staff/conversations/{conversation_id}/ws?access_token={}",
        staff.token
    ));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    next_of_type(&mut ws, "ready").await;
    ws
}

/// Every text frame until the server closes the socket; the close code.
async fn frames_until_closed(ws: &mut crate::helpers::Ws) -> (Vec<serde_json::Value>, u16) {
    use tokio_tungstenite::tungstenite::Message;
    let mut frames = Vec::new();
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("the server closes the socket within 10 s");
        match next {
            Some(Ok(Message::Text(text))) => frames.push(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => {
                return (frames, frame.map(|f| u16::from(f.code)).unwrap_or(0));
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// ASVS 5.0 V7.4.1 (once a session is terminated it cannot be used any more):
/// logging out closes the session's open sockets (4401) at once, so they neither
/// receive the chat's messages nor send into it.
#[tokio::test]
async fn logging_out_closes_the_sessions_open_sockets() {
    let app = spawn_app().await;
    let agent = app.staff("agent-a", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &agent).await;
    let mut chat = staff_conversation_socket(&app, &agent, &buyer.conversation_id).await;
    let mut feed = app.staff_socket(&agent).await;

    let res = app
        .staff_post(&agent, "/api/v1/staff/logout", json!({}))
        .await;
    assert_eq!(res.status(), 204);
    app.buyer_send(&buyer, "after-logout", "我的地址是文三路1号")
        .await;
    for ws in [&mut chat, &mut feed] {
        let (frames, code) = frames_until_closed(ws).await;
        assert_eq!(code, 4401);
        assert!(
            frames.iter().all(|f| !f.to_string().contains("文三路")),
            "{frames:?}"
        );
    }
    // REST agrees: the token is dead.
    let res = app.staff_get(&agent, "/api/v1/staff/me").await;
    assert_eq!(res.status(), 401);
}

/// ASVS 5.0 V8.3.2 (changes to what authorisation depends on apply at once):
/// after a transfer the old agent's socket on that chat closes (4403) before the
/// transfer or anything later reaches it, and their feed stops carrying the chat.
#[tokio::test]
async fn after_a_transfer_the_old_agents_sockets_stop_showing_the_chat() {
    let app = spawn_app().await;
    let first = app.staff("first", Role::Agent).await;
    let buyer = app.start_conversation().await;
    app.hand_to_agent(&buyer, &first).await;
    let second = app.online_agent("second", 3).await;
    let mut chat = staff_conversation_socket(&app, &first, &buyer.conversation_id).await;
    let mut feed = app.staff_socket(&first).await;

    let path = format!(
        "/api/v1/staff/conversations/{}/transfer",
        buyer.conversation_id
    );
    let body = json!({ "to_agent": second.id, "note": "请跟进" });
    let res = app.staff_post(&first, &path, body).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    app.buyer_send(&buyer, "after-transfer", "换货地址是文三路1号")
        .await;

    let (frames, code) = frames_until_closed(&mut chat).await;
    assert_eq!(code, 4403);
    assert!(
        frames
            .iter()
            .all(|f| !f.to_string().contains("文三路") && !f.to_string().contains("请跟进")),
        "{frames:?}"
    );

    // The feed stays open for the queue but no longer carries the chat: a new
    // waiting chat (which the first agent may see) arrives, the buyer's message never.
    let other = app.start_conversation().await;
    app.buyer_post(&other, "/handoff", json!({})).await;
    loop {
        let frame = next_json(&mut feed).await;
        assert!(!frame.to_string().contains("文三路"), "{frame}");
        if frame["event"]["conversation_id"] == other.conversation_id.as_str() {
            break;
        }
    }
}

/// ASVS 5.0 V7.4.1 for buyers: erasing a buyer (PIPL) ends their token, and the
/// buyer's open socket closes at once (4401) instead of carrying the chat on.
#[tokio::test]
async fn an_erased_buyers_open_socket_closes_at_once() {
    let app = spawn_app().await;
    let admin = app.staff("admin-erase", Role::Admin).await;
    let buyer = app.start_conversation().await;
    let mut socket = app.buyer_socket(&buyer, 0).await;
    let res = app
        .staff_send(
            reqwest::Method::DELETE,
            &admin,
            &format!("/api/v1/admin/buyers/{}", buyer.visitor_id),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 204, "{}", res.text().await.unwrap());
    let started = std::time::Instant::now();
    let (_, code) = frames_until_closed(&mut socket).await;
    assert_eq!(code, 4401);
    // At once, not at the next keepalive (25 s) or periodic check (20 s):
    // well under those even on a loaded machine.
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    // REST agrees: the token signs nobody in.
    let res = app
        .client
        .get(app.url(&format!(
            "/api/v1/conversations/{}/events",
            buyer.conversation_id
        )))
        .bearer_auth(&buyer.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
