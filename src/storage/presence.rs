//! Visits (presence on the shop's pages), invitation rules and invitations.

use super::outbox::write_events;
use super::{Store, StoreError, on_pool};
use crate::domain::events::NewEvent;
use crate::domain::presence::{EndingVisit, VisitRecord};
use crate::ports::repositories::{
    InvitationRecords, InvitationTally, RepoError, StoredInvitation, StoredInvitationRule,
    VisitRecords,
};

/// The row as stored: the state sealed (migration 0018).
#[derive(sqlx::FromRow)]
struct SealedVisitRow {
    id: String,
    browser_id: String,
    visitor_id: Option<String>,
    is_returning: bool,
    started_at: i64,
    last_seen_at: i64,
    sealed_state: Option<Vec<u8>>,
    vip: bool,
}

/// Associated data of a visit's sealed state: the row, so a state copied to
/// another visit does not open.
pub(super) fn visit_aad(id: &str) -> String {
    format!("visit:{id}:state")
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRuleRow {
    pub id: String,
    pub priority: i64,
    pub enabled: bool,
    /// JSON of domain::invitation::InvitationRule.
    pub rule: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: String,
    pub visit_id: String,
    pub browser_id: String,
    pub rule_id: Option<String>,
    pub agent_id: Option<String>,
    pub greeting: String,
    pub status: String,
    pub conversation_id: Option<String>,
    pub created_at: i64,
}

/// Shown and accepted invitations of one rule, and the accepted ones whose
/// chat turned into a paid order (a conversion, `services::conversion`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleCounts {
    /// None: the invitations agents sent themselves from the visitor list.
    pub rule_id: Option<String>,
    pub shown: i64,
    pub accepted: i64,
    pub converted: i64,
}

/// Visits with their visitor's VIP mark, as one table to select from.
const VISITS: &str = "(SELECT v.id, v.key_hash, v.browser_id, v.visitor_id, v.is_returning, v.started_at, \
     v.last_seen_at, v.sealed_state, COALESCE(vi.vip, FALSE) AS vip \
     FROM visits v LEFT JOIN visitors vi ON vi.id = v.visitor_id) AS x";
const VISIT_COLUMNS: &str =
    "id, browser_id, visitor_id, is_returning, started_at, last_seen_at, sealed_state, vip";
const INVITATION_COLUMNS: &str =
    "id, visit_id, browser_id, rule_id, agent_id, greeting, status, conversation_id, created_at";

impl Store {
    /// Opens the sealed state at the storage edge: callers see plain JSON.
    fn open_visit(&self, row: SealedVisitRow) -> Result<VisitRecord, StoreError> {
        let sealed = row.sealed_state.ok_or(StoreError::Sealed)?;
        let state = self
            .sealer()
            .open_text(&sealed, &visit_aad(&row.id))
            .map_err(|_| StoreError::Sealed)?;
        Ok(VisitRecord {
            id: row.id,
            browser_id: row.browser_id,
            visitor_id: row.visitor_id,
            is_returning: row.is_returning,
            started_at: row.started_at,
            last_seen_at: row.last_seen_at,
            state,
            vip: row.vip,
        })
    }

    pub async fn visit_by_key(&self, key_hash: &[u8]) -> Result<Option<VisitRecord>, StoreError> {
        let sql = format!("SELECT {VISIT_COLUMNS} FROM {VISITS} WHERE key_hash = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, SealedVisitRow>(sqlx::AssertSqlSafe(sql))
            .bind(key_hash).fetch_optional(pool).await?);
        row.map(|r| self.open_visit(r)).transpose()
    }

    pub async fn visit(&self, id: &str) -> Result<VisitRecord, StoreError> {
        let sql = format!("SELECT {VISIT_COLUMNS} FROM {VISITS} WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, SealedVisitRow>(sqlx::AssertSqlSafe(sql))
            .bind(id).fetch_optional(pool).await?);
        self.open_visit(row.ok_or(StoreError::NotFound)?)
    }

    /// Whether this browser had a visit that started at or before `before`.
    pub async fn browser_seen_before(
        &self,
        browser_id: &str,
        before: i64,
    ) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM visits WHERE browser_id = $1 AND started_at <= $2";
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(browser_id).bind(before).fetch_one(pool).await?);
        Ok(n > 0)
    }

    /// A new visit, with its `visit.started` event in the same transaction.
    pub async fn insert_visit(
        &self,
        row: &VisitRecord,
        key_hash: &[u8],
        started: &NewEvent,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO visits (id, key_hash, browser_id, visitor_id, is_returning, started_at, last_seen_at, state, sealed_state) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8)";
        let sealed = self.sealer().seal_text(&row.state, &visit_aad(&row.id));
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            sqlx::query(sql)
                .bind(&row.id).bind(key_hash).bind(&row.browser_id).bind(&row.visitor_id)
                .bind(row.is_returning).bind(row.started_at).bind(row.last_seen_at).bind(&sealed)
                .execute(&mut *tx).await.map_err(StoreError::from_insert)?;
            write_events!(backend, tx, std::slice::from_ref(started));
            tx.commit().await?;
        });
        self.events_committed();
        Ok(())
    }

    /// Names the chat opened from a visit (its first) and the chat's visitor,
    /// with the chat's `conversation.attributed` event, in one transaction.
    /// False, and nothing written, when the visit has a chat already or is
    /// another visitor's.
    pub async fn attribute_visit(
        &self,
        visit_id: &str,
        visitor_id: &str,
        conversation_id: &str,
        attributed: &NewEvent,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE visits SET visitor_id = $2, conversation_id = $3 \
                   WHERE id = $1 AND conversation_id IS NULL AND (visitor_id IS NULL OR visitor_id = $2)";
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            let linked = sqlx::query(sql).bind(visit_id).bind(visitor_id).bind(conversation_id)
                .execute(&mut *tx).await?.rows_affected();
            if linked == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            write_events!(backend, tx, std::slice::from_ref(attributed));
            tx.commit().await?;
        });
        self.events_committed();
        Ok(true)
    }

    /// Visits not ended whose last heartbeat is older than `before`, oldest
    /// first, with their state opened (None when it no longer opens).
    pub async fn visits_to_end(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<EndingVisit>, StoreError> {
        let sql = "SELECT id, is_returning, started_at, last_seen_at, sealed_state FROM visits \
                   WHERE ended_at IS NULL AND last_seen_at < $1 ORDER BY last_seen_at LIMIT $2";
        type Row = (String, bool, i64, i64, Option<Vec<u8>>);
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(before).bind(limit).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, is_returning, started_at, last_seen_at, sealed)| {
                let state = sealed.and_then(|s| self.sealer().open_text(&s, &visit_aad(&id)).ok());
                EndingVisit {
                    id,
                    is_returning,
                    started_at,
                    last_seen_at,
                    state,
                }
            })
            .collect())
    }

    /// Ends a visit at its last heartbeat, with its `visit.ended` event, once:
    /// false when another node ended it first.
    pub async fn end_visit(&self, id: &str, ended: &NewEvent) -> Result<bool, StoreError> {
        let sql = "UPDATE visits SET ended_at = last_seen_at WHERE id = $1 AND ended_at IS NULL";
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            if sqlx::query(sql).bind(id).execute(&mut *tx).await?.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            write_events!(backend, tx, std::slice::from_ref(ended));
            tx.commit().await?;
        });
        self.events_committed();
        Ok(true)
    }

    /// A heartbeat: the visit is seen now, with its state when it changed.
    pub async fn touch_visit(
        &self,
        id: &str,
        now: i64,
        state: Option<&str>,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE visits SET last_seen_at = $2, sealed_state = COALESCE($3, sealed_state) WHERE id = $1";
        let sealed = state.map(|s| self.sealer().seal_text(s, &visit_aad(id)));
        on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(now).bind(sealed).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Many visits seen (heartbeats that changed nothing else), in one
    /// transaction; a newer time already written is kept.
    pub async fn touch_visits(&self, seen: &[(String, i64)]) -> Result<(), StoreError> {
        if seen.is_empty() {
            return Ok(());
        }
        let sql = "UPDATE visits SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for (id, at) in seen {
                sqlx::query(sql).bind(id).bind(at).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn link_visit_to_visitor(
        &self,
        id: &str,
        visitor_id: &str,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE visits SET visitor_id = $2 WHERE id = $1";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(visitor_id).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// The visit a chat was opened from (`attribute_visit`), if any.
    pub async fn visit_of_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<VisitRecord>, StoreError> {
        let sql = format!(
            "SELECT {VISIT_COLUMNS} FROM {VISITS} WHERE id = (SELECT id FROM visits WHERE conversation_id = $1 LIMIT 1)"
        );
        let row = on_pool!(self, pool => sqlx::query_as::<_, SealedVisitRow>(sqlx::AssertSqlSafe(sql))
            .bind(conversation_id).fetch_optional(pool).await?);
        row.map(|r| self.open_visit(r)).transpose()
    }

    /// Visits seen at or after `since`, newest activity first.
    pub async fn visits_seen_since(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<VisitRecord>, StoreError> {
        let sql = format!(
            "SELECT {VISIT_COLUMNS} FROM {VISITS} WHERE last_seen_at >= $1 ORDER BY last_seen_at DESC LIMIT $2"
        );
        let rows = on_pool!(self, pool => sqlx::query_as::<_, SealedVisitRow>(sqlx::AssertSqlSafe(sql))
            .bind(since).bind(limit).fetch_all(pool).await?);
        rows.into_iter().map(|r| self.open_visit(r)).collect()
    }

    /// The visits linked to a visitor, newest first.
    pub async fn visits_of_visitor(
        &self,
        visitor_id: &str,
        limit: i64,
    ) -> Result<Vec<VisitRecord>, StoreError> {
        let sql = format!(
            "SELECT {VISIT_COLUMNS} FROM {VISITS} WHERE visitor_id = $1 ORDER BY last_seen_at DESC, id LIMIT $2"
        );
        let rows = on_pool!(self, pool => sqlx::query_as::<_, SealedVisitRow>(sqlx::AssertSqlSafe(sql))
            .bind(visitor_id).bind(limit).fetch_all(pool).await?);
        rows.into_iter().map(|r| self.open_visit(r)).collect()
    }

    pub async fn insert_invitation_rule(
        &self,
        row: &InvitationRuleRow,
        name: &str,
        created_by: &str,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO invitation_rules (id, name, enabled, priority, rule, created_by, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(name).bind(row.enabled).bind(row.priority).bind(&row.rule)
            .bind(created_by).bind(row.created_at)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    /// Every rule, in the order they are tried.
    pub async fn invitation_rules(&self) -> Result<Vec<InvitationRuleRow>, StoreError> {
        let sql = "SELECT id, priority, enabled, rule, created_at FROM invitation_rules \
                   ORDER BY priority, created_at, id";
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, InvitationRuleRow>(sql)
            .fetch_all(pool).await?),
        )
    }

    /// Replaces a rule's name, switch, priority and body; its id, author and
    /// creation time stay. The rule's creation time, or NotFound.
    pub async fn update_invitation_rule(
        &self,
        id: &str,
        name: &str,
        enabled: bool,
        priority: i64,
        rule: &str,
    ) -> Result<i64, StoreError> {
        let sql = "UPDATE invitation_rules SET name = $2, enabled = $3, priority = $4, rule = $5 \
                   WHERE id = $1 RETURNING created_at";
        let created_at = on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql)
            .bind(id).bind(name).bind(enabled).bind(priority).bind(rule)
            .fetch_optional(pool).await?);
        created_at.ok_or(StoreError::NotFound)
    }

    pub async fn delete_invitation_rule(&self, id: &str) -> Result<(), StoreError> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM invitation_rules WHERE id = $1")
            .bind(id).execute(pool).await?.rows_affected());
        if done == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// The counts of each rule, and of the agents' own invitations as one more line.
    pub async fn rule_counts(&self) -> Result<Vec<RuleCounts>, StoreError> {
        let sql = "SELECT rule_id, \
                   SUM(CASE WHEN shown_at IS NOT NULL THEN 1 ELSE 0 END) AS shown, \
                   SUM(CASE WHEN status = 'accepted' THEN 1 ELSE 0 END) AS accepted, \
                   SUM(CASE WHEN status = 'accepted' AND EXISTS (SELECT 1 FROM conversions x \
                       WHERE x.conversation_id = invitations.conversation_id) THEN 1 ELSE 0 END) AS converted \
                   FROM invitations GROUP BY rule_id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RuleCounts>(sql).fetch_all(pool).await?))
    }

    pub async fn insert_invitation(&self, row: &InvitationRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO invitations (id, visit_id, browser_id, rule_id, agent_id, greeting, status, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.visit_id).bind(&row.browser_id).bind(&row.rule_id)
            .bind(&row.agent_id).bind(&row.greeting).bind(&row.status).bind(row.created_at)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    pub async fn invitation(&self, id: &str) -> Result<InvitationRow, StoreError> {
        let sql = format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, InvitationRow>(sqlx::AssertSqlSafe(sql))
            .bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    /// The newest invitation of the visit not yet delivered to its page.
    pub async fn pending_invitation(
        &self,
        visit_id: &str,
    ) -> Result<Option<InvitationRow>, StoreError> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE visit_id = $1 AND status = 'pending' \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, InvitationRow>(sqlx::AssertSqlSafe(sql))
            .bind(visit_id).fetch_optional(pool).await?),
        )
    }

    /// Whether the visit has an invitation shown or waiting, not yet answered.
    pub async fn open_invitations(&self, visit_id: &str) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM invitations WHERE visit_id = $1 AND status IN ('pending', 'shown')";
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(visit_id).fetch_one(pool).await?);
        Ok(n)
    }

    pub async fn mark_invitation_shown(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let sql = "UPDATE invitations SET status = 'shown', shown_at = $2 WHERE id = $1 AND status = 'pending'";
        on_pool!(self, pool => sqlx::query(sql).bind(id).bind(now).execute(pool).await.map(|_| ())?);
        Ok(())
    }

    /// Accepts or declines an invitation still open; Refused when it was answered.
    pub async fn answer_invitation(
        &self,
        id: &str,
        status: &str,
        conversation_id: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE invitations SET status = $2, conversation_id = $3, answered_at = $4, \
                   shown_at = COALESCE(shown_at, $4) WHERE id = $1 AND status IN ('pending', 'shown')";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(status).bind(conversation_id).bind(now).execute(pool).await?.rows_affected());
        if done == 0 {
            Err(StoreError::Refused {
                state: "answered".into(),
                agent_id: None,
            })
        } else {
            Ok(())
        }
    }

    /// Invitations of a rule to this visit, and to this browser since `since`.
    pub async fn rule_invitations(
        &self,
        rule_id: &str,
        visit_id: &str,
        browser_id: &str,
        since: i64,
    ) -> Result<(i64, i64), StoreError> {
        let sql = "SELECT \
                   SUM(CASE WHEN visit_id = $2 THEN 1 ELSE 0 END), \
                   SUM(CASE WHEN browser_id = $3 AND created_at >= $4 THEN 1 ELSE 0 END) \
                   FROM invitations WHERE rule_id = $1 AND (visit_id = $2 OR browser_id = $3)";
        let (visit, day): (Option<i64>, Option<i64>) = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(rule_id).bind(visit_id).bind(browser_id).bind(since).fetch_one(pool).await?);
        Ok((visit.unwrap_or(0), day.unwrap_or(0)))
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::ShoppingHistory for Store {
    async fn visits_of(
        &self,
        visitor_id: &str,
        limit: i64,
    ) -> Result<Vec<crate::domain::presence::VisitState>, crate::ports::repositories::RepoError>
    {
        Ok(visit_states(
            Store::visits_of_visitor(self, visitor_id, limit).await?,
        ))
    }

    async fn visits_since(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<crate::domain::presence::VisitState>, crate::ports::repositories::RepoError>
    {
        Ok(visit_states(
            Store::visits_seen_since(self, since, limit).await?,
        ))
    }

    async fn buyer_context(
        &self,
        visitor_id: &str,
    ) -> Result<crate::ports::repositories::BuyerContext, crate::ports::repositories::RepoError>
    {
        let visitor = Store::visitor(self, visitor_id).await?;
        Ok(crate::ports::repositories::BuyerContext {
            context: visitor
                .context
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok()),
            shop_account_id: visitor.shop_account_id,
        })
    }
}

/// The visits' states that read back.
fn visit_states(rows: Vec<VisitRecord>) -> Vec<crate::domain::presence::VisitState> {
    rows.iter()
        .filter_map(|row| serde_json::from_str(&row.state).ok())
        .collect()
}

impl From<InvitationRuleRow> for StoredInvitationRule {
    fn from(row: InvitationRuleRow) -> Self {
        StoredInvitationRule {
            id: row.id,
            priority: row.priority,
            enabled: row.enabled,
            rule: row.rule,
            created_at: row.created_at,
        }
    }
}

impl From<InvitationRow> for StoredInvitation {
    fn from(row: InvitationRow) -> Self {
        StoredInvitation {
            id: row.id,
            visit_id: row.visit_id,
            browser_id: row.browser_id,
            rule_id: row.rule_id,
            agent_id: row.agent_id,
            greeting: row.greeting,
            status: row.status,
            conversation_id: row.conversation_id,
            created_at: row.created_at,
        }
    }
}

impl From<RuleCounts> for InvitationTally {
    fn from(row: RuleCounts) -> Self {
        InvitationTally {
            rule_id: row.rule_id,
            shown: row.shown,
            accepted: row.accepted,
            converted: row.converted,
        }
    }
}

#[async_trait::async_trait]
impl VisitRecords for Store {
    async fn by_key(&self, key_hash: &[u8]) -> Result<Option<VisitRecord>, RepoError> {
        Ok(Store::visit_by_key(self, key_hash).await?)
    }

    async fn visit(&self, id: &str) -> Result<VisitRecord, RepoError> {
        Ok(Store::visit(self, id).await?)
    }

    async fn browser_seen(&self, browser_id: &str, before: i64) -> Result<bool, RepoError> {
        Ok(Store::browser_seen_before(self, browser_id, before).await?)
    }

    async fn begin(
        &self,
        visit: &VisitRecord,
        key_hash: &[u8],
        started: &NewEvent,
    ) -> Result<(), RepoError> {
        Ok(Store::insert_visit(self, visit, key_hash, started).await?)
    }

    async fn attribute(
        &self,
        visit_id: &str,
        visitor_id: &str,
        conversation_id: &str,
        attributed: &NewEvent,
    ) -> Result<bool, RepoError> {
        Ok(Store::attribute_visit(self, visit_id, visitor_id, conversation_id, attributed).await?)
    }

    async fn silent(&self, before: i64, limit: i64) -> Result<Vec<EndingVisit>, RepoError> {
        Ok(Store::visits_to_end(self, before, limit).await?)
    }

    async fn end(&self, id: &str, ended: &NewEvent) -> Result<bool, RepoError> {
        Ok(Store::end_visit(self, id, ended).await?)
    }

    async fn touch(&self, id: &str, now: i64, state: Option<&str>) -> Result<(), RepoError> {
        Ok(Store::touch_visit(self, id, now, state).await?)
    }

    async fn touch_all(&self, seen: &[(String, i64)]) -> Result<(), RepoError> {
        Ok(Store::touch_visits(self, seen).await?)
    }

    async fn link_to_visitor(&self, visit_id: &str, visitor_id: &str) -> Result<(), RepoError> {
        Ok(Store::link_visit_to_visitor(self, visit_id, visitor_id).await?)
    }

    async fn of_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Option<VisitRecord>, RepoError> {
        Ok(Store::visit_of_conversation(self, conversation_id).await?)
    }

    async fn seen_since(&self, since: i64, limit: i64) -> Result<Vec<VisitRecord>, RepoError> {
        Ok(Store::visits_seen_since(self, since, limit).await?)
    }

    fn fans_out(&self) -> bool {
        Store::fans_out(self)
    }

    async fn announce(&self, visit_ids: &[String]) -> Result<(), RepoError> {
        Ok(Store::announce_visits(self, visit_ids).await?)
    }

    async fn foreign_changes(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<String>>, RepoError> {
        Ok(Store::foreign_visit_changes(self).await?)
    }
}

#[async_trait::async_trait]
impl InvitationRecords for Store {
    async fn insert_rule(
        &self,
        rule: &StoredInvitationRule,
        name: &str,
        created_by: &str,
    ) -> Result<(), RepoError> {
        let row = InvitationRuleRow {
            id: rule.id.clone(),
            priority: rule.priority,
            enabled: rule.enabled,
            rule: rule.rule.clone(),
            created_at: rule.created_at,
        };
        Ok(Store::insert_invitation_rule(self, &row, name, created_by).await?)
    }

    async fn rules(&self) -> Result<Vec<StoredInvitationRule>, RepoError> {
        let rows = Store::invitation_rules(self).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn update_rule(
        &self,
        id: &str,
        name: &str,
        enabled: bool,
        priority: i64,
        rule: &str,
    ) -> Result<i64, RepoError> {
        Ok(Store::update_invitation_rule(self, id, name, enabled, priority, rule).await?)
    }

    async fn delete_rule(&self, id: &str) -> Result<(), RepoError> {
        Ok(Store::delete_invitation_rule(self, id).await?)
    }

    async fn tallies(&self) -> Result<Vec<InvitationTally>, RepoError> {
        let rows = Store::rule_counts(self).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn insert_invitation(&self, invitation: &StoredInvitation) -> Result<(), RepoError> {
        let row = InvitationRow {
            id: invitation.id.clone(),
            visit_id: invitation.visit_id.clone(),
            browser_id: invitation.browser_id.clone(),
            rule_id: invitation.rule_id.clone(),
            agent_id: invitation.agent_id.clone(),
            greeting: invitation.greeting.clone(),
            status: invitation.status.clone(),
            conversation_id: invitation.conversation_id.clone(),
            created_at: invitation.created_at,
        };
        Ok(Store::insert_invitation(self, &row).await?)
    }

    async fn invitation(&self, id: &str) -> Result<StoredInvitation, RepoError> {
        Ok(Store::invitation(self, id).await?.into())
    }

    async fn pending(&self, visit_id: &str) -> Result<Option<StoredInvitation>, RepoError> {
        Ok(Store::pending_invitation(self, visit_id)
            .await?
            .map(Into::into))
    }

    async fn open_count(&self, visit_id: &str) -> Result<i64, RepoError> {
        Ok(Store::open_invitations(self, visit_id).await?)
    }

    async fn mark_shown(&self, id: &str, now: i64) -> Result<(), RepoError> {
        Ok(Store::mark_invitation_shown(self, id, now).await?)
    }

    async fn answer(
        &self,
        id: &str,
        status: &str,
        conversation_id: Option<&str>,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(Store::answer_invitation(self, id, status, conversation_id, now).await?)
    }

    async fn of_rule(
        &self,
        rule_id: &str,
        visit_id: &str,
        browser_id: &str,
        since: i64,
    ) -> Result<(i64, i64), RepoError> {
        Ok(Store::rule_invitations(self, rule_id, visit_id, browser_id, since).await?)
    }
}
