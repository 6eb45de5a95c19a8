use super::{Store, StoreError, on_pool};
use crate::ports::repositories::{RepoError, StaffAccount};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub password_hash: String,
    pub max_chats: i64,
    pub disabled: bool,
    pub created_at: i64,
    /// Set by a password reset: the next sign-in must choose a new one.
    pub must_change_password: bool,
    /// Two-step sign-in is on (a code from the person's app is asked for).
    pub totp_enabled: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub user_id: String,
    pub expires_at: i64,
}

impl Store {
    pub async fn insert_staff(&self, user: &StaffRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO staff_users \
                   (id, username, display_name, role, password_hash, max_chats, disabled, created_at, must_change_password) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&user.id).bind(&user.username).bind(&user.display_name).bind(&user.role)
            .bind(&user.password_hash).bind(user.max_chats).bind(user.disabled).bind(user.created_at)
            .bind(user.must_change_password).execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    pub async fn staff_by_username(&self, username: &str) -> Result<StaffRow, StoreError> {
        let sql = "SELECT id, username, display_name, role, password_hash, max_chats, disabled, created_at, \
                   must_change_password, totp_enabled FROM staff_users WHERE username = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, StaffRow>(sql)
            .bind(username).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub async fn staff(&self, id: &str) -> Result<StaffRow, StoreError> {
        let sql = "SELECT id, username, display_name, role, password_hash, max_chats, disabled, created_at, \
                   must_change_password, totp_enabled FROM staff_users WHERE id = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, StaffRow>(sql)
            .bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub async fn list_staff(&self) -> Result<Vec<StaffRow>, StoreError> {
        let sql = "SELECT id, username, display_name, role, password_hash, max_chats, disabled, created_at, \
                   must_change_password, totp_enabled FROM staff_users ORDER BY username";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, StaffRow>(sql).fetch_all(pool).await?))
    }

    /// Role, name, capacity and status (the fields an admin edits).
    pub async fn update_staff(&self, user: &StaffRow) -> Result<(), StoreError> {
        let sql = "UPDATE staff_users SET display_name = $2, role = $3, max_chats = $4, disabled = $5 \
                   WHERE id = $1";
        let n = on_pool!(self, pool => sqlx::query(sql)
            .bind(&user.id).bind(&user.display_name).bind(&user.role).bind(user.max_chats)
            .bind(user.disabled).execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        must_change: bool,
    ) -> Result<(), StoreError> {
        let sql =
            "UPDATE staff_users SET password_hash = $2, must_change_password = $3 WHERE id = $1";
        let n = on_pool!(self, pool => sqlx::query(sql)
            .bind(user_id).bind(password_hash).bind(must_change).execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Ends every session of a staff member but `keep` (the one making a
    /// password change); returns the ended sessions' token hashes.
    pub async fn end_sessions_of(
        &self,
        user_id: &str,
        keep: Option<&[u8]>,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let keep = keep.unwrap_or_default().to_vec();
        let hashes: Vec<(Vec<u8>,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT token_hash FROM staff_sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id).bind(&keep).fetch_all(pool).await?);
        on_pool!(self, pool => sqlx::query(
            "DELETE FROM staff_sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id).bind(&keep).execute(pool).await.map(|_| ())?);
        Ok(hashes.into_iter().map(|(h,)| h).collect())
    }

    /// Active admins: the last one may not be demoted or deactivated.
    pub async fn count_active_admins(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*) FROM staff_users WHERE role = 'admin' AND NOT disabled")
            .fetch_one(pool).await?);
        Ok(n)
    }

    pub async fn count_staff(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_pool!(self, pool =>
            sqlx::query_as("SELECT COUNT(*) FROM staff_users").fetch_one(pool).await?);
        Ok(n)
    }

    pub async fn insert_session(
        &self,
        token_hash: &[u8],
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO staff_sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(token_hash).bind(user_id).bind(now).bind(expires_at).execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    pub async fn session(&self, token_hash: &[u8]) -> Result<SessionRow, StoreError> {
        let sql = "SELECT user_id, expires_at FROM staff_sessions WHERE token_hash = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, SessionRow>(sql)
            .bind(token_hash).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM staff_sessions WHERE token_hash = $1")
            .bind(token_hash).execute(pool).await.map(|_| ())?);
        Ok(())
    }
}

impl From<StaffRow> for crate::ports::repositories::Person {
    fn from(row: StaffRow) -> Self {
        crate::ports::repositories::Person {
            id: row.id,
            display_name: row.display_name,
            role: row.role,
            disabled: row.disabled,
        }
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::StaffDirectory for Store {
    async fn person(
        &self,
        id: &str,
    ) -> Result<crate::ports::repositories::Person, crate::ports::repositories::RepoError> {
        Ok(self.staff(id).await?.into())
    }

    async fn people(
        &self,
    ) -> Result<Vec<crate::ports::repositories::Person>, crate::ports::repositories::RepoError>
    {
        Ok(self
            .list_staff()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

impl From<StaffRow> for StaffAccount {
    fn from(row: StaffRow) -> Self {
        StaffAccount {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            role: row.role,
            password_hash: row.password_hash,
            max_chats: row.max_chats,
            disabled: row.disabled,
            created_at: row.created_at,
            must_change_password: row.must_change_password,
            totp_enabled: row.totp_enabled,
        }
    }
}

impl From<&StaffAccount> for StaffRow {
    fn from(account: &StaffAccount) -> Self {
        StaffRow {
            id: account.id.clone(),
            username: account.username.clone(),
            display_name: account.display_name.clone(),
            role: account.role.clone(),
            password_hash: account.password_hash.clone(),
            max_chats: account.max_chats,
            disabled: account.disabled,
            created_at: account.created_at,
            must_change_password: account.must_change_password,
            totp_enabled: account.totp_enabled,
        }
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::StaffAccounts for Store {
    async fn insert(&self, account: &StaffAccount) -> Result<(), RepoError> {
        Ok(self.insert_staff(&account.into()).await?)
    }

    async fn account(&self, id: &str) -> Result<StaffAccount, RepoError> {
        Ok(self.staff(id).await?.into())
    }

    async fn by_username(&self, username: &str) -> Result<StaffAccount, RepoError> {
        Ok(self.staff_by_username(username).await?.into())
    }

    async fn accounts(&self) -> Result<Vec<StaffAccount>, RepoError> {
        Ok(self
            .list_staff()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn update(&self, account: &StaffAccount) -> Result<(), RepoError> {
        Ok(self.update_staff(&account.into()).await?)
    }

    async fn count(&self) -> Result<i64, RepoError> {
        Ok(self.count_staff().await?)
    }

    async fn count_active_admins(&self) -> Result<i64, RepoError> {
        Ok(Store::count_active_admins(self).await?)
    }

    async fn set_password(
        &self,
        id: &str,
        password_hash: &str,
        must_change: bool,
    ) -> Result<(), RepoError> {
        Ok(Store::set_password(self, id, password_hash, must_change).await?)
    }

    async fn join_default_group(&self, agent_id: &str) -> Result<(), RepoError> {
        if let Some(group) = self.default_group().await? {
            let member = super::MemberRow {
                group_id: group.id,
                agent_id: agent_id.to_owned(),
                level: 0,
                weight: 100,
                assigned: 0,
            };
            self.upsert_member(&member).await?;
        }
        Ok(())
    }

    async fn insert_session(
        &self,
        token_hash: &[u8],
        user_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), RepoError> {
        Ok(Store::insert_session(self, token_hash, user_id, now, expires_at).await?)
    }

    async fn session(&self, token_hash: &[u8]) -> Result<(String, i64), RepoError> {
        let row = Store::session(self, token_hash).await?;
        Ok((row.user_id, row.expires_at))
    }

    async fn delete_session(&self, token_hash: &[u8]) -> Result<(), RepoError> {
        Ok(Store::delete_session(self, token_hash).await?)
    }

    async fn end_sessions_of(
        &self,
        id: &str,
        keep: Option<&[u8]>,
    ) -> Result<Vec<Vec<u8>>, RepoError> {
        Ok(Store::end_sessions_of(self, id, keep).await?)
    }
}
