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
    this.keys = (e) => this.onShortcut(e);
    document.addEventListener("keydown", this.keys);
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
    document.removeEventListener("keydown", this.keys);
    clearTimeout(this.timer);
    this.chat?.close();
  }

  /// Keyboard shortcuts: Alt+↓ / Alt+↑ next / previous chat of mine (then the
  /// queue), Alt+R resolve, "/" quick replies in the reply box, "?" the list of
  /// shortcuts, Esc closes it.
  onShortcut(e) {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
    const help = document.querySelector("[data-testid=shortcut-help]");
    if (e.key === "Escape" && help) return help.remove();
    if (e.altKey && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      return this.step(e.key === "ArrowDown" ? 1 : -1);
    }
    if (e.altKey && e.code === "KeyR") {
      e.preventDefault();
      return this.chat?.actions.querySelector("[data-testid=action-resolve]")?.click();
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/" && this.chat && !this.chat.input.disabled) {
      e.preventDefault();
      this.chat.input.value = "/";
      this.chat.input.focus();
      this.chat.showSuggestions();
    } else if (e.key === "?") {
      e.preventDefault();
      if (help) help.remove();
      else document.body.append(shortcutHelp());
    }
  }

  /// Opens the next (or previous) chat in the lists as shown: mine, then the queue.
  step(direction) {
    const links = [...this.lists.querySelectorAll("[data-testid=list-mine] a, [data-testid=list-queue] a")];
    if (!links.length) return;
    const at = links.findIndex((a) => a.getAttribute("href") === `#/inbox/${this.current}`);
    const next = links[(at + direction + links.length) % links.length] || links[0];
    location.hash = next.getAttribute("href");
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

function shortcutHelp() {
  const rows = [["Alt + ↓ / ↑", "sc_next"], ["Alt + R", "sc_resolve"], ["/", "sc_quick"], ["?", "sc_help"], ["Esc", "sc_close"]];
  const close = () => box.remove();
  const box = el(
    "div",
    { class: "shortcut-help", role: "dialog", "aria-label": t("sc_title"), testid: "shortcut-help" },
    el("h3", {}, t("sc_title")),
    el("dl", {}, rows.flatMap(([keys, key]) => [el("dt", {}, el("kbd", {}, keys)), el("dd", {}, t(key))])),
    el("button", { type: "button", onclick: close, testid: "shortcut-close" }, t("sc_close")),
  );
  return box;
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
