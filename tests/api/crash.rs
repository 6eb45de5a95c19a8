//! kill -9 while clients are sending: every acknowledged message survives exactly
//! once, in order, and a client resumes without a gap.

use crate::helpers::{backend_is_postgres, fresh_postgres_database, next_json};
use serde_json::{Value, json};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const CLIENTS: usize = 6;
const MARKER: &str = "机密内容";

pub(crate) struct Server {
    pub child: Child,
    pub base: String,
}

async fn start_server(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    log: &std::path::Path,
) -> Server {
    start_server_with(data_dir, database_url, log, &[]).await
}

/// The real binary on `data_dir` (and `database_url`), with extra environment.
pub(crate) async fn start_server_with(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    log: &std::path::Path,
    env: &[(&str, &str)],
) -> Server {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_xiaoer"));
    command
        .args([
            "serve",
            "--bot",
            "false",
            "--listen",
            "127.0.0.1:0",
            "--knowledge-dir",
        ])
        // This test is about messages: no shop knowledge to ingest at start.
        .arg(data_dir.join("no-knowledge"))
        .arg("--data-dir")
        .arg(data_dir)
        .env(
            "RUST_LOG",
            "debug,sqlx=info,hyper=info,h2=info,tungstenite=info,tokio_tungstenite=info",
        )
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true);
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    // These tests are about durability under a burst from a few clients; the
    // rate limits (tested in abuse:: and hardening::) would cut the burst short.
    command
        .env("XIAOER_RATE_MESSAGES_PER_VISITOR", "0")
        .env("XIAOER_FLOOD_SAME_TEXT", "0")
        .env("XIAOER_FLOOD_BURST", "0")
        .env("XIAOER_RATE_CONVERSATIONS_PER_IP", "0")
        .env("XIAOER_RATE_TYPING_PER_VISITOR", "0");
    command.envs(env.iter().copied());
    let mut child = command.spawn().expect("the xiaoer binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("server starts in time")
        .unwrap()
        .unwrap();
    let base = line
        .strip_prefix("xiaoer listening on ")
        .expect("listening line")
        .to_owned();
    Server { child, base }
}

struct Client {
    conversation_id: String,
    token: String,
    acked: Vec<String>,
    in_flight: Option<String>,
}

/// Sends until the server dies; remembers what was acknowledged and what was in flight.
async fn send_until_failure(
    http: reqwest::Client,
    base: String,
    client: Arc<Mutex<Client>>,
    k: usize,
) {
    let (conversation_id, token) = {
        let c = client.lock().unwrap();
        (c.conversation_id.clone(), c.token.clone())
    };
    for i in 0.. {
        let id = format!("c{k}-{i:05}");
        client.lock().unwrap().in_flight = Some(id.clone());
        let body = json!({ "client_msg_id": id, "body": { "type": "text", "text": format!("{MARKER} {k}/{i}") } });
        let res = http
            .post(format!(
                "{base}/api/v1/conversations/{conversation_id}/messages"
            ))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
        match res {
            Ok(r) if r.status().is_success() => {
                let mut c = client.lock().unwrap();
                c.acked.push(id);
                c.in_flight = None;
            }
            _ => return,
        }
    }
}

#[tokio::test]
async fn acknowledged_messages_survive_kill_dash_nine_exactly_once_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let data = dir.path().join("data");
    let database_url = if backend_is_postgres() {
        Some(fresh_postgres_database().await)
    } else {
        None
    };
    let http = xiaoer::net::client();
    let mut server = start_server(&data, database_url.as_deref(), &log).await;

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let res: Value = http
            .post(format!("{}/api/v1/conversations", server.base))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        clients.push(Arc::new(Mutex::new(Client {
            conversation_id: res["conversation"]["id"].as_str().unwrap().to_owned(),
            token: res["visitor_token"].as_str().unwrap().to_owned(),
            acked: Vec::new(),
            in_flight: None,
        })));
    }
    // A listener on client 0's conversation, to resume after the crash.
    let (c0_id, c0_token) = {
        let c = clients[0].lock().unwrap();
        (c.conversation_id.clone(), c.token.clone())
    };
    let ws_url = |base: &str, after: i64| {
        format!(
            "{}/api/v1/conversations/{c0_id}/ws?after={after}&access_token={c0_token}",
            base.replacen("http", "ws", 1)
        )
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&server.base, 0))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "ready");

    let senders: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(k, c)| {
            tokio::spawn(send_until_failure(
                http.clone(),
                server.base.clone(),
                c.clone(),
                k,
            ))
        })
        .collect();
    // Let them get going, then pull the plug.
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let total: usize = clients.iter().map(|c| c.lock().unwrap().acked.len()).sum();
        if total >= 300 {
            break;
        }
    }
    let mut last_seen = 0;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(
        Duration::from_millis(200),
        futures::StreamExt::next(&mut ws),
    )
    .await
    {
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            let frame: Value = serde_json::from_str(&t).unwrap();
            let seq = frame["event"]["seq"].as_i64().unwrap();
            assert_eq!(
                seq,
                last_seen + 1,
                "live events arrive in order without gaps"
            );
            last_seen = seq;
        }
        if last_seen >= 20 {
            break;
        }
    }
    server.child.start_kill().unwrap(); // SIGKILL
    server.child.wait().await.unwrap();
    for s in senders {
        s.await.unwrap();
    }
    drop(ws);

    let server = start_server(&data, database_url.as_deref(), &log).await;
    // Each client retries what was in flight (same id), then carries on a little.
    for (k, client) in clients.iter().enumerate() {
        let (conversation_id, token, retry) = {
            let c = client.lock().unwrap();
            (
                c.conversation_id.clone(),
                c.token.clone(),
                c.in_flight.clone(),
            )
        };
        let next = client.lock().unwrap().acked.len() + 1;
        let ids: Vec<String> = retry
            .into_iter()
            .chain((next..next + 3).map(|i| format!("c{k}-{i:05}")))
            .collect();
        for id in ids {
            let body = json!({ "client_msg_id": id, "body": { "type": "text", "text": format!("{MARKER} retry") } });
            let res = http
                .post(format!(
                    "{}/api/v1/conversations/{conversation_id}/messages",
                    server.base
                ))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{}", res.status());
            client.lock().unwrap().acked.push(id);
        }
    }

    for client in &clients {
        let c = client.lock().unwrap().clone_for_check();
        let url = format!(
            "{}/api/v1/conversations/{}/events?limit=500",
            server.base, c.0
        );
        let mut events: Vec<Value> = Vec::new();
        loop {
            let after = events
                .last()
                .map(|e| e["seq"].as_i64().unwrap())
                .unwrap_or(0);
            let page: Vec<Value> = http
                .get(format!("{url}&after={after}"))
                .bearer_auth(&c.1)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            events.extend(page);
        }
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(
            seqs,
            (1..=events.len() as i64).collect::<Vec<_>>(),
            "gapless sequence"
        );
        let stored: Vec<String> = events
            .iter()
            .map(|e| e["client_msg_id"].as_str().unwrap().to_owned())
            .collect();
        let mut acked = c.2.clone();
        acked.dedup();
        assert_eq!(
            stored, acked,
            "every acknowledged message exactly once, in order, nothing else"
        );
    }

    // The listener resumes from what it saw and gets the rest, in order.
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(&server.base, last_seen))
        .await
        .unwrap();
    let mut expected = last_seen + 1;
    loop {
        let frame = next_json(&mut ws).await;
        if frame["type"] == "ready" {
            assert_eq!(frame["last_seq"], expected - 1);
            break;
        }
        assert_eq!(frame["event"]["seq"], expected);
        expected += 1;
    }
    assert!(expected - 1 > last_seen, "there was a gap to fill");

    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("request"), "the server logged requests");
    assert!(
        !logs.contains(MARKER),
        "message bodies never reach the logs"
    );
    assert!(!logs.contains(&c0_token), "tokens never reach the logs");
}

impl Client {
    fn clone_for_check(&self) -> (String, String, Vec<String>) {
        (
            self.conversation_id.clone(),
            self.token.clone(),
            self.acked.clone(),
        )
    }
}
