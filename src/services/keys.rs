//! Rotation of the data key. `xiaoer keys rotate` adds a key to the ring; from
//! the next start every new value is sealed with it, old values stay readable
//! (the ring opens them with their own key), and this service re-seals them in
//! the background: every sealed column (`SealedValues`) and, on SQLite, every
//! attachment file. When a pass finds nothing left under an older key,
//! `xiaoer keys retire` drops the older keys from the ring.

use crate::crypto::Cipher;
use crate::ports::Clock;
use crate::ports::repositories::{ColumnPass, RepoError, SealedValues};
use crate::services::attachments::AttachmentService;
use serde::Serialize;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Records(#[from] RepoError),
    #[error("attachment files: {0}")]
    Files(#[from] std::io::Error),
}

/// Where the re-sealing stands (the admin console shows it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RekeyStatus {
    /// Fingerprints of the ring's keys, oldest first; the last seals.
    pub keys: Vec<String>,
    pub current: String,
    pub running: bool,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The last pass, per column.
    pub columns: Vec<ColumnPass>,
    /// Values still under an older key after the last pass (0: the older keys
    /// can be retired).
    pub remaining: u64,
    /// Values no key of the ring opens.
    pub unreadable: u64,
    pub error: Option<String>,
}

pub struct KeyRotation {
    sealed: Arc<dyn SealedValues>,
    cipher: Cipher,
    clock: Arc<dyn Clock>,
    attachments: Arc<AttachmentService>,
    status: Mutex<RekeyStatus>,
}

impl KeyRotation {
    pub fn new(
        sealed: Arc<dyn SealedValues>,
        cipher: Cipher,
        clock: Arc<dyn Clock>,
        attachments: Arc<AttachmentService>,
    ) -> Self {
        let status = RekeyStatus {
            keys: cipher.fingerprints().to_vec(),
            current: cipher.current_fingerprint().to_owned(),
            ..RekeyStatus::default()
        };
        Self {
            sealed,
            cipher,
            clock,
            attachments,
            status: Mutex::new(status),
        }
    }

    pub fn status(&self) -> RekeyStatus {
        self.status.lock().expect("rekey status lock").clone()
    }

    /// Whether the ring holds older keys whose values may need re-sealing.
    pub fn rotation_pending(&self) -> bool {
        self.cipher.key_count() > 1
    }

    /// One pass over every sealed value: re-seals those under an older key
    /// (counts only when `dry_run`). Returns the per-column figures.
    pub async fn pass(&self, dry_run: bool) -> Result<Vec<ColumnPass>, KeyError> {
        let mut out = self.sealed.reseal_all(dry_run).await?;
        out.push(self.attachments.reseal_files(dry_run).await?);
        Ok(out)
    }

    /// Re-seals everything under an older key, recording progress; run at start
    /// while the ring has more than one key.
    pub async fn run(self: Arc<Self>) {
        self.update(|s| {
            s.running = true;
            s.started_at = Some(self.clock.now_ms());
        });
        let result = self.pass(false).await;
        // What is left: a write racing a re-seal keeps its own (current) key, so
        // a second, counting pass tells the truth.
        let check = match result {
            Ok(_) => self.pass(true).await,
            Err(e) => Err(e),
        };
        let now = self.clock.now_ms();
        match check {
            Ok(columns) => {
                let remaining = columns.iter().map(|c| c.older_key).sum();
                let unreadable = columns.iter().map(|c| c.unreadable).sum();
                tracing::info!(
                    remaining,
                    unreadable,
                    current = self.cipher.current_fingerprint(),
                    "re-sealing under the current data key finished"
                );
                self.update(|s| {
                    s.columns = columns;
                    s.remaining = remaining;
                    s.unreadable = unreadable;
                    s.error = None;
                });
            }
            Err(error) => {
                tracing::error!(%error, "re-sealing under the current data key failed");
                self.update(|s| s.error = Some(error.to_string()));
            }
        }
        self.update(|s| {
            s.running = false;
            s.finished_at = Some(now);
        });
    }

    fn update(&self, f: impl FnOnce(&mut RekeyStatus)) {
        f(&mut self.status.lock().expect("rekey status lock"));
    }
}
