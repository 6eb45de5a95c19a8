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
