//! Flood detection for buyer messages: the same text again and again, or too
//! many messages in a short window, mutes the visitor (a temporary block) and
//! flags them for staff. Banned words are refused outright.

use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};

/// When a visitor counts as flooding; a zero turns that check off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodPolicy {
    /// The same text this many times within the window.
    pub same_text: u32,
    /// This many messages within the window.
    pub burst: u32,
    pub window_secs: u32,
    /// How long a flooding visitor stays muted.
    pub mute_minutes: u32,
}

impl FloodPolicy {
    pub const OFF: FloodPolicy = FloodPolicy {
        same_text: 0,
        burst: 0,
        window_secs: 0,
        mute_minutes: 0,
    };
}

impl Default for FloodPolicy {
    fn default() -> Self {
        Self {
            same_text: 5,
            burst: 15,
            window_secs: 30,
            mute_minutes: 60,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flood {
    SameText,
    Burst,
}

impl Flood {
    pub fn as_str(self) -> &'static str {
        match self {
            Flood::SameText => "flood: the same text repeated",
            Flood::Burst => "flood: too many messages at once",
        }
    }
}

/// One visitor's recent messages (when, and a hash of the text).
#[derive(Debug, Clone, Default)]
pub struct FloodWindow {
    recent: VecDeque<(i64, u64)>,
}

impl FloodWindow {
    /// Records a message; says whether the visitor is now flooding.
    pub fn observe(&mut self, policy: FloodPolicy, now_ms: i64, text: &str) -> Option<Flood> {
        let since = now_ms - i64::from(policy.window_secs) * 1000;
        while self.recent.front().is_some_and(|(at, _)| *at <= since) {
            self.recent.pop_front();
        }
        let hash = text_hash(text);
        self.recent.push_back((now_ms, hash));
        let same = self.recent.iter().filter(|(_, h)| *h == hash).count();
        if policy.same_text > 0 && same >= policy.same_text as usize {
            return Some(Flood::SameText);
        }
        if policy.burst > 0 && self.recent.len() >= policy.burst as usize {
            return Some(Flood::Burst);
        }
        None
    }

    /// Nothing left within the window: the entry can go.
    pub fn is_idle(&self, policy: FloodPolicy, now_ms: i64) -> bool {
        let since = now_ms - i64::from(policy.window_secs) * 1000;
        self.recent.back().is_none_or(|(at, _)| *at <= since)
    }
}

/// Spacing and case do not make a repeated text new.
fn text_hash(text: &str) -> u64 {
    let normal: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    let mut hasher = DefaultHasher::new();
    normal.hash(&mut hasher);
    hasher.finish()
}

/// The first banned word the text holds, ignoring case and spacing.
pub fn banned_word<'a>(text: &str, banned: &'a [String]) -> Option<&'a str> {
    let normal: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    banned
        .iter()
        .map(String::as_str)
        .filter(|w| !w.trim().is_empty())
        .find(|w| normal.contains(&w.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: FloodPolicy = FloodPolicy {
        same_text: 3,
        burst: 5,
        window_secs: 10,
        mute_minutes: 1,
    };

    #[test]
    fn the_same_text_three_times_in_the_window_is_a_flood_spaced_or_not() {
        let mut w = FloodWindow::default();
        assert_eq!(w.observe(POLICY, 0, "加我微信"), None);
        assert_eq!(w.observe(POLICY, 1000, "加 我 微信"), None);
        assert_eq!(w.observe(POLICY, 2000, "加我微信 "), Some(Flood::SameText));
        // Outside the window the old ones no longer count.
        let mut w = FloodWindow::default();
        w.observe(POLICY, 0, "hi");
        w.observe(POLICY, 1000, "hi");
        assert_eq!(w.observe(POLICY, 11_000, "hi"), None);
        assert!(w.is_idle(POLICY, 21_000));
    }

    #[test]
    fn five_different_messages_in_the_window_are_a_burst() {
        let mut w = FloodWindow::default();
        for i in 0..4 {
            assert_eq!(w.observe(POLICY, i * 100, &format!("问题{i}")), None);
        }
        assert_eq!(w.observe(POLICY, 500, "问题5"), Some(Flood::Burst));
        assert_eq!(
            FloodWindow::default().observe(FloodPolicy::OFF, 0, "x"),
            None
        );
    }

    #[test]
    fn banned_words_match_ignoring_case_and_spacing() {
        let banned = vec!["代开发票".to_owned(), "VX".to_owned()];
        assert_eq!(banned_word("可以 代开 发票吗", &banned), Some("代开发票"));
        assert_eq!(banned_word("加我 vx 123", &banned), Some("VX"));
        assert_eq!(banned_word("可以开发票吗", &banned), None);
    }
}
