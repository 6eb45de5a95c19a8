//! Webhook endpoints and their delivery log.

use super::{Store, StoreError, on_pool};
use crate::domain::ticket_automations::QueuedDelivery;
use crate::ports::repositories::{AttemptResult, Delivery, Endpoint, RepoError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    /// JSON array of event type names (`["*"]` for all).
    pub event_types: String,
    pub sealed_secret: Vec<u8>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub since_position: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub position: i64,
    pub conversation_id: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

const ENDPOINT_COLUMNS: &str = "id, url, description, event_types, sealed_secret, enabled, \
    disabled_reason, since_position, created_by, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, position, conversation_id, status, \
    attempts, next_attempt_at, last_status, last_error, created_at, delivered_at";

impl Store {
    pub async fn insert_endpoint(&self, row: &EndpointRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO webhook_endpoints (id, url, description, event_types, sealed_secret, \
                   enabled, disabled_reason, since_position, created_by, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.url).bind(&row.description).bind(&row.event_types)
            .bind(&row.sealed_secret).bind(row.enabled).bind(&row.disabled_reason)
            .bind(row.since_position).bind(&row.created_by).bind(row.created_at).bind(row.updated_at)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    pub async fn endpoints(&self) -> Result<Vec<EndpointRow>, StoreError> {
        let sql =
            format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id");
        Ok(on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?))
    }

    pub async fn endpoint(&self, id: &str) -> Result<EndpointRow, StoreError> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
        let row: Option<EndpointRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    /// Turns an endpoint on (and forgets why it was off) or off with a reason.
    pub async fn set_endpoint_enabled(
        &self,
        id: &str,
        enabled: bool,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE webhook_endpoints SET enabled = $2, disabled_reason = $3, updated_at = $4 \
                   WHERE id = $1";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(enabled).bind(reason).bind(now).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn delete_endpoint(&self, id: &str) -> Result<(), StoreError> {
        let deliveries = "DELETE FROM webhook_deliveries WHERE endpoint_id = $1";
        let endpoint = "DELETE FROM webhook_endpoints WHERE id = $1";
        let done = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            sqlx::query(deliveries).bind(id).execute(&mut *tx).await?;
            let done = sqlx::query(endpoint).bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            done
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Queues deliveries (once per endpoint and event: a repeat is ignored).
    pub async fn queue_deliveries(&self, rows: &[DeliveryRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, position, conversation_id, \
                   status, attempts, next_attempt_at, created_at) \
                   VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7) \
                   ON CONFLICT (endpoint_id, event_id) DO NOTHING";
        self.yield_to_commits().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            for r in rows {
                sqlx::query(sql)
                    .bind(&r.id).bind(&r.endpoint_id).bind(&r.event_id).bind(r.position)
                    .bind(&r.conversation_id).bind(r.next_attempt_at).bind(r.created_at)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// An endpoint's oldest pending deliveries, in event order.
    pub async fn pending_deliveries(
        &self,
        endpoint_id: &str,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE endpoint_id = $1 AND status = 'pending' ORDER BY position LIMIT $2"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(endpoint_id).bind(limit).fetch_all(pool).await?),
        )
    }

    /// The delivery log, newest first, optionally of one status.
    pub async fn deliveries(
        &self,
        endpoint_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE endpoint_id = $1 AND ($2 IS NULL OR status = $2) ORDER BY position DESC LIMIT $3"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(endpoint_id).bind(status).bind(limit).fetch_all(pool).await?),
        )
    }

    pub async fn record_attempt(
        &self,
        delivery_id: &str,
        result: &AttemptResult,
    ) -> Result<(), StoreError> {
        match result {
            AttemptResult::Delivered { status, at } => {
                let sql = "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, \
                           last_status = $2, last_error = NULL, delivered_at = $3 WHERE id = $1";
                on_pool!(self, pool => sqlx::query(sql)
                    .bind(delivery_id).bind(status).bind(at).execute(pool).await.map(|_| ()))?;
            }
            AttemptResult::Failed {
                status,
                error,
                next_attempt_at,
                give_up,
            } => {
                let sql = "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, \
                           last_status = $3, last_error = $4, next_attempt_at = $5 WHERE id = $1";
                let state = if *give_up { "failed" } else { "pending" };
                on_pool!(self, pool => sqlx::query(sql)
                    .bind(delivery_id).bind(state).bind(status).bind(error).bind(next_attempt_at)
                    .execute(pool).await.map(|_| ()))?;
            }
        }
        Ok(())
    }

    /// Sends a delivery again from now (a new 24-hour window).
    pub async fn replay_delivery(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, created_at = $3 \
                   WHERE id = $1 AND endpoint_id = $2";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(delivery_id).bind(endpoint_id).bind(now).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

impl From<EndpointRow> for Endpoint {
    fn from(row: EndpointRow) -> Self {
        Endpoint {
            event_types: serde_json::from_str(&row.event_types).unwrap_or_default(),
            id: row.id,
            url: row.url,
            description: row.description,
            sealed_secret: row.sealed_secret,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            since_position: row.since_position,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl From<DeliveryRow> for Delivery {
    fn from(row: DeliveryRow) -> Self {
        Delivery {
            id: row.id,
            endpoint_id: row.endpoint_id,
            event_id: row.event_id,
            position: row.position,
            conversation_id: row.conversation_id,
            status: row.status,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_status: row.last_status,
            last_error: row.last_error,
            created_at: row.created_at,
            delivered_at: row.delivered_at,
        }
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::WebhookRecords for Store {
    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), RepoError> {
        let row = EndpointRow {
            id: endpoint.id.clone(),
            url: endpoint.url.clone(),
            description: endpoint.description.clone(),
            event_types: serde_json::to_string(&endpoint.event_types).expect("names serialise"),
            sealed_secret: endpoint.sealed_secret.clone(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            since_position: endpoint.since_position,
            created_by: endpoint.created_by.clone(),
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        };
        Ok(Store::insert_endpoint(self, &row).await?)
    }

    async fn endpoints(&self) -> Result<Vec<Endpoint>, RepoError> {
        Ok(Store::endpoints(self)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn endpoint(&self, id: &str) -> Result<Endpoint, RepoError> {
        Ok(Store::endpoint(self, id).await?.into())
    }

    async fn set_endpoint_enabled(
        &self,
        id: &str,
        enabled: bool,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(Store::set_endpoint_enabled(self, id, enabled, reason, now).await?)
    }

    async fn delete_endpoint(&self, id: &str) -> Result<(), RepoError> {
        Ok(Store::delete_endpoint(self, id).await?)
    }

    async fn queue(&self, deliveries: &[QueuedDelivery]) -> Result<(), RepoError> {
        let rows: Vec<DeliveryRow> = deliveries
            .iter()
            .map(|d| DeliveryRow {
                id: d.id.clone(),
                endpoint_id: d.endpoint_id.clone(),
                event_id: d.event_id.clone(),
                position: d.position,
                conversation_id: d.conversation_id.clone(),
                status: "pending".into(),
                attempts: 0,
                next_attempt_at: d.next_attempt_at,
                last_status: None,
                last_error: None,
                created_at: d.created_at,
                delivered_at: None,
            })
            .collect();
        Ok(self.queue_deliveries(&rows).await?)
    }

    async fn pending(&self, endpoint_id: &str, limit: i64) -> Result<Vec<Delivery>, RepoError> {
        Ok(self
            .pending_deliveries(endpoint_id, limit)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn deliveries(
        &self,
        endpoint_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>, RepoError> {
        Ok(Store::deliveries(self, endpoint_id, status, limit)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn record_attempt(
        &self,
        delivery_id: &str,
        result: &AttemptResult,
    ) -> Result<(), RepoError> {
        Ok(Store::record_attempt(self, delivery_id, result).await?)
    }

    async fn replay(
        &self,
        endpoint_id: &str,
        delivery_id: &str,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(self.replay_delivery(endpoint_id, delivery_id, now).await?)
    }
}
