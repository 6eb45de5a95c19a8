//! What the bot remembers about one conversation between buyer messages.

use crate::domain::handoff::UnhelpfulStreak;
use crate::domain::intake::IntakeState;
use crate::domain::knowledge::KbHit;
use crate::domain::lang::Lang;
use serde::{Deserialize, Serialize};

/// At most this many bot answers and buyer messages are kept for the hand-off packet.
const KEEP: usize = 20;

/// A buyer's question the bot could not answer (or whose answer was rated
/// unhelpful), logged for knowledge managers; the embedding groups it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnansweredQuestion {
    pub id: String,
    pub conversation_id: String,
    pub question: String,
    pub reason: String,
    /// JSON of the question's vector, when the embedder was there.
    pub embedding: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievedEntry {
    pub entry_id: String,
    pub title: String,
    pub score: f32,
    /// The entry's category path and products (what an answer from it is about).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
}

impl From<&KbHit> for RetrievedEntry {
    fn from(hit: &KbHit) -> Self {
        Self {
            entry_id: hit.entry_id.clone(),
            title: hit.title.clone(),
            score: hit.score,
            category: hit.category.clone(),
            products: hit.products.clone(),
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
    /// What the bot has told analytics the chat is about (it tells only news).
    #[serde(default)]
    pub told: crate::domain::analytics::Topic,
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
