//! The learning loop: buyers rate bot answers; questions the bot could not answer
//! (or answered unhelpfully) are logged and grouped by meaning for knowledge
//! managers; an agent's reply becomes a draft FAQ entry in one step.

use super::handoff::HandoffPacket;
use super::hours::rfc3339;
use super::pipeline::Turn;
use super::{BotError, BotService, Work};
use crate::domain::bot_session::UnansweredQuestion as UnansweredRow;
use crate::domain::commerce::OrderNumber;
use crate::domain::conversation::{ConversationId, ConversationState};
use crate::domain::handoff::HandoffReason;
use crate::domain::intake::MessageFacts;
use crate::domain::message::{MessageBody, Sender};
use crate::domain::pii;
use crate::ports::EmbedKind;
use crate::services::chat::{Actor, ConversationView};
use crate::services::events::{ChatEvent, EventPayload};
use crate::services::staff::StaffUser;
use crate::services::visitors::Visitor;
use serde::Serialize;
use std::sync::Arc;

/// Two questions whose embeddings are at least this similar are one group.
const SAME_QUESTION: f32 = 0.9;
const MAX_LOGGED: i64 = 2000;
const EXAMPLES: usize = 5;

#[derive(Debug, Clone, Serialize)]
pub struct UnansweredGroup {
    pub representative: String,
    pub count: usize,
    pub examples: Vec<String>,
    pub last_seen: String,
}

/// Order numbers and personal data (phones, ID numbers, mail and street
/// addresses) say nothing about the question; knowledge managers never see them.
pub fn mask(text: &str) -> String {
    mask_known(text, &[])
}

/// [`mask`], also removing the buyer's own stored name, phone and address.
pub fn mask_known(text: &str, known: &[&str]) -> String {
    let mut out = text.to_owned();
    for no in OrderNumber::find_in(text) {
        out = out.replace(no.as_str(), "[订单号]");
        out = out.replace(&no.as_str().to_lowercase(), "[订单号]");
    }
    pii::redact_text(&out, known)
}

fn text_of(event: &ChatEvent) -> Option<&str> {
    match &event.payload {
        EventPayload::Message {
            body: MessageBody::Text { text },
        } => Some(text.as_str()),
        _ => None,
    }
}

impl BotService {
    async fn event_at(&self, id: &ConversationId, seq: i64) -> Result<Option<ChatEvent>, BotError> {
        if seq < 1 {
            return Ok(None);
        }
        let events = self.chat.events(id, seq - 1, 1).await?;
        Ok(events.into_iter().find(|e| e.seq == seq))
    }

    /// The last thing the buyer typed before `seq`.
    async fn question_before(
        &self,
        id: &ConversationId,
        seq: i64,
    ) -> Result<Option<String>, BotError> {
        let events = self.chat.events(id, (seq - 50).max(0), 50).await?;
        Ok(events
            .iter()
            .rev()
            .filter(|e| e.seq < seq && matches!(e.sender, Sender::Buyer { .. }))
            .find_map(text_of)
            .map(str::to_owned))
    }

    /// A buyer's thumbs up or down on one bot answer; the last vote counts.
    pub async fn rate(
        self: &Arc<Self>,
        visitor: &Visitor,
        id: &ConversationId,
        seq: i64,
        helpful: bool,
    ) -> Result<(), BotError> {
        let conversation = self.chat.visible(Actor::Buyer(visitor), id).await?;
        let citations = match self.event_at(id, seq).await? {
            Some(ChatEvent {
                sender: Sender::Bot,
                payload:
                    EventPayload::Message {
                        body: MessageBody::BotAnswer { citations, .. },
                    },
                ..
            }) => citations,
            _ => return Err(BotError::NotABotAnswer),
        };
        let entry_ids: Vec<&str> = citations.iter().map(|c| c.entry_id.as_str()).collect();
        let entry_json = serde_json::to_string(&entry_ids).expect("ids serialise");
        self.records
            .rate_answer(id.as_str(), seq, helpful, &entry_json, self.clock.now_ms())
            .await?;
        for entry in &entry_ids {
            if let Err(error) = self.ports.knowledge.record_feedback(entry, helpful).await {
                tracing::warn!(%error, "could not record answer feedback");
            }
        }
        if !helpful {
            if let Some(question) = self.question_before(id, seq).await? {
                self.log_question(id.as_str(), &question, "rated_unhelpful")
                    .await;
            }
            if self.enabled() && conversation.state == ConversationState::Bot {
                self.dispatch(Work::Unhelpful {
                    conversation_id: id.as_str().to_owned(),
                });
            }
        }
        Ok(())
    }

    pub(super) async fn on_unhelpful_rating(&self, conversation_id: &str) -> Result<(), BotError> {
        let id = ConversationId::parse(conversation_id).ok_or(BotError::NotABotAnswer)?;
        let conversation = self.chat.conversation(&id).await?;
        if conversation.state != ConversationState::Bot {
            return Ok(());
        }
        let mut turn = self.quiet_turn(conversation, id).await?;
        let outcome = if turn
            .session
            .unhelpful
            .record(false, self.config.unhelpful_limit)
        {
            self.hand_off(&mut turn, HandoffReason::UnhelpfulTurns)
                .await
        } else {
            Ok(())
        };
        self.sessions
            .save_session(turn.id.as_str(), &turn.session, self.clock.now_ms())
            .await?;
        outcome
    }

    /// A turn with no new buyer message (for events such as ratings).
    async fn quiet_turn(
        &self,
        conversation: ConversationView,
        id: ConversationId,
    ) -> Result<Turn, BotError> {
        let session = self.sessions.session(&conversation.id).await?;
        let profile = self.visitors.profile(&conversation.visitor_id).await?;
        Ok(Turn {
            id,
            lang: session.lang,
            conversation,
            session,
            facts: MessageFacts::default(),
            profile,
        })
    }

    pub(super) async fn log_unanswered(&self, turn: &Turn, reason: HandoffReason) {
        let question = turn.facts.text.trim();
        if !question.is_empty() {
            let p = &turn.profile;
            let known = [&p.real_name, &p.phone, &p.address, &p.nickname];
            let known: Vec<&str> = known.into_iter().flatten().map(String::as_str).collect();
            let question = mask_known(question, &known);
            self.log_question(turn.id.as_str(), &question, reason.as_str())
                .await;
        }
    }

    /// Logging must never break a conversation: failures are only logged.
    async fn log_question(&self, conversation_id: &str, question: &str, reason: &str) {
        let question = mask(question);
        let embedding = match &self.ports.embedder {
            Some(embedder) => match embedder
                .embed(vec![question.clone()], EmbedKind::Query)
                .await
            {
                Ok(mut v) => v
                    .pop()
                    .map(|v| serde_json::to_string(&v).expect("floats serialise")),
                Err(error) => {
                    tracing::warn!(%error, "could not embed an unanswered question");
                    None
                }
            },
            None => None,
        };
        let row = UnansweredRow {
            id: uuid::Uuid::now_v7().to_string(),
            conversation_id: conversation_id.to_owned(),
            question,
            reason: reason.to_owned(),
            embedding,
            created_at: self.clock.now_ms(),
        };
        if let Err(error) = self.records.log_unanswered(&row).await {
            tracing::warn!(%error, "could not log an unanswered question");
        }
    }

    /// Unanswered questions of the last `days`, grouped by meaning, largest group first.
    pub async fn unanswered_groups(&self, days: i64) -> Result<Vec<UnansweredGroup>, BotError> {
        let since = self.clock.now_ms() - days.clamp(1, 365) * 24 * 3600 * 1000;
        let rows = self.records.unanswered(since, MAX_LOGGED).await?;
        Ok(group_questions(&rows))
    }

    /// Turns an agent's reply (the event at `seq`) into a draft FAQ entry for approval.
    pub async fn draft_from_agent_answer(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
        seq: i64,
        question: Option<String>,
    ) -> Result<String, BotError> {
        self.chat.visible(Actor::Staff(staff), id).await?;
        let answer = match self.event_at(id, seq).await? {
            Some(event) if matches!(event.sender, Sender::Agent { .. }) => text_of(&event)
                .map(str::to_owned)
                .ok_or(BotError::NotAnAgentAnswer)?,
            _ => return Err(BotError::NotAnAgentAnswer),
        };
        let question = match question
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty())
        {
            Some(q) => q,
            None => self
                .question_before(id, seq)
                .await?
                .ok_or(BotError::NoQuestion)?,
        };
        Ok(self
            .ports
            .knowledge
            .create_draft(&mask(&question), &answer, &staff.id)
            .await?)
    }

    pub async fn handoff_packet(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
    ) -> Result<Option<HandoffPacket>, BotError> {
        self.chat.visible(Actor::Staff(staff), id).await?;
        self.packet(id.as_str()).await
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    // Embeddings are L2-normalised: the dot product is the cosine.
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

struct Group {
    vector: Option<Vec<f32>>,
    key: String,
    rows: Vec<usize>,
}

/// Greedy single pass, newest first: a question joins the first group whose
/// first question is similar enough (by embedding, else by identical text).
pub fn group_questions(rows: &[UnansweredRow]) -> Vec<UnansweredGroup> {
    let mut groups: Vec<Group> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let vector: Option<Vec<f32>> = row
            .embedding
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok());
        let key: String = row
            .question
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect();
        let home = groups.iter_mut().find(|g| match (&g.vector, &vector) {
            (Some(a), Some(b)) if a.len() == b.len() => cosine(a, b) >= SAME_QUESTION,
            _ => g.key == key,
        });
        match home {
            Some(group) => group.rows.push(i),
            None => groups.push(Group {
                vector,
                key,
                rows: vec![i],
            }),
        }
    }
    let mut out: Vec<UnansweredGroup> = groups
        .into_iter()
        .map(|g| {
            let mut examples: Vec<String> = Vec::new();
            for &i in &g.rows {
                if examples.len() < EXAMPLES && !examples.contains(&rows[i].question) {
                    examples.push(rows[i].question.clone());
                }
            }
            UnansweredGroup {
                representative: rows[g.rows[0]].question.clone(),
                count: g.rows.len(),
                examples,
                last_seen: rfc3339(
                    g.rows
                        .iter()
                        .map(|&i| rows[i].created_at)
                        .max()
                        .unwrap_or(0),
                ),
            }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(q: &str, v: Option<Vec<f32>>, at: i64) -> UnansweredRow {
        UnansweredRow {
            id: at.to_string(),
            conversation_id: "c".into(),
            question: q.into(),
            reason: "low_confidence".into(),
            embedding: v.map(|v| serde_json::to_string(&v).unwrap()),
            created_at: at,
        }
    }

    #[test]
    fn similar_questions_group_together_and_the_largest_group_comes_first() {
        let rows = [
            row("能开发票吗", Some(vec![1.0, 0.0]), 3),
            row("可以开发票吗", Some(vec![0.95, 0.312]), 2),
            row("支持花呗吗", Some(vec![0.0, 1.0]), 1),
            row("能开发票吗", None, 0),
        ];
        let groups = group_questions(&rows);
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0].count, 3,
            "the copy without an embedding joins by its text"
        );
        assert_eq!(groups[0].representative, "能开发票吗");
        assert_eq!(groups[0].examples, ["能开发票吗", "可以开发票吗"]);
    }

    #[test]
    fn order_and_phone_numbers_are_masked() {
        assert_eq!(
            mask("订单XE20261101001电话13800138000"),
            "订单[订单号]电话[电话]"
        );
    }
}
