//! `xiaoer bench visitors`: many shoppers online at once. It starts the real
//! server in-process (SQLite in a temporary data dir, or PostgreSQL when
//! DATABASE_URL is set, no rate limits), brings `--visitors` shop pages online
//! and keeps them beating every `--every-ms` (a third of the beats move to
//! another product page), and meanwhile:
//! - probes how soon an agent's visitor list reflects a change: a visit moves to
//!   a new page; the agent's live stream (`/api/v1/staff/visits/stream`) says so
//!   and the list the console then re-reads shows the new page. Reported: the
//!   stream event and the list showing it, from the heartbeat's send;
//! - measures recommendations for buyers on a product page
//!   (`GET /api/v1/staff/conversations/{id}/recommendations`), the first (which
//!   learns the model from every visit and the demo logs) apart from the rest.

use crate::config::Settings;
use crate::domain::staff::Role;
use crate::services::staff::NewStaff;
use crate::startup::Application;
use crate::storage::demo_catalogue;
use anyhow::Context;
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct VisitorsBenchArgs {
    /// Shop pages online at once.
    #[arg(long, default_value_t = 5_000)]
    pub visitors: usize,
    /// Each page's heartbeat interval (the widget's is 5,000).
    #[arg(long, default_value_t = 5_000)]
    pub every_ms: u64,
    /// Changes probed on the agent's list.
    #[arg(long, default_value_t = 100)]
    pub probes: usize,
    /// Recommendation requests timed (after the first).
    #[arg(long, default_value_t = 300)]
    pub recommendations: usize,
}

use super::PASSWORD;
const SHOP: &str = "https://shop.example/demo/";

pub async fn run(args: VisitorsBenchArgs, settings: Settings) -> anyhow::Result<()> {
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
    let http = crate::net::client_builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let skus: Arc<Vec<String>> = Arc::new(
        demo_catalogue::generate()
            .into_iter()
            .map(|p| p.sku)
            .collect(),
    );
    let new = NewStaff::parse("bench-boss", PASSWORD, None, Role::Supervisor, None)?;
    state.staff.add_user(new).await?;
    let token = login(&http, &base, "bench-boss").await?;

    // Every page arrives, then beats on in the background.
    eprintln!("bringing {} visitors online on {backend}", args.visitors);
    let beats = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut keys = Vec::with_capacity(args.visitors);
    for chunk in (0..args.visitors).collect::<Vec<_>>().chunks(64) {
        let arrivals = chunk.iter().map(|&n| {
            let (http, base, skus) = (http.clone(), base.clone(), skus.clone());
            async move {
                let body = json!({ "browser_id": browser(n), "url": page(&skus[n % skus.len()]) });
                let reply = beat(&http, &base, &body).await?;
                reply["visit_key"]
                    .as_str()
                    .map(str::to_owned)
                    .context("a visit key")
            }
        });
        for key in futures::future::join_all(arrivals).await {
            keys.push(key?);
        }
    }
    let arrive_secs = started.elapsed().as_secs_f64();
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut load = Vec::new();
    for (n, key) in keys.iter().enumerate() {
        let (http, base, skus, beats, running) = (
            http.clone(),
            base.clone(),
            skus.clone(),
            beats.clone(),
            running.clone(),
        );
        let key = key.clone();
        let every = Duration::from_millis(args.every_ms);
        let offset = Duration::from_millis(args.every_ms * n as u64 / args.visitors as u64);
        load.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut round = 0usize;
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                round += 1;
                // A third of the beats move to another product page.
                let at = if round.is_multiple_of(3) { n + round } else { n };
                let body = json!({ "browser_id": browser(n), "visit_key": key, "url": page(&skus[at % skus.len()]) });
                let t = Instant::now();
                if beat(&http, &base, &body).await.is_ok() {
                    beats.lock().expect("beats").push(ms(t));
                }
                tokio::time::sleep(every).await;
            }
        }));
    }

    // The agent's live stream, read in the background.
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stream = http
        .get(format!("{base}/api/v1/staff/visits/stream"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?;
    let reader = tokio::spawn(async move {
        let mut bytes = stream.bytes_stream();
        let mut buffer = String::new();
        while let Some(Ok(chunk)) = bytes.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) {
                    let _ = events_tx.send(data.trim().to_owned());
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(args.every_ms)).await;

    eprintln!("probing {} changes on the agent's list", args.probes);
    let (mut streamed, mut reflected, mut lists) = (Vec::new(), Vec::new(), Vec::new());
    let mut missed = 0usize;
    for probe in 0..args.probes {
        let n = probe * 7919 % args.visitors;
        let url = format!("{SHOP}?sku={}&probe={probe}", skus[probe % skus.len()]);
        while events.try_recv().is_ok() {}
        let t = Instant::now();
        let body = json!({ "browser_id": browser(n), "visit_key": keys[n], "url": url });
        let visit = beat(&http, &base, &body).await?["visit_id"]
            .as_str()
            .context("visit id")?
            .to_owned();
        let deadline = t + Duration::from_secs(5);
        let mut seen_event = None;
        let mut done = false;
        while Instant::now() < deadline && !done {
            let Ok(Some(data)) = tokio::time::timeout_at(deadline.into(), events.recv()).await
            else {
                break;
            };
            // A lagging stream says "{}": the console re-reads on any event.
            if !(data.contains(&visit) || data == "{}") {
                continue;
            }
            seen_event.get_or_insert(ms(t));
            let l = Instant::now();
            let list: Vec<Value> = http
                .get(format!("{base}/api/v1/staff/visits?limit=50"))
                .bearer_auth(&token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            lists.push(ms(l));
            done = list
                .iter()
                .any(|v| v["id"] == visit.as_str() && v["current_page"] == url.as_str());
        }
        match (seen_event, done) {
            (Some(event), true) => {
                streamed.push(event);
                reflected.push(ms(t));
            }
            _ => missed += 1,
        }
    }

    eprintln!("timing recommendations");
    let mut conversations = Vec::new();
    for i in 0..20 {
        let started: Value = http
            .post(format!("{base}/api/v1/conversations"))
            .json(&json!({ "nickname": format!("bench buyer {i}") }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = started["conversation"]["id"]
            .as_str()
            .context("id")?
            .to_owned();
        let buyer = started["visitor_token"].as_str().context("token")?;
        let context = json!({ "current_page": page(&skus[i * 11 % skus.len()]), "pages_viewed": [], "cart": [] });
        http.put(format!("{base}/api/v1/visitor/context"))
            .bearer_auth(buyer)
            .json(&context)
            .send()
            .await?
            .error_for_status()?;
        conversations.push(id);
    }
    let recommend = |id: String| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let t = Instant::now();
            let list: Vec<Value> = http
                .get(format!(
                    "{base}/api/v1/staff/conversations/{id}/recommendations"
                ))
                .bearer_auth(&token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            Ok::<_, anyhow::Error>((ms(t), list.len()))
        }
    };
    let (first_ms, first_len) = recommend(conversations[0].clone()).await?;
    let mut recommendation_ms = Vec::with_capacity(args.recommendations);
    let mut empty = 0usize;
    for i in 0..args.recommendations {
        let (took, len) = recommend(conversations[i % conversations.len()].clone()).await?;
        recommendation_ms.push(took);
        empty += usize::from(len == 0);
    }

    running.store(false, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        task.abort();
    }
    reader.abort();
    let mut beat_ms = std::mem::take(&mut *beats.lock().expect("beats"));
    let report = json!({
        "backend": backend,
        "visitors": args.visitors,
        "beat_every_ms": args.every_ms,
        "arrive_secs": (arrive_secs * 10.0).round() / 10.0,
        "heartbeats": { "count": beat_ms.len(), "latency_ms": percentiles(&mut beat_ms) },
        "list_reflects_change": {
            "probes": args.probes,
            "missed_within_5s": missed,
            "stream_event_ms": percentiles(&mut streamed),
            "list_shows_it_ms": percentiles(&mut reflected),
            "list_read_ms": percentiles(&mut lists),
        },
        "recommendations": {
            "first_ms_with_learning": (first_ms * 10.0).round() / 10.0,
            "first_count": first_len,
            "requests": recommendation_ms.len(),
            "empty": empty,
            "latency_ms": percentiles(&mut recommendation_ms),
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .context("server did not stop")???;
    Ok(())
}

fn browser(n: usize) -> String {
    format!("b_bench_{n:06}")
}

fn page(sku: &str) -> String {
    format!("{SHOP}?sku={sku}")
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

async fn beat(http: &reqwest::Client, base: &str, body: &Value) -> anyhow::Result<Value> {
    Ok(http
        .post(format!("{base}/api/v1/presence"))
        .json(body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

async fn login(http: &reqwest::Client, base: &str, username: &str) -> anyhow::Result<String> {
    let reply: Value = http
        .post(format!("{base}/api/v1/staff/login"))
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(reply["token"].as_str().context("login token")?.to_owned())
}

fn percentiles(ms: &mut [f64]) -> Value {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len().max(1)) - 1;
        ms.get(i).map(|v| (v * 10.0).round() / 10.0)
    };
    json!({ "p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": at(1.0) })
}
