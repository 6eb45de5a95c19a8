//! Blocklists: an agent blocks a visitor from the chat, an admin blocks an
//! address or network. Checked on every buyer request from an in-memory copy
//! that is reloaded after each change here and at least every few seconds (so
//! blocks made on other nodes apply too).

use crate::domain::block::{self, BlockInputError, BlockReason, Blocklist};
use crate::domain::flood::{self, Flood, FloodPolicy, FloodWindow};
use crate::ports::Clock;
use crate::ports::repositories::{BlockRepository, RepoError, StoredBlock};
use crate::services::staff::StaffUser;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// How old the in-memory copy may get before a check reloads it.
const RELOAD_AFTER_MS: i64 = 2000;

#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error(transparent)]
    Input(#[from] BlockInputError),
    #[error("no such block")]
    NotFound,
    #[error(transparent)]
    Store(RepoError),
}

impl From<RepoError> for BlockError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => BlockError::NotFound,
            other => BlockError::Store(other),
        }
    }
}

/// Why a buyer's text is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screened {
    /// It holds a word the shop does not allow.
    Banned,
    /// The visitor is flooding and is now muted (a block with this reason).
    Muted(Flood),
    Failed(String),
}

/// Why a buyer's request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Visitor,
    Network,
}

/// A block as admins and agents see it.
pub type BlockView = StoredBlock;

pub struct BlockService {
    store: Arc<dyn BlockRepository>,
    clock: Arc<dyn Clock>,
    current: RwLock<(i64, Arc<Blocklist>)>,
    reloading: AtomicBool,
    flood: FloodPolicy,
    banned_words: Vec<String>,
    windows: Mutex<HashMap<String, FloodWindow>>,
}

impl BlockService {
    pub async fn load(
        store: Arc<dyn BlockRepository>,
        clock: Arc<dyn Clock>,
        flood: FloodPolicy,
        banned_words: Vec<String>,
    ) -> Result<Arc<Self>, BlockError> {
        let service = Arc::new(Self {
            store,
            clock,
            current: RwLock::new((0, Arc::new(Blocklist::default()))),
            reloading: AtomicBool::new(false),
            flood,
            banned_words,
            windows: Mutex::new(HashMap::new()),
        });
        service.reload().await?;
        Ok(service)
    }

    /// Whether this address or visitor is blocked now. Never waits on the
    /// database: a stale copy starts a reload in the background.
    pub fn check(
        self: &Arc<Self>,
        ip: Option<IpAddr>,
        visitor: Option<&str>,
    ) -> Result<(), Blocked> {
        let now = self.clock.now_ms();
        let (loaded_at, list) = self.current.read().expect("blocklist lock").clone();
        if now - loaded_at > RELOAD_AFTER_MS && !self.reloading.swap(true, Ordering::AcqRel) {
            let me = self.clone();
            tokio::spawn(async move {
                if let Err(error) = me.reload().await {
                    tracing::warn!(%error, "could not reload the blocklist");
                }
                me.reloading.store(false, Ordering::Release);
            });
        }
        if ip.is_some_and(|ip| list.blocks_ip(ip, now)) {
            return Err(Blocked::Network);
        }
        if visitor.is_some_and(|v| list.blocks_visitor(v, now)) {
            return Err(Blocked::Visitor);
        }
        Ok(())
    }

    /// A buyer's text: banned words are refused; a flood (the same text again
    /// and again, or a burst) mutes the visitor for a while, as a block staff
    /// see with the flood as its reason.
    pub async fn screen(&self, visitor_id: &str, text: &str) -> Result<(), Screened> {
        if flood::banned_word(text, &self.banned_words).is_some() {
            return Err(Screened::Banned);
        }
        let now = self.clock.now_ms();
        let verdict = {
            let mut windows = self.windows.lock().expect("flood lock");
            if windows.len() > 10_000 {
                windows.retain(|_, w| !w.is_idle(self.flood, now));
            }
            windows
                .entry(visitor_id.to_owned())
                .or_default()
                .observe(self.flood, now, text)
        };
        let Some(kind) = verdict else {
            return Ok(());
        };
        let row = StoredBlock {
            id: uuid::Uuid::now_v7().to_string(),
            kind: "visitor".into(),
            value: visitor_id.to_owned(),
            reason: kind.as_str().to_owned(),
            created_by: "system".into(),
            created_at: now,
            expires_at: Some(now + i64::from(self.flood.mute_minutes.max(1)) * 60_000),
        };
        self.store
            .insert(&row)
            .await
            .map_err(|e| Screened::Failed(e.to_string()))?;
        self.windows.lock().expect("flood lock").remove(visitor_id);
        self.reload()
            .await
            .map_err(|e| Screened::Failed(e.to_string()))?;
        Err(Screened::Muted(kind))
    }

    async fn reload(&self) -> Result<(), BlockError> {
        let now = self.clock.now_ms();
        let mut list = Blocklist::default();
        for row in self.store.active(now).await? {
            match row.kind.as_str() {
                "visitor" => list.visitors.push((row.value, row.expires_at)),
                _ => match block::parse_network(&row.value) {
                    Ok(net) => list.networks.push((net, row.expires_at)),
                    Err(_) => tracing::warn!(id = %row.id, "a stored network block does not parse"),
                },
            }
        }
        *self.current.write().expect("blocklist lock") = (now, Arc::new(list));
        Ok(())
    }

    /// An agent blocks the visitor of a chat they may see.
    pub async fn block_visitor(
        &self,
        by: &StaffUser,
        visitor_id: &str,
        reason: &str,
        hours: Option<u32>,
    ) -> Result<BlockView, BlockError> {
        self.add(by, "visitor", visitor_id.to_owned(), reason, hours)
            .await
    }

    /// An admin blocks an address or a network.
    pub async fn block_network(
        &self,
        by: &StaffUser,
        network: &str,
        reason: &str,
        hours: Option<u32>,
    ) -> Result<BlockView, BlockError> {
        let net = block::parse_network(network)?;
        self.add(by, "network", net.to_string(), reason, hours)
            .await
    }

    async fn add(
        &self,
        by: &StaffUser,
        kind: &str,
        value: String,
        reason: &str,
        hours: Option<u32>,
    ) -> Result<BlockView, BlockError> {
        let reason = BlockReason::parse(reason)?;
        let now = self.clock.now_ms();
        let row = StoredBlock {
            id: uuid::Uuid::now_v7().to_string(),
            kind: kind.to_owned(),
            value,
            reason: reason.as_str().to_owned(),
            created_by: by.id.clone(),
            created_at: now,
            expires_at: block::expiry(now, hours)?,
        };
        self.store.insert(&row).await?;
        self.reload().await?;
        Ok(row)
    }

    pub async fn list(&self) -> Result<Vec<BlockView>, BlockError> {
        let rows = self.store.active(self.clock.now_ms()).await?;
        Ok(rows)
    }

    pub async fn lift(&self, id: &str) -> Result<(), BlockError> {
        self.store.delete(id).await?;
        self.reload().await
    }
}
