//! The knowledge base as the bot sees it (the `KnowledgeBase` port): the decision
//! function with the chosen entries' text, usage and feedback counters, and draft
//! entries made from agents' answers.

use super::{DecideOptions, KnowledgeError as ServiceError, KnowledgeService};
use crate::domain::knowledge::{KbQuery, RawEntry};
use crate::ports::repositories::UsageCounter;
use crate::ports::{KbDecision, KbHit, KbOutOfWindow, KbVerdict, KnowledgeBase, KnowledgeError};
use crate::retrieval::rank::Candidate;

/// Entries passed to the bot with a verdict (the grounded answer uses the first few).
const HITS: usize = 5;

impl KnowledgeService {
    /// A ranked entry with the text the bot answers from.
    async fn hit(&self, candidate: &Candidate) -> Result<KbHit, KnowledgeError> {
        let entry = self.get(&candidate.entry_id).await.map_err(port_error)?;
        let content = entry.content;
        let member_answers = content.member_answers;
        let category = content
            .category
            .as_ref()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default();
        let products = content.products.clone();
        let wordings = content
            .similar
            .into_iter()
            .chain(content.tags)
            .chain(content.products)
            .collect();
        Ok(KbHit {
            entry_id: candidate.entry_id.clone(),
            title: content.question,
            answer: content.answer,
            score: candidate.score,
            classifier: candidate.classifier,
            wordings,
            member_answers,
            category,
            products,
        })
    }
}

fn port_error(e: ServiceError) -> KnowledgeError {
    match e {
        ServiceError::Model(m) => KnowledgeError::Model(m),
        other => KnowledgeError::Unavailable(other.to_string()),
    }
}

#[async_trait::async_trait]
impl KnowledgeBase for KnowledgeService {
    async fn decide(&self, query: &str) -> Result<KbVerdict, KnowledgeError> {
        let Ok(query) = KbQuery::parse(query) else {
            // Empty or oversized questions have no answer in the knowledge base.
            return Ok(KbVerdict {
                decision: KbDecision::HandOff,
                confidence: 0.0,
                hits: Vec::new(),
                out_of_window: None,
            });
        };
        let decision = KnowledgeService::decide(self, &query, &DecideOptions::default())
            .await
            .map_err(port_error)?;
        let mut hits = Vec::new();
        for candidate in decision.candidates.iter().take(HITS) {
            hits.push(self.hit(candidate).await?);
        }
        let out_of_window = match &decision.out_of_window {
            Some(o) => Some(KbOutOfWindow {
                hit: self.hit(&o.candidate).await?,
                ended: o.ended,
                valid_from: o.valid_from.as_ref().map(|d| d.as_str().to_owned()),
                valid_to: o.valid_to.as_ref().map(|d| d.as_str().to_owned()),
            }),
            None => None,
        };
        let ids: Vec<String> = hits.iter().take(3).map(|h| h.entry_id.clone()).collect();
        self.entries
            .count_usage(&ids, UsageCounter::Retrieved)
            .await
            .map_err(|e| port_error(e.into()))?;
        let decision_kind = match decision.kind {
            super::decide::DecisionKind::Curated => KbDecision::Curated,
            super::decide::DecisionKind::Grounded => KbDecision::Grounded,
            super::decide::DecisionKind::HandOff => KbDecision::HandOff,
        };
        Ok(KbVerdict {
            decision: decision_kind,
            confidence: decision.confidence,
            hits,
            out_of_window,
        })
    }

    async fn record_answered(&self, entry_id: &str) -> Result<(), KnowledgeError> {
        self.entries
            .count_usage(&[entry_id.to_owned()], UsageCounter::Answered)
            .await
            .map_err(|e| port_error(e.into()))
    }

    async fn record_feedback(&self, entry_id: &str, helpful: bool) -> Result<(), KnowledgeError> {
        let counter = if helpful {
            UsageCounter::Helpful
        } else {
            UsageCounter::Unhelpful
        };
        self.entries
            .count_usage(&[entry_id.to_owned()], counter)
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
            tags: vec!["from-agent-answer".into()],
            ..RawEntry::default()
        };
        let entry = self.create(raw, author).await.map_err(port_error)?;
        Ok(entry.id)
    }
}
