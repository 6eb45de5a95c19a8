//! Keeping the vector index in step with the published entries.

use super::{KnowledgeError, KnowledgeService};
use crate::domain::knowledge::{EntryContent, EntryKind, EntryStatus};
use crate::ports::EmbedKind;
use crate::retrieval::chunk::{MAX_CHUNK_CHARS, chunk_markdown};
use crate::retrieval::classifier::Classifier;
use crate::retrieval::index::{
    IndexPoint, OPEN_FUTURE, OPEN_PAST, PointKind, PointPayload, day_number, point_id,
};
use crate::retrieval::suggest::SuggestIndex;
use serde::Serialize;
use std::sync::{Arc, Mutex, RwLock};

/// Texts embedded per model call.
const EMBED_BATCH: usize = 64;

/// What is learned from the published KB: rebuilt after changes.
#[derive(Default)]
pub(super) struct Models {
    pub classifier: RwLock<Option<Arc<Classifier>>>,
    pub suggest: RwLock<Arc<SuggestIndex>>,
    /// The knowledge base's revision these models were trained on.
    pub trained_on: Mutex<Option<KbRevision>>,
}

/// See `Store::kb_revision`.
pub(super) type KbRevision = (i64, i64, i64);

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReindexProgress {
    pub running: bool,
    pub done: usize,
    pub total: usize,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

#[derive(Default)]
pub(super) struct ProgressCell(Mutex<ReindexProgress>);

impl ProgressCell {
    fn update(&self, f: impl FnOnce(&mut ReindexProgress)) {
        f(&mut self.0.lock().expect("progress lock"));
    }

    fn get(&self) -> ReindexProgress {
        self.0.lock().expect("progress lock").clone()
    }
}

/// One text of an entry to be indexed.
struct Text {
    entry_id: String,
    slot: usize,
    kind: PointKind,
    text: String,
    payload: PointPayload,
}

fn payload(entry_id: &str, kind: PointKind, c: &EntryContent) -> PointPayload {
    PointPayload {
        entry_id: entry_id.to_owned(),
        kind,
        category: c
            .category
            .as_ref()
            .map(|c| c.with_ancestors())
            .unwrap_or_default(),
        locale: c.locale.as_str().to_owned(),
        products: c.products.clone(),
        valid_from: c
            .valid_from
            .as_ref()
            .and_then(|d| day_number(d.as_str()))
            .unwrap_or(OPEN_PAST),
        valid_to: c
            .valid_to
            .as_ref()
            .and_then(|d| day_number(d.as_str()))
            .unwrap_or(OPEN_FUTURE),
    }
}

fn texts_of(entry_id: &str, c: &EntryContent) -> Vec<Text> {
    let mut out = Vec::new();
    let mut push = |kind, text: String| {
        out.push(Text {
            entry_id: entry_id.to_owned(),
            slot: out.len(),
            kind,
            text,
            payload: payload(entry_id, kind, c),
        })
    };
    match c.kind {
        EntryKind::Faq => {
            push(PointKind::Question, c.question.clone());
            for q in &c.similar {
                push(PointKind::Question, q.clone());
            }
            push(PointKind::Answer, c.answer.clone());
        }
        EntryKind::Article => {
            push(PointKind::Question, c.question.clone());
            for chunk in chunk_markdown(&c.question, &c.answer, MAX_CHUNK_CHARS) {
                push(PointKind::Chunk, chunk.indexed_text());
            }
        }
    }
    out
}

impl KnowledgeService {
    pub(super) async fn index_entry(
        &self,
        id: &str,
        c: &EntryContent,
    ) -> Result<(), KnowledgeError> {
        self.index.delete_entry(id).await?;
        self.index_entries(&[(id.to_owned(), c.clone())], &|_, _| {})
            .await?;
        self.retrain().await
    }

    pub(super) async fn sync_index(
        &self,
        id: &str,
        status: EntryStatus,
        c: &EntryContent,
    ) -> Result<(), KnowledgeError> {
        if status == EntryStatus::Published {
            self.index_entry(id, c).await
        } else {
            self.index.delete_entry(id).await?;
            self.retrain().await
        }
    }

    /// Embeds and upserts every text of the given entries, in model-sized batches
    /// across entries; `progress(done, total)` is called after each batch.
    pub(super) async fn index_entries(
        &self,
        entries: &[(String, EntryContent)],
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<(), KnowledgeError> {
        let texts: Vec<Text> = entries.iter().flat_map(|(id, c)| texts_of(id, c)).collect();
        let total = texts.len();
        let mut done = 0;
        for batch in texts.chunks(EMBED_BATCH) {
            let (questions, passages): (Vec<&Text>, Vec<&Text>) =
                batch.iter().partition(|t| t.kind == PointKind::Question);
            let mut points = Vec::with_capacity(batch.len());
            for (group, kind) in [
                (questions, EmbedKind::Query),
                (passages, EmbedKind::Passage),
            ] {
                if group.is_empty() {
                    continue;
                }
                let inputs = group.iter().map(|t| t.text.clone()).collect();
                let vectors = self.embedder.embed(inputs, kind).await?;
                for (t, dense) in group.into_iter().zip(vectors) {
                    points.push(IndexPoint {
                        id: point_id(&t.entry_id, t.slot),
                        dense,
                        sparse: self.segmenter.document_vector(&t.text),
                        payload: t.payload.clone(),
                    });
                }
            }
            self.index.upsert(points).await?;
            done += batch.len();
            progress(done, total);
        }
        Ok(())
    }

    /// Marks a rebuild as started; refused while one runs.
    pub fn begin_reindex(&self) -> Result<(), KnowledgeError> {
        let now = self.clock.now_ms();
        let mut p = self.progress.0.lock().expect("progress lock");
        if p.running {
            return Err(KnowledgeError::ReindexRunning);
        }
        *p = ReindexProgress {
            running: true,
            started_at: Some(now),
            ..ReindexProgress::default()
        };
        Ok(())
    }

    /// Rebuilds the index from the published entries in the database.
    pub async fn reindex(
        &self,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, KnowledgeError> {
        self.begin_reindex()?;
        self.run_reindex(progress).await
    }

    /// The rebuild itself, after `begin_reindex`.
    pub async fn run_reindex(
        &self,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, KnowledgeError> {
        let result = self.reindex_inner(progress).await;
        let end = self.clock.now_ms();
        self.progress.update(|p| {
            p.running = false;
            p.finished_at = Some(end);
            p.error = result.as_ref().err().map(|e| e.to_string());
        });
        result
    }

    async fn reindex_inner(
        &self,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, KnowledgeError> {
        let rows = self.store.kb_entries_with_status("published").await?;
        let entries: Vec<(String, EntryContent)> = rows
            .into_iter()
            .filter_map(|r| Some((r.id, serde_json::from_str(&r.content).ok()?)))
            .collect();
        self.index.clear().await?;
        let report = |done: usize, total: usize| {
            self.progress.update(|p| {
                p.done = done;
                p.total = total;
            });
            progress(done, total);
        };
        self.index_entries(&entries, &report).await?;
        self.index.optimize().await?;
        self.retrain().await?;
        Ok(entries.len())
    }

    /// At start-up: an index that lost its points (deleted, or a new Qdrant
    /// server) is rebuilt; otherwise the learned models are loaded.
    pub async fn repair_index(&self) -> Result<(), KnowledgeError> {
        let published = self.store.kb_entries_with_status("published").await?;
        if !published.is_empty() && self.index.count().await? == 0 {
            tracing::warn!("the vector index is empty: rebuilding it from the database");
            self.reindex(&|_, _| {}).await?;
        } else {
            self.retrain().await?;
        }
        Ok(())
    }

    pub fn reindex_progress(&self) -> ReindexProgress {
        self.progress.get()
    }

    /// Retrains the classifier on the published questions and rebuilds the
    /// suggestion list.
    pub(super) async fn retrain(&self) -> Result<(), KnowledgeError> {
        // Read before the entries: a change that lands while training makes the
        // next revision check retrain again rather than be missed.
        let revision = self.store.kb_revision().await?;
        let rows = self.store.kb_entries_with_status("published").await?;
        let questions: Vec<(String, String)> = rows
            .into_iter()
            .filter_map(|r| {
                let c: EntryContent = serde_json::from_str(&r.content).ok()?;
                let id = r.id;
                Some(
                    std::iter::once(c.question)
                        .chain(c.similar)
                        .map(move |q| (id.clone(), q))
                        .collect::<Vec<_>>(),
                )
            })
            .flatten()
            .collect();
        let suggest = tokio::task::spawn_blocking(move || SuggestIndex::new(questions))
            .await
            .map_err(|e| {
                KnowledgeError::Model(crate::ports::ModelError::Inference(e.to_string()))
            })?;
        *self.models.suggest.write().expect("suggest lock") = Arc::new(suggest);
        let examples = self.index.vectors(PointKind::Question).await?;
        let classifier = tokio::task::spawn_blocking(move || Classifier::train(&examples))
            .await
            .map_err(|e| {
                KnowledgeError::Model(crate::ports::ModelError::Inference(e.to_string()))
            })?;
        *self.models.classifier.write().expect("classifier lock") = classifier.map(Arc::new);
        *self.models.trained_on.lock().expect("revision lock") = Some(revision);
        Ok(())
    }

    /// Retrains when the knowledge base changed since the last training, e.g. on
    /// another node sharing this database and Qdrant server. Returns whether it
    /// retrained.
    pub async fn refresh_if_changed(&self) -> Result<bool, KnowledgeError> {
        let now = self.store.kb_revision().await?;
        let trained_on = *self.models.trained_on.lock().expect("revision lock");
        if trained_on == Some(now) {
            return Ok(false);
        }
        self.retrain().await?;
        Ok(true)
    }

    /// Keeps this node's classifier and suggestions in step with changes made
    /// through other nodes, until shutdown.
    pub async fn watch_revisions(
        self: Arc<Self>,
        every: std::time::Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => match self.refresh_if_changed().await {
                    Ok(true) => tracing::info!("knowledge base changed elsewhere: retrained"),
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%error, "knowledge revision check failed"),
                },
                _ = shutdown.changed() => break,
            }
        }
    }

    pub(super) fn suggest_index(&self) -> Arc<SuggestIndex> {
        self.models.suggest.read().expect("suggest lock").clone()
    }

    pub(super) fn classifier(&self) -> Option<Arc<Classifier>> {
        self.models
            .classifier
            .read()
            .expect("classifier lock")
            .clone()
    }
}
