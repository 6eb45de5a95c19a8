//! Knowledge-base REST handlers: agents read and search, knowledge managers and
//! admins write (the route table enforces which).

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery};
use crate::domain::knowledge::{EntryStatus, KbQuery, RawEntry};
use crate::domain::wording::{SuggestionStatus, WordingSuggestion};
use crate::ports::repositories::EntryFilter;
use crate::ports::vector_index::IndexFilter;
use crate::services::knowledge::import::{ImportFormat, ImportOptions, parse_records};
use crate::services::knowledge::{
    CalibrationReport, DecideOptions, EntryView, ImportReport, ReindexProgress, SearchResult,
    VersionView,
};
use crate::services::staff::StaffUser;
use crate::services::wordings::{SuggestionList, SuggestionView};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub q: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize)]
pub struct EntryList {
    pub entries: Vec<EntryView>,
    pub total: i64,
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<EntryList>, ApiError> {
    let status = status_filter(q.status.as_deref())?;
    let filter = EntryFilter {
        status,
        category: q.category.filter(|c| !c.is_empty()),
        text: q.q.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
        limit: q.limit.unwrap_or(50).clamp(1, 500),
        offset: q.offset.unwrap_or(0).max(0),
    };
    let (entries, total) = state.knowledge.list(filter).await?;
    Ok(Json(EntryList { entries, total }))
}

/// An empty `status=` (a form's "all" choice) means no filter; an unknown
/// status is refused rather than silently listing everything.
fn status_filter(raw: Option<&str>) -> Result<Option<EntryStatus>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => EntryStatus::parse(s).map(Some).map_err(|_| {
            ApiError::bad_request(
                "invalid_status",
                "status must be draft, published or archived",
            )
        }),
    }
}

pub async fn create(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(raw): ApiJson<RawEntry>,
) -> Result<(StatusCode, Json<EntryView>), ApiError> {
    let view = state.knowledge.create(raw, &staff.username).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EntryView>, ApiError> {
    Ok(Json(state.knowledge.get(&id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateQuery {
    /// The version the editor started from: a newer one in between is a conflict.
    pub expected_version: Option<i64>,
}

pub async fn update(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<UpdateQuery>,
    ApiJson(raw): ApiJson<RawEntry>,
) -> Result<Json<EntryView>, ApiError> {
    let view = state
        .knowledge
        .update(&id, raw, q.expected_version, &staff.username)
        .await?;
    Ok(Json(view))
}

pub async fn archive(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<EntryView>, ApiError> {
    Ok(Json(state.knowledge.archive(&id, &staff.username).await?))
}

pub async fn publish(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<EntryView>, ApiError> {
    Ok(Json(state.knowledge.publish(&id, &staff.username).await?))
}

pub async fn unpublish(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<EntryView>, ApiError> {
    Ok(Json(state.knowledge.unpublish(&id, &staff.username).await?))
}

pub async fn versions(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let versions: Vec<VersionView> = state.knowledge.versions(&id).await?;
    Ok(Json(json!({ "versions": versions })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    pub from: i64,
    pub to: i64,
}

pub async fn diff(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> Result<Json<Value>, ApiError> {
    let changes = state.knowledge.diff(&id, q.from, q.to).await?;
    Ok(Json(
        json!({ "from": q.from, "to": q.to, "changes": changes }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    pub version: i64,
}

pub async fn rollback(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Rollback>,
) -> Result<Json<EntryView>, ApiError> {
    let view = state
        .knowledge
        .rollback(&id, body.version, &staff.username)
        .await?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub q: String,
    pub limit: Option<usize>,
    pub category: Option<String>,
    pub locale: Option<String>,
    pub product: Option<String>,
}

pub async fn search(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<SearchResult>, ApiError> {
    let query = KbQuery::parse(&q.q).map_err(|e| ApiError::bad_request("invalid_query", e))?;
    let opts = DecideOptions {
        filter: IndexFilter {
            category: q.category,
            locale: q.locale,
            product: q.product,
            day: None,
        },
        ..DecideOptions::default()
    };
    let limit = q.limit.unwrap_or(5).clamp(1, 20);
    Ok(Json(state.knowledge.search(&query, limit, &opts).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestQuery {
    pub q: String,
    pub limit: Option<usize>,
}

pub async fn suggest(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SuggestQuery>,
) -> Result<Json<Value>, ApiError> {
    if q.q.chars().count() > crate::domain::knowledge::MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(
            "invalid_query",
            "the query is too long",
        ));
    }
    let items = state.knowledge.suggest(&q.q, q.limit.unwrap_or(8));
    let suggestions: Vec<&str> = items.iter().map(|s| s.text.as_str()).collect();
    Ok(Json(json!({ "suggestions": suggestions, "items": items })))
}

pub async fn categories(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "categories": state.knowledge.categories().await? }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    pub path: String,
}

pub async fn create_category(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewCategory>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let all = state.knowledge.create_category(&body.path).await?;
    Ok((StatusCode::CREATED, Json(json!({ "categories": all }))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// jsonl (default), csv, yaml or md.
    pub format: Option<String>,
    /// Publish entries that do not say their status (default: draft).
    pub publish: Option<bool>,
}

fn format_of(raw: Option<&str>) -> Result<ImportFormat, ApiError> {
    ImportFormat::parse(raw.unwrap_or("jsonl")).ok_or_else(|| {
        ApiError::bad_request("invalid_query", "format must be jsonl, csv, yaml or md")
    })
}

/// All-or-nothing: a bad record fails the import with its line and nothing changes.
pub async fn import(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    let format = format_of(q.format.as_deref())?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("bad_import", "the file is not UTF-8 text"))?;
    let records = parse_records(format, text)?;
    let opts = ImportOptions {
        default_status: if q.publish.unwrap_or(false) {
            EntryStatus::Published
        } else {
            EntryStatus::Draft
        },
        create_categories: false,
        author: staff.username,
    };
    Ok(Json(
        state.knowledge.import(records, &opts, &|_, _| {}).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    pub format: Option<String>,
}

pub async fn export(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let (body, kind, name) = match format_of(q.format.as_deref())? {
        ImportFormat::Jsonl => (
            state.knowledge.export_jsonl().await?,
            "application/x-ndjson",
            "kb.jsonl",
        ),
        ImportFormat::Csv => (
            state.knowledge.export_csv().await?,
            "text/csv; charset=utf-8",
            "kb.csv",
        ),
        ImportFormat::Yaml | ImportFormat::Markdown => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "export formats are jsonl and csv",
            ));
        }
    };
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// Starts a rebuild of the index in the background; progress at GET.
pub async fn start_reindex(
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<ReindexProgress>), ApiError> {
    state.knowledge.begin_reindex()?;
    let knowledge = state.knowledge.clone();
    tokio::spawn(async move {
        if let Err(e) = knowledge.run_reindex(&|_, _| {}).await {
            tracing::error!(error = %e, "reindex failed");
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(state.knowledge.reindex_progress()),
    ))
}

pub async fn reindex_progress(State(state): State<AppState>) -> Json<ReindexProgress> {
    Json(state.knowledge.reindex_progress())
}

pub async fn calibration(State(state): State<AppState>) -> Json<CalibrationReport> {
    Json(state.knowledge.calibration_report())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestionQuery {
    /// pending (the default), accepted, rejected or all.
    pub status: Option<String>,
}

/// Other wordings the local model proposed for entries with few.
pub async fn wording_suggestions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SuggestionQuery>,
) -> Result<Json<SuggestionList>, ApiError> {
    let status = match q.status.as_deref().unwrap_or("pending") {
        "all" => None,
        raw => Some(SuggestionStatus::parse(raw).ok_or_else(|| {
            ApiError::bad_request("bad_status", "status: pending, accepted, rejected or all")
        })?),
    };
    Ok(Json(state.wordings.list(status).await?))
}

pub async fn refresh_wording_suggestions(
    State(state): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    state.wordings.refresh()?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "refreshing": true }))))
}

pub async fn accept_wording(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<SuggestionView>, ApiError> {
    Ok(Json(state.wordings.accept(&id, &staff.username).await?))
}

pub async fn reject_wording(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<WordingSuggestion>, ApiError> {
    Ok(Json(state.wordings.reject(&id, &staff.username).await?))
}
