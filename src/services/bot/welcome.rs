//! Welcome messages: what the bot says first, per scenario, as admins set them.
//! Which scenario applies, and in what order, is domain::welcome's (out of
//! hours, campaign, entry page, member level, returning, new). Without an
//! admin's text, built-in greetings apply to the base scenarios.

use super::{BotError, BotService};
use crate::domain::conversation::ConversationId;
use crate::domain::lang::Lang;
use crate::domain::message::{AnswerSource, MessageBody};
use crate::domain::welcome::WelcomeText as WelcomeRow;
use crate::domain::welcome::{self, Arrival, MAX_RULES, Scenario};
use serde::Serialize;

const MAX_WELCOME_CHARS: usize = 1000;
/// An admin's menu: at most this many buttons of at most this many characters.
const MAX_BUTTONS: usize = 6;
const MAX_BUTTON_CHARS: usize = 20;

/// The built-in greeting of a base scenario (rules have none).
fn default_text(scenario: &Scenario) -> Option<&'static str> {
    match scenario {
        Scenario::NewVisitor => Some(
            "您好，我是店小二智能客服 😊 订单、物流、退换货都可以问我。Hi! Ask me about orders, delivery or returns.",
        ),
        Scenario::ReturningVisitor => {
            Some("欢迎回来！这次有什么可以帮您？Welcome back! How can I help this time?")
        }
        Scenario::OutOfHours => Some(
            "现在是非人工服务时间，我是智能客服，可以先帮您查订单、物流和常见问题。Our team is offline; I can still help with orders, delivery and common questions.",
        ),
        Scenario::Campaign(_) | Scenario::EntryPage(_) | Scenario::MemberLevel(_) => None,
    }
}

/// What the bot knows of a new chat when it greets it.
#[derive(Debug, Clone, Copy)]
pub struct NewChat<'a> {
    pub returning: bool,
    /// The campaign the visitor arrived from.
    pub campaign: Option<&'a str>,
    /// The URL of the shop page the chat was opened on.
    pub entry_page: Option<&'a str>,
    /// The shop account the shop vouched for (its member level counts).
    pub account: Option<&'a str>,
    pub lang: Lang,
}

/// The built-in menu: the quick-reply buttons the greetings carry until an
/// admin sets the shop's own, in the buyer's language. Each is a question the
/// bot answers or hands off on (order status, delivery, returns, a human agent).
pub fn menu(lang: Lang) -> Vec<String> {
    let items: &[&str] = match lang {
        Lang::Zh => &["我的订单到哪了", "怎么退换货", "有什么推荐", "转人工"],
        Lang::En => &[
            "Where is my order?",
            "How do I return an item?",
            "Any recommendations?",
            "Talk to a human",
        ],
    };
    items.iter().map(|&item| item.to_owned()).collect()
}

/// An admin's menu: 1 to 6 distinct one-line buttons of 1 to 20 characters
/// (blank lines dropped, spaces around each trimmed).
pub fn parse_menu(raw: &[String]) -> Result<Vec<String>, BotError> {
    let buttons: Vec<String> = raw
        .iter()
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .collect();
    let fits =
        |b: &String| b.chars().count() <= MAX_BUTTON_CHARS && !b.chars().any(char::is_control);
    let distinct = buttons
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len()
        == buttons.len();
    if (1..=MAX_BUTTONS).contains(&buttons.len()) && distinct && buttons.iter().all(fits) {
        Ok(buttons)
    } else {
        Err(BotError::BadInput(format!(
            "a menu is 1 to {MAX_BUTTONS} different buttons of 1 to {MAX_BUTTON_CHARS} characters on one line"
        )))
    }
}

/// A language's menu as admins see it.
#[derive(Debug, Clone, Serialize)]
pub struct MenuView {
    /// zh or en.
    pub lang: String,
    pub buttons: Vec<String>,
    /// False: the built-in menu (no admin set one).
    pub custom: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WelcomeView {
    pub scenario: String,
    /// zh or en.
    pub lang: String,
    pub text: String,
    pub updated_by: String,
    pub updated_at: i64,
}

impl BotService {
    /// The bot greets a new conversation (only when the bot runs): the first
    /// scenario that applies and has a text (see domain::welcome).
    pub async fn welcome(&self, id: &ConversationId, chat: NewChat<'_>) -> Result<(), BotError> {
        if !self.enabled() {
            return Ok(());
        }
        let lang = lang_code(chat.lang);
        let rows = self.records.welcome_texts().await?;
        let rules: Vec<Scenario> = rows
            .iter()
            .filter_map(|r| Scenario::from_key(&r.scenario))
            .filter(Scenario::is_rule)
            .collect();
        // Only a member-level rule needs the shop asked (a real shop's port is a
        // network call on every chat start).
        let level = if rules.iter().any(|r| matches!(r, Scenario::MemberLevel(_))) {
            self.member_level(chat.account).await
        } else {
            None
        };
        let entry_path = chat.entry_page.and_then(welcome::page_path);
        let arrival = Arrival {
            out_of_hours: !self.shop.current().await.is_open(self.clock.now_ms()),
            campaign: chat.campaign,
            entry_path: entry_path.as_deref(),
            member_level: level.as_deref(),
            returning: chat.returning,
        };
        for scenario in welcome::candidates(&arrival, &rules) {
            let key = scenario.key();
            let texts: Vec<&WelcomeRow> = rows.iter().filter(|r| r.scenario == key).collect();
            let own = texts.iter().find(|r| r.lang == lang);
            let text = match own.or(texts.first().filter(|_| !scenario.is_rule())) {
                Some(row) => row.text.clone(),
                None => match default_text(&scenario) {
                    Some(text) => text.to_owned(),
                    None => continue,
                },
            };
            let body = MessageBody::BotAnswer {
                text,
                citations: Vec::new(),
                source: AnswerSource::Curated,
                stream_id: None,
                buttons: self.menu_for(chat.lang).await?,
            };
            self.chat.send_bot(id, body).await?;
            return Ok(());
        }
        Ok(())
    }

    /// The signed-in buyer's member level; a shop that cannot say now only
    /// loses the member-level greeting.
    async fn member_level(&self, account: Option<&str>) -> Option<String> {
        match self.ports.commerce.member_level(account?).await {
            Ok(level) => level.map(|l| l.to_ascii_lowercase()),
            Err(error) => {
                tracing::warn!(%error, "member level unknown for the welcome message");
                None
            }
        }
    }

    /// The member levels the shop lists (admins pick one for a rule).
    pub async fn member_levels(&self) -> Result<Vec<String>, BotError> {
        Ok(self.ports.commerce.member_levels().await?)
    }

    pub async fn welcome_messages(&self) -> Result<Vec<WelcomeView>, BotError> {
        Ok(self
            .records
            .welcome_texts()
            .await?
            .into_iter()
            .map(|r| WelcomeView {
                scenario: r.scenario,
                lang: r.lang,
                text: r.text,
                updated_by: r.updated_by,
                updated_at: r.updated_at,
            })
            .collect())
    }

    pub async fn set_welcome(
        &self,
        scenario: &str,
        lang: Lang,
        text: &str,
        by: &str,
    ) -> Result<WelcomeView, BotError> {
        let scenario = Scenario::parse(scenario, &self.member_levels().await?)?;
        let text = text.trim();
        if text.is_empty()
            || text.chars().count() > MAX_WELCOME_CHARS
            || text.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(BotError::BadInput(format!(
                "welcome text must be 1 to {MAX_WELCOME_CHARS} characters without control characters"
            )));
        }
        if scenario.is_rule() {
            self.room_for_rule(&scenario).await?;
        }
        let row = WelcomeRow {
            scenario: scenario.key(),
            lang: lang_code(lang).to_owned(),
            text: text.to_owned(),
            updated_by: by.to_owned(),
            updated_at: self.clock.now_ms(),
        };
        self.records.put_welcome_text(&row).await?;
        Ok(WelcomeView {
            scenario: row.scenario,
            lang: row.lang,
            text: row.text,
            updated_by: row.updated_by,
            updated_at: row.updated_at,
        })
    }

    /// A new rule fits under MAX_RULES; a rule that has a text already does.
    async fn room_for_rule(&self, scenario: &Scenario) -> Result<(), BotError> {
        let key = scenario.key();
        let mut rules: Vec<String> = self
            .records
            .welcome_texts()
            .await?
            .into_iter()
            .filter(|r| Scenario::from_key(&r.scenario).is_some_and(|s| s.is_rule()))
            .map(|r| r.scenario)
            .collect();
        rules.dedup();
        if rules.len() >= MAX_RULES && !rules.contains(&key) {
            return Err(BotError::TooManyWelcomeRules);
        }
        Ok(())
    }

    /// The menu the greetings carry: the admin's, else the built-in one.
    pub async fn menu_for(&self, lang: Lang) -> Result<Vec<String>, BotError> {
        Ok(self.menu_view(lang).await?.buttons)
    }

    async fn menu_view(&self, lang: Lang) -> Result<MenuView, BotError> {
        let code = lang_code(lang);
        let (buttons, custom) = match self.records.bot_menu(code).await? {
            Some(json) => (
                serde_json::from_str(&json).map_err(|e| BotError::Corrupt(e.to_string()))?,
                true,
            ),
            None => (menu(lang), false),
        };
        Ok(MenuView {
            lang: code.to_owned(),
            buttons,
            custom,
        })
    }

    /// Both languages' menus, Chinese first.
    pub async fn menus(&self) -> Result<Vec<MenuView>, BotError> {
        Ok(vec![
            self.menu_view(Lang::Zh).await?,
            self.menu_view(Lang::En).await?,
        ])
    }

    pub async fn set_menu(
        &self,
        lang: Lang,
        buttons: &[String],
        by: &str,
    ) -> Result<MenuView, BotError> {
        let buttons = parse_menu(buttons)?;
        let json = serde_json::to_string(&buttons).expect("strings serialise");
        self.records
            .put_bot_menu(lang_code(lang), &json, by, self.clock.now_ms())
            .await?;
        Ok(MenuView {
            lang: lang_code(lang).to_owned(),
            buttons,
            custom: true,
        })
    }

    /// True when the admin had set one (the built-in menu applies again).
    pub async fn reset_menu(&self, lang: Lang) -> Result<bool, BotError> {
        Ok(self.records.delete_bot_menu(lang_code(lang)).await?)
    }

    /// True when there was one to delete (the built-in greeting applies again).
    pub async fn delete_welcome(&self, scenario: &str, lang: Lang) -> Result<bool, BotError> {
        let scenario = Scenario::parse(scenario, &[])?;
        Ok(self
            .records
            .delete_welcome_text(&scenario.key(), lang_code(lang))
            .await?)
    }
}

fn lang_code(lang: Lang) -> &'static str {
    lang.pick("zh", "en")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::handoff::asks_for_human;
    use crate::domain::recommend::asks_for_suggestion;

    #[test]
    fn an_admins_menu_is_one_to_six_different_short_one_line_buttons() {
        let menu =
            |items: &[&str]| parse_menu(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            menu(&[" 查物流 ", "", "开发票", "转人工"]).unwrap(),
            ["查物流", "开发票", "转人工"]
        );
        assert_eq!(
            menu(&["一二三四五六七八九十一二三四五六七八九十"])
                .unwrap()
                .len(),
            1
        );
        for bad in [
            &[][..],
            &["  ", ""],
            &["a", "b", "c", "d", "e", "f", "g"],
            &["查物流", "查物流 "],
            &["一二三四五六七八九十一二三四五六七八九十一"],
            &["换行\n不行"],
        ] {
            assert!(menu(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_menus_suggestion_and_human_buttons_reach_those_bot_paths() {
        for lang in [Lang::Zh, Lang::En] {
            let buttons = menu(lang);
            assert_eq!(buttons.len(), 4);
            assert!(asks_for_suggestion(&buttons[2]), "{buttons:?}");
            assert!(asks_for_human(&buttons[3]), "{buttons:?}");
            assert!(
                !buttons[..3].iter().any(|b| asks_for_human(b)),
                "{buttons:?}"
            );
        }
    }
}
