//! The shop's own settings: name, service hours, holidays and time zone. They
//! live in the database so admins change them at run time; the start-up flags
//! only seed the first run. Each node caches the row: the node that takes a
//! change has it at once, the others within [`REFRESH_MS`].

use crate::ports::Clock;
use crate::ports::repositories::{RepoError, ShopSettingsRepository, StoredShopSettings};
use crate::services::bot::hours::{ServiceHours, rfc3339};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};

/// How stale another node's change may be here.
pub const REFRESH_MS: i64 = 5_000;
const MAX_HOLIDAYS: usize = 400;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShopSettings {
    pub shop_name: String,
    /// None: people answer at any hour (except on holidays).
    #[serde(serialize_with = "hours_text")]
    pub service_hours: Option<ServiceHours>,
    /// The shop's offset from UTC in minutes (China: +480).
    pub utc_offset_minutes: i32,
    /// Local dates without human service, "YYYY-MM-DD", sorted.
    pub holidays: Vec<String>,
}

fn hours_text<S: serde::Serializer>(h: &Option<ServiceHours>, s: S) -> Result<S::Ok, S::Error> {
    h.map(|h| h.describe()).serialize(s)
}

/// Settings as an admin sends them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopSettingsInput {
    pub shop_name: String,
    /// "09:00-22:00"; empty or null for any hour.
    pub service_hours: Option<String>,
    pub utc_offset_minutes: i32,
    #[serde(default)]
    pub holidays: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("{0}")]
    BadInput(&'static str),
    #[error("stored shop settings could not be read")]
    Corrupt,
    #[error(transparent)]
    Store(#[from] RepoError),
}

impl ShopSettings {
    pub fn parse(input: ShopSettingsInput) -> Result<Self, ShopError> {
        let shop_name = input.shop_name.trim().to_owned();
        if !(1..=64).contains(&shop_name.chars().count()) || shop_name.chars().any(char::is_control)
        {
            return Err(ShopError::BadInput("shop name must be 1 to 64 characters"));
        }
        let offset = input.utc_offset_minutes;
        if !(-720..=840).contains(&offset) || offset % 15 != 0 {
            return Err(ShopError::BadInput(
                "utc_offset_minutes must be a multiple of 15 between -720 and 840",
            ));
        }
        let service_hours = match input.service_hours.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(
                ServiceHours::parse(raw, offset)
                    .map_err(|_| ShopError::BadInput("service hours must look like 09:00-22:00"))?,
            ),
        };
        let mut holidays = input
            .holidays
            .iter()
            .map(|d| parse_day(d.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        holidays.sort();
        holidays.dedup();
        if holidays.len() > MAX_HOLIDAYS {
            return Err(ShopError::BadInput("at most 400 holidays"));
        }
        Ok(Self {
            shop_name,
            service_hours,
            utc_offset_minutes: offset,
            holidays,
        })
    }

    /// The shop's own date at `now_ms`, "YYYY-MM-DD".
    pub fn local_day(&self, now_ms: i64) -> String {
        rfc3339(now_ms + i64::from(self.utc_offset_minutes) * 60_000)[..10].to_owned()
    }

    pub fn is_holiday(&self, now_ms: i64) -> bool {
        self.holidays.binary_search(&self.local_day(now_ms)).is_ok()
    }

    /// Do people answer chats at `now_ms`?
    pub fn is_open(&self, now_ms: i64) -> bool {
        !self.is_holiday(now_ms) && self.service_hours.is_none_or(|h| h.is_open(now_ms))
    }

    fn to_stored(&self, by: Option<&str>, now: i64) -> StoredShopSettings {
        StoredShopSettings {
            shop_name: self.shop_name.clone(),
            service_hours: self.service_hours.map(|h| h.describe()),
            utc_offset_minutes: self.utc_offset_minutes,
            holidays: self.holidays.clone(),
            updated_by: by.map(str::to_owned),
            updated_at: now,
        }
    }

    fn from_stored(stored: StoredShopSettings) -> Result<Self, ShopError> {
        Self::parse(ShopSettingsInput {
            shop_name: stored.shop_name,
            service_hours: stored.service_hours,
            utc_offset_minutes: stored.utc_offset_minutes,
            holidays: stored.holidays,
        })
        .map_err(|_| ShopError::Corrupt)
    }
}

fn parse_day(raw: &str) -> Result<String, ShopError> {
    let bad = ShopError::BadInput("holidays must be dates like 2026-10-01");
    let parts: Vec<&str> = raw.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad);
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return Err(bad);
    }
    let (m, d): (u32, u32) = (m.parse().unwrap_or(0), d.parse().unwrap_or(0));
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad);
    }
    Ok(raw.to_owned())
}

pub struct ShopService {
    store: Arc<dyn ShopSettingsRepository>,
    clock: Arc<dyn Clock>,
    /// The settings and when they were read.
    cached: RwLock<(i64, Arc<ShopSettings>)>,
}

impl ShopService {
    /// Seeds the row from `defaults` (the start-up flags) on the first run, then
    /// reads what is stored.
    pub async fn open(
        store: Arc<dyn ShopSettingsRepository>,
        clock: Arc<dyn Clock>,
        defaults: ShopSettings,
    ) -> Result<Self, ShopError> {
        let now = clock.now_ms();
        store.put(&defaults.to_stored(None, now), true).await?;
        let stored = match store.get().await? {
            Some(stored) => ShopSettings::from_stored(stored)?,
            None => defaults,
        };
        Ok(Self {
            store,
            clock,
            cached: RwLock::new((now, Arc::new(stored))),
        })
    }

    /// The settings now; re-read when the cached copy is older than [`REFRESH_MS`]
    /// (another node may have changed them). A failed read keeps the cached copy.
    pub async fn current(&self) -> Arc<ShopSettings> {
        let now = self.clock.now_ms();
        let (read_at, cached) = self.cached.read().expect("not poisoned").clone();
        if now - read_at < REFRESH_MS {
            return cached;
        }
        match self.store.get().await.map_err(ShopError::from) {
            Ok(Some(stored)) => match ShopSettings::from_stored(stored) {
                Ok(fresh) => self.keep(now, fresh),
                Err(error) => {
                    tracing::warn!(%error, "shop settings unreadable; keeping the cached ones");
                    cached
                }
            },
            Ok(None) => cached,
            Err(error) => {
                tracing::warn!(%error, "shop settings not refreshed");
                cached
            }
        }
    }

    /// The cached settings without a refresh, for synchronous callers.
    pub fn cached(&self) -> Arc<ShopSettings> {
        self.cached.read().expect("not poisoned").1.clone()
    }

    fn keep(&self, now: i64, settings: ShopSettings) -> Arc<ShopSettings> {
        let settings = Arc::new(settings);
        *self.cached.write().expect("not poisoned") = (now, settings.clone());
        settings
    }

    #[tracing::instrument(skip_all, err)]
    pub async fn update(
        &self,
        input: ShopSettingsInput,
        by: &str,
    ) -> Result<Arc<ShopSettings>, ShopError> {
        let settings = ShopSettings::parse(input)?;
        let now = self.clock.now_ms();
        self.store
            .put(&settings.to_stored(Some(by), now), false)
            .await?;
        Ok(self.keep(now, settings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(hours: Option<&str>, holidays: &[&str]) -> ShopSettingsInput {
        ShopSettingsInput {
            shop_name: " 小二的店 ".into(),
            service_hours: hours.map(str::to_owned),
            utc_offset_minutes: 480,
            holidays: holidays.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    #[test]
    fn holidays_close_the_desk_by_the_shops_own_date() {
        let shop = ShopSettings::parse(input(Some("09:00-22:00"), &["2026-11-25"])).unwrap();
        assert_eq!(shop.shop_name, "小二的店");
        // 2026-11-25 02:00 UTC is 10:00 on the 25th in Beijing: a holiday.
        assert!(!shop.is_open(1_795_572_000_000));
        // 2026-11-24 17:00 UTC is already the 25th in Beijing.
        assert_eq!(shop.local_day(1_795_539_600_000), "2026-11-25");
        // A day later, 10:00 in Beijing: open.
        assert!(shop.is_open(1_795_572_000_000 + 86_400_000));
    }

    #[test]
    fn no_hours_means_any_hour_but_holidays_still_count() {
        let shop = ShopSettings::parse(input(Some(""), &["2026-11-25"])).unwrap();
        assert!(shop.service_hours.is_none());
        assert!(!shop.is_open(1_795_572_000_000));
        assert!(shop.is_open(1_795_572_000_000 + 86_400_000));
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(ShopSettings::parse(input(Some("9-22"), &[])).is_err());
        assert!(ShopSettings::parse(input(None, &["2026-13-01"])).is_err());
        assert!(ShopSettings::parse(input(None, &["tomorrow"])).is_err());
        let mut odd = input(None, &[]);
        odd.utc_offset_minutes = 481;
        assert!(ShopSettings::parse(odd).is_err());
    }
}
