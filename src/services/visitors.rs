//! Buyers as visitors: their token, identity, encrypted personal data and the
//! browsing context the widget or the shop reports.

use crate::crypto::{self, Cipher, Token};
use crate::domain::visitor::{BuyerIdentity, BuyerPii, VisitorContext};
use crate::ports::Clock;
use crate::storage::{Store, StoreError, VisitorRow};
use serde::Serialize;
use std::sync::Arc;

pub const VISITOR_TOKEN_PREFIX: &str = "vt_";

/// An authenticated buyer.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub id: String,
}

/// What staff see of a buyer (the personal data decrypted).
#[derive(Debug, Clone, Serialize)]
pub struct VisitorProfile {
    pub id: String,
    pub shop_account_id: Option<String>,
    pub nickname: Option<String>,
    pub real_name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub context: VisitorContext,
}

#[derive(Debug, thiserror::Error)]
pub enum VisitorError {
    #[error("unknown or invalid visitor token")]
    Unauthenticated,
    #[error("visitor not found")]
    NotFound,
    #[error("stored visitor data could not be read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct VisitorService {
    store: Store,
    cipher: Cipher,
    clock: Arc<dyn Clock>,
}

impl VisitorService {
    pub fn new(store: Store, cipher: Cipher, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            cipher,
            clock,
        }
    }

    /// A returning visitor presents the token they were given; anyone else becomes a
    /// new visitor and gets a token (returned once, stored only as a hash).
    pub async fn identify(
        &self,
        token: Option<&str>,
        identity: &BuyerIdentity,
    ) -> Result<(Visitor, Option<String>), VisitorError> {
        if let Some(token) = token {
            let visitor = self.authenticate(token).await?;
            if identity.shop_account_id.is_some() || identity.nickname.is_some() {
                let now = self.clock.now_ms();
                self.store
                    .update_visitor_identity(
                        &visitor.id,
                        identity.shop_account_id.as_deref(),
                        identity.nickname.as_deref(),
                        now,
                    )
                    .await?;
            }
            return Ok((visitor, None));
        }
        let token = Token::generate(VISITOR_TOKEN_PREFIX);
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.clock.now_ms();
        self.store
            .insert_visitor(
                &id,
                &token.hash,
                identity.shop_account_id.as_deref(),
                identity.nickname.as_deref(),
                now,
            )
            .await?;
        Ok((Visitor { id }, Some(token.value)))
    }

    pub async fn authenticate(&self, token: &str) -> Result<Visitor, VisitorError> {
        match self
            .store
            .visitor_by_token(&crypto::hash_token(token))
            .await
        {
            Ok(row) => Ok(Visitor { id: row.id }),
            Err(StoreError::NotFound) => Err(VisitorError::Unauthenticated),
            Err(e) => Err(e.into()),
        }
    }

    /// Personal data is sealed with the visitor id as associated data before storage.
    pub async fn set_pii(&self, visitor: &Visitor, pii: &BuyerPii) -> Result<(), VisitorError> {
        let plain = serde_json::to_vec(pii).expect("PII serialises");
        let sealed = self.cipher.seal(&plain, visitor.id.as_bytes());
        Ok(self
            .store
            .set_visitor_pii(&visitor.id, &sealed, self.clock.now_ms())
            .await?)
    }

    pub async fn set_context(
        &self,
        visitor_id: &str,
        context: &VisitorContext,
    ) -> Result<(), VisitorError> {
        let json = serde_json::to_string(context).expect("context serialises");
        match self
            .store
            .set_visitor_context(visitor_id, &json, self.clock.now_ms())
            .await
        {
            Err(StoreError::NotFound) => Err(VisitorError::NotFound),
            other => Ok(other?),
        }
    }

    pub async fn profile(&self, visitor_id: &str) -> Result<VisitorProfile, VisitorError> {
        let row = self.store.visitor(visitor_id).await?;
        self.open_profile(row)
    }

    fn open_profile(&self, row: VisitorRow) -> Result<VisitorProfile, VisitorError> {
        let pii: BuyerPii = match &row.pii {
            Some(sealed) => {
                let plain = self
                    .cipher
                    .open(sealed, row.id.as_bytes())
                    .map_err(|e| VisitorError::Corrupt(e.to_string()))?;
                serde_json::from_slice(&plain).map_err(|e| VisitorError::Corrupt(e.to_string()))?
            }
            None => BuyerPii::default(),
        };
        let context = match &row.context {
            Some(json) => {
                serde_json::from_str(json).map_err(|e| VisitorError::Corrupt(e.to_string()))?
            }
            None => VisitorContext::default(),
        };
        Ok(VisitorProfile {
            id: row.id,
            shop_account_id: row.shop_account_id,
            nickname: row.nickname,
            real_name: pii.real_name,
            phone: pii.phone,
            address: pii.address,
            context,
        })
    }
}
