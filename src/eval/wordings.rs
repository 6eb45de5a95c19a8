//! `xiaoer eval wordings`: what suggested wordings (`domain::wording`) do for
//! an evaluation set's entries with fewer than three wordings. The real local
//! model proposes wordings for a seeded random sample of them, through the
//! server's own prompt and cleaning (`services::wordings::propose`); the
//! command writes the KB with every proposal accepted (what a knowledge
//! manager who accepts all of them gets: an upper bound) and the queries that
//! expect a sampled entry. `xiaoer eval faq` on the two KBs with those queries
//! gives the difference. Only entries some query expects are sampled, so that
//! the model's time goes where it can be measured; nothing is tuned on the
//! queries.

use crate::domain::knowledge::Locale;
use crate::domain::wording::has_few_wordings;
use crate::services::bot::prompts::Prompts;
use crate::services::wordings::{ProposeError, propose};
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct WordingsEvalArgs {
    /// The knowledge base: JSONL, one entry per line ({"id","questions","answer",...}).
    #[arg(long)]
    pub kb: PathBuf,
    /// Queries: JSONL {"text", "expected"}.
    #[arg(long)]
    pub queries: PathBuf,
    /// Entries to propose wordings for, drawn at random (with --seed) from the
    /// entries with fewer than three wordings that some query expects.
    #[arg(long, default_value_t = 100)]
    pub entries: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Writes the KB with every proposal added to its entry's questions.
    #[arg(long)]
    pub kb_out: PathBuf,
    /// Writes the queries that expect a sampled entry.
    #[arg(long)]
    pub queries_out: PathBuf,
}

/// A stable pseudo-random rank of an id under a seed.
fn draw(seed: u64, id: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    id.hash(&mut h);
    h.finish()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn run(args: WordingsEvalArgs, settings: crate::config::Settings) -> anyhow::Result<()> {
    let read = |path: &PathBuf| -> anyhow::Result<Vec<Value>> {
        std::fs::read_to_string(path)
            .with_context(|| format!("read {}", path.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).with_context(|| format!("{}: {l}", path.display())))
            .collect()
    };
    let mut kb = read(&args.kb)?;
    let queries = read(&args.queries)?;
    let expected: BTreeSet<&str> = queries
        .iter()
        .filter_map(|q| q["expected"].as_str())
        .collect();
    let few: Vec<usize> = kb
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            let questions = strings(&e["questions"]);
            questions
                .split_first()
                .is_some_and(|(q, similar)| has_few_wordings(q, similar))
        })
        .map(|(i, _)| i)
        .collect();
    let mut pool: Vec<usize> = few
        .iter()
        .copied()
        .filter(|i| {
            kb[*i]["id"]
                .as_str()
                .is_some_and(|id| expected.contains(id))
        })
        .collect();
    pool.sort_by_key(|i| draw(args.seed, kb[*i]["id"].as_str().unwrap_or("")));
    pool.truncate(args.entries);
    let mut report = json!({
        "entries": kb.len(),
        "with_few_wordings": few.len(),
        "expected_by_a_query": few.iter().filter(|i| kb[**i]["id"].as_str().is_some_and(|id| expected.contains(id))).count(),
        "sampled": pool.len(),
    });
    if pool.is_empty() {
        report["note"] = json!(
            "no entry with fewer than three wordings is expected by a query: nothing to propose"
        );
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }

    let llm = crate::startup::load_llm(&settings)?;
    let prompts = Prompts::load(&settings.shop_name)?;
    let started = Instant::now();
    let mut proposed: HashMap<String, Vec<String>> = HashMap::new();
    let mut counts = [0usize; 4];
    for (n, i) in pool.iter().enumerate() {
        let entry = &kb[*i];
        let id = entry["id"].as_str().unwrap_or_default().to_owned();
        let questions = strings(&entry["questions"]);
        let (question, similar) = questions
            .split_first()
            .expect("sampled entries have a question");
        let answer = entry["answer"].as_str().unwrap_or_default();
        let locale = Locale::detect(question);
        let texts = match propose(llm.as_ref(), &prompts, question, similar, answer, locale).await {
            Ok(texts) => texts,
            Err(ProposeError::Yielded) => {
                anyhow::bail!("the model gave way: nothing else should run")
            }
            Err(other) => return Err(other).with_context(|| format!("entry {id}")),
        };
        counts[texts.len().min(3)] += 1;
        eprintln!(
            "[{}/{}] {question} → {}",
            n + 1,
            pool.len(),
            texts.join(" | ")
        );
        proposed.insert(id, texts);
    }
    let seconds = started.elapsed().as_secs_f64();

    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.kb_out)?);
    for entry in &mut kb {
        if let Some(texts) = entry["id"].as_str().and_then(|id| proposed.get(id)) {
            let mut questions = strings(&entry["questions"]);
            questions.extend(texts.iter().cloned());
            entry["questions"] = json!(questions);
        }
        writeln!(out, "{entry}")?;
    }
    out.flush()?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.queries_out)?);
    let mut kept = 0;
    for q in &queries {
        if q["expected"]
            .as_str()
            .is_some_and(|e| proposed.contains_key(e))
        {
            writeln!(out, "{q}")?;
            kept += 1;
        }
    }
    out.flush()?;
    let total: usize = proposed.values().map(Vec::len).sum();
    report["queries_kept"] = json!(kept);
    report["proposals"] = json!(total);
    report["entries_with_0_1_2_3_proposals"] = json!(counts);
    report["seconds_per_entry"] = json!((seconds / pool.len() as f64 * 100.0).round() / 100.0);
    report["kb_out"] = json!(args.kb_out);
    report["queries_out"] = json!(args.queries_out);
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draw_is_stable_and_depends_on_the_seed() {
        assert_eq!(draw(1, "q1"), draw(1, "q1"));
        let order = |seed| {
            let mut ids: Vec<&str> = vec!["a", "b", "c", "d", "e", "f", "g", "h"];
            ids.sort_by_key(|id| draw(seed, id));
            ids
        };
        assert_eq!(order(1), order(1));
        assert_ne!(order(1), order(2));
    }
}
