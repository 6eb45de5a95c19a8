// History (历史会话): find past conversations by words, order number, buyer,
// agent and date, and open one. Message bodies are encrypted at rest; the server
// searches a blind index of term hashes, so the words never sit on its disk.
// Agents find their own chats; supervisors and admins everyone's.

import { el, get, query } from "./api.js";
import { addStrings, errorText, t, word } from "./i18n.js";

addStrings(
  {
    history: "历史会话", hs_q: "关键词", hs_q_hint: "买家或客服说过的话", hs_order: "订单号", hs_buyer: "买家",
    hs_buyer_hint: "昵称、姓名、手机号或会员号", hs_agent: "客服", hs_any_agent: "全部客服", hs_from: "开始日期", hs_to: "结束日期",
    hs_search: "搜索", hs_none: "没有找到符合条件的会话", hs_more: "加载更多", hs_started: "开始时间", hs_first: "买家首句",
    hs_open: "打开", hs_anonymous: "匿名买家", hs_no_agent: "未分配", hs_help: "输入任意条件后搜索；不填条件则列出最近的会话。",
    hs_count: (n) => `找到 ${n} 个会话`,
    error_history_query_empty: "搜索条件里没有可查找的文字：请输入汉字、字母或数字", error_history_query_too_long: "搜索条件最多 64 个字",
    error_invalid_date_range: "结束日期不能早于开始日期",
  },
  {
    history: "History", hs_q: "Words", hs_q_hint: "Anything the buyer or an agent said", hs_order: "Order number", hs_buyer: "Buyer",
    hs_buyer_hint: "Nickname, name, phone or member id", hs_agent: "Agent", hs_any_agent: "All agents", hs_from: "From", hs_to: "To",
    hs_search: "Search", hs_none: "No conversation matches", hs_more: "Load more", hs_started: "Started", hs_first: "Buyer's first words",
    hs_open: "Open", hs_anonymous: "Anonymous buyer", hs_no_agent: "Unassigned", hs_help: "Fill in any of the fields and search; with none, the latest conversations are listed.",
    hs_count: (n) => `${n} conversation${n === 1 ? "" : "s"} found`,
    error_history_query_empty: "Nothing to look for: use Chinese characters, letters or digits", error_history_query_too_long: "A search can be at most 64 characters",
    error_invalid_date_range: "The end date is before the start date",
  },
);

/// A date input's value as the start of that day in the browser's time zone (ms).
function dayStart(value, plusDays = 0) {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d + plusDays).getTime();
}

export class History {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.hits = [];
    this.agents = new Map();
    this.render();
  }

  async render() {
    const supervisor = ["supervisor", "admin"].includes(this.app.me.role);
    const agents = supervisor ? await get("/api/v1/staff/agents").catch(() => []) : [];
    for (const a of agents) this.agents.set(a.agent_id, a.display_name);
    this.agents.set(this.app.me.id, this.app.me.display_name);
    const field = (key, input) => el("label", {}, el("span", {}, t(key)), input);
    this.inputs = {
      q: el("input", { type: "search", maxlength: 64, placeholder: t("hs_q_hint"), testid: "hs-q" }),
      order_no: el("input", { type: "search", maxlength: 64, testid: "hs-order" }),
      buyer: el("input", { type: "search", maxlength: 64, placeholder: t("hs_buyer_hint"), testid: "hs-buyer" }),
      from: el("input", { type: "date", testid: "hs-from" }),
      to: el("input", { type: "date", testid: "hs-to" }),
    };
    if (supervisor) {
      this.inputs.agent_id = el("select", { testid: "hs-agent" }, el("option", { value: "" }, t("hs_any_agent")), agents.map((a) => el("option", { value: a.agent_id }, a.display_name)));
    }
    const form = el(
      "form",
      { class: "card history-form", testid: "hs-form", onsubmit: (e) => (e.preventDefault(), this.search()) },
      el("h3", {}, t("history")),
      el("p", { class: "hint" }, t("hs_help")),
      el(
        "div",
        { class: "fields" },
        field("hs_q", this.inputs.q),
        field("hs_order", this.inputs.order_no),
        field("hs_buyer", this.inputs.buyer),
        supervisor ? field("hs_agent", this.inputs.agent_id) : null,
        field("hs_from", this.inputs.from),
        field("hs_to", this.inputs.to),
      ),
      el("button", { type: "submit", testid: "hs-search" }, t("hs_search")),
    );
    this.results = el("section", { class: "card", testid: "hs-results" });
    this.root.replaceChildren(el("div", { class: "history" }, form, this.results));
    this.search();
  }

  params(before) {
    const v = (k) => this.inputs[k]?.value;
    return query({ q: v("q"), order_no: v("order_no"), buyer: v("buyer"), agent_id: v("agent_id"), from: dayStart(v("from")), until: dayStart(v("to"), 1), before, limit: 30 });
  }

  async search(more = false) {
    const before = more && this.hits.length ? this.hits[this.hits.length - 1].created_at : null;
    let page;
    try {
      page = await get(`/api/v1/staff/history?${this.params(before)}`);
    } catch (error) {
      this.results.replaceChildren(el("p", { class: "error", testid: "hs-error" }, errorText(error)));
      return;
    }
    this.hits = more ? this.hits.concat(page) : page;
    this.draw(page.length === 30);
  }

  draw(mayHaveMore) {
    if (!this.hits.length) {
      this.results.replaceChildren(el("p", { class: "hint", testid: "hs-none" }, t("hs_none")));
      return;
    }
    const items = this.hits.map((h) =>
      el(
        "li",
        { class: "hit", testid: `hs-hit-${h.conversation_id}` },
        el(
          "a",
          { href: `#/inbox/${h.conversation_id}`, class: "hit-link" },
          el("span", { class: "when" }, new Date(h.created_at).toLocaleString()),
          el("b", { class: "who" }, h.buyer_name || t("hs_anonymous")),
          el("span", { class: "pill" }, word("state", h.state)),
          el("span", { class: "agent" }, h.agent_id ? this.agents.get(h.agent_id) || t("hs_agent") : t("hs_no_agent")),
          el("span", { class: "first" }, h.first_message || ""),
        ),
      ),
    );
    this.results.replaceChildren(
      el("p", { class: "hint", testid: "hs-count" }, t("hs_count", this.hits.length)),
      el("ul", { class: "hs-hits", testid: "hs-hits" }, items),
      mayHaveMore ? el("button", { type: "button", class: "secondary", testid: "hs-more", onclick: () => this.search(true) }, t("hs_more")) : null,
    );
  }
}
