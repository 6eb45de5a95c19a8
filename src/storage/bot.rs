//! The bot's tables: session memory, hand-off packets, ratings, the unanswered
//! log and welcome messages.

use super::outbox::write_events;
use super::{Store, StoreError, on_pool};
use crate::domain::events::{EventData, NewEvent};
use crate::ports::repositories::RepoError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PacketRow {
    pub id: String,
    pub conversation_id: String,
    pub reason: String,
    /// Sealed JSON; the service opens it.
    pub packet: Vec<u8>,
    pub created_at: i64,
}

pub use crate::domain::bot_session::UnansweredQuestion as UnansweredRow;
pub use crate::domain::welcome::WelcomeText as WelcomeRow;

impl Store {
    pub async fn bot_session(&self, conversation_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = "SELECT state FROM bot_sessions WHERE conversation_id = $1";
        let row: Option<(Vec<u8>,)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(conversation_id).fetch_optional(pool).await?);
        Ok(row.map(|r| r.0))
    }

    pub async fn save_bot_session(
        &self,
        conversation_id: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO bot_sessions (conversation_id, state, updated_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (conversation_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(conversation_id).bind(sealed).bind(now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn insert_packet(
        &self,
        id: &str,
        conversation_id: &str,
        reason: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO handoff_packets (id, conversation_id, reason, packet, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $5)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(conversation_id).bind(reason).bind(sealed).bind(now)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    /// Replaces a packet's body (the LLM summary arrives after the hand-off).
    pub async fn update_packet(&self, id: &str, sealed: &[u8], now: i64) -> Result<(), StoreError> {
        let sql = "UPDATE handoff_packets SET packet = $2, updated_at = $3 WHERE id = $1";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(sealed).bind(now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// The most recent hand-off of a conversation.
    pub async fn latest_packet(&self, conversation_id: &str) -> Result<PacketRow, StoreError> {
        let sql = "SELECT id, conversation_id, reason, packet, created_at FROM handoff_packets \
                   WHERE conversation_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, PacketRow>(sql)
            .bind(conversation_id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub async fn upsert_rating(
        &self,
        conversation_id: &str,
        seq: i64,
        helpful: bool,
        entry_ids_json: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO answer_ratings (conversation_id, seq, helpful, entry_ids, created_at) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (conversation_id, seq) DO UPDATE \
                   SET helpful = excluded.helpful, created_at = excluded.created_at";
        // One event per vote: a changed vote is a new event (its id names the time).
        let rated = NewEvent {
            id: format!("evt_{conversation_id}_{seq}_rated_{now}"),
            conversation_id: Some(conversation_id.to_owned()),
            seq: None,
            data: EventData::Rated { seq, helpful },
            created_at: now,
        };
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            sqlx::query(sql)
                .bind(conversation_id).bind(seq).bind(helpful).bind(entry_ids_json).bind(now)
                .execute(&mut *tx).await?;
            write_events!(backend, tx, std::slice::from_ref(&rated));
            tx.commit().await?;
            self.events_committed();
        });
        Ok(())
    }

    /// The question is sealed (bound to its row); `question` stays empty.
    pub async fn insert_unanswered(&self, row: &UnansweredRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO unanswered_questions (id, conversation_id, question, sealed_question, reason, sealed_embedding, created_at) \
                   VALUES ($1, $2, '', $3, $4, $5, $6)";
        let sealed = self
            .sealer()
            .seal_text(&row.question, &super::privacy::unanswered_aad(&row.id));
        let embedding = self.seal_opt(
            row.embedding.as_deref(),
            &super::privacy::unanswered_embedding_aad(&row.id),
        );
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.conversation_id).bind(&sealed).bind(&row.reason)
            .bind(&embedding).bind(row.created_at).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// The most recent unanswered questions, newest first, opened.
    pub async fn unanswered(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<Vec<UnansweredRow>, StoreError> {
        type Sealed = (
            String,
            String,
            Option<Vec<u8>>,
            String,
            Option<Vec<u8>>,
            i64,
        );
        let sql = "SELECT id, conversation_id, sealed_question, reason, sealed_embedding, created_at \
                   FROM unanswered_questions WHERE created_at >= $1 ORDER BY created_at DESC, id DESC LIMIT $2";
        let rows: Vec<Sealed> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(since).bind(limit).fetch_all(pool).await?);
        rows.into_iter()
            .map(
                |(id, conversation_id, sealed, reason, embedding, created_at)| {
                    let question = self
                        .open_opt(sealed.as_deref(), &super::privacy::unanswered_aad(&id))?
                        .unwrap_or_default();
                    let embedding = self.open_opt(
                        embedding.as_deref(),
                        &super::privacy::unanswered_embedding_aad(&id),
                    )?;
                    Ok(UnansweredRow {
                        id,
                        conversation_id,
                        question,
                        reason,
                        embedding,
                        created_at,
                    })
                },
            )
            .collect()
    }

    pub async fn welcome_messages(&self) -> Result<Vec<WelcomeRow>, StoreError> {
        let sql = "SELECT scenario, lang, text, updated_by, updated_at FROM welcome_texts \
                   ORDER BY scenario, lang DESC";
        let rows: Vec<(String, String, String, String, i64)> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(scenario, lang, text, updated_by, updated_at)| WelcomeRow {
                    scenario,
                    lang,
                    text,
                    updated_by,
                    updated_at,
                },
            )
            .collect())
    }

    /// The texts of a scenario, by language.
    pub async fn welcome_texts(&self, scenario: &str) -> Result<Vec<(String, String)>, StoreError> {
        let sql = "SELECT lang, text FROM welcome_texts WHERE scenario = $1";
        let rows: Vec<(String, String)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(scenario).fetch_all(pool).await?);
        Ok(rows)
    }

    pub async fn put_welcome_message(&self, row: &WelcomeRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO welcome_texts (scenario, lang, text, updated_by, updated_at) \
                   VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (scenario, lang) DO UPDATE SET text = excluded.text, \
                   updated_by = excluded.updated_by, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.scenario).bind(&row.lang).bind(&row.text).bind(&row.updated_by).bind(row.updated_at)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn delete_welcome_message(
        &self,
        scenario: &str,
        lang: &str,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM welcome_texts WHERE scenario = $1 AND lang = $2";
        let n = on_pool!(self, pool => sqlx::query(sql)
            .bind(scenario).bind(lang).execute(pool).await?.rows_affected());
        Ok(n > 0)
    }

    /// The admin's quick-reply menu for a language (a JSON array), if set.
    pub async fn bot_menu(&self, lang: &str) -> Result<Option<String>, StoreError> {
        let sql = "SELECT buttons FROM bot_menus WHERE lang = $1";
        let row: Option<(String,)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(lang).fetch_optional(pool).await?);
        Ok(row.map(|r| r.0))
    }

    pub async fn put_bot_menu(
        &self,
        lang: &str,
        buttons: &str,
        by: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO bot_menus (lang, buttons, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (lang) DO UPDATE SET buttons = excluded.buttons, \
                   updated_by = excluded.updated_by, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(lang).bind(buttons).bind(by).bind(now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// True when there was one (the built-in menu applies again).
    pub async fn delete_bot_menu(&self, lang: &str) -> Result<bool, StoreError> {
        let n = on_pool!(self, pool => sqlx::query("DELETE FROM bot_menus WHERE lang = $1")
            .bind(lang).execute(pool).await?.rows_affected());
        Ok(n > 0)
    }

    /// Conversations waiting for an agent that started waiting before this one
    /// (its position in the queue is this plus one).
    pub async fn waiting_ahead_of(&self, conversation_id: &str) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM conversations c, conversations me \
                   WHERE me.id = $1 AND c.state = 'waiting' AND c.id <> me.id \
                   AND (c.updated_at < me.updated_at OR (c.updated_at = me.updated_at AND c.id < me.id))";
        let n: (i64,) = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(conversation_id).fetch_one(pool).await?);
        Ok(n.0)
    }
}

impl Store {
    /// Staff who could take a chat now: enabled, signed in, and in a role that claims chats.
    pub async fn agents_signed_in(&self, now: i64) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(DISTINCT u.id) FROM staff_users u JOIN staff_sessions s ON s.user_id = u.id \
                   WHERE s.expires_at > $1 AND u.disabled = FALSE AND u.role IN ('agent', 'supervisor', 'admin')";
        let n: (i64,) =
            on_pool!(self, pool => sqlx::query_as(sql).bind(now).fetch_one(pool).await?);
        Ok(n.0)
    }
}

/// The `BotSessions` repository: sessions sealed with the data key, bound to
/// their conversation (a sealed session copied to another row does not open).
pub struct SealedBotSessions {
    store: Store,
    cipher: crate::crypto::Cipher,
}

impl SealedBotSessions {
    pub fn new(store: Store, cipher: crate::crypto::Cipher) -> Self {
        SealedBotSessions { store, cipher }
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::BotSessions for SealedBotSessions {
    async fn session(
        &self,
        conversation_id: &str,
    ) -> Result<crate::domain::bot_session::BotSession, crate::ports::repositories::RepoError> {
        use crate::ports::repositories::RepoError;
        let Some(sealed) = self.store.bot_session(conversation_id).await? else {
            return Ok(Default::default());
        };
        let plain = self
            .cipher
            .open(&sealed, conversation_id.as_bytes())
            .map_err(|e| RepoError::Corrupt(format!("bot session: {e}")))?;
        serde_json::from_slice(&plain).map_err(|e| RepoError::Corrupt(format!("bot session: {e}")))
    }

    async fn save_session(
        &self,
        conversation_id: &str,
        session: &crate::domain::bot_session::BotSession,
        now: i64,
    ) -> Result<(), crate::ports::repositories::RepoError> {
        let plain = serde_json::to_vec(session).expect("bot session serialises");
        let sealed = self.cipher.seal(&plain, conversation_id.as_bytes());
        Ok(self
            .store
            .save_bot_session(conversation_id, &sealed, now)
            .await?)
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::BotRecords for Store {
    async fn insert_packet(
        &self,
        id: &str,
        conversation_id: &str,
        reason: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(Store::insert_packet(self, id, conversation_id, reason, sealed, now).await?)
    }

    async fn update_packet(&self, id: &str, sealed: &[u8], now: i64) -> Result<(), RepoError> {
        Ok(Store::update_packet(self, id, sealed, now).await?)
    }

    async fn latest_packet(&self, conversation_id: &str) -> Result<Option<Vec<u8>>, RepoError> {
        match Store::latest_packet(self, conversation_id).await {
            Ok(row) => Ok(Some(row.packet)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn rate_answer(
        &self,
        conversation_id: &str,
        seq: i64,
        helpful: bool,
        entry_ids_json: &str,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(self
            .upsert_rating(conversation_id, seq, helpful, entry_ids_json, now)
            .await?)
    }

    async fn log_unanswered(&self, question: &UnansweredRow) -> Result<(), RepoError> {
        Ok(self.insert_unanswered(question).await?)
    }

    async fn unanswered(&self, since: i64, limit: i64) -> Result<Vec<UnansweredRow>, RepoError> {
        Ok(Store::unanswered(self, since, limit).await?)
    }

    async fn welcome_texts(&self) -> Result<Vec<WelcomeRow>, RepoError> {
        Ok(self.welcome_messages().await?)
    }

    async fn put_welcome_text(&self, text: &WelcomeRow) -> Result<(), RepoError> {
        Ok(self.put_welcome_message(text).await?)
    }

    async fn delete_welcome_text(&self, scenario: &str, lang: &str) -> Result<bool, RepoError> {
        Ok(self.delete_welcome_message(scenario, lang).await?)
    }

    async fn bot_menu(&self, lang: &str) -> Result<Option<String>, RepoError> {
        Ok(Store::bot_menu(self, lang).await?)
    }

    async fn put_bot_menu(
        &self,
        lang: &str,
        buttons: &str,
        by: &str,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(Store::put_bot_menu(self, lang, buttons, by, now).await?)
    }

    async fn delete_bot_menu(&self, lang: &str) -> Result<bool, RepoError> {
        Ok(Store::delete_bot_menu(self, lang).await?)
    }
}
