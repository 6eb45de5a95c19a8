//! Attachments: checked, encrypted, stored once by content, served only inside the
//! conversations and tickets they were shared in.

use crate::crypto::Cipher;
use crate::domain::attachment::{AttachmentId, AttachmentOwner, AttachmentType};
use crate::ports::Clock;
use crate::ports::repositories::{AttachmentRecords, RepoError};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    #[error("content type is not allowed (images, PDF, plain text, MP4 and audio recordings are)")]
    TypeNotAllowed,
    #[error("a voice message must point at an audio recording")]
    NotAudio,
    #[error("the file's content does not match its declared type")]
    ContentMismatch,
    #[error("attachment is empty")]
    Empty,
    #[error("attachment is larger than {0} bytes")]
    TooLarge(usize),
    #[error("no such attachment in this conversation")]
    NotFound,
    #[error("attachment file is unreadable: {0}")]
    Io(#[from] std::io::Error),
    #[error("attachment file failed authentication")]
    Tampered,
    #[error(transparent)]
    Records(RepoError),
}

impl From<RepoError> for AttachmentError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => AttachmentError::NotFound,
            other => AttachmentError::Records(other),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StoredAttachment {
    pub attachment_id: AttachmentId,
    pub content_type: &'static str,
    pub size: usize,
}

pub struct AttachmentService {
    records: Arc<dyn AttachmentRecords>,
    cipher: Cipher,
    clock: Arc<dyn Clock>,
    dir: PathBuf,
    max_bytes: usize,
}

impl AttachmentService {
    pub fn new(
        records: Arc<dyn AttachmentRecords>,
        cipher: Cipher,
        clock: Arc<dyn Clock>,
        dir: PathBuf,
        max_bytes: usize,
    ) -> Self {
        Self {
            records,
            cipher,
            clock,
            dir,
            max_bytes,
        }
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The caller has already checked that the uploader takes part in the conversation.
    pub async fn store(
        &self,
        conversation_id: &str,
        declared_type: &str,
        bytes: &[u8],
    ) -> Result<StoredAttachment, AttachmentError> {
        self.store_for(
            AttachmentOwner::Conversation(conversation_id),
            declared_type,
            bytes,
        )
        .await
    }

    /// A file added to a ticket; the caller has checked that the uploader may
    /// add to it.
    pub async fn store_on_ticket(
        &self,
        ticket_id: &str,
        public: bool,
        added_by: &str,
        declared_type: &str,
        bytes: &[u8],
    ) -> Result<StoredAttachment, AttachmentError> {
        let owner = AttachmentOwner::Ticket {
            ticket_id,
            public,
            added_by,
        };
        self.store_for(owner, declared_type, bytes).await
    }

    async fn store_for(
        &self,
        owner: AttachmentOwner<'_>,
        declared_type: &str,
        bytes: &[u8],
    ) -> Result<StoredAttachment, AttachmentError> {
        let kind =
            AttachmentType::from_mime(declared_type).ok_or(AttachmentError::TypeNotAllowed)?;
        if bytes.is_empty() {
            return Err(AttachmentError::Empty);
        }
        if bytes.len() > self.max_bytes {
            return Err(AttachmentError::TooLarge(self.max_bytes));
        }
        if !kind.matches_content(bytes) {
            return Err(AttachmentError::ContentMismatch);
        }
        let id = AttachmentId::from_digest(&self.cipher.content_id(bytes));
        let in_database = self.in_database();
        let sealed = if in_database {
            Some(self.cipher.seal(bytes, id.as_str().as_bytes()))
        } else {
            let path = self.path_of(&id);
            if !path.exists() {
                let sealed = self.cipher.seal(bytes, id.as_str().as_bytes());
                tokio::task::spawn_blocking(move || write_durably(&path, &sealed))
                    .await
                    .expect("write task does not panic")?;
            }
            None
        };
        // A file is on disk before the row that points at it; bytes kept in the
        // database commit with it.
        self.records
            .link(
                id.as_str(),
                kind.mime(),
                bytes.len() as i64,
                owner,
                self.clock.now_ms(),
                sealed.as_deref(),
            )
            .await?;
        Ok(StoredAttachment {
            attachment_id: id,
            content_type: kind.mime(),
            size: bytes.len(),
        })
    }

    /// Must the attachment be linked to this conversation? Used before a message may point at it.
    /// The attachment belongs to the conversation (and, for a voice message,
    /// is an audio recording).
    pub async fn ensure_linked(
        &self,
        conversation_id: &str,
        id: &AttachmentId,
        audio: bool,
    ) -> Result<(), AttachmentError> {
        let content_type = self
            .records
            .type_in_conversation(id.as_str(), conversation_id)
            .await?;
        let is_audio =
            AttachmentType::from_mime(&content_type).is_some_and(AttachmentType::is_audio);
        if audio && !is_audio {
            return Err(AttachmentError::NotAudio);
        }
        Ok(())
    }

    pub async fn fetch(
        &self,
        conversation_id: &str,
        id: &AttachmentId,
    ) -> Result<(String, Vec<u8>), AttachmentError> {
        let content_type = self
            .records
            .type_in_conversation(id.as_str(), conversation_id)
            .await?;
        self.open(content_type, id).await
    }

    /// A file on a ticket; `public_only`: one its buyer may be served.
    pub async fn fetch_on_ticket(
        &self,
        ticket_id: &str,
        id: &AttachmentId,
        public_only: bool,
    ) -> Result<(String, Vec<u8>), AttachmentError> {
        let content_type = self
            .records
            .type_on_ticket(id.as_str(), ticket_id, public_only)
            .await?;
        self.open(content_type, id).await
    }

    async fn open(
        &self,
        content_type: String,
        id: &AttachmentId,
    ) -> Result<(String, Vec<u8>), AttachmentError> {
        let sealed = if self.in_database() {
            self.records.sealed_bytes(id.as_str()).await?
        } else {
            tokio::fs::read(self.path_of(id)).await?
        };
        let plain = self
            .cipher
            .open(&sealed, id.as_str().as_bytes())
            .map_err(|_| AttachmentError::Tampered)?;
        Ok((content_type, plain))
    }

    /// Every file on a ticket once; `public_only`: those its buyer may see.
    pub async fn ticket_files(
        &self,
        ticket_id: &str,
        public_only: bool,
    ) -> Result<Vec<crate::domain::tickets::TicketFile>, AttachmentError> {
        Ok(self.records.files_of_ticket(ticket_id, public_only).await?)
    }

    /// A file of a conversation as a ticket names it (the buyer's photo in
    /// a chat out of hours goes with the ticket's comment).
    pub async fn chat_file(
        &self,
        conversation_id: &str,
        id: &AttachmentId,
    ) -> Result<crate::domain::tickets::TicketFile, AttachmentError> {
        let (content_type, size) = self
            .records
            .type_and_size_in_conversation(id.as_str(), conversation_id)
            .await?;
        Ok(crate::domain::tickets::TicketFile {
            id: id.as_str().to_owned(),
            content_type,
            size,
            public: true,
        })
    }

    /// On PostgreSQL the bytes live in the database, so that every node of a
    /// cluster serves them; on SQLite (one node) in the data dir.
    fn in_database(&self) -> bool {
        self.records.keeps_bytes()
    }

    /// Removes the files of attachments the database no longer holds (erased or
    /// past retention). On PostgreSQL the bytes went with the rows. A file that
    /// cannot be removed is logged (by id, which says nothing of its content).
    pub async fn remove_stored(&self, ids: &[String]) {
        if self.in_database() {
            return;
        }
        for id in ids {
            let Some(id) = AttachmentId::parse(id) else {
                continue;
            };
            match tokio::fs::remove_file(self.path_of(&id)).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(%error, attachment = id.as_str(), "cannot remove an attachment file")
                }
            }
        }
    }

    /// After a key rotation: every attachment file (SQLite keeps them in the data
    /// dir) sealed with an older key is sealed again with the current one,
    /// replaced durably. On PostgreSQL the bytes are a sealed column
    /// (`SealedValues`).
    pub async fn reseal_files(
        &self,
        dry_run: bool,
    ) -> std::io::Result<crate::ports::repositories::ColumnPass> {
        let mut pass = crate::ports::repositories::ColumnPass {
            table: "attachment files".into(),
            column: self.dir.display().to_string(),
            ..Default::default()
        };
        if self.in_database() || !self.dir.is_dir() {
            return Ok(pass);
        }
        let (dir, cipher) = (self.dir.clone(), self.cipher.clone());
        tokio::task::spawn_blocking(move || {
            for shard in std::fs::read_dir(&dir)? {
                let shard = shard?.path();
                if !shard.is_dir() {
                    continue;
                }
                for file in std::fs::read_dir(&shard)? {
                    let path = file?.path();
                    let Some(id) = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(AttachmentId::parse)
                    else {
                        continue; // a temporary file of a write under way
                    };
                    pass.scanned += 1;
                    let sealed = std::fs::read(&path)?;
                    match cipher.reseal(&sealed, id.as_str().as_bytes()) {
                        Ok(None) => {}
                        Ok(Some(fresh)) => {
                            pass.older_key += 1;
                            if !dry_run {
                                write_durably(&path, &fresh)?;
                            }
                        }
                        Err(_) => pass.unreadable += 1,
                    }
                }
            }
            Ok(pass)
        })
        .await
        .expect("reseal task does not panic")
    }

    fn path_of(&self, id: &AttachmentId) -> PathBuf {
        self.dir.join(&id.as_str()[..2]).join(id.as_str())
    }
}

/// Write to a temporary file, fsync, then rename: a crash never leaves half a file
/// under the final name.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("attachment paths have a parent");
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}
