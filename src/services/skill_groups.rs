//! Routing configuration (skill groups, members, rules) and the supervisor board.

use super::routing::RoutingError;
use crate::domain::routing::{MatchKind, RouteRule, Strategy};
use crate::ports::Clock;
use crate::storage::{AgentLoadRow, GroupRow, LiveChatRow, MemberRow, RuleRow, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
pub struct SkillGroup {
    pub id: String,
    pub name: String,
    pub strategy: Strategy,
    pub is_default: bool,
    pub overflow_group_id: Option<String>,
    pub overflow_after_ms: Option<i64>,
    pub members: Vec<Member>,
    pub waiting: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub agent_id: String,
    pub level: i64,
    pub weight: i64,
    pub assigned: i64,
}

/// A group as an admin writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    pub name: String,
    pub strategy: Strategy,
    pub overflow_group_id: Option<String>,
    pub overflow_after_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentStatus {
    pub agent_id: String,
    pub display_name: String,
    pub status: String,
    pub active: i64,
    pub max_chats: i64,
}

impl From<AgentLoadRow> for AgentStatus {
    fn from(r: AgentLoadRow) -> Self {
        Self {
            agent_id: r.agent_id,
            display_name: r.display_name,
            status: r.status,
            active: r.active,
            max_chats: r.max_chats,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveChat {
    pub conversation_id: String,
    pub state: String,
    pub agent_id: Option<String>,
    pub group_id: Option<String>,
    /// Milliseconds in the queue so far (waiting chats).
    pub queued_ms: Option<i64>,
    /// Milliseconds the buyer's last message has gone unanswered.
    pub unanswered_ms: Option<i64>,
    /// Milliseconds from the buyer's last message to the agent's answer after it.
    pub last_reply_ms: Option<i64>,
}

impl LiveChat {
    fn from_row(r: LiveChatRow, now: i64) -> Self {
        let buyer = r.last_buyer_at;
        let agent = r.last_agent_at;
        let unanswered = match (buyer, agent) {
            (Some(b), Some(a)) if a >= b => None,
            (Some(b), _) => Some(now - b),
            (None, _) => None,
        };
        Self {
            queued_ms: r.queued_since.map(|t| now - t),
            last_reply_ms: r.reply_at.zip(r.answered_buyer_at).map(|(a, b)| a - b),
            unanswered_ms: unanswered,
            conversation_id: r.conversation_id,
            state: r.state,
            agent_id: r.agent_id,
            group_id: r.group_id,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Board {
    pub groups: Vec<SkillGroup>,
    pub agents: Vec<AgentStatus>,
    pub chats: Vec<LiveChat>,
}

pub struct SkillGroups {
    store: Store,
    clock: Arc<dyn Clock>,
}

fn not_found(e: StoreError, what: RoutingError) -> RoutingError {
    match e {
        StoreError::NotFound => what,
        other => RoutingError::Store(other),
    }
}

impl SkillGroups {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub async fn list(&self) -> Result<Vec<SkillGroup>, RoutingError> {
        let mut out = Vec::new();
        for row in self.store.groups().await? {
            out.push(self.view(row).await?);
        }
        Ok(out)
    }

    async fn view(&self, row: GroupRow) -> Result<SkillGroup, RoutingError> {
        let members = self.store.members(&row.id).await?;
        let waiting = self.store.queue_of(&row.id, 10_000).await?.len() as i64;
        Ok(SkillGroup {
            strategy: row
                .strategy
                .parse()
                .map_err(|_| RoutingError::Corrupt("group strategy"))?,
            members: members
                .into_iter()
                .map(|m| Member {
                    agent_id: m.agent_id,
                    level: m.level,
                    weight: m.weight,
                    assigned: m.assigned,
                })
                .collect(),
            id: row.id,
            name: row.name,
            is_default: row.is_default,
            overflow_group_id: row.overflow_group_id,
            overflow_after_ms: row.overflow_after_ms,
            waiting,
        })
    }

    fn validate(&self, input: &GroupInput, own_id: Option<&str>) -> Result<(), RoutingError> {
        let n = input.name.trim().chars().count();
        if !(1..=64).contains(&n) {
            return Err(RoutingError::Invalid(
                "group name must be 1 to 64 characters".into(),
            ));
        }
        if input.overflow_group_id.is_some() != input.overflow_after_ms.is_some() {
            return Err(RoutingError::Invalid(
                "overflow_group_id and overflow_after_ms go together".into(),
            ));
        }
        if input
            .overflow_after_ms
            .is_some_and(|ms| !(1_000..=86_400_000).contains(&ms))
        {
            return Err(RoutingError::Invalid(
                "overflow_after_ms must be 1 s to 24 h".into(),
            ));
        }
        if own_id.is_some() && input.overflow_group_id.as_deref() == own_id {
            return Err(RoutingError::Invalid(
                "a group cannot overflow into itself".into(),
            ));
        }
        Ok(())
    }

    pub async fn create(&self, input: GroupInput) -> Result<SkillGroup, RoutingError> {
        self.validate(&input, None)?;
        if let Some(target) = &input.overflow_group_id {
            self.store
                .group(target)
                .await
                .map_err(|e| not_found(e, RoutingError::GroupNotFound))?;
        }
        let row = GroupRow {
            id: uuid::Uuid::now_v7().to_string(),
            name: input.name.trim().to_owned(),
            strategy: input.strategy.as_str().to_owned(),
            is_default: false,
            overflow_group_id: input.overflow_group_id,
            overflow_after_ms: input.overflow_after_ms,
            created_at: self.clock.now_ms(),
        };
        self.store.insert_group(&row).await.map_err(|e| match e {
            StoreError::AlreadyExists => RoutingError::GroupNameTaken,
            other => other.into(),
        })?;
        self.view(row).await
    }

    pub async fn update(&self, id: &str, input: GroupInput) -> Result<SkillGroup, RoutingError> {
        self.validate(&input, Some(id))?;
        let mut row = self
            .store
            .group(id)
            .await
            .map_err(|e| not_found(e, RoutingError::GroupNotFound))?;
        if let Some(target) = &input.overflow_group_id {
            self.store
                .group(target)
                .await
                .map_err(|e| not_found(e, RoutingError::GroupNotFound))?;
        }
        row.strategy = input.strategy.as_str().to_owned();
        row.overflow_group_id = input.overflow_group_id;
        row.overflow_after_ms = input.overflow_after_ms;
        self.store.update_group(&row).await?;
        self.view(row).await
    }

    pub async fn set_member(
        &self,
        group_id: &str,
        agent_id: &str,
        level: i64,
        weight: i64,
    ) -> Result<(), RoutingError> {
        if !(0..=100).contains(&level) || !(1..=10_000).contains(&weight) {
            return Err(RoutingError::Invalid(
                "level must be 0..100 and weight 1..10000".into(),
            ));
        }
        self.store
            .group(group_id)
            .await
            .map_err(|e| not_found(e, RoutingError::GroupNotFound))?;
        self.store
            .staff(agent_id)
            .await
            .map_err(|e| not_found(e, RoutingError::AgentNotFound))?;
        let member = MemberRow {
            group_id: group_id.to_owned(),
            agent_id: agent_id.to_owned(),
            level,
            weight,
            assigned: 0,
        };
        Ok(self.store.upsert_member(&member).await?)
    }

    pub async fn remove_member(&self, group_id: &str, agent_id: &str) -> Result<(), RoutingError> {
        self.store
            .remove_member(group_id, agent_id)
            .await
            .map_err(|e| not_found(e, RoutingError::AgentNotFound))
    }

    pub async fn add_rule(
        &self,
        kind: MatchKind,
        pattern: &str,
        group_id: &str,
        priority: i64,
    ) -> Result<RouteRule, RoutingError> {
        let pattern = pattern.trim();
        if !(1..=200).contains(&pattern.chars().count()) {
            return Err(RoutingError::Invalid(
                "pattern must be 1 to 200 characters".into(),
            ));
        }
        self.store
            .group(group_id)
            .await
            .map_err(|e| not_found(e, RoutingError::GroupNotFound))?;
        let row = RuleRow {
            id: uuid::Uuid::now_v7().to_string(),
            match_kind: kind.as_str().to_owned(),
            pattern: pattern.to_owned(),
            group_id: group_id.to_owned(),
            priority,
        };
        self.store.insert_rule(&row, self.clock.now_ms()).await?;
        Ok(RouteRule {
            id: row.id,
            kind,
            pattern: row.pattern,
            group_id: row.group_id,
            priority,
        })
    }

    pub async fn delete_rule(&self, id: &str) -> Result<(), RoutingError> {
        self.store
            .delete_rule(id)
            .await
            .map_err(|e| not_found(e, RoutingError::RuleNotFound))
    }

    pub async fn agents(&self) -> Result<Vec<AgentStatus>, RoutingError> {
        Ok(self
            .store
            .agent_loads()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn board(&self) -> Result<Board, RoutingError> {
        let now = self.clock.now_ms();
        Ok(Board {
            groups: self.list().await?,
            agents: self.agents().await?,
            chats: self
                .store
                .live_chats(500)
                .await?
                .into_iter()
                .map(|r| LiveChat::from_row(r, now))
                .collect(),
        })
    }
}
