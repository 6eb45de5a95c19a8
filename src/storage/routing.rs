//! Skill groups, memberships, routing rules, presence and the waiting queue.

use super::outbox::write_events;
use super::{Backend, Store, StoreError, on_pool};
use crate::domain::events::{EventData, NewEvent};
use crate::domain::routing::RouteRule;
use crate::ports::repositories::{
    AgentLoad, GroupMember, OpenChatTimes, RepoError, SkillGroupRecords, StoredGroup,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub strategy: String,
    pub is_default: bool,
    pub overflow_group_id: Option<String>,
    pub overflow_after_ms: Option<i64>,
    pub created_at: i64,
    pub alert_waiting: Option<i64>,
    pub alert_wait_ms: Option<i64>,
    /// When the group's queue alert was raised (None: no alert stands).
    pub alert_since: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub group_id: String,
    pub agent_id: String,
    pub level: i64,
    pub weight: i64,
    pub assigned: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleRow {
    pub id: String,
    pub match_kind: String,
    pub pattern: String,
    pub group_id: String,
    pub priority: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueueRow {
    pub conversation_id: String,
    pub group_id: String,
    pub vip: bool,
    pub first_enqueued_at: i64,
    pub group_since: i64,
}

/// An agent with presence, load and capacity (the supervisor board, the console).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgentLoadRow {
    pub agent_id: String,
    pub display_name: String,
    pub status: String,
    pub active: i64,
    pub max_chats: i64,
    pub last_assigned_at: i64,
}

/// An open chat for the supervisor board; times from the unencrypted event columns.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveChatRow {
    pub conversation_id: String,
    pub state: String,
    pub agent_id: Option<String>,
    pub group_id: Option<String>,
    pub queued_since: Option<i64>,
    pub last_buyer_at: Option<i64>,
    pub last_agent_at: Option<i64>,
    /// The buyer message the agent last answered, and the agent's first answer to it.
    pub answered_buyer_at: Option<i64>,
    pub reply_at: Option<i64>,
}

const GROUP_COLUMNS: &str = "id, name, strategy, is_default, overflow_group_id, overflow_after_ms, created_at, \
    alert_waiting, alert_wait_ms, alert_since";
/// The queue's order: VIPs first, then whoever has waited longest.
pub(super) const QUEUE_ORDER: &str = "vip DESC, first_enqueued_at ASC, conversation_id ASC";

impl Store {
    pub async fn insert_group(&self, group: &GroupRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO skill_groups (id, name, strategy, is_default, overflow_group_id, overflow_after_ms, created_at, \
                   alert_waiting, alert_wait_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&group.id).bind(&group.name).bind(&group.strategy).bind(group.is_default)
            .bind(&group.overflow_group_id).bind(group.overflow_after_ms).bind(group.created_at)
            .bind(group.alert_waiting).bind(group.alert_wait_ms)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    /// Changes strategy, overflow and alert thresholds; the name, the default
    /// flag and a standing alert stay (the sweeper decides again).
    pub async fn update_group(&self, group: &GroupRow) -> Result<(), StoreError> {
        let sql = "UPDATE skill_groups SET strategy = $2, overflow_group_id = $3, overflow_after_ms = $4, \
                   alert_waiting = $5, alert_wait_ms = $6 WHERE id = $1";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(&group.id).bind(&group.strategy).bind(&group.overflow_group_id).bind(group.overflow_after_ms)
            .bind(group.alert_waiting).bind(group.alert_wait_ms)
            .execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Raises (`since` Some) or clears (None) a group's queue alert with its
    /// event, if no other node did first; false when one did.
    async fn set_group_alert(
        &self,
        id: &str,
        since: Option<i64>,
        event: &NewEvent,
    ) -> Result<bool, StoreError> {
        let sql = match since {
            Some(_) => {
                "UPDATE skill_groups SET alert_since = $2 WHERE id = $1 AND alert_since IS NULL"
            }
            None => {
                "UPDATE skill_groups SET alert_since = $2 WHERE id = $1 AND alert_since IS NOT NULL"
            }
        };
        let backend = self.backend();
        let changed = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            let changed = sqlx::query(sql).bind(id).bind(since).execute(&mut *tx).await?.rows_affected() > 0;
            if changed {
                write_events!(backend, tx, std::slice::from_ref(event));
            }
            tx.commit().await?;
            changed
        });
        if changed {
            self.events_committed();
        }
        Ok(changed)
    }

    pub async fn groups(&self) -> Result<Vec<GroupRow>, StoreError> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM skill_groups ORDER BY name");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, GroupRow>(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_all(pool).await?),
        )
    }

    pub async fn group(&self, id: &str) -> Result<GroupRow, StoreError> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM skill_groups WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, GroupRow>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub async fn default_group(&self) -> Result<Option<GroupRow>, StoreError> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM skill_groups WHERE is_default");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, GroupRow>(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_optional(pool).await?),
        )
    }

    /// Adds the agent to the group or changes their level and weight.
    pub async fn upsert_member(&self, member: &MemberRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO group_members (group_id, agent_id, level, weight, assigned) VALUES ($1, $2, $3, $4, 0) \
                   ON CONFLICT (group_id, agent_id) DO UPDATE SET level = excluded.level, weight = excluded.weight";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&member.group_id).bind(&member.agent_id).bind(member.level).bind(member.weight)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::Database)
    }

    pub async fn remove_member(&self, group_id: &str, agent_id: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM group_members WHERE group_id = $1 AND agent_id = $2";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(group_id).bind(agent_id).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn members(&self, group_id: &str) -> Result<Vec<MemberRow>, StoreError> {
        let sql = "SELECT group_id, agent_id, level, weight, assigned FROM group_members \
                   WHERE group_id = $1 ORDER BY agent_id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, MemberRow>(sql)
            .bind(group_id).fetch_all(pool).await?))
    }

    pub async fn groups_of(&self, agent_id: &str) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT group_id FROM group_members WHERE agent_id = $1 ORDER BY group_id";
        let rows: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(agent_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(g,)| g).collect())
    }

    pub async fn insert_rule(&self, rule: &RuleRow, now: i64) -> Result<(), StoreError> {
        let sql = "INSERT INTO routing_rules (id, match_kind, pattern, group_id, priority, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&rule.id).bind(&rule.match_kind).bind(&rule.pattern).bind(&rule.group_id)
            .bind(rule.priority).bind(now).execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    pub async fn delete_rule(&self, id: &str) -> Result<(), StoreError> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM routing_rules WHERE id = $1")
            .bind(id).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn rules(&self) -> Result<Vec<RuleRow>, StoreError> {
        let sql = "SELECT id, match_kind, pattern, group_id, priority FROM routing_rules ORDER BY created_at, id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RuleRow>(sql).fetch_all(pool).await?))
    }

    /// Sets an agent's presence; a change (not the same status again) is
    /// reported by an `agent.presence_changed` event in the same transaction.
    pub async fn set_presence(
        &self,
        agent_id: &str,
        status: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let current = "SELECT status FROM agent_presence WHERE agent_id = $1";
        let sql = "INSERT INTO agent_presence (agent_id, status, last_assigned_at, updated_at) VALUES ($1, $2, 0, $3) \
                   ON CONFLICT (agent_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at";
        let event = NewEvent {
            id: format!("evt_presence_{}", uuid::Uuid::now_v7().simple()),
            conversation_id: None,
            seq: None,
            data: EventData::PresenceChanged {
                agent_id: agent_id.to_owned(),
                status: status.to_owned(),
            },
            created_at: now,
        };
        let backend = self.backend();
        let changed = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            let before: Option<(String,)> = sqlx::query_as(current)
                .bind(agent_id).fetch_optional(&mut *tx).await?;
            let changed = before.map_or(status != "offline", |(s,)| s != status);
            sqlx::query(sql).bind(agent_id).bind(status).bind(now).execute(&mut *tx).await?;
            if changed {
                write_events!(backend, tx, std::slice::from_ref(&event));
            }
            tx.commit().await?;
            changed
        });
        if changed {
            self.events_committed();
        }
        Ok(())
    }

    /// Every chat-handling account with its presence (offline when never set) and load.
    pub async fn agent_loads(&self) -> Result<Vec<AgentLoadRow>, StoreError> {
        let sql = "SELECT u.id AS agent_id, u.display_name, COALESCE(p.status, 'offline') AS status, \
                   (SELECT COUNT(*) FROM conversations c WHERE c.agent_id = u.id AND c.state = 'with_agent') AS active, \
                   u.max_chats, COALESCE(p.last_assigned_at, 0) AS last_assigned_at \
                   FROM staff_users u LEFT JOIN agent_presence p ON p.agent_id = u.id \
                   WHERE NOT u.disabled AND u.role <> 'knowledge_manager' ORDER BY u.username";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AgentLoadRow>(sql).fetch_all(pool).await?))
    }

    pub async fn visitor_is_vip(&self, conversation_id: &str) -> Result<bool, StoreError> {
        let sql = "SELECT v.vip FROM conversations c JOIN visitors v ON v.id = c.visitor_id WHERE c.id = $1";
        let row: Option<(bool,)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(conversation_id).fetch_optional(pool).await?);
        row.map(|(vip,)| vip).ok_or(StoreError::NotFound)
    }

    pub async fn set_visitor_vip(&self, visitor_id: &str, vip: bool) -> Result<(), StoreError> {
        let done = on_pool!(self, pool => sqlx::query("UPDATE visitors SET vip = $2 WHERE id = $1")
            .bind(visitor_id).bind(vip).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Puts a waiting conversation in a group's queue (or moves it there).
    pub async fn upsert_queue_entry(
        &self,
        entry: &QueueRow,
        overflow_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO queue_entries (conversation_id, group_id, vip, first_enqueued_at, group_since, overflow_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (conversation_id) DO UPDATE SET group_id = excluded.group_id, vip = excluded.vip, \
                   group_since = excluded.group_since, overflow_at = excluded.overflow_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&entry.conversation_id).bind(&entry.group_id).bind(entry.vip)
            .bind(entry.first_enqueued_at).bind(entry.group_since).bind(overflow_at)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::Database)
    }

    pub async fn delete_queue_entry(&self, conversation_id: &str) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM queue_entries WHERE conversation_id = $1")
            .bind(conversation_id).execute(pool).await.map(|_| ()))
        .map_err(StoreError::Database)
    }

    pub async fn queue_entry(&self, conversation_id: &str) -> Result<QueueRow, StoreError> {
        let sql = "SELECT conversation_id, group_id, vip, first_enqueued_at, group_since \
                   FROM queue_entries WHERE conversation_id = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, QueueRow>(sql)
            .bind(conversation_id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    /// A group's queue in serving order.
    pub async fn queue_of(&self, group_id: &str, limit: i64) -> Result<Vec<QueueRow>, StoreError> {
        let sql = format!(
            "SELECT conversation_id, group_id, vip, first_enqueued_at, group_since \
             FROM queue_entries WHERE group_id = $1 ORDER BY {QUEUE_ORDER} LIMIT $2"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, QueueRow>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(group_id).bind(limit).fetch_all(pool).await?),
        )
    }

    /// Groups with someone waiting.
    pub async fn busy_groups(&self) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT DISTINCT group_id FROM queue_entries ORDER BY group_id";
        let rows: Vec<(String,)> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(g,)| g).collect())
    }

    /// Mean wait of the group's last 20 automatic assignments.
    pub async fn recent_mean_wait(&self, group_id: &str) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT CAST(AVG(waited_ms) AS BIGINT) FROM (SELECT waited_ms FROM assignments \
                   WHERE group_id = $1 ORDER BY assigned_at DESC LIMIT 20) recent";
        let sql = match self.backend() {
            Backend::Postgres => sql.to_owned(),
            Backend::Sqlite => sql.replace("BIGINT", "INTEGER"),
        };
        let row: (Option<i64>,) = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(group_id).fetch_one(pool).await?);
        Ok(row.0)
    }

    /// Online members of a group (for the expected-wait estimate).
    pub async fn online_members(&self, group_id: &str) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM group_members m JOIN agent_presence p ON p.agent_id = m.agent_id \
                   WHERE m.group_id = $1 AND p.status = 'online'";
        let (n,): (i64,) =
            on_pool!(self, pool => sqlx::query_as(sql).bind(group_id).fetch_one(pool).await?);
        Ok(n)
    }

    /// Chats waiting or with an agent, most recently active first.
    pub async fn live_chats(&self, limit: i64) -> Result<Vec<LiveChatRow>, StoreError> {
        // The buyer message the agent last answered: the latest buyer message
        // before the agent's latest message.
        const LAST_AGENT_SEQ: &str = "(SELECT COALESCE(MAX(z.seq), 0) FROM events z WHERE z.conversation_id = c.id \
            AND z.kind = 'message' AND z.sender_kind = 'agent')";
        let answered_seq = format!(
            "(SELECT COALESCE(MAX(b.seq), 0) FROM events b WHERE b.conversation_id = c.id \
             AND b.kind = 'message' AND b.sender_kind = 'buyer' AND b.seq < {LAST_AGENT_SEQ})"
        );
        let sql = format!(
            "SELECT c.id AS conversation_id, c.state, c.agent_id, q.group_id, q.first_enqueued_at AS queued_since, \
             (SELECT MAX(e.created_at) FROM events e WHERE e.conversation_id = c.id AND e.kind = 'message' AND e.sender_kind = 'buyer') AS last_buyer_at, \
             (SELECT MAX(e.created_at) FROM events e WHERE e.conversation_id = c.id AND e.kind = 'message' AND e.sender_kind = 'agent') AS last_agent_at, \
             (SELECT e.created_at FROM events e WHERE e.conversation_id = c.id AND e.seq = {answered_seq}) AS answered_buyer_at, \
             (SELECT MIN(a.created_at) FROM events a WHERE a.conversation_id = c.id AND a.kind = 'message' \
              AND a.sender_kind = 'agent' AND a.seq > {answered_seq}) AS reply_at \
             FROM conversations c LEFT JOIN queue_entries q ON q.conversation_id = c.id \
             WHERE c.state IN ('waiting', 'with_agent') ORDER BY c.updated_at DESC LIMIT $1"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, LiveChatRow>(sqlx::AssertSqlSafe(sql.clone())).bind(limit).fetch_all(pool).await?),
        )
    }

    /// Waiting conversations that have no queue entry (a crash between the state
    /// change and the enqueue) go to the default group, so none is lost.
    pub async fn requeue_orphans(
        &self,
        default_group: &str,
        older_than: i64,
    ) -> Result<u64, StoreError> {
        let sql = "INSERT INTO queue_entries (conversation_id, group_id, vip, first_enqueued_at, group_since, overflow_at) \
                   SELECT c.id, $1, FALSE, c.updated_at, c.updated_at, NULL FROM conversations c \
                   WHERE c.state = 'waiting' AND c.updated_at < $2 \
                   AND NOT EXISTS (SELECT 1 FROM queue_entries q WHERE q.conversation_id = c.id) \
                   ON CONFLICT (conversation_id) DO NOTHING";
        Ok(on_pool!(self, pool => sqlx::query(sql)
            .bind(default_group).bind(older_than).execute(pool).await?.rows_affected()))
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::WatchedQueues for Store {
    async fn watched(
        &self,
    ) -> Result<Vec<crate::ports::repositories::WatchedQueue>, crate::ports::repositories::RepoError>
    {
        let mut out = Vec::new();
        for group in self.groups().await? {
            let thresholds = crate::domain::routing::AlertThresholds {
                waiting: group.alert_waiting,
                wait_ms: group.alert_wait_ms,
            };
            if thresholds == Default::default() && group.alert_since.is_none() {
                continue;
            }
            let waiting_since = self
                .queue_of(&group.id, 10_000)
                .await?
                .into_iter()
                .map(|q| q.first_enqueued_at)
                .collect();
            out.push(crate::ports::repositories::WatchedQueue {
                group_id: group.id,
                group_name: group.name,
                thresholds,
                alert_since: group.alert_since,
                waiting_since,
            });
        }
        Ok(out)
    }

    async fn set_alert(
        &self,
        group_id: &str,
        since: Option<i64>,
        event: &NewEvent,
    ) -> Result<bool, crate::ports::repositories::RepoError> {
        Ok(self.set_group_alert(group_id, since, event).await?)
    }

    async fn group_name(
        &self,
        group_id: &str,
    ) -> Result<Option<String>, crate::ports::repositories::RepoError> {
        match self.group(group_id).await {
            Ok(group) => Ok(Some(group.name)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl SkillGroupRecords for Store {
    async fn groups(&self) -> Result<Vec<StoredGroup>, RepoError> {
        Store::groups(self)
            .await?
            .into_iter()
            .map(stored_group)
            .collect()
    }

    async fn group(&self, id: &str) -> Result<StoredGroup, RepoError> {
        stored_group(Store::group(self, id).await?)
    }

    async fn add_group(&self, group: &StoredGroup) -> Result<(), RepoError> {
        Ok(self.insert_group(&group_row(group)).await?)
    }

    async fn update_group(&self, group: &StoredGroup) -> Result<(), RepoError> {
        Ok(Store::update_group(self, &group_row(group)).await?)
    }

    async fn members(&self, group_id: &str) -> Result<Vec<GroupMember>, RepoError> {
        Ok(Store::members(self, group_id)
            .await?
            .into_iter()
            .map(|m| GroupMember {
                agent_id: m.agent_id,
                level: m.level,
                weight: m.weight,
                assigned: m.assigned,
            })
            .collect())
    }

    async fn set_member(
        &self,
        group_id: &str,
        agent_id: &str,
        level: i64,
        weight: i64,
    ) -> Result<(), RepoError> {
        let member = MemberRow {
            group_id: group_id.to_owned(),
            agent_id: agent_id.to_owned(),
            level,
            weight,
            assigned: 0,
        };
        Ok(self.upsert_member(&member).await?)
    }

    async fn remove_member(&self, group_id: &str, agent_id: &str) -> Result<(), RepoError> {
        Ok(Store::remove_member(self, group_id, agent_id).await?)
    }

    async fn add_rule(&self, rule: &RouteRule, now: i64) -> Result<(), RepoError> {
        let row = RuleRow {
            id: rule.id.clone(),
            match_kind: rule.kind.as_str().to_owned(),
            pattern: rule.pattern.clone(),
            group_id: rule.group_id.clone(),
            priority: rule.priority,
        };
        Ok(self.insert_rule(&row, now).await?)
    }

    async fn delete_rule(&self, id: &str) -> Result<(), RepoError> {
        Ok(Store::delete_rule(self, id).await?)
    }

    async fn queue_waits(&self, group_id: &str, limit: i64) -> Result<Vec<i64>, RepoError> {
        Ok(self
            .queue_of(group_id, limit)
            .await?
            .into_iter()
            .map(|q| q.first_enqueued_at)
            .collect())
    }

    async fn agent_loads(&self) -> Result<Vec<AgentLoad>, RepoError> {
        Ok(Store::agent_loads(self)
            .await?
            .into_iter()
            .map(|r| AgentLoad {
                agent_id: r.agent_id,
                display_name: r.display_name,
                status: r.status,
                active: r.active,
                max_chats: r.max_chats,
            })
            .collect())
    }

    async fn open_chats(&self, limit: i64) -> Result<Vec<OpenChatTimes>, RepoError> {
        Ok(self
            .live_chats(limit)
            .await?
            .into_iter()
            .map(|r| OpenChatTimes {
                conversation_id: r.conversation_id,
                state: r.state,
                agent_id: r.agent_id,
                group_id: r.group_id,
                queued_since: r.queued_since,
                last_buyer_at: r.last_buyer_at,
                last_agent_at: r.last_agent_at,
                answered_buyer_at: r.answered_buyer_at,
                reply_at: r.reply_at,
            })
            .collect())
    }

    async fn staff_exists(&self, staff_id: &str) -> Result<(), RepoError> {
        self.staff(staff_id).await?;
        Ok(())
    }
}

/// A group row read back; a strategy this build does not know is corrupt.
fn stored_group(row: GroupRow) -> Result<StoredGroup, RepoError> {
    Ok(StoredGroup {
        strategy: row
            .strategy
            .parse()
            .map_err(|_| RepoError::Corrupt(format!("group {} strategy", row.id)))?,
        id: row.id,
        name: row.name,
        is_default: row.is_default,
        overflow_group_id: row.overflow_group_id,
        overflow_after_ms: row.overflow_after_ms,
        created_at: row.created_at,
        alert_waiting: row.alert_waiting,
        alert_wait_ms: row.alert_wait_ms,
        alert_since: row.alert_since,
    })
}

fn group_row(group: &StoredGroup) -> GroupRow {
    GroupRow {
        id: group.id.clone(),
        name: group.name.clone(),
        strategy: group.strategy.as_str().to_owned(),
        is_default: group.is_default,
        overflow_group_id: group.overflow_group_id.clone(),
        overflow_after_ms: group.overflow_after_ms,
        created_at: group.created_at,
        alert_waiting: group.alert_waiting,
        alert_wait_ms: group.alert_wait_ms,
        alert_since: group.alert_since,
    }
}

impl From<QueueRow> for crate::domain::routing::QueueEntry {
    fn from(row: QueueRow) -> Self {
        crate::domain::routing::QueueEntry {
            conversation_id: row.conversation_id,
            group_id: row.group_id,
            vip: row.vip,
            first_enqueued_at: row.first_enqueued_at,
            group_since: row.group_since,
        }
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::RoutingQueue for Store {
    async fn is_vip(&self, conversation_id: &str) -> Result<bool, RepoError> {
        Ok(self.visitor_is_vip(conversation_id).await?)
    }

    async fn set_visitor_vip(&self, visitor_id: &str, vip: bool) -> Result<(), RepoError> {
        Ok(Store::set_visitor_vip(self, visitor_id, vip).await?)
    }

    async fn default_group_id(&self) -> Result<Option<String>, RepoError> {
        Ok(self.default_group().await?.map(|g| g.id))
    }

    async fn rules(&self) -> Result<Vec<crate::ports::repositories::StoredRule>, RepoError> {
        Ok(Store::rules(self)
            .await?
            .into_iter()
            .map(|r| crate::ports::repositories::StoredRule {
                id: r.id,
                match_kind: r.match_kind,
                pattern: r.pattern,
                group_id: r.group_id,
                priority: r.priority,
            })
            .collect())
    }

    async fn enqueue(
        &self,
        entry: &crate::domain::routing::QueueEntry,
        overflow_at: Option<i64>,
    ) -> Result<(), RepoError> {
        let row = QueueRow {
            conversation_id: entry.conversation_id.clone(),
            group_id: entry.group_id.clone(),
            vip: entry.vip,
            first_enqueued_at: entry.first_enqueued_at,
            group_since: entry.group_since,
        };
        Ok(self.upsert_queue_entry(&row, overflow_at).await?)
    }

    async fn queue_of(
        &self,
        group_id: &str,
        limit: i64,
    ) -> Result<Vec<crate::domain::routing::QueueEntry>, RepoError> {
        Ok(Store::queue_of(self, group_id, limit)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn queue_entry(
        &self,
        conversation_id: &str,
    ) -> Result<crate::domain::routing::QueueEntry, RepoError> {
        Ok(Store::queue_entry(self, conversation_id).await?.into())
    }

    async fn dequeue(&self, conversation_id: &str) -> Result<(), RepoError> {
        Ok(self.delete_queue_entry(conversation_id).await?)
    }

    async fn recent_mean_wait(&self, group_id: &str) -> Result<Option<i64>, RepoError> {
        Ok(Store::recent_mean_wait(self, group_id).await?)
    }

    async fn online_members(&self, group_id: &str) -> Result<i64, RepoError> {
        Ok(Store::online_members(self, group_id).await?)
    }

    async fn set_presence(&self, agent_id: &str, status: &str, now: i64) -> Result<(), RepoError> {
        Ok(Store::set_presence(self, agent_id, status, now).await?)
    }

    async fn groups_of(&self, agent_id: &str) -> Result<Vec<String>, RepoError> {
        Ok(Store::groups_of(self, agent_id).await?)
    }

    async fn requeue_orphans(
        &self,
        default_group: &str,
        older_than: i64,
    ) -> Result<u64, RepoError> {
        Ok(Store::requeue_orphans(self, default_group, older_than).await?)
    }

    async fn overflow_due(&self, now: i64) -> Result<Vec<String>, RepoError> {
        Ok(Store::overflow_due(self, now).await?)
    }

    async fn busy_groups(&self) -> Result<Vec<String>, RepoError> {
        Ok(Store::busy_groups(self).await?)
    }

    async fn assign_next(
        &self,
        group_id: &str,
        now: i64,
        decide: crate::ports::repositories::Decide<'_>,
    ) -> Result<crate::domain::routing::AssignOutcome, RepoError> {
        Ok(Store::assign_next(self, group_id, now, decide).await?)
    }
}
