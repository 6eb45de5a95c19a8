//! The knowledge manager's list of questions the bot could not answer, checked
//! against the knowledge base as it is now: a question that an entry written or
//! changed since the question was last asked now answers (the bot would send
//! that entry's curated answer) leaves the to-do list and is shown as answered,
//! with the entry. An entry older than the question does not count: the
//! question was logged despite it (a thumbs-down on its answer).

use crate::domain::knowledge::KbQuery;
use crate::services::bot::learning::UnansweredGroup;
use crate::services::bot::{BotError, BotService};
use crate::services::knowledge::decide::DecisionKind;
use crate::services::knowledge::{DecideOptions, KnowledgeService};
use serde::Serialize;
use std::sync::Arc;

/// One group of unanswered questions, with what the knowledge base says now.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewedGroup {
    #[serde(flatten)]
    pub group: UnansweredGroup,
    /// The entry the bot would now answer with, when it answers on its own.
    pub answered_by: Option<AnsweredBy>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnsweredBy {
    pub entry_id: String,
    pub title: String,
    pub confidence: f32,
}

/// The bot's unanswered questions beside the knowledge base that may answer
/// them now.
pub struct UnansweredQuestions {
    bot: Arc<BotService>,
    knowledge: Arc<KnowledgeService>,
}

impl UnansweredQuestions {
    pub fn new(bot: Arc<BotService>, knowledge: Arc<KnowledgeService>) -> Self {
        Self { bot, knowledge }
    }

    /// The groups of the last `days`, each checked against the knowledge base.
    /// A group the check cannot run for (an index hiccup) stays on the list.
    pub async fn review(&self, days: i64) -> Result<Vec<ReviewedGroup>, BotError> {
        let groups = self.bot.unanswered_groups(days).await?;
        let mut out = Vec::with_capacity(groups.len());
        for group in groups {
            let answered_by = self.answered_by(&group).await;
            out.push(ReviewedGroup { group, answered_by });
        }
        Ok(out)
    }

    /// The entry that answers the group's question on its own now, when it was
    /// written or changed since the question was last asked.
    async fn answered_by(&self, group: &UnansweredGroup) -> Option<AnsweredBy> {
        let query = KbQuery::parse(&group.representative).ok()?;
        let options = DecideOptions::default();
        let found = match self.knowledge.search(&query, 1, &options).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, "could not check an unanswered question against the knowledge base");
                return None;
            }
        };
        if found.decision.kind != DecisionKind::Curated {
            return None;
        }
        let hit = found.hits.into_iter().next()?;
        if !changed_since(&self.knowledge, &hit.entry_id, &group.last_seen).await {
            return None;
        }
        Some(AnsweredBy {
            entry_id: hit.entry_id,
            title: hit.title,
            confidence: found.decision.confidence,
        })
    }
}

/// Whether the entry was written or changed after `last_seen` (RFC 3339).
async fn changed_since(knowledge: &KnowledgeService, entry_id: &str, last_seen: &str) -> bool {
    let Ok(seen) = chrono::DateTime::parse_from_rfc3339(last_seen) else {
        return false;
    };
    match knowledge.get(entry_id).await {
        Ok(entry) => entry.updated_at > seen.timestamp_millis(),
        Err(_) => false,
    }
}
