//! What the bot remembers about one conversation between buyer messages, stored
//! sealed (it holds order numbers and what the buyer said).

use crate::crypto::Cipher;
use crate::domain::handoff::UnhelpfulStreak;
use crate::domain::intake::IntakeState;
use crate::domain::lang::Lang;
use crate::ports::KbHit;
use crate::storage::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// At most this many bot answers and buyer messages are kept for the hand-off packet.
const KEEP: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievedEntry {
    pub entry_id: String,
    pub title: String,
    pub score: f32,
}

impl From<&KbHit> for RetrievedEntry {
    fn from(hit: &KbHit) -> Self {
        Self {
            entry_id: hit.entry_id.clone(),
            title: hit.title.clone(),
            score: hit.score,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BotSession {
    pub lang: Lang,
    pub intake: Option<IntakeState>,
    /// The last intent the buyer had and the facts gathered for it (kept after intake ends).
    pub last_intent: Option<String>,
    pub slots: std::collections::BTreeMap<String, String>,
    pub unhelpful: UnhelpfulStreak,
    pub retrieved: Vec<RetrievedEntry>,
    pub bot_answers: Vec<String>,
    pub buyer_messages: Vec<String>,
    /// Order numbers the buyer gave that are theirs (the answer may repeat them).
    pub own_orders: Vec<String>,
    /// Entries offered as "did you mean" after the last answer; a reply with
    /// their number picks one. Cleared by any other message.
    #[serde(default)]
    pub suggestions: Vec<KbHit>,
    /// The intake the last answer offered to start ("需要的话我可以帮您发起退货");
    /// a yes starts it. Cleared by any other message.
    #[serde(default)]
    pub offered_intent: Option<String>,
    /// Model tokens this conversation spent (its hourly and daily budget).
    #[serde(default)]
    pub llm_usage: crate::domain::llm_budget::TokenUsage,
}

fn push_bounded(list: &mut Vec<String>, item: String) {
    list.push(item);
    if list.len() > KEEP {
        list.remove(0);
    }
}

impl BotSession {
    pub fn said(&mut self, text: &str) {
        push_bounded(&mut self.buyer_messages, text.to_owned());
    }

    pub fn answered(&mut self, text: &str) {
        push_bounded(&mut self.bot_answers, text.to_owned());
    }

    pub fn retrieved(&mut self, hits: &[KbHit]) {
        self.retrieved = hits.iter().take(5).map(RetrievedEntry::from).collect();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored bot session could not be read: {0}")]
    Corrupt(String),
}

pub async fn load(store: &Store, cipher: &Cipher, id: &str) -> Result<BotSession, SessionError> {
    let Some(sealed) = store.bot_session(id).await? else {
        return Ok(BotSession::default());
    };
    let plain = cipher
        .open(&sealed, id.as_bytes())
        .map_err(|e| SessionError::Corrupt(e.to_string()))?;
    serde_json::from_slice(&plain).map_err(|e| SessionError::Corrupt(e.to_string()))
}

pub async fn save(
    store: &Store,
    cipher: &Cipher,
    id: &str,
    session: &BotSession,
    now: i64,
) -> Result<(), SessionError> {
    let plain = serde_json::to_vec(session).expect("bot session serialises");
    let sealed = cipher.seal(&plain, id.as_bytes());
    Ok(store.save_bot_session(id, &sealed, now).await?)
}
