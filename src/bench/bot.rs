//! `xiaoer bench bot`: the bot end to end with the real models. Starts the real
//! server in-process (SQLite in a temporary data dir), then for each sample opens a
//! buyer conversation and its WebSocket, sends a question over REST and times:
//!  - curated answers: send until the committed bot answer arrives (p50/p99);
//!  - grounded answers: send until the first streamed piece arrives (time to
//!    first token as the buyer sees it), and until the committed answer.
//!
//! By default the knowledge base is a scripted one (one curated, one grounded
//! entry), so the figures time the bot pipeline and the LLM alone. With
//! --real-kb the server's own knowledge base (the demo shop's, hybrid retrieval
//! and the decision function) decides; each reply is then counted by what the
//! bot actually did (curated answer, generated answer, hand-off) and timed in
//! that group, asked with buyer wordings of the demo KB's entries.

use crate::config::Settings;
use crate::ports::{KbDecision, KbHit, KbVerdict, KnowledgeBase, KnowledgeError};
use crate::startup::{Adapters, Application, Models};
use anyhow::Context;
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args, Debug, Clone)]
pub struct BotBenchArgs {
    /// Curated-answer samples.
    #[arg(long, default_value_t = 200)]
    pub curated: usize,
    /// Grounded-answer samples (each runs the LLM).
    #[arg(long, default_value_t = 10)]
    pub grounded: usize,
    /// Use the knowledge base start-up configures instead of the scripted one.
    #[arg(long)]
    pub real_kb: bool,
    /// Instead of timing, ask every question of this JSON-lines file (one
    /// `{"question": ...}` a line, e.g. tests/data/unsupported_claims.jsonl) of
    /// the configured knowledge base and print how each was handled.
    #[arg(long, value_name = "FILE")]
    pub claims: Option<std::path::PathBuf>,
}

const CURATED_Q: [&str; 4] = [
    "什么时候发货？",
    "多久发货呀",
    "When do you ship?",
    "下单后什么时候发货",
];
const GROUNDED_Q: [&str; 5] = [
    "你们可以开发票吗？",
    "发票怎么开",
    "Can I get an invoice for my order?",
    "开发票需要提供什么信息",
    "电子发票多久能收到",
];

/// Buyer wordings (not the entries' own) for the demo shop's knowledge base:
/// ones it answers from a curated entry, and ones it only half covers, so the
/// LLM answers grounded on the retrieved entries (checked with /api/v1/kb/search).
const REAL_CURATED_Q: [&str; 4] = [
    "付款以后多久能发货",
    "什么时候可以发货呀",
    "How soon do you ship after I pay?",
    "退货的运费险怎么理赔",
];
const REAL_GROUNDED_Q: [&str; 5] = [
    "衣服洗了之后缩水了还能退吗",
    "我在新疆，运费要加多少，几天能到",
    "What if my parcel is lost?",
    "开了发票还能退货吗",
    "will my order go out today",
];

/// Two entries: shipping time (curated, sent as written) and invoices (grounds the LLM).
struct ScriptedKnowledge;

#[async_trait::async_trait]
impl KnowledgeBase for ScriptedKnowledge {
    async fn decide(&self, query: &str) -> Result<KbVerdict, KnowledgeError> {
        let q = query.to_lowercase();
        let (decision, hit) = if q.contains("发票") || q.contains("invoice") {
            let answer = "本店支持开具电子普通发票，下单时在备注中填写抬头和税号，发货后3天内发送到您的邮箱。";
            (
                KbDecision::Grounded,
                ("faq-invoice", "发票 / Invoices", answer, 0.72),
            )
        } else {
            let answer = "付款后48小时内发货，节假日顺延。We ship within 48 hours of payment.";
            (
                KbDecision::Curated,
                (
                    "faq-shipping-time",
                    "发货时间 / Shipping time",
                    answer,
                    0.93,
                ),
            )
        };
        Ok(KbVerdict {
            decision,
            confidence: hit.3,
            hits: vec![KbHit {
                entry_id: hit.0.into(),
                title: hit.1.into(),
                answer: hit.2.into(),
                score: hit.3,
                classifier: 0.0,
                wordings: Vec::new(),
                member_answers: Vec::new(),
                category: String::new(),
                products: Vec::new(),
            }],
            out_of_window: None,
        })
    }
    async fn record_answered(&self, _: &str) -> Result<(), KnowledgeError> {
        Ok(())
    }
    async fn record_feedback(&self, _: &str, _: bool) -> Result<(), KnowledgeError> {
        Ok(())
    }
    async fn create_draft(&self, _: &str, _: &str, _: &str) -> Result<String, KnowledgeError> {
        Err(KnowledgeError::Unavailable("scripted".into()))
    }
}

/// What the bot did with a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Curated,
    Generated,
    HandedOff,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Curated => "curated",
            Outcome::Generated => "generated",
            Outcome::HandedOff => "handed_off",
        }
    }
}

pub(crate) struct Sample {
    /// Send to the first streamed piece of a generated answer.
    pub first_stream_ms: Option<f64>,
    /// Send to the committed reply (bot message or hand-off notice).
    pub answer_ms: f64,
    pub outcome: Outcome,
    /// What the buyer was told.
    pub text: String,
    /// The entries the reply cites.
    pub citations: Vec<String>,
}

impl Sample {
    /// Send to the first thing the buyer sees: a streamed piece or the reply.
    pub(crate) fn first_reply_ms(&self) -> f64 {
        self.first_stream_ms.unwrap_or(self.answer_ms)
    }
}

/// Asks every question of a JSON-lines file and prints, per question, whether
/// the bot answered (curated or generated, with its citations), said it does
/// not know (offering the closest entries) or handed off, then the totals.
async fn run_claims(
    client: &reqwest::Client,
    base: &str,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let mut totals: std::collections::BTreeMap<&str, usize> = Default::default();
    println!("| # | question | handled as | cites | reply |");
    println!("| --- | --- | --- | --- | --- |");
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let row: Value = serde_json::from_str(line)?;
        let question = row["question"].as_str().context("question")?;
        let sample = ask(client, base, question).await?;
        let dont_know =
            crate::services::bot::prompts::dont_know(crate::domain::lang::Lang::detect(question));
        let handled = match sample.outcome {
            Outcome::Generated
                if sample.citations.is_empty() && sample.text.starts_with(dont_know) =>
            {
                "dont_know"
            }
            Outcome::Generated if sample.citations.is_empty() => "generated_uncited",
            other => other.as_str(),
        };
        *totals.entry(handled).or_default() += 1;
        println!(
            "| {} | {question} | {handled} | {} | {} |",
            i + 1,
            sample.citations.join(" "),
            sample.text.replace('\n', " ").replace('|', "/")
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "bench": "bot claims", "totals": totals }))?
    );
    Ok(())
}

/// The real server, started in-process on a temporary SQLite data dir.
pub(crate) struct Server {
    pub base: String,
    pub load_s: f64,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Loads the models and starts the server with `knowledge` (None: the
    /// knowledge base start-up configures, i.e. the demo shop's).
    pub(crate) async fn start(
        settings: Settings,
        knowledge: Option<Arc<dyn KnowledgeBase>>,
    ) -> anyhow::Result<(Server, tempfile::TempDir)> {
        let dir = tempfile::tempdir()?;
        let mut settings = Settings {
            data_dir: dir.path().to_owned(),
            listen: ([127, 0, 0, 1], 0).into(),
            database_url: None,
            bot: true,
            ..settings
        };
        // Its own index: a serving node may hold the configured one.
        settings.index_dir = dir.path().join("index");
        settings.commerce_url = None;
        // Every buyer here comes from one loopback address: the per-address
        // limits would ask for a challenge after ten conversations. They have
        // their own tests; the evaluations measure the bot.
        settings.rate_limits.conversations_per_ip = 0;
        settings.rate_limits.challenge_conversations_per_ip = 0;
        settings.rate_limits.messages_per_visitor = 0;
        if settings.identity_secret.is_none() {
            // The buyers sign in as the demo store's buyer, through the demo route.
            let secret = crate::crypto::Token::generate("bench_identity_").value;
            settings.identity_secret = Some(crate::config::Secret::new(secret));
        }
        let load = Instant::now();
        let models = {
            let s = settings.clone();
            tokio::task::spawn_blocking(move || Models::load(&s)).await??
        };
        let load_s = load.elapsed().as_secs_f64();
        let adapters = Adapters {
            models: Some(models),
            knowledge,
            commerce: None,
        };
        let app = Application::build_with(settings, adapters).await?;
        let base = format!("127.0.0.1:{}", app.local_addr().port());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Ok((
            Server {
                base,
                load_s,
                stop,
                handle,
            },
            dir,
        ))
    }

    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        drop(self.stop);
        self.handle.await?
    }
}

pub async fn run(args: BotBenchArgs, settings: Settings) -> anyhow::Result<()> {
    let knowledge: Option<Arc<dyn KnowledgeBase>> = if args.real_kb || args.claims.is_some() {
        None
    } else {
        Some(Arc::new(ScriptedKnowledge))
    };
    let (server, _dir) = Server::start(settings, knowledge).await?;
    let base = server.base.clone();
    let load_s = server.load_s;
    let client = crate::net::client();
    if let Some(path) = &args.claims {
        let result = run_claims(&client, &base, path).await;
        server.stop().await?;
        return result;
    }
    let (curated_q, grounded_q): (&[&str], &[&str]) = if args.real_kb {
        (&REAL_CURATED_Q, &REAL_GROUNDED_Q)
    } else {
        (&CURATED_Q, &GROUNDED_Q)
    };
    // Warm-up: the first generation pays for caches (prompt prefix, allocator).
    ask(&client, &base, GROUNDED_Q[0]).await?;
    let mut samples = Vec::with_capacity(args.curated + args.grounded);
    let mut by_question: std::collections::BTreeMap<&str, std::collections::BTreeMap<&str, usize>> =
        Default::default();
    let asked = (0..args.curated)
        .map(|i| curated_q[i % curated_q.len()])
        .chain((0..args.grounded).map(|i| grounded_q[i % grounded_q.len()]));
    let mut replies: std::collections::BTreeMap<&str, String> = Default::default();
    for question in asked {
        let sample = ask(&client, &base, question).await?;
        replies
            .entry(question)
            .or_insert_with(|| sample.text.clone());
        *by_question
            .entry(question)
            .or_default()
            .entry(sample.outcome.as_str())
            .or_default() += 1;
        samples.push(sample);
    }
    server.stop().await?;
    if !args.real_kb {
        // The scripted KB decides by keyword: anything else is a broken pipeline.
        let (asked_curated, asked_grounded) = samples.split_at(args.curated);
        anyhow::ensure!(
            asked_curated.iter().all(|s| s.outcome == Outcome::Curated),
            "a curated question was not answered with the curated entry"
        );
        anyhow::ensure!(
            asked_grounded
                .iter()
                .all(|s| s.outcome == Outcome::Generated && s.first_stream_ms.is_some()),
            "a grounded answer streamed nothing"
        );
    }
    let times = |outcome: Outcome| -> Vec<f64> {
        samples
            .iter()
            .filter(|s| s.outcome == outcome)
            .map(|s| s.answer_ms)
            .collect()
    };
    let mut ttft: Vec<f64> = samples
        .iter()
        .filter(|s| s.outcome == Outcome::Generated)
        .filter_map(|s| s.first_stream_ms)
        .collect();
    let count = |outcome: Outcome| samples.iter().filter(|s| s.outcome == outcome).count();
    let report = json!({
        "bench": "bot",
        "knowledge": if args.real_kb { "configured (the server's own knowledge base)" } else { "scripted (decision only, no retrieval)" },
        "model_load_s": load_s,
        "outcomes": {
            Outcome::Curated.as_str(): count(Outcome::Curated),
            Outcome::Generated.as_str(): count(Outcome::Generated),
            Outcome::HandedOff.as_str(): count(Outcome::HandedOff),
        },
        "outcomes_by_question": by_question,
        "first_reply_by_question": replies,
        "curated_reply_ms": summary(&mut times(Outcome::Curated)),
        "grounded_first_token_ms": summary(&mut ttft),
        "grounded_answer_ms": summary(&mut times(Outcome::Generated)),
        "handoff_notice_ms": summary(&mut times(Outcome::HandedOff)),
        "targets": { "curated_p99_ms": 50, "grounded_first_token_p50_ms": 2500 },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

pub(crate) fn summary(values: &mut [f64]) -> Value {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| {
        values
            .get(((values.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
    };
    json!({ "n": values.len(), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": values.last() })
}

/// One question in a fresh conversation, timed from the send to what the buyer sees.
pub(crate) async fn ask(
    client: &reqwest::Client,
    base: &str,
    question: &str,
) -> anyhow::Result<Sample> {
    let identity: Value = client
        .get(format!(
            "http://{base}/api/v1/demo/identity?account=demo_buyer_1"
        ))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let started: Value = client
        .post(format!("http://{base}/api/v1/conversations"))
        .json(&json!({ "identity": identity }))
        .send()
        .await?
        .json()
        .await?;
    let id = started["conversation"]["id"]
        .as_str()
        .context("conversation id")?;
    let token = started["visitor_token"].as_str().context("visitor token")?;
    let url = format!("ws://{base}/api/v1/conversations/{id}/ws?access_token={token}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    // Skip the welcome and wait until the socket is live.
    loop {
        let frame = next_frame(&mut ws).await?;
        if frame["type"] == "ready" {
            break;
        }
    }
    let sent = Instant::now();
    let res = client
        .post(format!("http://{base}/api/v1/conversations/{id}/messages"))
        .bearer_auth(token)
        .json(&json!({ "client_msg_id": "bench-1", "body": { "type": "text", "text": question } }))
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "send failed: {}", res.status());
    let mut first_stream_ms = None;
    loop {
        let frame = next_frame(&mut ws).await?;
        let ms = sent.elapsed().as_secs_f64() * 1e3;
        if frame["type"] == "stream" {
            first_stream_ms.get_or_insert(ms);
        }
        if frame["type"] != "event" {
            continue;
        }
        let event = &frame["event"];
        let outcome = match (
            event["sender"]["kind"].as_str(),
            event["body"]["type"].as_str(),
        ) {
            (Some("bot"), _) if event["body"]["source"] == "curated" => Outcome::Curated,
            (Some("bot"), _) => Outcome::Generated,
            // The hand-off notice: the chat left the bot for the queue.
            (Some("system"), Some("system")) => Outcome::HandedOff,
            _ => continue,
        };
        return Ok(Sample {
            first_stream_ms,
            answer_ms: ms,
            outcome,
            text: event["body"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            citations: event["body"]["citations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["entry_id"].as_str().map(str::to_owned))
                .collect(),
        });
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_frame(ws: &mut Socket) -> anyhow::Result<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(120), ws.next())
            .await
            .context("no frame within 120 s")?
            .context("socket closed")??;
        if let Message::Text(text) = msg {
            return Ok(serde_json::from_str(&text)?);
        }
    }
}
