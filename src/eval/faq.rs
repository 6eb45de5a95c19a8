//! `xiaoer eval faq`: the FAQ-match and hand-off metrics of ../shared/eval/README.md,
//! measured through the product's own import, index and decision function.

use crate::domain::knowledge::{EntryStatus, KbQuery};
use crate::ports::{EmbedKind, Embedder};
use crate::retrieval::index::IndexFilter;
use crate::retrieval::rank::Signals;
use crate::services::knowledge::decide::judge_with;
use crate::services::knowledge::import::{ImportFormat, ImportOptions, parse_records};
use crate::services::knowledge::{Decision, KnowledgeService};
use anyhow::Context;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct FaqEvalArgs {
    /// The knowledge base: JSONL, one entry per line ({"id","questions","answer","category"}).
    #[arg(long)]
    pub kb: PathBuf,
    /// Queries: JSONL {"text", "expected"} (expected null = out of scope).
    #[arg(long)]
    pub queries: PathBuf,
    /// Where the evaluation's database and index live (default: a temporary directory).
    /// Reusing one skips re-embedding an unchanged KB.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Only the first N queries.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Also write each query's ranked candidates and decision here (JSONL).
    #[arg(long)]
    pub dump: Option<PathBuf>,
    /// Also report the decision under the KB's calibration refitted with these
    /// weights of the unanswerable held-out questions (comma-separated; the
    /// shipped one is `DecisionPolicy::calibration_oos_share`).
    #[arg(long, value_delimiter = ',')]
    pub oos_share: Vec<f32>,
    /// Also write the KB's cross-validated calibration samples here (JSONL).
    #[arg(long)]
    pub dump_calibration: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Query {
    text: String,
    expected: Option<String>,
}

#[derive(Default)]
struct Tally {
    in_scope: usize,
    oos: usize,
    correct: usize,
    oos_handed_off: usize,
    wrong: usize,
    handed_off: usize,
    top1: usize,
    top5: usize,
    rr10: f64,
}

impl Tally {
    fn add(&mut self, expected: Option<&str>, d: &Decision) {
        let answered = d.answer().map(|c| c.entry_id.as_str());
        if answered.is_none() {
            self.handed_off += 1;
        }
        match expected {
            None => {
                self.oos += 1;
                if answered.is_none() {
                    self.oos_handed_off += 1;
                } else {
                    self.wrong += 1;
                }
            }
            Some(e) => {
                self.in_scope += 1;
                match answered {
                    Some(a) if a == e => self.correct += 1,
                    Some(_) => self.wrong += 1,
                    None => {}
                }
                let rank = d.candidates.iter().position(|c| c.entry_id == e);
                if rank == Some(0) {
                    self.top1 += 1;
                }
                if rank.is_some_and(|r| r < 5) {
                    self.top5 += 1;
                }
                if let Some(r) = rank.filter(|r| *r < 10) {
                    self.rr10 += 1.0 / (r as f64 + 1.0);
                }
            }
        }
    }

    fn metrics(&self) -> Value {
        let all = (self.in_scope + self.oos).max(1) as f64;
        let ins = self.in_scope.max(1) as f64;
        let mut m = json!({
            "accuracy": round4(self.correct as f64 / ins),
            "wrong_answer_rate": round4(self.wrong as f64 / all),
            "handoff_rate": round4(self.handed_off as f64 / all),
            "top1": round4(self.top1 as f64 / ins),
            "recall_at_5": round4(self.top5 as f64 / ins),
            "mrr_at_10": round4(self.rr10 / ins),
        });
        if self.oos > 0 {
            m["oos_recall"] = json!(round4(self.oos_handed_off as f64 / self.oos as f64));
        }
        m
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Imports the KB (idempotent), runs every query through `decide` with each
/// signal set, and returns the metrics as JSON.
pub async fn run_eval(
    args: &FaqEvalArgs,
    service: &KnowledgeService,
    embedder: Arc<dyn Embedder>,
) -> anyhow::Result<Value> {
    let kb_text = std::fs::read_to_string(&args.kb)
        .with_context(|| format!("cannot read {}", args.kb.display()))?;
    let records = parse_records(ImportFormat::Jsonl, &kb_text)?;
    let entries = records.len();
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "indexing {bar:40} {pos}/{len} texts ({per_sec}, eta {eta})",
        )
        .expect("valid template"),
    );
    let opts = ImportOptions {
        default_status: EntryStatus::Published,
        create_categories: true,
        author: "eval".into(),
    };
    let t = Instant::now();
    let report = service
        .import(records, &opts, &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .await?;
    bar.finish_and_clear();
    let import_s = t.elapsed().as_secs_f64();
    // The confidence calibration is fitted in the background after a publish:
    // the queries below are decided with the KB's own, so wait for it.
    let t = Instant::now();
    service.calibration_settled().await;
    let calibration_s = t.elapsed().as_secs_f64();

    let text = std::fs::read_to_string(&args.queries)
        .with_context(|| format!("cannot read {}", args.queries.display()))?;
    let mut queries: Vec<Query> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("queries file: each line is {\"text\", \"expected\"}")?;
    if let Some(n) = args.limit {
        queries.truncate(n);
    }
    let main = service.policy().signals;
    let mut tallies: Vec<(Signals, Tally)> = Signals::ALL
        .iter()
        .map(|s| (*s, Tally::default()))
        .collect();
    let mut latencies = Vec::with_capacity(queries.len());
    let mut main_decisions = Vec::with_capacity(queries.len());
    let mut dump = args.dump.as_ref().map(std::fs::File::create).transpose()?;
    let started = Instant::now();
    for q in &queries {
        let query = KbQuery::parse(&q.text)?;
        let t = Instant::now();
        let vector = embedder
            .embed(vec![query.as_str().to_owned()], EmbedKind::Query)
            .await?
            .pop()
            .unwrap_or_default();
        let decision = service
            .decide_with_vector(&query, vector.clone(), IndexFilter::default(), Some(main))
            .await?;
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        main_decisions.push(decision.clone());
        let mut row = json!({"text": q.text, "expected": q.expected});
        for (signals, tally) in tallies.iter_mut() {
            let d = if *signals == main {
                decision.clone()
            } else {
                service
                    .decide_with_vector(
                        &query,
                        vector.clone(),
                        IndexFilter::default(),
                        Some(*signals),
                    )
                    .await?
            };
            tally.add(q.expected.as_deref(), &d);
            row[signals.name()] = serde_json::to_value(&d)?;
        }
        if let Some(f) = dump.as_mut() {
            use std::io::Write;
            writeln!(f, "{row}")?;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let fitted = service.calibration();
    let mut shares = serde_json::Map::new();
    if let (Some(fitted), Some(path)) = (&fitted, &args.dump_calibration) {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        for s in &fitted.samples {
            writeln!(f, "{}", serde_json::to_string(s)?)?;
        }
    }
    if let Some(fitted) = &fitted {
        for share in &args.oos_share {
            let Some(refit) = crate::retrieval::calibrate::fit(&fitted.samples, *share) else {
                continue;
            };
            let mut tally = Tally::default();
            for (q, d) in queries.iter().zip(&main_decisions) {
                let mut d = d.clone();
                (d.confidence, d.kind) = judge_with(service.policy(), &refit, &d.candidates);
                tally.add(q.expected.as_deref(), &d);
            }
            let mut m = tally.metrics();
            m["coefficients"] = json!(refit.coefficients);
            shares.insert(share.to_string(), m);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let main_tally = tallies
        .iter()
        .find(|(s, _)| *s == main)
        .map(|(_, t)| t)
        .expect("main signals");
    let mut out = main_tally.metrics();
    out["p50_ms"] = json!(round4(percentile(&latencies, 0.5)));
    out["p99_ms"] = json!(round4(percentile(&latencies, 0.99)));
    out["queries_per_s"] = json!(round4(
        queries.len() as f64 / latencies.iter().sum::<f64>().max(1e-9) * 1e3
    ));
    out["queries"] = json!(queries.len());
    out["kb_entries"] = json!(entries);
    out["signals"] = json!(main.name());
    out["import"] = json!({"seconds": round4(import_s), "created": report.created,
        "updated": report.updated, "unchanged": report.unchanged,
        "calibration_seconds": round4(calibration_s)});
    out["eval_seconds"] = json!(round4(wall));
    out["calibration"] = match &fitted {
        Some(f) => serde_json::to_value(f.as_ref())?,
        None => json!("shipped (no classifier, or too few entries to hold out)"),
    };
    if !shares.is_empty() {
        out["by_oos_share"] = shares.into();
    }
    out["ablation"] = tallies
        .iter()
        .map(|(s, t)| (s.name().to_owned(), t.metrics()))
        .collect::<serde_json::Map<_, _>>()
        .into();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::rank::Candidate;
    use crate::services::knowledge::decide::DecisionKind;

    fn decision(kind: DecisionKind, ids: &[&str]) -> Decision {
        Decision {
            kind,
            confidence: 0.5,
            candidates: ids
                .iter()
                .map(|id| Candidate {
                    entry_id: id.to_string(),
                    score: 1.0,
                    dense: 1.0,
                    lexical: 0.0,
                    classifier: 0.0,
                })
                .collect(),
            out_of_window: None,
        }
    }

    #[test]
    fn metrics_follow_the_eval_readme() {
        let mut t = Tally::default();
        t.add(Some("a"), &decision(DecisionKind::Curated, &["a", "b"]));
        t.add(Some("a"), &decision(DecisionKind::Grounded, &["b", "a"]));
        t.add(
            Some("a"),
            &decision(DecisionKind::HandOff, &["c", "d", "e", "f", "g", "a"]),
        );
        t.add(None, &decision(DecisionKind::HandOff, &["a"]));
        t.add(None, &decision(DecisionKind::Curated, &["a"]));
        let m = t.metrics();
        assert_eq!(m["accuracy"], json!(round4(1.0 / 3.0)));
        assert_eq!(m["oos_recall"], json!(0.5));
        assert_eq!(m["wrong_answer_rate"], json!(0.4));
        assert_eq!(m["handoff_rate"], json!(0.4));
        assert_eq!(m["top1"], json!(round4(1.0 / 3.0)));
        assert_eq!(m["recall_at_5"], json!(round4(2.0 / 3.0)));
        assert_eq!(m["mrr_at_10"], json!(round4((1.0 + 0.5 + 1.0 / 6.0) / 3.0)));
    }
}
