//! Keeping the vector index in step with the published entries.

use super::{KnowledgeError, KnowledgeService};
use crate::domain::knowledge::{Day, EntryContent, EntryKind, EntryStatus};
use crate::ports::EmbedKind;
use crate::ports::vector_index::{
    IndexPoint, OPEN_FUTURE, OPEN_PAST, PointKind, PointPayload, StoredVectors, day_number,
    point_id,
};
use crate::retrieval::calibrate::{self, Fitted};
use crate::retrieval::chunk::{MAX_CHUNK_CHARS, chunk_markdown};
use crate::retrieval::classifier::Classifier;
use crate::retrieval::rank::FusionWeights;
use crate::retrieval::small_talk;
use crate::retrieval::suggest::SuggestIndex;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

/// Texts embedded per model call.
const EMBED_BATCH: usize = 64;

/// The small talk's dense vectors per embedding model, shared by every
/// knowledge service in the process (a test binary starts hundreds, each of
/// which would embed the same 245 lines again). A model is known by the
/// vector it gives the first line; the lexical vectors depend on the shop's
/// vocabulary and are made per service.
type DenseCache = Mutex<Vec<(Vec<f32>, Arc<Vec<Vec<f32>>>)>>;
static SMALL_TALK_DENSE: DenseCache = Mutex::new(Vec::new());

async fn small_talk_dense(
    embedder: &dyn crate::ports::Embedder,
    lines: &[&str],
) -> Result<Arc<Vec<Vec<f32>>>, crate::ports::ModelError> {
    let Some(first) = lines.first() else {
        return Ok(Arc::default());
    };
    let probe = embedder
        .embed(vec![first.to_string()], EmbedKind::Query)
        .await?
        .pop()
        .unwrap_or_default();
    let known = |cache: &DenseCache| {
        cache
            .lock()
            .expect("small talk cache lock")
            .iter()
            .find(|(p, _)| *p == probe)
            .map(|(_, dense)| dense.clone())
    };
    if let Some(dense) = known(&SMALL_TALK_DENSE) {
        return Ok(dense);
    }
    let texts = lines.iter().map(|l| l.to_string()).collect();
    let dense = Arc::new(embedder.embed(texts, EmbedKind::Query).await?);
    SMALL_TALK_DENSE
        .lock()
        .expect("small talk cache lock")
        .push((probe, dense.clone()));
    Ok(dense)
}

/// What is learned from the published KB: rebuilt after changes.
#[derive(Default)]
pub(super) struct Models {
    pub classifier: RwLock<Option<Arc<Classifier>>>,
    /// The confidence fitted on the KB's own wordings (`retrieval::calibrate`),
    /// when the KB has a classifier and enough entries to hold some out.
    pub calibration: Arc<Calibrator>,
    pub suggest: RwLock<Arc<SuggestIndex>>,
    /// Published entries with a validity window (promotions), by id: the
    /// decision looks for one the question is about when it is out of its
    /// window today.
    pub windows: RwLock<Arc<HashMap<String, Window>>>,
    /// The knowledge base's revision these models were trained on.
    pub trained_on: Mutex<Option<KbRevision>>,
    /// The shipped small talk (`retrieval::small_talk`), embedded once.
    pub small_talk: tokio::sync::OnceCell<Arc<Vec<StoredVectors>>>,
}

/// The days an entry is valid on, both ends included; `None`: open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub from: Option<Day>,
    pub to: Option<Day>,
}

impl Window {
    /// Where `today` falls: before the window, in it, or after it.
    pub fn place(&self, today: &Day) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        if self.from.as_ref().is_some_and(|from| today < from) {
            Ordering::Less
        } else if self.to.as_ref().is_some_and(|to| to < today) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }
}

/// Fits the KB's confidence calibration off the request path: a fit
/// cross-validates every wording (minutes on a KB of 15,000), so a publish
/// returns once the classifier is retrained, and the decision keeps the last
/// fitted calibration until the new one is in. One fit runs at a time; of the
/// changes made meanwhile only the newest is fitted next.
#[derive(Default)]
pub(super) struct Calibrator {
    fitted: RwLock<Option<Arc<Fitted>>>,
    queue: Mutex<CalibrationQueue>,
    /// The generation of the last job settled (fitted, or found to have no
    /// calibration); waiters compare it with the one they asked for.
    settled: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct CalibrationQueue {
    /// Generations handed out so far.
    requested: u64,
    /// The newest job not yet started.
    next: Option<CalibrationJob>,
    /// Whether a worker task is draining the queue.
    working: bool,
}

struct CalibrationJob {
    generation: u64,
    /// The KB's question vectors, when it has a classifier; none, when the
    /// shipped calibration applies.
    examples: Option<Vec<StoredVectors>>,
    /// The small talk its classifier learned as "none of the entries".
    small_talk: Vec<StoredVectors>,
    weights: FusionWeights,
    oos_share: f32,
}

impl Calibrator {
    pub fn current(&self) -> Option<Arc<Fitted>> {
        self.fitted.read().expect("calibration lock").clone()
    }

    /// Whether a fit is queued or running.
    pub fn fitting(&self) -> bool {
        let queue = self.queue.lock().expect("calibration queue lock");
        queue.requested > *self.settled.borrow()
    }

    /// Queues a fit (replacing a queued one not yet started) and returns its
    /// generation.
    fn submit(
        self: &Arc<Self>,
        examples: Option<Vec<StoredVectors>>,
        small_talk: Vec<StoredVectors>,
        weights: FusionWeights,
        oos_share: f32,
    ) -> u64 {
        let mut queue = self.queue.lock().expect("calibration queue lock");
        queue.requested += 1;
        let generation = queue.requested;
        queue.next = Some(CalibrationJob {
            generation,
            examples,
            small_talk,
            weights,
            oos_share,
        });
        if !queue.working {
            queue.working = true;
            let me = self.clone();
            tokio::spawn(async move { me.work().await });
        }
        generation
    }

    async fn work(self: Arc<Self>) {
        loop {
            let job = {
                let mut queue = self.queue.lock().expect("calibration queue lock");
                match queue.next.take() {
                    Some(job) => job,
                    None => {
                        queue.working = false;
                        return;
                    }
                }
            };
            let CalibrationJob {
                generation,
                examples,
                small_talk,
                weights,
                oos_share,
            } = job;
            let started = std::time::Instant::now();
            let fitted = match examples {
                None => Ok(None),
                Some(examples) => tokio::task::spawn_blocking(move || {
                    let samples = calibrate::cross_validate(&examples, &small_talk, &weights);
                    calibrate::fit(&samples, oos_share)
                })
                .await
                .map_err(|e| e.to_string()),
            };
            match fitted {
                Ok(fitted) => {
                    if let Some(f) = &fitted {
                        tracing::info!(
                            coefficients = ?f.coefficients,
                            answerable = f.answerable,
                            unanswerable = f.unanswerable,
                            seconds = started.elapsed().as_secs_f32(),
                            "confidence calibrated on the knowledge base's own wordings"
                        );
                    }
                    *self.fitted.write().expect("calibration lock") = fitted.map(Arc::new);
                }
                // The last calibration stays; the next change fits again.
                Err(error) => tracing::error!(%error, "calibrating the confidence failed"),
            }
            self.settled.send_replace(generation);
        }
    }

    /// Waits until the fit of `generation` (or a newer one) has settled.
    async fn settled(&self, generation: u64) {
        let mut settled = self.settled.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = settled.wait_for(|g| *g >= generation).await;
    }

    /// Waits until every fit asked for so far has settled.
    pub async fn idle(&self) {
        let requested = self.queue.lock().expect("calibration queue lock").requested;
        self.settled(requested).await;
    }
}

use crate::ports::repositories::KbRevision;

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
        self.settle(&[(id.to_owned(), c.hash())], &[]).await?;
        self.retrain().await
    }

    /// After index writes: makes them durable, then records what the index now
    /// holds (`indexed`: entry and content hash) and no longer holds (`removed`).
    /// A crash before this leaves marks that differ from the published entries,
    /// which `repair_index` finds at the next start.
    pub(super) async fn settle(
        &self,
        indexed: &[(String, String)],
        removed: &[String],
    ) -> Result<(), KnowledgeError> {
        self.index.flush().await?;
        self.entries.unmark_indexed(removed).await?;
        self.entries
            .mark_indexed(indexed, self.clock.now_ms())
            .await?;
        Ok(())
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
            self.settle(&[], &[id.to_owned()]).await?;
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
        let entries: Vec<(String, EntryContent)> = self
            .entries
            .with_status(EntryStatus::Published)
            .await?
            .into_iter()
            .map(|e| (e.id, e.content))
            .collect();
        // Forget the marks first: a crash while rebuilding leaves entries unmarked,
        // which the next start repairs.
        self.entries.clear_index_marks().await?;
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
        let marks: Vec<(String, String)> = entries
            .iter()
            .map(|(id, c)| (id.clone(), c.hash()))
            .collect();
        self.settle(&marks, &[]).await?;
        self.retrain().await?;
        Ok(entries.len())
    }

    /// At start-up, brings the index in step with the published entries. The
    /// database is the truth and `kb_index_marks` says what the index durably
    /// holds: an entry published (or edited) whose points never reached the index
    /// before a crash is indexed, and one withdrawn whose points stayed is removed.
    /// Then the index must hold exactly the points the published entries make;
    /// an index that lost points some other way (deleted, a new Qdrant server, an
    /// older version without marks) is rebuilt from the database.
    pub async fn repair_index(&self) -> Result<(), KnowledgeError> {
        let published: Vec<(String, EntryContent)> = self
            .entries
            .with_status(EntryStatus::Published)
            .await?
            .into_iter()
            .map(|e| (e.id, e.content))
            .collect();
        let marks: HashMap<String, String> =
            self.entries.index_marks().await?.into_iter().collect();
        let (stale, withdrawn) = index_drift(&published, &marks);
        if !stale.is_empty() || !withdrawn.is_empty() {
            tracing::warn!(
                stale = stale.len(),
                withdrawn = withdrawn.len(),
                "the vector index differs from the published entries (a crash between a change \
                 and its index write): repairing those entries"
            );
            for id in withdrawn.iter().chain(stale.iter().map(|(id, _)| id)) {
                self.index.delete_entry(id).await?;
            }
            self.index_entries(&stale, &|_, _| {}).await?;
            let indexed: Vec<(String, String)> =
                stale.iter().map(|(id, c)| (id.clone(), c.hash())).collect();
            self.settle(&indexed, &withdrawn).await?;
        }
        let expected: usize = published.iter().map(|(id, c)| texts_of(id, c).len()).sum();
        let held = self.index.count().await?;
        if held != expected {
            tracing::warn!(
                held,
                expected,
                "the vector index does not hold the published entries' points: rebuilding it \
                 from the database"
            );
            self.reindex(&|_, _| {}).await?;
            return Ok(());
        }
        self.retrain().await
    }

    pub fn reindex_progress(&self) -> ReindexProgress {
        self.progress.get()
    }

    /// Retrains the classifier on the published questions and rebuilds the
    /// suggestion list.
    pub(super) async fn retrain(&self) -> Result<(), KnowledgeError> {
        // Read before the entries: a change that lands while training makes the
        // next revision check retrain again rather than be missed.
        let revision = self.entries.revision().await?;
        let published = self.entries.with_status(EntryStatus::Published).await?;
        let windows: HashMap<String, Window> = published
            .iter()
            .filter(|e| e.content.valid_from.is_some() || e.content.valid_to.is_some())
            .map(|e| {
                let window = Window {
                    from: e.content.valid_from.clone(),
                    to: e.content.valid_to.clone(),
                };
                (e.id.clone(), window)
            })
            .collect();
        *self.models.windows.write().expect("windows lock") = Arc::new(windows);
        let questions: Vec<(String, String)> = published
            .into_iter()
            .flat_map(|e| {
                let (id, c) = (e.id, e.content);
                std::iter::once(c.question)
                    .chain(c.similar)
                    .map(move |q| (id.clone(), q))
            })
            .collect();
        let suggest = tokio::task::spawn_blocking(move || SuggestIndex::new(questions))
            .await
            .map_err(|e| {
                KnowledgeError::Model(crate::ports::ModelError::Inference(e.to_string()))
            })?;
        *self.models.suggest.write().expect("suggest lock") = Arc::new(suggest);
        let examples = self.index.vectors(PointKind::Question).await?;
        let small_talk = if examples.is_empty() {
            Arc::default()
        } else {
            self.small_talk().await
        };
        let weights = self.policy.weights;
        let oos_share = self.policy.calibration_oos_share;
        let (classifier, examples, small_talk) = tokio::task::spawn_blocking(move || {
            let small_talk = small_talk::apart_from(&examples, &small_talk);
            let classifier = Classifier::train(&examples, &small_talk);
            (classifier, examples, small_talk)
        })
        .await
        .map_err(|e| KnowledgeError::Model(crate::ports::ModelError::Inference(e.to_string())))?;
        // Only a ranking with the classifier is calibrated per KB; without one
        // (one wording per entry) there is nothing to hold out.
        let examples = classifier.as_ref().map(|_| examples);
        *self.models.classifier.write().expect("classifier lock") = classifier.map(Arc::new);
        self.models
            .calibration
            .submit(examples, small_talk, weights, oos_share);
        *self.models.trained_on.lock().expect("revision lock") = Some(revision);
        Ok(())
    }

    /// The shipped small talk as question vectors, embedded on first use.
    /// Without them (the embedder failed) the classifier is trained without
    /// the small-talk class, and the next training tries again.
    async fn small_talk(&self) -> Arc<Vec<StoredVectors>> {
        if let Some(vectors) = self.models.small_talk.get() {
            return vectors.clone();
        }
        let lines = small_talk::lines();
        let dense = match small_talk_dense(self.embedder.as_ref(), &lines).await {
            Ok(dense) => dense,
            Err(error) => {
                tracing::warn!(%error, "small talk not embedded: training without its class");
                return Arc::default();
            }
        };
        let vectors: Vec<StoredVectors> = lines
            .iter()
            .zip(dense.iter())
            .map(|(line, dense)| StoredVectors {
                entry_id: String::new(),
                dense: dense.clone(),
                sparse: self.segmenter.document_vector(line),
            })
            .collect();
        self.models
            .small_talk
            .get_or_init(|| async { Arc::new(vectors) })
            .await
            .clone()
    }

    /// Waits until the confidence calibration of every change made so far is
    /// fitted (the evaluation waits; the bot uses the last one meanwhile).
    pub async fn calibration_settled(&self) {
        self.models.calibration.idle().await;
    }

    /// Retrains when the knowledge base changed since the last training, e.g. on
    /// another node sharing this database and Qdrant server. Returns whether it
    /// retrained.
    pub async fn refresh_if_changed(&self) -> Result<bool, KnowledgeError> {
        let now = self.entries.revision().await?;
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

    /// The confidence calibration fitted on this KB, if any (see `Models`).
    pub fn calibration(&self) -> Option<Arc<Fitted>> {
        self.models.calibration.current()
    }

    /// Whether the calibration is being refitted after a change.
    pub fn calibration_fitting(&self) -> bool {
        self.models.calibration.fitting()
    }

    /// The published entries with a validity window.
    pub(super) fn windows(&self) -> Arc<HashMap<String, Window>> {
        self.models.windows.read().expect("windows lock").clone()
    }

    pub(super) fn classifier(&self) -> Option<Arc<Classifier>> {
        self.models
            .classifier
            .read()
            .expect("classifier lock")
            .clone()
    }
}

/// Published entries whose content the index may not hold (no mark, or a mark
/// of other content), and marked entries that are no longer published.
fn index_drift(
    published: &[(String, EntryContent)],
    marks: &HashMap<String, String>,
) -> (Vec<(String, EntryContent)>, Vec<String>) {
    let stale = published
        .iter()
        .filter(|(id, c)| marks.get(id) != Some(&c.hash()))
        .cloned()
        .collect();
    let live: HashSet<&str> = published.iter().map(|(id, _)| id.as_str()).collect();
    let mut withdrawn: Vec<String> = marks
        .keys()
        .filter(|id| !live.contains(id.as_str()))
        .cloned()
        .collect();
    withdrawn.sort();
    (stale, withdrawn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::calibrate::tests::kb;

    #[tokio::test]
    async fn the_calibration_is_fitted_in_the_background_on_the_newest_change() {
        let calibrator = Arc::new(Calibrator::default());
        assert!(!calibrator.fitting());
        let w = FusionWeights::default();
        // Three changes in a row: the first is fitted, the second is replaced
        // by the third before it starts; the last one's KB is what stays.
        calibrator.submit(Some(kb(8, 10)), Vec::new(), w, 0.5);
        calibrator.submit(Some(kb(9, 10)), Vec::new(), w, 0.5);
        calibrator.submit(Some(kb(12, 10)), Vec::new(), w, 0.5);
        assert!(calibrator.fitting());
        calibrator.idle().await;
        assert!(!calibrator.fitting());
        let fitted = calibrator
            .current()
            .expect("a KB of 12 x 10 wordings is calibrated");
        assert_eq!(fitted.samples.len(), 120);
        // A KB that lost its classifier goes back to the shipped calibration.
        calibrator.submit(None, Vec::new(), w, 0.5);
        calibrator.idle().await;
        assert!(calibrator.current().is_none());
    }

    fn content(question: &str) -> EntryContent {
        serde_json::from_value(serde_json::json!({
            "kind": "faq", "question": question, "similar": [], "answer": "答",
            "category": null, "tags": [], "products": [], "locale": "zh",
            "valid_from": null, "valid_to": null
        }))
        .unwrap()
    }

    #[test]
    fn drift_is_the_unmarked_the_changed_and_the_withdrawn() {
        let (a, b, c) = (content("甲"), content("乙"), content("丙"));
        let published = vec![
            ("a".to_owned(), a.clone()),
            ("b".to_owned(), b.clone()),
            ("c".to_owned(), c.clone()),
        ];
        let marks: HashMap<String, String> = [
            ("a".to_owned(), a.hash()),                // in step
            ("b".to_owned(), content("旧").hash()),    // edited since
            ("gone".to_owned(), content("撤").hash()), // withdrawn
        ]
        .into_iter()
        .collect();
        let (stale, withdrawn) = index_drift(&published, &marks);
        let stale: Vec<&str> = stale.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(stale, ["b", "c"]);
        assert_eq!(withdrawn, ["gone"]);
        let all: HashMap<String, String> = published
            .iter()
            .map(|(id, c)| (id.clone(), c.hash()))
            .collect();
        assert_eq!(index_drift(&published, &all), (vec![], vec![]));
    }
}
