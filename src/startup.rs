//! The only place that knows the concrete adapters: it builds the application
//! from Settings, binds the listener and runs until told to stop.

use crate::config::Settings;
use crate::crypto::Cipher;
use crate::http::{self, AppState};
use crate::ports::{Clock, Embedder, SystemClock};
use crate::retrieval::edge::EdgeIndex;
use crate::retrieval::index::VectorIndex;
use crate::retrieval::lexical::Segmenter;
use crate::retrieval::remote::RemoteIndex;
use crate::services::attachments::AttachmentService;
use crate::services::chat::ChatService;
use crate::services::hub::Hub;
use crate::services::knowledge::KnowledgeService;
use crate::services::quick_replies::QuickReplies;
use crate::services::routing::RoutingService;
use crate::services::skill_groups::SkillGroups;
use crate::services::staff::StaffService;
use crate::services::visitors::VisitorService;
use crate::storage::Store;
use anyhow::Context;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tokio::net::TcpListener;

pub struct Application {
    listener: TcpListener,
    state: AppState,
    writer: tokio::task::JoinHandle<()>,
    close_writer: tokio::sync::oneshot::Sender<()>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// Opens the configured database (PostgreSQL if a URL is set, else SQLite in the
/// data dir) and brings its schema up to date.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = match &settings.database_url {
        Some(url) => Store::open_postgres(url.expose(), settings.db_connections)
            .await
            .context("cannot connect to PostgreSQL (DATABASE_URL)")?,
        None => {
            std::fs::create_dir_all(&settings.data_dir).with_context(|| {
                format!("cannot create data dir {}", settings.data_dir.display())
            })?;
            Store::open_sqlite(&settings.data_dir, settings.db_connections)
                .await
                .context("cannot open the SQLite database in the data dir")?
        }
    };
    store.migrate().await.context("database migration failed")?;
    Ok(store)
}

/// The process-wide Prometheus recorder (metrics are process-global by nature).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (e.g. by a test harness); then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = open_store(&settings).await?;
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
        let cipher = Cipher::load(
            settings
                .encryption_key
                .as_ref()
                .map(|k| k.expose().as_str()),
            &settings.data_dir,
        )?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let attachments = Arc::new(AttachmentService::new(
            store.clone(),
            cipher.clone(),
            clock.clone(),
            settings.data_dir.join("attachments"),
            settings.max_upload_bytes,
        ));
        let (close_writer, writer_closed) = tokio::sync::oneshot::channel();
        let (chat, writer) = ChatService::start(
            store.clone(),
            cipher.clone(),
            Arc::new(Hub::default()),
            attachments.clone(),
            clock.clone(),
            settings.commit_batch,
            writer_closed,
        );
        let embedder: Arc<dyn Embedder> = Arc::new(
            crate::llm::load_embedder(&settings.embed_model, 256).with_context(|| {
                format!(
                    "cannot load the embedding model {} (run `xiaoer models fetch`)",
                    settings.embed_model
                )
            })?,
        );
        let knowledge =
            Arc::new(knowledge_service(&settings, store.clone(), embedder, clock.clone()).await?);
        ingest_knowledge_folder(&settings, &knowledge).await?;
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let chat = Arc::new(chat);
        let routing = Arc::new(RoutingService::new(
            store.clone(),
            chat.clone(),
            clock.clone(),
        ));
        tokio::spawn(routing.clone().run_sweeper(shutdown_rx.clone()));
        let state = AppState {
            routing,
            groups: Arc::new(SkillGroups::new(store.clone(), clock.clone())),
            quick_replies: Arc::new(QuickReplies::new(store.clone(), clock.clone())),
            knowledge,
            staff: Arc::new(StaffService::new(
                store.clone(),
                clock.clone(),
                settings.session_hours,
            )),
            visitors: Arc::new(VisitorService::new(store.clone(), cipher, clock.clone())),
            chat,
            attachments,
            store,
            clock,
            metrics: metrics_handle(),
            shutdown: shutdown_rx,
        };
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        Ok(Application {
            close_writer,
            listener,
            state,
            writer,
            shutdown,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then closes sockets (code 1012, so clients
    /// resume elsewhere), lets in-flight requests finish, drains the commit queue
    /// and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            state,
            writer,
            close_writer,
            shutdown: notify,
        } = self;
        let store = state.store.clone();
        let app = http::router(state);
        let signal = async move {
            shutdown.await;
            let _ = notify.send(true);
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await?;
        // Every request has finished: the writer commits what is queued and exits.
        let _ = close_writer.send(());
        writer.await.context("commit writer panicked")?;
        store.close().await;
        Ok(())
    }
}

/// The vector index the settings name: a Qdrant server when `qdrant_url` is set,
/// else the embedded engine in `DATA_DIR/index`.
pub async fn open_index(settings: &Settings, dim: usize) -> anyhow::Result<Arc<dyn VectorIndex>> {
    match &settings.qdrant_url {
        Some(url) => Ok(Arc::new(
            RemoteIndex::connect(url, &settings.qdrant_collection, dim)
                .await
                .with_context(|| format!("cannot use the Qdrant server at {url}"))?,
        )),
        None => {
            let path = &settings.index_dir;
            Ok(Arc::new(EdgeIndex::open(path, dim).with_context(|| {
                format!("cannot open the embedded index in {}", path.display())
            })?))
        }
    }
}

/// The segmenter with the shop's vocabulary (`KNOWLEDGE_DIR/vocabulary.txt`) when present.
pub fn shop_segmenter(settings: &Settings) -> Segmenter {
    match std::fs::read_to_string(settings.knowledge_dir.join("vocabulary.txt")) {
        Ok(text) => Segmenter::from_vocabulary_text(&text),
        Err(_) => Segmenter::default(),
    }
}

pub async fn knowledge_service(
    settings: &Settings,
    store: Store,
    embedder: Arc<dyn Embedder>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<KnowledgeService> {
    let index = open_index(settings, embedder.dim()).await?;
    Ok(KnowledgeService::new(
        store,
        index,
        embedder,
        shop_segmenter(settings),
        clock,
    ))
}

/// Imports the shop's knowledge folder (published) and repairs an empty index.
/// Unchanged entries are skipped by content hash, so a restart costs a re-read.
pub async fn ingest_knowledge_folder(
    settings: &Settings,
    knowledge: &KnowledgeService,
) -> anyhow::Result<()> {
    use crate::domain::knowledge::EntryStatus;
    use crate::services::knowledge::import::{ImportOptions, read_folder};
    let dir = &settings.knowledge_dir;
    if dir.is_dir() {
        let entries = read_folder(dir)
            .with_context(|| format!("cannot ingest the knowledge folder {}", dir.display()))?;
        let opts = ImportOptions {
            default_status: EntryStatus::Published,
            create_categories: true,
            author: "knowledge-folder".into(),
        };
        let report = knowledge.import(entries, &opts, &|_, _| {}).await?;
        tracing::info!(?report, dir = %dir.display(), "knowledge folder ingested");
    }
    knowledge.repair_index().await?;
    Ok(())
}
