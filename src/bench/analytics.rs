//! `xiaoer bench analytics`: the reports over a year of data. It builds the
//! real server once (SQLite in a temporary data dir, or PostgreSQL when
//! DATABASE_URL is set: use an empty database) to create the tables and the
//! subscribers' cursors, stops it, and writes a generated data set straight
//! into the tables: for each of `--conversations` conversations spread over
//! `--days` days, its outbox events (started, buyer and bot turns, hand-off,
//! assignment, agent replies, transfer, resolve, CSAT...), the facts row the
//! analytics subscriber folds from exactly those events (`Facts::apply`, the
//! subscriber's own code), and the daily rollups summed from the same
//! `contribution`s; every subscriber's cursor is then put past the seeded
//! events, as if the subscribers had handled them. It starts the server again
//! and, over HTTP as an admin, times the standard daily report, custom 90-day
//! reports by agent, by agent × day and by day, the visitor funnel (the seed
//! adds three finished visits per conversation as their rollup counters, and
//! most web chats are attributed to a visit), a CSV export and the
//! conversation export (a line per chat, read as it streams), reporting the
//! process's peak RSS during each kind and overall. It prints JSON.

use crate::config::Settings;
use crate::domain::analytics::{
    Contribution, DAY_MS, Facts, METRICS, RollupKey, TopicKind, contribution, hourly_contribution,
    local_day, local_hour, topic_contribution,
};
use crate::domain::events::{AssignedBy, EventData, NewEvent};
use crate::domain::funnel::VisitTally;
use crate::domain::presence::Source;
use crate::domain::staff::Role;
use crate::services::staff::NewStaff;
use crate::startup::Application;
use crate::storage::{FactsRow, RollupRow, SeedOutboxRow, Store, TopicRow};
use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct AnalyticsBenchArgs {
    /// Conversations to seed (about ten events each).
    #[arg(long, default_value_t = 1_000_000)]
    pub conversations: usize,
    /// Days the conversations are spread over, ending today.
    #[arg(long, default_value_t = 365)]
    pub days: i64,
    /// Agents the chats are handed to.
    #[arg(long, default_value_t = 50)]
    pub agents: usize,
    /// Timed reads per report kind.
    #[arg(long, default_value_t = 20)]
    pub queries: usize,
    /// Random seed of the generated data.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

use super::PASSWORD;
const BATCH: usize = 2000;
const CHANNELS: &[&str] = &["web", "app", "api"];
/// Visits seeded per conversation (a shop where one visit in ten or so chats).
const VISITS_PER_CHAT: usize = 3;

pub async fn run(args: AnalyticsBenchArgs, settings: Settings) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut server_settings = Settings::for_data_dir(dir.path());
    server_settings.database_url = settings.database_url.clone();
    server_settings.bot = false;
    let backend = if server_settings.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };

    // First start: tables, staff accounts and the subscribers' cursors.
    let app = Application::build(server_settings.clone()).await?;
    let state = app.state().clone();
    let mut agents = Vec::new();
    for i in 0..args.agents {
        let new = NewStaff::parse(&format!("an-agent-{i}"), PASSWORD, None, Role::Agent, None)?;
        agents.push(state.staff.add_user(new).await?.id);
    }
    let admin = NewStaff::parse("an-admin", PASSWORD, None, Role::Admin, None)?;
    state.staff.add_user(admin).await?;
    let offset = state.shop.current().await.utc_offset_minutes;
    let now = state.clock.now_ms();
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.run_until(async {}).await?;
    // The first server's index lock goes with its state.
    drop(state);

    eprintln!("seeding {} conversations on {backend}", args.conversations);
    let store = match &server_settings.database_url {
        Some(url) => Store::open_postgres(url.expose(), 4).await?,
        None => Store::open_sqlite(&server_settings.data_dir, 4).await?,
    };
    let mut rng = StdRng::seed_from_u64(args.seed);
    let started = Instant::now();
    let mut position = store.outbox_head().await?;
    let mut rollups = Sums::new();
    let mut hourly = Sums::new();
    let mut topics: HashMap<(String, TopicKind, String, String), i64> = HashMap::new();
    let (mut written, mut events_written) = (0, 0usize);
    while written < args.conversations {
        let n = BATCH.min(args.conversations - written);
        let (mut events, mut facts) = (Vec::new(), Vec::new());
        for i in written..written + n {
            let generated = generate(&mut rng, i, now, args.days, &agents);
            let (row, seeded) = fold(&generated, &mut position, offset)?;
            let folded: Facts = serde_json::from_str(&row.facts)?;
            if let Some((mut key, hour, counters)) = hourly_contribution(&folded) {
                // The hourly rollups keep the hour where the others keep the source.
                key.source = hour;
                add_up(&mut hourly, key, counters);
            }
            for (day, kind, topic, counters) in topic_contribution(&folded) {
                for (counter, v) in counters {
                    *topics
                        .entry((day.clone(), kind, topic.clone(), counter))
                        .or_default() += v;
                }
            }
            let (key, counters) = contribution(&folded);
            add_up(&mut rollups, key, counters);
            // The visits around the chats (`domain::funnel`): seeded as the
            // rollup counters they fold into (the funnel reads only those).
            for _ in 0..VISITS_PER_CHAT {
                let (key, counters) = visit(&mut rng, now, args.days, offset).contribution();
                add_up(&mut rollups, key, counters);
            }
            events.extend(seeded);
            facts.push(row);
        }
        events_written += events.len();
        store.seed_analytics(&events, &facts, now).await?;
        written += n;
        if written % 50_000 == 0 || written == args.conversations {
            eprintln!(
                "  {written} conversations, {events_written} events ({:.0} events/s)",
                events_written as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let as_rows = |sums: Sums| -> Vec<RollupRow> {
        sums.into_iter()
            .filter(|(_, v)| *v != 0)
            .map(|((day, channel, agent, split, counter), v)| {
                (day, channel, agent, split, counter, v)
            })
            .collect()
    };
    let hourly = as_rows(hourly);
    let topics: Vec<TopicRow> = topics
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .map(|((day, kind, topic, counter), v)| (day, kind.as_str(), topic, counter, v))
        .collect();
    let rows = as_rows(rollups);
    let rollup_rows = rows.len();
    store
        .seed_rollups(&rows, &hourly, &topics, position)
        .await?;
    drop(topics);
    store.close().await;
    drop(rows);
    let seed_secs = started.elapsed().as_secs_f64();

    // Second start: the server as a shop would run it, over the seeded data.
    // (An index of its own: the first one's lock may outlive its tasks.)
    server_settings.index_dir = dir.path().join("index-reports");
    let app = Application::build(server_settings).await?;
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let timed = time_reports(&base, now, offset, &args).await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .context("server did not stop")???;
    let timed = timed?;

    let report = json!({
        "bench": "analytics",
        "backend": backend,
        "conversations": args.conversations,
        "events": events_written,
        "rollup_rows": rollup_rows,
        "days": args.days,
        "agents": args.agents,
        "seed_seconds": (seed_secs * 10.0).round() / 10.0,
        "reports": timed,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Logs in as the admin and times the reports.
async fn time_reports(
    base: &str,
    now: i64,
    offset: i32,
    args: &AnalyticsBenchArgs,
) -> anyhow::Result<Value> {
    let http = crate::net::client();
    let body: Value = http
        .post(format!("{base}/api/v1/staff/login"))
        .json(&json!({ "username": "an-admin", "password": PASSWORD }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = body["token"].as_str().context("login token")?.to_owned();
    let day = |ago: i64| local_day(now - ago * DAY_MS, offset);
    let metrics = METRICS.iter().map(|m| m.key).collect::<Vec<_>>().join(",");
    let by_topic = METRICS
        .iter()
        .filter(|m| m.by_topic())
        .map(|m| m.key)
        .collect::<Vec<_>>()
        .join(",");
    let (to, from90, from_all) = (day(0), day(89), day(args.days - 1));
    let kinds = [
        (
            "daily standard report (summary, period=day)",
            format!("/api/v1/staff/analytics/summary?period=day&date={}", day(1)),
        ),
        (
            "custom report, 90 days by agent, all metrics",
            format!(
                "/api/v1/staff/analytics/report?metrics={metrics}&by=agent&from={from90}&to={to}"
            ),
        ),
        (
            "custom report, 90 days by agent × day, all metrics",
            format!(
                "/api/v1/staff/analytics/report?metrics={metrics}&by=agent,day&from={from90}&to={to}"
            ),
        ),
        (
            "custom report, 90 days by day, all metrics",
            format!(
                "/api/v1/staff/analytics/report?metrics={metrics}&by=day&from={from90}&to={to}"
            ),
        ),
        (
            "custom report, 90 days by day for one agent",
            format!(
                "/api/v1/staff/analytics/report?metrics={metrics}&by=day&from={from90}&to={to}&agent_id={}",
                agent_id_of(&http, base, &token).await?
            ),
        ),
        (
            "custom report, 90 days by source, all metrics",
            format!(
                "/api/v1/staff/analytics/report?metrics={metrics}&by=source&from={from90}&to={to}"
            ),
        ),
        (
            "custom report, 90 days by hour of the day",
            format!(
                "/api/v1/staff/analytics/report?metrics=conversations,engaged,handoffs,handoff_rate&by=hour&from={from90}&to={to}"
            ),
        ),
        (
            "custom report, 90 days by category, every metric kept by topic",
            format!(
                "/api/v1/staff/analytics/report?metrics={by_topic}&by=category&from={from90}&to={to}"
            ),
        ),
        (
            "custom report, 90 days by product × day, every metric kept by topic",
            format!(
                "/api/v1/staff/analytics/report?metrics={by_topic}&by=product,day&from={from90}&to={to}"
            ),
        ),
        (
            "visitor funnel, 90 days",
            format!("/api/v1/staff/analytics/funnel?from={from90}&to={to}"),
        ),
        (
            "CSV export, whole range by day",
            format!(
                "/api/v1/staff/analytics/report?metrics={metrics}&by=day&from={from_all}&to={to}&format=csv"
            ),
        ),
        (
            "conversation export (a line per chat), whole range",
            format!("/api/v1/staff/analytics/conversations.csv?from={from_all}&to={to}"),
        ),
    ];
    let mut out = Vec::new();
    for (kind, path) in kinds {
        let mut ms = Vec::new();
        let (mut bytes, mut lines) = (0, 0);
        // The process's peak memory while this kind runs (the seeding's
        // peak is forgotten first, where the kernel allows it).
        let rss_before = reset_peak_rss();
        for i in 0..=args.queries {
            let t = Instant::now();
            let mut res = http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await?;
            anyhow::ensure!(res.status().is_success(), "{path}: {}", res.status());
            // Read as it streams: the client never holds the whole body.
            (bytes, lines) = (0, 0);
            while let Some(chunk) = res.chunk().await? {
                bytes += chunk.len();
                lines += chunk.iter().filter(|b| **b == b'\n').count();
            }
            if i > 0 {
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        out.push(
            json!({ "kind": kind, "queries": ms.len(), "bytes": bytes, "lines": lines,
                         "latency_ms": percentiles(&mut ms), "rss_before_mib": rss_before,
                         "peak_rss_mib": peak_rss_mib() }),
        );
    }
    Ok(json!({ "timings": out, "peak_rss_mib": peak_rss_mib() }))
}

/// Forgets the process's peak resident set (Linux: `5` to clear_refs), so
/// that the next `peak_rss_mib` is the peak since; returns the set now.
fn reset_peak_rss() -> Option<f64> {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

/// The id of the first agent in the 90-day by-agent report.
async fn agent_id_of(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let body: Value = http
        .get(format!(
            "{base}/api/v1/staff/analytics/summary?period=month"
        ))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(body["agents"][0]["key"]
        .as_str()
        .context("an agent row")?
        .to_owned())
}

/// One generated conversation: its id and its events (at, data) in order.
struct Generated {
    id: String,
    events: Vec<(i64, EventData)>,
}

/// A conversation as a busy shop has them: one to four buyer/bot turns; six
/// in ten handed off, most of those taken by an agent who answers and
/// resolves (some transferred), the rest abandoned; a third rated.
fn generate(rng: &mut StdRng, i: usize, now: i64, days: i64, agents: &[String]) -> Generated {
    let mut at = now - rng.gen_range(DAY_MS / 24..days * DAY_MS);
    let mut events = Vec::new();
    let mut push = |at: i64, data: EventData| events.push((at, data));
    let channel = (*CHANNELS.choose(rng).expect("channels")).to_owned();
    let web = channel == "web";
    push(
        at,
        EventData::ConversationStarted {
            visitor_id: format!("vis_bench_{i:07}"),
            channel,
        },
    );
    // Most web chats open on a shop page the widget's presence script is on.
    if web && rng.gen_range(0..10) < 8 {
        push(
            at,
            EventData::ConversationAttributed {
                visit_id: format!("vst_bench_{i:07}"),
                source: *Source::ALL.choose(rng).expect("sources"),
                pages_before: rng.gen_range(1..=6),
                campaign: campaign(rng),
            },
        );
    }
    let message = |kind: &str| EventData::MessagePosted {
        sender_kind: kind.to_owned(),
        sender_id: None,
    };
    for _ in 0..rng.gen_range(1..=4) {
        push(step(rng, &mut at, 60_000), message("buyer"));
        push(step(rng, &mut at, 5_000), message("bot"));
    }
    push(at, classified(rng));
    let handed_off = rng.gen_range(0..10) < 6;
    let mut human = false;
    if handed_off {
        push(
            step(rng, &mut at, 30_000),
            EventData::HandedOff { packet_id: None },
        );
        if rng.gen_range(0..10) < 9 {
            human = true;
            let mut agent = agents.choose(rng).expect("agents").clone();
            push(
                step(rng, &mut at, 300_000),
                EventData::Assigned {
                    agent_id: agent.clone(),
                    by: AssignedBy::Routing,
                },
            );
            for _ in 0..rng.gen_range(1..=3) {
                push(step(rng, &mut at, 60_000), message("buyer"));
                push(step(rng, &mut at, 120_000), message("agent"));
            }
            if rng.gen_range(0..10) == 0 {
                let to = agents.choose(rng).expect("agents").clone();
                push(
                    step(rng, &mut at, 60_000),
                    EventData::Transferred {
                        from_agent_id: agent.clone(),
                        to_agent_id: to.clone(),
                    },
                );
                agent = to;
                push(step(rng, &mut at, 60_000), message("agent"));
            }
            push(
                step(rng, &mut at, 600_000),
                EventData::Resolved {
                    agent_id: Some(agent),
                },
            );
        } else {
            push(step(rng, &mut at, 600_000), EventData::Closed);
        }
    } else {
        push(
            step(rng, &mut at, 600_000),
            EventData::Resolved { agent_id: None },
        );
    }
    if rng.gen_range(0..3) == 0 {
        let stars = if human {
            rng.gen_range(2..=5)
        } else {
            rng.gen_range(1..=5)
        };
        push(step(rng, &mut at, 60_000), EventData::CsatRated { stars });
    }
    Generated {
        id: format!("cv_bench_{i:07}"),
        events,
    }
}

/// The rollup rows being summed: (day, channel, agent, source, counter) → value.
type Sums = HashMap<(String, String, String, String, String), i64>;

/// Adds one conversation's or visit's counters to the rollup rows.
fn add_up(rollups: &mut Sums, key: RollupKey, counters: Contribution) {
    for (counter, v) in counters {
        let k = (
            key.day.clone(),
            key.channel.clone(),
            key.agent_id.clone(),
            key.source.clone(),
            counter,
        );
        *rollups.entry(k).or_default() += v;
    }
}

/// A finished visit of the shop's pages somewhere in the range.
fn visit(rng: &mut StdRng, now: i64, days: i64, offset: i32) -> VisitTally {
    let at = now - rng.gen_range(DAY_MS / 24..days * DAY_MS);
    let pages = rng.gen_range(1..=8);
    VisitTally {
        day: local_day(at, offset),
        source: Some(*Source::ALL.choose(rng).expect("sources")),
        returning: rng.gen_range(0..10) < 3,
        ended: true,
        pages,
        dwell_ms: pages * rng.gen_range(5_000..120_000),
        campaign: campaign(rng),
    }
}

/// What the bot told the chat was about: an intent (most often a question
/// the knowledge base answered), one of 40 categories, and in half the chats
/// one of 300 products.
fn classified(rng: &mut StdRng) -> EventData {
    const INTENTS: [&str; 10] = [
        "question",
        "question",
        "question",
        "question",
        "human",
        "refund",
        "defect",
        "where_is_my_parcel",
        "order_status",
        "return_check",
    ];
    EventData::ConversationClassified {
        intent: Some((*INTENTS.choose(rng).expect("intents")).to_owned()),
        category: Some(format!(
            "类目{}/子类{}",
            rng.gen_range(1..=8),
            rng.gen_range(1..=5)
        )),
        product: rng
            .gen_bool(0.5)
            .then(|| format!("SKU-{:04}", rng.gen_range(1..=300))),
    }
}

/// One visit in four came from one of eight campaigns.
fn campaign(rng: &mut StdRng) -> Option<String> {
    (rng.gen_range(0..4) == 0).then(|| format!("campaign-{}", rng.gen_range(1..=8)))
}

/// Moves the clock of a generated conversation on by up to `max` ms.
fn step(rng: &mut StdRng, at: &mut i64, max: i64) -> i64 {
    *at += rng.gen_range(1_000..max);
    *at
}

/// The outbox rows of a generated conversation and the facts row the
/// analytics subscriber folds from them.
fn fold(
    g: &Generated,
    position: &mut i64,
    offset: i32,
) -> anyhow::Result<(FactsRow, Vec<SeedOutboxRow>)> {
    let mut facts = Facts::default();
    let mut rows = Vec::with_capacity(g.events.len());
    for (seq, (at, data)) in g.events.iter().enumerate() {
        facts.apply(*at, data, None, &local_day(*at, offset));
        facts.start_hour = Some(local_hour(facts.started_at, offset));
        *position += 1;
        let seq = seq as i64 + 1;
        rows.push((
            *position,
            NewEvent {
                id: format!("{}:{seq}", g.id),
                conversation_id: Some(g.id.clone()),
                seq: Some(seq),
                data: data.clone(),
                created_at: *at,
            },
        ));
    }
    let (key, _) = contribution(&facts);
    let row = FactsRow {
        conversation_id: g.id.clone(),
        day: key.day,
        channel: key.channel,
        agent_id: key.agent_id,
        source: key.source,
        queue_wait_ms: facts.queue_wait_ms(),
        last_position: *position,
        first_buyer_at: facts.first_buyer_at,
        facts: serde_json::to_string(&facts)?,
    };
    Ok((row, rows))
}

/// The process's peak resident set (VmHWM), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

fn percentiles(ms: &mut [f64]) -> Value {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len().max(1)) - 1;
        ms.get(i).map(|v| (v * 10.0).round() / 10.0)
    };
    json!({ "p50": at(0.50), "p95": at(0.95), "max": at(1.0) })
}
