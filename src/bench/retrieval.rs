//! `xiaoer bench retrieval`: a 100k-chunk knowledge base on the embedded engine
//! (and, with `--remote`, on the Qdrant server at QDRANT_URL in the same run), real e5 vectors.
//!
//! Figures: ingestion chunks/s (e5 passage embedding + lexical vector + upsert,
//! in the product's batch size); query latency p50/p99 including the query
//! embedding, for exact search and for the HNSW graph at several `ef`; and the
//! graph's recall@10 against exact search, measured on the same real queries.
//! Chunks are built from the questions of the ../shared/eval sets (two or three
//! real sentences each, deterministic), queries are those sets' queries. A
//! `--work-dir` keeps the index, so a second run skips the embedding.

use crate::config::Settings;
use crate::ports::{EmbedKind, Embedder};
use crate::retrieval::edge::EdgeIndex;
use crate::retrieval::index::*;
use crate::retrieval::lexical::Segmenter;
use crate::retrieval::remote::RemoteIndex;
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct RetrievalBenchArgs {
    #[arg(long, default_value_t = 100_000)]
    pub chunks: usize,
    /// Timed queries.
    #[arg(long, default_value_t = 300)]
    pub queries: usize,
    /// The evaluation sets whose texts make the corpus.
    #[arg(long, default_value = "../shared/eval")]
    pub eval_dir: PathBuf,
    /// Keep the index here between runs (default: a temporary directory).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Also measure the Qdrant server at QDRANT_URL, next to the embedded engine.
    #[arg(long)]
    pub remote: bool,
    /// HNSW beam widths to measure.
    #[arg(long, value_delimiter = ',', default_value = "64,128,256,512")]
    pub ef: Vec<usize>,
}

const BATCH: usize = 64;

fn read_texts(dir: &std::path::Path, file: &str, field: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut sets: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    sets.sort();
    for set in sets {
        let text = std::fs::read_to_string(set.join(file))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line)?;
            match &v[field] {
                Value::String(s) => out.push(s.clone()),
                Value::Array(a) => {
                    out.extend(a.iter().filter_map(|q| q.as_str().map(str::to_owned)))
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Deterministic chunks of two or three real sentences.
fn corpus(sentences: &[String], n: usize) -> Vec<String> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % sentences.len() as u64) as usize
    };
    (0..n)
        .map(|i| {
            let parts = 2 + i % 2;
            (0..parts)
                .map(|_| sentences[next()].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    (sorted[i] * 100.0).round() / 100.0
}

pub async fn run(args: RetrievalBenchArgs, settings: &Settings) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let work = args
        .work_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&work)?;
    let embedder: Arc<dyn Embedder> =
        Arc::new(crate::llm::load_embedder(&settings.embed_model, 64)?);
    // With --remote, the Qdrant server and the embedded engine side by side in
    // one run: the same chunks, embedded once, upserted into both.
    let mut engines: Vec<(&str, Arc<dyn VectorIndex>)> = Vec::new();
    if args.remote {
        let url = settings
            .qdrant_url
            .clone()
            .context("--remote needs QDRANT_URL")?;
        let remote = RemoteIndex::connect(&url, "xiaoer_bench", embedder.dim()).await?;
        engines.push(("qdrant server (qdrant-client)", Arc::new(remote)));
    }
    let edge = EdgeIndex::open(&work.join("bench-index"), embedder.dim())?;
    engines.push(("qdrant-edge (embedded)", Arc::new(edge)));
    let segmenter = Segmenter::default();
    let sentences = read_texts(&args.eval_dir, "kb.jsonl", "questions")?;
    let chunks = corpus(&sentences, args.chunks);

    // An interrupted run resumes: point ids follow the chunk's position and
    // upserts are idempotent, so every index not yet full continues from the
    // smallest count among them (a 100k ingestion on a busy machine can take
    // longer than one sitting). An index holding more than the corpus starts over.
    let mut to_fill = Vec::new();
    let mut start = chunks.len();
    for (_, index) in &engines {
        let count = index.count().await?;
        if count == chunks.len() {
            continue;
        }
        if count > chunks.len() {
            index.clear().await?;
            start = 0;
        } else {
            start = start.min(count / BATCH * BATCH);
        }
        to_fill.push(index.clone());
    }
    if start > 0 && start < chunks.len() {
        eprintln!("resuming ingestion at chunk {start} of {}", chunks.len());
    }
    let mut filled = ingest(&chunks, start, &embedder, &segmenter, &to_fill)
        .await?
        .into_iter();

    let queries: Vec<String> = read_texts(&args.eval_dir, "queries.jsonl", "text")?
        .into_iter()
        .step_by(7)
        .take(args.queries)
        .collect();
    let mut vectors = Vec::with_capacity(queries.len());
    for q in &queries {
        vectors.push(
            embedder
                .embed(vec![q.clone()], EmbedKind::Query)
                .await?
                .remove(0),
        );
    }
    let mut reports = Vec::new();
    for (engine, index) in &engines {
        let ingestion = if to_fill.iter().any(|f| Arc::ptr_eq(f, index)) {
            filled.next().unwrap_or(Value::Null)
        } else {
            json!({"skipped": "index already holds the corpus (reused --work-dir)"})
        };
        let t = Instant::now();
        index.optimize().await?;
        let optimize_s = t.elapsed().as_secs_f64();
        let exact = measure(&queries, &embedder, &segmenter, index, SearchMode::Exact).await?;
        let mut graph = Vec::new();
        for ef in &args.ef {
            let mode = SearchMode::Approximate { ef: *ef };
            let timing = measure(&queries, &embedder, &segmenter, index, mode).await?;
            let recall = recall_at_10(&vectors, index, mode).await?;
            graph.push(json!({"ef": ef, "latency_ms": timing, "recall_at_10_vs_exact": recall}));
        }
        reports.push(json!({
            "engine": engine,
            "chunks": chunks.len(),
            "points": index.count().await?,
            "ingestion": ingestion,
            "optimize_seconds": (optimize_s * 100.0).round() / 100.0,
            "queries": queries.len(),
            "exact_latency_ms": exact,
            "hnsw": graph,
        }));
    }
    let report = json!({
        "engines": reports,
        "note": "latency = query embedding + dense and lexical search (limit 64 each); one query at a time. \
                 Ingestion chunks/s = chunks / (e5 passage embedding, done once and shared, + this engine's \
                 lexical vectors and upserts)",
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Embeds each batch from `start` on once and upserts it into every index; one
/// ingestion report per index, in order, over the chunks ingested in this run.
async fn ingest(
    chunks: &[String],
    start: usize,
    embedder: &Arc<dyn Embedder>,
    segmenter: &Segmenter,
    indexes: &[Arc<dyn VectorIndex>],
) -> anyhow::Result<Vec<Value>> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let bar = indicatif::ProgressBar::new(chunks.len() as u64);
    bar.set_position(start as u64);
    let began = Instant::now();
    let mut embed_s = 0.0f64;
    let mut index_s = vec![0.0f64; indexes.len()];
    for (b, batch) in chunks.chunks(BATCH).enumerate().skip(start / BATCH) {
        let step = Instant::now();
        let vectors = embedder.embed(batch.to_vec(), EmbedKind::Passage).await?;
        embed_s += step.elapsed().as_secs_f64();
        for (index, spent) in indexes.iter().zip(index_s.iter_mut()) {
            let step = Instant::now();
            let points = batch
                .iter()
                .zip(&vectors)
                .enumerate()
                .map(|(i, (text, dense))| {
                    let n = b * BATCH + i;
                    IndexPoint {
                        id: point_id(&format!("chunk-{}", n / 8), n % 8),
                        dense: dense.clone(),
                        sparse: segmenter.document_vector(text),
                        payload: PointPayload {
                            entry_id: format!("chunk-{}", n / 8),
                            kind: PointKind::Chunk,
                            category: vec![],
                            locale: "en".into(),
                            products: vec![],
                            valid_from: OPEN_PAST,
                            valid_to: OPEN_FUTURE,
                        },
                    }
                })
                .collect();
            index.upsert(points).await?;
            *spent += step.elapsed().as_secs_f64();
        }
        bar.inc(batch.len() as u64);
        // Progress where no terminal shows the bar (a run in the background).
        if bar.is_hidden() && b % 50 == 49 {
            let done = (b + 1) * BATCH - start;
            eprintln!(
                "ingested {} of {} ({:.1} chunks/s)",
                start + done,
                chunks.len(),
                done as f64 / began.elapsed().as_secs_f64()
            );
        }
    }
    bar.finish_and_clear();
    let ingested = chunks.len() - start;
    let tenth = |x: f64| (x * 10.0).round() / 10.0;
    Ok(index_s
        .into_iter()
        .map(|upsert_s| {
            let s = embed_s + upsert_s;
            json!({
                "chunks_ingested_this_run": ingested,
                "seconds": tenth(s),
                "chunks_per_s": tenth(ingested as f64 / s),
                // Where the time goes: e5 passage embedding, then lexical vectors + upsert.
                "embedding_seconds": tenth(embed_s),
                "lexical_and_upsert_seconds": tenth(upsert_s),
            })
        })
        .collect())
}

async fn measure(
    queries: &[String],
    embedder: &Arc<dyn Embedder>,
    segmenter: &Segmenter,
    index: &Arc<dyn VectorIndex>,
    mode: SearchMode,
) -> anyhow::Result<Value> {
    let mut ms = Vec::with_capacity(queries.len());
    for q in queries {
        let t = Instant::now();
        let dense = embedder
            .embed(vec![q.clone()], EmbedKind::Query)
            .await?
            .remove(0);
        index
            .search(IndexQuery {
                dense: Some(dense),
                sparse: Some(segmenter.query_vector(q)),
                filter: IndexFilter::default(),
                limit: 64,
                mode,
            })
            .await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    Ok(json!({"p50": percentile(&ms, 0.5), "p99": percentile(&ms, 0.99)}))
}

async fn recall_at_10(
    vectors: &[Vec<f32>],
    index: &Arc<dyn VectorIndex>,
    mode: SearchMode,
) -> anyhow::Result<f64> {
    let (mut found, mut total) = (0usize, 0usize);
    for v in vectors {
        let query = |mode| IndexQuery {
            dense: Some(v.clone()),
            sparse: None,
            filter: IndexFilter::default(),
            limit: 10,
            mode,
        };
        let exact: HashSet<u64> = index
            .search(query(SearchMode::Exact))
            .await?
            .dense
            .iter()
            .map(|h| h.point_id)
            .collect();
        let approx: HashSet<u64> = index
            .search(query(mode))
            .await?
            .dense
            .iter()
            .map(|h| h.point_id)
            .collect();
        found += exact.intersection(&approx).count();
        total += exact.len();
    }
    Ok(((found as f64 / total.max(1) as f64) * 10_000.0).round() / 10_000.0)
}
