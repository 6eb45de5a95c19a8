//! What agents and the bot read: ranked hits with their text, and suggestions.

use super::{DecideOptions, Decision, KnowledgeError, KnowledgeService};
use crate::domain::knowledge::KbQuery;
use crate::ports::repositories::RepoError;
use crate::retrieval::suggest::Suggestion;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub entry_id: String,
    pub title: String,
    pub answer: String,
    pub category: Option<String>,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub decision: Decision,
    pub hits: Vec<SearchHit>,
}

impl KnowledgeService {
    /// The decision plus the text of the ranked entries.
    pub async fn search(
        &self,
        query: &KbQuery,
        limit: usize,
        opts: &DecideOptions,
    ) -> Result<SearchResult, KnowledgeError> {
        let decision = self.decide(query, opts).await?;
        let hits = self.hits(&decision, limit).await?;
        Ok(SearchResult { decision, hits })
    }

    pub async fn hits(
        &self,
        decision: &Decision,
        limit: usize,
    ) -> Result<Vec<SearchHit>, KnowledgeError> {
        let mut hits = Vec::new();
        for c in decision.candidates.iter().take(limit) {
            let content = match self.entries.entry(&c.entry_id).await {
                Ok(entry) => entry.content,
                Err(RepoError::NotFound | RepoError::Corrupt(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            hits.push(SearchHit {
                entry_id: c.entry_id.clone(),
                title: content.question,
                answer: content.answer,
                category: content.category.map(|c| c.as_str().to_owned()),
                score: c.score,
            });
        }
        Ok(hits)
    }

    pub fn suggest(&self, input: &str, limit: usize) -> Vec<Suggestion> {
        self.suggest_index().suggest(input, limit.clamp(1, 20))
    }
}
