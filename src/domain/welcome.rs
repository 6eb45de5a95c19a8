//! Which welcome message a new chat gets: the scenarios admins write texts
//! for, and the order in which they apply. Pure rules, no I/O.
//!
//! Priority, first that applies and has a text wins:
//! 1. out of hours (the shop's service hours and holidays),
//! 2. the campaign the visitor arrived from (`campaign:<code>`),
//! 3. the page the chat was opened on (`entry_page:<path prefix>`; the longest
//!    matching prefix first, then shorter ones),
//! 4. the signed-in buyer's member level in the shop (`member_level:<level>`),
//! 5. returning visitor, 6. new visitor.
//!
//! The targeted scenarios (campaign, entry page, member level) are rules an
//! admin adds: one without a text in the buyer's language falls through to
//! the next. The base scenarios (out of hours, returning, new) always answer:
//! in the buyer's language, else in the other, else with the built-in greeting.

/// At most this many targeted scenarios (campaigns, entry pages, member
/// levels) have texts: every new chat weighs them all.
pub const MAX_RULES: usize = 50;
const MAX_PREFIX_CHARS: usize = 200;
const MAX_LEVEL_CHARS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "scenario must be new_visitor, returning_visitor, out_of_hours, campaign:<code>, entry_page:<path prefix> or member_level:<level>"
    )]
    Unknown,
    #[error("campaign code must be 1 to 64 letters, digits, '-' or '_'")]
    BadCampaign,
    #[error(
        "an entry page prefix starts with '/' and is at most 200 characters, without spaces or control characters"
    )]
    BadEntryPrefix,
    #[error("a member level is 1 to 32 lower-case letters, digits, '-' or '_'")]
    BadMemberLevel,
    #[error("the shop has no such member level")]
    UnknownMemberLevel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scenario {
    NewVisitor,
    ReturningVisitor,
    OutOfHours,
    Campaign(String),
    /// A path prefix of the page the chat was opened on ("/products/").
    EntryPage(String),
    /// A member level as the shop names it ("gold").
    MemberLevel(String),
}

impl Scenario {
    /// Parses a scenario key as the admin API names it. `levels`: the member
    /// levels the shop knows (empty: the shop does not list them, any plain
    /// level is taken).
    pub fn parse(raw: &str, levels: &[String]) -> Result<Scenario, ScenarioError> {
        match raw {
            "new_visitor" => return Ok(Scenario::NewVisitor),
            "returning_visitor" => return Ok(Scenario::ReturningVisitor),
            "out_of_hours" => return Ok(Scenario::OutOfHours),
            _ => {}
        }
        let (kind, value) = raw.split_once(':').ok_or(ScenarioError::Unknown)?;
        match kind {
            "campaign" => Ok(Scenario::Campaign(campaign_code(value)?)),
            "entry_page" => Ok(Scenario::EntryPage(entry_prefix(value)?)),
            "member_level" => Ok(Scenario::MemberLevel(member_level(value, levels)?)),
            _ => Err(ScenarioError::Unknown),
        }
    }

    pub fn key(&self) -> String {
        match self {
            Scenario::NewVisitor => "new_visitor".into(),
            Scenario::ReturningVisitor => "returning_visitor".into(),
            Scenario::OutOfHours => "out_of_hours".into(),
            Scenario::Campaign(code) => format!("campaign:{code}"),
            Scenario::EntryPage(prefix) => format!("entry_page:{prefix}"),
            Scenario::MemberLevel(level) => format!("member_level:{level}"),
        }
    }

    /// A rule an admin added (counted against MAX_RULES; speaks only in the
    /// languages it has texts for).
    pub fn is_rule(&self) -> bool {
        matches!(
            self,
            Scenario::Campaign(_) | Scenario::EntryPage(_) | Scenario::MemberLevel(_)
        )
    }

    /// A stored key read back; keys stored before a rule's checks changed
    /// still name their scenario.
    pub fn from_key(key: &str) -> Option<Scenario> {
        Scenario::parse(key, &[]).ok()
    }
}

/// Campaign codes come from URLs: short and plain.
pub fn campaign_code(raw: &str) -> Result<String, ScenarioError> {
    let ok = (1..=64).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ScenarioError::BadCampaign)
    }
}

/// A path prefix as an admin types it ("/products/", "/活动/"): compared with
/// the page's decoded path, character for character.
pub fn entry_prefix(raw: &str) -> Result<String, ScenarioError> {
    let ok = raw.starts_with('/')
        && raw.chars().count() <= MAX_PREFIX_CHARS
        && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ScenarioError::BadEntryPrefix)
    }
}

/// A member level: a short plain token, and one of the shop's when it lists them.
pub fn member_level(raw: &str, levels: &[String]) -> Result<String, ScenarioError> {
    let level = raw.to_ascii_lowercase();
    let plain = (1..=MAX_LEVEL_CHARS).contains(&level.len())
        && level
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'));
    if !plain {
        return Err(ScenarioError::BadMemberLevel);
    }
    if !levels.is_empty() && !levels.iter().any(|l| l.eq_ignore_ascii_case(&level)) {
        return Err(ScenarioError::UnknownMemberLevel);
    }
    Ok(level)
}

/// The decoded path of a page URL ("https://shop/%E6%B4%BB%E5%8A%A8/1?x" is
/// "/活动/1"); None for what is not an absolute URL.
pub fn page_path(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(
        percent_encoding::percent_decode_str(parsed.path())
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// What is known of a new chat when the bot greets it.
#[derive(Debug, Clone, Default)]
pub struct Arrival<'a> {
    pub out_of_hours: bool,
    pub campaign: Option<&'a str>,
    /// The decoded path of the page the chat was opened on.
    pub entry_path: Option<&'a str>,
    /// The signed-in buyer's member level (lower case).
    pub member_level: Option<&'a str>,
    pub returning: bool,
}

/// The scenarios that apply to `arrival`, in priority order. `rules`: the
/// targeted scenarios that have texts (others are ignored).
pub fn candidates(arrival: &Arrival<'_>, rules: &[Scenario]) -> Vec<Scenario> {
    let mut out = Vec::new();
    if arrival.out_of_hours {
        out.push(Scenario::OutOfHours);
    }
    if let Some(code) = arrival.campaign.and_then(|c| campaign_code(c).ok()) {
        out.push(Scenario::Campaign(code));
    }
    if let Some(path) = arrival.entry_path {
        let mut pages: Vec<&String> = rules
            .iter()
            .filter_map(|r| match r {
                Scenario::EntryPage(prefix) if path.starts_with(prefix.as_str()) => Some(prefix),
                _ => None,
            })
            .collect();
        pages.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
        pages.dedup();
        out.extend(pages.into_iter().map(|p| Scenario::EntryPage(p.clone())));
    }
    if let Some(level) = arrival.member_level {
        out.push(Scenario::MemberLevel(level.to_ascii_lowercase()));
    }
    out.push(if arrival.returning {
        Scenario::ReturningVisitor
    } else {
        Scenario::NewVisitor
    });
    out
}

/// A shop's own welcome text of one scenario and language (zh or en).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WelcomeText {
    pub scenario: String,
    pub lang: String,
    pub text: String,
    pub updated_by: String,
    pub updated_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels() -> Vec<String> {
        ["regular", "silver", "gold", "platinum", "diamond"]
            .map(String::from)
            .to_vec()
    }

    fn keys(list: &[Scenario]) -> Vec<String> {
        list.iter().map(Scenario::key).collect()
    }

    #[test]
    fn scenario_keys_parse_and_print_back() {
        for key in [
            "new_visitor",
            "returning_visitor",
            "out_of_hours",
            "campaign:double11",
            "entry_page:/products/",
            "entry_page:/活动/双11",
            "member_level:gold",
        ] {
            assert_eq!(Scenario::parse(key, &levels()).unwrap().key(), key);
        }
        assert_eq!(
            Scenario::parse("member_level:Gold", &levels()).unwrap(),
            Scenario::MemberLevel("gold".into())
        );
        assert_eq!(
            Scenario::parse("campaign:Double11", &[]).unwrap().key(),
            "campaign:double11"
        );
    }

    #[test]
    fn bad_rules_are_refused_with_their_reason() {
        let long = format!("/{}", "a".repeat(200));
        for (raw, error) in [
            ("vip", ScenarioError::Unknown),
            ("page:/x", ScenarioError::Unknown),
            ("campaign:bad code!", ScenarioError::BadCampaign),
            ("entry_page:products", ScenarioError::BadEntryPrefix),
            ("entry_page:", ScenarioError::BadEntryPrefix),
            ("entry_page:/a b", ScenarioError::BadEntryPrefix),
            ("entry_page:/a\tb", ScenarioError::BadEntryPrefix),
            ("entry_page:/a\u{7}", ScenarioError::BadEntryPrefix),
            (&format!("entry_page:{long}"), ScenarioError::BadEntryPrefix),
            ("member_level:", ScenarioError::BadMemberLevel),
            ("member_level:金牌", ScenarioError::BadMemberLevel),
            ("member_level:gold member", ScenarioError::BadMemberLevel),
            (
                &format!("member_level:{}", "a".repeat(33)),
                ScenarioError::BadMemberLevel,
            ),
            ("member_level:bronze", ScenarioError::UnknownMemberLevel),
        ] {
            assert_eq!(Scenario::parse(raw, &levels()), Err(error), "{raw}");
        }
        let at_most = format!("entry_page:/{}", "页".repeat(199));
        assert!(Scenario::parse(&at_most, &levels()).is_ok());
        assert!(
            Scenario::parse("member_level:bronze", &[]).is_ok(),
            "a shop that lists no levels takes any plain one"
        );
    }

    #[test]
    fn the_longest_matching_entry_prefix_comes_first_then_shorter_ones() {
        let rules = [
            Scenario::EntryPage("/products/".into()),
            Scenario::EntryPage("/products/shoes/".into()),
            Scenario::EntryPage("/sale".into()),
            Scenario::MemberLevel("gold".into()),
        ];
        let arrival = Arrival {
            entry_path: Some("/products/shoes/42"),
            ..Default::default()
        };
        assert_eq!(
            keys(&candidates(&arrival, &rules)),
            [
                "entry_page:/products/shoes/",
                "entry_page:/products/",
                "new_visitor"
            ]
        );
        let elsewhere = Arrival {
            entry_path: Some("/about"),
            returning: true,
            ..Default::default()
        };
        assert_eq!(keys(&candidates(&elsewhere, &rules)), ["returning_visitor"]);
    }

    #[test]
    fn priority_is_hours_campaign_page_level_then_returning_or_new() {
        let rules = [Scenario::EntryPage("/".into())];
        let arrival = Arrival {
            out_of_hours: true,
            campaign: Some("Double11"),
            entry_path: Some("/products/1"),
            member_level: Some("Gold"),
            returning: false,
        };
        assert_eq!(
            keys(&candidates(&arrival, &rules)),
            [
                "out_of_hours",
                "campaign:double11",
                "entry_page:/",
                "member_level:gold",
                "new_visitor"
            ]
        );
        let bad_campaign = Arrival {
            campaign: Some("no spaces please"),
            ..Default::default()
        };
        assert_eq!(keys(&candidates(&bad_campaign, &rules)), ["new_visitor"]);
    }

    #[test]
    fn a_page_path_is_decoded_without_its_query() {
        assert_eq!(
            page_path("https://shop.example/%E6%B4%BB%E5%8A%A8/1?utm=x#top").as_deref(),
            Some("/活动/1")
        );
        assert_eq!(
            page_path("https://shop.example").as_deref(),
            Some("/"),
            "a bare host is its root page"
        );
        assert_eq!(page_path("/products/1"), None);
    }
}
