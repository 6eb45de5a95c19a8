//! Outbound webhooks through a real HTTP receiver (a Python process), with the
//! signatures checked by the reference Standard Webhooks library from PyPI.

use crate::helpers::{Buyer, StaffLogin, TestApp, error_code, spawn_with, test_settings};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use xiaoer::domain::staff::Role;

/// The Python that has `standardwebhooks` (scripts/test.sh makes a venv and
/// sets XIAOER_TEST_PYTHON; `pip install standardwebhooks` also does).
pub fn python() -> String {
    std::env::var("XIAOER_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn receiver_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/webhook_receiver.py")
}

pub struct Receiver {
    _child: Child,
    pub url: String,
    pub out: PathBuf,
}

impl Receiver {
    /// Starts a receiver; `flags` as the script takes them (--fail-first N, --gone, --sleep S).
    pub async fn start(dir: &Path, flags: &[&str]) -> Receiver {
        let out = dir.join(format!("received-{}.jsonl", uuid::Uuid::new_v4().simple()));
        let mut child = Command::new(python())
            .arg(receiver_script())
            .arg("serve")
            .arg("--out")
            .arg(&out)
            .args(flags)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the webhook receiver");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("receiver starts")
            .unwrap()
            .expect("receiver prints its port");
        let port = line.strip_prefix("listening on ").expect("port line");
        Receiver {
            _child: child,
            url: format!("http://127.0.0.1:{port}/hook"),
            out,
        }
    }

    /// Every request answered 200, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        let Ok(text) = std::fs::read_to_string(&self.out) else {
            return Vec::new();
        };
        text.lines()
            .map(|line| {
                let record: Value = serde_json::from_str(line).unwrap();
                let body: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
                Received {
                    id: record["headers"]["webhook-id"].as_str().unwrap().to_owned(),
                    body,
                }
            })
            .collect()
    }

    /// Waits until `done` holds for what was received.
    pub async fn wait_for(
        &self,
        what: &str,
        secs: u64,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; got {} deliveries",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// (verified, failed) by the reference library.
    pub async fn verify(&self, secret: &str) -> (u64, u64) {
        let output = Command::new(python())
            .arg(receiver_script())
            .args(["verify", "--secret", secret, "--file"])
            .arg(&self.out)
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "the reference verifier failed (is PyPI's standardwebhooks installed for {}? \
             scripts/test.sh sets XIAOER_TEST_PYTHON): {}",
            python(),
            String::from_utf8_lossy(&output.stderr)
        );
        let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
        (
            summary["verified"].as_u64().unwrap(),
            summary["failed"].as_u64().unwrap(),
        )
    }
}

#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub body: Value,
}

impl Received {
    pub fn kind(&self) -> &str {
        self.body["type"].as_str().unwrap()
    }
    pub fn conversation(&self) -> Option<&str> {
        self.body["data"]["conversation_id"].as_str()
    }
    pub fn seq(&self) -> Option<i64> {
        self.body["data"]["seq"].as_i64()
    }
}

/// A test server whose failed deliveries are retried after 100 ms, 400 ms...
async fn app_with_fast_retries() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path()).await;
    settings.webhook_retry_base_ms = 100;
    spawn_with(dir, settings, Default::default()).await
}

async fn register(app: &TestApp, admin: &StaffLogin, url: &str, types: Value) -> Value {
    let res = app
        .staff_post(
            admin,
            "/api/v1/admin/webhooks",
            json!({ "url": url, "event_types": types }),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn buyer_says(app: &TestApp, buyer: &Buyer, text: &str) {
    let res = app
        .buyer_send(buyer, &uuid::Uuid::new_v4().to_string(), text)
        .await;
    assert!(res.status().is_success());
}

#[tokio::test]
async fn a_chat_reaches_the_receiver_signed_in_order_with_the_messages_text() {
    let app = app_with_fast_retries().await;
    let admin = app.staff("admin", Role::Admin).await;
    // Offline: the agent claims the chat (an online one would be assigned it).
    let agent = app.staff("agent", Role::Agent).await;
    let receiver = Receiver::start(&app.data_dir, &[]).await;
    let endpoint = register(&app, &admin, &receiver.url, json!(["*"])).await;
    let secret = endpoint["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));

    let buyer = app.start_conversation().await;
    buyer_says(&app, &buyer, "我的快递到哪了").await;
    app.hand_to_agent(&buyer, &agent).await;
    let path = format!(
        "/api/v1/staff/conversations/{}/messages",
        buyer.conversation_id
    );
    let res = app
        .staff_post(
            &agent,
            &path,
            json!({"client_msg_id": "a-1", "body": {"type": "text", "text": "您好，我来查一下"}}),
        )
        .await;
    assert!(res.status().is_success());
    let resolve = format!(
        "/api/v1/staff/conversations/{}/resolve",
        buyer.conversation_id
    );
    assert_eq!(
        app.staff_post(&agent, &resolve, json!({})).await.status(),
        200
    );

    let conversation = buyer.conversation_id.clone();
    let got = receiver
        .wait_for("the resolution", 20, |r| {
            r.iter().any(|d| {
                d.kind() == "conversation.resolved" && d.conversation() == Some(&conversation)
            })
        })
        .await;
    let kinds: Vec<&str> = got
        .iter()
        .filter(|d| d.conversation() == Some(&conversation))
        .map(Received::kind)
        .collect();
    // The order the chat happened in: started, the buyer's message, the hand-off,
    // the assignment, the agent's reply, the resolution (system notices may be
    // in between).
    let wanted = [
        "conversation.started",
        "message.posted",
        "conversation.handed_off",
        "conversation.assigned",
        "message.posted",
        "conversation.resolved",
    ];
    let mut at = 0;
    for kind in &kinds {
        if at < wanted.len() && *kind == wanted[at] {
            at += 1;
        }
    }
    assert_eq!(
        at,
        wanted.len(),
        "events out of order or missing: {kinds:?}"
    );
    let seqs: Vec<i64> = got
        .iter()
        .filter(|d| d.conversation() == Some(&conversation))
        .filter_map(Received::seq)
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq order: {seqs:?}");
    let reply = got
        .iter()
        .find(|d| d.body["data"]["message"]["body"]["text"] == "您好，我来查一下")
        .expect("the agent's words are in the message event");
    assert_eq!(reply.body["data"]["sender_kind"], "agent");
    assert_eq!(reply.body["data"]["sender_id"], agent.id.as_str());
    let assigned = got
        .iter()
        .find(|d| d.kind() == "conversation.assigned")
        .unwrap();
    assert_eq!(assigned.body["data"]["agent_id"], agent.id.as_str());
    assert_eq!(assigned.body["data"]["by"], "claim");
    assert!(got.iter().all(|d| d.id == d.body["data"]["event_id"]));

    let (verified, failed) = receiver.verify(secret).await;
    assert_eq!(
        failed, 0,
        "every signature verifies with the reference library"
    );
    assert_eq!(verified as usize, got.len());
    // Another secret does not verify them.
    let other = register(&app, &admin, &receiver.url, json!(["answer.rated"])).await;
    let (_, failed) = receiver.verify(other["secret"].as_str().unwrap()).await;
    assert_eq!(failed as usize, got.len());
}

#[tokio::test]
async fn a_filter_sends_only_the_named_types() {
    let app = app_with_fast_retries().await;
    let admin = app.staff("admin", Role::Admin).await;
    let receiver = Receiver::start(&app.data_dir, &[]).await;
    register(
        &app,
        &admin,
        &receiver.url,
        json!(["conversation.handed_off"]),
    )
    .await;
    let buyer = app.start_conversation().await;
    buyer_says(&app, &buyer, "在吗").await;
    assert_eq!(
        app.buyer_post(&buyer, "/handoff", json!({})).await.status(),
        200
    );
    let got = receiver
        .wait_for("the hand-off", 20, |r| !r.is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_later = receiver.received();
    assert_eq!(got_later.len(), got.len());
    assert!(
        got_later
            .iter()
            .all(|d| d.kind() == "conversation.handed_off"),
        "{got_later:?}"
    );
}

#[tokio::test]
async fn a_receiver_that_fails_is_retried_then_served_and_a_replay_sends_again() {
    let app = app_with_fast_retries().await;
    let admin = app.staff("admin", Role::Admin).await;
    let receiver = Receiver::start(&app.data_dir, &["--fail-first", "3"]).await;
    let endpoint = register(&app, &admin, &receiver.url, json!(["message.posted"])).await;
    let id = endpoint["id"].as_str().unwrap();
    let buyer = app.start_conversation().await;
    buyer_says(&app, &buyer, "第一条").await;
    let got = receiver
        .wait_for("the retried delivery", 30, |r| !r.is_empty())
        .await;
    // The receiver writes its line before it answers: the server marks the
    // delivery a moment later.
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = loop {
        let log: Value = app
            .staff_get(&admin, &format!("/api/v1/admin/webhooks/{id}/deliveries"))
            .await
            .json()
            .await
            .unwrap();
        let first = log
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["event_id"] == got[0].id.as_str())
            .expect("the delivery is in the log")
            .clone();
        if first["status"] == "delivered" || Instant::now() > deadline {
            break first;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(first["status"], "delivered", "{first}");
    assert_eq!(first["attempts"], 4, "three 503s, then 200: {first}");
    assert_eq!(first["last_status"], 200);

    let delivery = first["id"].as_str().unwrap();
    let res = app
        .staff_post(
            &admin,
            &format!("/api/v1/admin/webhooks/{id}/deliveries/{delivery}/replay"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let again = receiver.wait_for("the replay", 20, |r| r.len() >= 2).await;
    assert_eq!(
        again[1].id, again[0].id,
        "a replay keeps the webhook-id (receivers dedupe)"
    );
}

#[tokio::test]
async fn a_receiver_answering_410_has_its_endpoint_turned_off() {
    let app = app_with_fast_retries().await;
    let admin = app.staff("admin", Role::Admin).await;
    let receiver = Receiver::start(&app.data_dir, &["--gone"]).await;
    let endpoint = register(&app, &admin, &receiver.url, json!(["*"])).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    let buyer = app.start_conversation().await;
    buyer_says(&app, &buyer, "hello").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let list: Value = app
            .staff_get(&admin, "/api/v1/admin/webhooks")
            .await
            .json()
            .await
            .unwrap();
        let me = list
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id.as_str())
            .unwrap()
            .clone();
        if me["enabled"] == false {
            break me;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "endpoint still on: {me}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(listed["disabled_reason"].as_str().unwrap().contains("410"));
    let failed: Value = app
        .staff_get(
            &admin,
            &format!("/api/v1/admin/webhooks/{id}/deliveries?status=failed"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed[0]["last_status"], 410);
    // Turned on again by an admin, it takes deliveries again.
    let res = app
        .staff_post(
            &admin,
            &format!("/api/v1/admin/webhooks/{id}/enable"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["enabled"], true);
    assert!(body["disabled_reason"].is_null());
}

#[tokio::test]
async fn bad_endpoints_are_refused_with_stable_codes_and_nothing_is_stored() {
    let app = app_with_fast_retries().await;
    let admin = app.staff("admin", Role::Admin).await;
    let cases = [
        (
            json!({"url": "http://shop.example/h", "event_types": ["*"]}),
            400,
            "webhook_url_not_https",
        ),
        (
            json!({"url": "https://shop.example/h", "event_types": ["message.sent"]}),
            400,
            "unknown_event_type",
        ),
        (
            json!({"url": "https://shop.example/h", "event_types": []}),
            400,
            "no_event_types",
        ),
        (
            json!({"url": "javascript:alert(1)", "event_types": ["*"]}),
            400,
            "invalid_url",
        ),
        (
            json!({"url": format!("https://shop.example/{}", "a".repeat(3000)), "event_types": ["*"]}),
            400,
            "invalid_url",
        ),
        (
            json!({"url": "https://shop.example/h", "event_types": ["*"], "description": "x".repeat(201)}),
            400,
            "invalid_fields",
        ),
    ];
    for (body, status, code) in cases {
        let res = app
            .staff_post(&admin, "/api/v1/admin/webhooks", body.clone())
            .await;
        assert_eq!(res.status(), status, "{body}");
        let answer: Value = res.json().await.unwrap();
        assert_eq!(error_code(&answer), code, "{body}");
    }
    let list: Value = app
        .staff_get(&admin, "/api/v1/admin/webhooks")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([]));
    // Only admins manage integrations.
    let agent = app.staff("agent", Role::Agent).await;
    let res = app
        .staff_post(
            &agent,
            "/api/v1/admin/webhooks",
            json!({"url": "https://shop.example/h", "event_types": ["*"]}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .staff_get(&agent, "/api/v1/admin/webhooks/wh_x/deliveries")
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .staff_get(&admin, "/api/v1/admin/webhooks/wh_missing/deliveries")
        .await;
    assert_eq!(res.status(), 404);
    let types: Value = app
        .staff_get(&admin, "/api/v1/admin/event-types")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        types
            .as_array()
            .unwrap()
            .contains(&json!("conversation.handed_off"))
    );
}

/// Events that each conversation's receiver copy holds, first arrivals only.
pub fn first_arrivals(got: &[Received]) -> HashMap<String, Vec<i64>> {
    let mut seen = HashSet::new();
    let mut by_conversation: HashMap<String, Vec<i64>> = HashMap::new();
    for d in got {
        if !seen.insert(d.id.clone()) {
            continue;
        }
        if let (Some(c), Some(seq)) = (d.conversation(), d.seq()) {
            by_conversation.entry(c.to_owned()).or_default().push(seq);
        }
    }
    by_conversation
}

const ADMIN_PASSWORD: &str = "webhook-admin-password-2026";

/// One buyer's burst: messages, and every eighth message a hand-off that the
/// admin takes and hands back (three state changes). Ends at the first failure.
async fn burst(
    http: reqwest::Client,
    base: String,
    buyer: (String, String),
    admin: String,
    acked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let (conversation, token) = buyer;
    let staff = format!("{base}/api/v1/staff/conversations/{conversation}");
    for i in 0.. {
        let res = http
            .post(format!("{base}/api/v1/conversations/{conversation}/messages"))
            .bearer_auth(&token)
            .json(&json!({"client_msg_id": format!("m-{i}"), "body": {"type": "text", "text": format!("第{i}条")}}))
            .send()
            .await;
        match res {
            Ok(r) if r.status().is_success() => {
                acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            _ => return,
        }
        if i % 8 == 7 {
            let steps = [
                http.post(format!(
                    "{base}/api/v1/conversations/{conversation}/handoff"
                ))
                .bearer_auth(&token),
                http.post(format!("{staff}/claim")).bearer_auth(&admin),
                http.post(format!("{staff}/handback")).bearer_auth(&admin),
            ];
            for step in steps {
                match step.json(&json!({})).send().await {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) if r.status().is_client_error() => {} // e.g. a race with the sweeper
                    _ => return,
                }
            }
        }
    }
}

#[tokio::test]
async fn after_kill_dash_nine_the_receiver_has_every_committed_event_in_order_per_conversation() {
    use crate::crash::start_server_with;
    use crate::helpers::{backend_is_postgres, fresh_postgres_database};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let database_url = if backend_is_postgres() {
        Some(fresh_postgres_database().await)
    } else {
        None
    };
    // The first admin is made with the CLI, as a shop would.
    let mut add = Command::new(env!("CARGO_BIN_EXE_xiaoer"));
    add.args([
        "user",
        "add",
        "--username",
        "admin",
        "--role",
        "admin",
        "--password-stdin",
        "--data-dir",
    ])
    .arg(&data)
    .env_remove("DATABASE_URL")
    .stdin(Stdio::piped())
    .stdout(Stdio::null());
    if let Some(url) = &database_url {
        add.env("DATABASE_URL", url);
    }
    let mut child = add.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{ADMIN_PASSWORD}\n").as_bytes())
            .await
            .unwrap();
    }
    assert!(child.wait().await.unwrap().success());

    let env = [("XIAOER_WEBHOOK_RETRY_BASE_MS", "200")];
    let mut server = start_server_with(&data, database_url.as_deref(), &log, &env).await;
    let http = xiaoer::net::client();
    let login: Value = http
        .post(format!("{}/api/v1/staff/login", server.base))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = login["token"].as_str().unwrap().to_owned();
    let receiver = Receiver::start(dir.path(), &[]).await;
    let endpoint: Value = http
        .post(format!("{}/api/v1/admin/webhooks", server.base))
        .bearer_auth(&admin)
        .json(&json!({"url": receiver.url, "event_types": ["*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = endpoint["secret"].as_str().unwrap().to_owned();

    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut conversations = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let started: Value = http
            .post(format!("{}/api/v1/conversations", server.base))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = started["conversation"]["id"].as_str().unwrap().to_owned();
        let token = started["visitor_token"].as_str().unwrap().to_owned();
        conversations.push(id.clone());
        tasks.push(tokio::spawn(burst(
            http.clone(),
            server.base.clone(),
            (id, token),
            admin.clone(),
            acked.clone(),
        )));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acked.load(std::sync::atomic::Ordering::Relaxed) < 150 {
        assert!(
            tokio::time::Instant::now() < deadline && tasks.iter().any(|t| !t.is_finished()),
            "the burst stopped early ({} acknowledged)",
            acked.load(std::sync::atomic::Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.start_kill().unwrap(); // SIGKILL, mid-burst
    server.child.wait().await.unwrap();
    for t in tasks {
        t.await.unwrap();
    }

    let server = start_server_with(&data, database_url.as_deref(), &log, &env).await;
    let mut expected: HashSet<String> = HashSet::new();
    for id in &conversations {
        let view: Value = http
            .get(format!("{}/api/v1/staff/conversations/{id}", server.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let last_seq = view["conversation"]["last_seq"]
            .as_i64()
            .or_else(|| view["last_seq"].as_i64())
            .unwrap_or_else(|| panic!("last_seq in {view}"));
        assert!(last_seq >= 8, "the burst committed events: {last_seq}");
        expected.extend((0..=last_seq).map(|seq| format!("evt_{id}_{seq}")));
    }
    let got = receiver
        .wait_for("every committed event", 90, |r| {
            let ids: HashSet<&str> = r.iter().map(|d| d.id.as_str()).collect();
            expected.iter().all(|e| ids.contains(e.as_str()))
        })
        .await;
    let unique: HashSet<&str> = got.iter().map(|d| d.id.as_str()).collect();
    println!(
        "committed events {}, deliveries {}, duplicates {} (dedupable by webhook-id)",
        expected.len(),
        got.len(),
        got.len() - unique.len()
    );
    for (conversation, seqs) in first_arrivals(&got) {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{conversation} out of order: {seqs:?}"
        );
    }
    let (verified, failed) = receiver.verify(&secret).await;
    assert_eq!((verified as usize, failed), (got.len(), 0));
    drop(server);
}
