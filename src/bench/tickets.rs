//! `xiaoer bench tickets`: the ticket board, the list and the SLA sweeper over
//! many tickets. It starts the real server in-process (SQLite in a temporary
//! data dir, or PostgreSQL when DATABASE_URL is set), seeds `--tickets`
//! generated tickets (states, priorities, departments and assignees spread as
//! in a busy shop; about half still open with their SLA clock running), then
//! over HTTP reads the board and filtered list pages as a supervisor and as an
//! agent. The background sweeper is paused: the bench's own first sweep, right
//! after seeding, is the one over every open ticket (and its escalations). It
//! prints the latencies (p50/p95/p99) and the sweeps' durations as JSON.

use crate::config::Settings;
use crate::domain::sla::{Escalation, SlaTargets, TicketSla};
use crate::domain::staff::Role;
use crate::domain::tickets::{Priority, Ticket, TicketSource, TicketState};
use crate::services::staff::NewStaff;
use crate::services::ticket_admin::DepartmentInput;
use crate::startup::Application;
use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct TicketsBenchArgs {
    /// Tickets to seed.
    #[arg(long, default_value_t = 100_000)]
    pub tickets: usize,
    /// Reads per kind (board, list pages).
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Random seed of the generated data.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

use super::PASSWORD;
const AGENTS: usize = 40;
const DEPARTMENTS: &[&str] = &[
    "售后 After-sales",
    "物流 Logistics",
    "技术 Tech",
    "财务 Finance",
    "客服 Service",
];
const BATCH: usize = 2000;
const DAY_MS: i64 = 86_400_000;
const TITLES: &[&str] = &[
    "包裹三天没更新",
    "收到的商品有破损",
    "申请退款未到账",
    "发票抬头开错了",
    "耳机左边没声音",
    "尺码不合适要换货",
    "快递显示签收但没收到",
    "优惠券没有生效",
];

pub async fn run(args: TicketsBenchArgs, settings: Settings) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut server_settings = Settings::for_data_dir(dir.path());
    server_settings.database_url = settings.database_url.clone();
    let backend = if server_settings.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let app = Application::build(server_settings).await?;
    let base = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    state.tickets.pause_sweeper();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let http = crate::net::client();

    let mut agents = Vec::new();
    for i in 0..AGENTS {
        let new = NewStaff::parse(&format!("tk-agent-{i}"), PASSWORD, None, Role::Agent, None)?;
        agents.push(state.staff.add_user(new).await?.id);
    }
    let boss = NewStaff::parse("tk-boss", PASSWORD, None, Role::Supervisor, None)?;
    state.staff.add_user(boss).await?;
    let mut departments = Vec::new();
    for (i, name) in DEPARTMENTS.iter().enumerate() {
        let d = state
            .tickets
            .create_department(DepartmentInput {
                name: (*name).to_owned(),
                lead_id: None,
            })
            .await?;
        for agent in agents.iter().skip(i).step_by(DEPARTMENTS.len()) {
            state.tickets.add_member(&d.id, agent).await?;
        }
        departments.push(d.id);
    }
    let login = |user: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let body: Value = http
                .post(format!("{base}/api/v1/staff/login"))
                .json(&json!({ "username": user, "password": PASSWORD }))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            Ok::<_, anyhow::Error>(body["token"].as_str().context("login token")?.to_owned())
        }
    };
    let boss_token = login("tk-boss").await?;
    let agent_token = login("tk-agent-0").await?;

    eprintln!("seeding {} tickets on {backend}", args.tickets);
    let now = state.clock.now_ms();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let started = Instant::now();
    let mut running = 0usize;
    let mut written = 0;
    while written < args.tickets {
        let n = BATCH.min(args.tickets - written);
        let batch: Vec<Ticket> = (written..written + n)
            .map(|i| generate(&mut rng, i, now, &agents, &departments))
            .collect();
        running += batch
            .iter()
            .filter(|t| t.sla.running_since.is_some())
            .count();
        state.store.seed_tickets(&batch).await?;
        written += n;
        if written % 20_000 == 0 || written == args.tickets {
            eprintln!(
                "  {written} written ({:.0}/s)",
                written as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let seed_secs = started.elapsed().as_secs_f64();

    // One sweep over every freshly seeded open ticket (it also writes the
    // escalations it finds), then a second that finds nothing new.
    let first = state.tickets.sweep(state.clock.now_ms()).await?;
    let second = state.tickets.sweep(state.clock.now_ms()).await?;
    eprintln!(
        "  sweeps: {} ms ({} escalated), {} ms",
        first.elapsed_ms, first.escalated, second.elapsed_ms
    );

    let get = |token: String, path: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let t = Instant::now();
            let res = http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await?;
            anyhow::ensure!(res.status().is_success(), "{path}: {}", res.status());
            let body = res.bytes().await?;
            Ok::<_, anyhow::Error>((t.elapsed().as_secs_f64() * 1000.0, body.len()))
        }
    };
    let mut kinds: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for i in 0..args.queries {
        let department = departments.choose(&mut rng).context("departments")?;
        let priority = Priority::ALL.choose(&mut rng).context("priority")?.as_str();
        let reads = [
            (
                "board, supervisor",
                boss_token.clone(),
                "/api/v1/staff/tickets/board".to_owned(),
            ),
            (
                "board, agent",
                agent_token.clone(),
                "/api/v1/staff/tickets/board".to_owned(),
            ),
            (
                "list, supervisor, open by department",
                boss_token.clone(),
                format!(
                    "/api/v1/staff/tickets?state=new,open,pending&department_id={department}&limit=100"
                ),
            ),
            (
                "list, supervisor, by priority",
                boss_token.clone(),
                format!("/api/v1/staff/tickets?priority={priority}&limit=100"),
            ),
            (
                "list, agent, mine",
                agent_token.clone(),
                "/api/v1/staff/tickets?limit=100".to_owned(),
            ),
        ];
        for (kind, token, path) in reads {
            let (ms, _) = get(token, path).await?;
            if i > 0 {
                kinds.entry(kind).or_default().push(ms);
            }
        }
    }

    let mut all_board: Vec<f64> = kinds
        .iter()
        .filter(|(k, _)| k.starts_with("board"))
        .flat_map(|(_, t)| t.iter().copied())
        .collect();
    let mut all_list: Vec<f64> = kinds
        .iter()
        .filter(|(k, _)| k.starts_with("list"))
        .flat_map(|(_, t)| t.iter().copied())
        .collect();
    let report = json!({
        "bench": "tickets",
        "backend": backend,
        "tickets": args.tickets,
        "running_sla": running,
        "seed_seconds": (seed_secs * 10.0).round() / 10.0,
        "read_ms": kinds.iter_mut().map(|(k, t)| json!({ "kind": k, "queries": t.len(), "latency": percentiles(t) })).collect::<Vec<_>>(),
        "board_ms_all": percentiles(&mut all_board),
        "list_ms_all": percentiles(&mut all_list),
        "sweep": {
            "first": { "tickets": first.tickets, "escalated": first.escalated, "ms": first.elapsed_ms },
            "second": { "tickets": second.tickets, "escalated": second.escalated, "ms": second.elapsed_ms },
            "tick_ms": 30_000,
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .context("server did not stop")???;
    Ok(())
}

/// One ticket of the data set: created within the last 60 days; a third
/// resolved or closed, the rest new, open, pending or on hold.
fn generate(
    rng: &mut StdRng,
    i: usize,
    now: i64,
    agents: &[String],
    departments: &[String],
) -> Ticket {
    let created_at = now - rng.gen_range(0..60 * DAY_MS);
    let state = match rng.gen_range(0..100) {
        0..=14 => TicketState::New,
        15..=44 => TicketState::Open,
        45..=54 => TicketState::Pending,
        55..=59 => TicketState::OnHold,
        60..=84 => TicketState::Resolved,
        _ => TicketState::Closed,
    };
    let priority = *Priority::ALL.choose(rng).expect("priorities");
    let (first, resolution) = priority.default_targets_minutes();
    let targets = SlaTargets {
        first_response_ms: first * 60_000,
        resolution_ms: resolution * 60_000,
    };
    let runs = !state.pauses_clock() && !state.is_done();
    let elapsed_ms = rng.gen_range(0..targets.resolution_ms * 2);
    let updated_at = rng.gen_range(created_at..=now);
    Ticket {
        id: format!("tkt_bench_{i:07}"),
        number: format!("TB{i:07}"),
        type_key: "general".into(),
        category: None,
        priority,
        department_id: departments.choose(rng).cloned(),
        assignee_id: (rng.gen_range(0..10) > 1)
            .then(|| agents.choose(rng).cloned())
            .flatten(),
        visitor_id: None,
        conversation_id: None,
        order_number: Some(format!("XE{:010}", rng.gen_range(0..10_000_000_000u64))),
        title: (*TITLES.choose(rng).expect("titles")).to_owned(),
        description: String::new(),
        custom_fields: BTreeMap::new(),
        tags: Vec::new(),
        state,
        status_text: None,
        source: TicketSource::Manual,
        version: 1,
        sla: TicketSla {
            targets,
            elapsed_ms,
            running_since: runs.then_some(updated_at),
            first_responded_at: (rng.gen_range(0..3) > 0).then_some(created_at + 60_000),
            escalation: Escalation::None,
        },
        first_response_due_at: None,
        resolution_due_at: (!state.is_done())
            .then(|| created_at + targets.resolution_ms * 3 - elapsed_ms),
        created_by: None,
        created_at,
        updated_at,
        resolved_at: state.is_done().then_some(updated_at),
    }
}

fn percentiles(ms: &mut [f64]) -> Value {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len().max(1)) - 1;
        ms.get(i).map(|v| (v * 10.0).round() / 10.0)
    };
    json!({ "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": at(1.0) })
}
