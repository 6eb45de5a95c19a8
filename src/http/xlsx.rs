//! A report as an XLSX workbook: one sheet with a bold, frozen header row,
//! day and week keys as real dates, months as the first day of the month
//! shown "yyyy-mm", metrics as numbers (rates with a percent format) and
//! missing values as empty cells, so a spreadsheet can sum and chart it.

use super::error::ApiError;
use crate::domain::analytics::{Dimension, parse_day};
use crate::services::analytics::Report;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};

pub const CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The workbook's bytes as a download (built off the async threads).
pub async fn response(report: Report) -> Result<Response, ApiError> {
    let name = format!("xiaoer-{}-{}.xlsx", report.from, report.to);
    let bytes = tokio::task::spawn_blocking(move || workbook(&report))
        .await
        .map_err(|e| ApiError::Internal(format!("xlsx task: {e}")))?
        .map_err(|e| ApiError::Internal(format!("xlsx: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, CONTENT_TYPE.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Column A: the dimension's key; B: its label; then one column per metric.
pub fn workbook(report: &Report) -> Result<Vec<u8>, XlsxError> {
    let bold = Format::new().set_bold();
    let day = Format::new().set_num_format("yyyy-mm-dd");
    let month = Format::new().set_num_format("yyyy-mm");
    let percent = Format::new().set_num_format("0.00%");
    let plain = Format::new().set_num_format("General");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("report")?;
    sheet.write_string_with_format(0, 0, dimension_name(report.dimension), &bold)?;
    sheet.write_string_with_format(0, 1, "label", &bold)?;
    for (i, metric) in report.metrics.iter().enumerate() {
        sheet.write_string_with_format(0, col(i + 2), *metric, &bold)?;
    }
    for (r, row) in report.rows.iter().enumerate() {
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
        match (report.dimension, date_of(&row.key)) {
            (Dimension::Day | Dimension::Week, Some(date)) => {
                sheet.write_datetime_with_format(r, 0, &date, &day)?;
            }
            (Dimension::Month, Some(date)) => {
                sheet.write_datetime_with_format(r, 0, &date, &month)?;
            }
            _ => {
                sheet.write_string(r, 0, &row.key)?;
            }
        }
        sheet.write_string(r, 1, &row.label)?;
        for (i, metric) in report.metrics.iter().enumerate() {
            if let Some(v) = row.values.get(metric).copied().flatten() {
                let format = if metric.ends_with("_rate") {
                    &percent
                } else {
                    &plain
                };
                sheet.write_number_with_format(r, col(i + 2), v, format)?;
            }
        }
    }
    let last_col = col(report.metrics.len() + 1);
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(
        0,
        0,
        u32::try_from(report.rows.len()).unwrap_or(u32::MAX),
        last_col,
    )?;
    sheet.set_column_width(0, 14)?;
    sheet.set_column_width(1, 16)?;
    book.save_to_buffer()
}

fn col(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

fn dimension_name(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Day => "day",
        Dimension::Week => "week",
        Dimension::Month => "month",
        Dimension::Agent => "agent",
        Dimension::Channel => "channel",
        Dimension::Group => "group",
    }
}

/// A "YYYY-MM-DD" key, or a month key "YYYY-MM" as its first day.
fn date_of(key: &str) -> Option<ExcelDateTime> {
    let date = match key.len() {
        7 => parse_day(&format!("{key}-01")).ok()?,
        _ => parse_day(key).ok()?,
    };
    let month = u8::try_from(date.month()).ok()?;
    let day = u8::try_from(date.day()).ok()?;
    ExcelDateTime::from_ymd(u16::try_from(date.year()).ok()?, month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::analytics::Row;
    use std::collections::BTreeMap;
    use std::io::Read;

    fn sheet_xml(bytes: &[u8]) -> (String, String) {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut read = |name: &str| {
            let mut s = String::new();
            zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
            s
        };
        (
            read("xl/worksheets/sheet1.xml"),
            read("xl/sharedStrings.xml"),
        )
    }

    #[test]
    fn month_keys_become_the_first_of_the_month_and_nulls_stay_empty() {
        let report = Report {
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
            dimension: Dimension::Month,
            metrics: vec!["conversations", "csat_avg"],
            rows: vec![Row {
                key: "2026-11".into(),
                label: "2026-11".into(),
                values: BTreeMap::from([("conversations", Some(7.0)), ("csat_avg", None)]),
            }],
        };
        let (sheet, strings) = sheet_xml(&workbook(&report).unwrap());
        // 2026-11-01 is serial 46327 (days since 1899-12-30).
        assert!(sheet.contains("<v>46327</v>"), "{sheet}");
        assert!(sheet.contains("<v>7</v>"), "{sheet}");
        assert!(!sheet.contains("r=\"D2\""), "a null is no cell: {sheet}");
        assert!(strings.contains(">month<") && strings.contains(">csat_avg<"));
    }
}
