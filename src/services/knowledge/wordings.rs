//! What suggested wordings (`domain::wording`) need of the knowledge base:
//! the entries with few wordings, and an accepted wording added to its entry.

use super::entries::{EntryView, view};
use super::{KnowledgeError, KnowledgeService};
use crate::domain::knowledge::{EntryKind, EntryStatus};
use crate::domain::wording::has_few_wordings;

impl KnowledgeService {
    /// Published FAQ entries with fewer than three wordings (standard and
    /// similar questions). Articles are matched by their text, not wordings.
    pub async fn with_few_wordings(&self) -> Result<Vec<EntryView>, KnowledgeError> {
        let published = self.entries.with_status(EntryStatus::Published).await?;
        Ok(published
            .into_iter()
            .filter(|e| {
                e.content.kind == EntryKind::Faq
                    && has_few_wordings(&e.content.question, &e.content.similar)
            })
            .map(view)
            .collect())
    }

    /// Adds `text` to the entry's similar questions, as an edit by `author`
    /// (a new version; the index and the classifier learn it). An entry that
    /// already has the wording is left as it is.
    pub async fn add_similar(
        &self,
        id: &str,
        text: &str,
        author: &str,
    ) -> Result<EntryView, KnowledgeError> {
        let head = self.get(id).await?;
        let mut content = head.content.clone();
        if content.question != text && !content.similar.iter().any(|s| s == text) {
            content.similar.push(text.to_owned());
        }
        let status = head.status;
        self.write_content(&head, content, status, author, "wording_accepted".into())
            .await
    }
}
