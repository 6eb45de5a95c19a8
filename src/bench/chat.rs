//! `xiaoer bench chat`: a load generator for the conversation server. It starts
//! the real server in-process (SQLite in a temporary data dir, or PostgreSQL when
//! DATABASE_URL is set), opens N buyer WebSockets and A agent feeds, then runs
//! two phases:
//!  1. fixed rate: buyers whose chats agents own send R messages/s in total;
//!     we measure acknowledgement latency (durable) and delivery latency (send
//!     until the agent's feed shows the message);
//!  2. saturation: every buyer sends in a closed loop (next message after the
//!     ack); we count acknowledged, durable messages per second.
//!
//! With `--target URL` it drives a server (or a load balancer over several
//! nodes) that is already running instead.

use crate::config::Settings;
use crate::domain::staff::Role;
use crate::services::staff::{NewStaff, StaffService};
use crate::startup::Application;
use anyhow::Context;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args, Debug, Clone)]
pub struct ChatBenchArgs {
    /// Buyer WebSocket connections to open and hold.
    #[arg(long, default_value_t = 5000)]
    pub buyers: usize,
    /// Agents, each with a staff feed socket and up to 50 claimed chats.
    #[arg(long, default_value_t = 20)]
    pub agents: usize,
    /// Messages per second in the fixed-rate phase.
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Drive an already running server or load balancer at this URL (e.g. nginx in
    /// front of several nodes) instead of starting one in-process. Agents are added
    /// to its database, so DATABASE_URL must be the one the nodes use.
    #[arg(long)]
    pub target: Option<String>,
    /// Also run the in-process server with the event backbone loaded: three
    /// extra cluster subscribers reading every event and a webhook endpoint
    /// for every event whose receiver (started here) sleeps 10 s per call.
    /// Prints the figures of a plain run and of a loaded run side by side.
    #[arg(long, conflicts_with = "target")]
    pub backbone: bool,
}

const CHATS_PER_AGENT: usize = 50;
const SETUP_CONCURRENCY: usize = 64;

enum Command {
    /// Send one message now (fixed-rate phase).
    One,
    /// Send in a closed loop until the deadline.
    Until(Instant),
}

#[derive(Default)]
struct Stats {
    acks: AtomicU64,
    errors: AtomicU64,
    open_sockets: AtomicUsize,
    ack_us: Mutex<Vec<u64>>,
    delivery_us: Mutex<Vec<u64>>,
    recording: std::sync::atomic::AtomicBool,
}

pub async fn run(args: ChatBenchArgs, settings: Settings) -> anyhow::Result<()> {
    if !args.backbone {
        let report = run_once(&args, &settings, false).await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    eprintln!("run 1 of 2: without subscribers or webhooks");
    let plain = run_once(&args, &settings, false).await?;
    eprintln!("run 2 of 2: three subscribers and a webhook receiver that sleeps 10 s per call");
    let loaded = run_once(&args, &settings, true).await?;
    let report = json!({ "without": plain, "with_backbone": loaded });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// One bench run; `backbone` loads the server with subscribers and a slow webhook.
async fn run_once(
    args: &ChatBenchArgs,
    settings: &Settings,
    backbone: bool,
) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let mut server_settings = Settings::for_data_dir(dir.path());
    server_settings.database_url = settings.database_url.clone();
    let backend = if server_settings.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let mut running = None;
    let (base, staff, store) = match &args.target {
        Some(url) => {
            let store = crate::startup::open_store(settings).await?;
            let clock = Arc::new(crate::ports::SystemClock);
            let audit = Arc::new(crate::services::audit::AuditService::new(
                Arc::new(store.clone()),
                clock.clone(),
            ));
            let staff = Arc::new(StaffService::new(
                Arc::new(store.clone()),
                audit,
                clock,
                settings.session_hours,
            ));
            (url.trim_end_matches('/').to_owned(), staff, store)
        }
        None => {
            let app = Application::build(server_settings).await?;
            let base = format!("http://{}", app.local_addr());
            let staff = app.state().staff.clone();
            let store = app.state().store.clone();
            if backbone {
                backbone_load::attach(app.state()).await?;
            }
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(app.run_until(async move {
                let _ = stopped.await;
            }));
            running = Some((stop, server));
            (base, staff, store)
        }
    };
    let http = crate::net::client_builder()
        .pool_max_idle_per_host(SETUP_CONCURRENCY)
        .build()?;
    let started = Instant::now();

    eprintln!(
        "setting up {} agents and {} buyers on {backend}...",
        args.agents, args.buyers
    );
    let agents = create_agents(&staff, &http, &base, args.agents).await?;
    let buyers = create_buyers(&http, &base, args.buyers).await?;
    let claimed = (args.agents * CHATS_PER_AGENT).min(args.buyers);
    claim_chats(&http, &base, &buyers[..claimed], &agents).await?;
    eprintln!(
        "setup done in {:.1}s; connecting sockets...",
        started.elapsed().as_secs_f64()
    );

    let stats = Arc::new(Stats::default());
    let clock = Instant::now();
    for token in &agents {
        spawn_agent_feed(&base, token, stats.clone(), clock).await?;
    }
    let mut senders = Vec::with_capacity(buyers.len());
    for chunk in buyers.chunks(200) {
        let opened = futures::future::join_all(chunk.iter().enumerate().map(|(i, b)| {
            let index = senders.len() + i;
            spawn_buyer(&base, b, index, stats.clone(), clock)
        }))
        .await;
        for tx in opened {
            senders.push(tx?);
        }
    }
    let held = stats.open_sockets.load(Ordering::SeqCst);
    eprintln!(
        "{held} buyer sockets open; fixed-rate phase: {} msg/s for {}s",
        args.rate, args.seconds
    );

    // Phase 1: fixed rate over the claimed chats, 1 ms ticks.
    stats.recording.store(true, Ordering::SeqCst);
    let phase1 = fixed_rate(
        &senders[..claimed],
        args.rate,
        Duration::from_secs(args.seconds),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // let the last deliveries land
    stats.recording.store(false, Ordering::SeqCst);
    let ack = percentiles(&stats.ack_us);
    let delivery = percentiles(&stats.delivery_us);
    let phase1_acks = stats.acks.swap(0, Ordering::SeqCst);

    // Phase 2: every buyer in a closed loop.
    eprintln!(
        "saturation phase: {} buyers, closed loop, {}s",
        senders.len(),
        args.seconds
    );
    let outbox_before = store.outbox_head().await?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let phase2_start = Instant::now();
    for tx in &senders {
        let _ = tx.send(Command::Until(deadline)).await;
    }
    tokio::time::sleep_until((deadline + Duration::from_millis(300)).into()).await;
    let phase2_secs = phase2_start
        .elapsed()
        .as_secs_f64()
        .min(args.seconds as f64 + 0.3);
    let durable = stats.acks.load(Ordering::SeqCst) as f64 / phase2_secs;
    let outbox_after = store.outbox_head().await?;
    // The outbox's events/s while chat is saturated, and how far each
    // subscriber is behind the newest event when the phase ends.
    let lag: serde_json::Map<String, Value> = store
        .subscriber_positions()
        .await?
        .into_iter()
        .filter(|(name, _)| name != crate::services::webhooks::SENDER_LEASE)
        .map(|(name, position)| (name, json!(outbox_after - position)))
        .collect();
    let still_open = stats.open_sockets.load(Ordering::SeqCst);

    let report = json!({
        "bench": "chat",
        "backend": backend,
        "target": args.target.as_deref().unwrap_or("in-process server"),
        "buyers": args.buyers,
        "agents": args.agents,
        "connections_held": still_open,
        "fixed_rate": {
            "target_msgs_per_s": args.rate,
            "sent_per_s": phase1 as f64 / args.seconds as f64,
            "acked": phase1_acks,
            "ack_ms": ack,
            "delivery_ms": delivery,
        },
        "saturation": {
            "durable_msgs_per_s": durable.round(),
            "outbox_events_per_s": ((outbox_after - outbox_before) as f64 / phase2_secs).round(),
            "subscriber_lag_events": lag,
        },
        "backbone": backbone,
        "errors": stats.errors.load(Ordering::SeqCst),
    });
    drop(senders);
    if let Some((stop, server)) = running {
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(20), server)
            .await
            .context("server did not stop")???;
    }
    Ok(report)
}

async fn create_agents(
    staff: &StaffService,
    http: &reqwest::Client,
    base: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let password = "bench password 123";
    // A run of its own: a target's database may hold agents of earlier runs.
    let run = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let mut tokens = Vec::new();
    for i in 0..n {
        let username = format!("bench-agent-{run}-{i}");
        let new = NewStaff::parse(
            &username,
            password,
            None,
            Role::Agent,
            Some(CHATS_PER_AGENT as i64),
        )?;
        staff.add_user(new).await?;
        let res: Value = http
            .post(format!("{base}/api/v1/staff/login"))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await?
            .json()
            .await?;
        tokens.push(res["token"].as_str().context("login token")?.to_owned());
    }
    Ok(tokens)
}

struct BenchBuyer {
    conversation_id: String,
    token: String,
}

async fn create_buyers(
    http: &reqwest::Client,
    base: &str,
    n: usize,
) -> anyhow::Result<Vec<BenchBuyer>> {
    let url = format!("{base}/api/v1/conversations");
    let results: Vec<anyhow::Result<BenchBuyer>> = futures::stream::iter(0..n)
        .map(|_| async {
            let res: Value = http
                .post(&url)
                .json(&json!({}))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            Ok(BenchBuyer {
                conversation_id: res["conversation"]["id"].as_str().context("id")?.to_owned(),
                token: res["visitor_token"].as_str().context("token")?.to_owned(),
            })
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn claim_chats(
    http: &reqwest::Client,
    base: &str,
    buyers: &[BenchBuyer],
    agents: &[String],
) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(buyers.iter().enumerate())
        .map(|(i, b)| async move {
            let conv = format!("{base}/api/v1/conversations/{}", b.conversation_id);
            http.post(format!("{conv}/handoff"))
                .bearer_auth(&b.token)
                .send()
                .await?
                .error_for_status()?;
            let agent = &agents[i % agents.len()];
            let claim = format!(
                "{base}/api/v1/staff/conversations/{}/claim",
                b.conversation_id
            );
            http.post(claim)
                .bearer_auth(agent)
                .send()
                .await?
                .error_for_status()?;
            Ok(())
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

fn ws_base(base: &str) -> String {
    base.replacen("http://", "ws://", 1)
}

/// The agent's feed: every message of its chats; the client_msg_id carries the
/// send time, so delivery latency needs no shared map.
async fn spawn_agent_feed(
    base: &str,
    token: &str,
    stats: Arc<Stats>,
    clock: Instant,
) -> anyhow::Result<()> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "{}/api/v1/staff/ws?access_token={token}",
        ws_base(base)
    ))
    .await?;
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(text) = msg else { continue };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let sent_us = frame["event"]["client_msg_id"]
                .as_str()
                .and_then(|id| id.rsplit('-').next())
                .and_then(|t| t.parse::<u64>().ok());
            if let Some(sent_us) = sent_us
                && stats.recording.load(Ordering::Relaxed)
            {
                let now_us = clock.elapsed().as_micros() as u64;
                stats
                    .delivery_us
                    .lock()
                    .expect("stats")
                    .push(now_us.saturating_sub(sent_us));
            }
        }
    });
    Ok(())
}

async fn spawn_buyer(
    base: &str,
    buyer: &BenchBuyer,
    index: usize,
    stats: Arc<Stats>,
    clock: Instant,
) -> anyhow::Result<mpsc::Sender<Command>> {
    let url = format!(
        "{}/api/v1/conversations/{}/ws?access_token={}",
        ws_base(base),
        buyer.conversation_id,
        buyer.token
    );
    let (ws, _) = tokio_tungstenite::connect_async(url).await?;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Command>(64);
    stats.open_sockets.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        let mut n = 0u64;
        let mut pending: Option<u64> = None; // send time of the message awaiting its ack
        let mut closed_loop: Option<Instant> = None;
        loop {
            tokio::select! {
                cmd = rx.recv(), if pending.is_none() => match cmd {
                    Some(Command::One) => {}
                    Some(Command::Until(deadline)) => closed_loop = Some(deadline),
                    None => break,
                },
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if text.contains("\"type\":\"ack\"") {
                            if let Some(sent) = pending.take() {
                                stats.acks.fetch_add(1, Ordering::Relaxed);
                                if stats.recording.load(Ordering::Relaxed) {
                                    let us = (clock.elapsed().as_micros() as u64).saturating_sub(sent);
                                    stats.ack_us.lock().expect("stats").push(us);
                                }
                            }
                        } else if text.contains("\"type\":\"error\"") {
                            stats.errors.fetch_add(1, Ordering::Relaxed);
                            pending = None;
                        }
                        if closed_loop.is_none_or(|d| Instant::now() >= d) {
                            closed_loop = None;
                            continue;
                        }
                    }
                    Some(Ok(_)) => continue,
                    _ => break,
                },
            }
            if pending.is_some() {
                continue;
            }
            // Send one message (either commanded, or the next of a closed loop).
            n += 1;
            let sent = clock.elapsed().as_micros() as u64;
            let frame = json!({
                "type": "send",
                "client_msg_id": format!("b{index}-{n}-{sent}"),
                "body": { "type": "text", "text": "你好，我想问一下这件衣服有没有 XL 码？" }
            });
            if sink
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
            pending = Some(sent);
        }
        stats.open_sockets.fetch_sub(1, Ordering::SeqCst);
    });
    Ok(tx)
}

/// Sends `rate` messages per second round-robin over the senders; returns how many.
async fn fixed_rate(senders: &[mpsc::Sender<Command>], rate: u64, length: Duration) -> u64 {
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0u64;
    let mut next = 0usize;
    while start.elapsed() < length {
        tick.tick().await;
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            // A sender still waiting for its previous ack is skipped (try_send fails only when full).
            let _ = senders[next % senders.len()].try_send(Command::One);
            next += 1;
            sent += 1;
        }
    }
    sent
}

fn percentiles(samples: &Mutex<Vec<u64>>) -> Value {
    let mut v = std::mem::take(&mut *samples.lock().expect("stats"));
    if v.is_empty() {
        return json!(null);
    }
    v.sort_unstable();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)] as f64 / 1000.0;
    json!({ "samples": v.len(), "p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": at(1.0) })
}

/// The event backbone's load for `--backbone`: three cluster subscribers that
/// read every event (stand-ins for tickets, analytics and audit) and a webhook
/// endpoint for every event whose receiver takes 10 s to answer each call.
mod backbone_load {
    use crate::domain::events::DomainEvent;
    use crate::domain::staff::Role;
    use crate::http::AppState;
    use crate::services::staff::NewStaff;
    use crate::services::subscribers::{Reach, Runner, Subscriber};
    use crate::services::webhooks::NewEndpoint;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    const SUBSCRIBERS: [&str; 3] = ["bench-tickets", "bench-analytics", "bench-audit"];
    const RECEIVER_SLEEP: Duration = Duration::from_secs(10);

    struct Counting {
        name: &'static str,
        seen: AtomicU64,
    }

    #[async_trait::async_trait]
    impl Subscriber for Counting {
        fn name(&self) -> &'static str {
            self.name
        }

        async fn handle(&self, _event: &DomainEvent) -> Result<(), String> {
            self.seen.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    pub async fn attach(state: &AppState) -> anyhow::Result<()> {
        let runner = Runner::new(Arc::new(state.store.clone()), state.clock.clone());
        for name in SUBSCRIBERS {
            let subscriber = Arc::new(Counting {
                name,
                seen: AtomicU64::new(0),
            });
            runner
                .spawn(subscriber, Reach::Cluster, state.shutdown.clone())
                .await?;
        }
        let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", receiver.local_addr()?);
        let slow = axum::Router::new().route(
            "/hook",
            axum::routing::post(|| async {
                tokio::time::sleep(RECEIVER_SLEEP).await;
                axum::http::StatusCode::NO_CONTENT
            }),
        );
        tokio::spawn(async move { axum::serve(receiver, slow).await });
        let admin = NewStaff::parse(
            "bench-admin",
            "bench-admin-Passw0rd!",
            None,
            Role::Admin,
            None,
        )?;
        let admin = state.staff.add_user(admin).await?;
        let endpoint = NewEndpoint {
            url,
            event_types: vec!["*".to_owned()],
            description: "bench: a receiver that sleeps 10 s".to_owned(),
        };
        state.webhooks.create(&admin, endpoint).await?;
        Ok(())
    }
}
