//! Proactive invitation rules: when a visit matches a rule's conditions (page,
//! dwell time, pages seen, cart, returning, source or campaign, time of day,
//! member level) the visitor is invited to chat, within the rule's frequency
//! caps, with a greeting from the bot or from a named agent. Parsed once from
//! the admin's JSON: unknown fields and bad values never reach storage.

use super::presence::{Source, VisitFacts};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// Unknown or mistyped fields (serde's words: which field, what was expected).
    #[error("invalid invitation rule: {0}")]
    Shape(String),
    #[error("invalid invitation rule: {field} {problem}")]
    Value {
        field: &'static str,
        problem: &'static str,
    },
}

fn bad(field: &'static str, problem: &'static str) -> RuleError {
    RuleError::Value { field, problem }
}

/// When a rule applies; every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// The current page's URL contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url_contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_dwell_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_pages: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cart_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cart_items: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returning: Option<bool>,
    /// Any of these sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<Source>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    /// Shop-local time of day, "HH:MM"-"HH:MM" (may wrap past midnight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_window: Option<TimeWindow>,
    /// Any of these member levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_levels: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    pub from: String,
    pub to: String,
}

/// Who greets the visitor: the bot (the chat starts with the bot) or a named
/// agent (the chat starts assigned to them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleAction {
    Bot { greeting: String },
    Agent { greeting: String, agent_id: String },
}

impl RuleAction {
    pub fn greeting(&self) -> &str {
        match self {
            RuleAction::Bot { greeting } | RuleAction::Agent { greeting, .. } => greeting,
        }
    }

    pub fn agent_id(&self) -> Option<&str> {
        match self {
            RuleAction::Bot { .. } => None,
            RuleAction::Agent { agent_id, .. } => Some(agent_id),
        }
    }
}

/// How often one visitor may see the rule's invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    #[serde(default = "yes")]
    pub once_per_session: bool,
    /// At most this many a day for one browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<i64>,
}

fn yes() -> bool {
    true
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            once_per_session: true,
            per_day: None,
        }
    }
}

/// A rule as an admin writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationRule {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Lower first.
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub conditions: Conditions,
    pub action: RuleAction,
    #[serde(default)]
    pub caps: Caps,
    /// The shop's offset from UTC, for the time window (China: 480).
    #[serde(default = "china")]
    pub utc_offset_minutes: i64,
}

fn china() -> i64 {
    480
}

fn minutes_of_day(raw: &str) -> Option<i64> {
    let (h, m) = raw.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) && raw.len() == 5).then_some(h * 60 + m)
}

fn short_text(field: &'static str, raw: &str, max: usize) -> Result<(), RuleError> {
    if raw.trim().is_empty() {
        return Err(bad(field, "must not be empty"));
    }
    if raw.chars().count() > max || raw.chars().any(|c| c.is_control() && c != '\n') {
        return Err(bad(field, "is too long or has control characters"));
    }
    Ok(())
}

fn in_range(field: &'static str, value: Option<i64>, max: i64) -> Result<(), RuleError> {
    match value {
        Some(v) if !(0..=max).contains(&v) => Err(bad(field, "is out of range")),
        _ => Ok(()),
    }
}

impl InvitationRule {
    /// The one way to a rule: from the admin's JSON.
    pub fn parse(raw: serde_json::Value) -> Result<InvitationRule, RuleError> {
        let rule: InvitationRule =
            serde_json::from_value(raw).map_err(|e| RuleError::Shape(e.to_string()))?;
        rule.check()?;
        Ok(rule)
    }

    fn check(&self) -> Result<(), RuleError> {
        short_text("name", &self.name, 100)?;
        short_text("action.greeting", self.action.greeting(), 500)?;
        if let Some(agent) = self.action.agent_id() {
            short_text("action.agent_id", agent, 64)?;
        }
        let c = &self.conditions;
        in_range("conditions.min_dwell_seconds", c.min_dwell_seconds, 86_400)?;
        in_range("conditions.min_pages", c.min_pages, 1_000)?;
        in_range(
            "conditions.min_cart_cents",
            c.min_cart_cents,
            10_000_000_000,
        )?;
        in_range("conditions.min_cart_items", c.min_cart_items, 10_000)?;
        for (field, text) in [
            ("conditions.page_url_contains", &c.page_url_contains),
            ("conditions.utm_source", &c.utm_source),
            ("conditions.utm_campaign", &c.utm_campaign),
        ] {
            if let Some(text) = text {
                short_text(field, text, 200)?;
            }
        }
        if c.sources.as_ref().is_some_and(Vec::is_empty) {
            return Err(bad("conditions.sources", "must name at least one source"));
        }
        if let Some(levels) = &c.member_levels {
            if levels.is_empty() {
                return Err(bad(
                    "conditions.member_levels",
                    "must name at least one level",
                ));
            }
            for level in levels {
                short_text("conditions.member_levels", level, 32)?;
            }
        }
        if let Some(w) = &c.time_window
            && (minutes_of_day(&w.from).is_none() || minutes_of_day(&w.to).is_none())
        {
            return Err(bad("conditions.time_window", "must be HH:MM to HH:MM"));
        }
        if self.caps.per_day.is_some_and(|n| !(1..=100).contains(&n)) {
            return Err(bad("caps.per_day", "must be 1 to 100"));
        }
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err(bad("utc_offset_minutes", "must be -720 to 840"));
        }
        if self.priority.abs() > 1_000_000 {
            return Err(bad("priority", "is out of range"));
        }
        Ok(())
    }

    /// Whether the visit meets every condition now (caps are the service's).
    pub fn matches(&self, facts: VisitFacts<'_>) -> bool {
        let c = &self.conditions;
        let s = facts.state;
        let page = s.current().map(|p| p.url.as_str()).unwrap_or("");
        let at_least = |min: Option<i64>, value: i64| min.is_none_or(|m| value >= m);
        c.page_url_contains
            .as_deref()
            .is_none_or(|p| page.contains(p))
            && at_least(c.min_dwell_seconds.map(|s| s * 1000), s.dwell_ms(facts.now))
            && at_least(c.min_pages, s.pages.len() as i64)
            && at_least(c.min_cart_cents, s.cart_cents())
            && at_least(c.min_cart_items, s.cart_items())
            && c.returning.is_none_or(|r| r == facts.returning)
            && c.sources
                .as_ref()
                .is_none_or(|list| list.contains(&s.source))
            && c.utm_source
                .as_deref()
                .is_none_or(|u| s.utm.source.as_deref() == Some(u))
            && c.utm_campaign
                .as_deref()
                .is_none_or(|u| s.utm.campaign.as_deref() == Some(u))
            && c.member_levels
                .as_ref()
                .is_none_or(|levels| s.member_level.as_ref().is_some_and(|l| levels.contains(l)))
            && c.time_window
                .as_ref()
                .is_none_or(|w| self.within(w, facts.now))
    }

    fn within(&self, window: &TimeWindow, now: i64) -> bool {
        let (Some(from), Some(to)) = (minutes_of_day(&window.from), minutes_of_day(&window.to))
        else {
            return false;
        };
        let local = (now.div_euclid(60_000) + self.utc_offset_minutes).rem_euclid(24 * 60);
        if from <= to {
            (from..to).contains(&local)
        } else {
            local >= from || local < to
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::presence::{Heartbeat, VisitState};
    use serde_json::json;

    fn rule(conditions: serde_json::Value) -> InvitationRule {
        InvitationRule::parse(json!({
            "name": "看了很久", "conditions": conditions,
            "action": {"kind": "bot", "greeting": "需要帮忙吗？"}
        }))
        .unwrap()
    }

    fn state(url: &str, at: i64) -> VisitState {
        VisitState::begin(&Heartbeat::parse(url, None, None, None).unwrap(), at)
    }

    #[test]
    fn a_rule_matches_only_when_every_condition_holds() {
        let r =
            rule(json!({"page_url_contains": "sku=", "min_dwell_seconds": 10, "returning": false}));
        let s = state("https://shop.example/demo/?sku=TS-001", 0);
        let facts = |now, returning| VisitFacts {
            state: &s,
            returning,
            vip: false,
            now,
        };
        assert!(!r.matches(facts(5_000, false)), "too soon");
        assert!(r.matches(facts(10_000, false)));
        assert!(!r.matches(facts(10_000, true)), "a returning visitor");
        let home = state("https://shop.example/", 0);
        assert!(!r.matches(VisitFacts {
            state: &home,
            returning: false,
            vip: false,
            now: 60_000
        }));
    }

    #[test]
    fn time_windows_are_shop_local_and_may_wrap_midnight() {
        let r = rule(json!({"time_window": {"from": "22:00", "to": "02:00"}}));
        let s = state("https://shop.example/", 0);
        // 15:00 UTC is 23:00 in China; 05:00 UTC is 13:00.
        let at = |h: i64| VisitFacts {
            state: &s,
            returning: false,
            vip: false,
            now: h * 3_600_000,
        };
        assert!(r.matches(at(15)));
        assert!(!r.matches(at(5)));
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        for raw in [
            json!({"name": "x", "action": {"kind": "bot", "greeting": "hi"}, "colour": "red"}),
            json!({"name": "x", "action": {"kind": "bot", "greeting": "hi"}, "conditions": {"dwell": 3}}),
            json!({"name": "x", "action": {"kind": "robot", "greeting": "hi"}}),
            json!({"name": "x", "action": {"kind": "bot", "greeting": "hi"}, "conditions": {"sources": ["tv"]}}),
        ] {
            assert!(matches!(
                InvitationRule::parse(raw),
                Err(RuleError::Shape(_))
            ));
        }
        for raw in [
            json!({"name": " ", "action": {"kind": "bot", "greeting": "hi"}}),
            json!({"name": "x", "action": {"kind": "bot", "greeting": "hi"}, "conditions": {"min_dwell_seconds": -1}}),
            json!({"name": "x", "action": {"kind": "bot", "greeting": "hi"}, "conditions": {"time_window": {"from": "25:00", "to": "01:00"}}}),
            json!({"name": "x", "action": {"kind": "bot", "greeting": "hi"}, "caps": {"per_day": 0}}),
        ] {
            assert!(matches!(
                InvitationRule::parse(raw),
                Err(RuleError::Value { .. })
            ));
        }
    }
}
