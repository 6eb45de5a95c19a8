//! Two server nodes on one database: sequence numbers, dedup and claims are decided
//! by the database, so they stay right whichever node a request lands on.

use crate::helpers::{TestApp, spawn_with, test_settings};
use serde_json::{Value, json};
use std::sync::Arc;
use xiaoer::domain::staff::Role;

async fn two_nodes() -> (Arc<TestApp>, Arc<TestApp>) {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(dir.path()).await;
    let a = spawn_with(dir, settings.clone(), Default::default()).await;
    // Same database and same data dir (same key); its own temp dir only as a holder.
    let b = spawn_with(tempfile::tempdir().unwrap(), settings, Default::default()).await;
    (Arc::new(a), Arc::new(b))
}

#[tokio::test]
async fn two_nodes_number_messages_without_gaps_and_dedup_across_nodes() {
    let (a, b) = two_nodes().await;
    let buyer = Arc::new(a.start_conversation().await);
    let mut tasks = Vec::new();
    for (n, node) in [a.clone(), b.clone()].into_iter().enumerate() {
        let buyer = buyer.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                // Every id is sent to both nodes at the same time: one message each.
                let res = node
                    .buyer_send(&buyer, &format!("shared-{i}"), "同一条消息")
                    .await;
                assert!(res.status().is_success(), "{}", res.status());
                let res = node
                    .buyer_send(&buyer, &format!("node{n}-{i}"), "各自的消息")
                    .await;
                assert_eq!(res.status(), 201);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = b.buyer_events(&buyer, 0).await;
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=120).collect::<Vec<_>>());
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e["client_msg_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 120, "each client_msg_id stored exactly once");
}

#[tokio::test]
async fn agents_on_different_nodes_never_both_get_a_chat() {
    let (a, b) = two_nodes().await;
    let alice = a.staff("alice", Role::Agent).await;
    let bob = b.staff("bob", Role::Agent).await;
    for _ in 0..10 {
        let buyer = a.start_conversation().await;
        a.buyer_post(&buyer, "/handoff", json!({})).await;
        let path = format!(
            "/api/v1/staff/conversations/{}/claim",
            buyer.conversation_id
        );
        let (ra, rb) = tokio::join!(
            a.staff_post(&alice, &path, json!({})),
            b.staff_post(&bob, &path, json!({}))
        );
        let wins = [ra.status(), rb.status()]
            .iter()
            .filter(|s| s.as_u16() == 200)
            .count();
        assert_eq!(wins, 1);
        let conv: Value = a
            .client
            .get(a.url(&format!("/api/v1/conversations/{}", buyer.conversation_id)))
            .bearer_auth(&buyer.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(conv["agent_id"] == alice.id.as_str() || conv["agent_id"] == bob.id.as_str());
    }
}
