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

/// Column A: the dimension's key; B: its label; in a report by two, C and D
/// the second's; then one column per metric. Day and week keys are dates,
/// months dates shown as months, metrics numbers (rates as percentages).
pub fn workbook(report: &Report) -> Result<Vec<u8>, XlsxError> {
    let bold = Format::new().set_bold();
    let formats = KeyFormats {
        day: Format::new().set_num_format("yyyy-mm-dd"),
        month: Format::new().set_num_format("yyyy-mm"),
    };
    let percent = Format::new().set_num_format("0.00%");
    let plain = Format::new().set_num_format("General");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("report")?;
    sheet.write_string_with_format(0, 0, report.dimension.name(), &bold)?;
    sheet.write_string_with_format(0, 1, "label", &bold)?;
    let first_metric = if let Some(then) = report.then {
        sheet.write_string_with_format(0, 2, then.name(), &bold)?;
        sheet.write_string_with_format(0, 3, format!("{}_label", then.name()), &bold)?;
        4
    } else {
        2
    };
    for (i, metric) in report.metrics.iter().enumerate() {
        sheet.write_string_with_format(0, col(i + first_metric), *metric, &bold)?;
    }
    for (r, row) in report.rows.iter().enumerate() {
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
        write_key(sheet, r, 0, report.dimension, &row.key, &formats)?;
        sheet.write_string(r, 1, &row.label)?;
        if let (Some(then), Some(key), Some(label)) = (report.then, &row.then_key, &row.then_label)
        {
            write_key(sheet, r, 2, then, key, &formats)?;
            sheet.write_string(r, 3, label)?;
        }
        for (i, metric) in report.metrics.iter().enumerate() {
            if let Some(v) = row.values.get(metric).copied().flatten() {
                let format = if metric.ends_with("_rate") {
                    &percent
                } else {
                    &plain
                };
                sheet.write_number_with_format(r, col(i + first_metric), v, format)?;
            }
        }
    }
    let last_col = col(report.metrics.len() + first_metric - 1);
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(
        0,
        0,
        u32::try_from(report.rows.len()).unwrap_or(u32::MAX),
        last_col,
    )?;
    sheet.set_column_width(0, 14)?;
    sheet.set_column_width(1, 16)?;
    if report.then.is_some() {
        sheet.set_column_width(2, 14)?;
        sheet.set_column_width(3, 16)?;
    }
    book.save_to_buffer()
}

struct KeyFormats {
    day: Format,
    month: Format,
}

/// A dimension's key: a real date for days, weeks and months, else text.
fn write_key(
    sheet: &mut rust_xlsxwriter::Worksheet,
    row: u32,
    column: u16,
    dimension: Dimension,
    key: &str,
    formats: &KeyFormats,
) -> Result<(), XlsxError> {
    match (dimension, date_of(key)) {
        (Dimension::Day | Dimension::Week, Some(date)) => {
            sheet.write_datetime_with_format(row, column, &date, &formats.day)?;
        }
        (Dimension::Month, Some(date)) => {
            sheet.write_datetime_with_format(row, column, &date, &formats.month)?;
        }
        _ => {
            sheet.write_string(row, column, key)?;
        }
    }
    Ok(())
}

fn col(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
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
            then: None,
            metrics: vec!["conversations", "csat_avg"],
            rows: vec![Row::new(
                "2026-11".into(),
                "2026-11".into(),
                BTreeMap::from([("conversations", Some(7.0)), ("csat_avg", None)]),
            )],
        };
        let (sheet, strings) = sheet_xml(&workbook(&report).unwrap());
        // 2026-11-01 is serial 46327 (days since 1899-12-30).
        assert!(sheet.contains("<v>46327</v>"), "{sheet}");
        assert!(sheet.contains("<v>7</v>"), "{sheet}");
        assert!(!sheet.contains("r=\"D2\""), "a null is no cell: {sheet}");
        assert!(strings.contains(">month<") && strings.contains(">csat_avg<"));
    }

    #[test]
    fn a_report_by_agent_and_day_has_both_keys_then_the_metrics() {
        let mut row = Row::new(
            "agent-1".into(),
            "小李".into(),
            BTreeMap::from([("conversations", Some(3.0))]),
        );
        row.then_key = Some("2026-11-30".into());
        row.then_label = Some("2026-11-30".into());
        let report = Report {
            from: "2026-11-30".into(),
            to: "2026-11-30".into(),
            dimension: Dimension::Agent,
            then: Some(Dimension::Day),
            metrics: vec!["conversations"],
            rows: vec![row],
        };
        let (sheet, strings) = sheet_xml(&workbook(&report).unwrap());
        // The day in C as a date (2026-11-30 is serial 46356), the count in E.
        assert!(
            sheet.contains("<c r=\"C2\"") && sheet.contains("<v>46356</v>"),
            "{sheet}"
        );
        assert!(sheet.contains("<c r=\"E2\""), "{sheet}");
        assert!(
            strings.contains(">agent<")
                && strings.contains(">day<")
                && strings.contains(">day_label<")
        );
        assert!(strings.contains(">小李<"), "{strings}");
    }
}
