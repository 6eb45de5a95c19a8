// Who is on the shop now (访客列表): visitors the widget reports from the shop's
// pages, live (server-sent events, and a refresh every few seconds so that
// visitors who left drop out), filtered and sorted; an agent invites one to
// chat in one click. Admins also manage the proactive invitation rules here.

import { del, el, get, post, put, query } from "./api.js";
import { addStrings, errorText, t } from "./i18n.js";

addStrings(
  {
    visitors: "访客", visitors_h: "在线访客", visitors_n: (n) => `${n} 位访客在店内`, no_visitors: "当前没有访客在店内",
    v_sort: "排序", v_sort_last_seen: "最近活动", v_sort_dwell: "停留最久", v_sort_cart_value: "购物车金额", v_sort_pages: "浏览最多", v_sort_arrived: "最早到店",
    v_source: "来源", v_any: "全部", src_search: "搜索", src_ads: "广告", src_recommendation: "推荐", src_referral: "外链", src_direct: "直接访问",
    v_visitor_kind: "新老访客", v_new: "新访客", v_returning: "老访客", v_min_cart: "购物车至少（元）", v_page: "页面包含", v_member_level: "会员等级",
    v_on_page: "当前页面", v_dwell: "停留", v_pages: (n) => `本次浏览 ${n} 页`, v_cart: (yuan, n) => `购物车 ¥${yuan}（${n} 件）`, v_cart_empty: "购物车为空",
    v_vip: "VIP", v_member: (l) => `会员：${l}`, v_campaign: (c) => `活动：${c}`,
    v_vip_filter: "VIP 客户", v_vip_only: "仅 VIP", v_not_vip: "非 VIP", v_tag: "标签",
    tag_cart: "已加购", tag_high_value: "高价值", tag_returning: "回访", tag_campaign: "活动流量", tag_member: "已登录",
    v_greeting: "邀请语（可留空，用默认问候）", v_invite: "邀请对话", v_invited: "已发出邀请，访客将在页面上看到",
    v_live: "实时", v_chatting: "已在对话",
    rules_h: "主动邀请规则", rule_name: "规则名称", rule_page: "页面网址包含", rule_dwell: "停留至少（秒）", rule_pages: "浏览至少（页）",
    rule_cart: "购物车至少（元）", rule_cart_items: "购物车至少（件）", rule_returning: "访客", rule_sources: "来源（可多选）",
    rule_utm_source: "渠道（如 baidu）", rule_campaign: "活动名称（如 double12）",
    rule_window: "时段", rule_levels: "会员等级（逗号分隔）", rule_action: "由谁问候", rule_bot: "机器人小二", rule_agent: "指定客服",
    rule_agent_id: "客服", rule_greeting_text: "问候语", rule_once: "每次访问最多一次", rule_per_day: "每天最多（次）", rule_add: "添加规则",
    rule_shown: (n) => `展示 ${n}`, rule_accepted: (n) => `接受 ${n}`, rule_converted: (n) => `成交 ${n}`, rule_delete: "删除", rule_off: "已停用", no_rules: "还没有邀请规则",
    agent_invitations: "客服手动邀请（访客列表）",
    error_invalid_invitation_rule: "规则有误：请检查各项条件", error_unknown_agent: "所选客服不存在", error_visitor_left: "访客已离开",
    error_visit_not_found: "访客已离开", error_invalid_greeting: "邀请语不能为空，且不超过 500 字",
    rule_edit: "编辑", rule_save: "保存修改", rule_cancel: "取消", rule_editing: (n) => `正在编辑：${n}`,
    rule_disable: "停用", rule_enable: "启用", rule_saved: "规则已保存", error_invitation_rule_not_found: "该规则已被删除",
  },
  {
    visitors: "Visitors", visitors_h: "On the shop now", visitors_n: (n) => `${n} visitor${n === 1 ? "" : "s"} on the shop`, no_visitors: "Nobody is on the shop right now",
    v_sort: "Sort", v_sort_last_seen: "Latest activity", v_sort_dwell: "Longest on page", v_sort_cart_value: "Cart value", v_sort_pages: "Most pages", v_sort_arrived: "Arrived first",
    v_source: "Source", v_any: "Any", src_search: "Search", src_ads: "Ads", src_recommendation: "Recommendation", src_referral: "Referral", src_direct: "Direct",
    v_visitor_kind: "New or returning", v_new: "New", v_returning: "Returning", v_min_cart: "Cart at least (¥)", v_page: "Page contains", v_member_level: "Member level",
    v_on_page: "Now on", v_dwell: "On page", v_pages: (n) => `${n} page${n === 1 ? "" : "s"} this visit`, v_cart: (yuan, n) => `Cart ¥${yuan} (${n} item${n === 1 ? "" : "s"})`, v_cart_empty: "Empty cart",
    v_vip: "VIP", v_member: (l) => `Member: ${l}`, v_campaign: (c) => `Campaign: ${c}`,
    v_vip_filter: "VIP buyers", v_vip_only: "VIPs only", v_not_vip: "Not VIPs", v_tag: "Tag",
    tag_cart: "In cart", tag_high_value: "High value", tag_returning: "Returning", tag_campaign: "Campaign", tag_member: "Signed in",
    v_greeting: "Greeting (leave empty for the standard one)", v_invite: "Invite to chat", v_invited: "Invitation sent; the visitor sees it on the page",
    v_live: "Live", v_chatting: "In a chat",
    rules_h: "Proactive invitation rules", rule_name: "Rule name", rule_page: "Page URL contains", rule_dwell: "On page at least (s)", rule_pages: "Pages at least",
    rule_cart: "Cart at least (¥)", rule_cart_items: "Cart at least (items)", rule_returning: "Visitor", rule_sources: "Sources (any of)",
    rule_utm_source: "Channel (e.g. baidu)", rule_campaign: "Campaign (e.g. double12)",
    rule_window: "Time of day", rule_levels: "Member levels (comma separated)", rule_action: "Who greets", rule_bot: "The Xiaoer bot", rule_agent: "An agent",
    rule_agent_id: "Agent", rule_greeting_text: "Greeting", rule_once: "At most once a visit", rule_per_day: "At most a day", rule_add: "Add rule",
    rule_shown: (n) => `Shown ${n}`, rule_accepted: (n) => `Accepted ${n}`, rule_converted: (n) => `Ordered ${n}`, rule_delete: "Delete", rule_off: "Off", no_rules: "No invitation rules yet",
    agent_invitations: "Agents' own invitations (visitor list)",
    error_invalid_invitation_rule: "The rule is not valid: check its conditions", error_unknown_agent: "That agent does not exist", error_visitor_left: "The visitor has left",
    error_visit_not_found: "The visitor has left", error_invalid_greeting: "The greeting must be 1 to 500 characters",
    rule_edit: "Edit", rule_save: "Save changes", rule_cancel: "Cancel", rule_editing: (n) => `Editing: ${n}`,
    rule_disable: "Turn off", rule_enable: "Turn on", rule_saved: "Rule saved", error_invitation_rule_not_found: "That rule has been deleted",
  },
);

const SOURCES = ["search", "ads", "recommendation", "referral", "direct"];
const SORTS = ["last_seen", "dwell", "cart_value", "pages", "arrived"];
const TAGS = ["cart", "high_value", "returning", "campaign", "member"];
const REFRESH_MS = 5000;

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

const yuan = (cents) => (cents / 100).toFixed(2);

function select(testid, options, value) {
  return el("select", { testid }, options.map(([v, label]) => el("option", { value: v, selected: v === value }, label)));
}

export class Visitors {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.filters = { sort: "last_seen", source: "", returning: "", min_cart: "", page: "", member_level: "", vip: "", tag: "" };
    this.list = el("ul", { class: "visit-list", testid: "visit-list" });
    this.count = el("p", { class: "hint", testid: "visit-count" });
    this.greeting = el("input", { type: "text", maxlength: 500, placeholder: t("v_greeting"), testid: "visit-greeting" });
    const live = el("span", { class: "live", testid: "visits-live" }, t("v_live"));
    root.replaceChildren(
      el("section", { class: "card visitors", testid: "visitors" }, el("h2", {}, t("visitors_h"), " ", live), this.filterBar(), this.count, this.greeting, this.list),
    );
    if (app.me.role === "admin") {
      this.rules = el("section", { class: "card", testid: "invitation-rules" });
      root.append(this.rules);
      this.loadRules();
    }
    this.load();
    this.events = new EventSource("/api/v1/staff/visits/stream");
    this.events.addEventListener("visit", () => this.soon());
    this.timer = setInterval(() => this.load(), REFRESH_MS);
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  leave() {
    this.events.close();
    clearInterval(this.timer);
    clearInterval(this.ticker);
    clearTimeout(this.pending);
  }

  filterBar() {
    const f = this.filters;
    const bind = (node, key) => {
      node.addEventListener("change", () => {
        f[key] = node.value;
        this.load();
      });
      return node;
    };
    const field = (label, node) => el("label", {}, el("span", {}, label), node);
    return el(
      "div",
      { class: "filters", testid: "visit-filters" },
      field(t("v_sort"), bind(select("visit-sort", SORTS.map((s) => [s, t(`v_sort_${s}`)]), f.sort), "sort")),
      field(t("v_source"), bind(select("visit-source", [["", t("v_any")], ...SOURCES.map((s) => [s, t(`src_${s}`)])], f.source), "source")),
      field(t("v_visitor_kind"), bind(select("visit-returning", [["", t("v_any")], ["false", t("v_new")], ["true", t("v_returning")]], f.returning), "returning")),
      field(t("v_min_cart"), bind(el("input", { type: "number", min: 0, step: 1, inputmode: "numeric", testid: "visit-min-cart" }), "min_cart")),
      field(t("v_page"), bind(el("input", { type: "text", testid: "visit-page" }), "page")),
      field(t("v_member_level"), bind(el("input", { type: "text", testid: "visit-member-level" }), "member_level")),
      field(t("v_vip_filter"), bind(select("visit-vip", [["", t("v_any")], ["true", t("v_vip_only")], ["false", t("v_not_vip")]], f.vip), "vip")),
      field(t("v_tag"), bind(select("visit-tag", [["", t("v_any")], ...TAGS.map((tag) => [tag, t(`tag_${tag}`)])], f.tag), "tag")),
    );
  }

  soon() {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.load(), 250);
  }

  async load() {
    const f = this.filters;
    const min = f.min_cart === "" ? "" : Math.round(Number(f.min_cart) * 100);
    const q = query({ sort: f.sort, source: f.source, returning: f.returning, min_cart_cents: min, page: f.page, member_level: f.member_level, vip: f.vip, tag: f.tag });
    let visits;
    try {
      visits = await get(`/api/v1/staff/visits?${q}`);
    } catch (error) {
      this.count.textContent = errorText(error);
      return;
    }
    this.offset = Date.now() - Math.max(0, ...visits.map((v) => v.last_seen_at)); // server clock skew, roughly
    this.count.textContent = visits.length ? t("visitors_n", visits.length) : t("no_visitors");
    this.list.replaceChildren(...visits.map((v) => this.row(v)));
  }

  row(v) {
    const page = v.current_page || "";
    const title = v.current_title || page;
    const dwell = el("span", { class: "dwell", testid: "visit-dwell", "data-since": v.page_since }, duration(v.dwell_ms));
    const tags = [
      v.vip && el("span", { class: "tag vip" }, t("v_vip")),
      v.member_level && el("span", { class: "tag" }, t("v_member", v.member_level)),
      v.utm?.campaign && el("span", { class: "tag" }, t("v_campaign", v.utm.campaign)),
      ...v.tags.map((tag) => el("span", { class: `tag tag-${tag}` }, t(`tag_${tag}`))),
    ];
    const invite = el("button", { type: "button", testid: `visit-invite-${v.id}`, onclick: () => this.invite(v.id, invite) }, t("v_invite"));
    return el(
      "li",
      { class: "visit", testid: "visit", "data-visit": v.id },
      el("div", { class: "visit-page" }, el("span", { class: "hint" }, t("v_on_page")), " ", el("a", { href: page, target: "_blank", rel: "noopener noreferrer", testid: "visit-page-link" }, title)),
      el(
        "div",
        { class: "visit-facts" },
        el("span", {}, `${t("v_dwell")} `, dwell),
        el("span", { testid: "visit-source" }, t(`src_${v.source}`)),
        el("span", {}, t("v_pages", v.pages)),
        el("span", { testid: "visit-cart" }, v.cart_items ? t("v_cart", yuan(v.cart_cents), v.cart_items) : t("v_cart_empty")),
        el("span", { testid: "visit-kind" }, v.returning ? t("v_returning") : t("v_new")),
      ),
      el("div", { class: "visit-tags" }, tags),
      v.visitor_id ? el("div", { class: "hint", testid: "visit-chatting" }, t("v_chatting")) : null,
      el("div", { class: "visit-actions" }, invite),
    );
  }

  /// Dwell times count up between refreshes.
  tick() {
    for (const node of this.list.querySelectorAll("[data-since]")) {
      node.textContent = duration(Date.now() - this.offset - Number(node.dataset.since));
    }
  }

  async invite(visitId, button) {
    button.disabled = true;
    try {
      const greeting = this.greeting.value.trim();
      await post(`/api/v1/staff/visits/${encodeURIComponent(visitId)}/invite`, greeting ? { greeting } : {});
      this.app.toast(t("v_invited"));
    } catch (error) {
      this.app.toast(errorText(error));
      button.disabled = false;
    }
  }

  async loadRules() {
    const [rules, byAgents] = await Promise.all([
      get("/api/v1/admin/invitation-rules").catch(() => []),
      get("/api/v1/admin/agent-invitations").catch(() => null),
    ]);
    const counts = (c) => [
      el("span", { class: "tag", testid: "rule-shown" }, t("rule_shown", c.shown)),
      el("span", { class: "tag", testid: "rule-accepted" }, t("rule_accepted", c.accepted)),
      el("span", { class: "tag", testid: "rule-converted" }, t("rule_converted", c.converted)),
    ];
    // Invitations agents send from the visitor list are counted on a line of their own.
    const agentLine = byAgents && el("li", { testid: "agent-invitations" }, el("strong", {}, t("agent_invitations")), " ", counts(byAgents));
    const list = el(
      "ul",
      { class: "rule-list", testid: "rule-list" },
      rules.map((r) =>
        el(
          "li",
          { testid: "rule", "data-rule": r.id },
          el("strong", {}, r.name),
          r.enabled ? null : el("span", { class: "tag" }, t("rule_off")),
          " ",
          el("span", { class: "hint" }, r.action.greeting),
          " ",
          counts(r),
          el("button", { type: "button", class: "link", testid: "rule-toggle", onclick: () => this.toggleRule(r) }, t(r.enabled ? "rule_disable" : "rule_enable")),
          el("button", { type: "button", class: "link", testid: "rule-edit", onclick: () => this.editRule(r) }, t("rule_edit")),
          el("button", { type: "button", class: "link", onclick: () => this.deleteRule(r.id) }, t("rule_delete")),
        ),
      ),
      agentLine,
    );
    const none = rules.length ? null : el("p", { class: "hint" }, t("no_rules"));
    this.rules.replaceChildren(el("h2", {}, t("rules_h")), none, list, await this.ruleForm());
  }

  /// Switches a rule on or off: the whole rule goes back with the switch flipped.
  async toggleRule(rule) {
    try {
      await put(`/api/v1/admin/invitation-rules/${encodeURIComponent(rule.id)}`, { ...ruleBody(rule), enabled: !rule.enabled });
      this.loadRules();
    } catch (error) {
      this.app.toast(errorText(error));
    }
  }

  /// The form below the list takes the rule's values; saving replaces the rule.
  async editRule(rule) {
    const form = this.rules.querySelector("[data-testid=rule-form]");
    form?.replaceWith(await this.ruleForm(rule));
    this.rules.querySelector("[data-testid=rule-name]")?.focus();
  }

  async deleteRule(id) {
    try {
      await del(`/api/v1/admin/invitation-rules/${encodeURIComponent(id)}`);
      this.loadRules();
    } catch (error) {
      this.app.toast(errorText(error));
    }
  }

  /// The form that adds a rule, or edits `editing` (a listed rule).
  async ruleForm(editing = null) {
    const agents = await get("/api/v1/staff/agents").catch(() => []);
    const input = (testid, attrs = {}) => el("input", { type: "text", testid, ...attrs });
    const f = {
      name: input("rule-name", { required: true, maxlength: 100 }),
      page: input("rule-page"),
      dwell: input("rule-dwell", { type: "number", min: 0 }),
      pages: input("rule-pages", { type: "number", min: 0 }),
      cart: input("rule-cart", { type: "number", min: 0 }),
      cartItems: input("rule-cart-items", { type: "number", min: 0, step: 1 }),
      returning: select("rule-returning", [["", t("v_any")], ["false", t("v_new")], ["true", t("v_returning")]], ""),
      sources: SOURCES.map((s) => el("label", { class: "check" }, el("input", { type: "checkbox", value: s, testid: `rule-source-${s}` }), t(`src_${s}`))),
      utmSource: input("rule-utm-source", { maxlength: 200 }),
      campaign: input("rule-campaign"),
      from: input("rule-from", { type: "time" }),
      to: input("rule-to", { type: "time" }),
      levels: input("rule-levels"),
      kind: select("rule-kind", [["bot", t("rule_bot")], ["agent", t("rule_agent")]], "bot"),
      agent: select("rule-agent", agents.map((a) => [a.agent_id, a.display_name]), ""),
      greeting: input("rule-greeting", { required: true, maxlength: 500 }),
      once: el("input", { type: "checkbox", checked: true, testid: "rule-once" }),
      perDay: input("rule-per-day", { type: "number", min: 1, max: 100 }),
    };
    if (editing) fillForm(f, editing);
    const field = (key, node) => el("label", {}, el("span", {}, t(key)), node);
    const submit = async (e) => {
      e.preventDefault();
      try {
        if (editing) {
          // What the form does not show (the switch, the priority, the shop's time zone) stays.
          const kept = { enabled: editing.enabled, priority: editing.priority, utc_offset_minutes: editing.utc_offset_minutes };
          await put(`/api/v1/admin/invitation-rules/${encodeURIComponent(editing.id)}`, { ...ruleFrom(f), ...kept });
          this.app.toast(t("rule_saved"));
        } else {
          await post("/api/v1/admin/invitation-rules", ruleFrom(f));
        }
        this.loadRules();
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    const cancel = editing && el("button", { type: "button", class: "link", testid: "rule-cancel", onclick: () => this.loadRules() }, t("rule_cancel"));
    return el(
      "form",
      { class: "rule-form", testid: "rule-form", "data-editing": editing?.id ?? "", onsubmit: submit },
      editing && el("p", { class: "hint", testid: "rule-editing" }, t("rule_editing", editing.name)),
      field("rule_name", f.name),
      field("rule_page", f.page),
      field("rule_dwell", f.dwell),
      field("rule_pages", f.pages),
      field("rule_cart", f.cart),
      field("rule_cart_items", f.cartItems),
      field("rule_returning", f.returning),
      el("fieldset", {}, el("legend", {}, t("rule_sources")), f.sources),
      field("rule_utm_source", f.utmSource),
      field("rule_campaign", f.campaign),
      el("label", {}, el("span", {}, t("rule_window")), el("span", { class: "range" }, f.from, " – ", f.to)),
      field("rule_levels", f.levels),
      field("rule_action", f.kind),
      field("rule_agent_id", f.agent),
      field("rule_greeting_text", f.greeting),
      el("label", { class: "check" }, f.once, t("rule_once")),
      field("rule_per_day", f.perDay),
      el("button", { type: "submit", testid: "rule-save" }, t(editing ? "rule_save" : "rule_add")),
      cancel,
    );
  }
}

/// A listed rule as the API takes it back (without its id and counts).
function ruleBody(r) {
  return {
    name: r.name, enabled: r.enabled, priority: r.priority, conditions: r.conditions,
    action: r.action, caps: r.caps, utc_offset_minutes: r.utc_offset_minutes,
  };
}

/// The form shows a listed rule: the inverse of ruleFrom.
function fillForm(f, r) {
  const c = r.conditions || {};
  const set = (node, value) => { node.value = value === undefined || value === null ? "" : String(value); };
  set(f.name, r.name);
  set(f.page, c.page_url_contains);
  set(f.dwell, c.min_dwell_seconds);
  set(f.pages, c.min_pages);
  set(f.cart, c.min_cart_cents === undefined ? undefined : c.min_cart_cents / 100);
  set(f.cartItems, c.min_cart_items);
  set(f.returning, c.returning === undefined ? "" : String(c.returning));
  for (const label of f.sources) {
    const box = label.querySelector("input");
    box.checked = (c.sources || []).includes(box.value);
  }
  set(f.utmSource, c.utm_source);
  set(f.campaign, c.utm_campaign);
  set(f.from, c.time_window?.from);
  set(f.to, c.time_window?.to);
  set(f.levels, (c.member_levels || []).join(", "));
  set(f.kind, r.action.kind);
  if (r.action.kind === "agent") set(f.agent, r.action.agent_id);
  set(f.greeting, r.action.greeting);
  f.once.checked = r.caps.once_per_session;
  set(f.perDay, r.caps.per_day);
}

/// The rule the form describes; empty fields are left out (no condition).
function ruleFrom(f) {
  const num = (node) => (node.value === "" ? undefined : Number(node.value));
  const text = (node) => node.value.trim() || undefined;
  const sources = f.sources.map((l) => l.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
  const levels = f.levels.value.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
  const cart = num(f.cart);
  const conditions = {
    page_url_contains: text(f.page),
    min_dwell_seconds: num(f.dwell),
    min_pages: num(f.pages),
    min_cart_cents: cart === undefined ? undefined : Math.round(cart * 100),
    min_cart_items: num(f.cartItems),
    returning: f.returning.value === "" ? undefined : f.returning.value === "true",
    sources: sources.length ? sources : undefined,
    utm_source: text(f.utmSource),
    utm_campaign: text(f.campaign),
    time_window: f.from.value && f.to.value ? { from: f.from.value, to: f.to.value } : undefined,
    member_levels: levels.length ? levels : undefined,
  };
  const greeting = f.greeting.value;
  const action = f.kind.value === "agent" ? { kind: "agent", greeting, agent_id: f.agent.value } : { kind: "bot", greeting };
  return {
    name: f.name.value,
    conditions,
    action,
    caps: { once_per_session: f.once.checked, per_day: num(f.perDay) },
  };
}
