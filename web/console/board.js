// The supervisor board: queues per skill group, agents with presence and load,
// live chats with waiting and reply times; whisper and take over from here.

import { ago, el, get, post } from "./api.js";
import { t, word } from "./i18n.js";

const REFRESH_MS = 3000;

/// A table; on a phone each row becomes a card whose cells carry their header.
function table(testid, headers, rows) {
  for (const row of rows) [...row.children].forEach((td, i) => td.setAttribute("data-label", headers[i]));
  return el(
    "div",
    { class: "table-wrap" },
    el("table", { testid, class: "cards-on-phone" }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, rows)),
  );
}

export class Board {
  constructor(app, root) {
    this.app = app;
    this.root = el("div", { class: "board", testid: "board" });
    // The whisper form lives outside the redrawn tables, so a refresh keeps what is typed.
    this.whisper = el("div", { class: "card whisper", testid: "board-whisper", hidden: true });
    root.append(this.whisper, this.root);
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  leave() {
    clearInterval(this.timer);
  }

  async refresh() {
    // A redraw under a finger or a pointer would swallow the click: wait for it.
    if (this.root.matches(":active") || this.root.contains(document.activeElement)) return;
    let board;
    try {
      board = await get("/api/v1/staff/supervision/board");
    } catch (error) {
      this.root.replaceChildren(el("p", { class: "hint" }, error.message));
      return;
    }
    const names = new Map(board.agents.map((a) => [a.agent_id, a.display_name]));
    const groups = board.groups.map((g) =>
      el(
        "tr",
        { testid: `board-group-${g.id}`, class: g.alert ? "alerting" : "" },
        el("td", {}, g.name),
        el("td", {}, word("strategy", g.strategy)),
        el("td", { class: g.waiting ? "hot" : "" }, String(g.waiting)),
        el("td", {}, g.longest_wait_ms === null ? "–" : ago(g.longest_wait_ms)),
        el("td", { "data-alert": g.alert ? g.alert.reason : "" }, g.alert ? el("strong", { class: "hot" }, word("alert_reason", g.alert.reason)) : t("alert_ok")),
        el("td", {}, String(g.members.length)),
      ),
    );
    const agents = board.agents.map((a) =>
      el(
        "tr",
        { testid: `board-agent-${a.agent_id}` },
        el("td", {}, a.display_name),
        el("td", {}, el("span", { class: `presence p-${a.status}` }, t(a.status))),
        el("td", {}, `${a.active}/${a.max_chats}`),
        el("td", { "data-replies": a.replies_15m }, a.replies_15m ? `${ago(a.reply_avg_15m_ms)} · ${t("replies_n", a.replies_15m)}` : "–"),
      ),
    );
    const chats = board.chats.map((c) =>
      el(
        "tr",
        { testid: `board-chat-${c.conversation_id}` },
        el("td", {}, el("a", { href: `#/inbox/${c.conversation_id}` }, `#${c.conversation_id.slice(-6)}`)),
        el("td", {}, t(`state_${c.state}`)),
        el("td", {}, c.agent_id ? names.get(c.agent_id) || c.agent_id.slice(-6) : "–"),
        el("td", { class: c.queued_ms > 60000 ? "hot" : "" }, ago(c.queued_ms)),
        el("td", { class: c.unanswered_ms > 60000 ? "hot" : "" }, ago(c.unanswered_ms)),
        el("td", {}, ago(c.last_reply_ms)),
        el("td", {}, this.actions(c)),
      ),
    );
    this.root.replaceChildren(
      el("section", {}, el("h2", {}, t("groups_h")), table("board-groups", [t("name"), t("strategy"), t("waiting"), t("longest_wait"), t("queue_alert"), t("agents_h")], groups)),
      el("section", {}, el("h2", {}, t("agents_h")), table("board-agents", [t("name"), t("status"), t("load"), t("reply_15m")], agents)),
      el(
        "section",
        { class: "wide" },
        el("h2", {}, t("chats_h")),
        table("board-chats", [t("conversation"), t("status"), t("owner"), t("queued"), t("unanswered"), t("reply_speed"), t("actions")], chats),
      ),
    );
  }

  actions(chat) {
    const base = `/api/v1/staff/conversations/${chat.conversation_id}`;
    const whisper = el("button", { type: "button", class: "link", testid: "board-whisper-open", onclick: () => this.openWhisper(chat.conversation_id) }, t("whisper"));
    const takeOver = chat.state === "with_agent" && chat.agent_id !== this.app.me.id
      ? el("button", {
        type: "button", class: "link",
        onclick: async () => {
          try {
            await post(`${base}/takeover`);
            location.hash = `#/inbox/${chat.conversation_id}`;
          } catch (e) {
            this.app.toast(e.message);
          }
        },
      }, t("takeover"))
      : null;
    return el("span", { class: "row" }, whisper, takeOver);
  }

  openWhisper(conversationId) {
    const text = el("textarea", { rows: 3, required: true, maxlength: 5000, placeholder: t("note_placeholder"), testid: "board-whisper-text" });
    const close = () => (this.whisper.hidden = true);
    const send = async (e) => {
      e.preventDefault();
      try {
        await post(`/api/v1/staff/conversations/${conversationId}/notes`, { text: text.value });
        close();
        this.app.toast(t("saved"));
      } catch (error) {
        this.app.toast(error.message);
      }
    };
    this.whisper.replaceChildren(
      el(
        "form",
        { onsubmit: send },
        el("h3", {}, t("whisper_to", `#${conversationId.slice(-6)}`)),
        text,
        el("div", { class: "row" }, el("button", { type: "submit", testid: "board-whisper-send" }, t("send")), el("button", { type: "button", class: "link", onclick: close }, t("cancel"))),
      ),
    );
    this.whisper.hidden = false;
    text.focus();
  }
}
