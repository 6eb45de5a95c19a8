//! The hours people answer chats, in the shop's time zone.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceHours {
    /// Minutes after local midnight.
    pub open: u32,
    pub close: u32,
    /// The shop's offset from UTC in minutes (China: +480).
    pub utc_offset_minutes: i32,
}

#[derive(Debug, thiserror::Error)]
#[error("service hours must look like 09:00-22:00")]
pub struct HoursError;

fn minutes(hhmm: &str) -> Result<u32, HoursError> {
    let (h, m) = hhmm.trim().split_once(':').ok_or(HoursError)?;
    let (h, m): (u32, u32) = (
        h.parse().map_err(|_| HoursError)?,
        m.parse().map_err(|_| HoursError)?,
    );
    if h > 24 || m > 59 || h * 60 + m > 24 * 60 {
        return Err(HoursError);
    }
    Ok(h * 60 + m)
}

impl ServiceHours {
    pub fn parse(raw: &str, utc_offset_minutes: i32) -> Result<Self, HoursError> {
        let (open, close) = raw.split_once('-').ok_or(HoursError)?;
        Ok(Self {
            open: minutes(open)?,
            close: minutes(close)?,
            utc_offset_minutes,
        })
    }

    /// Open at `now_ms`? A window like 20:00-02:00 runs past midnight.
    pub fn is_open(&self, now_ms: i64) -> bool {
        let local = now_ms / 60_000 + i64::from(self.utc_offset_minutes);
        let minute = local.rem_euclid(24 * 60) as u32;
        if self.open <= self.close {
            (self.open..self.close).contains(&minute)
        } else {
            minute >= self.open || minute < self.close
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{:02}:{:02}-{:02}:{:02}",
            self.open / 60,
            self.open % 60,
            self.close / 60,
            self.close % 60
        )
    }
}

/// Unix milliseconds as an RFC 3339 UTC timestamp.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_read_in_the_shops_time_zone() {
        let hours = ServiceHours::parse("09:00-22:00", 480).unwrap();
        // 2026-11-25 02:00 UTC is 10:00 in Beijing.
        assert!(hours.is_open(1_795_572_000_000));
        // 15:00 UTC is 23:00 in Beijing.
        assert!(!hours.is_open(1_795_618_800_000));
        assert!(ServiceHours::parse("9-22", 480).is_err());
    }

    #[test]
    fn timestamps_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_572_000_000), "2026-11-25T02:00:00Z");
    }
}
