//! Bulk import and export: JSONL (the ../shared/eval format and ours), CSV, YAML
//! FAQ files, Markdown articles with front matter, and the knowledge/ folder.
//!
//! An import is all-or-nothing: every record is parsed and checked first, then
//! the changed entries are written in one transaction. Unchanged content (same
//! hash, same status) is skipped, so importing the same file twice is a no-op.

use super::entries::content_write;
use super::{KnowledgeError, KnowledgeService};
use crate::domain::knowledge::{
    CategoryPath, EntryContent, EntryId, EntryKind, EntryStatus, NewEntry, RawEntry,
};
use crate::ports::repositories::EntryHead;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    Jsonl,
    Csv,
    Yaml,
    Markdown,
}

impl ImportFormat {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" => Some(ImportFormat::Jsonl),
            "csv" => Some(ImportFormat::Csv),
            "yaml" | "yml" => Some(ImportFormat::Yaml),
            "md" | "markdown" => Some(ImportFormat::Markdown),
            _ => None,
        }
    }

    pub fn from_path(path: &Path) -> Option<Self> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Self::parse)
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Entries (re)indexed because they are published and changed.
    pub indexed: usize,
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Status of imported entries that do not name one.
    pub default_status: EntryStatus,
    /// Create categories the records name (file ingestion); otherwise they must exist.
    pub create_categories: bool,
    pub author: String,
}

fn bad(line: usize, message: impl std::fmt::Display) -> KnowledgeError {
    KnowledgeError::BadImport {
        line,
        message: message.to_string(),
    }
}

/// Parses a whole file; the first bad record fails it with its line number.
pub fn parse_records(format: ImportFormat, text: &str) -> Result<Vec<NewEntry>, KnowledgeError> {
    match format {
        ImportFormat::Jsonl => parse_jsonl(text),
        ImportFormat::Csv => parse_csv(text),
        ImportFormat::Yaml => parse_yaml(text),
        ImportFormat::Markdown => Ok(vec![parse_markdown(text)?]),
    }
}

fn parse_jsonl(text: &str) -> Result<Vec<NewEntry>, KnowledgeError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let raw: RawEntry = serde_json::from_str(line).map_err(|e| bad(i + 1, e))?;
        out.push(NewEntry::parse(raw).map_err(|e| bad(i + 1, e))?);
    }
    Ok(out)
}

/// Columns by header name; list columns (`similar`, `tags`, `products`) are `|`-separated.
fn parse_csv(text: &str) -> Result<Vec<NewEntry>, KnowledgeError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| bad(1, e))?.clone();
    let known = [
        "id",
        "kind",
        "question",
        "similar",
        "answer",
        "category",
        "tags",
        "products",
        "locale",
        "valid_from",
        "valid_to",
        "status",
    ];
    if let Some(h) = headers.iter().find(|h| !known.contains(h)) {
        return Err(bad(1, format!("unknown column '{h}'")));
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| bad(line, e))?;
        let get = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|p| record.get(p))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let list = |name: &str| {
            get(name)
                .map(|v| {
                    v.split('|')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let kind = match get("kind").as_deref() {
            None | Some("faq") => Some(EntryKind::Faq),
            Some("article") => Some(EntryKind::Article),
            Some(other) => return Err(bad(line, format!("unknown kind '{other}'"))),
        };
        let raw = RawEntry {
            id: get("id"),
            kind,
            question: get("question"),
            similar: list("similar"),
            answer: get("answer"),
            category: get("category"),
            tags: list("tags"),
            products: list("products"),
            locale: get("locale"),
            valid_from: get("valid_from"),
            valid_to: get("valid_to"),
            status: get("status"),
            ..RawEntry::default()
        };
        out.push(NewEntry::parse(raw).map_err(|e| bad(line, e))?);
    }
    Ok(out)
}

fn parse_yaml(text: &str) -> Result<Vec<NewEntry>, KnowledgeError> {
    let raws: Vec<serde_yaml_ng::Value> = serde_yaml_ng::from_str(text)
        .map_err(|e| bad(e.location().map(|l| l.line()).unwrap_or(0), e))?;
    let mut out = Vec::new();
    for (i, value) in raws.into_iter().enumerate() {
        // YAML dates (2026-11-01) arrive as strings; numbers in ids too.
        let raw: RawEntry = serde_yaml_ng::from_value(value)
            .map_err(|e| bad(i + 1, format!("entry {}: {e}", i + 1)))?;
        out.push(NewEntry::parse(raw).map_err(|e| bad(i + 1, format!("entry {}: {e}", i + 1)))?);
    }
    Ok(out)
}

/// An article: YAML front matter between `---` lines, then the Markdown body.
fn parse_markdown(text: &str) -> Result<NewEntry, KnowledgeError> {
    let rest = text
        .strip_prefix("---")
        .ok_or_else(|| bad(1, "an article starts with front matter between '---' lines"))?;
    let end = rest
        .find("\n---")
        .ok_or_else(|| bad(1, "front matter is not closed by '---'"))?;
    let front = &rest[..end];
    let body = rest[end + 4..].trim_start_matches(['-', '\n', '\r']);
    let mut raw: RawEntry = serde_yaml_ng::from_str(front).map_err(|e| bad(1, e))?;
    raw.kind = Some(EntryKind::Article);
    raw.answer = Some(body.to_owned());
    NewEntry::parse(raw).map_err(|e| bad(1, e))
}

/// Every entry file under a folder: `*.jsonl`, `*.csv`, `*.yaml`/`*.yml`, `*.md`
/// (README.md excepted), recursively, in name order.
pub fn read_folder(dir: &Path) -> Result<Vec<NewEntry>, KnowledgeError> {
    let mut files = Vec::new();
    collect_files(dir, &mut files).map_err(|e| bad(0, format!("{}: {e}", dir.display())))?;
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let Some(format) = ImportFormat::from_path(&file) else {
            continue;
        };
        if file
            .file_name()
            .is_some_and(|n| n.eq_ignore_ascii_case("README.md"))
        {
            continue;
        }
        let text = std::fs::read_to_string(&file)
            .map_err(|e| bad(0, format!("{}: {e}", file.display())))?;
        let records = parse_records(format, &text).map_err(|e| match e {
            KnowledgeError::BadImport { line, message } => {
                bad(line, format!("{}: {message}", file.display()))
            }
            other => other,
        })?;
        out.extend(records);
    }
    Ok(out)
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Entries without an id get one from their standard question, so that
/// re-importing the same file finds them again.
fn id_of(e: &NewEntry) -> EntryId {
    e.id.clone().unwrap_or_else(|| {
        use sha2::{Digest, Sha256};
        let h = Sha256::digest(e.content.question.as_bytes());
        EntryId::parse(&format!("kb-{}", &hex::encode(h)[..16])).expect("generated id is valid")
    })
}

impl KnowledgeService {
    pub async fn import(
        &self,
        entries: Vec<NewEntry>,
        opts: &ImportOptions,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<ImportReport, KnowledgeError> {
        let mut seen = BTreeSet::new();
        for e in &entries {
            let id = id_of(e);
            if !seen.insert(id.clone()) {
                return Err(KnowledgeError::DuplicateId(id.as_str().to_owned()));
            }
        }
        let categories: BTreeSet<&CategoryPath> = entries
            .iter()
            .filter_map(|e| e.content.category.as_ref())
            .collect();
        if opts.create_categories {
            let all: BTreeSet<String> =
                categories.iter().flat_map(|c| c.with_ancestors()).collect();
            let all: Vec<String> = all.into_iter().collect();
            self.entries
                .add_categories(&all, self.clock.now_ms())
                .await?;
        } else {
            self.check_categories(categories.iter().copied()).await?;
        }
        let heads: HashMap<String, EntryHead> = self
            .entries
            .heads()
            .await?
            .into_iter()
            .map(|head| (head.id.clone(), head))
            .collect();
        let now = self.clock.now_ms();
        let mut report = ImportReport::default();
        let mut writes = Vec::new();
        let mut to_index: Vec<(String, EntryContent)> = Vec::new();
        let mut to_remove = Vec::new();
        for e in entries {
            let id = id_of(&e);
            let status = e.status.unwrap_or(opts.default_status);
            let head = heads.get(id.as_str());
            let mut write = content_write(
                &id,
                &e.content,
                status,
                1,
                &opts.author,
                "imported".into(),
                now,
            );
            let hash = e.content.hash();
            match head {
                Some(h) if h.content_hash == hash && h.status == status => {
                    report.unchanged += 1;
                    continue;
                }
                Some(h) => {
                    report.updated += 1;
                    if h.content_hash == hash {
                        write.version = h.version;
                        write.status_only = true;
                    } else {
                        write.version = h.version + 1;
                    }
                }
                None => report.created += 1,
            }
            if status == EntryStatus::Published {
                to_index.push((id.as_str().to_owned(), e.content));
            } else if head.is_some() {
                to_remove.push(id.as_str().to_owned());
            }
            writes.push(write);
        }
        self.entries
            .write(&writes)
            .await
            .map_err(KnowledgeError::from_repo)?;
        for id in to_remove.iter().chain(to_index.iter().map(|(id, _)| id)) {
            self.index.delete_entry(id).await?;
        }
        self.index_entries(&to_index, progress).await?;
        let indexed: Vec<(String, String)> = to_index
            .iter()
            .map(|(id, c)| (id.clone(), c.hash()))
            .collect();
        self.settle(&indexed, &to_remove).await?;
        report.indexed = to_index.len();
        if !writes.is_empty() {
            self.retrain().await?;
        }
        Ok(report)
    }

    /// Every entry (any status) as JSONL records that `import` reads back.
    pub async fn export_jsonl(&self) -> Result<String, KnowledgeError> {
        let mut out = String::new();
        for e in self.export_views().await? {
            out.push_str(&serde_json::to_string(&export_record(&e)).expect("serialises"));
            out.push('\n');
        }
        Ok(out)
    }

    pub async fn export_csv(&self) -> Result<String, KnowledgeError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header = [
            "id",
            "kind",
            "status",
            "question",
            "similar",
            "answer",
            "category",
            "tags",
            "products",
            "locale",
            "valid_from",
            "valid_to",
        ];
        w.write_record(header).map_err(|e| bad(0, e))?;
        for e in self.export_views().await? {
            let c = &e.content;
            let kind = if c.kind == EntryKind::Article {
                "article"
            } else {
                "faq"
            };
            w.write_record([
                e.id.as_str(),
                kind,
                e.status.as_str(),
                c.question.as_str(),
                &c.similar.join("|"),
                c.answer.as_str(),
                c.category.as_ref().map(|c| c.as_str()).unwrap_or(""),
                &c.tags.join("|"),
                &c.products.join("|"),
                c.locale.as_str(),
                c.valid_from.as_ref().map(|d| d.as_str()).unwrap_or(""),
                c.valid_to.as_ref().map(|d| d.as_str()).unwrap_or(""),
            ])
            .map_err(|e| bad(0, e))?;
        }
        let bytes = w.into_inner().map_err(|e| bad(0, e))?;
        Ok(String::from_utf8(bytes).expect("csv of UTF-8 fields is UTF-8"))
    }

    async fn export_views(&self) -> Result<Vec<super::EntryView>, KnowledgeError> {
        let filter = crate::ports::repositories::EntryFilter {
            limit: i64::MAX,
            ..Default::default()
        };
        let (mut views, _) = self.list(filter).await?;
        views.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(views)
    }
}

fn export_record(e: &super::EntryView) -> serde_json::Value {
    let mut v = serde_json::to_value(&e.content).expect("serialises");
    v["id"] = e.id.clone().into();
    v["status"] = e.status.as_str().into();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_errors_name_the_line() {
        let text = "{\"id\":\"a\",\"questions\":[\"q\"],\"answer\":\"x\"}\n{\"id\":\"b\",\"questions\":[]}\n";
        match parse_records(ImportFormat::Jsonl, text) {
            Err(KnowledgeError::BadImport { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn csv_lists_are_pipe_separated() {
        let text = "id,question,similar,answer,tags\nr1,能退货吗,可以退吗|怎么退,可以,退货|售后\n";
        let e = &parse_records(ImportFormat::Csv, text).unwrap()[0];
        assert_eq!(e.content.similar, vec!["可以退吗", "怎么退"]);
        assert_eq!(e.content.tags, vec!["退货", "售后"]);
    }

    #[test]
    fn csv_unknown_columns_are_refused() {
        let text = "id,question,answr\nr1,q,a\n";
        assert!(matches!(
            parse_records(ImportFormat::Csv, text),
            Err(KnowledgeError::BadImport { line: 1, .. })
        ));
    }

    #[test]
    fn markdown_article_reads_front_matter() {
        let text = "---\nid: policy\ntitle: 售后政策\ncategory: 售后/政策\n---\n# 售后政策\n七天无理由。\n";
        let e = &parse_records(ImportFormat::Markdown, text).unwrap()[0];
        assert_eq!(e.content.kind, EntryKind::Article);
        assert_eq!(e.content.question, "售后政策");
        assert!(e.content.answer.starts_with("# 售后政策"));
    }

    #[test]
    fn yaml_dates_become_days() {
        let text = "- id: promo\n  question: 双11满减\n  answer: 满300减50\n  valid_from: 2026-11-01\n  valid_to: 2026-11-11\n";
        let e = &parse_records(ImportFormat::Yaml, text).unwrap()[0];
        assert_eq!(e.content.valid_to.as_ref().unwrap().as_str(), "2026-11-11");
    }
}
