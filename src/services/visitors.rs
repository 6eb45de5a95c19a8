//! Buyers as visitors: their token, identity, encrypted personal data and the
//! browsing context the widget or the shop reports.

use crate::config::Secret;
use crate::crypto::{self, Cipher, Token};
use crate::domain::pii;
use crate::domain::visitor::{
    BuyerIdentity, BuyerPii, IdentityError, SignedIdentity, VerifiedAccount, VisitorContext,
};
use crate::ports::Clock;
use crate::ports::repositories::{RepoError, StoredVisitor, VisitorRecords};
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
    /// Whether name, phone and address are shown masked (staff must reveal them).
    pub pii_masked: bool,
}

impl VisitorProfile {
    /// What staff see until they reveal: phone, address and real name masked
    /// (138****1234), everything else as stored.
    pub fn masked(self) -> Self {
        Self {
            real_name: self.real_name.as_deref().map(pii::mask_name),
            phone: self.phone.as_deref().map(pii::mask_phone),
            address: self.address.as_deref().map(pii::mask_address),
            pii_masked: true,
            ..self
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VisitorError {
    #[error("unknown or invalid visitor token")]
    Unauthenticated,
    #[error("visitor not found")]
    NotFound,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("this server has no identity secret: it cannot check signed identities")]
    IdentityNotConfigured,
    #[error("only the demo store's own demo buyers can be signed in here")]
    NotADemoAccount,
    #[error("stored visitor data could not be read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Records(#[from] RepoError),
}

pub struct VisitorService {
    records: Arc<dyn VisitorRecords>,
    cipher: Cipher,
    clock: Arc<dyn Clock>,
    identity_secret: Option<Secret<String>>,
    /// Accounts this server may vouch for itself: the demo store's buyers, when it
    /// runs the demo store; none with a real shop.
    demo_accounts: &'static [&'static str],
}

/// How long the demo store's own signatures hold.
const DEMO_IDENTITY_SECS: i64 = 3600;

impl VisitorService {
    pub fn new(records: Arc<dyn VisitorRecords>, cipher: Cipher, clock: Arc<dyn Clock>) -> Self {
        Self {
            records,
            cipher,
            clock,
            identity_secret: None,
            demo_accounts: &[],
        }
    }

    /// The secret that checks signed identities, and the accounts this server may
    /// sign for itself (the demo store's).
    pub fn with_identity(
        mut self,
        secret: Option<Secret<String>>,
        demo_accounts: &'static [&'static str],
    ) -> Self {
        self.identity_secret = secret;
        self.demo_accounts = demo_accounts;
        self
    }

    fn secret(&self) -> Result<&[u8], VisitorError> {
        self.identity_secret
            .as_ref()
            .map(|s| s.expose().as_bytes())
            .ok_or(VisitorError::IdentityNotConfigured)
    }

    /// The only way to a shop account: the shop's signature, checked now.
    pub fn verify(&self, signed: &SignedIdentity) -> Result<VerifiedAccount, VisitorError> {
        let now_secs = self.clock.now_ms().div_euclid(1000);
        Ok(signed.verify(self.secret()?, now_secs)?)
    }

    /// A short-lived signed identity for one of the demo store's buyers, so the
    /// demo shop page can sign in the way a real shop's page would.
    pub fn demo_identity(&self, account: &str) -> Result<SignedIdentity, VisitorError> {
        if !self.demo_accounts.contains(&account) {
            return Err(VisitorError::NotADemoAccount);
        }
        let expires_at = self.clock.now_ms().div_euclid(1000) + DEMO_IDENTITY_SECS;
        Ok(SignedIdentity::sign(account, expires_at, self.secret()?))
    }

    /// A returning visitor presents the token they were given; anyone else becomes a
    /// new visitor and gets a token (returned once, stored only as a hash).
    ///
    /// A token never carries a shop account over to someone the shop has not
    /// vouched for: a token bound to account A, presented with B's identity or with
    /// none (A signed out of the shop, someone else uses the device), starts a new
    /// visitor, so A's chats and orders stay A's. An anonymous visitor who signs in
    /// keeps their token and chats and is bound to the account from now on.
    pub async fn identify(
        &self,
        token: Option<&str>,
        identity: &BuyerIdentity,
    ) -> Result<(Visitor, Option<String>), VisitorError> {
        let claimed = identity.account.as_ref().map(VerifiedAccount::as_str);
        let returning = match token {
            Some(token) => Some(self.visitor_row(token).await?),
            None => None,
        };
        match returning {
            Some(row)
                if row.shop_account_id.is_none() || row.shop_account_id.as_deref() == claimed =>
            {
                if claimed.is_some() || identity.nickname.is_some() {
                    let now = self.clock.now_ms();
                    self.records
                        .set_identity(&row.id, claimed, identity.nickname.as_deref(), now)
                        .await?;
                }
                Ok((Visitor { id: row.id }, None))
            }
            Some(_) | None => self.new_visitor(identity).await,
        }
    }

    async fn new_visitor(
        &self,
        identity: &BuyerIdentity,
    ) -> Result<(Visitor, Option<String>), VisitorError> {
        let token = Token::generate(VISITOR_TOKEN_PREFIX);
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.clock.now_ms();
        self.records
            .add_visitor(
                &id,
                &token.hash,
                identity.account.as_ref().map(VerifiedAccount::as_str),
                identity.nickname.as_deref(),
                now,
            )
            .await?;
        Ok((Visitor { id }, Some(token.value)))
    }

    async fn visitor_row(&self, token: &str) -> Result<StoredVisitor, VisitorError> {
        match self
            .records
            .visitor_of_token(&crypto::hash_token(token))
            .await
        {
            Ok(row) => Ok(row),
            Err(RepoError::NotFound) => Err(VisitorError::Unauthenticated),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn authenticate(&self, token: &str) -> Result<Visitor, VisitorError> {
        let row = self.visitor_row(token).await?;
        Ok(Visitor { id: row.id })
    }

    /// Personal data is sealed with the visitor id as associated data before storage.
    pub async fn set_pii(&self, visitor: &Visitor, pii: &BuyerPii) -> Result<(), VisitorError> {
        let plain = serde_json::to_vec(pii).expect("PII serialises");
        let sealed = self.cipher.seal(&plain, visitor.id.as_bytes());
        Ok(self
            .records
            .set_sealed_pii(&visitor.id, &sealed, self.clock.now_ms())
            .await?)
    }

    pub async fn set_context(
        &self,
        visitor_id: &str,
        context: &VisitorContext,
    ) -> Result<(), VisitorError> {
        let json = serde_json::to_string(context).expect("context serialises");
        match self
            .records
            .set_context(visitor_id, &json, self.clock.now_ms())
            .await
        {
            Err(RepoError::NotFound) => Err(VisitorError::NotFound),
            other => Ok(other?),
        }
    }

    pub async fn profile(&self, visitor_id: &str) -> Result<VisitorProfile, VisitorError> {
        let row = self.records.visitor_by_id(visitor_id).await?;
        self.open_profile(row)
    }

    fn open_profile(&self, row: StoredVisitor) -> Result<VisitorProfile, VisitorError> {
        let pii: BuyerPii = match &row.sealed_pii {
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
            pii_masked: false,
        })
    }
}
