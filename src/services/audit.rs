//! Recording and reading the audit log. Recording never fails the action it
//! records: a database error is logged (without the record's content) and the
//! caller carries on.

use crate::domain::audit::{AuditAction, AuditFilter, AuditRecord, ChainBreak, verify};
use crate::ports::Clock;
use crate::ports::repositories::{AuditLog, RepoError, StaffDirectory};
use std::collections::HashMap;
use std::sync::Arc;

/// Who did it: a staff id, or nobody known (an anonymous or failed caller).
pub type ActorId<'a> = Option<&'a str>;

pub struct AuditService {
    log: Arc<dyn AuditLog>,
    people: Arc<dyn StaffDirectory>,
    clock: Arc<dyn Clock>,
}

/// A record as the admin's search shows it: with the actor's display name now,
/// since names are not stored in the log (and may change).
pub struct NamedRecord {
    pub record: AuditRecord,
    pub actor_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit log is broken: {0}")]
    Broken(ChainBreak),
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// Records read per query while verifying.
const VERIFY_PAGE: i64 = 5_000;

impl AuditService {
    pub fn new<R>(store: Arc<R>, clock: Arc<dyn Clock>) -> Self
    where
        R: AuditLog + StaffDirectory + 'static,
    {
        Self {
            log: store.clone(),
            people: store,
            clock,
        }
    }

    /// Appends a record: `target` names what was touched (`kb_entry:<id>`,
    /// `staff_user:<id>`, `route:POST /api/v1/...`), never a personal value.
    pub async fn record(&self, actor: ActorId<'_>, action: AuditAction, target: &str) {
        let now = self.clock.now_ms();
        if let Err(e) = self.log.append(now, actor, action.as_str(), target).await {
            tracing::error!(error = %e, action = action.as_str(), "could not write an audit record");
        }
    }

    pub async fn search(&self, filter: &AuditFilter) -> Result<Vec<NamedRecord>, AuditError> {
        let records = self.log.search(filter).await?;
        let names: HashMap<String, String> = self
            .people
            .people()
            .await?
            .into_iter()
            .map(|p| (p.id, p.display_name))
            .collect();
        Ok(records
            .into_iter()
            .map(|record| NamedRecord {
                actor_name: record.actor.as_ref().and_then(|id| names.get(id).cloned()),
                record,
            })
            .collect())
    }

    /// Recomputes the whole chain; the number of records when it holds.
    pub async fn verify(&self) -> Result<usize, AuditError> {
        let mut records = Vec::new();
        loop {
            let after = records.last().map_or(0, |r: &AuditRecord| r.seq);
            let page = self.log.page(after, VERIFY_PAGE).await?;
            if page.is_empty() {
                break;
            }
            records.extend(page);
        }
        let (seq, hash) = self.log.head().await?;
        verify(&records, Some((seq, &hash))).map_err(AuditError::Broken)
    }
}
