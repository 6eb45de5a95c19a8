//! Ticket routing rules (admins): an ordered list; the first rule whose
//! conditions all hold routes a new ticket (department and/or assignee where
//! its creator chose none, priority, extra tags). Applied before the ticket
//! is stored, so the routed ticket is written in one transaction with its
//! `created` history line, which names the rule.

use crate::domain::tickets::{self as t};
pub use crate::domain::tickets::{RoutingRule, RoutingRules, RuleActions, RuleConditions};
use crate::services::tickets::{NewTicketInput, TicketError, TicketService};

/// At most this many rules, and keywords per rule.
const MAX_RULES: usize = 100;
const MAX_KEYWORDS: usize = 20;

impl RoutingRule {
    fn matches(&self, input: &NewTicketInput, title: &str) -> bool {
        let when = &self.when;
        if when.type_key.as_ref().is_some_and(|k| *k != input.type_key) {
            return false;
        }
        if let Some(category) = &when.category {
            let given = input.category.as_deref().map(str::trim).unwrap_or("");
            if !given.eq_ignore_ascii_case(category) {
                return false;
            }
        }
        if when.priority.is_some_and(|p| p != input.priority) {
            return false;
        }
        if when.keywords.is_empty() {
            return true;
        }
        let text = format!("{title}\n{}", input.description).to_lowercase();
        when.keywords
            .iter()
            .any(|k| text.contains(&k.to_lowercase()))
    }
}

/// Applies the first rule that matches to `input`; its name, if any.
pub fn route(rules: &RoutingRules, input: &mut NewTicketInput, title: &str) -> Option<String> {
    let rule = rules.rules.iter().find(|r| r.matches(input, title))?;
    let then = &rule.then;
    if input.department_id.as_deref().is_none_or(str::is_empty) && then.department_id.is_some() {
        input.department_id = then.department_id.clone();
    }
    if input.assignee_id.as_deref().is_none_or(str::is_empty) && then.assignee_id.is_some() {
        input.assignee_id = then.assignee_id.clone();
    }
    if let Some(priority) = then.priority {
        input.priority = priority;
    }
    for tag in &then.tags {
        if !input.tags.contains(tag) {
            input.tags.push(tag.clone());
        }
    }
    Some(rule.name.clone())
}

impl TicketService {
    pub async fn routing_rules(&self) -> Result<RoutingRules, TicketError> {
        Ok(self.setup.routing_rules().await?.unwrap_or_default())
    }

    /// Replaces the rules (their order is the order given). Anything invalid
    /// (an unknown department, assignee or type, a rule that does nothing)
    /// answers an error and keeps the stored rules.
    pub async fn put_routing_rules(
        &self,
        by: &str,
        input: RoutingRules,
    ) -> Result<RoutingRules, TicketError> {
        if input.rules.len() > MAX_RULES {
            return Err(TicketError::BadRoutingRule);
        }
        let mut rules = Vec::with_capacity(input.rules.len());
        for rule in input.rules {
            rules.push(self.check_rule(rule).await?);
        }
        let rules = RoutingRules { rules };
        self.setup
            .put_routing_rules(&rules, by, self.clock.now_ms())
            .await?;
        Ok(rules)
    }

    async fn check_rule(&self, rule: RoutingRule) -> Result<RoutingRule, TicketError> {
        let name = t::parse_name(&rule.name)?;
        let mut keywords = Vec::new();
        for k in &rule.when.keywords {
            let k = t::parse_short(Some(k))?.ok_or(TicketError::BadRoutingRule)?;
            if !keywords.contains(&k) {
                keywords.push(k);
            }
        }
        if keywords.len() > MAX_KEYWORDS {
            return Err(TicketError::BadRoutingRule);
        }
        if let Some(key) = &rule.when.type_key {
            self.required_fields(key).await?;
        }
        let then = RuleActions {
            department_id: t::parse_short(rule.then.department_id.as_deref())?,
            assignee_id: t::parse_short(rule.then.assignee_id.as_deref())?,
            priority: rule.then.priority,
            tags: t::parse_tags(&rule.then.tags)?,
        };
        if then == RuleActions::default() {
            return Err(TicketError::BadRoutingRule);
        }
        self.check_department(then.department_id.as_deref()).await?;
        self.check_assignee(then.assignee_id.as_deref()).await?;
        Ok(RoutingRule {
            name,
            when: RuleConditions {
                type_key: rule.when.type_key,
                category: t::parse_short(rule.when.category.as_deref())?,
                priority: rule.when.priority,
                keywords,
            },
            then,
        })
    }
}
