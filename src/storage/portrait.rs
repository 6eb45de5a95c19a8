//! The buyer profile's service history: counts over the buyer's own chats,
//! tickets and ratings (indexed by visitor).

use super::{Store, StoreError, on_pool};
use crate::domain::portrait::ServiceHistory;

impl Store {
    /// The visitor's conversations, tickets and ratings; ratings of
    /// `low_stars` or fewer since `since` counted apart.
    pub async fn service_history(
        &self,
        visitor_id: &str,
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
        Ok(ServiceHistory {
            conversations,
            last_contact_at,
            tickets,
            open_tickets,
            ratings,
            rating_avg,
            low_ratings_recent,
        })
    }
}
