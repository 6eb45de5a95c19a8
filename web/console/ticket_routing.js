// Ticket routing rules (admin settings → 工单与邮件): an ordered list; the
// first rule whose conditions all hold routes a new ticket to a department
// and/or a person, sets its priority and adds tags.

import { el, get, put } from "./api.js";
import { addStrings, errorText, t } from "./i18n.js";

addStrings(
  {
    rr_h: "工单分派规则", rr_hint: "新工单按顺序套用第一条符合的规则。创建人已选部门或处理人时，不会被规则改掉。",
    rr_name: "规则名称", rr_when: "条件（都满足才套用）", rr_then: "动作", rr_type: "工单类型", rr_category: "分类",
    rr_priority: "优先级", rr_keywords: "关键词（标题或描述含任一，逗号分隔）", rr_department: "分到部门", rr_assignee: "分给",
    rr_set_priority: "设为优先级", rr_tags: "加标签（逗号分隔）", rr_any: "不限", rr_keep: "不改", rr_add: "添加规则",
    rr_remove: "删除", rr_up: "上移", rr_empty: "还没有规则：新工单保持创建时的部门和处理人。",
    error_invalid_routing_rule: "每条规则要有名称和至少一个动作（最多 100 条规则，每条最多 20 个关键词）",
    error_unknown_department: "所选部门不存在", error_unknown_assignee: "所选处理人不存在", error_unknown_ticket_type: "所选工单类型不存在",
  },
  {
    rr_h: "Ticket routing rules", rr_hint: "A new ticket takes the first rule that matches, in order. A department or person its creator chose is never changed by a rule.",
    rr_name: "Rule name", rr_when: "Conditions (all must hold)", rr_then: "Actions", rr_type: "Ticket type", rr_category: "Category",
    rr_priority: "Priority", rr_keywords: "Keywords (any, in title or description; comma-separated)", rr_department: "To department", rr_assignee: "Assign to",
    rr_set_priority: "Set priority", rr_tags: "Add tags (comma-separated)", rr_any: "Any", rr_keep: "Keep", rr_add: "Add a rule",
    rr_remove: "Remove", rr_up: "Move up", rr_empty: "No rules yet: new tickets keep the department and person they were created with.",
    error_invalid_routing_rule: "Each rule needs a name and at least one action (at most 100 rules, 20 keywords each)",
    error_unknown_department: "That department does not exist", error_unknown_assignee: "That person does not exist", error_unknown_ticket_type: "That ticket type does not exist",
  },
);

const PRIORITIES = ["low", "normal", "high", "urgent"];
const words = (text) => text.split(/[,，、]/).map((w) => w.trim()).filter(Boolean);
const label = (key, node) => el("label", {}, el("span", {}, t(key)), node);
const options = (empty, pairs, value) => [
  el("option", { value: "" }, empty),
  ...pairs.map(([v, text]) => el("option", { value: v, selected: v === value }, text)),
];

/// The routing rules form; rules are edited in place and saved together.
export async function routingForm(app) {
  const [current, departments, types, agents] = await Promise.all([
    get("/api/v1/admin/ticket-routing-rules").catch(() => ({ rules: [] })),
    get("/api/v1/staff/ticket-departments").catch(() => []),
    get("/api/v1/staff/ticket-types").catch(() => []),
    get("/api/v1/staff/agents").catch(() => []),
  ]);
  const rules = current.rules;
  const list = el("div", { testid: "rr-list" });
  const priorityPairs = PRIORITIES.map((p) => [p, t(`tk_pr_${p}`)]);

  const row = (rule, i) => {
    const when = rule.when || {};
    const then = rule.then || {};
    const field = (key, node) => {
      for (const kind of ["input", "change"]) node.addEventListener(kind, () => key(node.value));
      return node;
    };
    return el(
      "div",
      { class: "card", testid: "rr-rule" },
      label("rr_name", field((v) => (rule.name = v), el("input", { value: rule.name || "", required: true, testid: "rr-name" }))),
      el("p", { class: "hint" }, t("rr_when")),
      label("rr_type", field((v) => (when.type_key = v || undefined), el("select", { testid: "rr-type" }, options(t("rr_any"), types.map((y) => [y.key, y.name]), when.type_key)))),
      label("rr_category", field((v) => (when.category = v.trim() || undefined), el("input", { value: when.category || "", testid: "rr-category" }))),
      label("rr_priority", field((v) => (when.priority = v || undefined), el("select", { testid: "rr-priority" }, options(t("rr_any"), priorityPairs, when.priority)))),
      label("rr_keywords", field((v) => (when.keywords = words(v)), el("input", { value: (when.keywords || []).join(", "), testid: "rr-keywords" }))),
      el("p", { class: "hint" }, t("rr_then")),
      label("rr_department", field((v) => (then.department_id = v || undefined), el("select", { testid: "rr-department" }, options(t("rr_keep"), departments.map((d) => [d.id, d.name]), then.department_id)))),
      label("rr_assignee", field((v) => (then.assignee_id = v || undefined), el("select", { testid: "rr-assignee" }, options(t("rr_keep"), agents.map((a) => [a.agent_id, a.display_name]), then.assignee_id)))),
      label("rr_set_priority", field((v) => (then.priority = v || undefined), el("select", { testid: "rr-set-priority" }, options(t("rr_keep"), priorityPairs, then.priority)))),
      label("rr_tags", field((v) => (then.tags = words(v)), el("input", { value: (then.tags || []).join(", "), testid: "rr-tags" }))),
      el(
        "div",
        { class: "row" },
        i > 0 ? el("button", { type: "button", class: "link", testid: "rr-up", onclick: () => { rules.splice(i - 1, 0, ...rules.splice(i, 1)); draw(); } }, t("rr_up")) : null,
        el("button", { type: "button", class: "link", testid: "rr-remove", onclick: () => { rules.splice(i, 1); draw(); } }, t("rr_remove")),
      ),
    );
  };
  const draw = () => list.replaceChildren(...(rules.length ? rules.map(row) : [el("p", { class: "hint", testid: "rr-empty" }, t("rr_empty"))]));
  rules.forEach((r) => {
    r.when = r.when || {};
    r.then = r.then || {};
  });
  draw();
  const save = async (e) => {
    e.preventDefault();
    try {
      const saved = await put("/api/v1/admin/ticket-routing-rules", { rules });
      rules.splice(0, rules.length, ...saved.rules);
      draw();
      app.toast(t("saved"));
    } catch (error) {
      app.toast(errorText(error));
    }
  };
  return el(
    "form",
    { class: "card editor", testid: "rr-form", onsubmit: save },
    el("h3", {}, t("rr_h")),
    el("p", { class: "hint" }, t("rr_hint")),
    list,
    el("div", { class: "row" },
      el("button", { type: "button", class: "link", testid: "rr-add", onclick: () => { rules.push({ name: "", when: {}, then: {} }); draw(); } }, t("rr_add")),
      el("button", { type: "submit", testid: "rr-save" }, t("save"))),
  );
}
