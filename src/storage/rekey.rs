//! Re-sealing after a key rotation: every sealed column of the database, listed
//! once here with the associated data its values are bound to, walked in key
//! order and re-sealed with the ring's current key (see `crypto::Cipher`).
//!
//! A value is only replaced if it is still the one that was read (a
//! compare-and-set on the old ciphertext), so a write that lands meanwhile is
//! never overwritten; it is sealed with the current key anyway. A pass is
//! idempotent: values already under the current key are left alone, so an
//! interrupted pass is simply run again.

use super::privacy::{unanswered_aad, visitor_aad};
use super::{Backend, Store, StoreError, on_pool};
pub use crate::ports::repositories::ColumnPass;
use crate::ports::repositories::{RepoError, SealedValues};
use sqlx::Row;

/// Rows read per query.
const PAGE: i64 = 200;

#[derive(Debug, Clone, Copy, PartialEq)]
enum KeyType {
    Text,
    Int,
    Bytes,
}

#[derive(Debug, Clone, PartialEq)]
enum KeyPart {
    Text(String),
    Int(i64),
    Bytes(Vec<u8>),
}

/// One sealed column: where it is, how its rows are keyed, and what its values
/// are bound to (the associated data made from the `owner` column or expression).
pub struct SealedColumn {
    pub table: &'static str,
    key: &'static [(&'static str, KeyType)],
    pub column: &'static str,
    owner: &'static str,
    aad: fn(&str) -> String,
    postgres_only: bool,
}

fn same(owner: &str) -> String {
    owner.to_owned()
}

/// Every sealed column. A new sealed column must be added here (the rotation
/// test reads back a value of each kind it creates).
pub static SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "events",
        key: &[("conversation_id", KeyType::Text), ("seq", KeyType::Int)],
        column: "body",
        owner: "conversation_id",
        aad: same,
        postgres_only: false,
    },
    SealedColumn {
        table: "visitors",
        key: &[("id", KeyType::Text)],
        column: "pii",
        owner: "id",
        aad: same,
        postgres_only: false,
    },
    SealedColumn {
        table: "visitors",
        key: &[("id", KeyType::Text)],
        column: "sealed_account",
        owner: "id",
        aad: |id| visitor_aad(id, "account"),
        postgres_only: false,
    },
    SealedColumn {
        table: "visitors",
        key: &[("id", KeyType::Text)],
        column: "sealed_nickname",
        owner: "id",
        aad: |id| visitor_aad(id, "nickname"),
        postgres_only: false,
    },
    SealedColumn {
        table: "visitors",
        key: &[("id", KeyType::Text)],
        column: "sealed_context",
        owner: "id",
        aad: |id| visitor_aad(id, "context"),
        postgres_only: false,
    },
    SealedColumn {
        table: "bot_sessions",
        key: &[("conversation_id", KeyType::Text)],
        column: "state",
        owner: "conversation_id",
        aad: same,
        postgres_only: false,
    },
    SealedColumn {
        table: "handoff_packets",
        key: &[("id", KeyType::Text)],
        column: "packet",
        owner: "conversation_id",
        aad: same,
        postgres_only: false,
    },
    SealedColumn {
        table: "unanswered_questions",
        key: &[("id", KeyType::Text)],
        column: "sealed_question",
        owner: "id",
        aad: unanswered_aad,
        postgres_only: false,
    },
    SealedColumn {
        table: "unanswered_questions",
        key: &[("id", KeyType::Text)],
        column: "sealed_embedding",
        owner: "id",
        aad: super::privacy::unanswered_embedding_aad,
        postgres_only: false,
    },
    SealedColumn {
        table: "webhook_endpoints",
        key: &[("id", KeyType::Text)],
        column: "sealed_secret",
        owner: "id",
        aad: same,
        postgres_only: false,
    },
    SealedColumn {
        table: "buyer_tags",
        key: &[("id", KeyType::Text)],
        column: "sealed_tag",
        owner: "id",
        aad: |id| super::portrait::tag_aad(id),
        postgres_only: false,
    },
    SealedColumn {
        table: "channel_users",
        key: &[
            ("channel_id", KeyType::Text),
            ("external_hash", KeyType::Bytes),
        ],
        column: "sealed_external",
        owner: "channel_id",
        aad: same,
        postgres_only: false,
    },
    SealedColumn {
        table: "visits",
        key: &[("id", KeyType::Text)],
        column: "sealed_state",
        owner: "id",
        aad: super::presence::visit_aad,
        postgres_only: false,
    },
    // As services/quality.rs seals them.
    SealedColumn {
        table: "qa_reviews",
        key: &[("id", KeyType::Text)],
        column: "comment_sealed",
        owner: "id",
        aad: |id| format!("qa_review:{id}:comment"),
        postgres_only: false,
    },
    SealedColumn {
        table: "qa_reviews",
        key: &[("id", KeyType::Text)],
        column: "appeal_sealed",
        owner: "id",
        aad: |id| format!("qa_review:{id}:appeal"),
        postgres_only: false,
    },
    SealedColumn {
        table: "qa_drafts",
        key: &[("review_id", KeyType::Text)],
        column: "items_sealed",
        owner: "review_id",
        aad: super::quality::qa_draft_aad,
        postgres_only: false,
    },
    SealedColumn {
        table: "smtp_settings",
        key: &[("id", KeyType::Int)],
        column: "sealed_password",
        owner: "''",
        aad: |_| super::ticket_mail::smtp_password_aad().to_owned(),
        postgres_only: false,
    },
    SealedColumn {
        table: "staff_users",
        key: &[("id", KeyType::Text)],
        column: "totp_sealed",
        owner: "id",
        aad: super::staff_totp::totp_aad,
        postgres_only: false,
    },
    SealedColumn {
        table: "notification_prefs",
        key: &[("staff_id", KeyType::Text)],
        column: "sealed_email",
        owner: "staff_id",
        aad: super::ticket_mail::email_aad,
        postgres_only: false,
    },
    SealedColumn {
        table: "tickets",
        key: &[("id", KeyType::Text)],
        column: "sealed_text",
        owner: "id",
        aad: super::tickets::ticket_aad,
        postgres_only: false,
    },
    SealedColumn {
        table: "ticket_comments",
        key: &[("id", KeyType::Text)],
        column: "sealed_body",
        owner: "id",
        aad: super::tickets::comment_aad,
        postgres_only: false,
    },
    SealedColumn {
        table: "ticket_events",
        key: &[("id", KeyType::Int)],
        column: "sealed_detail",
        owner: "ticket_id || ':' || kind",
        aad: super::tickets::history_aad,
        postgres_only: false,
    },
    // On SQLite attachments are files in the data dir (services/attachments.rs).
    SealedColumn {
        table: "attachment_blobs",
        key: &[("id", KeyType::Text)],
        column: "sealed",
        owner: "id",
        aad: same,
        postgres_only: true,
    },
];

impl SealedColumn {
    fn select(&self, after: bool) -> String {
        let keys: Vec<&str> = self.key.iter().map(|(k, _)| *k).collect();
        let list = keys.join(", ");
        // Integer keys are read as 64-bit on both databases.
        let read: Vec<String> = self
            .key
            .iter()
            .map(|(k, kind)| match kind {
                KeyType::Int => format!("CAST({k} AS BIGINT)"),
                _ => (*k).to_owned(),
            })
            .collect();
        let mut sql = format!(
            "SELECT {read}, {owner}, {col} FROM {table} WHERE {col} IS NOT NULL",
            read = read.join(", "),
            owner = self.owner,
            col = self.column,
            table = self.table
        );
        if after {
            let params: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
            if keys.len() == 1 {
                sql.push_str(&format!(" AND {list} > {}", params[0]));
            } else {
                sql.push_str(&format!(" AND ({list}) > ({})", params.join(", ")));
            }
        }
        sql.push_str(&format!(" ORDER BY {list} LIMIT {PAGE}"));
        sql
    }

    fn update(&self) -> String {
        let mut sql = format!(
            "UPDATE {table} SET {col} = $1 WHERE {col} = $2",
            table = self.table,
            col = self.column
        );
        for (i, (k, _)) in self.key.iter().enumerate() {
            sql.push_str(&format!(" AND {k} = ${}", i + 3));
        }
        sql
    }
}

impl Store {
    /// One pass over a sealed column: every value under an older key of the ring
    /// is re-sealed with the current key (unless `dry_run`, which only counts).
    pub async fn reseal_column(
        &self,
        c: &SealedColumn,
        dry_run: bool,
    ) -> Result<ColumnPass, StoreError> {
        let mut pass = ColumnPass {
            table: c.table.to_owned(),
            column: c.column.to_owned(),
            ..ColumnPass::default()
        };
        if c.postgres_only && self.backend() != Backend::Postgres {
            return Ok(pass);
        }
        let cipher = self.sealer();
        let (first, next, update) = (c.select(false), c.select(true), c.update());
        let mut cursor: Option<Vec<KeyPart>> = None;
        loop {
            let sql = if cursor.is_some() { &next } else { &first };
            let page: Vec<(Vec<KeyPart>, String, Vec<u8>)> = on_pool!(self, pool => {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for part in cursor.iter().flatten() {
                    q = match part {
                        KeyPart::Text(s) => q.bind(s.clone()),
                        KeyPart::Int(i) => q.bind(*i),
                        KeyPart::Bytes(b) => q.bind(b.clone()),
                    };
                }
                let rows = q.fetch_all(pool).await?;
                let mut page = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut key = Vec::with_capacity(c.key.len());
                    for (i, (_, kind)) in c.key.iter().enumerate() {
                        key.push(match kind {
                            KeyType::Text => KeyPart::Text(row.try_get::<String, _>(i)?),
                            KeyType::Int => KeyPart::Int(row.try_get::<i64, _>(i)?),
                            KeyType::Bytes => KeyPart::Bytes(row.try_get::<Vec<u8>, _>(i)?),
                        });
                    }
                    let owner: String = row.try_get(c.key.len())?;
                    let sealed: Vec<u8> = row.try_get(c.key.len() + 1)?;
                    page.push((key, owner, sealed));
                }
                page
            });
            let Some((last, _, _)) = page.last() else {
                break;
            };
            cursor = Some(last.clone());
            let full = page.len() as i64 == PAGE;
            for (key, owner, sealed) in page {
                pass.scanned += 1;
                let aad = (c.aad)(&owner);
                let fresh = match cipher.reseal(&sealed, aad.as_bytes()) {
                    Ok(None) => continue,
                    Ok(Some(fresh)) => fresh,
                    Err(_) => {
                        pass.unreadable += 1;
                        continue;
                    }
                };
                pass.older_key += 1;
                if dry_run {
                    continue;
                }
                on_pool!(self, pool => {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(update.as_str()))
                        .bind(fresh)
                        .bind(sealed);
                    for part in &key {
                        q = match part {
                            KeyPart::Text(s) => q.bind(s.clone()),
                            KeyPart::Int(i) => q.bind(*i),
                            KeyPart::Bytes(b) => q.bind(b.clone()),
                        };
                    }
                    q.execute(pool).await?;
                });
            }
            if !full {
                break;
            }
        }
        Ok(pass)
    }
}

#[async_trait::async_trait]
impl SealedValues for Store {
    async fn reseal_all(&self, dry_run: bool) -> Result<Vec<ColumnPass>, RepoError> {
        let mut out = Vec::with_capacity(SEALED_COLUMNS.len());
        for column in SEALED_COLUMNS {
            out.push(self.reseal_column(column, dry_run).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queries_page_in_key_order_and_replace_only_the_value_read() {
        let events = &SEALED_COLUMNS[0];
        assert_eq!(
            events.select(false),
            "SELECT conversation_id, CAST(seq AS BIGINT), conversation_id, body FROM events \
             WHERE body IS NOT NULL ORDER BY conversation_id, seq LIMIT 200"
        );
        assert_eq!(
            events.select(true),
            "SELECT conversation_id, CAST(seq AS BIGINT), conversation_id, body FROM events \
             WHERE body IS NOT NULL AND (conversation_id, seq) > ($1, $2) \
             ORDER BY conversation_id, seq LIMIT 200"
        );
        assert_eq!(
            events.update(),
            "UPDATE events SET body = $1 WHERE body = $2 AND conversation_id = $3 AND seq = $4"
        );
        let visits = SEALED_COLUMNS.iter().find(|c| c.table == "visits").unwrap();
        assert_eq!((visits.aad)("v1"), "visit:v1:state");
        assert!(visits.select(true).contains(" AND id > $1 "));
    }
}
