// Tickets (工单): the list with filters (#/tickets) and one ticket's page
// (#/tickets/<id>) with its fields, history, comments and the moves its state
// allows. The chat view opens tickets through `createFromChat`.

import { del, el, get, post, put, query, upload } from "./api.js";
import { addStrings, t } from "./i18n.js";

addStrings(
  {
    tickets: "工单", tk_number: "编号", tk_title: "标题", tk_state: "状态", tk_priority: "优先级", tk_department: "部门",
    tk_assignee: "处理人", tk_due: "解决期限", tk_updated: "更新时间", tk_none: "没有符合条件的工单", tk_type: "类型",
    tk_new: "新建工单", tk_create: "创建", tk_description: "问题描述", tk_order: "订单号", tk_fields: "自定义字段",
    tk_history: "处理记录", tk_comments: "评论与回复", tk_internal: "内部评论", tk_public: "回复买家", tk_add_comment: "提交",
    tk_status_text: "买家看到的状态", tk_note: "说明（可选）", tk_from_chat: "转为工单", tk_created: (n) => `已创建工单 ${n}`,
    tk_escalation: "SLA", tk_first_due: "首次响应期限", tk_unassigned: "未分配", tk_someone: "其他同事", tk_all_states: "全部状态",
    tk_st_new: "新建", tk_st_open: "处理中", tk_st_pending: "等待回复", tk_st_on_hold: "挂起", tk_st_resolved: "已解决",
    tk_st_closed: "已关闭", tk_to_open: "开始处理", tk_to_pending: "等待买家/第三方", tk_to_on_hold: "挂起",
    tk_to_resolved: "标记已解决", tk_to_closed: "关闭", tk_pr_low: "低", tk_pr_normal: "普通", tk_pr_high: "高", tk_pr_urgent: "紧急",
    tk_esc_none: "正常", tk_esc_warning: "即将超时", tk_esc_breached: "已超时", tk_esc_supervisor: "已升级主管",
    tk_h_created: "创建", tk_h_updated: "修改", tk_h_state_changed: "状态变更", tk_h_commented: "评论", tk_h_escalated: "SLA 升级",
    tk_h_first_response: "首次响应", tk_by_system: "系统", tk_by_buyer: "买家",
    tk_h_automation: "自动执行", tk_by_automation: (n) => `自动化「${n}」`, tk_auto_assignee: "分配给", tk_auto_department: "转到部门",
    tk_auto_priority: "优先级改为", tk_auto_tags: "加标签", tk_auto_refused: (s) => `改为「${s}」被状态机拒绝，已跳过`,
    tk_auto_notified: (n) => `已提醒 ${n} 人`, tk_auto_webhook: "已调用 Webhook", ev_ticket_notified: "自动化提醒",
    err_unknown_department: "部门不存在", err_unknown_ticket_type: "工单类型不存在", err_missing_custom_field: "缺少该类型的必填字段",
    err_invalid_ticket_transition: "当前状态不能这样变更", err_stale_ticket_version: "工单已被他人修改，请刷新后重试",
    err_invalid_ticket: "输入不符合要求", err_unknown_assignee: "处理人不存在",
    ev_ticket_created: "工单创建", ev_ticket_updated: "工单修改", ev_ticket_state_changed: "工单状态变化",
    ev_ticket_commented: "工单评论", ev_ticket_escalated: "工单 SLA 升级", ev_ticket_idle: "工单长时间无变化",
    tk_h_merged_into: "合并到", tk_h_merged_from: "合并自", tk_merge: "合并到工单", tk_merge_into: "目标工单编号（如 T20261201-0001）",
    tk_board: "工单监控", tk_export: "导出 CSV", tk_attainment: "SLA 达成率", tk_overdue: "已超时", tk_due_soon: "即将到期（4 小时内）",
    tk_by_department: "各部门未完成", tk_workload: "各处理人未完成", tk_open_count: "未完成",
    tk_ageing: "未完成工单已开多久", tk_age_under_1d: "不到 1 天", tk_age_1d_3d: "1–3 天", tk_age_3d_7d: "3–7 天", tk_age_over_7d: "7 天及以上",
    tk_watchers: "关注人", tk_watch: "关注", tk_unwatch: "取消关注", tk_no_watchers: "无",
    err_merge_into_self: "不能合并到自身", err_merge_into_closed: "目标工单已关闭，不能合并", err_unknown_merge_target: "找不到目标工单",
    tk_views: "我的视图", tk_view_all: "全部工单（不用视图）", tk_view_name: "视图名称", tk_view_save: "保存当前筛选为视图",
    tk_view_delete: "删除此视图", tk_view_saved: (n) => `已保存视图「${n}」`, tk_view_deleted: "视图已删除",
    err_ticket_view_name_taken: "已有同名视图", err_too_many_ticket_views: "视图已达上限（20 个），请先删除一个",
    err_ticket_view_not_found: "视图不存在", err_unknown_ticket_state: "状态不存在",
    tk_files: "附件", tk_no_files: "暂无附件", tk_add_files: "添加图片或文件", tk_file: "文件", tk_see_files: "见附件",
    tk_file_internal: "仅内部可见", err_unknown_attachment: "附件不存在或不属于这个工单", err_too_many_attachments: "一次最多 6 个附件",
  },
  {
    tickets: "Tickets", tk_number: "Number", tk_title: "Title", tk_state: "State", tk_priority: "Priority", tk_department: "Department",
    tk_assignee: "Assignee", tk_due: "Resolve by", tk_updated: "Updated", tk_none: "No tickets match", tk_type: "Type",
    tk_new: "New ticket", tk_create: "Create", tk_description: "Description", tk_order: "Order number", tk_fields: "Custom fields",
    tk_history: "History", tk_comments: "Comments and replies", tk_internal: "Internal comment", tk_public: "Reply to buyer", tk_add_comment: "Submit",
    tk_status_text: "Status the buyer sees", tk_note: "Note (optional)", tk_from_chat: "Make a ticket", tk_created: (n) => `Ticket ${n} created`,
    tk_escalation: "SLA", tk_first_due: "First response by", tk_unassigned: "Unassigned", tk_someone: "A colleague", tk_all_states: "All states",
    tk_st_new: "New", tk_st_open: "Open", tk_st_pending: "Pending", tk_st_on_hold: "On hold", tk_st_resolved: "Resolved",
    tk_st_closed: "Closed", tk_to_open: "Start work", tk_to_pending: "Wait for buyer / third party", tk_to_on_hold: "Put on hold",
    tk_to_resolved: "Mark resolved", tk_to_closed: "Close", tk_pr_low: "Low", tk_pr_normal: "Normal", tk_pr_high: "High", tk_pr_urgent: "Urgent",
    tk_esc_none: "On track", tk_esc_warning: "Due soon", tk_esc_breached: "Overdue", tk_esc_supervisor: "Escalated to supervisor",
    tk_h_created: "Created", tk_h_updated: "Changed", tk_h_state_changed: "State changed", tk_h_commented: "Comment", tk_h_escalated: "SLA escalation",
    tk_h_first_response: "First response", tk_by_system: "System", tk_by_buyer: "Buyer",
    tk_h_automation: "ran", tk_by_automation: (n) => `Automation "${n}"`, tk_auto_assignee: "assigned to", tk_auto_department: "moved to department",
    tk_auto_priority: "priority set to", tk_auto_tags: "tags added", tk_auto_refused: (s) => `moving to "${s}" was refused by the state machine and skipped`,
    tk_auto_notified: (n) => `reminded ${n} people`, tk_auto_webhook: "called the webhook", ev_ticket_notified: "Automation reminder",
    err_unknown_department: "No such department", err_unknown_ticket_type: "No such ticket type", err_missing_custom_field: "A required field of this type is missing",
    err_invalid_ticket_transition: "The ticket cannot move that way from its state", err_stale_ticket_version: "Someone changed this ticket; reload and try again",
    err_invalid_ticket: "Please check the input", err_unknown_assignee: "No such assignee",
    ev_ticket_created: "Ticket created", ev_ticket_updated: "Ticket changed", ev_ticket_state_changed: "Ticket state changed",
    ev_ticket_commented: "Ticket comment", ev_ticket_escalated: "Ticket SLA escalation", ev_ticket_idle: "Ticket idle",
    tk_h_merged_into: "Merged into", tk_h_merged_from: "Merged from", tk_merge: "Merge into", tk_merge_into: "Target ticket number (e.g. T20261201-0001)",
    tk_board: "Ticket board", tk_export: "Export CSV", tk_attainment: "SLA attainment", tk_overdue: "Overdue", tk_due_soon: "Due within 4 hours",
    tk_by_department: "Open per department", tk_workload: "Open per assignee", tk_open_count: "Open",
    tk_ageing: "Open tickets by age", tk_age_under_1d: "Under 1 day", tk_age_1d_3d: "1–3 days", tk_age_3d_7d: "3–7 days", tk_age_over_7d: "7 days or more",
    tk_watchers: "Watchers", tk_watch: "Watch", tk_unwatch: "Unwatch", tk_no_watchers: "None",
    err_merge_into_self: "A ticket cannot be merged into itself", err_merge_into_closed: "The target ticket is closed", err_unknown_merge_target: "No such ticket",
    tk_views: "My views", tk_view_all: "All tickets (no view)", tk_view_name: "View name", tk_view_save: "Save these filters as a view",
    tk_view_delete: "Delete this view", tk_view_saved: (n) => `View "${n}" saved`, tk_view_deleted: "View deleted",
    err_ticket_view_name_taken: "You already have a view with this name", err_too_many_ticket_views: "You have 20 views; delete one first",
    err_ticket_view_not_found: "No such view", err_unknown_ticket_state: "No such state",
    tk_files: "Files", tk_no_files: "No files yet", tk_add_files: "Add pictures or files", tk_file: "File", tk_see_files: "see Files",
    tk_file_internal: "staff only", err_unknown_attachment: "That file is not on this ticket", err_too_many_attachments: "At most 6 files at a time",
  },
);

const STATES = ["new", "open", "pending", "on_hold", "resolved", "closed"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
/// The moves each state allows (the server refuses the others).
const MOVES = {
  new: ["open", "pending", "on_hold", "resolved", "closed"],
  open: ["pending", "on_hold", "resolved", "closed"],
  pending: ["open", "on_hold", "resolved", "closed"],
  on_hold: ["open", "pending", "resolved", "closed"],
  resolved: ["open", "closed"],
  closed: [],
};
const when = (ms) => (ms ? new Date(ms).toLocaleString() : "–");

function errorText(error) {
  const text = t(`err_${error.code}`);
  if (text !== `err_${error.code}`) return text;
  // Upload refusals (type, size, content) have the console's common words.
  const common = t(`error_${error.code}`);
  return common === `error_${error.code}` ? t("failed") : common;
}

/// A ticket's files as thumbnails (pictures) or links, each opened in a new tab.
function fileList(ticketId, files, testid) {
  return el("div", { class: "ticket-files", testid }, files.map((f) => {
    const href = `/api/v1/staff/tickets/${ticketId}/attachments/${f.id}`;
    const inner = f.content_type.startsWith("image/")
      ? el("img", { src: href, alt: t("tk_file"), loading: "lazy" })
      : `📎 ${t("tk_file")} (${Math.ceil(f.size / 1024)} KB)`;
    return el("a", { href, target: "_blank", rel: "noopener", class: f.public ? "file" : "file internal",
      title: f.public ? "" : t("tk_file_internal"), testid: "tk-file" }, inner);
  }));
}

/// One click from the chat: a ticket prefilled from the hand-off packet.
export async function createFromChat(app, conversationId) {
  try {
    const ticket = await post(`/api/v1/staff/conversations/${conversationId}/ticket`, {});
    app.toast(t("tk_created", ticket.number));
    location.hash = `#/tickets/${ticket.id}`;
  } catch (error) {
    app.toast(errorText(error));
  }
}

export class Tickets {
  constructor(app, root, rest) {
    this.app = app;
    this.root = el("div", { class: "tickets", testid: "tickets" });
    root.append(el("h2", {}, t("tickets")), this.root);
    this.filters = { state: "", priority: "", department_id: "" };
    /// The saved view the list shows, if any (its filters are in this.filters).
    this.viewId = "";
    const [id] = rest;
    this.load().then(() => (id === "board" ? this.board() : id ? this.detail(id) : this.list()));
  }

  async load() {
    [this.departments, this.types, this.agents] = await Promise.all([
      get("/api/v1/staff/ticket-departments").catch(() => []),
      get("/api/v1/staff/ticket-types").catch(() => []),
      get("/api/v1/staff/agents").catch(() => []),
    ]);
  }

  /// A person's name, never their id (yourself included).
  personName(id) {
    if (!id) return t("tk_unassigned");
    if (id === this.app.me?.id) return this.app.me.display_name;
    return this.agents.find((a) => a.agent_id === id)?.display_name || t("tk_someone");
  }

  departmentName(id) {
    return this.departments.find((d) => d.id === id)?.name || "–";
  }

  select(name, values, word, all) {
    return el(
      "select",
      { testid: `tk-filter-${name}`, onchange: (e) => { this.filters[name] = e.target.value; this.viewId = ""; this.list(); } },
      el("option", { value: "" }, all),
      values.map(([v, label]) => el("option", { value: v, selected: this.filters[name] === v }, word ? t(word + v) : label)),
    );
  }

  async list() {
    let tickets;
    try {
      [tickets, this.views] = await Promise.all([
        get(`/api/v1/staff/tickets?${query(this.filters)}`),
        get("/api/v1/staff/ticket-views").catch(() => []),
      ]);
    } catch (error) {
      this.root.replaceChildren(el("p", { class: "hint" }, errorText(error)));
      return;
    }
    const filters = el(
      "p",
      { class: "filters" },
      this.select("state", STATES.map((s) => [s]), "tk_st_", t("tk_all_states")),
      this.select("priority", PRIORITIES.map((p) => [p]), "tk_pr_", t("all")),
      this.select("department_id", this.departments.map((d) => [d.id, d.name]), null, t("all")),
    );
    const rows = tickets.map((k) =>
      el(
        "tr",
        { testid: `ticket-${k.number}` },
        el("td", {}, el("a", { href: `#/tickets/${k.id}` }, k.number)),
        el("td", { class: "wrap" }, k.title),
        el("td", { testid: "ticket-state" }, t(`tk_st_${k.state}`)),
        el("td", {}, t(`tk_pr_${k.priority}`)),
        el("td", {}, this.departmentName(k.department_id)),
        el("td", {}, t(`tk_esc_${k.sla.escalation}`)),
        el("td", {}, when(k.resolution_due_at)),
        el("td", {}, when(k.updated_at)),
      ),
    );
    const table = tickets.length
      ? el("div", { class: "table-wrap" }, el("table", { testid: "ticket-list" },
          el("thead", {}, el("tr", {}, ["tk_number", "tk_title", "tk_state", "tk_priority", "tk_department", "tk_escalation", "tk_due", "tk_updated"].map((h) => el("th", {}, t(h))))),
          el("tbody", {}, rows)))
      : el("p", { class: "hint", testid: "tickets-empty" }, t("tk_none"));
    const links = el("p", { class: "tk-links" },
      el("a", { href: "#/tickets/board", testid: "tk-board-link" }, t("tk_board")), " · ",
      el("a", { href: `/api/v1/staff/tickets/export.csv?${query(this.filters)}`, download: "xiaoer-tickets.csv", testid: "tk-export" }, t("tk_export")));
    this.root.replaceChildren(links, this.viewBar(), filters, table, this.form());
  }

  /// 我的视图: open a saved view, save the current filters under a name, or
  /// delete the view shown.
  viewBar() {
    const open = (id) => {
      this.viewId = id;
      const view = this.views.find((v) => v.id === id);
      const f = view?.filters || {};
      this.filters = { state: f.state || "", priority: f.priority || "", department_id: f.department_id || "", assignee_id: f.assignee_id || "", type: f.type || "" };
      this.list();
    };
    const picker = el(
      "select",
      { testid: "tk-views", "aria-label": t("tk_views"), onchange: (e) => open(e.target.value) },
      el("option", { value: "" }, t("tk_view_all")),
      this.views.map((v) => el("option", { value: v.id, selected: v.id === this.viewId }, v.name)),
    );
    const name = el("input", { maxlength: 64, placeholder: t("tk_view_name"), "aria-label": t("tk_view_name"), testid: "tk-view-name" });
    const error = el("span", { class: "error", role: "alert", testid: "tk-view-error" });
    const save = async (e) => {
      e.preventDefault();
      const { state, priority, department_id, assignee_id, type } = this.filters;
      try {
        const view = await post("/api/v1/staff/ticket-views", {
          name: name.value,
          filters: Object.fromEntries(Object.entries({ state, priority, department_id, assignee_id, type }).filter(([, v]) => v)),
        });
        this.viewId = view.id;
        this.app.toast(t("tk_view_saved", view.name));
        this.list();
      } catch (err) {
        error.textContent = errorText(err);
      }
    };
    const remove = async () => {
      try {
        await del(`/api/v1/staff/ticket-views/${this.viewId}`);
        this.app.toast(t("tk_view_deleted"));
        open("");
      } catch (err) {
        error.textContent = errorText(err);
      }
    };
    return el(
      "form",
      { class: "filters tk-views", onsubmit: save },
      el("label", {}, el("span", {}, t("tk_views")), picker),
      this.viewId ? el("button", { type: "button", class: "secondary", testid: "tk-view-delete", onclick: remove }, t("tk_view_delete")) : "",
      name,
      el("button", { type: "submit", testid: "tk-view-save" }, t("tk_view_save")),
      error,
    );
  }

  /// 监控: counts, ageing, overdue and due-soon lists, workload, SLA attainment.
  async board() {
    let b;
    try {
      b = await get("/api/v1/staff/tickets/board");
    } catch (error) {
      this.root.replaceChildren(el("p", { class: "hint" }, errorText(error)));
      return;
    }
    const card = (label, value, testid) => el("div", { class: "an-card", testid }, el("div", { class: "an-label" }, label), el("div", { class: "an-value" }, value));
    const table = (heads, rows, testid) => rows.length
      ? el("div", { class: "table-wrap" }, el("table", { testid }, el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, t(h))))), el("tbody", {}, rows)))
      : el("p", { class: "hint", testid }, t("tk_none"));
    const ticketRows = (list) => list.map((k) => el("tr", {},
      el("td", {}, el("a", { href: `#/tickets/${k.id}` }, k.number)), el("td", { class: "wrap" }, k.title),
      el("td", {}, t(`tk_pr_${k.priority}`)), el("td", {}, this.personName(k.assignee_id)), el("td", {}, when(k.resolution_due_at))));
    const ticketHeads = ["tk_number", "tk_title", "tk_priority", "tk_assignee", "tk_due"];
    this.root.replaceChildren(
      el("p", {}, el("a", { href: "#/tickets", class: "back-link", testid: "tk-back" }, t("back"))),
      el("h3", {}, t("tk_board")),
      el("div", { class: "an-cards", testid: "tk-board-states" },
        STATES.map((s) => card(t(`tk_st_${s}`), b.by_state[s] || 0, `tk-board-state-${s}`)),
        card(t("tk_attainment"), b.sla_attainment_pct === null ? "–" : `${b.sla_attainment_pct}%`, "tk-board-attainment")),
      el("div", { class: "an-cards" }, PRIORITIES.map((p) => card(t(`tk_pr_${p}`), b.by_priority[p] || 0, `tk-board-priority-${p}`))),
      el("h4", {}, t("tk_ageing")),
      el("div", { class: "an-cards", testid: "tk-board-ageing" }, b.ageing.map((a) => card(t(`tk_age_${a.band}`), a.count, `tk-board-age-${a.band}`))),
      el("h4", {}, t("tk_overdue")), table(ticketHeads, ticketRows(b.overdue), "tk-board-overdue"),
      el("h4", {}, t("tk_due_soon")), table(ticketHeads, ticketRows(b.due_soon), "tk-board-due-soon"),
      el("h4", {}, t("tk_by_department")),
      table(["tk_department", "tk_open_count"], b.by_department.map((c) => el("tr", {}, el("td", {}, c.id ? this.departmentName(c.id) : t("tk_unassigned")), el("td", {}, c.count))), "tk-board-departments"),
      el("h4", {}, t("tk_workload")),
      table(["tk_assignee", "tk_open_count"], b.workload.map((c) => el("tr", {}, el("td", {}, this.personName(c.id)), el("td", {}, c.count))), "tk-board-workload"),
    );
  }

  form() {
    const title = el("input", { required: true, maxlength: 200, testid: "tk-title" });
    const description = el("textarea", { rows: 3, testid: "tk-description" });
    const type = el("select", { testid: "tk-type" }, this.types.map((y) => el("option", { value: y.key }, y.name)));
    const priority = el("select", { testid: "tk-priority" }, PRIORITIES.map((p) => el("option", { value: p, selected: p === "normal" }, t(`tk_pr_${p}`))));
    const department = el("select", { testid: "tk-department" }, el("option", { value: "" }, "–"), this.departments.map((d) => el("option", { value: d.id }, d.name)));
    const order = el("input", { maxlength: 100, testid: "tk-order" });
    const fields = el("textarea", { rows: 2, placeholder: "tracking_number=SF123", testid: "tk-fields" });
    const error = el("p", { class: "error", role: "alert", testid: "tk-error" });
    const submit = async (e) => {
      e.preventDefault();
      const custom_fields = Object.fromEntries(
        fields.value.split("\n").map((l) => l.split("=")).filter((p) => p.length === 2).map(([k, v]) => [k.trim(), v.trim()]),
      );
      try {
        const created = await post("/api/v1/staff/tickets", {
          type_key: type.value, title: title.value, description: description.value, priority: priority.value,
          department_id: department.value || null, order_number: order.value || null, custom_fields,
        });
        location.hash = `#/tickets/${created.id}`;
      } catch (err) {
        error.textContent = errorText(err);
      }
    };
    return el(
      "form",
      { class: "card", testid: "tk-form", onsubmit: submit },
      el("h3", {}, t("tk_new")),
      el("label", {}, el("span", {}, t("tk_type")), type),
      el("label", {}, el("span", {}, t("tk_title")), title),
      el("label", {}, el("span", {}, t("tk_description")), description),
      el("label", {}, el("span", {}, t("tk_priority")), priority),
      el("label", {}, el("span", {}, t("tk_department")), department),
      el("label", {}, el("span", {}, t("tk_order")), order),
      el("label", {}, el("span", {}, t("tk_fields")), fields),
      error,
      el("button", { type: "submit", testid: "tk-create" }, t("tk_create")),
    );
  }

  async detail(id) {
    let k;
    try {
      k = await get(`/api/v1/staff/tickets/${id}`);
    } catch (error) {
      this.root.replaceChildren(el("p", { class: "hint" }, errorText(error)));
      return;
    }
    const facts = [
      [t("tk_state"), t(`tk_st_${k.state}`), "tk-state"],
      [t("tk_status_text"), k.status_text_shown, "tk-status-text"],
      [t("tk_priority"), t(`tk_pr_${k.priority}`)],
      [t("tk_type"), this.types.find((y) => y.key === k.type_key)?.name || k.type_key],
      [t("tk_department"), this.departmentName(k.department_id), "tk-department-name"],
      [t("tk_assignee"), this.personName(k.assignee_id), "tk-assignee"],
      [t("tk_order"), k.order_number || "–", "tk-order-number"],
      [t("tk_escalation"), t(`tk_esc_${k.sla.escalation}`)],
      [t("tk_first_due"), when(k.first_response_due_at)],
      [t("tk_due"), when(k.resolution_due_at)],
      // A field naming one of the ticket's files (the intake's photo) points at it.
      ...Object.entries(k.custom_fields).map(([name, value]) => [t(`slot_${name}`) === `slot_${name}` ? name : t(`slot_${name}`),
        k.attachments.some((f) => f.id === value) ? t("tk_see_files") : value, `tk-field-${name}`]),
    ];
    this.root.replaceChildren(
      el("p", {}, el("a", { href: "#/tickets", class: "back-link", testid: "tk-back" }, t("back"))),
      el("h3", { testid: "tk-heading" }, `${k.number} · ${k.title}`),
      el("p", { class: "wrap", testid: "tk-description-text" }, k.description),
      el("dl", { class: "facts" }, facts.flatMap(([label, value, testid]) => [el("dt", {}, label), el("dd", { testid }, value)])),
      this.moves(k),
      this.departmentForm(k),
      this.watchersCard(k),
      k.state === "closed" ? null : this.mergeForm(k),
      el("h4", {}, t("tk_files")),
      k.attachments.length ? fileList(k.id, k.attachments, "tk-files") : el("p", { class: "hint", testid: "tk-files" }, t("tk_no_files")),
      el("h4", {}, t("tk_comments")),
      el("ul", { class: "comments", testid: "tk-comments" }, k.comments.map((c) =>
        el("li", { class: c.visibility }, el("strong", {}, c.visibility === "public" ? t("tk_public") : t("tk_internal")), " ", when(c.created_at),
          el("div", { class: "wrap" }, c.body), c.attachments.length ? fileList(k.id, c.attachments, "tk-comment-files") : null))),
      this.commentForm(k),
      el("h4", {}, t("tk_history")),
      el("ol", { class: "history", testid: "tk-history" }, k.history.map((h) =>
        el("li", { testid: `tk-h-${h.kind}` }, when(h.created_at), " · ", this.historyAuthor(h), " · ",
          t(`tk_h_${h.kind}`), h.kind === "automation" ? this.automationText(h.detail) : "", h.detail?.to ? ` → ${t(`tk_st_${h.detail.to}`)}` : "",
          h.detail?.number ? [" ", el("a", { href: `#/tickets/${h.detail.ticket_id}`, testid: `tk-link-${h.kind}` }, h.detail.number)] : "",
          h.detail?.note ? ` (${h.detail.note})` : ""))),
    );
  }

  historyAuthor(h) {
    if (h.author_kind === "system") return t("tk_by_system");
    if (h.author_kind === "buyer") return t("tk_by_buyer");
    if (h.author_kind === "automation") return t("tk_by_automation", h.detail?.rule || "");
    return this.personName(h.author_id);
  }

  /// What an automation did, in words (its state move follows as " → state").
  automationText(d = {}) {
    const c = d.changes || {};
    const parts = [];
    if (c.assignee) parts.push(`${t("tk_auto_assignee")} ${this.personName(c.assignee)}`);
    if (c.department) parts.push(`${t("tk_auto_department")} ${this.departmentName(c.department)}`);
    if (c.priority) parts.push(`${t("tk_auto_priority")} ${t(`tk_pr_${c.priority}`)}`);
    if (c.tags?.length) parts.push(`${t("tk_auto_tags")} ${c.tags.join("、")}`);
    if (d.refused) parts.push(t("tk_auto_refused", t(`tk_st_${d.refused.to}`)));
    if (d.notified?.length) parts.push(t("tk_auto_notified", d.notified.length));
    if (d.webhook) parts.push(t("tk_auto_webhook"));
    return parts.length ? `: ${parts.join("; ")}` : "";
  }

  moves(k) {
    const note = el("input", { maxlength: 200, placeholder: t("tk_note"), testid: "tk-move-note" });
    const statusText = el("input", { maxlength: 100, placeholder: t("tk_status_text"), testid: "tk-move-status" });
    const go = async (to) => {
      try {
        await post(`/api/v1/staff/tickets/${k.id}/transition`, {
          to, expected_version: k.version, note: note.value || null, status_text: statusText.value || null,
        });
        await this.detail(k.id);
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    return el("div", { class: "card moves", testid: "tk-moves" }, note, statusText,
      MOVES[k.state].map((to) => el("button", { type: "button", testid: `tk-to-${to}`, onclick: () => go(to) }, t(`tk_to_${to}`))));
  }

  departmentForm(k) {
    const pick = el("select", { testid: "tk-transfer" }, el("option", { value: "" }, "–"),
      this.departments.map((d) => el("option", { value: d.id, selected: d.id === k.department_id }, d.name)));
    pick.addEventListener("change", async () => {
      try {
        await put(`/api/v1/staff/tickets/${k.id}`, { expected_version: k.version, department_id: pick.value });
        await this.detail(k.id);
      } catch (error) {
        this.app.toast(errorText(error));
      }
    });
    return el("label", {}, el("span", {}, t("tk_department")), pick);
  }

  /// A comment or public reply, with files: each is uploaded to the ticket
  /// first, then sent with the words (which may be left out then).
  commentForm(k) {
    const body = el("textarea", { rows: 2, testid: "tk-comment" });
    const visibility = el("select", { testid: "tk-comment-visibility" },
      el("option", { value: "internal" }, t("tk_internal")), el("option", { value: "public" }, t("tk_public")));
    const files = el("input", { type: "file", multiple: true, accept: "image/*,application/pdf,text/plain", testid: "tk-comment-files-input" });
    const submit = async (e) => {
      e.preventDefault();
      if (!body.value.trim() && !files.files.length) return;
      try {
        const attachments = [];
        for (const file of files.files) attachments.push((await upload(`/api/v1/staff/tickets/${k.id}/attachments`, file)).attachment_id);
        await post(`/api/v1/staff/tickets/${k.id}/comments`, { visibility: visibility.value, body: body.value, attachments });
        await this.detail(k.id);
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    return el("form", { class: "card", testid: "tk-comment-form", onsubmit: submit }, body, visibility,
      el("label", { class: "file-pick" }, el("span", {}, t("tk_add_files")), files),
      el("button", { type: "submit", testid: "tk-comment-submit" }, t("tk_add_comment")));
  }

  watchersCard(k) {
    const me = this.app.me?.id;
    const watching = k.watchers.includes(me);
    const toggle = async () => {
      try {
        const path = `/api/v1/staff/tickets/${k.id}/watchers/${me}`;
        await (watching ? del(path) : put(path, {}));
        await this.detail(k.id);
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    const names = k.watchers.length ? k.watchers.map((id) => this.personName(id)).join("、") : t("tk_no_watchers");
    return el("div", { class: "card", testid: "tk-watchers" }, el("span", {}, `${t("tk_watchers")}：`), el("span", { testid: "tk-watcher-names" }, names), " ",
      el("button", { type: "button", testid: "tk-watch", onclick: toggle }, watching ? t("tk_unwatch") : t("tk_watch")));
  }

  mergeForm(k) {
    const into = el("input", { required: true, placeholder: t("tk_merge_into"), testid: "tk-merge-into" });
    const submit = async (e) => {
      e.preventDefault();
      try {
        await post(`/api/v1/staff/tickets/${k.id}/merge`, { into: into.value.trim(), expected_version: k.version });
        await this.detail(k.id);
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    return el("form", { class: "card", testid: "tk-merge-form", onsubmit: submit }, into,
      el("button", { type: "submit", testid: "tk-merge-submit" }, t("tk_merge")));
  }
}
