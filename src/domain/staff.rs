//! Staff roles and the permission matrix every staff route is checked against.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

use super::conversation::UnknownValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Supervisor,
    KnowledgeManager,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Agent,
        Role::Supervisor,
        Role::KnowledgeManager,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::KnowledgeManager => "knowledge_manager",
            Role::Admin => "admin",
        }
    }

    /// The permission matrix. Written as one exhaustive match so that adding a
    /// permission forces a decision for every role.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            ViewOwnProfile => true,
            ViewQueue | ClaimChat | ReplyChat | ViewOwnChats | ChangeChatState => {
                matches!(self, Agent | Supervisor | Admin)
            }
            ViewAllChats | ManageRouting | ManageSharedReplies | ViewMetrics => {
                matches!(self, Supervisor | Admin)
            }
            ManageUsers | WriteVisitorContext | ManageBot | ManageIntegrations | ViewAuditLog => {
                matches!(self, Admin)
            }
            ReadKnowledge => true,
            WriteKnowledge => matches!(self, KnowledgeManager | Admin),
            WorkTickets => matches!(self, Agent | Supervisor | Admin),
            ViewAllTickets => matches!(self, Supervisor | Admin),
            ManageTickets => matches!(self, Admin),
            ViewReports => true,
            ReviewQuality => matches!(self, Supervisor | Admin),
        }
    }
}

impl FromStr for Role {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownValue(s.to_owned()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    ViewOwnProfile,
    /// See conversations waiting for a human.
    ViewQueue,
    /// See and act on the conversations one owns.
    ViewOwnChats,
    /// See every conversation (supervision).
    ViewAllChats,
    ClaimChat,
    ReplyChat,
    /// Resolve, hand back to the bot, close.
    ChangeChatState,
    ManageUsers,
    /// Shop systems post what a visitor browses and buys.
    WriteVisitorContext,
    /// Skill groups, their members and routing rules.
    ManageRouting,
    /// Quick replies shared with every agent.
    ManageSharedReplies,
    /// Search and read knowledge-base entries (agents answer with them).
    ReadKnowledge,
    /// Create, edit, publish, import and reindex knowledge-base entries.
    WriteKnowledge,
    /// Bot settings such as welcome messages.
    ManageBot,
    /// Read the Prometheus metrics (operational data: load, queue sizes, errors).
    ViewMetrics,
    /// Webhook endpoints and channels: where events go and which apps post in.
    ManageIntegrations,
    /// Search the audit log (who did what, when).
    ViewAuditLog,
    /// Create tickets and work on one's own and one's departments' tickets.
    WorkTickets,
    /// See and work on every ticket (supervisors).
    ViewAllTickets,
    /// Departments, ticket types, SLA policies and the business calendar.
    ManageTickets,
    /// Analytics reports, scoped by role in the service: agents their own
    /// numbers, supervisors their groups, admins all, knowledge managers the KB's.
    ViewReports,
    /// Quality inspection: rubrics, sampling plans, scoring, settling appeals
    /// (of the agents in one's skill groups; admins all).
    ReviewQuality,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewOwnProfile => "view_own_profile",
            Permission::ViewQueue => "view_queue",
            Permission::ViewOwnChats => "view_own_chats",
            Permission::ViewAllChats => "view_all_chats",
            Permission::ClaimChat => "claim_chat",
            Permission::ReplyChat => "reply_chat",
            Permission::ChangeChatState => "change_chat_state",
            Permission::ManageUsers => "manage_users",
            Permission::WriteVisitorContext => "write_visitor_context",
            Permission::ManageRouting => "manage_routing",
            Permission::ManageSharedReplies => "manage_shared_replies",
            Permission::ReadKnowledge => "read_knowledge",
            Permission::WriteKnowledge => "write_knowledge",
            Permission::ManageBot => "manage_bot",
            Permission::ViewMetrics => "view_metrics",
            Permission::ManageIntegrations => "manage_integrations",
            Permission::ViewAuditLog => "view_audit_log",
            Permission::WorkTickets => "work_tickets",
            Permission::ViewAllTickets => "view_all_tickets",
            Permission::ManageTickets => "manage_tickets",
            Permission::ViewReports => "view_reports",
            Permission::ReviewQuality => "review_quality",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffInputError {
    #[error("username must be 3 to 64 characters: letters, digits, '.', '_' or '-'")]
    BadUsername,
    #[error("password must be 12 to 256 characters")]
    BadPassword,
    #[error("this password is on the list of common passwords; choose another")]
    CommonPassword,
    #[error("display name must be 1 to 64 characters")]
    BadDisplayName,
    #[error("max_chats must be between 1 and 100")]
    BadCapacity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, StaffInputError> {
        let ok = (3..=64).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if ok {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(StaffInputError::BadUsername)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed; never printed.
pub struct Password(String);

/// Passwords people pick because they are easy to remember, 12 characters or
/// longer (shorter ones fail on length), lower-case; `scripts/common_passwords.py`
/// writes the list.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

fn is_common(password: &str) -> bool {
    static LIST: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    let list = LIST.get_or_init(|| COMMON_PASSWORDS.lines().collect());
    list.contains(password.to_lowercase().as_str())
}

impl Password {
    /// A new password: 12 to 256 characters (ASVS 5.0 6.2.1) and not a common
    /// one (6.2.4). Sign-in compares whatever was typed; only new passwords parse.
    pub fn parse(raw: &str) -> Result<Self, StaffInputError> {
        let n = raw.chars().count();
        if !(12..=256).contains(&n) {
            Err(StaffInputError::BadPassword)
        } else if is_common(raw) {
            Err(StaffInputError::CommonPassword)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

pub fn parse_display_name(raw: &str) -> Result<String, StaffInputError> {
    let n = raw.trim().chars().count();
    if (1..=64).contains(&n) {
        Ok(raw.trim().to_owned())
    } else {
        Err(StaffInputError::BadDisplayName)
    }
}

pub fn parse_capacity(raw: i64) -> Result<i64, StaffInputError> {
    if (1..=100).contains(&raw) {
        Ok(raw)
    } else {
        Err(StaffInputError::BadCapacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_users() {
        for role in Role::ALL {
            assert_eq!(role.allows(Permission::ManageUsers), role == Role::Admin);
        }
    }

    #[test]
    fn knowledge_managers_and_admins_curate_knowledge_and_only_admins_run_the_bot() {
        for role in Role::ALL {
            assert!(role.allows(Permission::ReadKnowledge));
            assert_eq!(
                role.allows(Permission::WriteKnowledge),
                matches!(role, Role::KnowledgeManager | Role::Admin)
            );
            assert_eq!(role.allows(Permission::ManageBot), role == Role::Admin);
            assert_eq!(
                role.allows(Permission::ManageIntegrations),
                role == Role::Admin
            );
        }
    }

    #[test]
    fn knowledge_managers_do_not_handle_chats() {
        let km = Role::KnowledgeManager;
        assert!(!km.allows(Permission::ClaimChat));
        assert!(!km.allows(Permission::ReplyChat));
        assert!(!km.allows(Permission::ViewQueue));
    }

    #[test]
    fn agents_see_only_their_own_chats_supervisors_see_all() {
        assert!(Role::Agent.allows(Permission::ViewOwnChats));
        assert!(!Role::Agent.allows(Permission::ViewAllChats));
        assert!(Role::Supervisor.allows(Permission::ViewAllChats));
    }

    #[test]
    fn supervisors_and_admins_run_routing_and_shared_replies() {
        for role in Role::ALL {
            let lead = matches!(role, Role::Supervisor | Role::Admin);
            assert_eq!(role.allows(Permission::ManageRouting), lead);
            assert_eq!(role.allows(Permission::ManageSharedReplies), lead);
        }
    }

    #[test]
    fn passwords_need_twelve_characters_and_must_not_be_common() {
        assert_eq!(
            Password::parse("elevenchars").unwrap_err(),
            StaffInputError::BadPassword
        );
        for common in [
            "Password1234",
            "qwertyuiop12",
            "woaini5201314",
            "111111111111",
            "1qaz2wsx3edc",
        ] {
            assert_eq!(
                Password::parse(common).unwrap_err(),
                StaffInputError::CommonPassword,
                "{common}"
            );
        }
        assert!(Password::parse("violet kettle on the roof").is_ok());
    }

    #[test]
    fn usernames_are_case_insensitive_and_plain() {
        assert_eq!(Username::parse("Alice.W").unwrap().as_str(), "alice.w");
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("ab").is_err());
    }

    #[test]
    fn passwords_never_print() {
        let p = Password::parse("correct horse battery").unwrap();
        assert_eq!(format!("{p:?}"), "Password(..)");
        assert!(Password::parse("short").is_err());
    }
}
