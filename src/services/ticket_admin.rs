//! Ticket administration: departments and their members, ticket types with
//! required custom fields and SLA policies, and the business calendar's
//! holidays and make-up working days.

use crate::domain::tickets::{self as t, Priority};
use crate::ports::repositories::{DepartmentRecord, RepoError, TicketTypeRecord};
use crate::services::tickets::{TicketError, TicketService};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct Department {
    pub id: String,
    pub name: String,
    pub lead_id: Option<String>,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentInput {
    pub name: String,
    pub lead_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketType {
    pub key: String,
    pub name: String,
    pub required_fields: Vec<String>,
    pub sla: Vec<SlaPolicy>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    pub priority: Priority,
    pub first_response_minutes: i64,
    pub resolution_minutes: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketTypeInput {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub required_fields: Vec<String>,
    #[serde(default)]
    pub sla: Vec<SlaPolicy>,
}

/// Days that change the working week, as the shop's local dates.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarDays {
    #[serde(default)]
    pub holidays: Vec<String>,
    #[serde(default)]
    pub workdays: Vec<String>,
}

impl TicketService {
    pub async fn departments(&self) -> Result<Vec<Department>, TicketError> {
        let members = self.setup.department_members().await?;
        Ok(self
            .setup
            .departments()
            .await?
            .into_iter()
            .map(|d| Department {
                members: members
                    .iter()
                    .filter(|(dept, _)| *dept == d.id)
                    .map(|(_, staff)| staff.clone())
                    .collect(),
                id: d.id,
                name: d.name,
                lead_id: d.lead_id,
            })
            .collect())
    }

    pub async fn create_department(
        &self,
        input: DepartmentInput,
    ) -> Result<Department, TicketError> {
        let name = t::parse_name(&input.name)?;
        let lead_id = input.lead_id.filter(|l| !l.is_empty());
        if let Some(lead) = &lead_id {
            self.people.person(lead).await.map_err(unknown_staff)?;
        }
        let row = DepartmentRecord {
            id: format!("dep_{}", uuid::Uuid::now_v7().simple()),
            name,
            lead_id,
            created_at: self.clock.now_ms(),
        };
        self.setup
            .insert_department(&row)
            .await
            .map_err(name_taken)?;
        if let Some(lead) = &row.lead_id {
            self.setup.add_department_member(&row.id, lead).await?;
        }
        Ok(Department {
            members: row.lead_id.iter().cloned().collect(),
            id: row.id,
            name: row.name,
            lead_id: row.lead_id,
        })
    }

    pub async fn add_member(&self, department_id: &str, staff_id: &str) -> Result<(), TicketError> {
        if self.setup.department(department_id).await?.is_none() {
            return Err(TicketError::UnknownDepartment);
        }
        self.people.person(staff_id).await.map_err(unknown_staff)?;
        self.setup
            .add_department_member(department_id, staff_id)
            .await?;
        Ok(())
    }

    pub async fn types(&self) -> Result<Vec<TicketType>, TicketError> {
        let policies = self.setup.sla_policies().await?;
        Ok(self
            .setup
            .types()
            .await?
            .into_iter()
            .map(|row| TicketType {
                sla: policies
                    .iter()
                    .filter(|(key, ..)| *key == row.key)
                    .filter_map(|(_, priority, first, resolution)| {
                        Some(SlaPolicy {
                            priority: Priority::parse(priority)?,
                            first_response_minutes: *first,
                            resolution_minutes: *resolution,
                        })
                    })
                    .collect(),
                required_fields: row.required_fields,
                key: row.key,
                name: row.name,
            })
            .collect())
    }

    pub async fn create_type(&self, input: TicketTypeInput) -> Result<TicketType, TicketError> {
        let key = t::parse_type_key(&input.key)?;
        let name = t::parse_name(&input.name)?;
        let mut required = Vec::new();
        for field in &input.required_fields {
            let field = t::parse_name(field)?;
            if !required.contains(&field) {
                required.push(field);
            }
        }
        let bad_target = |m: i64| !(1..=60 * 24 * 365).contains(&m);
        if input
            .sla
            .iter()
            .any(|p| bad_target(p.first_response_minutes) || bad_target(p.resolution_minutes))
        {
            return Err(t::TicketInputError::BadSlaTarget.into());
        }
        let row = TicketTypeRecord {
            key,
            name,
            required_fields: required.clone(),
            created_at: self.clock.now_ms(),
        };
        let policies: Vec<(Priority, i64, i64)> = input
            .sla
            .iter()
            .map(|p| (p.priority, p.first_response_minutes, p.resolution_minutes))
            .collect();
        self.setup
            .insert_type(&row, &policies)
            .await
            .map_err(name_taken)?;
        Ok(TicketType {
            key: row.key,
            name: row.name,
            required_fields: required,
            sla: input.sla,
        })
    }

    pub async fn calendar_days(&self) -> Result<CalendarDays, TicketError> {
        let mut days = CalendarDays::default();
        for (day, kind) in self.setup.business_days().await? {
            if kind == "workday" {
                days.workdays.push(day);
            } else {
                days.holidays.push(day);
            }
        }
        Ok(days)
    }

    /// Replaces the calendar's holidays and make-up working days.
    pub async fn put_calendar_days(
        &self,
        input: CalendarDays,
    ) -> Result<CalendarDays, TicketError> {
        let mut rows = Vec::new();
        for (list, kind) in [(&input.holidays, "holiday"), (&input.workdays, "workday")] {
            for day in list {
                NaiveDate::parse_from_str(day, "%Y-%m-%d")
                    .map_err(|_| t::TicketInputError::BadCalendarDay)?;
                if rows.iter().any(|(d, _): &(String, String)| d == day) || rows.len() >= 800 {
                    return Err(t::TicketInputError::BadCalendarDay.into());
                }
                rows.push((day.clone(), kind.to_owned()));
            }
        }
        self.setup.put_business_days(&rows).await?;
        self.calendar_days().await
    }
}

fn unknown_staff(e: RepoError) -> TicketError {
    match e {
        RepoError::NotFound => TicketError::UnknownAssignee,
        e => e.into(),
    }
}

fn name_taken(e: RepoError) -> TicketError {
    match e {
        RepoError::AlreadyExists => TicketError::NameTaken,
        e => e.into(),
    }
}
