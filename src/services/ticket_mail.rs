//! E-mail reminders for tickets, sent through the shop's SMTP server by a
//! cluster subscriber of the event stream: a ticket assigned to someone, a
//! buyer's reply, an SLA warning, breach or escalation. At least once, and at
//! most once per (event, recipient): a mail is logged when the server took it,
//! and a redelivered event skips the recipients already logged. A server that
//! cannot be reached is retried (later events wait); an address the server
//! refuses for good is skipped and logged without the address.

use crate::domain::events::{DomainEvent, EventData};
use crate::domain::staff::Role;
use crate::domain::ticket_mail::{
    MailInputError, MailTicket, NotificationPrefs, PasswordChange, Reminder, ReminderMail,
    SmtpInput, SmtpSettings, TlsMode, compose, compose_digest,
};
use crate::domain::tickets::{Ticket, TicketFilter};
use crate::ports::Clock;
use crate::ports::repositories::{
    MailRecords, RepoError, StaffDirectory, TicketRecords, TicketSetup,
};
use crate::services::shop::ShopService;
use crate::services::subscribers::Subscriber;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// How long one SMTP conversation may take before it counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Invalid(#[from] MailInputError),
    #[error(transparent)]
    Records(#[from] RepoError),
    /// The server could not be reached or answered "try later".
    #[error("the SMTP server did not take the mail: {0}")]
    Transient(String),
}

/// The SMTP settings as an admin reads them: the password is never shown.
#[derive(Debug, Clone, Serialize)]
pub struct SmtpView {
    pub configured: bool,
    #[serde(flatten)]
    pub settings: Option<SmtpSettings>,
    pub password_set: bool,
}

/// What finding a reminder's ticket and its people reads.
#[derive(Clone)]
pub(crate) struct ReminderSources {
    pub(crate) tickets: Arc<dyn TicketRecords>,
    pub(crate) setup: Arc<dyn TicketSetup>,
    pub(crate) people: Arc<dyn StaffDirectory>,
}

impl ReminderSources {
    pub(crate) fn of<R>(records: &Arc<R>) -> ReminderSources
    where
        R: TicketRecords + TicketSetup + StaffDirectory + 'static,
    {
        ReminderSources {
            tickets: records.clone(),
            setup: records.clone(),
            people: records.clone(),
        }
    }
}

pub struct TicketMail {
    mail: Arc<dyn MailRecords>,
    sources: ReminderSources,
    clock: Arc<dyn Clock>,
    /// Where browsers reach the console (the public URL, else the listener).
    base_url: String,
}

impl TicketMail {
    pub fn new<R>(records: Arc<R>, clock: Arc<dyn Clock>, base_url: String) -> TicketMail
    where
        R: MailRecords + TicketRecords + TicketSetup + StaffDirectory + 'static,
    {
        TicketMail {
            sources: ReminderSources::of(&records),
            mail: records,
            clock,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    pub async fn smtp(&self) -> Result<SmtpView, MailError> {
        let stored = self.mail.smtp_settings().await?;
        Ok(SmtpView {
            configured: stored.is_some(),
            password_set: stored.as_ref().is_some_and(|(_, p)| p.is_some()),
            settings: stored.map(|(s, _)| s),
        })
    }

    pub async fn put_smtp(&self, by: &str, input: SmtpInput) -> Result<SmtpView, MailError> {
        let settings = SmtpSettings::parse(&input)?;
        let password = match input.password.as_deref() {
            None => PasswordChange::Keep,
            Some("") => PasswordChange::Set(None),
            Some(p) => PasswordChange::Set(Some(p)),
        };
        self.mail
            .put_smtp_settings(&settings, password, by, self.clock.now_ms())
            .await?;
        self.smtp().await
    }

    pub async fn prefs(&self, staff_id: &str) -> Result<NotificationPrefs, MailError> {
        Ok(self.mail.prefs(staff_id).await?)
    }

    pub async fn put_prefs(
        &self,
        staff_id: &str,
        prefs: NotificationPrefs,
    ) -> Result<NotificationPrefs, MailError> {
        let prefs = prefs.parse()?;
        self.mail
            .put_prefs(staff_id, &prefs, self.clock.now_ms())
            .await?;
        Ok(prefs)
    }

    /// The link a reminder carries.
    pub fn ticket_link(&self, ticket_id: &str) -> String {
        format!("{}/console/#/tickets/{ticket_id}", self.base_url)
    }

    /// Sends the reminders `event` calls for. Idempotent per (event, recipient).
    pub async fn on_event(&self, event: &DomainEvent) -> Result<(), MailError> {
        let Some((reminder, ticket_id)) = reminder_of(&event.data) else {
            return Ok(());
        };
        if let EventData::TicketNotified { email: false, .. } = event.data {
            return Ok(());
        }
        let Some((smtp, password)) = self.mail.smtp_settings().await? else {
            return Ok(());
        };
        if !smtp.enabled {
            return Ok(());
        }
        let Some((ticket, recipients)) =
            reminded(&self.sources, event, reminder, ticket_id).await?
        else {
            return Ok(());
        };
        let transport = transport(&smtp, password)?;
        for staff_id in recipients {
            let prefs = self.mail.prefs(&staff_id).await?;
            let Some(address) = prefs.address_for(reminder) else {
                continue;
            };
            if self.mail.mail_was_sent(&event.id, &staff_id).await? {
                continue;
            }
            let message = self.message(&smtp, address, reminder, &ticket)?;
            match transport.send(message).await {
                Ok(_) => {}
                Err(error) if error.is_permanent() => {
                    tracing::warn!(recipient = %staff_id, code = ?error.status(), "the SMTP server refused a reminder");
                }
                Err(error) => return Err(MailError::Transient(describe(&error))),
            }
            self.mail
                .record_mail_sent(&event.id, &staff_id, self.clock.now_ms())
                .await?;
        }
        Ok(())
    }
}

impl TicketMail {
    /// Sends `mail` with `csv` attached as `filename` to the person `staff_id`
    /// at the address of their notification settings, once per `key`. False
    /// when nothing went out: no SMTP server, no address, sent already, or
    /// refused for good by the server (then it is not tried again).
    pub async fn send_with_csv(
        &self,
        key: &str,
        staff_id: &str,
        mail: ReminderMail,
        filename: &str,
        csv: String,
    ) -> Result<bool, MailError> {
        use lettre::message::{Attachment, MultiPart, SinglePart};
        let Some((smtp, password)) = self.mail.smtp_settings().await? else {
            return Ok(false);
        };
        let prefs = self.mail.prefs(staff_id).await?;
        let Some(address) = prefs.email.as_deref().filter(|_| smtp.enabled) else {
            return Ok(false);
        };
        if self.mail.mail_was_sent(key, staff_id).await? {
            return Ok(false);
        }
        let from: Mailbox = smtp
            .from_address
            .parse()
            .map_err(|_| MailInputError::BadFrom)?;
        let to: Mailbox = address.parse().map_err(|_| MailInputError::BadEmail)?;
        let csv_type = ContentType::parse("text/csv; charset=utf-8").expect("a content type");
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(mail.subject)
            .multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(mail.body))
                    .singlepart(Attachment::new(filename.to_owned()).body(csv, csv_type)),
            )
            .map_err(|e| MailError::Transient(e.to_string()))?;
        let sent = match transport(&smtp, password)?.send(message).await {
            Ok(_) => true,
            Err(error) if error.is_permanent() => {
                tracing::warn!(recipient = %staff_id, code = ?error.status(), "the SMTP server refused a report");
                false
            }
            Err(error) => return Err(MailError::Transient(describe(&error))),
        };
        self.mail
            .record_mail_sent(key, staff_id, self.clock.now_ms())
            .await?;
        Ok(sent)
    }
}

/// The daily digest goes out from this shop-local hour on.
const DIGEST_HOUR: i64 = 9;
/// How often the digest loop looks at the clock.
const DIGEST_LOOK: Duration = Duration::from_secs(600);

impl TicketMail {
    /// Sends each person with an address and the digest on the list of their
    /// overdue tickets (assigned to them), once per shop day `day`; nothing
    /// when none is overdue. Returns the mails sent.
    pub async fn send_digest(&self, now: i64, day: &str) -> Result<usize, MailError> {
        let Some((smtp, password)) = self.mail.smtp_settings().await? else {
            return Ok(0);
        };
        if !smtp.enabled {
            return Ok(0);
        }
        let transport = transport(&smtp, password)?;
        let key = format!("digest:{day}");
        let mut sent = 0;
        for row in self.sources.people.people().await? {
            let prefs = self.mail.prefs(&row.id).await?;
            let Some(address) = prefs.email.as_deref().filter(|_| prefs.email_on.digest) else {
                continue;
            };
            if row.disabled || self.mail.mail_was_sent(&key, &row.id).await? {
                continue;
            }
            let filter = TicketFilter {
                assignee_id: Some(row.id.clone()),
                ..TicketFilter::default()
            };
            let overdue = self.sources.tickets.due(&filter, None, now, 100).await?;
            if overdue.is_empty() {
                continue;
            }
            let links: Vec<String> = overdue.iter().map(|t| self.ticket_link(&t.id)).collect();
            let listed: Vec<MailTicket<'_>> = overdue
                .iter()
                .zip(&links)
                .map(|(t, link)| MailTicket {
                    number: &t.number,
                    title: &t.title,
                    priority: t.priority.as_str(),
                    link,
                })
                .collect();
            let mail = compose_digest(day, &listed);
            let message = self.envelope(&smtp, address, mail)?;
            match transport.send(message).await {
                Ok(_) => sent += 1,
                Err(error) if error.is_permanent() => {
                    tracing::warn!(recipient = %row.id, code = ?error.status(), "the SMTP server refused a digest");
                }
                Err(error) => return Err(MailError::Transient(describe(&error))),
            }
            self.mail
                .record_mail_sent(&key, &row.id, self.clock.now_ms())
                .await?;
        }
        Ok(sent)
    }

    /// Sends the digest each shop day once the shop's clock passes
    /// [`DIGEST_HOUR`], until `stop` turns true.
    pub async fn run_digest(
        self: Arc<Self>,
        shop: Arc<ShopService>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(DIGEST_LOOK) => {}
                _ = stop.changed() => return,
            }
            let now = self.clock.now_ms();
            let settings = shop.current().await;
            let local = now + i64::from(settings.utc_offset_minutes) * 60_000;
            if local.rem_euclid(86_400_000) / 3_600_000 < DIGEST_HOUR {
                continue;
            }
            if let Err(error) = self.send_digest(now, &settings.local_day(now)).await {
                tracing::warn!(%error, "ticket digest");
            }
        }
    }
}

/// The ticket `event` reminds people of and who hears about it (by e-mail and
/// in the console bell alike); none when nobody does.
pub(crate) async fn reminded(
    sources: &ReminderSources,
    event: &DomainEvent,
    reminder: Reminder,
    ticket_id: &str,
) -> Result<Option<(Ticket, Vec<String>)>, RepoError> {
    let Some(ticket) = sources.tickets.ticket(ticket_id).await? else {
        return Ok(None);
    };
    // Nobody is reminded of a ticket they gave themselves as they made it.
    if reminder == Reminder::Assigned
        && matches!(event.data, EventData::TicketCreated { .. })
        && ticket.created_by == ticket.assignee_id
    {
        return Ok(None);
    }
    // An automation names its people itself.
    let recipients = match &event.data {
        EventData::TicketNotified { staff_ids, .. } => staff_ids.clone(),
        _ => recipients(sources, reminder, &ticket).await?,
    };
    Ok((!recipients.is_empty()).then_some((ticket, recipients)))
}

/// Who hears about `reminder`: the assignee (the department's lead when nobody
/// has it), and for an escalation the lead and supervisors too.
async fn recipients(
    sources: &ReminderSources,
    reminder: Reminder,
    ticket: &Ticket,
) -> Result<Vec<String>, RepoError> {
    let lead = match &ticket.department_id {
        Some(d) => sources.setup.department(d).await?.and_then(|d| d.lead_id),
        None => None,
    };
    let mut out: Vec<String> = ticket.assignee_id.iter().cloned().collect();
    if out.is_empty() || reminder == Reminder::SlaEscalation {
        out.extend(lead);
    }
    out.extend(sources.tickets.watchers(&ticket.id).await?);
    if reminder == Reminder::SlaEscalation {
        for row in sources.people.people().await? {
            if !row.disabled && matches!(row.role.parse::<Role>(), Ok(Role::Supervisor)) {
                out.push(row.id);
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

impl TicketMail {
    fn message(
        &self,
        smtp: &SmtpSettings,
        to: &str,
        reminder: Reminder,
        ticket: &Ticket,
    ) -> Result<Message, MailError> {
        let link = self.ticket_link(&ticket.id);
        let mail = compose(
            reminder,
            &MailTicket {
                number: &ticket.number,
                title: &ticket.title,
                priority: ticket.priority.as_str(),
                link: &link,
            },
        );
        self.envelope(smtp, to, mail)
    }

    fn envelope(
        &self,
        smtp: &SmtpSettings,
        to: &str,
        mail: ReminderMail,
    ) -> Result<Message, MailError> {
        let from: Mailbox = smtp
            .from_address
            .parse()
            .map_err(|_| MailInputError::BadFrom)?;
        let to: Mailbox = to.parse().map_err(|_| MailInputError::BadEmail)?;
        Message::builder()
            .from(from)
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| MailError::Transient(e.to_string()))
    }
}

/// The reminder an event calls for, and its ticket.
pub(crate) fn reminder_of(data: &EventData) -> Option<(Reminder, &str)> {
    match data {
        EventData::TicketCreated { ticket_id, .. } => {
            Some((Reminder::Assigned, ticket_id.as_str()))
        }
        EventData::TicketUpdated {
            ticket_id, fields, ..
        } if fields.iter().any(|f| f == "assignee") => {
            Some((Reminder::Assigned, ticket_id.as_str()))
        }
        EventData::TicketCommented {
            ticket_id,
            by: Some(by),
            ..
        } if by == "buyer" => Some((Reminder::BuyerReplied, ticket_id.as_str())),
        EventData::TicketEscalated { ticket_id, level } => {
            Reminder::from_level(level).map(|r| (r, ticket_id.as_str()))
        }
        EventData::TicketNotified { ticket_id, .. } => {
            Some((Reminder::Automation, ticket_id.as_str()))
        }
        _ => None,
    }
}

fn transport(
    smtp: &SmtpSettings,
    password: Option<String>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let tls = match smtp.tls {
        TlsMode::None => Tls::None,
        TlsMode::Starttls | TlsMode::Tls => {
            let parameters = TlsParameters::new(smtp.host.clone())
                .map_err(|e| MailError::Transient(e.to_string()))?;
            if smtp.tls == TlsMode::Tls {
                Tls::Wrapper(parameters)
            } else {
                Tls::Required(parameters)
            }
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if let Some(user) = &smtp.username {
        builder = builder.credentials(Credentials::new(user.clone(), password.unwrap_or_default()));
    }
    Ok(builder.build())
}

/// An SMTP failure without the server's words (they may quote the address).
fn describe(error: &lettre::transport::smtp::Error) -> String {
    match error.status() {
        Some(code) => format!("SMTP status {code}"),
        None if error.is_timeout() => "timed out".to_owned(),
        None => "connection failed".to_owned(),
    }
}

/// The cluster subscriber that sends ticket reminders by e-mail.
pub struct TicketMailer(pub Arc<TicketMail>);

#[async_trait::async_trait]
impl Subscriber for TicketMailer {
    fn name(&self) -> &'static str {
        "ticket_mail"
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        self.0.on_event(event).await.map_err(|e| e.to_string())
    }
}
