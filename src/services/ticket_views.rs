//! Saved views of the ticket list (视图): a person keeps the list's filters
//! under a name and opens them again in one click. Views are per person:
//! nobody else lists, opens or deletes them. A view only narrows the list; what
//! the person may see is still decided when it is opened.

use crate::domain::tickets::{self as t, Priority, TicketState};
use crate::ports::repositories::{RepoError, SavedView};
use crate::services::staff::StaffUser;
use crate::services::tickets::{ListQuery, TicketError, TicketService};
use serde::{Deserialize, Serialize};

/// The most views one person keeps.
pub const MAX_VIEWS: i64 = 20;

/// The filters a view keeps: the list's own, less its paging.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewFilters {
    /// Comma-separated states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_key: Option<String>,
}

impl ViewFilters {
    /// The list query this view opens.
    pub fn query(&self) -> ListQuery {
        ListQuery {
            state: self.state.clone(),
            department_id: self.department_id.clone(),
            assignee_id: self.assignee_id.clone(),
            priority: self.priority,
            type_key: self.type_key.clone(),
            ..ListQuery::default()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewView {
    pub name: String,
    #[serde(default)]
    pub filters: ViewFilters,
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketView {
    pub id: String,
    pub name: String,
    pub filters: ViewFilters,
    pub created_at: i64,
}

impl TicketService {
    pub async fn views(&self, staff: &StaffUser) -> Result<Vec<TicketView>, TicketError> {
        let rows = self.saved_views.views_of(&staff.id).await?;
        Ok(rows
            .into_iter()
            .map(|row| TicketView {
                // Written by `save_view` only: always valid JSON of ViewFilters.
                filters: serde_json::from_str(&row.filters).unwrap_or_default(),
                id: row.id,
                name: row.name,
                created_at: row.created_at,
            })
            .collect())
    }

    /// Saves the filters under a name of the person's own; every filter must
    /// name a state, department, person and type that exist.
    pub async fn save_view(
        &self,
        staff: &StaffUser,
        view: NewView,
    ) -> Result<TicketView, TicketError> {
        let name = t::parse_name(&view.name)?;
        let mut filters = view.filters;
        filters.state = match filters.state.as_deref() {
            None => None,
            Some(list) => {
                let states = list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| TicketState::parse(s).map(TicketState::as_str))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(t::TicketInputError::BadStateFilter)?;
                (!states.is_empty()).then(|| states.join(","))
            }
        };
        let blank = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        filters.department_id = blank(filters.department_id);
        filters.assignee_id = blank(filters.assignee_id);
        filters.type_key = blank(filters.type_key);
        self.check_department(filters.department_id.as_deref())
            .await?;
        self.check_assignee(filters.assignee_id.as_deref()).await?;
        if let Some(key) = &filters.type_key {
            self.required_fields(key).await?;
        }
        let row = SavedView {
            id: uuid::Uuid::now_v7().to_string(),
            staff_id: staff.id.clone(),
            name,
            filters: serde_json::to_string(&filters).expect("view filters serialise"),
            created_at: self.clock.now_ms(),
        };
        match self.saved_views.insert_view(&row, MAX_VIEWS).await {
            Ok(true) => {}
            Ok(false) => return Err(TicketError::TooManyViews(MAX_VIEWS)),
            Err(RepoError::AlreadyExists) => return Err(TicketError::ViewNameTaken),
            Err(e) => return Err(e.into()),
        }
        Ok(TicketView {
            id: row.id,
            name: row.name,
            filters,
            created_at: row.created_at,
        })
    }

    pub async fn delete_view(&self, staff: &StaffUser, id: &str) -> Result<(), TicketError> {
        match self.saved_views.delete_view(&staff.id, id).await {
            Err(RepoError::NotFound) => Err(TicketError::ViewNotFound),
            other => Ok(other?),
        }
    }
}
