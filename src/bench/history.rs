//! `xiaoer bench history`: history search over many finished conversations.
//! It starts the real server in-process (SQLite in a temporary data dir, or
//! PostgreSQL when DATABASE_URL is set), writes `--conversations` generated
//! chats (Chinese buyer questions about products, orders and deliveries, agent
//! answers, order numbers, buyer phones and names) with sealed bodies and their
//! blind-index terms, then searches over HTTP as a supervisor: a common word,
//! two words, an order number, a buyer's phone, an agent within a month, and a
//! word that is nowhere. It prints latency per kind, checks that every order
//! number and phone finds its own conversation, and (on SQLite) scans the raw
//! database file for sampled message texts, which must not be there.

use crate::config::Settings;
use crate::crypto::Cipher;
use crate::domain::message::{MessageBody, MessageText};
use crate::domain::staff::Role;
use crate::services::events::EventPayload;
use crate::services::staff::NewStaff;
use crate::startup::Application;
use crate::storage::{SeedConversation, TermHash};
use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct HistoryBenchArgs {
    /// Finished conversations to search over.
    #[arg(long, default_value_t = 100_000)]
    pub conversations: usize,
    /// Searches per kind.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Random seed of the generated data.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

use super::PASSWORD;
const AGENTS: usize = 20;
const BATCH: usize = 2000;
const DAY_MS: i64 = 86_400_000;

const PRODUCTS: &[&str] = &[
    "充电宝",
    "蓝牙耳机",
    "保温杯",
    "连衣裙",
    "运动鞋",
    "双肩包",
    "电饭煲",
    "空气炸锅",
    "羽绒服",
    "面膜",
    "洗发水",
    "机械键盘",
    "无线鼠标",
    "手机壳",
    "数据线",
    "台灯",
    "加湿器",
    "行李箱",
    "牛仔裤",
    "卫衣",
    "儿童玩具",
    "猫粮",
    "狗绳",
    "茶叶",
    "坚果礼盒",
    "口红",
    "香水",
    "电动牙刷",
    "吹风机",
    "瑜伽垫",
];
const ISSUES: &[&str] = &[
    "什么时候发货",
    "能不能退货",
    "充不进电",
    "尺码偏大",
    "颜色和图片不一样",
    "收到的时候坏了",
    "物流一直不动",
    "可以开发票吗",
    "有没有优惠券",
    "少发了一件",
    "怎么换货",
    "包装破损",
    "声音很小",
    "漏水",
    "有异味",
    "七天无理由吗",
    "能改地址吗",
    "发什么快递",
    "保修多久",
    "怎么用",
];
const REPLIES: &[&str] = &[
    "亲，已经帮您催促仓库尽快发货",
    "支持七天无理由退货，请在订单页申请",
    "麻烦您拍一张照片给我们看看",
    "已为您登记换货，新的会在三天内寄出",
    "发票可以在订单详情里申请电子发票",
    "亲，这边给您补发少的那件",
    "快递是顺丰，一般两到三天到",
    "保修一年，期间免费维修",
    "地址已经帮您改好了",
    "优惠券在店铺首页领取",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "欧阳", "司马",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛",
];
const MISSING: &[&str] = &["潜水艇", "火箭发动机", "恐龙化石", "天文望远镜"];

struct Generated {
    rows: Vec<SeedConversation>,
    /// (conversation id, order number, phone, agent id, created at, a sampled text)
    facts: Vec<(String, String, Option<String>, String, i64, String)>,
}

pub async fn run(args: HistoryBenchArgs, settings: Settings) -> anyhow::Result<()> {
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
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let cipher = Cipher::load(None, dir.path())?;
    let http = crate::net::client();

    let mut agents = Vec::new();
    for i in 0..AGENTS {
        let new = NewStaff::parse(
            &format!("hist-agent-{i}"),
            PASSWORD,
            None,
            Role::Agent,
            Some(10),
        )?;
        agents.push(state.staff.add_user(new).await?.id);
    }
    let boss = NewStaff::parse("hist-boss", PASSWORD, None, Role::Supervisor, None)?;
    state.staff.add_user(boss).await?;
    let token = http
        .post(format!("{base}/api/v1/staff/login"))
        .json(&json!({ "username": "hist-boss", "password": PASSWORD }))
        .send()
        .await?
        .error_for_status()?
        .json::<Value>()
        .await?["token"]
        .as_str()
        .context("login token")?
        .to_owned();

    eprintln!("writing {} conversations on {backend}", args.conversations);
    let mut rng = StdRng::seed_from_u64(args.seed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let mut facts = Vec::new();
    let mut index_rows = 0usize;
    let started = Instant::now();
    let mut written = 0;
    while written < args.conversations {
        let n = BATCH.min(args.conversations - written);
        let batch = generate(&mut rng, &cipher, &agents, now, written, n);
        state.store.seed_conversations(&batch.rows).await?;
        let mut terms: Vec<(String, Vec<TermHash>)> = Vec::with_capacity(n);
        for (row, fact) in batch.rows.iter().zip(&batch.facts) {
            let mut t = Vec::new();
            for (_, _, sealed, _) in &row.events {
                let plain = cipher.open(sealed, row.id.as_bytes())?;
                if let EventPayload::Message { body } = serde_json::from_slice(&plain)? {
                    t.extend(state.history.message_terms(&body));
                }
            }
            if let Some(phone) = &fact.2 {
                t.extend(state.history.buyer_terms([phone.as_str()]));
            }
            t.sort_unstable();
            t.dedup();
            index_rows += t.len();
            terms.push((row.id.clone(), t));
        }
        let entries: Vec<(&str, &[TermHash])> = terms
            .iter()
            .map(|(id, t)| (id.as_str(), t.as_slice()))
            .collect();
        state.store.add_history_terms_bulk(&entries).await?;
        facts.extend(batch.facts);
        written += n;
        if written % 20_000 == 0 || written == args.conversations {
            eprintln!(
                "  {written} written ({:.0}/s)",
                written as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let seed_secs = started.elapsed().as_secs_f64();

    // The searches, each kind with its own generator and check.
    let mut kinds: Vec<(&str, Vec<f64>, usize)> = Vec::new();
    let mut missed = 0usize;
    let search = |query: String| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let t = Instant::now();
            let res = http
                .get(format!("{base}/api/v1/staff/history?{query}"))
                .bearer_auth(&token)
                .send()
                .await?;
            anyhow::ensure!(res.status().is_success(), "{query}: {}", res.status());
            let hits: Vec<Value> = res.json().await?;
            Ok::<_, anyhow::Error>((t.elapsed().as_secs_f64() * 1000.0, hits))
        }
    };
    for kind in [
        "common word",
        "two words",
        "order number",
        "buyer phone",
        "agent, 30 days, word",
        "word nowhere",
    ] {
        let mut times = Vec::with_capacity(args.queries);
        let mut found_total = 0;
        for _ in 0..args.queries {
            let fact = facts.choose(&mut rng).context("facts")?;
            let product = PRODUCTS.choose(&mut rng).unwrap();
            let query = match kind {
                "common word" => format!("q={}", enc(product)),
                "two words" => format!(
                    "q={}",
                    enc(&format!("{product} {}", ISSUES.choose(&mut rng).unwrap()))
                ),
                "order number" => format!("order_no={}", fact.1),
                "buyer phone" => match &fact.2 {
                    Some(p) => format!("buyer={p}"),
                    None => format!("order_no={}", fact.1),
                },
                "agent, 30 days, word" => format!(
                    "agent_id={}&from={}&until={}&q={}",
                    fact.3,
                    fact.4 - 15 * DAY_MS,
                    fact.4 + 15 * DAY_MS,
                    enc(product)
                ),
                _ => format!("q={}", enc(MISSING.choose(&mut rng).unwrap())),
            };
            let (ms, hits) = search(query).await?;
            times.push(ms);
            found_total += hits.len();
            if matches!(kind, "order number" | "buyer phone")
                && !hits.iter().any(|h| h["conversation_id"] == fact.0.as_str())
            {
                missed += 1;
            }
        }
        kinds.push((kind, times, found_total));
    }

    let raw_scan = if backend == "sqlite" {
        let mut bytes = Vec::new();
        for file in ["xiaoer.db", "xiaoer.db-wal"] {
            bytes.extend(std::fs::read(dir.path().join(file)).unwrap_or_default());
        }
        let sample: Vec<&str> = facts
            .iter()
            .step_by((facts.len() / 200).max(1))
            .map(|f| f.5.as_str())
            .collect();
        let found = sample
            .iter()
            .filter(|text| bytes.windows(text.len()).any(|w| w == text.as_bytes()))
            .count();
        json!({ "database_bytes": bytes.len(), "sampled_texts": sample.len(), "found_in_clear": found })
    } else {
        json!("only on SQLite (the file is scanned)")
    };
    let mut all: Vec<f64> = kinds.iter().flat_map(|k| k.1.iter().copied()).collect();
    let report = json!({
        "bench": "history",
        "backend": backend,
        "conversations": args.conversations,
        "index_rows": index_rows,
        "index_rows_per_conversation": (index_rows as f64 / args.conversations as f64 * 10.0).round() / 10.0,
        "seed_seconds": (seed_secs * 10.0).round() / 10.0,
        "search_ms": kinds.iter().map(|(k, t, found)| {
            let mut t = t.clone();
            json!({ "kind": k, "queries": t.len(), "hits_per_query": (*found as f64 / t.len() as f64 * 10.0).round() / 10.0, "latency": percentiles(&mut t) })
        }).collect::<Vec<_>>(),
        "search_ms_all": percentiles(&mut all),
        "order_or_phone_not_found": missed,
        "raw_scan": raw_scan,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .context("server did not stop")???;
    Ok(())
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn percentiles(ms: &mut [f64]) -> Value {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len().max(1)) - 1;
        ms.get(i).map(|v| (v * 10.0).round() / 10.0)
    };
    json!({ "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": at(1.0) })
}

fn generate(
    rng: &mut StdRng,
    cipher: &Cipher,
    agents: &[String],
    now: i64,
    offset: usize,
    n: usize,
) -> Generated {
    let mut rows = Vec::with_capacity(n);
    let mut facts = Vec::with_capacity(n);
    for i in 0..n {
        let number = offset + i;
        let id = format!("00000000-0000-4000-8000-{number:012}");
        let visitor_id = format!("00000000-0000-4000-9000-{number:012}");
        let created_at = now - rng.gen_range(0..365 * DAY_MS);
        let agent = agents.choose(rng).unwrap().clone();
        let product = PRODUCTS.choose(rng).unwrap();
        let order = format!(
            "TB{:010}",
            3_000_000_000u64 + number as u64 * 7919 % 1_000_000_000
        );
        let phone = rng
            .gen_bool(0.4)
            .then(|| format!("13{:09}", rng.gen_range(0..1_000_000_000u64)));
        let name = format!(
            "{}{}",
            SURNAMES.choose(rng).unwrap(),
            GIVEN.choose(rng).unwrap()
        );
        let mut said = vec![
            (
                "buyer",
                format!("你好，我买的{product}{}", ISSUES.choose(rng).unwrap()),
            ),
            ("buyer", format!("订单号是{order}，{name}下的单")),
        ];
        for _ in 0..rng.gen_range(0..3) {
            said.push(("agent", REPLIES.choose(rng).unwrap().to_string()));
            said.push(("buyer", format!("{}吗？", ISSUES.choose(rng).unwrap())));
        }
        said.push((
            "agent",
            format!("{}，还有其他问题随时找我", REPLIES.choose(rng).unwrap()),
        ));
        let sample = said[0].1.clone();
        let events = said
            .into_iter()
            .enumerate()
            .map(|(k, (who, text))| {
                let body = MessageBody::Text {
                    text: MessageText::parse(&text).expect("generated text is valid"),
                };
                let payload =
                    serde_json::to_vec(&EventPayload::Message { body }).expect("serialises");
                // A buyer's messages carry the visitor's id, an agent's their staff id.
                let sender = Some(if who == "agent" {
                    agent.clone()
                } else {
                    visitor_id.clone()
                });
                (
                    who.to_owned(),
                    sender,
                    cipher.seal(&payload, id.as_bytes()),
                    created_at + k as i64 * 30_000,
                )
            })
            .collect();
        facts.push((id.clone(), order, phone, agent.clone(), created_at, sample));
        rows.push(SeedConversation {
            id,
            visitor_id,
            agent_id: Some(agent),
            state: "resolved".into(),
            created_at,
            events,
        });
    }
    Generated { rows, facts }
}
