//! E-mail reminders for tickets: the shop's SMTP settings and each person's
//! notification preferences, parsed once at the edge, and the words of a
//! reminder. Pure: no SQL, no SMTP.

use serde::{Deserialize, Serialize};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// Plain first, then upgraded with STARTTLS (usually port 587); refused
    /// if the server does not offer it.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::Starttls => "starttls",
            TlsMode::Tls => "tls",
        }
    }

    pub fn parse(raw: &str) -> Option<TlsMode> {
        [TlsMode::None, TlsMode::Starttls, TlsMode::Tls]
            .into_iter()
            .find(|m| m.as_str() == raw)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MailInputError {
    #[error("host must be a host name or address without spaces (1 to 253 characters)")]
    BadHost,
    #[error("port must be between 1 and 65535")]
    BadPort,
    #[error(
        "from_address must be an e-mail address (optionally with a name: 店小二 <kefu@shop.example>)"
    )]
    BadFrom,
    #[error("email must be an e-mail address like li@shop.example")]
    BadEmail,
    #[error("user name must be 1 to 254 characters without control characters")]
    BadUser,
}

/// The SMTP server as an admin sends it; a password left out keeps the
/// stored one, an empty one clears it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpInput {
    pub host: String,
    pub port: u32,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from_address: String,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// The SMTP server, checked. The password is held apart (sealed at rest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub from_address: String,
    pub enabled: bool,
}

impl SmtpSettings {
    pub fn parse(input: &SmtpInput) -> Result<SmtpSettings, MailInputError> {
        let host = input.host.trim();
        let host_ok = (1..=253).contains(&host.len())
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !host_ok {
            return Err(MailInputError::BadHost);
        }
        let port = u16::try_from(input.port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or(MailInputError::BadPort)?;
        let from = input.from_address.trim();
        if from.parse::<lettre::message::Mailbox>().is_err() || from.len() > 320 {
            return Err(MailInputError::BadFrom);
        }
        let username = match input.username.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) if u.len() <= 254 && !u.chars().any(char::is_control) => Some(u.to_owned()),
            Some(_) => return Err(MailInputError::BadUser),
        };
        Ok(SmtpSettings {
            host: host.to_owned(),
            port,
            tls: input.tls,
            username,
            from_address: from.to_owned(),
            enabled: input.enabled,
        })
    }
}

/// A person's own e-mail address, checked.
pub fn parse_email(raw: &str) -> Result<String, MailInputError> {
    let raw = raw.trim();
    let ok = raw.len() <= 254
        && raw.contains('@')
        && !raw.contains(['<', '>', ' '])
        && raw.parse::<lettre::Address>().is_ok();
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(MailInputError::BadEmail)
    }
}

/// What a reminder is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reminder {
    /// The ticket was given to me.
    Assigned,
    /// The buyer answered on my ticket.
    BuyerReplied,
    /// My ticket is near its target (80 %).
    SlaWarning,
    /// My ticket passed its target.
    SlaBreach,
    /// A ticket went up to supervisors (150 %).
    SlaEscalation,
    /// An automation's rule asked for me to be told.
    Automation,
}

impl Reminder {
    /// Its name in the console bell.
    pub fn as_str(self) -> &'static str {
        match self {
            Reminder::Assigned => "assigned",
            Reminder::BuyerReplied => "buyer_replied",
            Reminder::SlaWarning => "sla_warning",
            Reminder::SlaBreach => "sla_breach",
            Reminder::SlaEscalation => "sla_escalation",
            Reminder::Automation => "automation",
        }
    }

    /// The sweeper's escalation level as a reminder.
    pub fn from_level(level: &str) -> Option<Reminder> {
        match level {
            "warning" => Some(Reminder::SlaWarning),
            "breached" => Some(Reminder::SlaBreach),
            "supervisor" => Some(Reminder::SlaEscalation),
            _ => None,
        }
    }
}

/// Which reminders come by e-mail. Absent fields are on: a person who gave an
/// address hears about everything until they say otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailOn {
    pub assigned: bool,
    pub buyer_replied: bool,
    pub sla_warning: bool,
    pub sla_breach: bool,
    pub sla_escalation: bool,
    /// A morning list of my overdue tickets (one mail a day, none when
    /// nothing is overdue).
    pub digest: bool,
}

impl Default for EmailOn {
    fn default() -> Self {
        EmailOn {
            assigned: true,
            buyer_replied: true,
            sla_warning: true,
            sla_breach: true,
            sla_escalation: true,
            digest: true,
        }
    }
}

impl EmailOn {
    pub fn wants(&self, reminder: Reminder) -> bool {
        match reminder {
            Reminder::Assigned => self.assigned,
            Reminder::BuyerReplied => self.buyer_replied,
            Reminder::SlaWarning => self.sla_warning,
            Reminder::SlaBreach => self.sla_breach,
            Reminder::SlaEscalation => self.sla_escalation,
            // The admin named these people on purpose; their address decides.
            Reminder::Automation => true,
        }
    }
}

/// One person's notification preferences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationPrefs {
    /// Where reminders go; none: no e-mail at all.
    pub email: Option<String>,
    /// Reminders in the console.
    #[serde(default = "yes")]
    pub in_app: bool,
    #[serde(default)]
    pub email_on: EmailOn,
}

impl Default for NotificationPrefs {
    fn default() -> Self {
        NotificationPrefs {
            email: None,
            in_app: true,
            email_on: EmailOn::default(),
        }
    }
}

impl NotificationPrefs {
    /// Checks the address; an empty one means no e-mail.
    pub fn parse(mut self) -> Result<NotificationPrefs, MailInputError> {
        self.email = match self.email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(parse_email(raw)?),
        };
        Ok(self)
    }

    /// The address to write to about `reminder`, if this person wants it.
    pub fn address_for(&self, reminder: Reminder) -> Option<&str> {
        self.email
            .as_deref()
            .filter(|_| self.email_on.wants(reminder))
    }
}

/// A reminder as written: subject and plain-text body, in both languages (the
/// team reads Chinese; English follows for the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderMail {
    pub subject: String,
    pub body: String,
}

/// The ticket a reminder is about, as much as the mail says of it.
pub struct MailTicket<'a> {
    pub number: &'a str,
    pub title: &'a str,
    pub priority: &'a str,
    /// Where the console shows it (`…/console/#/tickets/<id>`).
    pub link: &'a str,
}

pub fn compose(reminder: Reminder, ticket: &MailTicket<'_>) -> ReminderMail {
    let (zh, en) = match reminder {
        Reminder::Assigned => ("工单已分配给您", "assigned to you"),
        Reminder::BuyerReplied => ("买家回复了工单", "the buyer replied"),
        Reminder::SlaWarning => ("工单即将超时", "SLA warning"),
        Reminder::SlaBreach => ("工单已超时", "SLA breached"),
        Reminder::SlaEscalation => ("工单超时升级", "SLA escalation"),
        Reminder::Automation => ("自动化规则提醒", "an automation's reminder"),
    };
    let number = ticket.number;
    let subject = format!("[{number}] {zh} / {en}: {}", ticket.title);
    let body = format!(
        "{zh}：{number}\n标题：{title}\n优先级：{priority}\n查看：{link}\n\n\
         Ticket {number} — {en}.\nTitle: {title}\nPriority: {priority}\nOpen: {link}\n\n\
         您可以在控制台「设置」中更改提醒方式。 Change your reminders under Settings in the console.\n",
        title = ticket.title,
        priority = ticket.priority,
        link = ticket.link,
    );
    ReminderMail { subject, body }
}

/// The daily digest: one person's overdue tickets, oldest deadline first.
pub fn compose_digest(day: &str, tickets: &[MailTicket<'_>]) -> ReminderMail {
    let n = tickets.len();
    let subject = format!("[{day}] 您有 {n} 个工单已超时 / {n} overdue tickets");
    let mut body = format!("{day} 已超时的工单 / Overdue tickets:\n\n");
    for t in tickets {
        body.push_str(&format!(
            "{} [{}] {}\n  {}\n",
            t.number, t.priority, t.title, t.link
        ));
    }
    body.push_str("\n您可以在控制台「我的设置」中关闭每日汇总。 Turn the daily digest off under My settings in the console.\n");
    ReminderMail { subject, body }
}

/// What the password of a settings write does.
pub enum PasswordChange<'a> {
    Keep,
    Set(Option<&'a str>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SmtpInput {
        SmtpInput {
            host: "smtp.shop.example".into(),
            port: 587,
            tls: TlsMode::Starttls,
            username: Some("kefu".into()),
            password: Some("secret".into()),
            from_address: "店小二 <kefu@shop.example>".into(),
            enabled: true,
        }
    }

    #[test]
    fn smtp_settings_are_checked() {
        assert_eq!(SmtpSettings::parse(&input()).unwrap().port, 587);
        let bad_host = SmtpInput {
            host: "smtp shop".into(),
            ..input()
        };
        assert_eq!(SmtpSettings::parse(&bad_host), Err(MailInputError::BadHost));
        let bad_port = SmtpInput {
            port: 70_000,
            ..input()
        };
        assert_eq!(SmtpSettings::parse(&bad_port), Err(MailInputError::BadPort));
        let bad_from = SmtpInput {
            from_address: "not an address".into(),
            ..input()
        };
        assert_eq!(SmtpSettings::parse(&bad_from), Err(MailInputError::BadFrom));
    }

    #[test]
    fn a_person_without_an_address_gets_no_mail_and_may_turn_kinds_off() {
        let none = NotificationPrefs::default();
        assert_eq!(none.address_for(Reminder::Assigned), None);
        let prefs = NotificationPrefs {
            email: Some(" li@shop.example ".into()),
            in_app: true,
            email_on: EmailOn {
                sla_warning: false,
                ..EmailOn::default()
            },
        }
        .parse()
        .unwrap();
        assert_eq!(
            prefs.address_for(Reminder::Assigned),
            Some("li@shop.example")
        );
        assert_eq!(prefs.address_for(Reminder::SlaWarning), None);
        let bad = NotificationPrefs {
            email: Some("li at shop".into()),
            ..NotificationPrefs::default()
        };
        assert_eq!(bad.parse(), Err(MailInputError::BadEmail));
    }

    #[test]
    fn a_reminder_names_the_ticket_and_links_to_it() {
        let mail = compose(
            Reminder::SlaBreach,
            &MailTicket {
                number: "T20261201-0001",
                title: "包裹三天没更新",
                priority: "high",
                link: "https://kefu.shop.example/console/#/tickets/tkt_1",
            },
        );
        assert!(mail.subject.starts_with("[T20261201-0001] 工单已超时"));
        assert!(
            mail.body
                .contains("https://kefu.shop.example/console/#/tickets/tkt_1")
        );
    }
}
