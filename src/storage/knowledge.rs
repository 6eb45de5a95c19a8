//! Knowledge-base rows: entries, their versions, categories and usage counters;
//! the `KnowledgeEntries` repository on top of them.

use super::{Store, StoreError, on_pool};
use crate::domain::knowledge::{EntryContent, EntryKind, EntryStatus};
use crate::ports::repositories::{
    EntryFilter, EntryHead, EntryUsage, EntryWrite, KbRevision, KnowledgeEntries, RepoError,
    StoredEntry, StoredVersion, UsageCounter,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct KbEntryRow {
    pub id: String,
    pub status: String,
    pub version: i64,
    pub content: String,
    pub content_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: String,
    pub times_retrieved: i64,
    pub times_answered: i64,
    pub helpful: i64,
    pub unhelpful: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct KbVersionRow {
    pub version: i64,
    pub content: String,
    pub author: String,
    pub note: String,
    pub created_at: i64,
}

/// One entry written by an import or an edit: the new head plus its version row.
#[derive(Debug, Clone)]
pub(crate) struct KbWrite {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub version: i64,
    pub content: String,
    pub content_hash: String,
    pub question: String,
    pub category: Option<String>,
    pub locale: String,
    pub author: String,
    pub note: String,
    pub now: i64,
    /// Only the status changes: no new version row.
    pub status_only: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct KbListFilter {
    pub status: Option<String>,
    /// Matches the category and its descendants.
    pub category: Option<String>,
    /// Substring of the standard question.
    pub text: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

const ENTRY_COLUMNS: &str = "id, status, version, content, content_hash, created_at, \
     updated_at, updated_by, times_retrieved, times_answered, helpful, unhelpful";

fn counter_column(counter: UsageCounter) -> &'static str {
    match counter {
        UsageCounter::Retrieved => "times_retrieved",
        UsageCounter::Answered => "times_answered",
        UsageCounter::Helpful => "helpful",
        UsageCounter::Unhelpful => "unhelpful",
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Store {
    pub(crate) async fn insert_kb_categories(
        &self,
        paths: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO kb_categories (path, created_at) VALUES ($1, $2) ON CONFLICT (path) DO NOTHING";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for p in paths {
                sqlx::query(sql).bind(p).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub(crate) async fn kb_categories(&self) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT path FROM kb_categories ORDER BY path";
        let rows: Vec<(String,)> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(p,)| p).collect())
    }

    pub(crate) async fn kb_entry(&self, id: &str) -> Result<KbEntryRow, StoreError> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM kb_entries WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, KbEntryRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    /// Heads of the given entries that exist (for an import's diff).
    pub(crate) async fn kb_heads(&self) -> Result<Vec<(String, String, i64, String)>, StoreError> {
        let sql = "SELECT id, content_hash, version, status FROM kb_entries";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// A cheap fingerprint of the knowledge base: it changes whenever an entry is
    /// created, edited, published, unpublished or archived (every write bumps
    /// `updated_at`, in milliseconds), so nodes sharing one database notice
    /// each other's changes without reading every entry.
    pub(crate) async fn kb_revision(&self) -> Result<(i64, i64, i64), StoreError> {
        let sql = "SELECT COUNT(*), COALESCE(MAX(updated_at), 0), \
                   CAST(COALESCE(SUM(CASE WHEN status = 'published' THEN version ELSE 0 END), 0) AS BIGINT) \
                   FROM kb_entries";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, i64, i64)>(sql).fetch_one(pool).await?))
    }

    /// Every entry the index holds, with the content hash its points were made from.
    pub(crate) async fn kb_index_marks(&self) -> Result<Vec<(String, String)>, StoreError> {
        let sql = "SELECT entry_id, content_hash FROM kb_index_marks ORDER BY entry_id";
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, (String, String)>(sql).fetch_all(pool).await?),
        )
    }

    /// Records that the index durably holds these entries' points (made from
    /// these content hashes).
    pub(crate) async fn mark_kb_indexed(
        &self,
        marks: &[(String, String)],
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO kb_index_marks (entry_id, content_hash, marked_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (entry_id) DO UPDATE SET content_hash = excluded.content_hash, \
                   marked_at = excluded.marked_at";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for (id, hash) in marks {
                sqlx::query(sql).bind(id).bind(hash).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records that the index durably holds none of these entries' points.
    pub(crate) async fn unmark_kb_indexed(&self, ids: &[String]) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for id in ids {
                sqlx::query("DELETE FROM kb_index_marks WHERE entry_id = $1")
                    .bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Forgets every mark (before the index is cleared for a rebuild).
    pub(crate) async fn clear_kb_index_marks(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM kb_index_marks").execute(pool).await.map(|_| ())?);
        Ok(())
    }

    pub(crate) async fn kb_entries_with_status(
        &self,
        status: &str,
    ) -> Result<Vec<KbEntryRow>, StoreError> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM kb_entries WHERE status = $1 ORDER BY id");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, KbEntryRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(status).fetch_all(pool).await?),
        )
    }

    pub(crate) async fn list_kb_entries(
        &self,
        f: &KbListFilter,
    ) -> Result<(Vec<KbEntryRow>, i64), StoreError> {
        let cond = "($1 IS NULL OR status = $1) \
             AND ($2 IS NULL OR category = $2 OR category LIKE $3 ESCAPE '\\') \
             AND ($4 IS NULL OR question LIKE $4 ESCAPE '\\' OR id = $5)";
        let list = format!(
            "SELECT {ENTRY_COLUMNS} FROM kb_entries WHERE {cond} ORDER BY updated_at DESC, id LIMIT $6 OFFSET $7"
        );
        let count = format!("SELECT COUNT(*) FROM kb_entries WHERE {cond}");
        let under = f.category.as_ref().map(|c| format!("{}/%", escape_like(c)));
        let text = f.text.as_ref().map(|t| format!("%{}%", escape_like(t)));
        let id = f.text.clone();
        on_pool!(self, pool => {
            let rows = sqlx::query_as::<_, KbEntryRow>(sqlx::AssertSqlSafe(list.as_str()))
                .bind(&f.status).bind(&f.category).bind(&under).bind(&text).bind(&id)
                .bind(f.limit).bind(f.offset).fetch_all(pool).await?;
            let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(count.as_str()))
                .bind(&f.status).bind(&f.category).bind(&under).bind(&text).bind(&id)
                .fetch_one(pool).await?;
            Ok((rows, total))
        })
    }

    /// Writes a batch of entries in one transaction: all land or none does.
    /// Each write is guarded by the version it expects to replace (`version - 1`
    /// for content changes, `version` for status changes), so two editors cannot
    /// silently overwrite each other.
    pub(crate) async fn write_kb_entries(&self, writes: &[KbWrite]) -> Result<(), StoreError> {
        let insert = "INSERT INTO kb_entries (id, kind, status, version, content, content_hash, question, \
             category, locale, created_at, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)";
        let update = "UPDATE kb_entries SET kind = $2, status = $3, version = $4, content = $5, \
             content_hash = $6, question = $7, category = $8, locale = $9, updated_at = $10, updated_by = $11 \
             WHERE id = $1 AND version = $12";
        let version = "INSERT INTO kb_versions (entry_id, version, content, author, note, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for w in writes {
                let expected = if w.status_only { w.version } else { w.version - 1 };
                let sql = if expected == 0 { insert } else { update };
                let mut q = sqlx::query(sql)
                    .bind(&w.id).bind(&w.kind).bind(&w.status).bind(w.version).bind(&w.content)
                    .bind(&w.content_hash).bind(&w.question).bind(&w.category).bind(&w.locale)
                    .bind(w.now).bind(&w.author);
                if expected != 0 {
                    q = q.bind(expected);
                }
                let done = q.execute(&mut *tx).await.map_err(StoreError::from_insert)?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Refused { state: "version changed".into(), agent_id: None });
                }
                if !w.status_only {
                    sqlx::query(version)
                        .bind(&w.id).bind(w.version).bind(&w.content).bind(&w.author).bind(&w.note).bind(w.now)
                        .execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub(crate) async fn kb_versions(&self, id: &str) -> Result<Vec<KbVersionRow>, StoreError> {
        let sql = "SELECT version, content, author, note, created_at FROM kb_versions \
                   WHERE entry_id = $1 ORDER BY version DESC";
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, KbVersionRow>(sql)
            .bind(id).fetch_all(pool).await?),
        )
    }

    pub(crate) async fn kb_version(
        &self,
        id: &str,
        version: i64,
    ) -> Result<KbVersionRow, StoreError> {
        let sql = "SELECT version, content, author, note, created_at FROM kb_versions \
                   WHERE entry_id = $1 AND version = $2";
        let row = on_pool!(self, pool => sqlx::query_as::<_, KbVersionRow>(sql)
            .bind(id).bind(version).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub(crate) async fn bump_kb_counter(
        &self,
        ids: &[String],
        counter: UsageCounter,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE kb_entries SET {c} = {c} + 1 WHERE id = $1",
            c = counter_column(counter)
        );
        on_pool!(self, pool => {
            for id in ids {
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(id).execute(pool).await?;
            }
        });
        Ok(())
    }
}

fn content_of(raw: &str) -> Result<EntryContent, RepoError> {
    serde_json::from_str(raw).map_err(|e| RepoError::Corrupt(format!("entry content: {e}")))
}

fn status_of(raw: &str) -> Result<EntryStatus, RepoError> {
    EntryStatus::parse(raw).map_err(|_| RepoError::Corrupt(format!("entry status '{raw}'")))
}

impl TryFrom<KbEntryRow> for StoredEntry {
    type Error = RepoError;

    fn try_from(row: KbEntryRow) -> Result<Self, RepoError> {
        Ok(StoredEntry {
            status: status_of(&row.status)?,
            content: content_of(&row.content)?,
            id: row.id,
            version: row.version,
            content_hash: row.content_hash,
            created_at: row.created_at,
            updated_at: row.updated_at,
            updated_by: row.updated_by,
            usage: EntryUsage {
                retrieved: row.times_retrieved,
                answered: row.times_answered,
                helpful: row.helpful,
                unhelpful: row.unhelpful,
            },
        })
    }
}

impl TryFrom<KbVersionRow> for StoredVersion {
    type Error = RepoError;

    fn try_from(row: KbVersionRow) -> Result<Self, RepoError> {
        Ok(StoredVersion {
            content: content_of(&row.content)?,
            version: row.version,
            author: row.author,
            note: row.note,
            created_at: row.created_at,
        })
    }
}

impl From<&EntryWrite> for KbWrite {
    fn from(w: &EntryWrite) -> KbWrite {
        let c = &w.content;
        KbWrite {
            id: w.id.clone(),
            kind: match c.kind {
                EntryKind::Faq => "faq".into(),
                EntryKind::Article => "article".into(),
            },
            status: w.status.as_str().to_owned(),
            version: w.version,
            content: serde_json::to_string(c).expect("entry content serialises"),
            content_hash: c.hash(),
            question: c.question.clone(),
            category: c.category.as_ref().map(|c| c.as_str().to_owned()),
            locale: c.locale.as_str().to_owned(),
            author: w.author.clone(),
            note: w.note.clone(),
            now: w.now,
            status_only: w.status_only,
        }
    }
}

#[async_trait::async_trait]
impl KnowledgeEntries for Store {
    async fn categories(&self) -> Result<Vec<String>, RepoError> {
        Ok(self.kb_categories().await?)
    }

    async fn add_categories(&self, paths: &[String], now: i64) -> Result<(), RepoError> {
        Ok(self.insert_kb_categories(paths, now).await?)
    }

    async fn entry(&self, id: &str) -> Result<StoredEntry, RepoError> {
        self.kb_entry(id).await?.try_into()
    }

    async fn heads(&self) -> Result<Vec<EntryHead>, RepoError> {
        self.kb_heads()
            .await?
            .into_iter()
            .map(|(id, content_hash, version, status)| {
                Ok(EntryHead {
                    status: status_of(&status)?,
                    id,
                    content_hash,
                    version,
                })
            })
            .collect()
    }

    async fn with_status(&self, status: EntryStatus) -> Result<Vec<StoredEntry>, RepoError> {
        let rows = self.kb_entries_with_status(status.as_str()).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let id = row.id.clone();
                StoredEntry::try_from(row)
                    .inspect_err(|error| tracing::warn!(entry = %id, %error, "entry left out"))
                    .ok()
            })
            .collect())
    }

    async fn list(&self, filter: &EntryFilter) -> Result<(Vec<StoredEntry>, i64), RepoError> {
        let f = KbListFilter {
            status: filter.status.map(|s| s.as_str().to_owned()),
            category: filter.category.clone(),
            text: filter.text.clone(),
            limit: filter.limit,
            offset: filter.offset,
        };
        let (rows, total) = self.list_kb_entries(&f).await?;
        let entries = rows
            .into_iter()
            .map(StoredEntry::try_from)
            .collect::<Result<_, _>>()?;
        Ok((entries, total))
    }

    async fn write(&self, writes: &[EntryWrite]) -> Result<(), RepoError> {
        let rows: Vec<KbWrite> = writes.iter().map(KbWrite::from).collect();
        Ok(self.write_kb_entries(&rows).await?)
    }

    async fn versions(&self, id: &str) -> Result<Vec<StoredVersion>, RepoError> {
        self.kb_versions(id)
            .await?
            .into_iter()
            .map(StoredVersion::try_from)
            .collect()
    }

    async fn version(&self, id: &str, version: i64) -> Result<StoredVersion, RepoError> {
        self.kb_version(id, version).await?.try_into()
    }

    async fn count_usage(&self, ids: &[String], counter: UsageCounter) -> Result<(), RepoError> {
        Ok(self.bump_kb_counter(ids, counter).await?)
    }

    async fn revision(&self) -> Result<KbRevision, RepoError> {
        Ok(self.kb_revision().await?)
    }

    async fn index_marks(&self) -> Result<Vec<(String, String)>, RepoError> {
        Ok(self.kb_index_marks().await?)
    }

    async fn mark_indexed(&self, marks: &[(String, String)], now: i64) -> Result<(), RepoError> {
        Ok(self.mark_kb_indexed(marks, now).await?)
    }

    async fn unmark_indexed(&self, ids: &[String]) -> Result<(), RepoError> {
        Ok(self.unmark_kb_indexed(ids).await?)
    }

    async fn clear_index_marks(&self) -> Result<(), RepoError> {
        Ok(self.clear_kb_index_marks().await?)
    }
}
