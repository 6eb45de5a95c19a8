//! Two-step sign-in for staff (TOTP, `domain::totp`): a person sets it up in
//! 我的设置 (the secret shown once, as text and as an otpauth:// link for an
//! authenticator app), turns it on with a first code, and from then on signs
//! in with a code as well as the password. A code is taken once: the last step
//! accepted is kept in the database, so neither a replay nor a second node
//! takes it again. Turning it off takes a code; an admin can turn another
//! person's off (a lost phone), which is audited.

use crate::domain::totp;
use crate::ports::repositories::TotpSecret;
use crate::services::staff::{StaffError, StaffService, StaffUser};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TotpStatus {
    /// Sign-in asks for a code.
    pub enabled: bool,
    /// Set up, waiting for the first code.
    pub pending: bool,
}

/// What the person types or scans into their app; shown once.
#[derive(Debug, Clone, Serialize)]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_url: String,
}

impl StaffService {
    pub async fn totp_status(&self, user: &StaffUser) -> Result<TotpStatus, StaffError> {
        let row = self.two_step.secret_of(&user.id).await?;
        Ok(TotpStatus {
            enabled: row.as_ref().is_some_and(|r| r.enabled),
            pending: row.as_ref().is_some_and(|r| !r.enabled),
        })
    }

    /// A new secret, not yet asked for at sign-in (a setup started again
    /// replaces the one before); refused while two-step sign-in is on.
    pub async fn totp_setup(&self, user: &StaffUser) -> Result<TotpSetup, StaffError> {
        let secret = totp::new_secret();
        if !self.two_step.set_up(&user.id, &secret).await? {
            return Err(StaffError::TotpAlreadyOn);
        }
        Ok(TotpSetup {
            secret: totp::base32(&secret),
            otpauth_url: totp::otpauth_url(&secret, &user.username),
        })
    }

    /// The first code from the app turns it on.
    pub async fn totp_enable(
        &self,
        user: &StaffUser,
        code: &str,
    ) -> Result<TotpStatus, StaffError> {
        let row = match self.two_step.secret_of(&user.id).await? {
            None => return Err(StaffError::TotpNotSetUp),
            Some(row) if row.enabled => return Err(StaffError::TotpAlreadyOn),
            Some(row) => row,
        };
        self.take_code(&user.id, &row, code, true).await?;
        Ok(TotpStatus {
            enabled: true,
            pending: false,
        })
    }

    /// Off again, with a current code; the secret is forgotten.
    pub async fn totp_disable(
        &self,
        user: &StaffUser,
        code: &str,
    ) -> Result<TotpStatus, StaffError> {
        let row = match self.two_step.secret_of(&user.id).await? {
            Some(row) if row.enabled => row,
            _ => return Err(StaffError::TotpNotOn),
        };
        self.take_code(&user.id, &row, code, false).await?;
        self.two_step.clear(&user.id).await?;
        Ok(TotpStatus {
            enabled: false,
            pending: false,
        })
    }

    /// An admin turns another person's two-step sign-in off (they lost their
    /// phone); they sign in with the password and may set it up again.
    pub async fn reset_totp(&self, staff_id: &str) -> Result<(), StaffError> {
        Ok(self.two_step.clear(staff_id).await?)
    }

    /// At sign-in, after the password: a code when the account asks for one.
    pub(crate) async fn second_step(
        &self,
        staff_id: &str,
        enabled: bool,
        code: Option<&str>,
    ) -> Result<(), StaffError> {
        if !enabled {
            return Ok(());
        }
        let code = code
            .filter(|c| !c.trim().is_empty())
            .ok_or(StaffError::TotpRequired)?;
        let row = self
            .two_step
            .secret_of(staff_id)
            .await?
            .ok_or(StaffError::TotpInvalid)?;
        self.take_code(staff_id, &row, code, false).await
    }

    async fn take_code(
        &self,
        staff_id: &str,
        row: &TotpSecret,
        code: &str,
        enable: bool,
    ) -> Result<(), StaffError> {
        let now_secs = self.clock.now_ms() / 1000;
        let step = totp::check(&row.secret, code, now_secs).ok_or(StaffError::TotpInvalid)?;
        if self.two_step.take_step(staff_id, step, enable).await? {
            Ok(())
        } else {
            Err(StaffError::TotpInvalid) // this step's code was taken already
        }
    }
}
