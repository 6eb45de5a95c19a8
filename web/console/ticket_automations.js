// Ticket automations (admin settings → 工单与邮件, under the routing rules):
// "when EVENT and CONDITIONS then ACTIONS" on committed ticket events, in
// the order of the list (上移 / 下移 move a rule). Each can be turned on or off,
// or deleted; a new one is made with the form below the list.

import { del, el, get, post, put } from "./api.js";
import { addStrings, errorText, t } from "./i18n.js";

addStrings(
  {
    au_h: "工单自动化", au_hint: "当某个工单事件发生且条件都满足时，自动执行动作。自动化自己做的修改不会再触发自动化。",
    au_empty: "还没有自动化。", au_enabled: "启用", au_delete: "删除", au_new: "新建自动化", au_create: "创建",
    au_name: "名称", au_event: "事件", au_to_state: "变为状态（仅状态变化）", au_when: "条件（都满足才执行）", au_then: "动作",
    au_ev_ticket_created: "工单创建", au_ev_state_changed: "状态变化", au_ev_buyer_replied: "买家回复",
    au_ev_sla_warning: "SLA 即将超时", au_ev_sla_breached: "SLA 已超时", au_ev_priority_changed: "优先级变化", au_ev_assigned: "分配给某人",
    au_ev_idle: "长时间无变化", au_idle_hours: "无变化的小时数（仅“长时间无变化”，1–2160）", au_idle_after: (h) => `${h} 小时无变化`,
    au_type: "工单类型", au_priority: "优先级", au_department: "部门", au_state: "当前状态", au_has_tags: "含有标签（逗号分隔，须全部含有）",
    au_keywords: "关键词（标题或描述含任一，逗号分隔）", au_unassigned: "仅未分配的工单", au_any: "不限", au_keep: "不改",
    au_assign: "分配给", au_to_department: "转到部门", au_set_priority: "设为优先级", au_set_state: "设为状态", au_tags: "加标签（逗号分隔）",
    au_bell: "控制台提醒", au_email: "邮件提醒", au_notify_assignee: "提醒处理人", au_notify_lead: "提醒部门负责人", au_notify_person: "提醒此人",
    au_webhook: "调用 Webhook", au_none: "不调用", au_created: "自动化已创建", au_deleted: "自动化已删除",
    error_invalid_automation: "自动化需要名称、事件和至少一个动作；“变为状态”只用于状态变化；“长时间无变化”须填 1–2160 小时；提醒要选方式和对象",
    error_too_many_automations: "自动化已达上限（100 条），请先删除一条", error_unknown_webhook_endpoint: "所选 Webhook 不存在",
    error_automation_not_found: "该自动化已不存在",
    au_up: "上移", au_down: "下移", au_moved: "执行顺序已保存",
    error_invalid_automation_order: "自动化列表已被他人修改，请刷新后再调整顺序",
  },
  {
    au_h: "Ticket automations", au_hint: "When a ticket event happens and all conditions hold, the actions run. Changes made by automations never trigger automations.",
    au_empty: "No automations yet.", au_enabled: "On", au_delete: "Delete", au_new: "New automation", au_create: "Create",
    au_name: "Name", au_event: "Event", au_to_state: "To state (state changes only)", au_when: "Conditions (all must hold)", au_then: "Actions",
    au_ev_ticket_created: "Ticket created", au_ev_state_changed: "State changed", au_ev_buyer_replied: "Buyer replied",
    au_ev_sla_warning: "SLA warning", au_ev_sla_breached: "SLA breached", au_ev_priority_changed: "Priority changed", au_ev_assigned: "Assigned to someone",
    au_ev_idle: "No change for a while", au_idle_hours: "Hours without a change (\"no change\" only, 1–2160)", au_idle_after: (h) => `after ${h} h without a change`,
    au_type: "Ticket type", au_priority: "Priority", au_department: "Department", au_state: "Current state", au_has_tags: "Has tags (comma-separated, all of them)",
    au_keywords: "Keywords (any, in title or description; comma-separated)", au_unassigned: "Only unassigned tickets", au_any: "Any", au_keep: "Keep",
    au_assign: "Assign to", au_to_department: "Move to department", au_set_priority: "Set priority", au_set_state: "Set state", au_tags: "Add tags (comma-separated)",
    au_bell: "Console reminder", au_email: "E-mail reminder", au_notify_assignee: "Remind the assignee", au_notify_lead: "Remind the department lead", au_notify_person: "Remind this person",
    au_webhook: "Call a webhook", au_none: "None", au_created: "Automation created", au_deleted: "Automation deleted",
    error_invalid_automation: "An automation needs a name, an event and at least one action; \"to state\" only goes with state changes; \"no change for a while\" needs 1–2160 hours; a reminder needs a way and someone to tell",
    error_too_many_automations: "At most 100 automations; delete one first", error_unknown_webhook_endpoint: "That webhook does not exist",
    error_automation_not_found: "That automation no longer exists",
    au_up: "Move up", au_down: "Move down", au_moved: "Order saved",
    error_invalid_automation_order: "Someone changed the automations meanwhile: reload, then reorder",
  },
);

const EVENTS = ["ticket_created", "state_changed", "buyer_replied", "sla_warning", "sla_breached", "priority_changed", "assigned", "idle"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
const STATES = ["new", "open", "pending", "on_hold", "resolved", "closed"];
const words = (text) => text.split(/[,，、]/).map((w) => w.trim()).filter(Boolean);
const label = (key, node) => el("label", {}, el("span", {}, t(key)), node);
const check = (key, testid) => el("label", { class: "check" }, el("input", { type: "checkbox", testid }), t(key));
const checked = (box) => box.querySelector("input").checked;
const select = (testid, empty, pairs) => el("select", { testid }, el("option", { value: "" }, empty),
  ...pairs.map(([v, text]) => el("option", { value: v }, text)));
const or = (v) => v || undefined;

/// The automations card: the list (on/off, delete) and the form for a new one.
export async function automationsForm(app) {
  const [departments, types, agents, hooks] = await Promise.all([
    get("/api/v1/staff/ticket-departments").catch(() => []),
    get("/api/v1/staff/ticket-types").catch(() => []),
    get("/api/v1/staff/agents").catch(() => []),
    get("/api/v1/admin/webhooks").catch(() => []),
  ]);
  const list = el("div", { testid: "au-list" });
  const priorities = PRIORITIES.map((p) => [p, t(`tk_pr_${p}`)]);
  const states = STATES.map((s) => [s, t(`tk_st_${s}`)]);
  const people = agents.map((a) => [a.agent_id, a.display_name]);
  const deps = departments.map((d) => [d.id, d.name]);

  /// Swaps rule i with its neighbour (by -1 or +1) and saves the whole order.
  const move = async (rules, i, by) => {
    const ids = rules.map((r) => r.id);
    [ids[i], ids[i + by]] = [ids[i + by], ids[i]];
    try {
      await put("/api/v1/admin/ticket-automations/order", { ids });
      app.toast(t("au_moved"));
    } catch (error) {
      app.toast(errorText(error));
    }
    await refresh();
  };
  const row = (a, i, rules) => {
    const on = el("input", { type: "checkbox", checked: a.enabled, testid: "au-enabled" });
    on.addEventListener("change", async () => {
      try {
        const { id, position, created_at, updated_at, ...rule } = a;
        Object.assign(a, await put(`/api/v1/admin/ticket-automations/${id}`, { ...rule, enabled: on.checked }));
        app.toast(t("saved"));
      } catch (error) {
        on.checked = a.enabled;
        app.toast(errorText(error));
      }
    });
    const remove = async () => {
      try {
        await del(`/api/v1/admin/ticket-automations/${a.id}`);
        app.toast(t("au_deleted"));
        await refresh();
      } catch (error) {
        app.toast(errorText(error));
      }
    };
    return el("div", { class: "row", testid: "au-rule" },
      el("strong", { testid: "au-rule-name" }, a.name), " · ", t(`au_ev_${a.event}`),
      a.when.idle_hours ? ` (${t("au_idle_after", a.when.idle_hours)})` : "",
      el("label", { class: "check" }, on, t("au_enabled")),
      el("button", { type: "button", class: "link", testid: "au-up", disabled: i === 0, onclick: () => move(rules, i, -1) }, t("au_up")),
      el("button", { type: "button", class: "link", testid: "au-down", disabled: i === rules.length - 1, onclick: () => move(rules, i, 1) }, t("au_down")),
      el("button", { type: "button", class: "link", testid: "au-delete", onclick: remove }, t("au_delete")));
  };
  const refresh = async () => {
    const rules = await get("/api/v1/admin/ticket-automations").catch(() => []);
    list.replaceChildren(...(rules.length ? rules.map(row) : [el("p", { class: "hint", testid: "au-empty" }, t("au_empty"))]));
  };
  await refresh();

  const f = {
    name: el("input", { required: true, maxlength: 64, testid: "au-name" }),
    event: el("select", { testid: "au-event" }, ...EVENTS.map((e) => el("option", { value: e }, t(`au_ev_${e}`)))),
    toState: select("au-to-state", t("au_any"), states),
    idleHours: el("input", { type: "number", min: 1, max: 2160, testid: "au-idle-hours" }),
    type: select("au-type", t("au_any"), types.map((y) => [y.key, y.name])),
    priority: select("au-priority", t("au_any"), priorities),
    department: select("au-department", t("au_any"), deps),
    state: select("au-state", t("au_any"), states),
    hasTags: el("input", { testid: "au-has-tags" }),
    keywords: el("input", { testid: "au-keywords" }),
    unassigned: check("au_unassigned", "au-unassigned"),
    assign: select("au-assign", t("au_keep"), people),
    toDepartment: select("au-to-department", t("au_keep"), deps),
    setPriority: select("au-set-priority", t("au_keep"), priorities),
    setState: select("au-set-state", t("au_keep"), states),
    tags: el("input", { testid: "au-tags" }),
    bell: check("au_bell", "au-bell"),
    email: check("au_email", "au-email"),
    notifyAssignee: check("au_notify_assignee", "au-notify-assignee"),
    notifyLead: check("au_notify_lead", "au-notify-lead"),
    notifyPerson: select("au-notify-person", t("au_none"), people),
    webhook: select("au-webhook", t("au_none"), hooks.map((h) => [h.id, h.description || h.url])),
  };
  const body = () => {
    const notify = {
      bell: checked(f.bell), email: checked(f.email), assignee: checked(f.notifyAssignee),
      department_lead: checked(f.notifyLead), staff_ids: f.notifyPerson.value ? [f.notifyPerson.value] : [],
    };
    const wantsNotify = notify.bell || notify.email || notify.assignee || notify.department_lead || notify.staff_ids.length;
    return {
      name: f.name.value,
      event: f.event.value,
      when: {
        to_state: f.event.value === "state_changed" ? or(f.toState.value) : undefined,
        idle_hours: f.event.value === "idle" ? Number(f.idleHours.value) || 0 : undefined,
        type_key: or(f.type.value), priority: or(f.priority.value), department_id: or(f.department.value),
        state: or(f.state.value), tags: words(f.hasTags.value), keywords: words(f.keywords.value), unassigned: checked(f.unassigned),
      },
      then: {
        assignee_id: or(f.assign.value), department_id: or(f.toDepartment.value), priority: or(f.setPriority.value),
        state: or(f.setState.value), tags: words(f.tags.value), notify: wantsNotify ? notify : undefined,
        webhook_endpoint_id: or(f.webhook.value),
      },
    };
  };
  const form = el(
    "form",
    { testid: "au-form" },
    el("h4", {}, t("au_new")),
    label("au_name", f.name), label("au_event", f.event), label("au_to_state", f.toState), label("au_idle_hours", f.idleHours),
    el("p", { class: "hint" }, t("au_when")),
    label("au_type", f.type), label("au_priority", f.priority), label("au_department", f.department), label("au_state", f.state),
    label("au_has_tags", f.hasTags), label("au_keywords", f.keywords), f.unassigned,
    el("p", { class: "hint" }, t("au_then")),
    label("au_assign", f.assign), label("au_to_department", f.toDepartment), label("au_set_priority", f.setPriority),
    label("au_set_state", f.setState), label("au_tags", f.tags),
    f.bell, f.email, f.notifyAssignee, f.notifyLead, label("au_notify_person", f.notifyPerson),
    label("au_webhook", f.webhook),
    el("button", { type: "submit", testid: "au-create" }, t("au_create")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await post("/api/v1/admin/ticket-automations", body());
      form.reset();
      app.toast(t("au_created"));
      await refresh();
    } catch (error) {
      app.toast(errorText(error));
    }
  });
  return el("section", { class: "card editor", testid: "au-card" },
    el("h3", {}, t("au_h")), el("p", { class: "hint" }, t("au_hint")), list, form);
}
