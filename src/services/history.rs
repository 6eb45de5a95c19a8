//! History: find past conversations by what was said, by the buyer, by order
//! number, by agent and by date, although message bodies and buyer details are
//! encrypted at rest.
//!
//! A keyed blind index keeps the words off the disk: every term of a message
//! (src/domain/history.rs) and of the buyer's name, phone and shop account is
//! stored only as the first 8 bytes of an HMAC under a key derived from the
//! data key. A search cuts its words the same way, hashes them, and asks for
//! conversations holding all of them. What it costs: one row per distinct term
//! per conversation (about 24 bytes of payload; measured by `xiaoer bench
//! history`), and someone holding the database (without the key) can see how
//! often a term hash occurs and which conversations share it, though not what
//! the term is. Bigrams match substrings, so a search can also find a text
//! where the bigrams occur apart ("退货地址" in "地址…退货"); the results are a
//! superset, and the agent reads them.
//!
//! The index follows the committed-event stream (a cluster subscriber from the
//! first event), so conversations written before this feature are indexed on
//! the first start.

use crate::crypto::Cipher;
use crate::domain::events::{DomainEvent, EventData};
use crate::domain::history::{self, HistoryFilter, MAX_QUERY_CHARS, TermHash};
use crate::domain::message::MessageBody;
use crate::domain::staff::Permission;
use crate::ports::repositories::{FoundConversation, HistoryIndex, RepoError};
use crate::services::chat::{ChatError, ChatService};
use crate::services::events::EventPayload;
use crate::services::staff::StaffUser;
use crate::services::subscribers::Subscriber;
use crate::services::visitors::VisitorService;
use serde::Serialize;
use std::sync::Arc;

/// Most conversations one page returns.
pub const MAX_PAGE: i64 = 100;
/// Postings counted per term when choosing where a search starts.
const POSTINGS_CAP: i64 = 20_000;
/// Most terms one search sends to the database.
const MAX_TERMS: usize = 24;
/// Buyer terms follow a profile change on this many of the buyer's latest chats.
const BUYER_CHATS: i64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "the search has no words to look for: use at least one letter, digit or Chinese character"
    )]
    NothingToFind,
    #[error("a search can be at most {MAX_QUERY_CHARS} characters")]
    TooLong,
    #[error("the date range ends before it starts")]
    BadRange,
    #[error("stored conversation data could not be read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Records(#[from] RepoError),
}

/// A search, as the console sends it. Every given part must match.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Words anywhere in the conversation (buyer, agent or bot).
    pub text: Option<String>,
    /// An order number said in the conversation.
    pub order_no: Option<String>,
    /// The buyer's name, nickname, phone or shop account.
    pub buyer: Option<String>,
    pub visitor_id: Option<String>,
    pub agent_id: Option<String>,
    /// Started in [from, until) (Unix ms).
    pub from: Option<i64>,
    pub until: Option<i64>,
    /// The next page: started before this.
    pub before: Option<i64>,
    pub limit: i64,
}

/// One found conversation.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryHit {
    pub conversation_id: String,
    pub state: String,
    pub channel: String,
    pub agent_id: Option<String>,
    pub visitor_id: String,
    /// The buyer's nickname, when they gave one.
    pub buyer_name: Option<String>,
    /// The buyer's first words in the chat (what it was about).
    pub first_message: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct HistoryService {
    index: Arc<dyn HistoryIndex>,
    cipher: Cipher,
    chat: Arc<ChatService>,
    visitors: Arc<VisitorService>,
}

#[derive(Clone, Copy)]
enum Field {
    Message,
    Buyer,
}

impl HistoryService {
    pub fn new(
        index: Arc<dyn HistoryIndex>,
        cipher: Cipher,
        chat: Arc<ChatService>,
        visitors: Arc<VisitorService>,
    ) -> Self {
        Self {
            index,
            cipher,
            chat,
            visitors,
        }
    }

    fn hash(&self, field: Field, term: &str) -> TermHash {
        let label: &[u8] = match field {
            Field::Message => b"xiaoer history v1\0message\0",
            Field::Buyer => b"xiaoer history v1\0buyer\0",
        };
        let digest = self.cipher.content_id(&[label, term.as_bytes()].concat());
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        out
    }

    fn hashes(&self, field: Field, text: &str) -> Vec<TermHash> {
        history::terms(text)
            .iter()
            .map(|t| self.hash(field, t))
            .collect()
    }

    /// The index terms of one committed message (none for system lines).
    pub fn message_terms(&self, body: &MessageBody) -> Vec<TermHash> {
        let text = match body {
            MessageBody::Text { text } => text.as_str(),
            MessageBody::Image {
                caption: Some(c), ..
            } => c.as_str(),
            MessageBody::File { name, .. } => name.as_str(),
            MessageBody::BotAnswer { text, .. } => text.as_str(),
            MessageBody::ProductCard { card } => card.title.as_str(),
            MessageBody::OrderCard { card } => card.order_no.as_str(),
            MessageBody::CouponCard { card } => card.title.as_str(),
            MessageBody::Image { caption: None, .. }
            | MessageBody::Voice { .. }
            | MessageBody::System { .. } => "",
        };
        self.hashes(Field::Message, text)
    }

    /// The index terms of a buyer's details (name, nickname, phone, account).
    pub fn buyer_terms<'a>(&self, details: impl IntoIterator<Item = &'a str>) -> Vec<TermHash> {
        details
            .into_iter()
            .flat_map(|d| self.hashes(Field::Buyer, d))
            .collect()
    }

    /// The terms of the message at `seq` (none when it is gone: an erased buyer).
    async fn terms_of_message(
        &self,
        conversation_id: &str,
        seq: i64,
    ) -> Result<Vec<TermHash>, HistoryError> {
        let Some(event) = self.chat.event_at(conversation_id, seq).await? else {
            return Ok(Vec::new());
        };
        Ok(match &event.payload {
            EventPayload::Message { body } => self.message_terms(body),
            _ => Vec::new(),
        })
    }

    /// Indexes a run of events with one write for all their messages.
    async fn index_events(&self, events: &[DomainEvent]) -> Result<(), HistoryError> {
        let mut messages: Vec<(String, Vec<TermHash>)> = Vec::new();
        for event in events {
            let Some(conversation_id) = event.conversation_id.as_deref() else {
                if let EventData::VisitorUpdated { visitor_id } = &event.data {
                    self.index_buyer(visitor_id, None).await?;
                }
                continue;
            };
            match (&event.data, event.seq) {
                (EventData::MessagePosted { sender_kind, .. }, Some(seq))
                    if sender_kind != "system" =>
                {
                    let terms = self.terms_of_message(conversation_id, seq).await?;
                    messages.push((conversation_id.to_owned(), terms));
                }
                (EventData::ConversationStarted { visitor_id, .. }, _) => {
                    self.index_buyer(visitor_id, Some(conversation_id)).await?;
                }
                (EventData::VisitorUpdated { visitor_id }, _) => {
                    self.index_buyer(visitor_id, None).await?;
                }
                _ => {}
            }
        }
        let entries: Vec<(&str, &[TermHash])> = messages
            .iter()
            .map(|(id, terms)| (id.as_str(), terms.as_slice()))
            .collect();
        self.index.add_terms(&entries).await?;
        Ok(())
    }

    /// The buyer's details as terms on their conversations (`only`, or the
    /// latest ones after a profile change).
    async fn index_buyer(&self, visitor_id: &str, only: Option<&str>) -> Result<(), HistoryError> {
        let profile = match self.visitors.profile(visitor_id).await {
            Ok(p) => p,
            Err(crate::services::visitors::VisitorError::NotFound) => return Ok(()),
            Err(crate::services::visitors::VisitorError::Records(RepoError::NotFound)) => {
                return Ok(());
            }
            Err(e) => return Err(HistoryError::Corrupt(e.to_string())),
        };
        let details = [
            profile.nickname.as_deref(),
            profile.real_name.as_deref(),
            profile.phone.as_deref(),
            profile.shop_account_id.as_deref(),
        ];
        let terms = self.buyer_terms(details.into_iter().flatten());
        if terms.is_empty() {
            return Ok(());
        }
        let ids = match only {
            Some(id) => vec![id.to_owned()],
            None => {
                self.index
                    .conversations_of_visitor(visitor_id, BUYER_CHATS)
                    .await?
            }
        };
        let entries: Vec<(&str, &[TermHash])> = ids
            .iter()
            .map(|id| (id.as_str(), terms.as_slice()))
            .collect();
        self.index.add_terms(&entries).await?;
        Ok(())
    }

    /// Conversations matching `query` that `staff` may open, newest first.
    /// Agents without the supervision right find only their own chats.
    pub async fn search(
        &self,
        staff: &StaffUser,
        query: &HistoryQuery,
    ) -> Result<Vec<HistoryHit>, HistoryError> {
        let mut terms = Vec::new();
        for (field, text) in [
            (Field::Message, &query.text),
            (Field::Message, &query.order_no),
            (Field::Buyer, &query.buyer),
        ] {
            let Some(text) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
                continue;
            };
            if text.chars().count() > MAX_QUERY_CHARS {
                return Err(HistoryError::TooLong);
            }
            let hashes = self.hashes(field, text);
            if hashes.is_empty() {
                return Err(HistoryError::NothingToFind);
            }
            terms.extend(hashes);
        }
        if let (Some(from), Some(until)) = (query.from, query.until)
            && until <= from
        {
            return Err(HistoryError::BadRange);
        }
        terms.sort_unstable();
        terms.dedup();
        // Rarest first: the search reads the rarest term's postings and checks
        // the rest, unless every term is common (then newest conversations
        // first, checking each, finds a page early).
        let mut counted = Vec::with_capacity(terms.len());
        for term in terms {
            let n = self.index.postings(&term, POSTINGS_CAP).await?;
            if n == 0 {
                return Ok(Vec::new());
            }
            counted.push((n, term));
        }
        counted.sort_unstable();
        counted.truncate(MAX_TERMS);
        let drive_by_first_term = counted.first().is_some_and(|(n, _)| *n < POSTINGS_CAP);
        let agent_id = if staff.can(Permission::ViewAllChats) {
            query.agent_id.clone()
        } else if query.agent_id.as_ref().is_some_and(|a| *a != staff.id) {
            // Another agent's chats: none of them is this agent's to see.
            return Ok(Vec::new());
        } else {
            Some(staff.id.clone())
        };
        let filter = HistoryFilter {
            terms: counted.into_iter().map(|(_, t)| t).collect(),
            agent_id,
            visitor_id: query.visitor_id.clone(),
            from: query.from,
            until: query.until,
            before: query.before,
            limit: query.limit.clamp(1, MAX_PAGE),
            drive_by_first_term,
        };
        let rows = self.index.search(&filter).await?;
        let mut hits = Vec::with_capacity(rows.len());
        for row in rows {
            hits.push(self.hit(row).await?);
        }
        Ok(hits)
    }

    async fn hit(&self, row: FoundConversation) -> Result<HistoryHit, HistoryError> {
        let buyer_name = match self.visitors.profile(&row.visitor_id).await {
            Ok(p) => p.nickname,
            Err(_) => None,
        };
        let first_message = self.first_buyer_words(&row.id).await?;
        Ok(HistoryHit {
            conversation_id: row.id,
            state: row.state,
            channel: row.channel,
            agent_id: row.agent_id,
            visitor_id: row.visitor_id,
            buyer_name,
            first_message,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    async fn first_buyer_words(
        &self,
        conversation_id: &str,
    ) -> Result<Option<String>, HistoryError> {
        const LOOK: i64 = 20;
        const SNIPPET_CHARS: usize = 80;
        let text = self.chat.first_buyer_text(conversation_id, LOOK).await?;
        Ok(text.map(|t| t.as_str().chars().take(SNIPPET_CHARS).collect()))
    }
}

/// Keeps the index up to date from the committed-event stream. Everything it
/// writes is a set insert, so a redelivered event changes nothing.
pub struct HistoryIndexer(pub Arc<HistoryService>);

#[async_trait::async_trait]
impl Subscriber for HistoryIndexer {
    fn name(&self) -> &'static str {
        "history_index"
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        self.0
            .index_events(std::slice::from_ref(event))
            .await
            .map_err(|e| e.to_string())
    }

    /// One index write for a whole read of events; on failure the whole read
    /// is retried (the writes are idempotent).
    async fn handle_batch(&self, events: &[DomainEvent]) -> Result<(), (usize, String)> {
        self.0
            .index_events(events)
            .await
            .map_err(|e| (0, e.to_string()))
    }
}
