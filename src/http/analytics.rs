//! Analytics routes: the standard and custom reports (JSON, streamed CSV or XLSX)
//! for staff, and the buyer's CSAT rating of a finished conversation.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, conversation_id};
use crate::domain::analytics::{
    CsatRating, DayRange, Dimension, Period, parse_day, parse_metrics, parse_source_filter,
};
use crate::domain::funnel::{CampaignRow, FunnelDay, FunnelRow};
use crate::domain::saved_report::ReportSpec;
use crate::services::analytics::{CsatState, Filters, Report, Summary};
use crate::services::saved_reports::SavedReportView;
use crate::services::staff::StaffUser;
use crate::services::visitors::Visitor;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/staff/analytics/summary", get(summary))
        .route("/api/v1/staff/analytics/report", get(report))
        .route("/api/v1/staff/analytics/funnel", get(funnel))
        .route(
            "/api/v1/staff/analytics/conversations.csv",
            get(conversations_csv),
        )
        .route(
            "/api/v1/staff/analytics/saved",
            get(saved_reports).post(save_report),
        )
        .route(
            "/api/v1/staff/analytics/saved/{id}",
            axum::routing::delete(delete_saved_report),
        )
        .route(
            "/api/v1/conversations/{id}/csat",
            get(csat_state).post(rate),
        )
}

#[derive(Debug, Deserialize)]
pub struct SummaryQuery {
    pub period: Option<Period>,
    /// Shop-local "YYYY-MM-DD"; today in the shop's time zone when absent.
    pub date: Option<String>,
    pub channel: Option<String>,
    pub agent_id: Option<String>,
    pub group_id: Option<String>,
    /// search, ads, recommendation, referral, direct, or none.
    pub source: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    pub from: String,
    pub to: String,
    pub metrics: String,
    pub by: String,
    pub channel: Option<String>,
    pub agent_id: Option<String>,
    pub group_id: Option<String>,
    /// search, ads, recommendation, referral, direct, or none.
    pub source: Option<String>,
    /// json (default), csv or xlsx.
    pub format: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RatingInput {
    pub stars: i64,
    #[serde(default)]
    pub tags: Vec<String>,
    pub comment: Option<String>,
}

fn filters(
    channel: Option<String>,
    agent_id: Option<String>,
    group_id: Option<String>,
    source: Option<String>,
) -> Result<Filters, ApiError> {
    let keep = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let source = match keep(source) {
        Some(raw) => Some(
            parse_source_filter(&raw).map_err(crate::services::analytics::AnalyticsError::from)?,
        ),
        None => None,
    };
    Ok(Filters {
        channel: keep(channel),
        agent_id: keep(agent_id),
        group_id: keep(group_id),
        source,
    })
}

pub async fn summary(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> Result<Json<Summary>, ApiError> {
    let date = match q.date.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => Some(parse_day(d).map_err(crate::services::analytics::AnalyticsError::from)?),
        None => None,
    };
    let period = q.period.unwrap_or(Period::Day);
    let filters = filters(q.channel, q.agent_id, q.group_id, q.source)?;
    Ok(Json(
        state
            .analytics
            .summary(&staff, period, date, filters)
            .await?,
    ))
}

pub async fn report(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    use crate::services::analytics::AnalyticsError;
    let format = q.format.as_deref().unwrap_or("json");
    if !["json", "csv", "xlsx"].contains(&format) {
        return Err(ApiError::bad_request(
            "invalid_report_format",
            "format must be json, csv or xlsx",
        ));
    }
    let range = DayRange::parse(&q.from, &q.to).map_err(AnalyticsError::from)?;
    let metrics = parse_metrics(&q.metrics).map_err(AnalyticsError::from)?;
    let dimensions = Dimension::parse_pair(&q.by).map_err(AnalyticsError::from)?;
    let filters = filters(q.channel, q.agent_id, q.group_id, q.source)?;
    let report = state
        .analytics
        .report(&staff, range, metrics, dimensions, filters)
        .await?;
    Ok(match format {
        "csv" => csv(report),
        "xlsx" => super::xlsx::response(report).await?,
        _ => Json(report).into_response(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    pub from: String,
    pub to: String,
}

/// The visitor funnel of a range of days.
#[derive(Debug, Serialize)]
pub struct Funnel {
    pub from: String,
    pub to: String,
    /// A line per source with visits or chats, then the total (source null).
    pub rows: Vec<FunnelRow>,
    /// The most visited campaigns (utm_campaign), at most 20.
    pub campaigns: Vec<CampaignRow>,
    /// Every day of the range, every source together.
    pub days: Vec<FunnelDay>,
}

pub async fn funnel(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Funnel>, ApiError> {
    let range = DayRange::parse(&q.from, &q.to)
        .map_err(crate::services::analytics::AnalyticsError::from)?;
    let report = state.analytics.funnel(&staff, &range).await?;
    Ok(Json(Funnel {
        from: range.from.to_string(),
        to: range.to.to_string(),
        rows: report.rows,
        campaigns: report.campaigns,
        days: report.days,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillQuery {
    pub from: String,
    pub to: String,
    pub channel: Option<String>,
    pub agent_id: Option<String>,
    pub group_id: Option<String>,
    /// search, ads, recommendation, referral, direct, or none.
    pub source: Option<String>,
}

/// One line per conversation started on the range's days, streamed a page at
/// a time (a year of chats never sits in memory).
pub async fn conversations_csv(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(q): ApiQuery<DrillQuery>,
) -> Result<Response, ApiError> {
    let range = DayRange::parse(&q.from, &q.to)
        .map_err(crate::services::analytics::AnalyticsError::from)?;
    let filters = filters(q.channel, q.agent_id, q.group_id, q.source)?;
    let drill = state.analytics.drill_down(&staff, &range, filters).await?;
    let stream = futures::stream::unfold(Some(drill), |drill| async move {
        let mut drill = drill?;
        match drill.next_lines().await {
            Ok(lines) if lines.is_empty() => None,
            Ok(lines) => Some((Ok(lines), Some(drill))),
            // Cut short: the client sees a broken download, not a short file.
            Err(error) => {
                tracing::warn!(%error, "conversation export failed");
                Some((Err(std::io::Error::other(error.to_string())), None))
            }
        }
    });
    let name = format!("xiaoer-conversations-{}-{}.csv", range.from, range.to);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

pub async fn saved_reports(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
) -> Result<Json<Vec<SavedReportView>>, ApiError> {
    Ok(Json(state.saved_reports.list(&staff).await?))
}

pub async fn save_report(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(spec): ApiJson<ReportSpec>,
) -> Result<(StatusCode, Json<SavedReportView>), ApiError> {
    let saved = state.saved_reports.save(&staff, spec).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

pub async fn delete_saved_report(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.saved_reports.delete(&staff, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The report as CSV, streamed a line at a time.
fn csv(report: Report) -> Response {
    let name = format!("xiaoer-{}-{}.csv", report.from, report.to);
    let stream = futures::stream::iter(
        crate::services::analytics::csv_lines(report).map(Ok::<_, std::convert::Infallible>),
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

pub(crate) use crate::services::analytics::csv_cell;
#[cfg(test)]
use crate::services::analytics::csv_number as format_number;

pub async fn csat_state(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Json<CsatState>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(state.analytics.csat_state(&visitor, &id).await?))
}

pub async fn rate(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RatingInput>,
) -> Result<StatusCode, ApiError> {
    let id = conversation_id(&id)?;
    let rating = CsatRating::parse(input.stars, input.tags, input.comment)
        .map_err(crate::services::analytics::AnalyticsError::from)?;
    state.analytics.rate(&visitor, &id, rating).await?;
    Ok(StatusCode::CREATED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("小李"), "小李");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("-"), "-");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(0.5), "0.5000");
    }
}
