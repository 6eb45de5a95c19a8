use super::outbox::write_events;
use super::privacy::visitor_aad;
use super::{Store, StoreError, on_pool};
use crate::domain::events::{EventData, NewEvent};
use crate::ports::repositories::{RepoError, StoredVisitor, VisitorRecords};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VisitorRow {
    pub id: String,
    pub shop_account_id: Option<String>,
    pub nickname: Option<String>,
    /// Sealed JSON; the service opens it.
    pub pii: Option<Vec<u8>>,
    pub context: Option<String>,
    pub created_at: i64,
}

/// The row as stored: nickname, context and account sealed (migration 0013).
#[derive(sqlx::FromRow)]
struct SealedVisitorRow {
    id: String,
    sealed_account: Option<Vec<u8>>,
    sealed_nickname: Option<Vec<u8>>,
    pii: Option<Vec<u8>>,
    sealed_context: Option<Vec<u8>>,
    created_at: i64,
}

const SELECT_VISITOR: &str =
    "SELECT id, sealed_account, sealed_nickname, pii, sealed_context, created_at FROM visitors";

impl Store {
    /// Opens the sealed columns at the storage edge: callers see plain values.
    fn open_visitor(&self, row: SealedVisitorRow) -> Result<VisitorRow, StoreError> {
        let id = row.id;
        Ok(VisitorRow {
            shop_account_id: self
                .open_opt(row.sealed_account.as_deref(), &visitor_aad(&id, "account"))?,
            nickname: self.open_opt(
                row.sealed_nickname.as_deref(),
                &visitor_aad(&id, "nickname"),
            )?,
            context: self.open_opt(row.sealed_context.as_deref(), &visitor_aad(&id, "context"))?,
            pii: row.pii,
            created_at: row.created_at,
            id,
        })
    }

    pub async fn insert_visitor(
        &self,
        id: &str,
        token_hash: &[u8],
        shop_account_id: Option<&str>,
        nickname: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO visitors (id, token_hash, sealed_account, account_index, sealed_nickname, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $6)";
        let account = self.seal_opt(shop_account_id, &visitor_aad(id, "account"));
        let index = self.account_index(shop_account_id);
        let nickname = self.seal_opt(nickname, &visitor_aad(id, "nickname"));
        on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(token_hash).bind(account).bind(index).bind(nickname).bind(now)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    pub async fn visitor_by_token(&self, token_hash: &[u8]) -> Result<VisitorRow, StoreError> {
        let sql = format!("{SELECT_VISITOR} WHERE token_hash = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, SealedVisitorRow>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(token_hash).fetch_optional(pool).await?);
        self.open_visitor(row.ok_or(StoreError::NotFound)?)
    }

    pub async fn visitor(&self, id: &str) -> Result<VisitorRow, StoreError> {
        let sql = format!("{SELECT_VISITOR} WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, SealedVisitorRow>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id).fetch_optional(pool).await?);
        self.open_visitor(row.ok_or(StoreError::NotFound)?)
    }

    /// Updates the fields given, keeps the others.
    pub async fn update_visitor_identity(
        &self,
        id: &str,
        shop_account_id: Option<&str>,
        nickname: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE visitors SET sealed_account = COALESCE($2, sealed_account), \
                   account_index = COALESCE($5, account_index), \
                   sealed_nickname = COALESCE($3, sealed_nickname), updated_at = $4 WHERE id = $1";
        let index = self.account_index(shop_account_id);
        let shop_account_id = self.seal_opt(shop_account_id, &visitor_aad(id, "account"));
        let nickname = self.seal_opt(nickname, &visitor_aad(id, "nickname"));
        let updated = visitor_updated(id, now);
        let backend = self.backend();
        let done = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            let done = sqlx::query(sql)
                .bind(id).bind(&shop_account_id).bind(&nickname).bind(now).bind(&index).execute(&mut *tx).await?.rows_affected();
            if done == 1 {
                write_events!(backend, tx, std::slice::from_ref(&updated));
            }
            tx.commit().await?;
            self.events_committed();
            done
        });
        if done == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    pub async fn set_visitor_pii(
        &self,
        id: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE visitors SET pii = $2, updated_at = $3 WHERE id = $1";
        let updated = visitor_updated(id, now);
        let backend = self.backend();
        let done = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            let done = sqlx::query(sql)
                .bind(id).bind(sealed).bind(now).execute(&mut *tx).await?.rows_affected();
            if done == 1 {
                write_events!(backend, tx, std::slice::from_ref(&updated));
            }
            tx.commit().await?;
            self.events_committed();
            done
        });
        if done == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    pub async fn set_visitor_context(
        &self,
        id: &str,
        context_json: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE visitors SET sealed_context = $2, updated_at = $3 WHERE id = $1";
        let sealed = self
            .sealer()
            .seal_text(context_json, &visitor_aad(id, "context"));
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(&sealed).bind(now).execute(pool).await?.rows_affected());
        if done == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }
}

/// The event of a change to a visitor's identity or personal details (which
/// fields is not said, and no value is carried).
fn visitor_updated(visitor_id: &str, now: i64) -> NewEvent {
    NewEvent {
        id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
        conversation_id: None,
        seq: None,
        data: EventData::VisitorUpdated {
            visitor_id: visitor_id.to_owned(),
        },
        created_at: now,
    }
}

#[async_trait::async_trait]
impl VisitorRecords for Store {
    async fn add_visitor(
        &self,
        id: &str,
        token_hash: &[u8],
        shop_account_id: Option<&str>,
        nickname: Option<&str>,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(self
            .insert_visitor(id, token_hash, shop_account_id, nickname, now)
            .await?)
    }

    async fn visitor_of_token(&self, token_hash: &[u8]) -> Result<StoredVisitor, RepoError> {
        Ok(stored_visitor(self.visitor_by_token(token_hash).await?))
    }

    async fn visitor_by_id(&self, id: &str) -> Result<StoredVisitor, RepoError> {
        Ok(stored_visitor(self.visitor(id).await?))
    }

    async fn set_identity(
        &self,
        id: &str,
        shop_account_id: Option<&str>,
        nickname: Option<&str>,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(self
            .update_visitor_identity(id, shop_account_id, nickname, now)
            .await?)
    }

    async fn set_sealed_pii(&self, id: &str, sealed: &[u8], now: i64) -> Result<(), RepoError> {
        Ok(self.set_visitor_pii(id, sealed, now).await?)
    }

    async fn set_context(&self, id: &str, context_json: &str, now: i64) -> Result<(), RepoError> {
        Ok(self.set_visitor_context(id, context_json, now).await?)
    }
}

fn stored_visitor(row: VisitorRow) -> StoredVisitor {
    StoredVisitor {
        id: row.id,
        shop_account_id: row.shop_account_id,
        nickname: row.nickname,
        sealed_pii: row.pii,
        context: row.context,
    }
}
