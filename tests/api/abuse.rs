//! Floods as a script would send them: over the chat socket, and one client
//! hammering the server while another buyer is served. Each test names the
//! OWASP ASVS 5.0 requirement it covers.

use crate::hardening::{assert_rate_limited, spawn_limited};
use crate::helpers::{error_code, next_of_type, ws_send};
use serde_json::json;
use std::time::{Duration, Instant};

/// ASVS 5.0 2.4.1: messages over the socket count against the same per-visitor
/// limit as over REST, and typing frames against their own.
#[tokio::test]
async fn a_visitor_flooding_the_socket_with_messages_or_typing_gets_rate_limited_frames() {
    let app = spawn_limited(|r| {
        r.messages_per_visitor = 2;
        r.typing_per_visitor = 3;
    })
    .await;
    let buyer = app.start_conversation().await;
    let mut ws = app.buyer_socket(&buyer, 0).await;
    for i in 0..2 {
        let id = format!("w-{i}");
        let text = json!({ "type": "text", "text": "在吗" });
        ws_send(
            &mut ws,
            json!({ "type": "send", "client_msg_id": id, "body": text }),
        )
        .await;
        assert_eq!(next_of_type(&mut ws, "ack").await["client_msg_id"], id);
    }
    let text = json!({ "type": "text", "text": "在吗" });
    ws_send(
        &mut ws,
        json!({ "type": "send", "client_msg_id": "w-2", "body": text }),
    )
    .await;
    let refused = next_of_type(&mut ws, "error").await;
    assert_eq!(
        (refused["code"].as_str(), refused["status"].as_u64()),
        (Some("rate_limited"), Some(429))
    );
    assert_eq!(refused["client_msg_id"], "w-2");
    // REST shares the budget.
    assert_rate_limited(app.buyer_send(&buyer, "r-0", "在吗").await).await;
    for _ in 0..3 {
        ws_send(&mut ws, json!({ "type": "typing" })).await;
    }
    ws_send(&mut ws, json!({ "type": "typing" })).await;
    let refused = next_of_type(&mut ws, "error").await;
    assert_eq!(refused["code"], "rate_limited");
    assert!(refused["client_msg_id"].is_null());
}

/// One client hammering `POST /api/v1/conversations` from one address for
/// `for_how_long`, on its own thread and runtime (as another process would):
/// (requests sent, of which 429).
fn hammer(
    client: reqwest::Client,
    url: String,
    for_how_long: Duration,
) -> std::thread::JoinHandle<(u64, u64)> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let until = Instant::now() + for_how_long;
            let workers = (0..8).map(|_| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    let (mut sent, mut limited) = (0u64, 0u64);
                    while Instant::now() < until {
                        let res = client
                            .post(&url)
                            .header("x-forwarded-for", "203.0.113.66")
                            .json(&json!({ "nickname": "刷单" }))
                            .send()
                            .await
                            .unwrap();
                        sent += 1;
                        limited += u64::from(res.status() == 429);
                    }
                    (sent, limited)
                })
            });
            let mut totals = (0, 0);
            for worker in workers.collect::<Vec<_>>() {
                let (sent, limited) = worker.await.unwrap();
                totals = (totals.0 + sent, totals.1 + limited);
            }
            totals
        })
    })
}

/// ASVS 5.0 2.4.1 and 15.2.2 (availability under load): while one address floods
/// new conversations as fast as it can (loopback, ~2 s), it gets 429s and a
/// buyer at another address still gets answers within 50 ms at the 99th percentile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_flooding_new_conversations_is_limited_while_another_buyers_p99_stays_under_50ms()
{
    let app = spawn_limited(|r| r.conversations_per_ip = 10).await;
    let buyer = app.start_conversation().await;
    let path = format!("/api/v1/conversations/{}", buyer.conversation_id);
    let flood = hammer(
        reqwest::Client::new(),
        app.url("/api/v1/conversations"),
        Duration::from_secs(2),
    );
    let served = async {
        let mut latencies = Vec::new();
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            let started = Instant::now();
            let res = app
                .client
                .get(app.url(&path))
                .bearer_auth(&buyer.token)
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                200,
                "{}",
                error_code(&res.json().await.unwrap())
            );
            latencies.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        latencies
    };
    let mut latencies = served.await;
    let (sent, limited) = flood.join().unwrap();
    latencies.sort();
    let pct =
        |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).min(latencies.len()) - 1];
    let (p50, p99) = (pct(0.50), pct(0.99));
    println!(
        "flood: {sent} requests in 2 s ({} /s), {limited} answered 429; other buyer: {} requests, p50 {p50:?}, p99 {p99:?}",
        sent / 2,
        latencies.len()
    );
    assert!(
        limited > 0 && sent - limited <= 12,
        "{sent} sent, {limited} limited"
    );
    assert!(p99 <= Duration::from_millis(50), "p99 {p99:?}");
}
