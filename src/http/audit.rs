//! The audit log over HTTP: what the route table records, and the admin's search.

use super::AppState;
use super::error::ApiError;
use super::extract::ApiQuery;
use crate::domain::audit::AuditAction;
use crate::domain::audit::AuditFilter;
use crate::services::audit::NamedRecord;
use axum::Json;
use axum::extract::{Request, State};
use serde::{Deserialize, Serialize};

/// What a request touched: its method and path (ids, never a query string or a
/// body, so no personal values).
pub fn audit_target(request: &Request) -> String {
    format!("{} {}", request.method(), request.uri().path())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub action: Option<AuditAction>,
    /// A staff id.
    pub actor: Option<String>,
    /// The start of the target (`POST /api/v1/kb/entries/`).
    pub target: Option<String>,
    /// Older than this sequence number (the next page).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Serialize)]
pub struct AuditView {
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<String>,
    /// The staff member's display name now (not stored in the log).
    pub actor_name: Option<String>,
    pub action: String,
    pub target: String,
}

#[derive(Serialize)]
pub struct AuditPage {
    pub records: Vec<AuditView>,
    /// `before` for the next (older) page; null on the last.
    pub next_before: Option<i64>,
}

pub async fn search(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let filter = AuditFilter {
        action: q.action.map(|a| a.as_str().to_owned()),
        actor: q.actor,
        target_prefix: q.target.filter(|t| !t.is_empty()),
        before: q.before,
        limit,
    };
    let records = state.audit.search(&filter).await?;
    let next_before = (records.len() as i64 == limit)
        .then(|| records.last().map(|r| r.record.seq))
        .flatten();
    let records = records
        .into_iter()
        .map(|NamedRecord { record, actor_name }| AuditView {
            actor_name,
            seq: record.seq,
            at: record.at,
            actor_id: record.actor,
            action: record.action,
            target: record.target,
        })
        .collect();
    Ok(Json(AuditPage {
        records,
        next_before,
    }))
}

#[derive(Serialize)]
pub struct Verified {
    pub intact: bool,
    pub records: usize,
}

/// The chain recomputed; a break is `409 audit_chain_broken` naming the record.
pub async fn verify(State(state): State<AppState>) -> Result<Json<Verified>, ApiError> {
    let records = state.audit.verify().await?;
    Ok(Json(Verified {
        intact: true,
        records,
    }))
}
