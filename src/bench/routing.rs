//! `xiaoer bench routing`: the routing engine under load. It starts the real
//! server in-process (SQLite in a temporary data dir, or PostgreSQL when
//! DATABASE_URL is set) and runs two phases:
//!  1. latency: online agents hold staff feed WebSockets; buyers hand off at a
//!     fixed rate over HTTP; we measure from the hand-off request until the
//!     assignment reaches the agent's feed (what the console shows);
//!  2. drain: a queue of waiting chats is assigned by several concurrent
//!     assigners once a fresh team comes online; we count assignments/s.

use crate::config::Settings;
use crate::domain::routing::Presence;
use crate::domain::staff::Role;
use crate::http::AppState;
use crate::services::staff::NewStaff;
use crate::startup::Application;
use anyhow::Context;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args, Debug, Clone)]
pub struct RoutingBenchArgs {
    /// Agents per phase (each phase has its own team).
    #[arg(long, default_value_t = 50)]
    pub agents: usize,
    /// Chats each agent may hold.
    #[arg(long, default_value_t = 40)]
    pub capacity: i64,
    /// Hand-offs in the latency phase.
    #[arg(long, default_value_t = 500)]
    pub handoffs: usize,
    /// Hand-offs per second in the latency phase.
    #[arg(long, default_value_t = 50)]
    pub rate: u64,
    /// Waiting chats in the drain phase (at most agents × capacity).
    #[arg(long, default_value_t = 2000)]
    pub queue: usize,
    /// Concurrent assigners in the drain phase.
    #[arg(long, default_value_t = 4)]
    pub assigners: usize,
}

use super::PASSWORD;
const SETUP_CONCURRENCY: usize = 32;

/// When each conversation's assignment reached an agent's feed.
type Seen = Arc<Mutex<HashMap<String, Instant>>>;

pub async fn run(args: RoutingBenchArgs, settings: Settings) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.queue as i64 <= args.agents as i64 * args.capacity,
        "--queue must be at most agents × capacity"
    );
    let dir = tempfile::tempdir()?;
    let mut server_settings = Settings::for_data_dir(dir.path());
    server_settings.database_url = settings.database_url.clone();
    let backend = match server_settings.database_url {
        Some(_) => "postgres",
        None => "sqlite",
    };
    let app = Application::build(server_settings).await?;
    let base = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let http = crate::net::client();

    eprintln!(
        "latency phase on {backend}: {} agents online, {} hand-offs at {}/s",
        args.agents, args.handoffs, args.rate
    );
    let team = create_agents(&state, &http, &base, "lat", args.agents, args.capacity).await?;
    let seen: Seen = Arc::default();
    for (_, token) in &team {
        http.put(format!("{base}/api/v1/staff/presence"))
            .bearer_auth(token)
            .json(&json!({ "status": "online" }))
            .send()
            .await?
            .error_for_status()?;
        spawn_feed(&base, token, seen.clone()).await?;
    }
    let buyers = create_buyers(&http, &base, args.handoffs).await?;
    let started = hand_off_at_rate(&http, &base, &buyers, args.rate).await?;
    tokio::time::sleep(Duration::from_secs(2)).await; // the last assignments land
    let latency = latencies(&started, &seen);

    eprintln!(
        "drain phase: {} waiting chats, {} assigners",
        args.queue, args.assigners
    );
    for (id, _) in &team {
        state
            .store
            .set_presence(id, Presence::Offline.as_str(), 0)
            .await?;
    }
    let waiting = create_buyers(&http, &base, args.queue).await?;
    hand_off_all(&http, &base, &waiting).await?;
    let fresh = create_agents(&state, &http, &base, "drain", args.agents, args.capacity).await?;
    for (id, _) in &fresh {
        state
            .store
            .set_presence(id, Presence::Online.as_str(), 0)
            .await?;
    }
    let (assigned, secs) = drain(&state, args.assigners).await?;

    let report = json!({
        "bench": "routing",
        "backend": backend,
        "agents": args.agents,
        "capacity": args.capacity,
        "latency": { "handoffs": args.handoffs, "rate_per_s": args.rate, "handoff_to_agent_feed_ms": latency },
        "drain": {
            "waiting": args.queue,
            "assigners": args.assigners,
            "assigned": assigned,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "assignments_per_s": (assigned as f64 / secs).round(),
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .context("server did not stop")???;
    Ok(())
}

/// Agents who take chats only in this bench's run (removed from nobody: the
/// default group holds everyone, which is what a small shop has).
async fn create_agents(
    state: &AppState,
    http: &reqwest::Client,
    base: &str,
    prefix: &str,
    n: usize,
    capacity: i64,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let username = format!("bench-{prefix}-{i}");
        let new = NewStaff::parse(&username, PASSWORD, None, Role::Agent, Some(capacity))?;
        let user = state.staff.add_user(new).await?;
        let res: Value = http
            .post(format!("{base}/api/v1/staff/login"))
            .json(&json!({ "username": username, "password": PASSWORD }))
            .send()
            .await?
            .json()
            .await?;
        out.push((
            user.id,
            res["token"].as_str().context("login token")?.to_owned(),
        ));
    }
    Ok(out)
}

/// (conversation id, visitor token) of new conversations.
async fn create_buyers(
    http: &reqwest::Client,
    base: &str,
    n: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let started = futures::stream::iter(0..n)
        .map(|_| async move {
            let res: Value = http
                .post(format!("{base}/api/v1/conversations"))
                .json(&json!({ "channel": "web" }))
                .send()
                .await?
                .json()
                .await?;
            let id = res["conversation"]["id"]
                .as_str()
                .context("conversation id")?
                .to_owned();
            let token = res["visitor_token"]
                .as_str()
                .context("visitor token")?
                .to_owned();
            anyhow::Ok((id, token))
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    started.into_iter().collect()
}

async fn hand_off(
    http: &reqwest::Client,
    base: &str,
    (id, token): &(String, String),
) -> anyhow::Result<()> {
    http.post(format!("{base}/api/v1/conversations/{id}/handoff"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

async fn hand_off_all(
    http: &reqwest::Client,
    base: &str,
    buyers: &[(String, String)],
) -> anyhow::Result<()> {
    let results = futures::stream::iter(buyers)
        .map(|b| hand_off(http, base, b))
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    results.into_iter().collect()
}

/// Starts one hand-off every 1/rate seconds; returns when each was sent.
async fn hand_off_at_rate(
    http: &reqwest::Client,
    base: &str,
    buyers: &[(String, String)],
    rate: u64,
) -> anyhow::Result<HashMap<String, Instant>> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    let mut started = HashMap::new();
    let mut tasks = Vec::new();
    for buyer in buyers {
        tick.tick().await;
        started.insert(buyer.0.clone(), Instant::now());
        let (http, base, buyer) = (http.clone(), base.to_owned(), buyer.clone());
        tasks.push(tokio::spawn(
            async move { hand_off(&http, &base, &buyer).await },
        ));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started)
}

/// An agent's staff feed: records when each assignment to them arrives.
async fn spawn_feed(base: &str, token: &str, seen: Seen) -> anyhow::Result<()> {
    let url = format!(
        "{}/api/v1/staff/ws?access_token={token}",
        base.replacen("http", "ws", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(text) = msg else { continue };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let event = &frame["event"];
            if frame["type"] == "event"
                && event["to"] == "with_agent"
                && let Some(id) = event["conversation_id"].as_str()
            {
                seen.lock()
                    .expect("seen")
                    .entry(id.to_owned())
                    .or_insert_with(Instant::now);
            }
        }
    });
    Ok(())
}

fn latencies(started: &HashMap<String, Instant>, seen: &Seen) -> Value {
    let seen = seen.lock().expect("seen");
    let mut ms: Vec<f64> = started
        .iter()
        .filter_map(|(id, t0)| {
            seen.get(id)
                .map(|t1| t1.duration_since(*t0).as_secs_f64() * 1000.0)
        })
        .collect();
    if ms.is_empty() {
        return json!(null);
    }
    ms.sort_by(f64::total_cmp);
    let at =
        |q: f64| (ms[((ms.len() as f64 * q) as usize).min(ms.len() - 1)] * 100.0).round() / 100.0;
    json!({ "delivered": ms.len(), "missing": started.len() - ms.len(), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0) })
}

/// Several assigners dispatch the default group at once until its queue is empty.
async fn drain(state: &AppState, assigners: usize) -> anyhow::Result<(usize, f64)> {
    // Counted from the queue itself: the server's own sweeper may assign some too.
    let before = state.store.queue_of("general", i64::MAX).await?.len();
    let started = Instant::now();
    let tasks: Vec<_> = (0..assigners.max(1))
        .map(|_| {
            let routing = state.routing.clone();
            tokio::spawn(async move {
                let mut total = 0;
                loop {
                    let n = routing.dispatch("general").await?;
                    if n == 0 {
                        return anyhow::Ok(total);
                    }
                    total += n;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    let after = state.store.queue_of("general", i64::MAX).await?.len();
    Ok((before - after, secs))
}
