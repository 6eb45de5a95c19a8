//! The local model's draft score of a quality review (质检), made in the
//! background while the review waits for its reviewer. Each check item is
//! asked of the transcript on its own; an item "holds" only with a line the
//! agent said as its evidence (`domain::quality::draft_item`), and the
//! reviewer confirms or overrides the draft. Buyers come first: the model
//! makes drafts only when no buyer waits, and stops one for a buyer
//! (`ChatModel::generate_background`); the review is taken again later.

use super::bot::prompts::{PromptError, Prompts, QaLine, as_data};
use super::chat::{ChatError, ChatService};
use super::events::EventPayload;
use crate::domain::conversation::ConversationId;
use crate::domain::message::Sender;
use crate::domain::quality::{DraftItem, Rubric, draft_item, parse_line, parse_verdict};
use crate::ports::repositories::{DraftStatus, QaDrafts, RepoError, StoredDraft};
use crate::ports::{
    ChatMessage, ChatModel, ChatRole, Clock, FinishReason, GenerationEvent, GenerationParams,
    ModelError, Sampling,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a node holds a review it drafts before another may take it.
const LEASE_MS: i64 = 10 * 60_000;
/// Tries before a draft is given up (the reviewer may ask again).
const MAX_FAILURES: u32 = 3;
const RETRY_AFTER_FAILURE_MS: i64 = 60_000;
/// After giving way to a buyer.
const RETRY_AFTER_YIELD_MS: i64 = 2_000;
/// How often an idle worker looks for reviews queued on another node.
const IDLE_POLL: Duration = Duration::from_secs(5);
/// The end of a long chat: its last lines, at most this many characters.
const TRANSCRIPT_LINES: usize = 40;
const TRANSCRIPT_CHARS: usize = 2400;
const LINE_CHARS: usize = 300;
/// Messages read from the conversation.
const EVENTS_READ: i64 = 500;
/// "是，客服[2]" and a little slack.
const ANSWER_TOKENS: usize = 16;

/// Who said a line of a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Buyer,
    Agent,
    Bot,
}

impl Speaker {
    fn label(self) -> &'static str {
        match self {
            Speaker::Buyer => "买家",
            Speaker::Agent => "客服",
            Speaker::Bot => "机器人",
        }
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct ChatLine {
    #[serde(rename = "sender")]
    pub speaker: Speaker,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    /// The model gave way to a buyer, or another draft holds it: try later.
    #[error("the model is serving buyers")]
    Yielded,
    #[error(transparent)]
    Model(ModelError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl From<ModelError> for DraftError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Overloaded | ModelError::Cancelled => DraftError::Yielded,
            other => DraftError::Model(other),
        }
    }
}

/// Scores one transcript against a rubric with the model, item by item (the
/// background worker, and `xiaoer eval qa` in the foreground).
pub async fn score_transcript(
    llm: &dyn ChatModel,
    prompts: &Prompts,
    rubric: &Rubric,
    transcript: &[ChatLine],
    background: bool,
) -> Result<Vec<DraftItem>, DraftError> {
    let answered = answer_items(llm, prompts, rubric, transcript, background).await?;
    Ok(answered.into_iter().map(|(item, _)| item).collect())
}

/// Each item's draft with the model's answer as it gave it (the evaluation
/// shows the answers behind its misses).
pub async fn answer_items(
    llm: &dyn ChatModel,
    prompts: &Prompts,
    rubric: &Rubric,
    transcript: &[ChatLine],
    background: bool,
) -> Result<Vec<(DraftItem, String)>, DraftError> {
    let shown = tail(transcript);
    let agent_lines: Vec<String> = shown
        .iter()
        .filter(|l| l.speaker == Speaker::Agent)
        .map(|l| l.text.clone())
        .collect();
    let mut agent_seen = 0;
    let lines: Vec<QaLine> = shown
        .iter()
        .map(|l| QaLine {
            who: match l.speaker {
                Speaker::Agent => {
                    agent_seen += 1;
                    format!("{}[{agent_seen}]", l.speaker.label())
                }
                other => other.label().to_owned(),
            },
            text: l.text.clone(),
        })
        .collect();
    let mut items = Vec::with_capacity(rubric.items.len());
    for item in &rubric.items {
        let prompt = prompts.qa_item(&lines, &item.label)?;
        let mut messages = vec![ChatMessage::new(ChatRole::User, prompt)];
        let mut answer = ask(llm, messages.clone(), background).await?;
        let mut verdict = parse_verdict(&answer);
        // "是" alone: which line shows it, asked as a second turn of the same
        // chat (the model keeps the first turn's computation).
        if let Some(v) = verdict.as_mut().filter(|v| v.holds && v.line.is_none()) {
            messages.push(ChatMessage::new(ChatRole::Assistant, answer.trim()));
            messages.push(ChatMessage::new(ChatRole::User, WHICH_LINE));
            let line = ask(llm, messages.clone(), background).await?;
            messages.push(ChatMessage::new(ChatRole::Assistant, line.trim()));
            v.line = parse_line(&line);
            answer = format!("{} → {}", answer.trim(), line.trim());
        }
        // The line pointed to must show the item on its own: asked of that
        // line alone, a "no" leaves the item unproven (a small model says
        // "yes" to a whole chat more readily than to the one sentence).
        if let Some(v) = verdict.as_mut().filter(|v| v.holds)
            && let Some(said) = v.line.and_then(|n| agent_lines.get(n.checked_sub(1)?))
        {
            if messages.len() == 1 {
                messages.push(ChatMessage::new(ChatRole::Assistant, answer.trim()));
            }
            let check = format!(
                "只看这一句客服的话：“{}”。单凭这一句，能说明“{}”吗？只回答是或否。",
                as_data(said),
                as_data(&item.label)
            );
            messages.push(ChatMessage::new(ChatRole::User, check));
            let confirmed = ask(llm, messages, background).await?;
            if !parse_verdict(&confirmed).is_some_and(|c| c.holds) {
                v.line = None;
            }
            answer = format!("{} → {}", answer.trim(), confirmed.trim());
        }
        items.push((draft_item(item, verdict, &agent_lines), answer));
    }
    Ok(items)
}

/// The follow-up question when the model said an item holds without the line.
const WHICH_LINE: &str = "能证明它的是哪一句客服的话？只回答编号，例如：客服[2]";

/// One short answer from the model, in the background or not.
async fn ask(
    llm: &dyn ChatModel,
    messages: Vec<ChatMessage>,
    background: bool,
) -> Result<String, DraftError> {
    let params = GenerationParams {
        max_tokens: ANSWER_TOKENS,
        sampling: Sampling::Greedy,
        stop: vec!["\n".into()],
    };
    let mut stream = if background {
        llm.generate_background(messages, params).await?
    } else {
        llm.generate(messages, params).await?
    };
    let mut answer = String::new();
    while let Some(event) = stream.recv().await {
        match event? {
            GenerationEvent::Token(piece) => answer.push_str(&piece),
            GenerationEvent::Done(stats) if stats.finish == FinishReason::Cancelled => {
                return Err(DraftError::Yielded);
            }
            GenerationEvent::Done(_) => {}
        }
    }
    Ok(answer)
}

/// The draft's score: the rubric's total of the points it gives each item.
pub fn draft_total(rubric: &Rubric, items: &[DraftItem]) -> u32 {
    let scores: BTreeMap<String, u32> = items.iter().map(|i| (i.key.clone(), i.points)).collect();
    rubric.total(&scores)
}

/// The end of the chat the model reads: the last lines, each cut short, that
/// fit the character budget.
fn tail(transcript: &[ChatLine]) -> Vec<ChatLine> {
    let mut kept = Vec::new();
    let mut chars = 0;
    for line in transcript.iter().rev().take(TRANSCRIPT_LINES) {
        let text: String = line.text.chars().take(LINE_CHARS).collect();
        chars += text.chars().count();
        if chars > TRANSCRIPT_CHARS && !kept.is_empty() {
            break;
        }
        kept.push(ChatLine {
            speaker: line.speaker,
            text,
        });
    }
    kept.reverse();
    kept
}

pub struct QaDraftService {
    drafts: Arc<dyn QaDrafts>,
    chat: Arc<ChatService>,
    /// None without a local model: reviews then have no draft.
    llm: Option<Arc<dyn ChatModel>>,
    prompts: Prompts,
    clock: Arc<dyn Clock>,
    wake: tokio::sync::Notify,
}

impl QaDraftService {
    pub fn new(
        drafts: Arc<dyn QaDrafts>,
        chat: Arc<ChatService>,
        llm: Option<Arc<dyn ChatModel>>,
        prompts: Prompts,
        clock: Arc<dyn Clock>,
    ) -> QaDraftService {
        QaDraftService {
            drafts,
            chat,
            llm,
            prompts,
            clock,
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Whether drafts are made here at all (a local model is loaded).
    pub fn enabled(&self) -> bool {
        self.llm.is_some()
    }

    /// New reviews were queued: look for them now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub async fn draft(&self, review_id: &str) -> Result<Option<StoredDraft>, RepoError> {
        self.drafts.draft(review_id).await
    }

    /// The reviewer asks for the draft again (after the model failed on it).
    pub async fn request(&self, review_id: &str) -> Result<(), RepoError> {
        self.drafts.request(review_id, self.clock.now_ms()).await?;
        self.wake();
        Ok(())
    }

    /// Drafts waiting reviews until shutdown; does nothing without a model.
    pub async fn run(self: Arc<Self>, shutdown: tokio::sync::watch::Receiver<bool>) {
        if self.llm.is_none() {
            return;
        }
        super::work_until_shutdown(&self.wake, shutdown, || async {
            match self.step().await {
                Ok(true) => None,
                Ok(false) => Some(IDLE_POLL),
                Err(error) => {
                    tracing::warn!(%error, "quality drafts: the queue could not be read");
                    Some(IDLE_POLL)
                }
            }
        })
        .await;
    }

    /// Takes one waiting review and drafts it; false when none waits (or the
    /// model gave way to a buyer meanwhile).
    pub async fn step(&self) -> Result<bool, RepoError> {
        let Some(llm) = self.llm.as_deref() else {
            return Ok(false);
        };
        let now = self.clock.now_ms();
        let Some(job) = self.drafts.take(now, now + LEASE_MS).await? else {
            return Ok(false);
        };
        let drafted = match self.transcript(&job.conversation_id).await {
            Ok(transcript) => {
                score_transcript(llm, &self.prompts, &job.rubric, &transcript, true).await
            }
            Err(e) => Err(e),
        };
        let now = self.clock.now_ms();
        match drafted {
            Ok(items) => {
                let total = draft_total(&job.rubric, &items);
                self.drafts
                    .finish(&job.review_id, &items, total, now)
                    .await?;
                Ok(true)
            }
            Err(DraftError::Yielded) => {
                self.drafts
                    .release(
                        &job.review_id,
                        DraftStatus::Waiting,
                        job.failures,
                        now + RETRY_AFTER_YIELD_MS,
                        now,
                    )
                    .await?;
                Ok(false)
            }
            Err(error) => {
                let failures = job.failures + 1;
                let status = if failures >= MAX_FAILURES {
                    DraftStatus::Failed
                } else {
                    DraftStatus::Waiting
                };
                tracing::warn!(review = %job.review_id, failures, %error, "quality draft failed");
                self.drafts
                    .release(
                        &job.review_id,
                        status,
                        failures,
                        now + RETRY_AFTER_FAILURE_MS,
                        now,
                    )
                    .await?;
                Ok(true)
            }
        }
    }

    async fn transcript(&self, conversation_id: &str) -> Result<Vec<ChatLine>, DraftError> {
        let id = ConversationId::parse(conversation_id)
            .ok_or_else(|| RepoError::Corrupt(format!("conversation id {conversation_id:?}")))?;
        let events = self.chat.events(&id, 0, EVENTS_READ).await?;
        Ok(events
            .into_iter()
            .filter_map(|e| {
                let speaker = match e.sender {
                    Sender::Buyer { .. } => Speaker::Buyer,
                    Sender::Agent { .. } => Speaker::Agent,
                    Sender::Bot => Speaker::Bot,
                    Sender::System => return None,
                };
                let EventPayload::Message { body } = e.payload else {
                    return None;
                };
                Some(ChatLine {
                    speaker,
                    text: body.transcript_text()?,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(speaker: Speaker, text: &str) -> ChatLine {
        ChatLine {
            speaker,
            text: text.into(),
        }
    }

    #[test]
    fn the_model_reads_the_end_of_a_long_chat_within_its_budget() {
        let long: Vec<ChatLine> = (0..100)
            .map(|i| line(Speaker::Buyer, &format!("{i:03}{}", "字".repeat(97))))
            .collect();
        let shown = tail(&long);
        let chars: usize = shown.iter().map(|l| l.text.chars().count()).sum();
        assert!(chars <= TRANSCRIPT_CHARS, "{chars}");
        assert_eq!(shown.len(), TRANSCRIPT_CHARS / 100);
        assert!(
            shown.last().unwrap().text.starts_with("099"),
            "the last line last"
        );
        // One very long line is cut, never dropped whole.
        let one = tail(&[line(Speaker::Agent, &"长".repeat(5000))]);
        assert_eq!(one[0].text.chars().count(), LINE_CHARS);
    }
}
