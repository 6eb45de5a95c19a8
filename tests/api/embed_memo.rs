//! The real e5 model behind a memo that test processes share: each distinct
//! text is embedded once per build directory, not once per test.
//!
//! Every test that starts the demo shop ingests its whole knowledge base, and
//! every knowledge base retrains its classifier with the shipped small talk:
//! the same few hundred texts, embedded again by each test (about 45 s of the
//! 2-core machine's time per test), in each pass of scripts/test.sh (SQLite,
//! the Qdrant server, PostgreSQL, the browser). The vectors are the model's
//! own either way: a text the memo has not seen is embedded by the model, and
//! what the model returned is kept, in memory and appended to a file under
//! `target/tmp` that the next test process reads.
//!
//! The file is named after the vector the loaded model gives a probe text, so
//! another model, another build of it, or another CPU (whose vectors differ in
//! their last digits) starts a file of its own. The e5 model itself is tested
//! without the memo (tests/embeddings.rs).

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use xiaoer::ports::{EmbedKind, Embedder, ModelError};

/// A text no test embeds, mixing the scripts e5 reads.
const PROBE: &str = "探针 probe：这段话只用来认出模型 (the memo's key) 12345";

/// The e5 model of `models/`, loaded once per test process, behind the memo.
pub fn shared_e5() -> Arc<dyn Embedder> {
    static E5: OnceLock<Arc<dyn Embedder>> = OnceLock::new();
    E5.get_or_init(|| {
        let path = models_dir().join(xiaoer::llm::fetch::E5_MODEL);
        let model: Arc<dyn Embedder> = Arc::new(
            xiaoer::llm::load_embedder(&path.display().to_string(), 256)
                .expect("the e5 model loads (run `xiaoer models fetch`)"),
        );
        Arc::new(MemoEmbedder::open(
            model,
            Path::new(env!("CARGO_TARGET_TMPDIR")),
        ))
    })
    .clone()
}

pub fn models_dir() -> PathBuf {
    std::env::var_os("XIAOER_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models")))
}

/// (a query rather than a passage, the text).
type Key = (bool, String);

pub struct MemoEmbedder {
    inner: Arc<dyn Embedder>,
    memo: Mutex<HashMap<Key, Vec<f32>>>,
    /// Where new vectors are appended; None when the directory is not writable
    /// (the memo then lives in memory only).
    file: Mutex<Option<File>>,
}

impl MemoEmbedder {
    /// The memo of `inner`'s vectors kept in `dir`: what earlier processes
    /// stored there, for this very model.
    fn open(inner: Arc<dyn Embedder>, dir: &Path) -> MemoEmbedder {
        let probe =
            futures::executor::block_on(inner.embed(vec![PROBE.to_string()], EmbedKind::Query))
                .expect("the e5 model embeds")
                .pop()
                .unwrap_or_default();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        probe
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>()
            .hash(&mut hasher);
        let path = dir.join(format!("e5-memo-{:016x}.bin", hasher.finish()));
        let memo = std::fs::read(&path)
            .map(|bytes| records(&bytes, probe.len()))
            .unwrap_or_default();
        let file = std::fs::create_dir_all(dir)
            .and_then(|()| OpenOptions::new().create(true).append(true).open(&path))
            .ok();
        MemoEmbedder {
            inner,
            memo: Mutex::new(memo),
            file: Mutex::new(file),
        }
    }

    fn keep(&self, stored: &[(Key, Vec<f32>)]) {
        let mut bytes = Vec::new();
        for ((query, text), vector) in stored {
            encode(&mut bytes, *query, text, vector);
        }
        // One write per batch, to a file opened for appending: a process that
        // dies part way leaves a short last record, which `records` skips.
        if let Some(file) = self.file.lock().unwrap().as_mut() {
            let _ = file.write_all(&bytes);
        }
    }
}

/// A record: kind (1 = query), text length (u32 LE), the text, then `dim` f32 LE.
fn encode(out: &mut Vec<u8>, query: bool, text: &str, vector: &[f32]) {
    out.push(u8::from(query));
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    for x in vector {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// The whole records of `bytes`, up to the first that is cut short or malformed.
fn records(mut bytes: &[u8], dim: usize) -> HashMap<Key, Vec<f32>> {
    let mut memo = HashMap::new();
    let take = |n: usize, bytes: &mut &[u8]| -> Option<Vec<u8>> {
        let mut out = vec![0; n];
        bytes.read_exact(&mut out).ok().map(|()| out)
    };
    while let Some(kind) = take(1, &mut bytes) {
        let Some(len) = take(4, &mut bytes) else {
            break;
        };
        let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
        let (Some(text), Some(vector)) = (take(len, &mut bytes), take(4 * dim, &mut bytes)) else {
            break;
        };
        let (Ok(text), 0..=1) = (String::from_utf8(text), kind[0]) else {
            break;
        };
        let vector = vector
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        memo.insert((kind[0] == 1, text), vector);
    }
    memo
}

#[async_trait::async_trait]
impl Embedder for MemoEmbedder {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    async fn embed(
        &self,
        texts: Vec<String>,
        kind: EmbedKind,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let query = kind == EmbedKind::Query;
        let missing: Vec<String> = {
            let memo = self.memo.lock().unwrap();
            let mut seen = HashSet::new();
            texts
                .iter()
                .filter(|t| !memo.contains_key(&(query, (*t).clone())) && seen.insert(*t))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            let vectors = self.inner.embed(missing.clone(), kind).await?;
            let stored: Vec<(Key, Vec<f32>)> = missing
                .into_iter()
                .map(|text| (query, text))
                .zip(vectors)
                .collect();
            self.keep(&stored);
            self.memo.lock().unwrap().extend(stored);
        }
        let memo = self.memo.lock().unwrap();
        Ok(texts
            .into_iter()
            .map(|t| memo[&(query, t)].clone())
            .collect())
    }
}

#[test]
fn records_read_back_as_written_and_a_cut_last_one_is_skipped() {
    let mut bytes = Vec::new();
    encode(&mut bytes, true, "退款要多久", &[0.5, -1.25]);
    encode(&mut bytes, false, "passage", &[3.0, 0.0]);
    let whole = bytes.len();
    encode(&mut bytes, true, "cut", &[1.0, 2.0]);
    let memo = records(&bytes[..bytes.len() - 3], 2);
    assert_eq!(memo.len(), 2);
    assert_eq!(memo[&(true, "退款要多久".to_string())], vec![0.5, -1.25]);
    assert_eq!(memo[&(false, "passage".to_string())], vec![3.0, 0.0]);
    assert_eq!(records(&bytes[..whole], 2).len(), 2);
    assert_eq!(records(&bytes, 2).len(), 3);
}
