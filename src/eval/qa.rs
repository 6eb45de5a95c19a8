//! The model's quality-inspection drafts against a human's labels: every chat
//! of a labelled set (tests/data/qa_transcripts.jsonl, scored with the rubric
//! in tests/data/qa_rubric.json) through the product's own drafting code, and
//! per check item how often the draft and the human say the same, with
//! Cohen's kappa (`domain::quality::agreement`, defined in the README).

use crate::config::Settings;
use crate::domain::quality::{Agreement, CheckItem, DraftVerdict, Rubric, agreement};
use crate::services::bot::prompts::Prompts;
use crate::services::quality_drafts::{ChatLine, answer_items, draft_total};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct QaEvalArgs {
    /// Labelled chats, one JSON object per line: id, lines (sender, text), labels (item key → holds).
    #[arg(long, default_value = "tests/data/qa_transcripts.jsonl")]
    pub transcripts: PathBuf,
    /// The rubric the labels answer: base and items (key, label, kind, points).
    #[arg(long, default_value = "tests/data/qa_rubric.json")]
    pub rubric: PathBuf,
    /// Leave out the first N chats (to report a part apart).
    #[arg(long, default_value_t = 0)]
    pub skip: usize,
    /// At most N chats.
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    id: String,
    lines: Vec<ChatLine>,
    labels: BTreeMap<String, bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RubricFile {
    base: u32,
    items: Vec<CheckItem>,
}

#[derive(Debug, Serialize)]
pub struct ItemReport {
    #[serde(flatten)]
    pub agreement: Agreement,
    /// The model said it holds but quoted nothing the agent said.
    pub unquoted: usize,
    /// The model's answer could not be read.
    pub unreadable: usize,
}

#[derive(Debug, Serialize)]
pub struct Miss {
    pub chat: String,
    pub item: String,
    pub human: bool,
    pub draft: DraftVerdict,
    pub evidence: Option<String>,
    /// What the model answered.
    pub answer: String,
}

#[derive(Debug, Serialize)]
pub struct QaReport {
    pub chats: usize,
    pub seconds_per_chat: f64,
    pub items: BTreeMap<String, ItemReport>,
    /// Every item of every chat pooled.
    pub overall: Agreement,
    /// Mean absolute difference of the draft's total from the human labels' total (0–100).
    pub mean_total_error: f64,
    pub misses: Vec<Miss>,
}

pub async fn run(args: QaEvalArgs, settings: Settings) -> anyhow::Result<()> {
    let rubric: RubricFile = serde_json::from_str(
        &std::fs::read_to_string(&args.rubric)
            .with_context(|| format!("read {}", args.rubric.display()))?,
    )
    .with_context(|| format!("parse {}", args.rubric.display()))?;
    let rubric = Rubric::parse(rubric.base, rubric.items).context("the rubric")?;
    let text = std::fs::read_to_string(&args.transcripts)
        .with_context(|| format!("read {}", args.transcripts.display()))?;
    let mut cases = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let case: Case = serde_json::from_str(line)
            .with_context(|| format!("{} line {}", args.transcripts.display(), n + 1))?;
        for item in &rubric.items {
            anyhow::ensure!(
                case.labels.contains_key(&item.key),
                "chat {} has no label for {}",
                case.id,
                item.key
            );
        }
        cases.push(case);
    }
    let cases: Vec<Case> = cases
        .into_iter()
        .skip(args.skip)
        .take(args.limit.unwrap_or(usize::MAX))
        .collect();
    anyhow::ensure!(!cases.is_empty(), "no chats to score");
    let llm = crate::startup::load_llm(&settings)?;
    let prompts = Prompts::load(&settings.shop_name)?;
    let started = Instant::now();
    let mut pairs: BTreeMap<String, Vec<(bool, bool)>> = BTreeMap::new();
    let mut doubts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut total_error = 0.0;
    for case in &cases {
        let answered = answer_items(llm.as_ref(), &prompts, &rubric, &case.lines, false)
            .await
            .with_context(|| format!("chat {}", case.id))?;
        let items: Vec<_> = answered.iter().map(|(item, _)| item.clone()).collect();
        let human: BTreeMap<String, u32> = rubric
            .items
            .iter()
            .map(|i| {
                (
                    i.key.clone(),
                    if case.labels[&i.key] { i.points } else { 0 },
                )
            })
            .collect();
        total_error +=
            (f64::from(draft_total(&rubric, &items)) - f64::from(rubric.total(&human))).abs();
        for (item, answer) in &answered {
            let label = case.labels[&item.key];
            pairs
                .entry(item.key.clone())
                .or_default()
                .push((item.met(), label));
            let doubt = doubts.entry(item.key.clone()).or_default();
            match item.verdict {
                DraftVerdict::Unquoted => doubt.0 += 1,
                DraftVerdict::Unreadable => doubt.1 += 1,
                _ => {}
            }
            if item.met() != label {
                misses.push(Miss {
                    chat: case.id.clone(),
                    item: item.key.clone(),
                    human: label,
                    draft: item.verdict,
                    evidence: item.evidence.clone(),
                    answer: answer.clone(),
                });
            }
        }
        eprintln!(
            "{}: {:?}",
            case.id,
            items.iter().map(|i| i.verdict).collect::<Vec<_>>()
        );
    }
    let all: Vec<(bool, bool)> = pairs.values().flatten().copied().collect();
    let report = QaReport {
        chats: cases.len(),
        seconds_per_chat: started.elapsed().as_secs_f64() / cases.len() as f64,
        items: pairs
            .iter()
            .map(|(key, p)| {
                let (unquoted, unreadable) = doubts.get(key).copied().unwrap_or_default();
                (
                    key.clone(),
                    ItemReport {
                        agreement: agreement(p),
                        unquoted,
                        unreadable,
                    },
                )
            })
            .collect(),
        overall: agreement(&all),
        mean_total_error: total_error / cases.len() as f64,
        misses,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
