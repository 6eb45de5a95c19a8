// Data protection for admins (PIPL): find a buyer by visitor id or shop account,
// download everything stored about them, erase them after a confirmation, and
// the retention policy with its purge.

import { del, el, get, post, put, query } from "./api.js";
import { addStrings, errorText, t } from "./i18n.js";

addStrings(
  {
    privacy_h: "数据保护", buyer_find_h: "查找买家", buyer_query: "访客 ID 或商城账号", by_visitor: "按访客 ID", by_account: "按商城账号",
    find: "查找", buyer_none: "没有找到这位买家", buyer_visitor: "访客", buyer_since: "首次来访", buyer_chats: "会话数",
    buyer_export: "导出数据", buyer_erase: "删除买家",
    erase_confirm: "将永久删除这位买家的个人信息、全部消息和附件，统计数据仅匿名保留。此操作不可撤销，确定删除吗？",
    erase_yes: "确认删除", buyer_erased: "已删除该买家的个人信息和消息",
    retention_h: "保留期限", retention_days: "消息和附件保留天数（留空为永久保留）", challenge_all: "所有新会话都需先完成人机验证（遭受攻击时开启）",
    purge_now: "立即清理过期数据", purged: (c, a) => `已清理 ${c} 个会话的过期消息、${a} 个附件`,
    error_invalid_retention: "保留天数须在 1–3650 之间，或留空", error_buyer_not_found: "没有找到这位买家",
    error_buyer_query_missing: "请输入访客 ID 或商城账号",
    audit_buyer_erased: "删除买家数据", audit_data_purged: "清理过期数据", audit_buyer_tagged: "给买家加标签", audit_buyer_untagged: "移除买家标签",
    keys_h: "数据加密密钥", keys_current: "当前密钥（指纹）", keys_ring: "密钥环", keys_one: "只有一把密钥：所有数据都由它加密。",
    keys_running: "正在用新密钥重新加密旧数据…", keys_remaining: (n) => `仍由旧密钥加密的数据：${n} 条`,
    keys_done: "旧数据已全部用新密钥重新加密，可以执行 xiaoer keys retire 停用旧密钥。",
    keys_unreadable: (n) => `${n} 条数据任何密钥都无法解密（可能被篡改）`, keys_hint: "轮换密钥：在服务器上运行 xiaoer keys rotate 后重启服务。",
  },
  {
    privacy_h: "Data protection", buyer_find_h: "Find a buyer", buyer_query: "Visitor id or shop account", by_visitor: "By visitor id", by_account: "By shop account",
    find: "Find", buyer_none: "No such buyer", buyer_visitor: "Visitor", buyer_since: "First visit", buyer_chats: "Chats",
    buyer_export: "Export data", buyer_erase: "Erase buyer",
    erase_confirm: "This permanently erases the buyer's personal data, every message and attachment; statistics stay, anonymous. It cannot be undone. Erase?",
    erase_yes: "Erase for good", buyer_erased: "The buyer's personal data and messages are erased",
    retention_h: "Retention", retention_days: "Keep messages and attachments for (days; empty keeps them)", challenge_all: "Every new conversation must first pass a challenge (turn on during an attack)",
    purge_now: "Purge expired data now", purged: (c, a) => `Purged old messages in ${c} chats and ${a} attachments`,
    error_invalid_retention: "Retention must be 1 to 3650 days, or empty", error_buyer_not_found: "No such buyer",
    error_buyer_query_missing: "Enter a visitor id or a shop account",
    audit_buyer_erased: "Buyer's data erased", audit_data_purged: "Expired data purged", audit_buyer_tagged: "Buyer tagged", audit_buyer_untagged: "Buyer tag removed",
    keys_h: "Data encryption keys", keys_current: "Current key (fingerprint)", keys_ring: "Key ring", keys_one: "One key: it seals all data.",
    keys_running: "Re-sealing old data with the new key…", keys_remaining: (n) => `Still sealed with an older key: ${n} values`,
    keys_done: "All old data is re-sealed with the new key: run xiaoer keys retire to drop the older keys.",
    keys_unreadable: (n) => `${n} values open with no key (tampered?)`, keys_hint: "To rotate: run xiaoer keys rotate on the server, then restart it.",
  },
);

export class Privacy {
  constructor(app, root) {
    this.app = app;
    this.results = el("div", { testid: "buyer-results", role: "status" });
    this.keys = el("section", { class: "card", testid: "data-keys", role: "status" });
    root.append(this.finder(), this.retention(), this.keys);
    this.loadSettings();
    this.loadKeys();
  }

  finder() {
    const input = el("input", { type: "text", required: true, maxlength: 200, placeholder: t("buyer_query"), "aria-label": t("buyer_query"), testid: "buyer-query" });
    const kind = el("select", { testid: "buyer-kind", "aria-label": t("buyer_query") }, el("option", { value: "account" }, t("by_account")), el("option", { value: "visitor_id" }, t("by_visitor")));
    const submit = async (e) => {
      e.preventDefault();
      try {
        const found = await get(`/api/v1/admin/buyers?${query({ [kind.value]: input.value })}`);
        this.show(found);
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    return el(
      "form",
      { class: "card", onsubmit: submit, testid: "buyer-find" },
      el("h3", {}, t("buyer_find_h")),
      el("label", {}, el("span", {}, t("buyer_query")), kind, input),
      el("button", { type: "submit", testid: "buyer-find-go" }, t("find")),
      this.results,
    );
  }

  show(found) {
    if (!found.length) {
      this.results.replaceChildren(el("p", { class: "hint" }, t("buyer_none")));
      return;
    }
    const rows = found.map((b) =>
      el(
        "tr",
        { testid: `buyer-${b.visitor_id}` },
        el("td", { "data-label": t("buyer_visitor"), class: "id" }, b.visitor_id),
        el("td", { "data-label": t("buyer_since") }, new Date(b.created_at).toLocaleString()),
        el("td", { "data-label": t("buyer_chats") }, String(b.conversations)),
        el(
          "td",
          { class: "actions" },
          el("a", { href: `/api/v1/admin/buyers/${encodeURIComponent(b.visitor_id)}/export`, download: `buyer-${b.visitor_id}.json`, class: "button-link", testid: "buyer-export" }, t("buyer_export")),
          el("button", { type: "button", class: "link danger", testid: "buyer-erase", onclick: (e) => this.confirmErase(e.target.closest("td"), b.visitor_id) }, t("buyer_erase")),
        ),
      ),
    );
    const head = el("tr", {}, [t("buyer_visitor"), t("buyer_since"), t("buyer_chats"), ""].map((h) => el("th", {}, h)));
    this.results.replaceChildren(el("table", { testid: "buyer-list", class: "cards-on-phone privacy-buyers" }, el("thead", {}, head), el("tbody", {}, rows)));
  }

  /// The erasure asks once more, in place, before anything is deleted.
  confirmErase(cell, visitorId) {
    const box = el(
      "div",
      { class: "confirm", role: "alertdialog", testid: "erase-confirm" },
      el("p", {}, t("erase_confirm")),
      el("button", { type: "button", class: "danger", testid: "erase-yes", onclick: () => this.erase(visitorId) }, t("erase_yes")),
      " ",
      el("button", { type: "button", testid: "erase-no", onclick: () => box.remove() }, t("cancel")),
    );
    cell.append(box);
  }

  async erase(visitorId) {
    try {
      await del(`/api/v1/admin/buyers/${encodeURIComponent(visitorId)}`);
      this.app.toast(t("buyer_erased"));
      this.results.replaceChildren(el("p", { class: "hint", testid: "buyer-erased" }, t("buyer_erased")));
    } catch (error) {
      this.app.toast(errorText(error));
    }
  }

  retention() {
    this.days = el("input", { type: "number", min: 1, max: 3650, step: 1, testid: "retention-days", "aria-label": t("retention_days") });
    this.challenge = el("input", { type: "checkbox", testid: "challenge-all" });
    const submit = async (e) => {
      e.preventDefault();
      try {
        const days = this.days.value.trim();
        await put("/api/v1/admin/data-protection", { retention_days: days ? Number(days) : null, challenge_all: this.challenge.checked });
        this.app.toast(t("saved"));
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    const purge = async () => {
      try {
        const report = await post("/api/v1/admin/data-protection/purge");
        this.app.toast(t("purged", report.conversations, report.attachments));
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    return el(
      "form",
      { class: "card", onsubmit: submit, testid: "retention-form" },
      el("h3", {}, t("retention_h")),
      el("label", {}, el("span", {}, t("retention_days")), this.days),
      el("label", { class: "check" }, this.challenge, el("span", {}, t("challenge_all"))),
      el("button", { type: "submit", testid: "retention-save" }, t("save")),
      " ",
      el("button", { type: "button", testid: "purge-now", onclick: purge }, t("purge_now")),
    );
  }

  async loadSettings() {
    const settings = await get("/api/v1/admin/data-protection").catch(() => null);
    if (!settings) return;
    this.days.value = settings.retention_days ?? "";
    this.challenge.checked = settings.challenge_all;
  }

  /// The key ring by fingerprint and how far re-sealing has got after a rotation.
  async loadKeys() {
    const k = await get("/api/v1/admin/data-protection/keys").catch(() => null);
    if (!k) return;
    const lines = [
      el("h3", {}, t("keys_h")),
      el("p", {}, el("span", { class: "hint" }, t("keys_current")), " ", el("code", { testid: "key-current" }, k.current)),
    ];
    if (k.keys.length > 1) {
      lines.push(el("p", {}, el("span", { class: "hint" }, t("keys_ring")), " ", el("code", { testid: "key-ring" }, k.keys.join(" → "))));
      const state = k.running || !k.finished_at ? t("keys_running") : k.remaining > 0 ? t("keys_remaining", k.remaining) : t("keys_done");
      lines.push(el("p", { testid: "key-reseal" }, state));
      if (k.unreadable > 0) lines.push(el("p", { class: "danger" }, t("keys_unreadable", k.unreadable)));
      if (k.running) setTimeout(() => this.loadKeys(), 2000);
    } else {
      lines.push(el("p", { testid: "key-reseal" }, t("keys_one")));
    }
    lines.push(el("p", { class: "hint" }, t("keys_hint")));
    this.keys.replaceChildren(...lines);
  }
}
