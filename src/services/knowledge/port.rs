//! The knowledge service behind the bot's `KnowledgeBase` port.

use super::decide::DecisionKind;
use super::{DecideOptions, KnowledgeError as ServiceError, KnowledgeService};
use crate::domain::knowledge::{EntryStatus, KbQuery, RawEntry};
use crate::ports::{KbDecision, KbHit, KbVerdict, KnowledgeBase, KnowledgeError, ModelError};
use crate::storage::KbCounter;

fn port_error(e: ServiceError) -> KnowledgeError {
    match e {
        ServiceError::Model(m) => KnowledgeError::Model(m),
        ServiceError::Invalid(rule) => KnowledgeError::Model(ModelError::Input(rule.to_string())),
        other => KnowledgeError::Unavailable(other.to_string()),
    }
}

/// Hits the bot may quote: the top few.
const BOT_HITS: usize = 5;

#[async_trait::async_trait]
impl KnowledgeBase for KnowledgeService {
    async fn decide(&self, query: &str) -> Result<KbVerdict, KnowledgeError> {
        let query = KbQuery::parse(query).map_err(|e| port_error(e.into()))?;
        let opts = DecideOptions {
            record_usage: true,
            ..DecideOptions::default()
        };
        let decision = KnowledgeService::decide(self, &query, &opts)
            .await
            .map_err(port_error)?;
        let hits = self.hits(&decision, BOT_HITS).await.map_err(port_error)?;
        Ok(KbVerdict {
            decision: match decision.kind {
                DecisionKind::Curated => KbDecision::Curated,
                DecisionKind::Grounded => KbDecision::Grounded,
                DecisionKind::HandOff => KbDecision::HandOff,
            },
            confidence: decision.confidence,
            hits: hits
                .into_iter()
                .map(|h| KbHit {
                    entry_id: h.entry_id,
                    title: h.title,
                    answer: h.answer,
                    score: h.score,
                })
                .collect(),
        })
    }

    async fn record_answered(&self, entry_id: &str) -> Result<(), KnowledgeError> {
        self.store
            .bump_kb_counter(&[entry_id.to_owned()], KbCounter::Answered)
            .await
            .map_err(|e| port_error(e.into()))
    }

    async fn record_feedback(&self, entry_id: &str, helpful: bool) -> Result<(), KnowledgeError> {
        let counter = if helpful {
            KbCounter::Helpful
        } else {
            KbCounter::Unhelpful
        };
        self.store
            .bump_kb_counter(&[entry_id.to_owned()], counter)
            .await
            .map_err(|e| port_error(e.into()))
    }

    async fn create_draft(
        &self,
        question: &str,
        answer: &str,
        author: &str,
    ) -> Result<String, KnowledgeError> {
        let raw = RawEntry {
            question: Some(question.to_owned()),
            answer: Some(answer.to_owned()),
            status: Some(EntryStatus::Draft.as_str().to_owned()),
            ..RawEntry::default()
        };
        let view = self.create(raw, author).await.map_err(port_error)?;
        Ok(view.id)
    }
}
