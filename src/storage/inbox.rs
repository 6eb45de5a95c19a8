//! What a chat list shows of each conversation: the buyer's name, the last
//! message and how many buyer messages a reader has not read.

use super::conversations::{EventColumns, stored_event};
use super::{Store, StoreError, StoredEvent, on_pool};

#[derive(Debug, Clone)]
pub struct ChatGlanceRow {
    pub nickname: Option<String>,
    pub last_message: Option<StoredEvent>,
    pub unread: i64,
}

impl Store {
    pub async fn chat_glance(
        &self,
        conversation_id: &str,
        visitor_id: &str,
        reader: &str,
    ) -> Result<ChatGlanceRow, StoreError> {
        let nickname: Option<(Option<Vec<u8>>,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT sealed_nickname FROM visitors WHERE id = $1")
            .bind(visitor_id).fetch_optional(pool).await?);
        let nickname = self.open_opt(
            nickname.and_then(|n| n.0).as_deref(),
            &super::privacy::visitor_aad(visitor_id, "nickname"),
        )?;
        let last_sql = "SELECT conversation_id, seq, kind, sender_kind, sender_id, client_msg_id, body, created_at \
                        FROM events WHERE conversation_id = $1 AND kind = 'message' ORDER BY seq DESC LIMIT 1";
        let last_message = on_pool!(self, pool => sqlx::query_as::<_, EventColumns>(last_sql)
            .bind(conversation_id).fetch_optional(pool).await?)
        .map(stored_event);
        let unread_sql = "SELECT COUNT(*) FROM events WHERE conversation_id = $1 AND kind = 'message' \
                          AND sender_kind = 'buyer' AND seq > COALESCE((SELECT seq FROM read_markers \
                          WHERE conversation_id = $1 AND reader = $2), 0)";
        let (unread,): (i64,) = on_pool!(self, pool => sqlx::query_as(unread_sql)
            .bind(conversation_id).bind(reader).fetch_one(pool).await?);
        Ok(ChatGlanceRow {
            nickname,
            last_message,
            unread,
        })
    }
}
