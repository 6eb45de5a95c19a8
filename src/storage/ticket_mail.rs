//! E-mail reminders: the SMTP settings row (its password sealed), each
//! person's notification preferences (their address sealed), and the log of
//! mails sent per (event, recipient).

use super::{PasswordChange, Store, StoreError, on_pool};
use crate::domain::ticket_mail::{EmailOn, NotificationPrefs, SmtpSettings, TlsMode};
use crate::ports::repositories::RepoError;

pub(super) fn smtp_password_aad() -> &'static str {
    "smtp_password:1"
}

pub(super) fn email_aad(staff_id: &str) -> String {
    format!("notify_email:{staff_id}")
}

#[derive(sqlx::FromRow)]
struct SmtpRow {
    host: String,
    port: i64,
    tls: String,
    username: Option<String>,
    sealed_password: Option<Vec<u8>>,
    from_address: String,
    enabled: bool,
}

#[derive(sqlx::FromRow)]
struct PrefsRow {
    sealed_email: Option<Vec<u8>>,
    in_app: bool,
    email_on: String,
}

impl Store {
    /// The SMTP settings and the password, opened.
    pub async fn smtp_settings(
        &self,
    ) -> Result<Option<(SmtpSettings, Option<String>)>, StoreError> {
        let sql = "SELECT host, port, tls, username, sealed_password, from_address, enabled \
                   FROM smtp_settings WHERE id = 1";
        let row =
            on_pool!(self, pool => sqlx::query_as::<_, SmtpRow>(sql).fetch_optional(pool).await?);
        let Some(row) = row else { return Ok(None) };
        let password = self.open_opt(row.sealed_password.as_deref(), smtp_password_aad())?;
        let settings = SmtpSettings {
            host: row.host,
            port: u16::try_from(row.port).map_err(|_| StoreError::Sealed)?,
            tls: TlsMode::parse(&row.tls).ok_or(StoreError::Sealed)?,
            username: row.username,
            from_address: row.from_address,
            enabled: row.enabled,
        };
        Ok(Some((settings, password)))
    }

    pub async fn put_smtp_settings(
        &self,
        settings: &SmtpSettings,
        password: PasswordChange<'_>,
        by: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let keep = matches!(password, PasswordChange::Keep);
        let sealed = match password {
            PasswordChange::Keep => None,
            PasswordChange::Set(p) => self.seal_opt(p, smtp_password_aad()),
        };
        let sql = "INSERT INTO smtp_settings (id, host, port, tls, username, sealed_password, from_address, \
                   enabled, updated_by, updated_at) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9) \
                   ON CONFLICT (id) DO UPDATE SET host = excluded.host, port = excluded.port, tls = excluded.tls, \
                   username = excluded.username, \
                   sealed_password = CASE WHEN $10 THEN smtp_settings.sealed_password ELSE excluded.sealed_password END, \
                   from_address = excluded.from_address, enabled = excluded.enabled, \
                   updated_by = excluded.updated_by, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&settings.host).bind(i64::from(settings.port)).bind(settings.tls.as_str())
            .bind(&settings.username).bind(&sealed).bind(&settings.from_address)
            .bind(settings.enabled).bind(by).bind(now).bind(keep)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// A person's preferences (the defaults when they never chose).
    pub async fn notification_prefs(
        &self,
        staff_id: &str,
    ) -> Result<NotificationPrefs, StoreError> {
        let sql =
            "SELECT sealed_email, in_app, email_on FROM notification_prefs WHERE staff_id = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, PrefsRow>(sql)
            .bind(staff_id).fetch_optional(pool).await?);
        let Some(row) = row else {
            return Ok(NotificationPrefs::default());
        };
        let email_on: EmailOn = serde_json::from_str(&row.email_on).unwrap_or_default();
        Ok(NotificationPrefs {
            email: self.open_opt(row.sealed_email.as_deref(), &email_aad(staff_id))?,
            in_app: row.in_app,
            email_on,
        })
    }

    pub async fn put_notification_prefs(
        &self,
        staff_id: &str,
        prefs: &NotificationPrefs,
        now: i64,
    ) -> Result<(), StoreError> {
        let sealed = self.seal_opt(prefs.email.as_deref(), &email_aad(staff_id));
        let email_on = serde_json::to_string(&prefs.email_on).expect("flags serialize");
        let sql = "INSERT INTO notification_prefs (staff_id, sealed_email, in_app, email_on, updated_at) \
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (staff_id) DO UPDATE SET \
                   sealed_email = excluded.sealed_email, in_app = excluded.in_app, \
                   email_on = excluded.email_on, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(staff_id).bind(&sealed).bind(prefs.in_app).bind(&email_on).bind(now)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn mail_was_sent(
        &self,
        event_id: &str,
        recipient_id: &str,
    ) -> Result<bool, StoreError> {
        let sql = "SELECT 1 FROM mail_sent WHERE event_id = $1 AND recipient_id = $2";
        let row: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(event_id).bind(recipient_id).fetch_optional(pool).await?);
        Ok(row.is_some())
    }

    pub async fn record_mail_sent(
        &self,
        event_id: &str,
        recipient_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO mail_sent (event_id, recipient_id, sent_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (event_id, recipient_id) DO NOTHING";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(event_id).bind(recipient_id).bind(now)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::MailRecords for Store {
    async fn smtp_settings(&self) -> Result<Option<(SmtpSettings, Option<String>)>, RepoError> {
        Ok(Store::smtp_settings(self).await?)
    }

    async fn put_smtp_settings(
        &self,
        settings: &SmtpSettings,
        password: PasswordChange<'_>,
        by: &str,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(Store::put_smtp_settings(self, settings, password, by, now).await?)
    }

    async fn prefs(&self, staff_id: &str) -> Result<NotificationPrefs, RepoError> {
        Ok(self.notification_prefs(staff_id).await?)
    }

    async fn put_prefs(
        &self,
        staff_id: &str,
        prefs: &NotificationPrefs,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(self.put_notification_prefs(staff_id, prefs, now).await?)
    }

    async fn mail_was_sent(&self, event_id: &str, recipient_id: &str) -> Result<bool, RepoError> {
        Ok(Store::mail_was_sent(self, event_id, recipient_id).await?)
    }

    async fn record_mail_sent(
        &self,
        event_id: &str,
        recipient_id: &str,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(Store::record_mail_sent(self, event_id, recipient_id, now).await?)
    }
}
