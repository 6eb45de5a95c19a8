// The bell in the console's header: my ticket reminders (assigned to me, the
// buyer replied, SLA warning, breach, escalation) with the unread count, kept
// current by the staff feed's `bell` frames; opening one marks it read.

import { el, get, post } from "./api.js";
import { addStrings, t } from "./i18n.js";

addStrings(
  {
    bell: "提醒", bell_unread: (n) => `${n} 条未读提醒`, bell_empty: "暂无提醒", bell_read_all: "全部标为已读",
    bell_assigned: (n) => `工单 ${n} 已分配给您`, bell_buyer_replied: (n) => `买家回复了工单 ${n}`,
    bell_sla_warning: (n) => `工单 ${n} 即将超时`, bell_sla_breach: (n) => `工单 ${n} 已超时`,
    bell_sla_escalation: (n) => `工单 ${n} 超时升级`, bell_automation: (n) => `自动化规则提醒您关注工单 ${n}`,
  },
  {
    bell: "Reminders", bell_unread: (n) => `${n} unread reminder${n === 1 ? "" : "s"}`, bell_empty: "No reminders",
    bell_read_all: "Mark all read",
    bell_assigned: (n) => `Ticket ${n} was assigned to you`, bell_buyer_replied: (n) => `The buyer replied on ticket ${n}`,
    bell_sla_warning: (n) => `Ticket ${n} is close to its deadline`, bell_sla_breach: (n) => `Ticket ${n} is past its deadline`,
    bell_sla_escalation: (n) => `Ticket ${n} was escalated`, bell_automation: (n) => `An automation flagged ticket ${n} for you`,
  },
);

export class Bell {
  constructor(root) {
    this.badge = el("span", { class: "bell-count", testid: "bell-count", hidden: true });
    this.button = el("button", { type: "button", class: "link bell", testid: "bell", "aria-expanded": "false" }, "🔔", this.badge);
    this.panel = el("div", { class: "bell-panel card", testid: "bell-panel", hidden: true });
    this.button.addEventListener("click", () => this.toggle());
    root.replaceChildren(this.button, this.panel);
    this.view = { unread: 0, items: [] };
  }

  async refresh() {
    const view = await get("/api/v1/staff/me/bell").catch(() => null);
    if (!view) return;
    this.view = view;
    this.badge.textContent = view.unread > 99 ? "99+" : String(view.unread);
    this.badge.hidden = view.unread === 0;
    this.button.title = view.unread ? t("bell_unread", view.unread) : t("bell");
    this.button.setAttribute("aria-label", this.button.title);
    if (!this.panel.hidden) this.render();
  }

  onFrame(frame) {
    // A bell frame, or a (re)connected feed that may have missed some.
    if (frame.type === "bell" || frame.type === "ready") this.refresh();
  }

  toggle() {
    this.panel.hidden = !this.panel.hidden;
    this.button.setAttribute("aria-expanded", String(!this.panel.hidden));
    if (!this.panel.hidden) this.render();
  }

  render() {
    const items = this.view.items.map((n) => {
      const link = el("a", { href: `#/tickets/${n.ticket_id}`, testid: "bell-item" }, t(`bell_${n.kind}`, n.ticket_number));
      link.addEventListener("click", async () => {
        this.panel.hidden = true;
        if (!n.read_at) await post(`/api/v1/staff/me/bell/${n.id}/read`).catch(() => {});
        this.refresh();
      });
      return el("li", { class: n.read_at ? "read" : "unread" }, link, el("span", { class: "when" }, new Date(n.created_at).toLocaleString()));
    });
    const readAll = el("button", { type: "button", class: "link", testid: "bell-read-all", disabled: this.view.unread === 0 }, t("bell_read_all"));
    readAll.addEventListener("click", async () => {
      await post("/api/v1/staff/me/bell/read-all").catch(() => {});
      this.refresh();
    });
    this.panel.replaceChildren(
      el("div", { class: "bell-head" }, el("strong", {}, t("bell")), readAll),
      items.length ? el("ul", { class: "bell-list" }, items) : el("p", { class: "hint" }, t("bell_empty")),
    );
  }
}
