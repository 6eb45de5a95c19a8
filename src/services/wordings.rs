//! Suggested wordings (`domain::wording`), made in the background: for each
//! published FAQ entry with fewer than three wordings whose current version
//! the model was not asked about, the local model proposes other ways a buyer
//! would ask it, in the entry's language. Buyers come first: the model works
//! on proposals only when no buyer waits, and stops for one
//! (`ChatModel::generate_background`); the round is taken up again later.
//! Knowledge managers accept a proposal (a new version of the entry with the
//! wording as a similar question, which the index and the classifier learn)
//! or reject it (the same text is never proposed for the entry again).

use super::bot::prompts::{PromptError, Prompts};
use super::knowledge::{KnowledgeError, KnowledgeService};
use crate::domain::knowledge::Locale;
use crate::domain::lang::Lang;
use crate::domain::wording::{PER_ENTRY, SuggestionStatus, WordingSuggestion, proposals};
use crate::ports::repositories::{RepoError, WordingSuggestions};
use crate::ports::{
    ChatMessage, ChatModel, ChatRole, Clock, FinishReason, GenerationEvent, GenerationParams,
    ModelError, Sampling,
};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How often an idle worker looks for entries that changed.
const IDLE_POLL: Duration = Duration::from_secs(60);
/// After giving way to a buyer.
const RETRY_AFTER_YIELD: Duration = Duration::from_secs(2);
/// Three short lines and a little slack.
const PROPOSAL_TOKENS: usize = 96;
/// How often, and how long apart, a proposal waits for the model's
/// background slot (held by the previous job until just after its end, or by
/// another background job) before giving way: about a second.
const SLOT_TRIES: u32 = 20;
const SLOT_WAIT: Duration = Duration::from_millis(50);
/// Suggestions listed at most.
pub const LIST_LIMIT: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum WordingError {
    #[error("no such suggested wording")]
    NotFound,
    #[error("the suggested wording was already {}", .0.as_str())]
    Decided(SuggestionStatus),
    #[error(
        "this server does not propose wordings (no local model, or --wording-suggestions false)"
    )]
    Off,
    #[error(transparent)]
    Knowledge(#[from] KnowledgeError),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Why one entry got no proposals this time.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// The model is serving buyers: ask again later.
    #[error("the model is serving buyers")]
    Yielded,
    #[error(transparent)]
    Model(ModelError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RoundReport {
    /// Entries the model was asked about.
    pub asked: usize,
    /// New proposals stored.
    pub proposed: usize,
    /// The round stopped to give way to buyers (or for shutdown).
    pub interrupted: bool,
}

/// A suggestion with what a knowledge manager decides it by.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestionView {
    #[serde(flatten)]
    pub suggestion: WordingSuggestion,
    /// The entry's standard question and how many wordings it has now.
    pub entry_question: String,
    pub entry_wordings: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SuggestionList {
    pub suggestions: Vec<SuggestionView>,
    /// The server proposes wordings (a local model, and the setting on).
    pub enabled: bool,
}

pub struct WordingService {
    suggestions: Arc<dyn WordingSuggestions>,
    knowledge: Arc<KnowledgeService>,
    llm: Option<Arc<dyn ChatModel>>,
    prompts: Prompts,
    clock: Arc<dyn Clock>,
    wake: Notify,
    /// The background worker runs.
    running: AtomicBool,
}

impl WordingService {
    pub fn new(
        suggestions: Arc<dyn WordingSuggestions>,
        knowledge: Arc<KnowledgeService>,
        llm: Option<Arc<dyn ChatModel>>,
        prompts: Prompts,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            suggestions,
            knowledge,
            llm,
            prompts,
            clock,
            wake: Notify::new(),
            running: AtomicBool::new(false),
        }
    }

    /// Proposes wordings until shutdown; does nothing without a model.
    pub async fn run(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        if self.llm.is_none() {
            return;
        }
        self.running.store(true, Ordering::Relaxed);
        let watched = shutdown.clone();
        super::work_until_shutdown(&self.wake, shutdown, || async {
            Some(match self.round(Some(&watched)).await {
                Ok(report) if report.interrupted => RETRY_AFTER_YIELD,
                Ok(_) => IDLE_POLL,
                Err(error) => {
                    tracing::warn!(%error, "suggested wordings: the entries could not be read");
                    IDLE_POLL
                }
            })
        })
        .await;
    }

    /// Looks for entries to propose wordings for now, rather than at the next poll.
    pub fn refresh(&self) -> Result<(), WordingError> {
        if !self.enabled() {
            return Err(WordingError::Off);
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Whether the background worker proposes wordings.
    pub fn enabled(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// Asks the model about every entry with few wordings whose current
    /// version it was not asked about, one at a time, until it gives way to a
    /// buyer or `stop` says the server is stopping.
    pub async fn round(
        &self,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<RoundReport, WordingError> {
        let mut report = RoundReport::default();
        let Some(llm) = self.llm.as_deref() else {
            return Ok(report);
        };
        let asked = self.suggestions.asked().await?;
        let due = self
            .knowledge
            .with_few_wordings()
            .await?
            .into_iter()
            .filter(|e| asked.get(&e.id) != Some(&e.version));
        for entry in due {
            if stop.is_some_and(|s| *s.borrow()) {
                report.interrupted = true;
                break;
            }
            let c = &entry.content;
            let asked = propose(
                llm,
                &self.prompts,
                &c.question,
                &c.similar,
                &c.answer,
                c.locale,
            );
            let texts = match asked.await {
                Ok(texts) => texts,
                Err(ProposeError::Yielded) => {
                    report.interrupted = true;
                    break;
                }
                Err(error) => {
                    // Marked asked all the same: the next version tries again.
                    tracing::warn!(%error, entry = %entry.id, "no suggested wordings");
                    Vec::new()
                }
            };
            let now = self.clock.now_ms();
            let new: Vec<WordingSuggestion> = texts
                .into_iter()
                .map(|text| WordingSuggestion {
                    id: uuid::Uuid::now_v7().to_string(),
                    entry_id: entry.id.clone(),
                    text,
                    status: SuggestionStatus::Pending,
                    created_at: now,
                    decided_at: None,
                    decided_by: None,
                })
                .collect();
            report.proposed += self
                .suggestions
                .propose(&entry.id, entry.version, &new, now)
                .await?;
            report.asked += 1;
        }
        Ok(report)
    }

    /// Suggestions in `status` (every status when `None`), oldest first, each
    /// with its entry's question. Those of entries archived meanwhile are left out.
    pub async fn list(
        &self,
        status: Option<SuggestionStatus>,
    ) -> Result<SuggestionList, WordingError> {
        let found = self.suggestions.suggestions(status, LIST_LIMIT).await?;
        let mut entries: HashMap<String, Option<(String, usize)>> = HashMap::new();
        let mut suggestions = Vec::with_capacity(found.len());
        for suggestion in found {
            if !entries.contains_key(&suggestion.entry_id) {
                let entry = match self.knowledge.get(&suggestion.entry_id).await {
                    Ok(e) => Some((e.content.question.clone(), 1 + e.content.similar.len())),
                    Err(KnowledgeError::NotFound) => None,
                    Err(other) => return Err(other.into()),
                };
                entries.insert(suggestion.entry_id.clone(), entry);
            }
            if let Some(Some((question, wordings))) = entries.get(&suggestion.entry_id) {
                suggestions.push(SuggestionView {
                    entry_question: question.clone(),
                    entry_wordings: *wordings,
                    suggestion,
                });
            }
        }
        Ok(SuggestionList {
            suggestions,
            enabled: self.enabled(),
        })
    }

    /// The wording becomes a similar question of its entry, by `by`.
    pub async fn accept(&self, id: &str, by: &str) -> Result<SuggestionView, WordingError> {
        let suggestion = self.pending(id).await?;
        let entry = self
            .knowledge
            .add_similar(&suggestion.entry_id, &suggestion.text, by)
            .await?;
        self.decide(suggestion, SuggestionStatus::Accepted, by)
            .await
            .map(|suggestion| SuggestionView {
                suggestion,
                entry_question: entry.content.question.clone(),
                entry_wordings: 1 + entry.content.similar.len(),
            })
    }

    pub async fn reject(&self, id: &str, by: &str) -> Result<WordingSuggestion, WordingError> {
        let suggestion = self.pending(id).await?;
        self.decide(suggestion, SuggestionStatus::Rejected, by)
            .await
    }

    async fn pending(&self, id: &str) -> Result<WordingSuggestion, WordingError> {
        let suggestion = self
            .suggestions
            .suggestion(id)
            .await?
            .ok_or(WordingError::NotFound)?;
        match suggestion.status {
            SuggestionStatus::Pending => Ok(suggestion),
            decided => Err(WordingError::Decided(decided)),
        }
    }

    async fn decide(
        &self,
        mut suggestion: WordingSuggestion,
        status: SuggestionStatus,
        by: &str,
    ) -> Result<WordingSuggestion, WordingError> {
        let now = self.clock.now_ms();
        if !self
            .suggestions
            .decide(&suggestion.id, status, by, now)
            .await?
        {
            // Someone decided it between our read and our write.
            let now_stored = self.suggestions.suggestion(&suggestion.id).await?;
            let decided = now_stored.map_or(status, |s| s.status);
            return Err(WordingError::Decided(decided));
        }
        suggestion.status = status;
        suggestion.decided_at = Some(now);
        suggestion.decided_by = Some(by.to_owned());
        Ok(suggestion)
    }
}

/// The model's proposals of other wordings of a question, in the language of
/// `locale`, cleaned (`domain::wording::proposals`). The model works on them
/// only while no buyer waits.
pub async fn propose(
    llm: &dyn ChatModel,
    prompts: &Prompts,
    question: &str,
    similar: &[String],
    answer: &str,
    locale: Locale,
) -> Result<Vec<String>, ProposeError> {
    let lang = match locale {
        Locale::Zh => Lang::Zh,
        Locale::En => Lang::En,
    };
    let prompt = prompts.paraphrase(question, similar, answer, lang, PER_ENTRY)?;
    let params = GenerationParams {
        max_tokens: PROPOSAL_TOKENS,
        sampling: Sampling::Greedy,
        stop: Vec::new(),
    };
    let messages = vec![ChatMessage::new(ChatRole::User, prompt)];
    // The model thread takes one background job at a time and frees its slot
    // a moment after the job's last event: a proposal asked right after the
    // previous one waits for it, a little, before giving way.
    let mut tries = 0;
    let mut stream = loop {
        match llm
            .generate_background(messages.clone(), params.clone())
            .await
        {
            Ok(stream) => break stream,
            Err(ModelError::Overloaded) if tries < SLOT_TRIES => {
                tries += 1;
                tokio::time::sleep(SLOT_WAIT).await;
            }
            Err(ModelError::Overloaded) => return Err(ProposeError::Yielded),
            Err(error) => return Err(ProposeError::Model(error)),
        }
    };
    let mut out = String::new();
    while let Some(event) = stream.recv().await {
        match event.map_err(ProposeError::Model)? {
            GenerationEvent::Token(piece) => out.push_str(&piece),
            GenerationEvent::Done(stats) if stats.finish == FinishReason::Cancelled => {
                return Err(ProposeError::Yielded);
            }
            GenerationEvent::Done(_) => {}
        }
    }
    tracing::debug!(output = %out, "the model's proposed wordings, before cleaning");
    let mut existing: Vec<&str> = vec![question];
    existing.extend(similar.iter().map(String::as_str));
    Ok(proposals(&out, &existing, locale))
}
