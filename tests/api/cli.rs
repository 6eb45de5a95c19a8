//! The binary's own subcommands: migrate and the first-admin bootstrap.

use crate::helpers::{PASSWORD, spawn_with, test_settings};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

pub fn xiaoer(
    settings: &xiaoer::config::Settings,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xiaoer"));
    command
        .arg("--data-dir")
        .arg(&settings.data_dir)
        .args(args)
        .env_remove("DATABASE_URL");
    if let Some(url) = &settings.database_url {
        command.env("DATABASE_URL", url.expose());
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn the_first_admin_is_created_on_the_command_line_and_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(dir.path()).await;

    let migrate = xiaoer(&settings, &["migrate"], "");
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(String::from_utf8_lossy(&migrate.stdout).contains("database is up to date"));

    let weak = xiaoer(
        &settings,
        &[
            "user",
            "add",
            "--role",
            "admin",
            "--username",
            "boss",
            "--password-stdin",
        ],
        "short\n",
    );
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password must be"));

    let bad_role = xiaoer(
        &settings,
        &[
            "user",
            "add",
            "--role",
            "owner",
            "--username",
            "boss",
            "--password-stdin",
        ],
        "x\n",
    );
    assert!(!bad_role.status.success());

    let added = xiaoer(
        &settings,
        &[
            "user",
            "add",
            "--role",
            "admin",
            "--username",
            "boss",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(String::from_utf8_lossy(&added.stdout).contains("added boss"));

    let again = xiaoer(
        &settings,
        &[
            "user",
            "add",
            "--role",
            "agent",
            "--username",
            "boss",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(!again.status.success(), "a taken username is refused");

    let app = spawn_with(dir, settings, Default::default()).await;
    let res = app
        .client
        .post(app.url("/api/v1/staff/login"))
        .json(&json!({ "username": "boss", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let login: Value = res.json().await.unwrap();
    assert_eq!(login["user"]["role"], "admin");
    let created = app
        .client
        .post(app.url("/api/v1/staff/users"))
        .bearer_auth(login["token"].as_str().unwrap())
        .json(&json!({ "username": "agent-1", "password": PASSWORD, "role": "agent" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}
