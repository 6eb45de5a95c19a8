//! The bot: while it owns a conversation it answers each buyer message through
//! one pipeline (services/bot/pipeline.rs): hand-off triggers, recommendations,
//! answer-then-offer, guided intake, order tools, then the knowledge base's
//! verdict (curated answer at once, grounded LLM answer streamed, the closest
//! entries offered, or hand-off with a packet). Each step returns an action
//! (services/bot/action.rs) and one executor carries it out. Messages of one
//! conversation are handled one at a time, in order; different conversations
//! run concurrently.

pub mod action;
pub mod answer;
pub mod grounding;
pub mod guard;
pub mod handoff;
pub mod hours;
pub mod intake;
pub mod learning;
pub mod offer;
pub mod orders;
pub mod pipeline;
pub mod prompts;
pub mod recommend;
pub mod session;
pub mod welcome;

use super::chat::{BuyerMessage, ChatError, ChatService, ConversationView};
use super::visitors::{VisitorError, VisitorService};
use crate::crypto::Cipher;
use crate::domain::intake::IntentCatalog;
use crate::ports::{
    ChatModel, Clock, Commerce, CommerceError, Embedder, KnowledgeBase, KnowledgeError, ModelError,
};
use prompts::Prompts;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Conversation(#[from] crate::services::conversations::ConversationError),
    #[error(transparent)]
    Visitor(#[from] VisitorError),
    /// What the bot keeps (its sessions, packets, ratings, logs, welcome
    /// texts) could not be read or written.
    #[error(transparent)]
    Records(#[from] crate::ports::repositories::RepoError),
    #[error(transparent)]
    Knowledge(#[from] KnowledgeError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Commerce(#[from] CommerceError),
    #[error(transparent)]
    Prompt(#[from] prompts::PromptError),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("there is no bot answer at that sequence number")]
    NotABotAnswer,
    #[error("there is no agent text reply at that sequence number")]
    NotAnAgentAnswer,
    #[error("no buyer question precedes that reply; give the question explicitly")]
    NoQuestion,
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Welcome(#[from] crate::domain::welcome::ScenarioError),
    #[error(
        "at most {} welcome rules (campaigns, entry pages, member levels): delete one first",
        crate::domain::welcome::MAX_RULES
    )]
    TooManyWelcomeRules,
}

/// How the bot behaves; from Settings.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// Unhelpful bot turns in a row before a person takes over.
    pub unhelpful_limit: u32,
    /// Most tokens in a generated answer.
    pub max_answer_tokens: usize,
    pub answer_budget: AnswerBudget,
    /// Model tokens one conversation may spend per hour and per day.
    pub token_budget: crate::domain::llm_budget::TokenBudget,
    /// The shop's synonyms (`knowledge/synonyms.txt`), for the grounding check.
    pub synonyms: grounding::Synonyms,
}

/// How long a generated answer may keep the buyer waiting, counted from the
/// moment it is asked of the model (queueing and prefill included). Past
/// either deadline the generation is dropped and the buyer gets the closest
/// entries to pick by number instead (curated answers, no model), the same
/// offer a busy model (a full queue) gets at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerBudget {
    /// Until the model's first token.
    pub first_token: std::time::Duration,
    /// Until the whole answer is written.
    pub total: std::time::Duration,
}

impl Default for AnswerBudget {
    fn default() -> Self {
        Self {
            first_token: std::time::Duration::from_millis(3500),
            total: std::time::Duration::from_secs(20),
        }
    }
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            unhelpful_limit: 3,
            max_answer_tokens: 160,
            answer_budget: AnswerBudget::default(),
            token_budget: Default::default(),
            synonyms: Default::default(),
        }
    }
}

/// The adapters the bot runs on.
pub struct BotPorts {
    pub knowledge: Arc<dyn KnowledgeBase>,
    pub commerce: Arc<dyn Commerce>,
    /// None when the server runs without models: the bot then does not answer.
    pub llm: Option<Arc<dyn ChatModel>>,
    /// For grouping unanswered questions; without it they group by exact text.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Products to offer a buyer who asks for a suggestion or an alternative.
    pub recommender: Option<Arc<crate::services::recommend::Recommender>>,
}

/// Stops the bot's typing frames when dropped (the turn ended, however).
struct TypingGuard(tokio::task::JoinHandle<()>);

impl Drop for TypingGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub struct BotService {
    chat: Arc<ChatService>,
    visitors: Arc<VisitorService>,
    records: Arc<dyn crate::ports::repositories::BotRecords>,
    sessions: Arc<dyn crate::ports::repositories::BotSessions>,
    cipher: Cipher,
    clock: Arc<dyn Clock>,
    conversations: Arc<crate::services::conversations::ConversationService>,
    shop: Arc<crate::services::shop::ShopService>,
    ports: BotPorts,
    topics: Arc<crate::services::topics::Topics>,
    catalog: IntentCatalog,
    prompts: Prompts,
    config: BotConfig,
    /// One queue per conversation with work in flight.
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<Work>>>,
    /// The grounding check of generated answers, built on first use (it loads a dictionary).
    grounding: OnceLock<grounding::Grounding>,
}

/// Something the bot must react to, in conversation order.
#[derive(Debug)]
pub enum Work {
    Message(BuyerMessage),
    /// The buyer rated a bot answer as not helpful.
    Unhelpful {
        conversation_id: String,
    },
    /// Done once everything queued before it for the conversation is done.
    Barrier {
        conversation_id: String,
        done: tokio::sync::oneshot::Sender<()>,
    },
}

impl Work {
    fn conversation_id(&self) -> &str {
        match self {
            Work::Message(m) => m.conversation_id.as_str(),
            Work::Unhelpful { conversation_id }
            | Work::Barrier {
                conversation_id, ..
            } => conversation_id,
        }
    }
}

pub struct BotParts {
    pub chat: Arc<ChatService>,
    /// Hand-offs go the one way every hand-off goes (and join a skill group's queue).
    pub conversations: Arc<crate::services::conversations::ConversationService>,
    pub visitors: Arc<VisitorService>,
    /// Packets, ratings, the unanswered log, welcome texts and menus
    /// (`ports::repositories::BotRecords`).
    pub records: Arc<dyn crate::ports::repositories::BotRecords>,
    /// What the bot remembers per conversation (`storage::SealedBotSessions`).
    pub sessions: Arc<dyn crate::ports::repositories::BotSessions>,
    pub cipher: Cipher,
    pub clock: Arc<dyn Clock>,
    /// Shop name, service hours and holidays, as admins set them.
    pub shop: Arc<crate::services::shop::ShopService>,
    /// Where the bot tells analytics what a chat is about.
    pub topics: Arc<crate::services::topics::Topics>,
}

impl BotService {
    pub fn new(
        parts: BotParts,
        ports: BotPorts,
        catalog: IntentCatalog,
        prompts: Prompts,
        config: BotConfig,
    ) -> Self {
        Self {
            chat: parts.chat,
            conversations: parts.conversations,
            visitors: parts.visitors,
            records: parts.records,
            sessions: parts.sessions,
            cipher: parts.cipher,
            clock: parts.clock,
            shop: parts.shop,
            topics: parts.topics,
            ports,
            catalog,
            prompts,
            config,
            queues: Mutex::new(HashMap::new()),
            grounding: OnceLock::new(),
        }
    }

    /// Whether the bot answers buyers (it needs the LLM).
    pub fn enabled(&self) -> bool {
        self.ports.llm.is_some()
    }

    /// Queues work behind the conversation's earlier work, starting a worker if none runs.
    pub fn dispatch(self: &Arc<Self>, work: Work) {
        let id = work.conversation_id().to_owned();
        let mut queues = self.queues.lock().expect("bot queues lock");
        let work = match queues.get(&id) {
            Some(tx) => match tx.send(work) {
                Ok(()) => return,
                Err(mpsc::error::SendError(work)) => work,
            },
            None => work,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(work).expect("a fresh queue accepts");
        queues.insert(id.clone(), tx);
        tokio::spawn(self.clone().drain(id, rx));
    }

    async fn drain(self: Arc<Self>, id: String, mut rx: mpsc::UnboundedReceiver<Work>) {
        loop {
            let work = match rx.try_recv() {
                Ok(work) => work,
                Err(_) => {
                    let mut queues = self.queues.lock().expect("bot queues lock");
                    match rx.try_recv() {
                        Ok(work) => work,
                        Err(_) => {
                            queues.remove(&id);
                            return;
                        }
                    }
                }
            };
            let span = tracing::info_span!("bot", conversation = %id);
            let result = tracing::Instrument::instrument(self.handle(work), span).await;
            if let Err(error) = result {
                tracing::error!(%error, conversation = %id, "bot pipeline failed");
            }
        }
    }

    async fn handle(&self, work: Work) -> Result<(), BotError> {
        match work {
            Work::Message(message) => self.on_message(message).await,
            Work::Unhelpful { conversation_id } => self.on_unhelpful_rating(&conversation_id).await,
            Work::Barrier { done, .. } => {
                let _ = done.send(());
                Ok(())
            }
        }
    }

    /// Waits, at most `limit`, until the bot has finished the work it had for a
    /// conversation (a turn whose session is not saved yet). False on timeout.
    pub async fn settle(
        self: &Arc<Self>,
        conversation_id: &str,
        limit: std::time::Duration,
    ) -> bool {
        let busy = self
            .queues
            .lock()
            .expect("bot queues lock")
            .contains_key(conversation_id);
        if !busy {
            return true;
        }
        let (done, finished) = tokio::sync::oneshot::channel();
        self.dispatch(Work::Barrier {
            conversation_id: conversation_id.to_owned(),
            done,
        });
        tokio::time::timeout(limit, finished).await.is_ok()
    }

    /// Typing frames from the bot every 2.5 s until the returned guard drops.
    fn typing_while_working(&self, conversation: &ConversationView) -> TypingGuard {
        let chat = self.chat.clone();
        let conversation = conversation.clone();
        TypingGuard(tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_millis(2500));
            loop {
                every.tick().await;
                chat.typing(&conversation, "bot");
            }
        }))
    }

    fn grounding(&self) -> &grounding::Grounding {
        self.grounding.get_or_init(|| {
            grounding::Grounding::with_synonyms(
                crate::retrieval::lexical::Segmenter::default(),
                self.config.synonyms.clone(),
            )
        })
    }

    pub fn catalog(&self) -> &IntentCatalog {
        &self.catalog
    }

    pub fn knowledge(&self) -> &Arc<dyn KnowledgeBase> {
        &self.ports.knowledge
    }
}
