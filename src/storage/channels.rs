//! API channels and their users.

use super::{Store, StoreError, on_pool};
use crate::ports::repositories::{ApiChannel, ChannelRecords, ChannelUser, RepoError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: String,
    pub name: String,
    pub key_hash: Vec<u8>,
    pub reply_limit: i32,
    pub reply_window_ms: i64,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelUserRow {
    pub channel_id: String,
    pub external_hash: Vec<u8>,
    pub sealed_external: Vec<u8>,
    pub visitor_id: String,
    pub conversation_id: String,
    pub last_inbound_at: i64,
    pub replies: i32,
}

pub use crate::domain::chat_log::ReplySlot;

const CHANNEL_COLUMNS: &str =
    "id, name, key_hash, reply_limit, reply_window_ms, created_by, created_at";
const USER_COLUMNS: &str = "channel_id, external_hash, sealed_external, visitor_id, conversation_id, \
    last_inbound_at, replies";

impl Store {
    pub async fn insert_channel(&self, row: &ChannelRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO channels (id, name, key_hash, reply_limit, reply_window_ms, created_by, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.name).bind(&row.key_hash).bind(row.reply_limit)
            .bind(row.reply_window_ms).bind(&row.created_by).bind(row.created_at)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    pub async fn channels(&self) -> Result<Vec<ChannelRow>, StoreError> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY created_at, id");
        Ok(on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?))
    }

    pub async fn channel_by_key(&self, key_hash: &[u8]) -> Result<ChannelRow, StoreError> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE key_hash = $1");
        let row: Option<ChannelRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(key_hash).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub async fn delete_channel(&self, id: &str) -> Result<(), StoreError> {
        let users = "DELETE FROM channel_users WHERE channel_id = $1";
        let channel = "DELETE FROM channels WHERE id = $1";
        let done = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            sqlx::query(users).bind(id).execute(&mut *tx).await?;
            let done = sqlx::query(channel).bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            done
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn channel_user(
        &self,
        channel_id: &str,
        external_hash: &[u8],
    ) -> Result<Option<ChannelUserRow>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM channel_users WHERE channel_id = $1 AND external_hash = $2"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(channel_id).bind(external_hash).fetch_optional(pool).await?),
        )
    }

    pub async fn channel_user_of(
        &self,
        conversation_id: &str,
    ) -> Result<Option<ChannelUserRow>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM channel_users WHERE conversation_id = $1");
        Ok(
            on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(conversation_id).fetch_optional(pool).await?),
        )
    }

    /// The name of the app channel a conversation came through, if any.
    pub async fn channel_name_of(
        &self,
        conversation_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let sql = "SELECT c.name FROM channel_users u JOIN channels c ON c.id = u.channel_id \
                   WHERE u.conversation_id = $1 LIMIT 1";
        let name: Option<(String,)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(conversation_id).fetch_optional(pool).await?);
        Ok(name.map(|(name,)| name))
    }

    /// Records the user's message time and current conversation: the reply
    /// window starts again.
    pub async fn save_channel_user(&self, row: &ChannelUserRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO channel_users (channel_id, external_hash, sealed_external, visitor_id, \
                   conversation_id, last_inbound_at, replies) VALUES ($1, $2, $3, $4, $5, $6, 0) \
                   ON CONFLICT (channel_id, external_hash) DO UPDATE SET \
                   conversation_id = excluded.conversation_id, last_inbound_at = excluded.last_inbound_at, \
                   replies = 0";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.channel_id).bind(&row.external_hash).bind(&row.sealed_external)
            .bind(&row.visitor_id).bind(&row.conversation_id).bind(row.last_inbound_at)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Counts one agent reply if the conversation's channel window allows it.
    pub async fn take_reply_slot(
        &self,
        conversation_id: &str,
        now: i64,
    ) -> Result<ReplySlot, StoreError> {
        let take = "UPDATE channel_users SET replies = replies + 1 WHERE conversation_id = $1 \
            AND replies < (SELECT reply_limit FROM channels c WHERE c.id = channel_users.channel_id) \
            AND last_inbound_at >= $2 - (SELECT reply_window_ms FROM channels c WHERE c.id = channel_users.channel_id)";
        let exists = "SELECT COUNT(*) FROM channel_users WHERE conversation_id = $1";
        on_pool!(self, pool => {
            let taken = sqlx::query(take).bind(conversation_id).bind(now).execute(pool).await?.rows_affected();
            if taken > 0 {
                return Ok(ReplySlot::Taken);
            }
            let (n,): (i64,) = sqlx::query_as(exists).bind(conversation_id).fetch_one(pool).await?;
            Ok(if n > 0 { ReplySlot::Closed } else { ReplySlot::NoWindow })
        })
    }
}

#[async_trait::async_trait]
impl ChannelRecords for Store {
    async fn add_channel(&self, channel: &ApiChannel) -> Result<(), RepoError> {
        let row = ChannelRow {
            id: channel.id.clone(),
            name: channel.name.clone(),
            key_hash: channel.key_hash.clone(),
            reply_limit: channel.reply_limit,
            reply_window_ms: channel.reply_window_ms,
            created_by: channel.created_by.clone(),
            created_at: channel.created_at,
        };
        Ok(self.insert_channel(&row).await?)
    }

    async fn all_channels(&self) -> Result<Vec<ApiChannel>, RepoError> {
        Ok(self
            .channels()
            .await?
            .into_iter()
            .map(api_channel)
            .collect())
    }

    async fn channel_of_key(&self, key_hash: &[u8]) -> Result<ApiChannel, RepoError> {
        Ok(api_channel(self.channel_by_key(key_hash).await?))
    }

    async fn remove_channel(&self, id: &str) -> Result<(), RepoError> {
        Ok(self.delete_channel(id).await?)
    }

    async fn user_of_hash(
        &self,
        channel_id: &str,
        external_hash: &[u8],
    ) -> Result<Option<ChannelUser>, RepoError> {
        Ok(self
            .channel_user(channel_id, external_hash)
            .await?
            .map(channel_user))
    }

    async fn user_of_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<ChannelUser>, RepoError> {
        Ok(self
            .channel_user_of(conversation_id)
            .await?
            .map(channel_user))
    }

    async fn save_user(&self, user: &ChannelUser) -> Result<(), RepoError> {
        let row = ChannelUserRow {
            channel_id: user.channel_id.clone(),
            external_hash: user.external_hash.clone(),
            sealed_external: user.sealed_external.clone(),
            visitor_id: user.visitor_id.clone(),
            conversation_id: user.conversation_id.clone(),
            last_inbound_at: user.last_inbound_at,
            replies: 0,
        };
        Ok(self.save_channel_user(&row).await?)
    }
}

fn api_channel(row: ChannelRow) -> ApiChannel {
    ApiChannel {
        id: row.id,
        name: row.name,
        key_hash: row.key_hash,
        reply_limit: row.reply_limit,
        reply_window_ms: row.reply_window_ms,
        created_by: row.created_by,
        created_at: row.created_at,
    }
}

fn channel_user(row: ChannelUserRow) -> ChannelUser {
    ChannelUser {
        channel_id: row.channel_id,
        external_hash: row.external_hash,
        sealed_external: row.sealed_external,
        visitor_id: row.visitor_id,
        conversation_id: row.conversation_id,
        last_inbound_at: row.last_inbound_at,
    }
}
