// The audit log for admins: who did what and when, newest first, filtered by
// kind; the hash chain can be checked from here too.

import { el, get, query } from "./api.js";
import { t, word } from "./i18n.js";

const ACTIONS = [
  "sign_in", "sign_in_failed", "sign_out", "permission_denied", "account_created", "account_changed",
  "settings_changed", "kb_published", "kb_unpublished", "kb_imported", "exported", "pii_revealed", "blocked", "unblocked",
  "buyer_erased", "data_purged", "buyer_tagged", "buyer_untagged",
];

function when(ms) {
  return new Date(ms).toLocaleString();
}

export class Audit {
  constructor(app, root) {
    this.app = app;
    this.filter = el(
      "select",
      { testid: "audit-action", "aria-label": t("audit_action"), onchange: () => this.load() },
      el("option", { value: "" }, t("all")),
      ACTIONS.map((a) => el("option", { value: a }, word("audit", a))),
    );
    this.rows = el("tbody", { testid: "audit-rows" });
    this.more = el("button", { type: "button", class: "link", testid: "audit-more", hidden: true, onclick: () => this.load(this.next) }, t("load_more"));
    this.verdict = el("span", { testid: "audit-verdict", role: "status" });
    const check = el("button", { type: "button", testid: "audit-verify", onclick: () => this.verify() }, t("verify_chain"));
    const head = el("tr", {}, [t("audit_when"), t("audit_who"), t("audit_action"), t("audit_target")].map((h) => el("th", {}, h)));
    root.append(
      el(
        "div",
        { class: "board", testid: "audit" },
        el("h2", { class: "wide" }, t("audit")),
        el("p", { class: "wide" }, this.filter, " ", check, " ", this.verdict),
        el("div", { class: "table-wrap wide" }, el("table", { testid: "audit-table" }, el("thead", {}, head), this.rows)),
        el("p", { class: "wide" }, this.more),
      ),
    );
    this.load();
  }

  async load(before) {
    let page;
    try {
      page = await get(`/api/v1/admin/audit?${query({ action: this.filter.value, before, limit: 50 })}`);
    } catch {
      this.app.toast(t("failed"));
      return;
    }
    const rows = page.records.map((r) =>
      el(
        "tr",
        { testid: `audit-${r.seq}`, "data-action": r.action },
        el("td", {}, when(r.at)),
        el("td", {}, r.actor_name || (r.actor_id ? r.actor_id.slice(-6) : t("audit_nobody"))),
        el("td", {}, word("audit", r.action)),
        el("td", {}, el("code", {}, r.target)),
      ),
    );
    if (before) this.rows.append(...rows);
    else this.rows.replaceChildren(...rows);
    if (!before && !rows.length) this.rows.append(el("tr", {}, el("td", { colspan: 4 }, t("empty"))));
    this.next = page.next_before;
    this.more.hidden = !page.next_before;
  }

  async verify() {
    try {
      const result = await get("/api/v1/admin/audit/verify");
      this.verdict.textContent = t("chain_intact", result.records);
      this.verdict.dataset.intact = "true";
    } catch (error) {
      this.verdict.textContent = error.code === "audit_chain_broken" ? t("chain_broken") : t("failed");
      this.verdict.dataset.intact = "false";
    }
  }
}
