// Admin pages: staff accounts (create, role, deactivate/reactivate, password
// reset) and skill groups with their members; welcome messages and shop
// settings live in settings.js.

import { del, el, get, post, put } from "./api.js";
import { errorText, t, word } from "./i18n.js";
import { Blocks } from "./blocks.js";
import { Privacy } from "./privacy.js";
import { ShopSettings, WelcomeMessages } from "./settings.js";
import { SmtpSettings } from "./notifications.js";

const ROLES = ["agent", "supervisor", "knowledge_manager", "admin"];
const STRATEGIES = ["saturation", "round_robin", "priority", "weighted"];
const TABS = ["users", "groups", "welcome", "shop", "blocks", "privacy", "mail"];
const TAB_WORDS = { users: "users", groups: "groups_h", welcome: "welcome", shop: "shop", blocks: "blocks_h", privacy: "privacy_h", mail: "tickets_settings_h" };

/// A group as the API takes it back (a change of one field keeps the others).
function groupBody(g) {
  return { name: g.name, strategy: g.strategy, overflow_group_id: g.overflow_group_id, overflow_after_ms: g.overflow_after_ms, alert_waiting: g.alert_waiting, alert_wait_ms: g.alert_wait_ms };
}

function select(options, value, attrs = {}) {
  const node = el("select", attrs, options.map(([v, label]) => el("option", { value: v }, label)));
  node.value = value;
  return node;
}

export class Admin {
  constructor(app, root, rest) {
    this.app = app;
    const tab = TABS.includes(rest[0]) ? rest[0] : "users";
    const tabs = el("nav", { class: "tabs", testid: "admin-tabs" }, TABS.map((key) => el("a", { href: `#/admin/${key}`, class: key === tab ? "active" : "", testid: `admin-tab-${key}` }, t(TAB_WORDS[key]))));
    this.body = el("div", { class: "admin", testid: `admin-${tab}` });
    root.append(tabs, this.body);
    const pages = { users: () => this.users(), groups: () => this.groups(), welcome: () => new WelcomeMessages(app, this.body), shop: () => new ShopSettings(app, this.body), blocks: () => new Blocks(app, this.body), privacy: () => new Privacy(app, this.body), mail: () => new SmtpSettings(app, this.body) };
    pages[tab]();
  }

  async run(action, done) {
    try {
      await action();
      if (done) this.app.toast(done);
    } catch (error) {
      this.app.toast(errorText(error));
    }
  }

  async users() {
    const users = await get("/api/v1/staff/users").catch(() => []);
    const rows = users.map((u) => this.userCard(u));
    this.body.replaceChildren(el("section", { class: "cards", testid: "user-list" }, rows), this.newUserForm());
  }

  userCard(u) {
    const role = select(ROLES.map((r) => [r, word("role", r)]), u.role, { testid: `user-role-${u.username}`, "aria-label": t("role") });
    role.addEventListener("change", () => this.run(() => put(`/api/v1/staff/users/${u.id}`, { role: role.value }), t("saved")).then(() => this.users()));
    const toggle = el("button", {
      type: "button", testid: `user-toggle-${u.username}`,
      onclick: () => this.run(() => put(`/api/v1/staff/users/${u.id}`, { active: !u.active }), t("saved")).then(() => this.users()),
    }, u.active ? t("deactivate") : t("reactivate"));
    const temp = el("input", { type: "password", placeholder: t("temp_password"), autocomplete: "new-password", testid: `user-temp-${u.username}`, minlength: 10 });
    const reset = el("form", {
      class: "row",
      onsubmit: (e) => {
        e.preventDefault();
        this.run(() => post(`/api/v1/staff/users/${u.id}/password`, { password: temp.value }), t("password_reset_done")).then(() => (temp.value = ""));
      },
    }, temp, el("button", { type: "submit" }, t("reset_password")));
    return el(
      "article",
      { class: `card user ${u.active ? "" : "off"}`, testid: `user-${u.username}` },
      el("h3", {}, u.display_name, " ", el("span", { class: "hint" }, `@${u.username}`), " ", el("span", { class: `state ${u.active ? "state-with_agent" : "state-waiting"}` }, u.active ? t("active") : t("inactive"))),
      el("div", { class: "row" }, el("label", {}, t("role"), " ", role), toggle),
      reset,
      u.two_step
        ? el("div", { class: "row" }, el("span", { class: "hint" }, t("two_step_is_on")),
            el("button", {
              type: "button", class: "secondary", testid: `user-totp-reset-${u.username}`,
              onclick: () => this.run(() => del(`/api/v1/staff/users/${u.id}/totp`), t("two_step_reset_done")).then(() => this.users()),
            }, t("two_step_reset")))
        : "",
    );
  }

  newUserForm() {
    const f = {
      username: el("input", { name: "username", required: true, autocomplete: "off", testid: "new-user-name" }),
      display_name: el("input", { name: "display_name", testid: "new-user-display" }),
      password: el("input", { name: "password", type: "password", required: true, autocomplete: "new-password", testid: "new-user-password" }),
      role: select(ROLES.map((r) => [r, word("role", r)]), "agent", { testid: "new-user-role" }),
      max_chats: el("input", { name: "max_chats", type: "number", min: 1, max: 100, value: 5 }),
    };
    const label = (key, node) => el("label", {}, el("span", {}, t(key)), node);
    return el(
      "form",
      {
        class: "card editor", testid: "new-user-form",
        onsubmit: (e) => {
          e.preventDefault();
          const body = { username: f.username.value, password: f.password.value, role: f.role.value, display_name: f.display_name.value || null, max_chats: Number(f.max_chats.value) };
          this.run(() => post("/api/v1/staff/users", body), t("saved")).then(() => this.users());
        },
      },
      el("h3", {}, t("new_user")),
      label("username", f.username), label("display_name", f.display_name), label("temp_password", f.password), label("role", f.role), label("max_chats", f.max_chats),
      el("button", { type: "submit", testid: "new-user-submit" }, t("create")),
    );
  }

  async groups() {
    const [groups, users] = await Promise.all([get("/api/v1/staff/routing/groups").catch(() => []), get("/api/v1/staff/users").catch(() => [])]);
    const names = new Map(users.map((u) => [u.id, u.display_name]));
    const takers = users.filter((u) => u.active && u.role !== "knowledge_manager");
    this.body.replaceChildren(el("section", { class: "cards", testid: "group-list" }, groups.map((g) => this.groupCard(g, names, takers))), this.newGroupForm());
  }

  groupCard(g, names, takers) {
    const strategy = select(STRATEGIES.map((s) => [s, word("strategy", s)]), g.strategy, { "aria-label": t("strategy") });
    strategy.addEventListener("change", () =>
      this.run(() => put(`/api/v1/staff/routing/groups/${g.id}`, { ...groupBody(g), strategy: strategy.value }), t("saved")),
    );
    // Queue alerts: empty means none; the wait is typed in seconds.
    const alertWaiting = el("input", { type: "number", min: 1, max: 1000, step: 1, value: g.alert_waiting ?? "", testid: `group-alert-waiting-${g.name}` });
    const alertWait = el("input", { type: "number", min: 10, max: 86400, step: 1, value: g.alert_wait_ms === null ? "" : Math.round(g.alert_wait_ms / 1000), testid: `group-alert-wait-${g.name}` });
    const alerts = el(
      "form",
      {
        class: "editor", testid: `group-alerts-${g.name}`,
        onsubmit: (e) => {
          e.preventDefault();
          const body = { ...groupBody(g), alert_waiting: alertWaiting.value ? Number(alertWaiting.value) : null, alert_wait_ms: alertWait.value ? Number(alertWait.value) * 1000 : null };
          this.run(() => put(`/api/v1/staff/routing/groups/${g.id}`, body), t("saved")).then(() => this.groups());
        },
      },
      el("h4", {}, t("alert_settings")),
      el("label", {}, el("span", {}, t("alert_waiting_label")), alertWaiting),
      el("label", {}, el("span", {}, t("alert_wait_label")), alertWait),
      el("p", { class: "hint" }, t("alert_hint")),
      el("button", { type: "submit", testid: `group-alerts-save-${g.name}` }, t("save")),
    );
    const base = `/api/v1/staff/routing/groups/${g.id}/members`;
    const members = g.members.map((m) =>
      el("li", { class: "row member" }, el("span", { class: "grow" }, names.get(m.agent_id) || t("agent")), el("span", { class: "hint" }, `${t("level")} ${m.level} · ${t("weight")} ${m.weight}`),
        el("button", { type: "button", onclick: () => this.run(() => del(`${base}/${m.agent_id}`)).then(() => this.groups()) }, t("remove"))),
    );
    const candidates = takers.filter((u) => !g.members.some((m) => m.agent_id === u.id));
    const pick = select(candidates.map((u) => [u.id, u.display_name]), candidates[0]?.id || "", { "aria-label": t("add_member"), testid: `group-pick-${g.name}` });
    const add = el("form", {
      class: "row",
      onsubmit: (e) => {
        e.preventDefault();
        if (pick.value) this.run(() => put(`${base}/${pick.value}`, { level: 0, weight: 100 })).then(() => this.groups());
      },
    }, pick, el("button", { type: "submit", testid: `group-add-${g.name}` }, t("add_member")));
    return el(
      "article",
      { class: "card", testid: `group-${g.name}` },
      el("h3", {}, g.name, " ", el("span", { class: "pill" }, t("waiting_n", g.waiting))),
      el("label", { class: "row" }, t("strategy"), " ", strategy),
      el("h4", {}, t("members")),
      members.length ? el("ul", { class: "plain" }, members) : el("p", { class: "hint" }, t("empty")),
      candidates.length ? add : null,
      alerts,
    );
  }

  newGroupForm() {
    const name = el("input", { required: true, maxlength: 64, testid: "new-group-name" });
    const strategy = select(STRATEGIES.map((s) => [s, word("strategy", s)]), "saturation");
    return el(
      "form",
      {
        class: "card editor", testid: "new-group-form",
        onsubmit: (e) => {
          e.preventDefault();
          this.run(() => post("/api/v1/staff/routing/groups", { name: name.value, strategy: strategy.value, overflow_group_id: null, overflow_after_ms: null }), t("saved")).then(() => this.groups());
        },
      },
      el("h3", {}, t("new_group")),
      el("label", {}, el("span", {}, t("name")), name),
      el("label", {}, el("span", {}, t("strategy")), strategy),
      el("button", { type: "submit", testid: "new-group-submit" }, t("create")),
    );
  }
}
