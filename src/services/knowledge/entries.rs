//! Entry lifecycle: create, edit, publish, archive, versions, diff and rollback.

use super::{KnowledgeError, KnowledgeService};
use crate::domain::knowledge::{
    CategoryPath, EntryContent, EntryId, EntryStatus, NewEntry, RawEntry,
};
pub use crate::ports::repositories::EntryUsage as Usage;
use crate::ports::repositories::{EntryFilter, EntryWrite, RepoError, StoredEntry};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    pub id: String,
    pub status: EntryStatus,
    pub version: i64,
    #[serde(flatten)]
    pub content: EntryContent,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: String,
    pub usage: Usage,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    pub version: i64,
    pub author: String,
    pub note: String,
    pub created_at: i64,
    pub content: EntryContent,
}

/// One changed field between two versions; `answer` is compared line by line.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<LineChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineChange {
    /// "-" removed, "+" added, " " unchanged.
    pub op: &'static str,
    pub text: String,
}

pub(super) fn view(entry: StoredEntry) -> EntryView {
    EntryView {
        status: entry.status,
        id: entry.id,
        version: entry.version,
        content: entry.content,
        created_at: entry.created_at,
        updated_at: entry.updated_at,
        updated_by: entry.updated_by,
        usage: entry.usage,
    }
}

pub(super) fn content_write(
    id: &EntryId,
    content: &EntryContent,
    status: EntryStatus,
    version: i64,
    author: &str,
    note: String,
    now: i64,
) -> EntryWrite {
    EntryWrite {
        id: id.as_str().to_owned(),
        status,
        version,
        content: content.clone(),
        author: author.to_owned(),
        note,
        now,
        status_only: false,
    }
}

impl KnowledgeService {
    pub(super) async fn check_categories<'a>(
        &self,
        categories: impl IntoIterator<Item = &'a CategoryPath>,
    ) -> Result<(), KnowledgeError> {
        let known = self.entries.categories().await?;
        for c in categories {
            if !known.iter().any(|k| k == c.as_str()) {
                return Err(KnowledgeError::UnknownCategory(c.as_str().to_owned()));
            }
        }
        Ok(())
    }

    pub async fn create_category(&self, raw: &str) -> Result<Vec<String>, KnowledgeError> {
        let path = CategoryPath::parse(raw)?;
        self.entries
            .add_categories(&path.with_ancestors(), self.clock.now_ms())
            .await?;
        Ok(self.entries.categories().await?)
    }

    pub async fn categories(&self) -> Result<Vec<String>, KnowledgeError> {
        Ok(self.entries.categories().await?)
    }

    pub async fn get(&self, id: &str) -> Result<EntryView, KnowledgeError> {
        let entry = self
            .entries
            .entry(id)
            .await
            .map_err(KnowledgeError::from_repo)?;
        Ok(view(entry))
    }

    pub async fn list(&self, filter: EntryFilter) -> Result<(Vec<EntryView>, i64), KnowledgeError> {
        let (entries, total) = self.entries.list(&filter).await?;
        Ok((entries.into_iter().map(view).collect(), total))
    }

    /// A new entry, a draft unless `status` says otherwise.
    pub async fn create(&self, raw: RawEntry, author: &str) -> Result<EntryView, KnowledgeError> {
        let new = NewEntry::parse(raw)?;
        self.check_categories(new.content.category.iter()).await?;
        let id = new.id.unwrap_or_else(EntryId::generate);
        let status = new.status.unwrap_or(EntryStatus::Draft);
        let write = content_write(
            &id,
            &new.content,
            status,
            1,
            author,
            "created".into(),
            self.clock.now_ms(),
        );
        self.entries
            .write(&[write])
            .await
            .map_err(KnowledgeError::from_repo)?;
        if status == EntryStatus::Published {
            self.index_entry(id.as_str(), &new.content).await?;
        }
        self.get(id.as_str()).await
    }

    /// New content for an entry; `expected_version` guards against lost updates.
    pub async fn update(
        &self,
        id: &str,
        raw: RawEntry,
        expected_version: Option<i64>,
        author: &str,
    ) -> Result<EntryView, KnowledgeError> {
        let head = self.get(id).await?;
        if expected_version.is_some_and(|v| v != head.version) {
            return Err(KnowledgeError::Conflict);
        }
        let new = NewEntry::parse(RawEntry { id: None, ..raw })?;
        self.check_categories(new.content.category.iter()).await?;
        let status = new.status.unwrap_or(head.status);
        self.write_content(&head, new.content, status, author, "edited".into())
            .await
    }

    pub(super) async fn write_content(
        &self,
        head: &EntryView,
        content: EntryContent,
        status: EntryStatus,
        author: &str,
        note: String,
    ) -> Result<EntryView, KnowledgeError> {
        let id = EntryId::parse(&head.id)?;
        if content == head.content && status == head.status {
            return Ok(head.clone());
        }
        let mut write = content_write(
            &id,
            &content,
            status,
            head.version + 1,
            author,
            note,
            self.clock.now_ms(),
        );
        if content == head.content {
            write.version = head.version;
            write.status_only = true;
        }
        self.entries
            .write(&[write])
            .await
            .map_err(KnowledgeError::from_repo)?;
        self.sync_index(id.as_str(), status, &content).await?;
        self.get(id.as_str()).await
    }

    async fn set_status(
        &self,
        id: &str,
        status: EntryStatus,
        author: &str,
    ) -> Result<EntryView, KnowledgeError> {
        let head = self.get(id).await?;
        let content = head.content.clone();
        self.write_content(&head, content, status, author, String::new())
            .await
    }

    pub async fn publish(&self, id: &str, author: &str) -> Result<EntryView, KnowledgeError> {
        self.set_status(id, EntryStatus::Published, author).await
    }

    pub async fn unpublish(&self, id: &str, author: &str) -> Result<EntryView, KnowledgeError> {
        self.set_status(id, EntryStatus::Draft, author).await
    }

    /// Entries are archived, never destroyed: their history stays readable.
    pub async fn archive(&self, id: &str, author: &str) -> Result<EntryView, KnowledgeError> {
        self.set_status(id, EntryStatus::Archived, author).await
    }

    pub async fn versions(&self, id: &str) -> Result<Vec<VersionView>, KnowledgeError> {
        self.get(id).await?;
        let versions = self.entries.versions(id).await?;
        Ok(versions
            .into_iter()
            .map(|v| VersionView {
                content: v.content,
                version: v.version,
                author: v.author,
                note: v.note,
                created_at: v.created_at,
            })
            .collect())
    }

    async fn version_content(
        &self,
        id: &str,
        version: i64,
    ) -> Result<EntryContent, KnowledgeError> {
        let version = self
            .entries
            .version(id, version)
            .await
            .map_err(|e| match e {
                RepoError::NotFound | RepoError::Corrupt(_) => KnowledgeError::NoSuchVersion,
                other => KnowledgeError::Repo(other),
            })?;
        Ok(version.content)
    }

    /// Writes an old version's content back as a new version (history is kept).
    pub async fn rollback(
        &self,
        id: &str,
        version: i64,
        author: &str,
    ) -> Result<EntryView, KnowledgeError> {
        let head = self.get(id).await?;
        let content = self.version_content(id, version).await?;
        if let Some(c) = &content.category {
            self.check_categories([c]).await?;
        }
        let status = head.status;
        self.write_content(
            &head,
            content,
            status,
            author,
            format!("rolled back to {version}"),
        )
        .await
    }

    pub async fn diff(
        &self,
        id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<FieldChange>, KnowledgeError> {
        let a = self.version_content(id, from).await?;
        let b = self.version_content(id, to).await?;
        Ok(diff_contents(&a, &b))
    }
}

pub fn diff_contents(a: &EntryContent, b: &EntryContent) -> Vec<FieldChange> {
    let a_json = serde_json::to_value(a).expect("serialises");
    let b_json = serde_json::to_value(b).expect("serialises");
    let fields = [
        "kind",
        "question",
        "similar",
        "answer",
        "category",
        "tags",
        "products",
        "locale",
        "valid_from",
        "valid_to",
        "member_answers",
    ];
    fields
        .into_iter()
        .filter(|f| a_json[f] != b_json[f])
        .map(|f| FieldChange {
            field: f,
            before: a_json[f].clone(),
            after: b_json[f].clone(),
            lines: if f == "answer" {
                line_diff(&a.answer, &b.answer)
            } else {
                Vec::new()
            },
        })
        .collect()
}

/// Longest-common-subsequence line diff; answers are short, so O(n·m) is fine.
pub fn line_diff(a: &str, b: &str) -> Vec<LineChange> {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    let line = |op, text: &str| LineChange {
        op,
        text: text.to_owned(),
    };
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(line(" ", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(line("-", a[i]));
            i += 1;
        } else {
            out.push(line("+", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diff_marks_changed_lines() {
        let d = line_diff("a\nb\nc", "a\nx\nc");
        let ops: Vec<_> = d.iter().map(|l| (l.op, l.text.as_str())).collect();
        assert_eq!(ops, vec![(" ", "a"), ("-", "b"), ("+", "x"), (" ", "c")]);
    }
}
