// One conversation: its history and live events, the reply box (quick replies by
// "/shortcut", an editable suggested reply), and the actions an agent or a
// supervisor can take on it.

import { el, get, liveSocket, post, upload } from "./api.js";
import { errorText, t, word } from "./i18n.js";
import { SidePanel, fillTemplate, templateValues, unfilled } from "./side.js";
import { buyerLabel } from "./inbox.js";
import { createFromChat } from "./tickets.js";
import { couponCardNode, orderCardNode, productCardNode, toggleCouponPicker, toggleProductPicker } from "./cards.js";

/// Hour and minute; the date too when it is not today.
function stamp(ms) {
  const d = new Date(ms);
  const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  return d.toDateString() === new Date().toDateString() ? hm : `${d.getMonth() + 1}/${d.getDate()} ${hm}`;
}

export class ChatView {
  constructor(app, root, conversationId, changed) {
    this.app = app;
    this.id = conversationId;
    this.changed = changed;
    this.lastSeq = 0;
    this.shown = new Set();
    this.replies = [];
    this.names = new Map([[app.me.id, app.me.display_name]]);
    this.build(root);
    this.load();
  }

  close() {
    this.socket?.close();
  }

  get base() {
    return `/api/v1/staff/conversations/${this.id}`;
  }

  build(root) {
    this.title = el("div", { class: "chat-title" });
    this.actions = el("div", { class: "actions", testid: "chat-actions" });
    this.log = el("ol", { class: "log", testid: "agent-log", "aria-live": "polite" });
    // Reading the newest message stays so when the pane changes size (a phone
    // turned, the keyboard opened); scrolled up to read history, it is left alone.
    this.atBottom = true;
    this.log.addEventListener("scroll", () => (this.atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 8));
    new ResizeObserver(() => this.atBottom && (this.log.scrollTop = this.log.scrollHeight)).observe(this.log);
    this.typing = el("div", { class: "typing", hidden: true }, t("typing"));
    this.suggest = el("div", { class: "suggest", testid: "quick-suggest", hidden: true });
    this.input = el("textarea", { rows: 2, placeholder: t("reply_placeholder"), testid: "reply-input", maxlength: 5000 });
    this.input.addEventListener("input", () => this.showSuggestions());
    this.input.addEventListener("keydown", (e) => this.onKey(e));
    this.suggested = el("div", { class: "suggested", testid: "suggested-reply", hidden: true });
    const compose = el(
      "form",
      { class: "reply", testid: "reply-form", onsubmit: (e) => (e.preventDefault(), this.send()) },
      this.suggested,
      this.suggest,
      el("div", { class: "row" }, this.attachButton(), this.input, el("button", { type: "submit", testid: "reply-send" }, t("send"))),
    );
    this.side = new SidePanel(this);
    const back = el("a", { href: "#/inbox", class: "back" }, `‹ ${t("back")}`);
    const info = el("button", { type: "button", class: "link info-toggle", onclick: () => this.pane.classList.toggle("show-side") }, t("info"));
    this.pane = el(
      "div",
      { class: "chat-pane" },
      el("div", { class: "chat-main" }, el("header", { class: "chat-head" }, back, this.title, info, this.actions), this.log, this.typing, compose),
      this.side.root,
    );
    root.replaceChildren(this.pane);
  }

  async load() {
    try {
      const detail = await get(this.base);
      this.conversation = detail.conversation;
      this.visitor = detail.visitor;
      this.channelName = detail.channel_name ?? null;
      this.visit = detail.visit ?? null;
      this.conversation.buyer_name = detail.visitor?.nickname ?? null;
    } catch (error) {
      this.log.append(el("li", { class: "msg system" }, el("div", { class: "body" }, error.message)));
      return;
    }
    const agents = await get("/api/v1/staff/agents").catch(() => []);
    for (const a of agents) this.names.set(a.agent_id, a.display_name);
    this.renderHead();
    this.side.showVisitor(this.visitor);
    this.side.loadPacket();
    this.replies = await get("/api/v1/staff/quick-replies").catch(() => []);
    this.side.showQuickReplies(this.replies);
    this.socket = liveSocket(() => `${this.base}/ws?after=${this.lastSeq}`, (frame) => this.onFrame(frame));
  }

  onFrame(frame) {
    if (frame.type === "event") this.render(frame.event);
    else if (frame.type === "typing") {
      this.typing.textContent = t(frame.from === "bot" ? "typing_bot" : "typing");
      this.typing.hidden = false;
      clearTimeout(this.typingTimer);
      this.typingTimer = setTimeout(() => (this.typing.hidden = true), 3000);
    } else if (frame.type === "stream") this.stream(frame);
  }

  stream(frame) {
    let item = this.log.querySelector(`[data-stream="${frame.stream_id}"]`);
    if (!item) {
      item = el("li", { class: "msg bot streaming", "data-stream": frame.stream_id }, el("span", { class: "who" }, t("bot")), el("div", { class: "body" }));
      this.log.append(item);
    }
    item.querySelector(".body").textContent += frame.delta;
  }

  render(event) {
    if (this.shown.has(event.seq)) return;
    this.shown.add(event.seq);
    this.lastSeq = Math.max(this.lastSeq, event.seq);
    let item;
    if (event.kind === "state_changed") {
      this.conversation.state = event.to;
      this.conversation.agent_id = event.agent_id ?? null;
      const note = event.note ? ` — ${event.note}` : "";
      item = el("li", { class: "msg system", testid: "msg-state" }, el("div", { class: "body" }, `${stateWords(event)}${note}`));
      this.renderHead();
      this.changed();
    } else if (event.kind === "note") {
      item = el("li", { class: "msg note", testid: "msg-note" }, this.who(event, t("internal")), el("div", { class: "body" }, event.text));
    } else {
      const kind = event.sender.kind;
      if (event.body.stream_id) this.log.querySelector(`[data-stream="${event.body.stream_id}"]`)?.remove();
      item = el("li", { class: `msg ${kind}`, testid: `msg-${kind}` }, this.who(event), this.body(event.body));
      if (kind === "buyer") {
        this.side.suggestFor(event.body.text);
        this.markReadSoon();
      }
    }
    item.dataset.seq = event.seq;
    this.log.append(item);
    this.toNewest();
  }

  /// Who wrote it (an agent by name; 机器人, 系统) and when.
  who(event, prefix) {
    const s = event.sender;
    const name = s.kind === "agent" ? this.names.get(s.id) || t("agent") : s.kind === "buyer" ? buyerLabel(this.conversation) : t(s.kind);
    const label = prefix ? `${prefix} · ${name}` : name;
    return el("span", { class: "who", testid: "msg-who" }, label, " ", el("time", { testid: "msg-time", datetime: new Date(event.created_at).toISOString() }, stamp(event.created_at)));
  }

  /// Keeps the newest message in view, also once pictures have loaded.
  toNewest() {
    const scroll = () => {
      this.log.scrollTop = this.log.scrollHeight;
      this.atBottom = true;
    };
    scroll();
    requestAnimationFrame(scroll);
    for (const img of this.log.querySelectorAll("img:not([data-watched])")) {
      img.dataset.watched = "1";
      img.addEventListener("load", scroll, { once: true });
    }
  }

  /// Tells the server what this agent has read (the chat list's unread count).
  markReadSoon() {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      if (document.hidden) return;
      post(`${this.base}/read`, { seq: this.lastSeq }).then(() => this.changed()).catch(() => {});
    }, 400);
  }

  body(body) {
    const box = el("div", { class: "body" });
    if (body.type === "image") {
      box.append(el("img", { src: `${this.base}/attachments/${body.attachment_id}`, alt: body.caption || "image", loading: "lazy" }));
    } else if (body.type === "file") {
      box.append(el("a", { href: `${this.base}/attachments/${body.attachment_id}` }, `📎 ${body.name}`));
    } else if (body.type === "product_card") {
      box.append(productCardNode(body.card));
    } else if (body.type === "voice") {
      box.append(
        el(
          "div",
          { class: "voice", testid: "voice-message" },
          el("audio", { controls: true, preload: "metadata", src: `${this.base}/attachments/${body.attachment_id}` }),
          el("span", { class: "hint" }, `${Math.ceil(body.duration_ms / 1000)}″`),
        ),
      );
    } else if (body.type === "order_card") {
      box.append(orderCardNode(body.card));
    } else if (body.type === "coupon_card") {
      box.append(couponCardNode(body.card));
    } else {
      box.textContent = body.text || "";
      if (body.type === "bot_answer" && body.citations?.length) {
        box.append(el("div", { class: "cites" }, body.citations.map((c) => el("span", { class: "cite" }, c.title))));
      }
      if (body.type === "bot_answer" && body.buttons?.length) {
        // The buyer's quick-reply buttons, as the buyer saw them (a tap comes back as their message).
        box.append(el("div", { class: "quick-menu", testid: "quick-buttons", title: t("quick_menu") }, body.buttons.map((b) => el("span", { class: "quick-chip" }, b))));
      }
    }
    return box;
  }

  renderHead() {
    const c = this.conversation;
    const me = this.app.me;
    const mine = c.agent_id === me.id;
    const supervisor = me.role === "supervisor" || me.role === "admin";
    const channel = this.channelName ? `${word("channel", c.channel)} · ${this.channelName}` : word("channel", c.channel);
    this.title.replaceChildren(
      el("strong", { testid: "chat-buyer" }, buyerLabel(c)),
      " ",
      el("span", { class: `state state-${c.state}`, testid: "chat-state" }, t(`state_${c.state}`)),
      " ",
      el("span", { class: "channel", testid: "chat-channel", title: t("channel") }, channel),
    );
    const act = (key, handler, show = true) => show && el("button", { type: "button", testid: `action-${key}`, onclick: handler }, t(key));
    this.actions.replaceChildren(
      ...[
        act("claim", () => this.act("claim"), c.state === "waiting"),
        act("resolve", () => this.act("resolve"), c.state === "with_agent" && (mine || supervisor)),
        act("handback", () => this.act("handback"), (c.state === "with_agent" || c.state === "waiting") && (mine || supervisor)),
        act("transfer", () => this.side.openTransfer(), c.state === "with_agent" && (mine || supervisor)),
        act("takeover", () => this.act("takeover"), c.state === "with_agent" && !mine && supervisor),
        act("whisper", () => this.side.openWhisper(), c.state !== "closed"),
        act("block", () => this.side.openBlock(), mine || supervisor),
        act("tk_from_chat", () => createFromChat(this.app, c.id), mine || supervisor),
        act("product_card", () => toggleProductPicker(this, this.pane.querySelector("[data-testid=reply-form]")), c.state === "with_agent" && mine),
        act("coupon_card", () => toggleCouponPicker(this, this.pane.querySelector("[data-testid=reply-form]")), c.state === "with_agent" && mine),
      ].filter(Boolean),
    );
    this.input.disabled = !(c.state === "with_agent" && mine);
    this.attach.disabled = this.input.disabled;
  }

  async act(action) {
    try {
      this.conversation = await post(`${this.base}/${action}`);
      this.renderHead();
      this.changed();
    } catch (error) {
      this.app.toast(error.message);
    }
  }

  /// 📎: a picture goes as a picture, any other allowed file (PDF, text,
  /// video) as a file with its name. The server refuses other types and
  /// oversized files with a code the toast puts in words.
  attachButton() {
    this.file = el("input", { type: "file", accept: "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain,video/mp4", hidden: true, testid: "attach-input" });
    this.file.addEventListener("change", () => this.sendFile());
    this.attach = el("button", { type: "button", class: "attach", title: t("attach"), "aria-label": t("attach"), testid: "attach", onclick: () => this.file.click() }, "📎");
    return el("span", { class: "attach-wrap" }, this.attach, this.file);
  }

  async sendFile() {
    const file = this.file.files[0];
    this.file.value = "";
    if (!file) return;
    try {
      const stored = await upload(`${this.base}/attachments`, file);
      const body = file.type.startsWith("image/")
        ? { type: "image", attachment_id: stored.attachment_id, caption: null }
        : { type: "file", attachment_id: stored.attachment_id, name: file.name.slice(0, 200) || "file" };
      await post(`${this.base}/messages`, { client_msg_id: `a-${crypto.randomUUID()}`, body });
    } catch (error) {
      this.app.toast(errorText(error));
    }
  }

  async send() {
    const text = this.input.value.trim();
    if (!text) return;
    if (this.refused(text)) return;
    const clientMsgId = `a-${crypto.randomUUID()}`;
    this.input.value = "";
    this.suggest.hidden = true;
    try {
      await post(`${this.base}/messages`, { client_msg_id: clientMsgId, body: { type: "text", text } });
    } catch (error) {
      this.input.value = text; // keep what was typed
      this.app.toast(error.message);
    }
  }

  /// A reply that must not reach the buyer as typed: a "/shortcut" with no
  /// quick reply behind it, or a placeholder nobody filled in.
  refused(text) {
    this.suggest.querySelector("[data-testid=quick-none]")?.remove();
    let warning = null;
    if (/^\/\S*$/.test(text) && !this.replies.some((r) => r.shortcut === text.toLowerCase())) {
      warning = t("no_quick_reply", text);
    } else if (unfilled(text).length) {
      warning = t("fill_in", unfilled(text).map((name) => `{${name}} (${t(`var_${name}`)})`).join("，"));
    }
    if (!warning) return false;
    this.suggest.replaceChildren(el("p", { class: "hint warn", testid: "quick-none", role: "alert" }, warning));
    this.suggest.hidden = false;
    return true;
  }

  /// Adds `text` where the cursor is in the reply box (an order number from a card).
  insertText(text) {
    if (this.input.disabled) return;
    this.input.setRangeText(text, this.input.selectionStart, this.input.selectionEnd, "end");
    this.input.focus();
  }

  insert(text) {
    this.input.value = fillTemplate(text, templateValues(this));
    this.input.focus();
    this.suggest.hidden = true;
  }

  matching() {
    const typed = this.input.value.trim().toLowerCase();
    if (!typed.startsWith("/")) return [];
    return this.replies.filter((r) => r.shortcut.startsWith(typed)).slice(0, 8);
  }

  showSuggestions() {
    const found = this.matching();
    this.suggest.hidden = !found.length;
    this.suggest.replaceChildren(
      ...found.map((r, i) =>
        el("button", { type: "button", class: i === 0 ? "first" : "", onclick: () => this.insert(r.text) }, el("b", {}, r.shortcut), " ", fillTemplate(r.text, templateValues(this))),
      ),
    );
  }

  onKey(e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      const found = this.matching();
      const typed = this.input.value.trim().toLowerCase();
      // An exact shortcut wins over a longer one it is the start of.
      const pick = found.find((r) => r.shortcut === typed) || found[0];
      if (pick) this.insert(pick.text);
      else this.send();
    }
  }
}

/// A state change in the reader's words: a supervisor moving a chat to
/// themselves is a take-over; an agent-to-agent move is a transfer.
function stateWords(event) {
  const toSelf = event.sender?.kind === "agent" && event.sender.id === event.agent_id;
  if (event.from === "with_agent" && event.to === "with_agent") return toSelf ? t("took_over") : t("transferred");
  return t(`state_${event.to}`);
}
