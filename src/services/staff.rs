//! Staff accounts, login and sessions.

use crate::crypto::{self, Token};
use crate::domain::audit::AuditAction;
use crate::domain::staff::{
    Password, Permission, Role, StaffInputError, Username, parse_capacity, parse_display_name,
};
use crate::ports::Clock;
use crate::ports::repositories::{RepoError, StaffAccount, StaffAccounts, TwoStepSecrets};
use crate::services::audit::AuditService;
use serde::Serialize;
use std::sync::Arc;

pub const SESSION_TOKEN_PREFIX: &str = "st_";

/// An authenticated staff member, as handlers and services see them.
#[derive(Debug, Clone, Serialize)]
pub struct StaffUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub max_chats: i64,
    /// False once an admin deactivated the account (it cannot sign in).
    pub active: bool,
    /// A reset password: everything but choosing a new one is refused until then.
    pub must_change_password: bool,
    /// Signs in with a code from an authenticator app as well as the password.
    pub two_step: bool,
}

impl StaffUser {
    pub fn can(&self, permission: Permission) -> bool {
        self.role.allows(permission)
    }

    pub(crate) fn from_row(row: StaffAccount) -> Result<Self, StaffError> {
        let role = row
            .role
            .parse()
            .map_err(|_| StaffError::CorruptRow("role"))?;
        Ok(Self {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            role,
            max_chats: row.max_chats,
            active: !row.disabled,
            must_change_password: row.must_change_password,
            two_step: row.totp_enabled,
        })
    }
}

pub struct NewStaff {
    pub username: Username,
    pub password: Password,
    pub display_name: String,
    pub role: Role,
    pub max_chats: i64,
}

impl NewStaff {
    pub fn parse(
        username: &str,
        password: &str,
        display_name: Option<&str>,
        role: Role,
        max_chats: Option<i64>,
    ) -> Result<Self, StaffInputError> {
        let username = Username::parse(username)?;
        Ok(Self {
            display_name: parse_display_name(display_name.unwrap_or(username.as_str()))?,
            username,
            password: Password::parse(password)?,
            role,
            max_chats: parse_capacity(max_chats.unwrap_or(5))?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("wrong username or password")]
    BadCredentials,
    #[error("not signed in or session expired")]
    Unauthenticated,
    #[error("username already taken")]
    UsernameTaken,
    #[error("no such staff account")]
    NotFound,
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("the new password must differ from the current one")]
    SamePassword,
    #[error("choose a new password first")]
    PasswordChangeRequired,
    #[error("enter the code from your authenticator app")]
    TotpRequired,
    #[error("the code is wrong, expired or used already")]
    TotpInvalid,
    #[error("two-step sign-in is on already")]
    TotpAlreadyOn,
    #[error("two-step sign-in is not on")]
    TotpNotOn,
    #[error("set up two-step sign-in first")]
    TotpNotSetUp,
    #[error("the shop must keep at least one active admin")]
    LastAdmin,
    #[error("you cannot deactivate your own account")]
    SelfDeactivation,
    #[error(transparent)]
    Input(#[from] StaffInputError),
    #[error("stored staff row has a bad {0}")]
    CorruptRow(&'static str),
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
    #[error(transparent)]
    Records(RepoError),
}

impl StaffError {
    /// Wrong credentials (a wrong code counts like a wrong password): audited,
    /// and counted towards a lockout.
    pub fn is_failed_sign_in(&self) -> bool {
        matches!(self, StaffError::BadCredentials | StaffError::TotpInvalid)
    }
}

impl From<RepoError> for StaffError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::AlreadyExists => StaffError::UsernameTaken,
            RepoError::NotFound => StaffError::NotFound,
            other => StaffError::Records(other),
        }
    }
}

pub struct LoggedIn {
    pub token: String,
    pub expires_at: i64,
    pub user: StaffUser,
}

/// Something that may end what a staff member's open sockets are allowed to see.
/// Sockets on this node re-check at once; those on other nodes within their
/// re-check interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessChange {
    /// The session with this token hash ended (logout).
    SessionEnded(Arc<[u8]>),
    /// The staff member's role or status changed (deactivation, new role).
    StaffChanged(Arc<str>),
    /// A buyer was erased: their open sockets close.
    VisitorErased(Arc<str>),
}

pub struct StaffService {
    pub(super) accounts: Arc<dyn StaffAccounts>,
    /// Two-step sign-in secrets (`totp`).
    pub(super) two_step: Arc<dyn TwoStepSecrets>,
    pub(super) clock: Arc<dyn Clock>,
    /// Where sign-ins and failed sign-ins are recorded.
    audit: Arc<AuditService>,
    session_ms: i64,
    access: tokio::sync::broadcast::Sender<AccessChange>,
}

impl StaffService {
    pub fn new<R>(
        records: Arc<R>,
        audit: Arc<AuditService>,
        clock: Arc<dyn Clock>,
        session_hours: i64,
    ) -> Self
    where
        R: StaffAccounts + TwoStepSecrets + 'static,
    {
        Self {
            two_step: records.clone(),
            accounts: records,
            clock,
            audit,
            session_ms: session_hours * 3_600_000,
            access: tokio::sync::broadcast::channel(256).0,
        }
    }

    /// Changes that may revoke what open staff sockets show (see [`AccessChange`]).
    pub fn access_changes(&self) -> tokio::sync::broadcast::Receiver<AccessChange> {
        self.access.subscribe()
    }

    /// Where other services announce access changes (erasure).
    pub fn access_notifier(&self) -> tokio::sync::broadcast::Sender<AccessChange> {
        self.access.clone()
    }

    /// Tells open sockets that a staff member's role or status changed.
    pub fn staff_changed(&self, staff_id: &str) {
        let _ = self
            .access
            .send(AccessChange::StaffChanged(Arc::from(staff_id)));
    }

    #[tracing::instrument(skip_all, fields(role = new.role.as_str()), err)]
    pub async fn add_user(&self, new: NewStaff) -> Result<StaffUser, StaffError> {
        let password = new.password.expose().to_owned();
        let password_hash = tokio::task::spawn_blocking(move || crypto::hash_password(&password))
            .await
            .expect("hashing task does not panic")?;
        let row = StaffAccount {
            id: uuid::Uuid::now_v7().to_string(),
            username: new.username.as_str().to_owned(),
            display_name: new.display_name,
            role: new.role.as_str().to_owned(),
            password_hash,
            max_chats: new.max_chats,
            disabled: false,
            created_at: self.clock.now_ms(),
            must_change_password: false,
            totp_enabled: false,
        };
        self.accounts.insert(&row).await?;
        let user = StaffUser::from_row(row)?;
        if user.can(Permission::ClaimChat) {
            // Everyone who takes chats starts in the default skill group.
            self.accounts.join_default_group(&user.id).await?;
        }
        Ok(user)
    }

    pub async fn list_users(&self) -> Result<Vec<StaffUser>, StaffError> {
        self.accounts
            .accounts()
            .await?
            .into_iter()
            .map(StaffUser::from_row)
            .collect()
    }

    /// An admin changes a staff member's name, role, capacity or status. A
    /// deactivated account's sessions end at once (and its sockets close).
    #[tracing::instrument(skip_all, err)]
    pub async fn update_user(
        &self,
        by: &StaffUser,
        id: &str,
        change: StaffChange,
    ) -> Result<StaffUser, StaffError> {
        let mut row = self.accounts.account(id).await?;
        let was_admin = row.role == Role::Admin.as_str() && !row.disabled;
        if let Some(name) = change.display_name {
            row.display_name = parse_display_name(&name)?;
        }
        if let Some(role) = change.role {
            row.role = role.as_str().to_owned();
        }
        if let Some(max) = change.max_chats {
            row.max_chats = parse_capacity(max)?;
        }
        if let Some(active) = change.active {
            if !active && id == by.id {
                return Err(StaffError::SelfDeactivation);
            }
            row.disabled = !active;
        }
        let still_admin = row.role == Role::Admin.as_str() && !row.disabled;
        if was_admin && !still_admin && self.accounts.count_active_admins().await? <= 1 {
            return Err(StaffError::LastAdmin);
        }
        self.accounts.update(&row).await?;
        if row.disabled {
            self.end_sessions(id).await?;
        }
        self.staff_changed(id);
        StaffUser::from_row(row)
    }

    /// An admin sets a new password; the account must choose its own at next
    /// sign-in, and its sessions end now.
    #[tracing::instrument(skip_all, err)]
    pub async fn reset_password(&self, id: &str, password: Password) -> Result<(), StaffError> {
        self.accounts.account(id).await?;
        let hash = hash(password).await?;
        self.accounts.set_password(id, &hash, true).await?;
        self.end_sessions(id).await?;
        self.staff_changed(id);
        Ok(())
    }

    /// A staff member chooses a new password (after a reset, or at will). Every
    /// other session of the account ends (and its sockets close): whoever knew
    /// the old password is signed out; the session that made the change stays.
    #[tracing::instrument(skip_all, err)]
    pub async fn change_password(
        &self,
        me: &StaffUser,
        keep_session: &[u8],
        current: &str,
        new: Password,
    ) -> Result<StaffUser, StaffError> {
        let row = self.accounts.account(&me.id).await?;
        let (current, stored) = (current.to_owned(), row.password_hash.clone());
        let verified =
            tokio::task::spawn_blocking(move || crypto::verify_password(&current, &stored))
                .await
                .expect("verify task does not panic");
        if !verified {
            return Err(StaffError::WrongPassword);
        }
        let (new_text, stored) = (new.expose().to_owned(), row.password_hash.clone());
        let same = tokio::task::spawn_blocking(move || crypto::verify_password(&new_text, &stored))
            .await
            .expect("verify task does not panic");
        if same {
            return Err(StaffError::SamePassword);
        }
        let hash = hash(new).await?;
        self.accounts.set_password(&me.id, &hash, false).await?;
        self.end_sessions_but(&me.id, Some(keep_session)).await?;
        StaffUser::from_row(self.accounts.account(&me.id).await?)
    }

    async fn end_sessions(&self, id: &str) -> Result<(), StaffError> {
        self.end_sessions_but(id, None).await
    }

    async fn end_sessions_but(&self, id: &str, keep: Option<&[u8]>) -> Result<(), StaffError> {
        for ended in self.accounts.end_sessions_of(id, keep).await? {
            let _ = self
                .access
                .send(AccessChange::SessionEnded(Arc::from(ended)));
        }
        Ok(())
    }

    /// The id of the account with this name, if there is one (for the audit
    /// log: a failed sign-in names the account, never the typed name).
    async fn id_of(&self, username: &str) -> Option<String> {
        let username = Username::parse(username).ok()?;
        self.accounts
            .by_username(username.as_str())
            .await
            .ok()
            .map(|r| r.id)
    }

    pub async fn has_users(&self) -> Result<bool, StaffError> {
        Ok(self.accounts.count().await? > 0)
    }

    /// Signs in and records the attempt in the audit log: a sign-in, or a failed
    /// one (a wrong code counts like a wrong password) against the account the
    /// username names, `unknown` when none.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        code: Option<&str>,
    ) -> Result<LoggedIn, StaffError> {
        match self.open_session(username, password, code).await {
            Ok(logged_in) => {
                let user_id = &logged_in.user.id;
                let target = format!("staff_user:{user_id}");
                self.audit
                    .record(Some(user_id), AuditAction::SignIn, &target)
                    .await;
                Ok(logged_in)
            }
            Err(e) => {
                if e.is_failed_sign_in() {
                    let account = self.id_of(username).await;
                    let target = format!("staff_user:{}", account.as_deref().unwrap_or("unknown"));
                    self.audit
                        .record(account.as_deref(), AuditAction::SignInFailed, &target)
                        .await;
                }
                Err(e)
            }
        }
    }

    /// Verifies the password (on a blocking thread: argon2 is slow on purpose) and
    /// opens a session. Unknown users cost the same time as wrong passwords.
    /// Where the account has two-step sign-in on, a code from the person's app
    /// is asked for only after the password was right.
    #[tracing::instrument(skip_all, err)]
    async fn open_session(
        &self,
        username: &str,
        password: &str,
        code: Option<&str>,
    ) -> Result<LoggedIn, StaffError> {
        let row = match Username::parse(username) {
            Ok(u) => self.accounts.by_username(u.as_str()).await.ok(),
            Err(_) => None,
        };
        let stored_hash = row
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(dummy_hash);
        let password = password.to_owned();
        let verified =
            tokio::task::spawn_blocking(move || crypto::verify_password(&password, &stored_hash))
                .await
                .expect("verify task does not panic");
        let row = match row {
            Some(row) if verified && !row.disabled => row,
            _ => return Err(StaffError::BadCredentials),
        };
        self.second_step(&row.id, row.totp_enabled, code).await?;
        let token = Token::generate(SESSION_TOKEN_PREFIX);
        let now = self.clock.now_ms();
        let expires_at = now + self.session_ms;
        self.accounts
            .insert_session(&token.hash, &row.id, now, expires_at)
            .await?;
        Ok(LoggedIn {
            token: token.value,
            expires_at,
            user: StaffUser::from_row(row)?,
        })
    }

    pub async fn authenticate(&self, token: &str) -> Result<StaffUser, StaffError> {
        let (user_id, expires_at) = match self.accounts.session(&crypto::hash_token(token)).await {
            Ok(s) => s,
            Err(RepoError::NotFound) => return Err(StaffError::Unauthenticated),
            Err(e) => return Err(e.into()),
        };
        if expires_at <= self.clock.now_ms() {
            return Err(StaffError::Unauthenticated);
        }
        let row = self.accounts.account(&user_id).await?;
        if row.disabled {
            return Err(StaffError::Unauthenticated);
        }
        StaffUser::from_row(row)
    }

    pub async fn logout(&self, token: &str) -> Result<(), StaffError> {
        let hash = crypto::hash_token(token);
        self.accounts.delete_session(&hash).await?;
        let _ = self
            .access
            .send(AccessChange::SessionEnded(Arc::from(hash)));
        Ok(())
    }
}

/// Hashes on a blocking thread: argon2 is slow on purpose.
async fn hash(password: Password) -> Result<String, StaffError> {
    let password = password.expose().to_owned();
    Ok(
        tokio::task::spawn_blocking(move || crypto::hash_password(&password))
            .await
            .expect("hashing task does not panic")?,
    )
}

/// What an admin may change about a staff account; absent fields stay.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub max_chats: Option<i64>,
    pub active: Option<bool>,
}

/// A valid argon2 hash of a random password, so unknown usernames take as long as
/// known ones.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            crypto::hash_password("not a real password, only for timing").expect("hashing works")
        })
        .clone()
}
