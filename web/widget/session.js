// The buyer's session: visitor token and conversation kept in localStorage, the
// REST calls, and a WebSocket that resumes after the last sequence number seen.
// Messages are sent with a client_msg_id and kept in an outbox until the server
// acknowledges them, so a reconnect or a reload re-sends without doubling.
// A shop vouches for a signed-in buyer with a signed identity that the embed
// script (widget.js, Xiaoer.identify) hands over; without one the buyer is
// anonymous. The conversation starts only once the identity is known.

const KEY = "xiaoer.widget.v1";
/// The visit the presence frame keeps for this tab (see presence.js).
const VISIT_KEY = "xiaoer.visit";
const BACKOFF_MAX_MS = 15000;
const TYPING_EVERY_MS = 2000;

/// How long an embedded chat waits for the shop page's identity (an older
/// widget.js never sends one: the buyer is then anonymous).
const IDENTITY_WAIT_MS = 3000;

function validIdentity(id) {
  return id && typeof id.account_id === "string" && Number.isInteger(id.expires_at) &&
    typeof id.signature === "string"
    ? { account_id: id.account_id, expires_at: id.expires_at, signature: id.signature }
    : null;
}

/// Resolves with the identity the page that embeds the chat sends (null when
/// anonymous); a later, different identity reloads the chat as that buyer.
function identityFromParent() {
  if (window.parent === window) return Promise.resolve(null);
  let opened; // the account the chat opened as (null: anonymous)
  return new Promise((resolve) => {
    const settle = (identity) => {
      opened = identity ? identity.account_id : null;
      resolve(identity);
    };
    setTimeout(() => opened === undefined && settle(null), IDENTITY_WAIT_MS);
    window.addEventListener("message", (e) => {
      if (e.source !== window.parent || !e.data || e.data.type !== "xiaoer:identity") return;
      const identity = validIdentity(e.data.identity);
      if (opened === undefined) settle(identity);
      else if ((identity ? identity.account_id : null) !== opened) location.reload();
    });
  });
}

function load() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) || {};
  } catch {
    return {};
  }
}

export class Session {
  constructor(handlers, entryPage = null, campaign = null) {
    this.handlers = handlers; // { frame(f), status(s), reset(), challenge() }
    this.entryPage = entryPage; // the shop page the chat opens on (chooses the welcome message)
    this.campaign = campaign; // the campaign the buyer came from (chooses it before the page)
    this.saved = load();
    this.lastSeq = 0;
    this.socket = null;
    this.retries = 0;
    this.outbox = new Map(this.saved.outbox || []);
    this.identity = identityFromParent();
  }

  get conversationId() {
    return this.saved.conversation_id;
  }

  get token() {
    return this.saved.visitor_token;
  }

  save() {
    this.saved.outbox = [...this.outbox];
    localStorage.setItem(KEY, JSON.stringify(this.saved));
  }

  async api(method, path, body, contentType = "application/json") {
    const headers = { Authorization: `Bearer ${this.token}` };
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = contentType;
      init.body = contentType === "application/json" ? JSON.stringify(body) : body;
    }
    const res = await fetch(path, init);
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) {
      const error = new Error((data && data.error && data.error.message) || res.statusText);
      error.status = res.status;
      error.code = data && data.error && data.error.code;
      throw error;
    }
    return data;
  }

  conversationPath(suffix = "") {
    return `/api/v1/conversations/${this.conversationId}${suffix}`;
  }

  /// Reuses the stored conversation when it still answers and belongs to the same
  /// buyer; else starts one (as the signed-in buyer, or anonymously).
  async open() {
    const identity = await this.identity;
    const account = identity ? identity.account_id : null;
    const invited = await this.acceptInvitation(identity);
    if (invited) return invited;
    if (this.conversationId && this.token && (this.saved.account || null) === account) {
      try {
        return await this.api("GET", this.conversationPath());
      } catch (e) {
        if (e.status !== 404 && e.status !== 401) throw e;
      }
    }
    let res = await this.start(identity);
    if (identity && res.status === 400) {
      // The shop's signature was refused (expired, wrong secret): chat anonymously.
      console.warn("xiaoer: the signed identity was refused; chatting anonymously");
      res = await this.start(null);
    }
    if (!res.ok) {
      const error = new Error(`cannot start a conversation (${res.status})`);
      error.status = res.status;
      error.retryAfter = Number(res.headers.get("Retry-After")) || 5;
      throw error;
    }
    const started = await res.json();
    this.saved.account = res.identified ? account : null;
    if (started.visitor_token) this.saved.visitor_token = started.visitor_token;
    this.saved.conversation_id = started.conversation.id;
    this.outbox.clear();
    this.save();
    this.handlers.reset();
    return started.conversation;
  }

  /// Opened from an invitation (?invite=): the chat starts with its greeting. An
  /// invitation already answered, or a page without a visit, opens as usual.
  async acceptInvitation(identity) {
    const invitation = new URLSearchParams(location.search).get("invite");
    const visitKey = sessionStorage.getItem(VISIT_KEY);
    if (!invitation || !visitKey) return null;
    const res = await fetch("/api/v1/conversations", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ channel: "web", visitor_token: this.token || null, identity, lang: widgetLang(), invitation: { id: invitation, visit_key: visitKey } }),
    }).catch(() => null);
    if (!res || !res.ok) return null;
    const started = await res.json();
    this.saved.account = identity ? identity.account_id : null;
    if (started.visitor_token) this.saved.visitor_token = started.visitor_token;
    this.saved.conversation_id = started.conversation.id;
    this.outbox.clear();
    this.save();
    this.handlers.reset();
    return started.conversation;
  }

  async start(identity, altcha = null) {
    const res = await fetch("/api/v1/conversations", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      // The visit this shop tab is on (presence.js keeps its key): the chat
      // counts in the visitor funnel under the visit's source.
      body: JSON.stringify({ channel: "web", visitor_token: this.token || null, identity, lang: widgetLang(), altcha, entry_page: this.entryPage, campaign: this.campaign, visit_key: sessionStorage.getItem(VISIT_KEY) }),
    });
    res.identified = identity !== null;
    // Many chats from this network (or an attack): solve a proof of work first.
    if (res.status === 403 && !altcha && this.handlers.challenge) {
      const data = await res.clone().json().catch(() => null);
      if (data && data.error && data.error.code === "challenge_required") {
        return this.start(identity, await this.handlers.challenge());
      }
    }
    return res;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}${this.conversationPath("/ws")}?after=${this.lastSeq}&access_token=${encodeURIComponent(this.token)}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onmessage = (m) => this.onFrame(JSON.parse(m.data));
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.handlers.status("reconnecting");
      const delay = Math.min(BACKOFF_MAX_MS, 500 * 2 ** this.retries++);
      setTimeout(() => this.connect(), delay);
    };
  }

  onFrame(frame) {
    if (frame.type === "ready") {
      this.retries = 0;
      this.handlers.status("online");
      for (const [id, body] of this.outbox) this.transmit(id, body);
    } else if (frame.type === "event") {
      this.lastSeq = Math.max(this.lastSeq, frame.event.seq);
      if (frame.event.client_msg_id && this.outbox.delete(frame.event.client_msg_id)) this.save();
    } else if (frame.type === "ack") {
      if (this.outbox.delete(frame.client_msg_id)) this.save();
    } else if (frame.type === "error" && frame.client_msg_id && frame.code !== "rate_limited") {
      // Refused for good (bad input, closed chat): retrying cannot help. A rate
      // limit is not for good: the message stays queued for a tap to retry.
      if (this.outbox.delete(frame.client_msg_id)) this.save();
    }
    this.handlers.frame(frame);
  }

  /// Queues a message; returns its client_msg_id.
  send(body) {
    const id = `w-${crypto.randomUUID()}`;
    this.outbox.set(id, body);
    this.save();
    this.transmit(id, body);
    return id;
  }

  retry(id) {
    const body = this.outbox.get(id);
    if (body) this.transmit(id, body);
  }

  transmit(id, body) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: "send", client_msg_id: id, body }));
    }
  }

  /// At most one typing frame every two seconds (the server limits them too).
  typing() {
    const now = Date.now();
    if (now - (this.lastTyping || 0) < TYPING_EVERY_MS) return;
    this.lastTyping = now;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: "typing" }));
    }
  }
}

/// The widget's language, for the welcome message.
function widgetLang() {
  return (document.documentElement.lang || "zh").toLowerCase().startsWith("en") ? "en" : "zh";
}
