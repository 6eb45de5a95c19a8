//! Schemathesis (PyPI) fuzzes every route of the served OpenAPI document, once
//! anonymous and once as an admin: generated and mutated path, query and body
//! values against the real server. No answer may be a server error or a status
//! the document does not list.
//!
//! scripts/test.sh installs schemathesis into its own venv and sets
//! XIAOER_TEST_SCHEMATHESIS (the `st` command) and XIAOER_FUZZ_REQUIRED=1; without
//! them the test says so and passes.

use crate::helpers::spawn_app;
use std::process::Command;
use xiaoer::domain::staff::Role;

/// Examples per operation and phase: enough to reach every documented field with
/// good and bad values while the two runs stay within a few minutes.
const EXAMPLES: &str = "4";

fn schemathesis() -> Option<String> {
    let st = std::env::var("XIAOER_TEST_SCHEMATHESIS").unwrap_or_else(|_| "st".into());
    let found = Command::new(&st)
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    found.then_some(st)
}

/// Runs one fuzzing pass and returns its report.
fn fuzz(st: &str, schema: &str, auth: Option<&str>) -> (bool, String) {
    let mut command = Command::new(st);
    command.args([
        "run",
        schema,
        "--checks",
        "not_a_server_error,status_code_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        EXAMPLES,
        "--seed",
        "20261201",
        "--generation-database",
        "none",
        "--no-color",
        "--workers",
        "2",
        "--request-timeout",
        "20",
        // WebSocket upgrades are not HTTP exchanges a fuzzer can judge.
        "--exclude-path-regex",
        "/ws$",
    ]);
    if let Some(token) = auth {
        // The admin's session must outlive the run: signing out and changing
        // one's own password (which ends every session) are left out.
        command.args([
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--exclude-path",
            "/api/v1/staff/logout",
            "--exclude-path",
            "/api/v1/staff/me/password",
        ]);
    }
    let out = command.output().expect("schemathesis runs");
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

#[tokio::test(flavor = "multi_thread")]
async fn asvs_2_2_1_and_16_5_3_fuzzing_every_documented_route_finds_no_server_error_and_no_undocumented_status()
 {
    let Some(st) = schemathesis() else {
        assert!(
            std::env::var("XIAOER_FUZZ_REQUIRED").is_err(),
            "schemathesis is not installed: pip install schemathesis (scripts/test.sh does)"
        );
        eprintln!("SKIPPED: schemathesis is not installed");
        return;
    };
    let app = spawn_app().await;
    let admin = app.staff("fuzz-admin", Role::Admin).await;
    let schema = app.url("/api/openapi.json");
    let mut failed = Vec::new();
    for (who, auth) in [("anonymous", None), ("admin", Some(admin.token.as_str()))] {
        let (st, schema) = (st.clone(), schema.clone());
        let auth = auth.map(str::to_owned);
        let (ok, report) = tokio::task::spawn_blocking(move || fuzz(&st, &schema, auth.as_deref()))
            .await
            .unwrap();
        println!("== schemathesis, {who}\n{report}");
        if !ok {
            failed.push(who);
        }
    }
    assert!(
        failed.is_empty(),
        "schemathesis found server errors or undocumented statuses ({failed:?}); the report is above"
    );
}
