use super::outbox::write_events;
use super::{Store, StoreError, on_pool};
use crate::domain::events::{EventData, NewEvent};

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

impl Store {
    pub async fn insert_visitor(
        &self,
        id: &str,
        token_hash: &[u8],
        shop_account_id: Option<&str>,
        nickname: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO visitors (id, token_hash, shop_account_id, nickname, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $5)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(token_hash).bind(shop_account_id).bind(nickname).bind(now)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    pub async fn visitor_by_token(&self, token_hash: &[u8]) -> Result<VisitorRow, StoreError> {
        let sql = "SELECT id, shop_account_id, nickname, pii, context, created_at FROM visitors WHERE token_hash = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, VisitorRow>(sql)
            .bind(token_hash).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub async fn visitor(&self, id: &str) -> Result<VisitorRow, StoreError> {
        let sql = "SELECT id, shop_account_id, nickname, pii, context, created_at FROM visitors WHERE id = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, VisitorRow>(sql)
            .bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    /// Updates the fields given, keeps the others.
    pub async fn update_visitor_identity(
        &self,
        id: &str,
        shop_account_id: Option<&str>,
        nickname: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE visitors SET shop_account_id = COALESCE($2, shop_account_id), \
                   nickname = COALESCE($3, nickname), updated_at = $4 WHERE id = $1";
        let updated = visitor_updated(id, now);
        let backend = self.backend();
        let done = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            let done = sqlx::query(sql)
                .bind(id).bind(shop_account_id).bind(nickname).bind(now).execute(&mut *tx).await?.rows_affected();
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
        let sql = "UPDATE visitors SET context = $2, updated_at = $3 WHERE id = $1";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(context_json).bind(now).execute(pool).await?.rows_affected());
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
