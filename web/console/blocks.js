// Admin blocklist: blocks in force (buyers blocked by agents, networks blocked
// here), a form to block an IP address or CIDR network, and lifting a block.

import { del, el, get, post } from "./api.js";
import { errorText, t, word } from "./i18n.js";

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : t("block_forever");
}

export class Blocks {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.load();
  }

  async load() {
    const blocks = await get("/api/v1/admin/blocks").catch(() => []);
    const rows = blocks.map((b) =>
      el(
        "tr",
        { testid: `block-${b.id}` },
        el("td", {}, word("kind", b.kind)),
        el("td", {}, b.kind === "visitor" ? b.value.slice(-6) : b.value),
        el("td", {}, b.reason),
        el("td", {}, when(b.expires_at)),
        el("td", {}, el("button", { type: "button", class: "link", testid: `block-lift-${b.id}`, onclick: () => this.lift(b.id) }, t("lift"))),
      ),
    );
    const table = el(
      "table",
      { testid: "block-list" },
      el("thead", {}, el("tr", {}, [t("kind_visitor") + " / " + t("network"), "", t("reason_h"), t("expires"), ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows),
    );
    this.root.replaceChildren(el("section", { class: "card" }, el("h3", {}, t("blocks_h")), rows.length ? table : el("p", { class: "hint" }, t("empty"))), this.form());
  }

  form() {
    const network = el("input", { type: "text", required: true, placeholder: "203.0.113.0/24", testid: "block-network" });
    const reason = el("input", { type: "text", required: true, maxlength: 200, placeholder: t("block_reason"), testid: "block-network-reason" });
    const hours = el("select", { testid: "block-network-hours" }, [[24, "block_1d"], [24 * 7, "block_7d"], [24 * 30, "block_30d"], ["", "block_forever"]].map(([h, key]) => el("option", { value: String(h) }, t(key))));
    const submit = async (e) => {
      e.preventDefault();
      try {
        await post("/api/v1/admin/blocks", { network: network.value, reason: reason.value, hours: hours.value ? Number(hours.value) : null });
        this.app.toast(t("saved"));
        this.load();
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    return el(
      "form",
      { class: "card", onsubmit: submit, testid: "block-network-form" },
      el("h3", {}, t("block_network")),
      el("label", {}, el("span", {}, t("network")), network),
      el("label", {}, el("span", {}, t("reason_h")), reason),
      el("label", {}, el("span", {}, t("expires")), hours),
      el("button", { type: "submit", testid: "block-network-save" }, t("block")),
    );
  }

  async lift(id) {
    try {
      await del(`/api/v1/admin/blocks/${id}`);
      this.load();
    } catch (error) {
      this.app.toast(errorText(error));
    }
  }
}
