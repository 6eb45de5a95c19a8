//! A staff member's two-step sign-in secret (sealed) and the last step a code
//! was accepted for.

use super::{Store, StoreError, on_pool};
use crate::ports::repositories::{RepoError, TotpSecret, TwoStepSecrets};

/// What the store keeps of a person's TOTP.
#[derive(Debug, Clone, PartialEq)]
pub struct TotpRow {
    pub secret: Vec<u8>,
    /// False while set up but not yet confirmed with a code.
    pub enabled: bool,
    pub last_step: i64,
}

/// The sealed secret is bound to its account.
pub fn totp_aad(staff_id: &str) -> String {
    format!("staff_totp:{staff_id}")
}

impl Store {
    pub async fn staff_totp(&self, staff_id: &str) -> Result<Option<TotpRow>, StoreError> {
        let sql = "SELECT totp_sealed, totp_enabled, totp_last_step FROM staff_users WHERE id = $1";
        let row: Option<(Option<Vec<u8>>, bool, i64)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(staff_id).fetch_optional(pool).await?);
        let Some((sealed, enabled, last_step)) = row else {
            return Err(StoreError::NotFound);
        };
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let secret = self
            .sealer()
            .open(&sealed, totp_aad(staff_id).as_bytes())
            .map_err(|_| StoreError::Sealed)?;
        Ok(Some(TotpRow {
            secret,
            enabled,
            last_step,
        }))
    }

    /// Keeps a new secret, not yet enabled; refused (false) while one is enabled.
    pub async fn set_staff_totp(&self, staff_id: &str, secret: &[u8]) -> Result<bool, StoreError> {
        let sealed = self.sealer().seal(secret, totp_aad(staff_id).as_bytes());
        let sql = "UPDATE staff_users SET totp_sealed = $2, totp_enabled = FALSE, totp_last_step = 0 \
                   WHERE id = $1 AND NOT totp_enabled";
        let n = on_pool!(self, pool => sqlx::query(sql)
            .bind(staff_id).bind(sealed).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Takes the step a code matched if it is later than the last one taken
    /// (one statement: two nodes cannot both take it); `enable` turns the
    /// secret on with it. False: the step was taken already.
    pub async fn take_totp_step(
        &self,
        staff_id: &str,
        step: i64,
        enable: bool,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE staff_users SET totp_last_step = $2, totp_enabled = (totp_enabled OR $3) \
                   WHERE id = $1 AND totp_sealed IS NOT NULL AND totp_last_step < $2";
        let n = on_pool!(self, pool => sqlx::query(sql)
            .bind(staff_id).bind(step).bind(enable).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Turns two-step sign-in off and forgets the secret; false: it was not set.
    pub async fn clear_staff_totp(&self, staff_id: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE staff_users SET totp_sealed = NULL, totp_enabled = FALSE, totp_last_step = 0 \
                   WHERE id = $1 AND totp_sealed IS NOT NULL";
        let n = on_pool!(self, pool => sqlx::query(sql)
            .bind(staff_id).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }
}

#[async_trait::async_trait]
impl TwoStepSecrets for Store {
    async fn secret_of(&self, staff_id: &str) -> Result<Option<TotpSecret>, RepoError> {
        Ok(self.staff_totp(staff_id).await?.map(|r| TotpSecret {
            secret: r.secret,
            enabled: r.enabled,
            last_step: r.last_step,
        }))
    }

    async fn set_up(&self, staff_id: &str, secret: &[u8]) -> Result<bool, RepoError> {
        Ok(self.set_staff_totp(staff_id, secret).await?)
    }

    async fn take_step(&self, staff_id: &str, step: i64, enable: bool) -> Result<bool, RepoError> {
        Ok(self.take_totp_step(staff_id, step, enable).await?)
    }

    async fn clear(&self, staff_id: &str) -> Result<(), RepoError> {
        self.staff(staff_id).await?;
        self.clear_staff_totp(staff_id).await?;
        Ok(())
    }
}
