// The panel beside a chat: the hand-off packet, who the buyer is and what they
// looked at, knowledge search, quick replies, and the transfer and whisper forms.

import { ApiError, el, get, post } from "./api.js";
import { addStrings, currentLang, errorText, t, word } from "./i18n.js";
import { orderCardNode, sendOrderCard } from "./cards.js";
import { showPortrait } from "./portrait.js";

addStrings(
  {
    visit_h: "本次访问", visit_src_search: "搜索", visit_src_ads: "广告", visit_src_recommendation: "推荐", visit_src_referral: "外部链接",
    visit_src_direct: "直接访问", visit_returning: "回访", visit_new: "新访客", visit_before_chat: (n) => `咨询前浏览 ${n} 页`,
    visit_campaign: "活动",
  },
  {
    visit_h: "This visit", visit_src_search: "Search", visit_src_ads: "Ads", visit_src_recommendation: "Recommendation", visit_src_referral: "Referral",
    visit_src_direct: "Direct", visit_returning: "Returning", visit_new: "New visitor", visit_before_chat: (n) => `${n} page${n === 1 ? "" : "s"} before the chat`,
    visit_campaign: "Campaign",
  },
);

/// A time on a page for people: 45秒, 3分05秒 / 45s, 3m 05s.
function dwell(ms) {
  const s = Math.round(ms / 1000);
  const [m, r] = [Math.floor(s / 60), s % 60];
  if (currentLang() === "zh") return m ? `${m}分${String(r).padStart(2, "0")}秒` : `${r}秒`;
  return m ? `${m}m ${String(r).padStart(2, "0")}s` : `${r}s`;
}

/// The shop visit the chat was opened from: where the buyer came from and the
/// pages in order with the time on each (the chat started after the marked one).
function visitPath(visit) {
  const campaign = visit.utm?.campaign || visit.utm?.source;
  const pages = visit.pages.map((p, i) =>
    el(
      "li",
      { testid: "visit-path-page", "data-dwell-ms": p.dwell_ms, class: i + 1 === visit.pages_before_chat ? "chat-here" : null },
      /^https?:\/\//i.test(p.url) ? el("a", { href: p.url, target: "_blank", rel: "noopener noreferrer" }, p.title || p.url) : p.title || p.url,
      el("span", { class: "hint" }, ` · ${dwell(p.dwell_ms)}`),
    ),
  );
  return el(
    "div",
    { class: "visit-path", testid: "chat-visit", "data-source": visit.source },
    el("h4", {}, t("visit_h")),
    el("p", { testid: "chat-visit-source" }, `${t(`visit_src_${visit.source}`)} · ${t(visit.returning ? "visit_returning" : "visit_new")}${campaign ? ` · ${t("visit_campaign")} ${campaign}` : ""}`),
    el("p", { class: "hint", testid: "chat-visit-before" }, t("visit_before_chat", visit.pages_before_chat)),
    el("ol", { class: "pages" }, pages),
  );
}

const VARIABLES = ["buyer_name", "order_no", "agent_name"];
const PLACEHOLDER = /\{([a-z_]+)\}/g;
const CJK = /[\u3400-\u9fff]/;

/// Fills {buyer_name}, {order_no} and {agent_name} in a quick reply. A buyer or
/// agent without a name gets a polite word in the reply's own language ("亲" /
/// "there"); an order number has no stand-in, so {order_no} stays for the agent
/// to fill (and `unfilled` keeps the reply from being sent like that).
export function fillTemplate(text, values = {}) {
  const zh = CJK.test(text);
  const fallback = { buyer_name: zh ? "亲" : "there", agent_name: zh ? "客服" : "your agent" };
  return text.replace(PLACEHOLDER, (whole, name) => {
    if (!VARIABLES.includes(name)) return whole;
    const value = typeof values[name] === "string" ? values[name].trim() : values[name];
    return value ? String(value) : fallback[name] || whole;
  });
}

/// The known placeholders still in a reply (never sent to a buyer raw).
export function unfilled(text) {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]).filter((name) => VARIABLES.includes(name));
}

/// What this chat knows for the placeholders.
export function templateValues(chat) {
  return {
    buyer_name: (!chat.visitor?.pii_masked && chat.visitor?.real_name) || chat.visitor?.nickname,
    order_no: chat.packet?.slots?.order_no,
    agent_name: chat.app.me.display_name || chat.app.me.username,
  };
}

function kv(label, value) {
  return el("div", { class: "kv" }, el("span", { class: "k" }, label), el("span", { class: "v" }, value ?? "–"));
}

export class SidePanel {
  constructor(chat) {
    this.chat = chat;
    this.packetBox = el("section", { class: "card", testid: "handoff-packet" }, el("h3", {}, t("packet")));
    this.visitorBox = el("section", { class: "card", testid: "visitor-info" }, el("h3", {}, t("visitor")));
    this.form = el("section", { class: "card", testid: "side-form", hidden: true });
    this.kbResults = el("div", { class: "kb-results", testid: "kb-results" });
    const kbInput = el("input", { type: "search", placeholder: t("kb_search"), testid: "kb-search" });
    const kb = el(
      "form",
      { class: "card", onsubmit: (e) => (e.preventDefault(), this.search(kbInput.value)) },
      el("h3", {}, t("kb_search")),
      el("div", { class: "row" }, kbInput, el("button", { type: "submit" }, t("search"))),
      this.kbResults,
    );
    this.quickBox = el("section", { class: "card", testid: "quick-replies" }, el("h3", {}, t("quick_replies")));
    const close = el("button", { type: "button", class: "link side-close", onclick: () => chat.pane.classList.remove("show-side") }, `‹ ${t("back")}`);
    this.root = el("aside", { class: "chat-side" }, close, this.form, this.packetBox, this.visitorBox, kb, this.quickBox);
  }

  async loadPacket() {
    try {
      const p = await get(`${this.chat.base}/handoff`);
      this.chat.packet = p;
      this.packetBox.append(
        kv(t("reason"), word("reason", p.reason)),
        kv(t("intent"), word("intent", p.intent)),
        kv(t("summary"), p.summary),
        kv(t("slots"), Object.entries(p.slots || {}).map(([k, v]) => `${word("slot", k)}: ${v}`).join("，") || "–"),
        el("h4", {}, t("retrieved")),
        el("ul", {}, (p.retrieved || []).map((r) => el("li", {}, `${r.title} (${Number(r.score).toFixed(2)})`))),
        el("h4", {}, t("bot_answers")),
        el("ul", {}, (p.bot_answers || []).map((a) => el("li", {}, a))),
      );
    } catch (error) {
      const none = error instanceof ApiError && error.status === 404;
      this.packetBox.append(el("p", { class: "hint", testid: "no-packet" }, none ? t("no_packet") : error.message));
    }
  }

  showVisitor(v) {
    const ctx = v.context || {};
    const hidden = v.pii_masked && (v.real_name || v.phone || v.address);
    const rows = [
      kv(t("buyer"), v.real_name || v.nickname || v.id.slice(-6)),
      v.shop_account_id ? kv("ID", v.shop_account_id) : null,
      v.phone ? el("div", { testid: "visitor-phone" }, kv("☎", v.phone)) : null,
      v.address ? el("div", { testid: "visitor-address" }, kv(t("address"), v.address)) : null,
      hidden ? this.revealButton() : null,
      this.chat.visit ? visitPath(this.chat.visit) : null,
      this.chat.visit ? null : el("h4", {}, t("pages")),
      this.chat.visit ? null : el("ul", { class: "pages" }, (ctx.pages_viewed || []).slice(-8).map((p) => el("li", {}, /^https?:\/\//i.test(p.url) ? el("a", { href: p.url, target: "_blank", rel: "noopener noreferrer" }, p.title || p.url) : p.title || p.url))),
      el("h4", {}, t("cart")),
      el("ul", {}, (ctx.cart || []).map((c) => el("li", {}, `${c.name} × ${c.quantity}  ¥${(c.unit_price_cents / 100).toFixed(2)}`))),
      el("h4", {}, t("portrait")),
      (this.portraitBox = el("div", { class: "portrait", testid: "portrait" }, el("p", { class: "hint" }, t("loading")))),
      el("h4", {}, t("orders")),
      (this.ordersBox = el("div", { class: "orders", testid: "orders" }, el("p", { class: "hint" }, t("loading")))),
    ];
    this.visitorBox.append(...rows.filter(Boolean));
    showPortrait(this.chat.base, this.portraitBox);
    this.loadOrders();
  }

  /// The buyer's recent orders as cards: number, status, items, total and the
  /// newest tracking step. Only a buyer signed in with their shop account has any.
  async loadOrders() {
    const box = this.ordersBox;
    let found;
    try {
      found = await get(`${this.chat.base}/orders`);
    } catch (error) {
      box.replaceChildren(el("p", { class: "hint", testid: "orders-error" }, errorText(error)));
      return;
    }
    if (!found.account_verified) return box.replaceChildren(el("p", { class: "hint", testid: "orders-anonymous" }, t("orders_anonymous")));
    if (!found.orders.length) return box.replaceChildren(el("p", { class: "hint", testid: "orders-none" }, t("orders_none")));
    box.replaceChildren(
      ...found.orders.map((o) =>
        orderCardNode(
          o,
          el(
            "div",
            { class: "row" },
            el("button", { type: "button", class: "link", testid: "order-insert", onclick: () => this.chat.insertText(o.order_no) }, t("order_insert")),
            el("button", { type: "button", class: "link", testid: "order-send", onclick: (event) => sendOrderCard(this.chat, o.order_no, event.currentTarget) }, t("order_send")),
          ),
        ),
      ),
    );
  }

  /// Personal data is masked until the chat's own agent asks for it; the
  /// server records the reveal in the audit log.
  revealButton() {
    const message = el("p", { class: "hint", testid: "reveal-hint" }, t("pii_masked_hint"));
    const button = el("button", { type: "button", class: "link", testid: "reveal-pii" }, t("reveal_pii"));
    button.onclick = async () => {
      try {
        this.chat.visitor = await post(`${this.chat.base}/reveal`);
        this.visitorBox.replaceChildren(el("h3", {}, t("visitor")));
        this.showVisitor(this.chat.visitor);
      } catch (error) {
        message.textContent = errorText(error);
      }
    };
    return el("div", { class: "reveal" }, message, button);
  }

  showQuickReplies(replies) {
    const byCategory = new Map();
    for (const r of replies) byCategory.set(r.category, [...(byCategory.get(r.category) || []), r]);
    for (const [category, list] of byCategory) {
      this.quickBox.append(
        el("h4", {}, category),
        el("ul", {}, list.map((r) => el("li", {}, el("button", { type: "button", class: "link", onclick: () => this.chat.insert(r.text) }, el("b", {}, r.shortcut), " ", r.text)))),
      );
    }
    if (!replies.length) this.quickBox.append(el("p", { class: "hint" }, t("empty")));
  }

  async search(query) {
    if (!query.trim()) return;
    try {
      const { hits } = await get(`/api/v1/kb/search?q=${encodeURIComponent(query)}&limit=5`);
      this.kbResults.replaceChildren(
        ...hits.map((h) =>
          el("div", { class: "hit" }, el("b", {}, h.title), el("p", {}, h.answer), el("button", { type: "button", class: "link", onclick: () => this.chat.insert(h.answer) }, t("insert"))),
        ),
      );
      if (!hits.length) this.kbResults.replaceChildren(el("p", { class: "hint" }, t("empty")));
      return hits;
    } catch (error) {
      this.kbResults.replaceChildren(el("p", { class: "hint" }, error.status === 404 ? t("kb_unavailable") : error.message));
      return [];
    }
  }

  /// The best knowledge answer to the buyer's latest message, editable before use.
  /// Suggests the knowledge base's answer to the buyer's latest message, only
  /// when the search is confident enough for the bot to answer with it; an
  /// older request answering late is ignored.
  async suggestFor(text) {
    if (!text) return;
    const ticket = (this.suggestTicket = (this.suggestTicket || 0) + 1);
    let result;
    try {
      result = await get(`/api/v1/kb/search?q=${encodeURIComponent(text)}&limit=1`);
    } catch {
      return;
    }
    if (ticket !== this.suggestTicket) return;
    const box = this.chat.suggested;
    const hits = result.hits || [];
    // The bot's own cut-off: what it would not answer with, an agent is not offered.
    const sure = result.decision && result.decision.kind !== "hand_off";
    if (!hits.length || !sure) {
      box.hidden = true;
      return;
    }
    const draft = el("textarea", { rows: 2, testid: "suggested-text" });
    draft.value = hits[0].answer;
    box.replaceChildren(el("span", { class: "k" }, t("suggested")), draft, el("button", { type: "button", onclick: () => this.chat.insert(draft.value) }, t("use")));
    box.hidden = false;
  }

  async openTransfer() {
    const [agents, groups] = await Promise.all([get("/api/v1/staff/agents"), get("/api/v1/staff/routing/groups")]);
    const target = el(
      "select",
      { testid: "transfer-target" },
      el("optgroup", { label: t("to_agent") }, agents.filter((a) => a.agent_id !== this.chat.app.me.id).map((a) => el("option", { value: `agent:${a.agent_id}` }, `${a.display_name} (${t(a.status)} ${a.active}/${a.max_chats})`))),
      el("optgroup", { label: t("to_group") }, groups.map((g) => el("option", { value: `group:${g.id}` }, g.name))),
    );
    const note = el("textarea", { rows: 2, placeholder: t("note"), testid: "transfer-note" });
    this.showForm(t("transfer"), [target, note], async () => {
      const [kind, id] = target.value.split(/:(.*)/s);
      const body = { note: note.value || null, [kind === "agent" ? "to_agent" : "to_group"]: id };
      this.chat.conversation = await post(`${this.chat.base}/transfer`, body);
      this.chat.renderHead();
      this.chat.changed();
    });
  }

  openWhisper() {
    const text = el("textarea", { rows: 3, placeholder: t("note_placeholder"), testid: "whisper-text" });
    this.showForm(t("whisper"), [text], () => post(`${this.chat.base}/notes`, { text: text.value }));
  }

  /// Blocks the chat's visitor, with a reason and how long (the audit log
  /// records it; admins see and lift blocks on the settings page).
  openBlock() {
    const reason = el("input", { type: "text", maxlength: 200, required: true, placeholder: t("block_reason"), testid: "block-reason" });
    const hours = el(
      "select",
      { testid: "block-hours" },
      [[24, "block_1d"], [24 * 7, "block_7d"], [24 * 30, "block_30d"], ["", "block_forever"]].map(([h, key]) => el("option", { value: String(h) }, t(key))),
    );
    this.showForm(t("block"), [reason, hours], async () => {
      try {
        await post(`${this.chat.base}/block`, { reason: reason.value, hours: hours.value ? Number(hours.value) : null });
      } catch (error) {
        throw new Error(errorText(error));
      }
      this.chat.app.toast(t("blocked_done"));
    });
  }

  showForm(title, fields, submit) {
    this.chat.pane.classList.add("show-side");
    const form = el(
      "form",
      {
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            await submit();
            this.form.hidden = true;
          } catch (error) {
            this.chat.app.toast(error.message);
          }
        },
      },
      el("h3", {}, title),
      fields,
      el("div", { class: "row" }, el("button", { type: "submit", testid: "form-confirm" }, t("confirm")), el("button", { type: "button", class: "link", onclick: () => (this.form.hidden = true) }, t("cancel"))),
    );
    this.form.replaceChildren(form);
    this.form.hidden = false;
  }
}
