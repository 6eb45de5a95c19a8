//! The knowledge base when none is configured: every question is "not known",
//! so the bot hands off instead of guessing. Replaced by the real knowledge base
//! (retrieval + decision function) in startup.rs once it is merged.

use crate::ports::{KbDecision, KbVerdict, KnowledgeBase, KnowledgeError};

pub struct NoKnowledgeBase;

#[async_trait::async_trait]
impl KnowledgeBase for NoKnowledgeBase {
    async fn decide(&self, _query: &str) -> Result<KbVerdict, KnowledgeError> {
        Ok(KbVerdict {
            decision: KbDecision::HandOff,
            confidence: 0.0,
            hits: Vec::new(),
        })
    }

    async fn record_answered(&self, _entry_id: &str) -> Result<(), KnowledgeError> {
        Ok(())
    }

    async fn record_feedback(&self, _entry_id: &str, _helpful: bool) -> Result<(), KnowledgeError> {
        Ok(())
    }

    async fn create_draft(
        &self,
        _q: &str,
        _a: &str,
        _author: &str,
    ) -> Result<String, KnowledgeError> {
        Err(KnowledgeError::Unavailable(
            "no knowledge base is configured".into(),
        ))
    }
}
