use super::{Store, StoreError, on_pool};

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
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub user_id: String,
    pub expires_at: i64,
}

impl Store {
    pub async fn insert_staff(&self, user: &StaffRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO staff_users \
                   (id, username, display_name, role, password_hash, max_chats, disabled, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&user.id).bind(&user.username).bind(&user.display_name).bind(&user.role)
            .bind(&user.password_hash).bind(user.max_chats).bind(user.disabled).bind(user.created_at)
            .execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    pub async fn staff_by_username(&self, username: &str) -> Result<StaffRow, StoreError> {
        let sql = "SELECT id, username, display_name, role, password_hash, max_chats, disabled, created_at \
                   FROM staff_users WHERE username = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, StaffRow>(sql)
            .bind(username).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub async fn staff(&self, id: &str) -> Result<StaffRow, StoreError> {
        let sql = "SELECT id, username, display_name, role, password_hash, max_chats, disabled, created_at \
                   FROM staff_users WHERE id = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, StaffRow>(sql)
            .bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub async fn list_staff(&self) -> Result<Vec<StaffRow>, StoreError> {
        let sql = "SELECT id, username, display_name, role, password_hash, max_chats, disabled, created_at \
                   FROM staff_users ORDER BY username";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, StaffRow>(sql).fetch_all(pool).await?))
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
