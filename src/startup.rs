//! The only place that knows the concrete adapters: it builds the application
//! from Settings, binds the listener and runs until told to stop.

use crate::config::Settings;
use crate::crypto::Cipher;
use crate::domain::intake::{DEFAULT_INTENTS, IntentCatalog};
use crate::http::{self, AppState};
use crate::llm::generate::ChatEngine;
use crate::llm::source::ModelSource;
use crate::llm::worker::LocalChatModel;
use crate::ports::vector_index::VectorIndex;
use crate::ports::{ChatModel, Clock, Commerce, Embedder, KnowledgeBase, SystemClock};
use crate::retrieval::edge::EdgeIndex;
use crate::retrieval::lexical::Segmenter;
use crate::retrieval::remote::RemoteIndex;
use crate::services::attachments::AttachmentService;
use crate::services::audit::AuditService;
use crate::services::bot::prompts::Prompts;
use crate::services::bot::{BotConfig, BotParts, BotPorts, BotService};
use crate::services::challenge::ChallengeService;
use crate::services::channels::ChannelService;
use crate::services::chat::ChatService;
use crate::services::conversations::ConversationService;
use crate::services::hub::Hub;
use crate::services::knowledge::KnowledgeService;
use crate::services::privacy::PrivacyService;
use crate::services::quick_replies::QuickReplies;
use crate::services::routing::RoutingService;
use crate::services::sender::MessageSender;
use crate::services::shop::{ShopService, ShopSettings, ShopSettingsInput};
use crate::services::skill_groups::SkillGroups;
use crate::services::staff::StaffService;
use crate::services::subscribers::{Reach, Runner};
use crate::services::unanswered::UnansweredQuestions;
use crate::services::visitors::VisitorService;
use crate::services::webhooks::{WebhookQueue, WebhookService};
use crate::storage::demo_store::{DEMO_BUYERS, DemoStore};
use crate::storage::{CommitQueue, Store};
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
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    let store = match &settings.database_url {
        Some(url) => Store::open_postgres(url.expose(), settings.db_connections)
            .await
            .context("cannot connect to PostgreSQL (DATABASE_URL)")?
            .with_fanout(settings.fanout),
        None => Store::open_sqlite(&settings.data_dir, settings.db_connections)
            .await
            .context("cannot open the SQLite database in the data dir")?,
    };
    let store = store.with_cipher(load_cipher(settings)?);
    store.migrate().await.context("database migration failed")?;
    let sealed = store
        .seal_plaintext_rows()
        .await
        .context("cannot seal rows stored in clear before migration 0013")?;
    if sealed > 0 {
        tracing::info!(
            rows = sealed,
            "sealed rows stored in clear by an older version"
        );
    }
    Ok(store)
}

/// The data key: from settings, else the key file in the data dir.
pub fn load_cipher(settings: &Settings) -> anyhow::Result<Cipher> {
    Ok(Cipher::load(
        settings
            .encryption_key
            .as_ref()
            .map(|k| k.expose().as_str()),
        &settings.data_dir,
    )?)
}

/// How often messages and attachments past the retention period are purged
/// (and rate-limit windows and sign-in failures no longer counted).
const RETENTION_PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Requests that may wait for a model thread before callers get 429.
const MODEL_QUEUE: usize = 32;
/// How often a node checks whether the knowledge base changed through another
/// node (one aggregate query), so its classifier follows without a restart.
const KB_REVISION_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The loaded models, as the ports the services use. Cheap to clone (handles on
/// the model threads), so tests load them once per process.
#[derive(Clone)]
pub struct Models {
    pub llm: Arc<dyn ChatModel>,
    pub embedder: Arc<dyn Embedder>,
}

impl Models {
    /// Loads the LLM and the embedding model named in Settings (blocking: seconds).
    pub fn load(settings: &Settings) -> anyhow::Result<Models> {
        Ok(Models {
            llm: load_llm(settings)?,
            embedder: Arc::new(
                crate::llm::load_embedder(&settings.embed_model, MODEL_QUEUE)
                    .context("load the embedding model")?,
            ),
        })
    }
}

pub(crate) fn load_llm(settings: &Settings) -> anyhow::Result<Arc<dyn ChatModel>> {
    let gguf = ModelSource::parse(&settings.llm_model)?.resolve()?;
    let tokenizer = match settings.llm_tokenizer.as_str() {
        "gguf" => None,
        spec => Some(ModelSource::parse(spec)?.resolve()?),
    };
    let engine = ChatEngine::load(&gguf, tokenizer.as_deref())
        .context("load the LLM (run `xiaoer models fetch`)")?;
    Ok(Arc::new(LocalChatModel::spawn(engine, MODEL_QUEUE)))
}

/// The models this server runs: always the embedder (the knowledge base needs
/// it), the LLM only with the bot on.
struct RunningModels {
    llm: Option<Arc<dyn ChatModel>>,
    embedder: Arc<dyn Embedder>,
}

async fn load_models(settings: &Settings, given: Option<Models>) -> anyhow::Result<RunningModels> {
    if let Some(models) = given {
        return Ok(RunningModels {
            llm: settings.bot.then_some(models.llm),
            embedder: models.embedder,
        });
    }
    let embedder: Arc<dyn Embedder> = Arc::new(
        crate::llm::load_embedder(&settings.embed_model, 256).with_context(|| {
            format!(
                "cannot load the embedding model {} (run `xiaoer models fetch`)",
                settings.embed_model
            )
        })?,
    );
    let llm = if settings.bot {
        let settings = settings.clone();
        Some(tokio::task::spawn_blocking(move || load_llm(&settings)).await??)
    } else {
        None
    };
    Ok(RunningModels { llm, embedder })
}

/// Adapters a caller (a test, a benchmark) brings instead of the configured ones.
#[derive(Default, Clone)]
pub struct Adapters {
    pub models: Option<Models>,
    pub knowledge: Option<Arc<dyn KnowledgeBase>>,
    pub commerce: Option<Arc<dyn Commerce>>,
}

/// The shop settings of a first run, from the start-up flags; after that they
/// live in the database and admins change them.
pub(crate) fn shop_defaults(settings: &Settings) -> anyhow::Result<ShopSettings> {
    Ok(ShopSettings::parse(ShopSettingsInput {
        shop_name: settings.shop_name.clone(),
        service_hours: settings.service_hours.clone(),
        utc_offset_minutes: settings.shop_utc_offset_minutes,
        holidays: Vec::new(),
    })?)
}

/// The bot's own words: the shop's catalogue when it has one, else the shipped one.
fn bot_messages(settings: &Settings) -> anyhow::Result<crate::domain::bot_messages::Messages> {
    use crate::domain::bot_messages::{DEFAULT_MESSAGES, Messages};
    let text = match &settings.bot_messages {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the bot's messages {}", path.display()))?,
        None => DEFAULT_MESSAGES.to_owned(),
    };
    Ok(Messages::parse(&text)?)
}

fn intent_catalog(settings: &Settings) -> anyhow::Result<IntentCatalog> {
    let text = match &settings.intents_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read intents file {}", path.display()))?,
        None => DEFAULT_INTENTS.to_owned(),
    };
    Ok(IntentCatalog::parse(&text)?)
}

async fn commerce(settings: &Settings, clock: &dyn Clock) -> anyhow::Result<Arc<dyn Commerce>> {
    Ok(match &settings.commerce_url {
        Some(url) => Arc::new(crate::commerce::HttpCommerce::new(
            url,
            settings.commerce_token.as_ref().map(|t| t.expose().clone()),
        )?),
        None => Arc::new(
            DemoStore::open(&settings.data_dir, clock.now_ms())
                .await
                .context("cannot open the demo store in the data dir")?,
        ),
    })
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
        Self::build_with(settings, Adapters::default()).await
    }

    /// Builds with some adapters supplied by the caller; the rest come from Settings.
    pub async fn build_with(settings: Settings, adapters: Adapters) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, adapters, Arc::new(SystemClock)).await
    }

    /// As `build_with`, on the caller's clock (tests script a day of chats).
    pub async fn build_with_clock(
        settings: Settings,
        adapters: Adapters,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Application> {
        let store = open_store(&settings).await?;
        let cipher = load_cipher(&settings)?;
        let attachments = Arc::new(AttachmentService::new(
            Arc::new(store.clone()),
            cipher.clone(),
            clock.clone(),
            settings.data_dir.join("attachments"),
            settings.max_upload_bytes,
        ));
        let (close_writer, writer_closed) = tokio::sync::oneshot::channel();
        let hub = Arc::new(Hub::default());
        let (commits, writer) = CommitQueue::start(
            store.clone(),
            settings.commit_batch,
            writer_closed,
            ChatService::on_commit(hub.clone()),
        );
        let chat = Arc::new(ChatService::new(
            Arc::new(store.clone()),
            Arc::new(commits),
            cipher.clone(),
            hub,
            attachments.clone(),
            clock.clone(),
        ));
        let demo_store = settings.commerce_url.is_none() && adapters.commerce.is_none();
        let visitors = Arc::new(
            VisitorService::new(Arc::new(store.clone()), cipher.clone(), clock.clone())
                .with_identity(
                    settings.identity_secret.clone(),
                    if demo_store { &DEMO_BUYERS } else { &[] },
                ),
        );
        let models = load_models(&settings, adapters.models).await?;
        let knowledge = Arc::new(
            knowledge_service(
                &settings,
                store.clone(),
                models.embedder.clone(),
                clock.clone(),
            )
            .await?,
        );
        ingest_knowledge_folder(&settings, &knowledge).await?;
        // The demo store this start opens also recommends from the generated
        // demo logs; a shop's own store (or one a test brings) from its data only.
        let demo_logs = match (&adapters.commerce, &settings.commerce_url) {
            (None, None) => crate::storage::demo_logs::generate().training_baskets(),
            _ => Vec::new(),
        };
        let commerce = match adapters.commerce {
            Some(commerce) => commerce,
            None => commerce(&settings, clock.as_ref()).await?,
        };
        let orders = Arc::new(crate::services::orders::OrderLookup::new(
            commerce.clone(),
            visitors.clone(),
            chat.clone(),
        ));
        let presence = Arc::new(crate::services::presence::PresenceService::new(
            Arc::new(store.clone()),
            clock.clone(),
            visitors.clone(),
            commerce.clone(),
        ));
        let topics = Arc::new(crate::services::topics::Topics::new(
            Arc::new(store.clone()),
            clock.clone(),
        ));
        let catalogue = Arc::new(crate::services::catalogue::Catalogue::new(
            commerce.clone(),
            chat.clone(),
            topics.clone(),
        ));
        let coupons = Arc::new(crate::services::coupons::CouponDesk::new(
            commerce.clone(),
            chat.clone(),
            visitors.clone(),
            clock.clone(),
        ));
        let products_index =
            open_index_named(&settings, models.embedder.dim(), IndexCollection::Products).await?;
        let recommender = Arc::new(crate::services::recommend::Recommender::new(
            Arc::new(store.clone()),
            commerce.clone(),
            chat.clone(),
            clock.clone(),
            demo_logs,
            Some(Arc::new(crate::services::product_index::ProductIndex::new(
                products_index,
                models.embedder.clone(),
            ))),
        ));
        let portraits = Arc::new(crate::services::portrait::PortraitService::new(
            Arc::new(store.clone()),
            commerce.clone(),
            visitors.clone(),
            recommender.clone(),
            clock.clone(),
        ));
        let routing = Arc::new(RoutingService::new(
            Arc::new(store.clone()),
            chat.clone(),
            clock.clone(),
        ));
        let shop = Arc::new(
            ShopService::open(
                Arc::new(store.clone()),
                clock.clone(),
                shop_defaults(&settings)?,
            )
            .await?,
        );
        // The bot hands off through the conversation service, which asks the bot
        // for its packet when a buyer leaves it: built together, the service
        // holding the bot weakly.
        let (catalog, prompts) = (
            intent_catalog(&settings)?,
            Prompts::load(&settings.shop_name)?.with_messages(bot_messages(&settings)?),
        );
        let mut conversations = None;
        let bot = Arc::new_cyclic(|bot| {
            let service = Arc::new(
                ConversationService::new(
                    chat.clone(),
                    bot.clone(),
                    routing.clone(),
                    visitors.clone(),
                )
                .with_invitations(
                    presence.clone(),
                    catalogue.clone(),
                    Arc::new(store.clone()),
                ),
            );
            conversations = Some(service.clone());
            BotService::new(
                BotParts {
                    chat: chat.clone(),
                    conversations: service,
                    visitors: visitors.clone(),
                    records: Arc::new(store.clone()),
                    sessions: Arc::new(crate::storage::SealedBotSessions::new(
                        store.clone(),
                        cipher.clone(),
                    )),
                    cipher: cipher.clone(),
                    clock: clock.clone(),
                    shop: shop.clone(),
                    topics: topics.clone(),
                },
                BotPorts {
                    knowledge: adapters.knowledge.unwrap_or_else(|| knowledge.clone()),
                    commerce: commerce.clone(),
                    llm: models.llm.clone(),
                    embedder: Some(models.embedder),
                    recommender: Some(recommender.clone()),
                },
                catalog,
                prompts,
                BotConfig {
                    answer_budget: settings.answer_budget,
                    token_budget: settings.llm_token_budget,
                    synonyms: shop_synonyms(&settings),
                    ..BotConfig::default()
                },
            )
        });
        let conversations = conversations.expect("built with the bot");
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(routing.clone().run_sweeper(
            std::time::Duration::from_millis(settings.routing_sweep_ms),
            shutdown_rx.clone(),
        ));
        tokio::spawn(presence.clone().run_sweeper(shutdown_rx.clone()));
        tokio::spawn(presence.clone().run_fanout(shutdown_rx.clone()));
        tokio::spawn(
            knowledge
                .clone()
                .watch_revisions(KB_REVISION_EVERY, shutdown_rx.clone()),
        );
        if let Some(commits) = store.foreign_commits().await? {
            tokio::spawn(
                chat.clone()
                    .relay_foreign_commits(commits, shutdown_rx.clone()),
            );
        }
        store.listen_for_events(shutdown_rx.clone()).await?;
        let tickets = Arc::new(crate::services::tickets::TicketService::new(
            Arc::new(store.clone()),
            clock.clone(),
            shop.clone(),
            chat.clone(),
            bot.clone(),
            attachments.clone(),
        ));
        let channels = Arc::new(ChannelService::new(
            Arc::new(store.clone()),
            cipher.clone(),
            clock.clone(),
            chat.clone(),
            visitors.clone(),
            conversations.clone(),
            tickets.clone(),
        ));
        let webhooks = Arc::new(WebhookService::new(
            Arc::new(store.clone()),
            cipher.clone(),
            clock.clone(),
            chat.clone(),
            channels.clone(),
            settings.webhook_retry_base_ms,
        ));
        let runner = Runner::new(Arc::new(store.clone()), clock.clone());
        runner
            .spawn(
                Arc::new(WebhookQueue(webhooks.clone())),
                Reach::Cluster,
                shutdown_rx.clone(),
            )
            .await?;
        tokio::spawn(webhooks.clone().run_sender(shutdown_rx.clone()));
        runner
            .spawn(
                Arc::new(crate::services::live::StaffFeed::new(chat.clone())),
                Reach::EachNode,
                shutdown_rx.clone(),
            )
            .await?;
        let blocks = crate::services::blocks::BlockService::load(
            Arc::new(store.clone()),
            clock.clone(),
            settings.flood,
            settings.banned_words.clone(),
        )
        .await?;
        if bot.enabled() {
            runner
                .spawn(
                    Arc::new(crate::services::followups::BotFeed::new(chat.clone(), &bot)),
                    Reach::ClusterFromNow,
                    shutdown_rx.clone(),
                )
                .await?;
        }
        runner
            .spawn(
                Arc::new(crate::services::followups::RoutingFeed(routing.clone())),
                Reach::ClusterFromNow,
                shutdown_rx.clone(),
            )
            .await?;
        tokio::spawn(tickets.clone().run_sweeper(shutdown_rx.clone()));
        runner
            .spawn(
                Arc::new(crate::services::ticket_events::TicketReplies(
                    tickets.clone(),
                )),
                Reach::Cluster,
                shutdown_rx.clone(),
            )
            .await?;
        runner
            .spawn(
                Arc::new(crate::services::ticket_automations::TicketAutomations(
                    tickets.clone(),
                )),
                Reach::ClusterFromNow,
                shutdown_rx.clone(),
            )
            .await?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let ticket_mail = Arc::new(crate::services::ticket_mail::TicketMail::new(
            Arc::new(store.clone()),
            clock.clone(),
            console_base(&settings, &listener)?,
        ));
        runner
            .spawn(
                Arc::new(crate::services::ticket_mail::TicketMailer(
                    ticket_mail.clone(),
                )),
                Reach::ClusterFromNow,
                shutdown_rx.clone(),
            )
            .await?;
        tokio::spawn(
            ticket_mail
                .clone()
                .run_digest(shop.clone(), shutdown_rx.clone()),
        );
        let bell = Arc::new(crate::services::bell::BellService::new(
            Arc::new(store.clone()),
            clock.clone(),
        ));
        runner
            .spawn(
                Arc::new(crate::services::bell::BellWriter(bell.clone())),
                Reach::ClusterFromNow,
                shutdown_rx.clone(),
            )
            .await?;
        runner
            .spawn(
                Arc::new(crate::services::bell::BellFeed {
                    bell: bell.clone(),
                    chat: chat.clone(),
                }),
                Reach::EachNode,
                shutdown_rx.clone(),
            )
            .await?;
        let history = Arc::new(crate::services::history::HistoryService::new(
            Arc::new(store.clone()),
            cipher.clone(),
            chat.clone(),
            visitors.clone(),
        ));
        runner
            .spawn(
                Arc::new(crate::services::history::HistoryIndexer(history.clone())),
                Reach::Cluster,
                shutdown_rx.clone(),
            )
            .await?;
        let analytics = Arc::new(
            crate::services::analytics::AnalyticsService::new(
                Arc::new(store.clone()),
                clock.clone(),
                shop.clone(),
                chat.clone(),
            )
            .with_catalogue(commerce.clone()),
        );
        runner
            .spawn(
                Arc::new(crate::services::analytics::AnalyticsFeed(analytics.clone())),
                Reach::Cluster,
                shutdown_rx.clone(),
            )
            .await?;
        let conversions = Arc::new(crate::services::conversion::ConversionTracker::new(
            Arc::new(store.clone()),
            commerce.clone(),
            shop.clone(),
            clock.clone(),
        ));
        tokio::spawn(conversions.clone().run(shutdown_rx.clone()));
        let queue_alerts = Arc::new(crate::services::queue_alerts::QueueAlerts::new(
            Arc::new(store.clone()),
            clock.clone(),
        ));
        tokio::spawn(queue_alerts.clone().run(shutdown_rx.clone()));
        runner
            .spawn(
                Arc::new(crate::services::queue_alerts::QueueAlertFeed {
                    queues: Arc::new(store.clone()),
                    chat: chat.clone(),
                }),
                Reach::EachNode,
                shutdown_rx.clone(),
            )
            .await?;
        let audit = Arc::new(AuditService::new(Arc::new(store.clone()), clock.clone()));
        let staff = Arc::new(StaffService::new(
            Arc::new(store.clone()),
            audit.clone(),
            clock.clone(),
            settings.session_hours,
        ));
        let saved_reports = Arc::new(crate::services::saved_reports::SavedReportService::new(
            Arc::new(store.clone()),
            shop.clone(),
            clock.clone(),
            analytics.clone(),
            staff.clone(),
            ticket_mail.clone(),
        ));
        tokio::spawn(saved_reports.clone().run_mail(shutdown_rx.clone()));
        // The model's draft scores of quality reviews, made while it is idle.
        let qa_drafts = Arc::new(crate::services::quality_drafts::QaDraftService::new(
            Arc::new(crate::storage::SealedQaDrafts::new(
                store.clone(),
                cipher.clone(),
            )),
            chat.clone(),
            models.llm.clone(),
            Prompts::load(&settings.shop_name)?,
            clock.clone(),
        ));
        tokio::spawn(qa_drafts.clone().run(shutdown_rx.clone()));
        // Other wordings of entries with few, proposed while the model is idle.
        let wordings = Arc::new(crate::services::wordings::WordingService::new(
            Arc::new(store.clone()),
            knowledge.clone(),
            models.llm.clone(),
            Prompts::load(&settings.shop_name)?,
            clock.clone(),
        ));
        if settings.wording_suggestions {
            tokio::spawn(wordings.clone().run(shutdown_rx.clone()));
        }
        let quality = Arc::new(crate::services::quality::QualityService::new(
            Arc::new(store.clone()),
            cipher.clone(),
            clock.clone(),
            chat.clone(),
            qa_drafts,
        ));
        let qa_sampler = Arc::new(crate::services::qa_sampler::QaSampler::new(
            quality.clone(),
            shop.clone(),
            clock.clone(),
        ));
        tokio::spawn(qa_sampler.run(shutdown_rx.clone()));
        let privacy = Arc::new(PrivacyService::new(
            Arc::new(store.clone()),
            cipher.clone(),
            clock.clone(),
            chat.clone(),
            visitors.clone(),
            attachments.clone(),
            staff.access_notifier(),
        ));
        if privacy.keys.rotation_pending() {
            // After `xiaoer keys rotate`: old values are re-sealed in the background.
            tokio::spawn(privacy.keys.clone().run());
        }
        tokio::spawn(
            privacy
                .clone()
                .run_purger(RETENTION_PURGE_EVERY, shutdown_rx.clone()),
        );
        let challenges = Arc::new(ChallengeService::new(
            Arc::new(store.clone()),
            &cipher,
            clock.clone(),
        ));
        let limits = Arc::new(http::limits::Limits::new(
            &settings,
            store.clone(),
            clock.clone(),
        ));
        let groups = Arc::new(SkillGroups::new(
            Arc::new(store.clone()),
            routing.clone(),
            clock.clone(),
        ));
        let state = AppState {
            orders,
            history,
            analytics,
            conversions,
            queue_alerts,
            saved_reports,
            quality,
            privacy,
            challenges,
            tickets,
            ticket_mail,
            bell,
            webhooks,
            channels,
            conversations,
            shop,
            routing,
            groups,
            quick_replies: Arc::new(QuickReplies::new(Arc::new(store.clone()), clock.clone())),
            unanswered: Arc::new(UnansweredQuestions::new(bot.clone(), knowledge.clone())),
            knowledge,
            wordings,
            staff,
            visitors,
            sender: Arc::new(MessageSender::new(
                blocks.clone(),
                audit.clone(),
                chat.clone(),
            )),
            chat,
            bot,
            attachments,
            audit,
            store,
            clock,
            metrics: metrics_handle(),
            edge: Arc::new(http::edge::Edge::new(&settings)),
            limits,
            blocks,
            presence,
            catalogue,
            coupons,
            portraits,
            recommender,
            shutdown: shutdown_rx,
        };
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
        // The peer address feeds the per-IP rate limits.
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
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
    open_index_named(settings, dim, IndexCollection::Knowledge).await
}

/// The collections of the vector index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexCollection {
    /// The knowledge base: `QDRANT_COLLECTION`, or `INDEX_DIR`.
    Knowledge,
    /// The catalogue's products: `QDRANT_COLLECTION_products`, or `INDEX_DIR-products`.
    Products,
}

pub async fn open_index_named(
    settings: &Settings,
    dim: usize,
    collection: IndexCollection,
) -> anyhow::Result<Arc<dyn VectorIndex>> {
    let (name, path) = match collection {
        IndexCollection::Knowledge => (
            settings.qdrant_collection.clone(),
            settings.index_dir.clone(),
        ),
        IndexCollection::Products => {
            let mut dir = settings.index_dir.clone().into_os_string();
            dir.push("-products");
            (
                format!("{}_products", settings.qdrant_collection),
                std::path::PathBuf::from(dir),
            )
        }
    };
    match &settings.qdrant_url {
        Some(url) => Ok(Arc::new(
            RemoteIndex::connect_with_key(
                url,
                settings
                    .qdrant_api_key
                    .as_ref()
                    .map(|k| k.expose().as_str()),
                &name,
                dim,
            )
            .await
            .with_context(|| format!("cannot use the Qdrant server at {url}"))?,
        )),
        None => {
            let path = &path;
            Ok(Arc::new(EdgeIndex::open(path, dim).with_context(|| {
                format!("cannot open the embedded index in {}", path.display())
            })?))
        }
    }
}

/// The segmenter with the shop's vocabulary (`KNOWLEDGE_DIR/vocabulary.txt`) when present.
/// Where browsers reach the console, for links in e-mail: the public URL, else
/// this listener's own address.
fn console_base(settings: &Settings, listener: &TcpListener) -> anyhow::Result<String> {
    if let Some(origin) = &settings.public_origin {
        return Ok(origin.clone());
    }
    Ok(format!("http://{}", listener.local_addr()?))
}

pub fn shop_segmenter(settings: &Settings) -> Segmenter {
    match std::fs::read_to_string(settings.knowledge_dir.join("vocabulary.txt")) {
        Ok(text) => Segmenter::from_vocabulary_text(&text),
        Err(_) => Segmenter::default(),
    }
}

/// The shop's synonyms (`KNOWLEDGE_DIR/synonyms.txt`) when present.
pub fn shop_synonyms(settings: &Settings) -> crate::services::bot::grounding::Synonyms {
    std::fs::read_to_string(settings.knowledge_dir.join("synonyms.txt"))
        .map(|text| crate::services::bot::grounding::Synonyms::parse(&text))
        .unwrap_or_default()
}

pub async fn knowledge_service(
    settings: &Settings,
    store: Store,
    embedder: Arc<dyn Embedder>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<KnowledgeService> {
    let index = open_index(settings, embedder.dim()).await?;
    Ok(KnowledgeService::new(
        Arc::new(store),
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
