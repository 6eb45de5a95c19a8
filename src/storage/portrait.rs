//! The buyer profile's service history: counts over the buyer's own chats,
//! tickets and ratings (indexed by visitor); and the tags staff set by hand on
//! a buyer account (by the account's blind index).

use super::{Store, StoreError, on_pool};
use crate::domain::portrait::{HandTagView, PastChat, PastTicket, RECENT_LISTED, ServiceHistory};
use crate::ports::repositories::{BuyerRecords, RepoError};

/// A tag set by hand on a buyer account.
#[derive(Debug, Clone)]
pub struct BuyerTagRow {
    pub tag: String,
    pub created_by: String,
    pub created_at: i64,
}

impl Store {
    /// The visitor's conversations, tickets and ratings; ratings of
    /// `low_stars` or fewer since `since` counted apart; the latest chats
    /// other than `current` and the latest tickets listed.
    pub async fn service_history(
        &self,
        visitor_id: &str,
        current: &str,
        since: i64,
        low_stars: i64,
    ) -> Result<ServiceHistory, StoreError> {
        let chats = "SELECT COUNT(*), MAX(created_at) FROM conversations WHERE visitor_id = $1";
        let (conversations, last_contact_at): (i64, Option<i64>) = on_pool!(self, pool =>
            sqlx::query_as(chats).bind(visitor_id).fetch_one(pool).await)?;
        let tickets = "SELECT COUNT(*), COALESCE(SUM(CASE WHEN state IN ('resolved', 'closed') THEN 0 ELSE 1 END), 0) \
                       FROM tickets WHERE visitor_id = $1";
        let (tickets, open_tickets): (i64, i64) = on_pool!(self, pool =>
            sqlx::query_as(tickets).bind(visitor_id).fetch_one(pool).await)?;
        let ratings = "SELECT COUNT(*), AVG(CAST(r.stars AS DOUBLE PRECISION)), \
                       COALESCE(SUM(CASE WHEN r.stars <= $3 AND r.created_at >= $2 THEN 1 ELSE 0 END), 0) \
                       FROM csat_ratings r JOIN conversations c ON c.id = r.conversation_id \
                       WHERE c.visitor_id = $1";
        let (ratings, rating_avg, low_ratings_recent): (i64, Option<f64>, i64) = on_pool!(self, pool =>
            sqlx::query_as(ratings).bind(visitor_id).bind(since).bind(low_stars).fetch_one(pool).await)?;
        let past = "SELECT c.id, c.created_at, c.state, c.channel, CAST(r.stars AS BIGINT) FROM conversations c \
                    LEFT JOIN csat_ratings r ON r.conversation_id = c.id \
                    WHERE c.visitor_id = $1 AND c.id <> $2 ORDER BY c.created_at DESC, c.id DESC LIMIT $3";
        let chats: Vec<(String, i64, String, String, Option<i64>)> = on_pool!(self, pool =>
            sqlx::query_as(past).bind(visitor_id).bind(current).bind(RECENT_LISTED).fetch_all(pool).await)?;
        let listed = "SELECT id, number, state, created_at FROM tickets WHERE visitor_id = $1 \
                      ORDER BY created_at DESC, id DESC LIMIT $2";
        let listed: Vec<(String, String, String, i64)> = on_pool!(self, pool =>
            sqlx::query_as(listed).bind(visitor_id).bind(RECENT_LISTED).fetch_all(pool).await)?;
        Ok(ServiceHistory {
            conversations,
            last_contact_at,
            tickets,
            open_tickets,
            ratings,
            rating_avg,
            low_ratings_recent,
            recent_chats: chats
                .into_iter()
                .map(|(id, started_at, state, channel, stars)| PastChat {
                    id,
                    started_at,
                    state,
                    channel,
                    stars,
                })
                .collect(),
            recent_tickets: listed
                .into_iter()
                .map(|(id, number, state, created_at)| PastTicket {
                    id,
                    number,
                    state,
                    created_at,
                })
                .collect(),
        })
    }
}

/// Purpose of the tags' blind index (one per purpose, see `crypto`).
const TAG_INDEX: &str = "buyer_tags.tag";

/// What a sealed tag is bound to: its row.
pub(super) fn tag_aad(id: &str) -> String {
    format!("buyer_tag:{id}")
}

impl Store {
    /// The tags set by hand on the account, oldest first.
    pub async fn buyer_tags(&self, account: &str) -> Result<Vec<BuyerTagRow>, StoreError> {
        let index = self.account_index(Some(account));
        let sql = "SELECT id, sealed_tag, created_by, created_at FROM buyer_tags \
                   WHERE account_index = $1 ORDER BY created_at, id";
        let rows: Vec<(String, Vec<u8>, String, i64)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(&index).fetch_all(pool).await?);
        rows.into_iter()
            .map(|(id, sealed, created_by, created_at)| {
                Ok(BuyerTagRow {
                    tag: self
                        .sealer()
                        .open_text(&sealed, &tag_aad(&id))
                        .map_err(|_| StoreError::Sealed)?,
                    created_by,
                    created_at,
                })
            })
            .collect()
    }

    /// Adds the tag (a tag already there stays as it was).
    pub async fn add_buyer_tag(
        &self,
        account: &str,
        tag: &str,
        by: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let index = self.account_index(Some(account));
        let id = uuid::Uuid::now_v7().to_string();
        let tag_index = self.sealer().blind_index(TAG_INDEX, tag);
        let sealed = self.sealer().seal_text(tag, &tag_aad(&id));
        let sql = "INSERT INTO buyer_tags (id, account_index, tag_index, sealed_tag, created_by, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_index, tag_index) DO NOTHING";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&id).bind(&index).bind(&tag_index).bind(&sealed).bind(by).bind(now)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// True when the tag was there.
    pub async fn remove_buyer_tag(&self, account: &str, tag: &str) -> Result<bool, StoreError> {
        let index = self.account_index(Some(account));
        let tag_index = self.sealer().blind_index(TAG_INDEX, tag);
        let sql = "DELETE FROM buyer_tags WHERE account_index = $1 AND tag_index = $2";
        let n = on_pool!(self, pool => sqlx::query(sql)
            .bind(&index).bind(&tag_index).execute(pool).await?.rows_affected());
        Ok(n > 0)
    }
}

#[async_trait::async_trait]
impl BuyerRecords for Store {
    async fn service_history(
        &self,
        visitor_id: &str,
        current: &str,
        since: i64,
        low_stars: i64,
    ) -> Result<ServiceHistory, RepoError> {
        Ok(Store::service_history(self, visitor_id, current, since, low_stars).await?)
    }

    async fn is_vip(&self, conversation_id: &str) -> Result<bool, RepoError> {
        Ok(self.visitor_is_vip(conversation_id).await?)
    }

    async fn hand_tags(&self, account: &str) -> Result<Vec<HandTagView>, RepoError> {
        Ok(self
            .buyer_tags(account)
            .await?
            .into_iter()
            .map(|r| HandTagView {
                tag: r.tag,
                by: r.created_by,
                at: r.created_at,
            })
            .collect())
    }

    async fn add_hand_tag(
        &self,
        account: &str,
        tag: &str,
        by: &str,
        at: i64,
    ) -> Result<(), RepoError> {
        Ok(self.add_buyer_tag(account, tag, by, at).await?)
    }

    async fn remove_hand_tag(&self, account: &str, tag: &str) -> Result<bool, RepoError> {
        Ok(self.remove_buyer_tag(account, tag).await?)
    }
}
