// The inbox: my chats, the waiting queue and my skill groups, beside the open chat.
// On a phone only one of the two shows at a time.

import { ago, el, get } from "./api.js";
import { t, word } from "./i18n.js";
import { ChatView } from "./chat.js";

export class Inbox {
  constructor(app, root, rest) {
    this.app = app;
    this.current = rest[0] || null;
    this.lists = el("div", { class: "lists" });
    this.chatHost = el("section", { class: "chat-host", testid: "chat-host" });
    root.append(el("div", { class: `inbox ${this.current ? "has-chat" : ""}`, testid: "inbox" }, el("aside", { class: "side-lists" }, this.lists), this.chatHost));
    this.listener = (frame) => {
      if (frame.type === "event" || frame.type === "lagged" || frame.type === "ready") this.refreshSoon();
    };
    app.feedListeners.add(this.listener);
    this.refresh();
    if (this.current) {
      app.seen(this.current);
      this.chat = new ChatView(app, this.chatHost, this.current, () => this.refreshSoon());
    } else {
      this.chatHost.append(el("p", { class: "hint" }, t("pick_chat")));
    }
  }

  leave() {
    this.app.feedListeners.delete(this.listener);
    clearTimeout(this.timer);
    this.chat?.close();
  }

  refreshSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), 150);
  }

  async refresh() {
    const me = this.app.me;
    const [mine, queue, groups] = await Promise.all([
      get("/api/v1/staff/conversations").catch(() => []),
      get("/api/v1/staff/queue").catch(() => []),
      get("/api/v1/staff/routing/groups").catch(() => []),
    ]);
    const myGroups = groups.filter((g) => g.members.some((m) => m.agent_id === me.id));
    this.lists.replaceChildren(
      this.section("mine", t("mine"), mine),
      this.section("queue", t("queue"), queue),
      el(
        "section",
        { class: "list", testid: "list-groups" },
        el("h2", {}, t("groups")),
        myGroups.length
          ? el("ul", {}, myGroups.map((g) => el("li", { class: "group" }, el("span", {}, g.name), el("span", { class: "pill" }, t("waiting_n", g.waiting)))))
          : el("p", { class: "hint" }, t("empty")),
      ),
    );
  }

  section(key, title, conversations) {
    const now = Date.now();
    const items = conversations.map((c) =>
      el(
        "li",
        { class: `conv ${c.id === this.current ? "active" : ""} ${this.app.unseen.has(c.id) ? "unseen" : ""}` },
        el(
          "a",
          { href: `#/inbox/${c.id}`, testid: `conv-${c.id}` },
          el("span", { class: "conv-name", testid: "conv-name" }, buyerLabel(c)),
          c.unread ? el("span", { class: "unread", testid: "conv-unread", title: t("unread_n", c.unread) }, String(c.unread)) : el("span", { class: `state state-${c.state}` }, t(`state_${c.state}`)),
          el("span", { class: "preview", testid: "conv-preview" }, preview(c.last_message)),
          el("span", { class: "when" }, `${word("channel", c.channel)} · ${waitWords(c, now)}`),
        ),
      ),
    );
    return el(
      "section",
      { class: "list", testid: `list-${key}` },
      el("h2", {}, title, el("span", { class: "count" }, String(conversations.length))),
      items.length ? el("ul", {}, items) : el("p", { class: "hint" }, t("empty")),
    );
  }
}

/// The buyer's nickname, or a friendly label for an anonymous visitor.
export function buyerLabel(c) {
  return c.buyer_name || t("visitor_label", c.visitor_id.slice(-4).toUpperCase());
}

function preview(last) {
  if (!last) return "–";
  const who = last.sender === "buyer" ? "" : `${t(last.sender)}：`;
  const text = last.kind === "text" ? last.text : `${t(`preview_${last.kind}`)} ${last.text}`;
  return `${who}${text}`;
}

/// Waiting chats count from when they started waiting; others show their last activity.
function waitWords(c, now) {
  if (c.state === "waiting") return t("waited", ago(now - c.updated_at));
  const last = c.last_message?.at ?? c.updated_at;
  return c.last_message?.sender === "buyer" ? t("waited", ago(now - last)) : ago(now - last);
}
