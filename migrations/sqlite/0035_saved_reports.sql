-- Custom reports staff saved to run again (issue 17, 我的报表): metrics,
-- dimensions, filters and a fixed or relative range, as the JSON of
-- `domain::saved_report::ReportSpec`. Each row belongs to one staff member.
CREATE TABLE saved_reports (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES staff_users(id),
    spec       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX saved_reports_by_owner ON saved_reports(owner_id, created_at);
