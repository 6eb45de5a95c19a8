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

/// The groups of the last `days`, each checked against the knowledge base.
/// A group the check cannot run for (an index hiccup) stays on the list.
pub async fn review(
    bot: &BotService,
    knowledge: &KnowledgeService,
    days: i64,
) -> Result<Vec<ReviewedGroup>, BotError> {
    let groups = bot.unanswered_groups(days).await?;
    let mut out = Vec::with_capacity(groups.len());
    for group in groups {
        let answered_by = match KbQuery::parse(&group.representative) {
            Ok(query) => match knowledge.search(&query, 1, &DecideOptions::default()).await {
                Ok(found) if found.decision.kind == DecisionKind::Curated => {
                    match found.hits.into_iter().next() {
                        Some(hit)
                            if changed_since(knowledge, &hit.entry_id, &group.last_seen).await =>
                        {
                            Some(AnsweredBy {
                                entry_id: hit.entry_id,
                                title: hit.title,
                                confidence: found.decision.confidence,
                            })
                        }
                        _ => None,
                    }
                }
                Ok(_) => None,
                Err(error) => {
                    tracing::warn!(%error, "could not check an unanswered question against the knowledge base");
                    None
                }
            },
            Err(_) => None,
        };
        out.push(ReviewedGroup { group, answered_by });
    }
    Ok(out)
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
