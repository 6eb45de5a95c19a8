//! Which language to answer in: the buyer's. Chinese as soon as the text holds a
//! CJK character (buyers mix in order numbers and English product names).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn detect(text: &str) -> Lang {
        if text.chars().any(is_cjk) {
            Lang::Zh
        } else if text.chars().any(|c| c.is_ascii_alphabetic()) {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    /// The language a message is written in, if it says: order numbers, phone
    /// numbers and emoji alone do not ("XE20261101002" keeps the chat's language).
    pub fn of_message(text: &str) -> Option<Lang> {
        if text.chars().any(is_cjk) {
            return Some(Lang::Zh);
        }
        let has_words = text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w.len() >= 2 && w.chars().all(|c| c.is_ascii_alphabetic()));
        has_words.then_some(Lang::En)
    }

    /// Picks the Chinese or the English variant of a text.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_chinese_character_makes_the_text_chinese() {
        assert_eq!(Lang::detect("订单 XE123 where"), Lang::Zh);
        assert_eq!(Lang::detect("Where is my parcel?"), Lang::En);
        assert_eq!(Lang::detect("12345"), Lang::Zh);
        assert_eq!(Lang::of_message("XE20261101002"), None);
        assert_eq!(Lang::of_message("order XE20261101002"), Some(Lang::En));
    }
}
