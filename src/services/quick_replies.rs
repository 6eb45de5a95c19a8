//! Quick replies: canned answers an agent inserts by shortcut ("/refund"), their
//! own or shared by a supervisor, with {variables} filled from the chat.

use super::staff::StaffUser;
use crate::domain::routing::{QuickReplyError, parse_category, parse_shortcut, parse_template};
use crate::domain::staff::Permission;
use crate::ports::Clock;
use crate::ports::repositories::{QuickReplyRepository, RepoError, StoredQuickReply};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum QuickReplyServiceError {
    #[error(transparent)]
    Invalid(#[from] QuickReplyError),
    #[error("no such quick reply")]
    NotFound,
    #[error("you already have a quick reply with this shortcut")]
    ShortcutTaken,
    #[error("only supervisors and admins change shared quick replies")]
    Forbidden,
    #[error(transparent)]
    Store(RepoError),
}

impl From<RepoError> for QuickReplyServiceError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => QuickReplyServiceError::NotFound,
            RepoError::AlreadyExists => QuickReplyServiceError::ShortcutTaken,
            other => QuickReplyServiceError::Store(other),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickReplyInput {
    pub category: String,
    pub shortcut: String,
    pub text: String,
    /// Shared with every agent (supervisors and admins only).
    #[serde(default)]
    pub shared: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuickReply {
    pub id: String,
    pub category: String,
    pub shortcut: String,
    pub text: String,
    pub shared: bool,
    pub updated_at: i64,
}

impl From<StoredQuickReply> for QuickReply {
    fn from(r: StoredQuickReply) -> Self {
        Self {
            shared: r.owner_id.is_none(),
            id: r.id,
            category: r.category,
            shortcut: r.shortcut,
            text: r.text,
            updated_at: r.updated_at,
        }
    }
}

pub struct QuickReplies {
    store: Arc<dyn QuickReplyRepository>,
    clock: Arc<dyn Clock>,
}

impl QuickReplies {
    pub fn new(store: Arc<dyn QuickReplyRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub async fn list(&self, staff: &StaffUser) -> Result<Vec<QuickReply>, QuickReplyServiceError> {
        let rows = self.store.for_agent(&staff.id).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    fn owner(staff: &StaffUser, shared: bool) -> Result<Option<String>, QuickReplyServiceError> {
        match shared {
            true if staff.can(Permission::ManageSharedReplies) => Ok(None),
            true => Err(QuickReplyServiceError::Forbidden),
            false => Ok(Some(staff.id.clone())),
        }
    }

    fn row(
        &self,
        id: String,
        owner_id: Option<String>,
        input: &QuickReplyInput,
        created_at: i64,
    ) -> Result<StoredQuickReply, QuickReplyServiceError> {
        Ok(StoredQuickReply {
            id,
            owner_id,
            category: parse_category(&input.category)?,
            shortcut: parse_shortcut(input.shortcut.trim())?,
            text: parse_template(&input.text)?,
            created_at,
            updated_at: self.clock.now_ms(),
        })
    }

    pub async fn create(
        &self,
        staff: &StaffUser,
        input: QuickReplyInput,
    ) -> Result<QuickReply, QuickReplyServiceError> {
        let owner = Self::owner(staff, input.shared)?;
        let id = uuid::Uuid::now_v7().to_string();
        let row = self.row(id, owner, &input, self.clock.now_ms())?;
        self.store.insert(&row).await?;
        Ok(row.into())
    }

    /// The reply, if this staff member may change it: their own, or a shared one
    /// for those who manage shared replies. Others' replies do not exist to them.
    async fn editable(
        &self,
        staff: &StaffUser,
        id: &str,
    ) -> Result<StoredQuickReply, QuickReplyServiceError> {
        let row = self.store.get(id).await?;
        match &row.owner_id {
            Some(owner) if *owner == staff.id => Ok(row),
            Some(_) => Err(QuickReplyServiceError::NotFound),
            None if staff.can(Permission::ManageSharedReplies) => Ok(row),
            None => Err(QuickReplyServiceError::Forbidden),
        }
    }

    pub async fn update(
        &self,
        staff: &StaffUser,
        id: &str,
        input: QuickReplyInput,
    ) -> Result<QuickReply, QuickReplyServiceError> {
        let current = self.editable(staff, id).await?;
        let row = self.row(current.id, current.owner_id, &input, current.created_at)?;
        self.store.update(&row).await?;
        Ok(row.into())
    }

    pub async fn delete(&self, staff: &StaffUser, id: &str) -> Result<(), QuickReplyServiceError> {
        self.editable(staff, id).await?;
        Ok(self.store.delete(id).await?)
    }
}
