// The console shell: sign-in, navigation, presence, the live staff feed and
// new-assignment notifications (sound, title badge, desktop notification).

import { ApiError, el, get, liveSocket, post, put } from "./api.js";
import { applyStrings, t, toggleLang, word } from "./i18n.js";
import { Inbox } from "./inbox.js";
import { Board } from "./board.js";
import { Knowledge } from "./kb.js";
import { Integrations } from "./integrations.js";
import { Tickets } from "./tickets.js";
import { Admin } from "./admin.js";
import { MySettings } from "./notifications.js";
import { passwordChangeForm } from "./settings.js";
import { Audit } from "./audit.js";
import { History } from "./history.js";
import { Visitors } from "./visitors.js";
import { Analytics } from "./analytics.js";
import { Quality } from "./quality.js";
import { Bell } from "./bell.js";

const $ = (sel) => document.querySelector(sel);
const baseTitle = document.title;
const app = { me: null, view: null, unseen: new Set(), feedListeners: new Set() };

function toast(text) {
  const box = $("[data-testid=toast]");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 4000);
}
app.toast = toast;

function updateBadge() {
  const n = app.unseen.size;
  document.title = n ? `(${n}) ${t("new_chat")} · ${baseTitle}` : baseTitle;
}

app.seen = (conversationId) => {
  if (app.unseen.delete(conversationId)) {
    updateBadge();
    $("[data-testid=toast]").hidden = true;
  }
};

/// A short two-tone chime made on the spot (no audio file to ship).
function chime() {
  try {
    const ctx = (chime.ctx ||= new AudioContext());
    for (const [freq, at] of [[880, 0], [1320, 0.15]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.15, ctx.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + at + 0.3);
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + at);
      osc.stop(ctx.currentTime + at + 0.3);
    }
  } catch {
    /* sound is a nicety; browsers may block it until the page is used */
  }
}

const known = new Set(); // my open chats, to notice new ones once

function notifyNew(conversationId) {
  if (known.has(conversationId)) return;
  known.add(conversationId);
  if (app.view?.current === conversationId) return;
  app.unseen.add(conversationId);
  updateBadge();
  chime();
  toast(t("assigned_toast"));
  if (document.hidden && window.Notification?.permission === "granted") notify(t("assigned_toast"), `/console/#/inbox/${conversationId}`);
}

/// Through the service worker where there is one (phones allow no other way),
/// so that tapping the notification opens the chat.
async function notify(text, url) {
  const registration = await navigator.serviceWorker?.getRegistration("/console/").catch(() => null);
  if (registration) registration.showNotification(text, { body: baseTitle, icon: "/console/icon.svg", tag: url, data: { url } });
  else new Notification(text);
}

// The installable app: the shell from the cache when offline, notifications.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker
    .register("/console/sw.js", { scope: "/console/" })
    .then(() => navigator.serviceWorker.ready)
    .then((registration) => Object.assign(document.documentElement.dataset, { sw: "ready", swScope: registration.scope }))
    .catch(() => {});
}

function onFeed(frame) {
  if (frame.type === "event") {
    const e = frame.event;
    if (e.kind === "state_changed" && e.to === "with_agent" && e.agent_id === app.me.id) notifyNew(e.conversation_id);
    if (e.kind === "state_changed" && e.to !== "with_agent") known.delete(e.conversation_id);
  }
  if (frame.type === "queue_alert") {
    const a = frame.alert;
    toast(a.reason ? t("queue_alert_toast", a.group_name, word("alert_reason", a.reason), a.waiting) : t("queue_alert_cleared", a.group_name));
    if (a.reason) chime();
  }
  app.bell?.onFrame(frame);
  for (const listener of app.feedListeners) listener(frame);
}

/// Assignments made by another server process reach this feed only later, so
/// the list of my chats is also polled; what is new there is announced too.
async function pollMine(first = false) {
  const mine = await get("/api/v1/staff/conversations").catch(() => null);
  if (!mine) return;
  for (const c of mine) {
    if (first) known.add(c.id);
    else notifyNew(c.id);
  }
  const open = new Set(mine.map((c) => c.id));
  for (const id of known) if (!open.has(id)) known.delete(id);
}

function route() {
  const [, section = "inbox", ...rest] = location.hash.split("/");
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === section);
  if (app.view) app.view.leave?.();
  const view = $("[data-testid=view]");
  view.replaceChildren();
  const views = { inbox: Inbox, board: Board, kb: Knowledge, admin: Admin, integrations: Integrations, audit: Audit, tickets: Tickets, history: History, visitors: Visitors, analytics: Analytics, quality: Quality, me: MySettings };
  const View = views[section] || Inbox;
  app.view = new View(app, view, rest);
}

async function showShell(me) {
  app.me = me;
  $("[data-testid=login]").hidden = true;
  $("[data-testid=shell]").hidden = false;
  $("[data-testid=me-name]").textContent = me.display_name;
  for (const a of document.querySelectorAll("[data-role]")) a.hidden = !a.dataset.role.split(" ").includes(me.role);
  if (me.must_change_password) {
    // A reset password: the server refuses everything else until a new one is chosen.
    for (const a of document.querySelectorAll("[data-nav]")) a.hidden = true;
    $("[data-testid=presence]").hidden = true;
    $("[data-testid=view]").replaceChildren(el("div", { class: "admin" }, passwordChangeForm(() => location.reload())));
    return;
  }
  const handlesChats = me.role !== "knowledge_manager";
  $("[data-testid=presence]").hidden = !handlesChats;
  if (handlesChats) {
    app.bell = new Bell($("[data-testid=bell-slot]"));
    liveSocket(() => "/api/v1/staff/ws", onFeed);
    await pollMine(true);
    setInterval(() => pollMine(), 10000);
    const agents = await get("/api/v1/staff/agents").catch(() => []);
    const mine = agents.find((a) => a.agent_id === me.id);
    $("[data-testid=presence]").value = mine ? mine.status : "offline";
  }
  if (!location.hash) location.hash = handlesChats ? "#/inbox" : "#/kb";
  if (window.Notification?.permission === "default") Notification.requestPermission().catch(() => {});
  route();
}

function showLogin() {
  $("[data-testid=shell]").hidden = true;
  $("[data-testid=login]").hidden = false;
}

$("[data-testid=login-form]").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    const asked = !$("[data-testid=login-totp-row]").hidden;
    const body = { username: form.get("username"), password: form.get("password") };
    if (asked) body.totp = form.get("totp");
    const res = await post("/api/v1/staff/login", body);
    $("[data-testid=login-error]").textContent = "";
    await showShell(res.user);
  } catch (error) {
    if (error.code === "totp_required") {
      // Two-step sign-in: the password was right; now the app's code.
      $("[data-testid=login-totp-row]").hidden = false;
      $("[data-testid=login-totp]").focus();
    }
    const words = { bad_credentials: "bad_login", login_locked: "login_locked", rate_limited: "login_locked", totp_required: "totp_enter", totp_invalid: "totp_wrong" };
    $("[data-testid=login-error]").textContent = words[error.code] ? t(words[error.code]) : t("failed");
  }
});

$("[data-testid=presence]").addEventListener("change", async (e) => {
  try {
    await put("/api/v1/staff/presence", { status: e.target.value });
  } catch (error) {
    toast(error.message);
  }
});

for (const button of document.querySelectorAll("[data-action=lang]")) {
  button.addEventListener("click", () => {
    toggleLang();
    applyStrings();
    app.bell?.refresh();
    if (app.me) route();
  });
}

document.querySelector("[data-action=logout]").addEventListener("click", async () => {
  await put("/api/v1/staff/presence", { status: "offline" }).catch(() => {});
  await post("/api/v1/staff/logout").catch(() => {});
  location.hash = "";
  location.reload();
});

window.addEventListener("hashchange", () => app.me && route());
window.addEventListener("focus", updateBadge);

async function boot() {
  applyStrings();
  try {
    await showShell(await get("/api/v1/staff/me"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showLogin();
    else throw error;
  }
}

boot();
