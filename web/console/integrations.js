// Admins' integrations page: webhook endpoints (where committed events are
// sent, signed), their delivery log with replays, and the event catalogue.

import { del, el, get, post, query } from "./api.js";
import { addStrings, t, word } from "./i18n.js";

addStrings(
  {
    integrations: "集成", webhooks_h: "Webhook 推送", new_webhook: "新增推送地址", wh_url: "接收地址（https://）",
    wh_events: "推送的事件", wh_all: "全部事件", wh_desc: "说明（可选）", wh_create: "添加",
    wh_secret: "签名密钥（只显示这一次，请复制保存到接收方）", wh_enabled: "启用中", wh_disabled: "已停用",
    wh_enable: "启用", wh_disable: "停用", wh_delete: "删除", wh_log: "投递记录", wh_replay: "重新发送",
    wh_confirm_delete: "删除这个推送地址和它的投递记录？", wh_none: "还没有推送地址",
    wh_event: "事件", wh_attempts: "尝试次数", wh_last: "最近结果", wh_time: "时间", wh_next: "下次重试",
    wh_st_pending: "待发送", wh_st_delivered: "已送达", wh_st_failed: "已放弃", wh_replayed: "已安排重新发送",
    wh_reason: "停用原因", wh_gone: "接收方返回 410（地址已失效），已自动停用", wh_by_admin: "管理员手动停用",
    err_webhook_url_not_https: "地址必须是 https://（仅本机测试可用 http://127.0.0.1）",
    err_invalid_url: "地址无效", err_unknown_event_type: "有不认识的事件类型", err_no_event_types: "请至少选择一种事件",
    err_invalid_fields: "说明最多 200 字",
    ev_conversation_started: "会话开始", ev_message_posted: "新消息", ev_note_added: "内部备注",
    ev_conversation_handed_off: "转人工", ev_conversation_assigned: "分配客服", ev_conversation_transferred: "会话转接",
    ev_conversation_resolved: "会话已解决", ev_conversation_handed_back: "转回机器人", ev_conversation_reopened: "会话重开",
    ev_conversation_closed: "会话关闭", ev_conversation_state_changed: "其他状态变化", ev_answer_rated: "回答评价",
    ev_visitor_updated: "买家资料更新", ev_conversation_converted: "询单转化（买家已付款下单）",
    ev_agent_presence_changed: "客服状态变化（在线、忙碌、离开、离线）",
    ev_queue_alert_raised: "排队提醒（排队过多或等待过久）", ev_queue_alert_cleared: "排队恢复正常",
  },
  {
    integrations: "Integrations", webhooks_h: "Webhooks", new_webhook: "Add an endpoint", wh_url: "Receiver URL (https://)",
    wh_events: "Events to send", wh_all: "All events", wh_desc: "Description (optional)", wh_create: "Add",
    wh_secret: "Signing secret (shown only this once: copy it to the receiver)", wh_enabled: "On", wh_disabled: "Off",
    wh_enable: "Turn on", wh_disable: "Turn off", wh_delete: "Delete", wh_log: "Deliveries", wh_replay: "Send again",
    wh_confirm_delete: "Delete this endpoint and its delivery log?", wh_none: "No endpoints yet",
    wh_event: "Event", wh_attempts: "Attempts", wh_last: "Last result", wh_time: "Time", wh_next: "Next retry",
    wh_st_pending: "Pending", wh_st_delivered: "Delivered", wh_st_failed: "Given up", wh_replayed: "Queued to send again",
    wh_reason: "Why off", wh_gone: "The receiver answered 410 (gone): turned off", wh_by_admin: "Turned off by an admin",
    err_webhook_url_not_https: "The URL must be https:// (http://127.0.0.1 only for local tests)",
    err_invalid_url: "Not a valid URL", err_unknown_event_type: "Unknown event type", err_no_event_types: "Choose at least one event",
    err_invalid_fields: "Description: at most 200 characters",
    ev_conversation_started: "Chat started", ev_message_posted: "New message", ev_note_added: "Internal note",
    ev_conversation_handed_off: "Handed to people", ev_conversation_assigned: "Agent assigned", ev_conversation_transferred: "Transferred",
    ev_conversation_resolved: "Resolved", ev_conversation_handed_back: "Back to the bot", ev_conversation_reopened: "Reopened",
    ev_conversation_closed: "Closed", ev_conversation_state_changed: "Other state change", ev_answer_rated: "Answer rated",
    ev_visitor_updated: "Buyer details changed", ev_conversation_converted: "Converted (the buyer paid an order)",
    ev_agent_presence_changed: "Agent status changed (online, busy, away, offline)",
    ev_queue_alert_raised: "Queue alert (too many waiting or waiting too long)", ev_queue_alert_cleared: "Queue back to normal",
  },
);

const eventWord = (type) => word("ev", type.replaceAll(".", "_"));
const when = (ms) => (ms ? new Date(ms).toLocaleString() : "–");

function errorText(error) {
  const key = `err_${error.code}`;
  const text = t(key);
  return text === key ? t("failed") : text;
}

function reasonText(reason) {
  if (!reason) return "";
  if (reason.includes("410")) return t("wh_gone");
  return t("wh_by_admin");
}

export class Integrations {
  constructor(app, root, rest) {
    this.app = app;
    this.root = el("div", { class: "integrations", testid: "integrations" });
    root.append(el("h2", {}, t("webhooks_h")), this.root);
    const [page, id] = rest;
    if (page === "webhooks" && id) this.deliveries(id);
    else this.endpoints();
  }

  async endpoints(secret = null) {
    let endpoints, types;
    try {
      [endpoints, types] = await Promise.all([get("/api/v1/admin/webhooks"), get("/api/v1/admin/event-types")]);
    } catch (error) {
      this.root.replaceChildren(el("p", { class: "hint" }, errorText(error)));
      return;
    }
    const rows = endpoints.map((e) =>
      el(
        "tr",
        { testid: `webhook-${e.id}` },
        el("td", { class: "wrap" }, e.url, e.description ? el("div", { class: "hint" }, e.description) : null),
        el("td", {}, e.event_types.includes("*") ? t("wh_all") : e.event_types.map(eventWord).join("、")),
        el(
          "td",
          { testid: "webhook-state" },
          e.enabled ? t("wh_enabled") : t("wh_disabled"),
          e.enabled ? null : el("div", { class: "hint warn" }, reasonText(e.disabled_reason)),
        ),
        el(
          "td",
          { class: "actions-cell" },
          el("a", { href: `#/integrations/webhooks/${e.id}`, testid: "webhook-log" }, t("wh_log")),
          el("button", { type: "button", onclick: () => this.toggle(e) }, e.enabled ? t("wh_disable") : t("wh_enable")),
          el("button", { type: "button", onclick: () => this.remove(e) }, t("wh_delete")),
        ),
      ),
    );
    const list = endpoints.length
      ? el("div", { class: "table-wrap" }, el("table", { testid: "webhooks" }, el("thead", {}, el("tr", {}, [t("wh_url"), t("wh_events"), t("status"), t("actions")].map((h) => el("th", {}, h)))), el("tbody", {}, rows)))
      : el("p", { class: "hint", testid: "webhooks-empty" }, t("wh_none"));
    const shown = secret ? el("div", { class: "secret", testid: "webhook-secret" }, el("p", {}, t("wh_secret")), el("code", {}, secret)) : null;
    this.root.replaceChildren(shown || "", list, this.form(types));
  }

  form(types) {
    const url = el("input", { type: "url", required: true, placeholder: "https://", testid: "webhook-url" });
    const description = el("input", { maxlength: 200, testid: "webhook-desc" });
    const all = el("input", { type: "checkbox", checked: true, testid: "webhook-all" });
    const boxes = types.map((type) => el("label", { class: "check" }, el("input", { type: "checkbox", value: type }), eventWord(type)));
    const error = el("p", { class: "error", role: "alert", testid: "webhook-error" });
    const submit = async (e) => {
      e.preventDefault();
      const chosen = all.checked ? ["*"] : boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
      try {
        const created = await post("/api/v1/admin/webhooks", { url: url.value.trim(), event_types: chosen, description: description.value });
        await this.endpoints(created.secret);
      } catch (err) {
        error.textContent = errorText(err);
      }
    };
    return el(
      "form",
      { class: "card", testid: "webhook-form", onsubmit: submit },
      el("h3", {}, t("new_webhook")),
      el("label", {}, el("span", {}, t("wh_url")), url),
      el("fieldset", {}, el("legend", {}, t("wh_events")), el("label", { class: "check" }, all, t("wh_all")), el("div", { class: "checks" }, boxes)),
      el("label", {}, el("span", {}, t("wh_desc")), description),
      error,
      el("button", { type: "submit", testid: "webhook-create" }, t("wh_create")),
    );
  }

  async toggle(endpoint) {
    try {
      await post(`/api/v1/admin/webhooks/${endpoint.id}/${endpoint.enabled ? "disable" : "enable"}`);
      await this.endpoints();
    } catch (error) {
      this.app.toast(errorText(error));
    }
  }

  async remove(endpoint) {
    if (!confirm(t("wh_confirm_delete"))) return;
    try {
      await del(`/api/v1/admin/webhooks/${endpoint.id}`);
      await this.endpoints();
    } catch (error) {
      this.app.toast(errorText(error));
    }
  }

  async deliveries(id, status = "") {
    let rows;
    try {
      rows = await get(`/api/v1/admin/webhooks/${id}/deliveries?${query({ status, limit: 200 })}`);
    } catch (error) {
      this.root.replaceChildren(el("p", { class: "hint" }, errorText(error)));
      return;
    }
    const filter = el(
      "select",
      { testid: "delivery-filter", onchange: (e) => this.deliveries(id, e.target.value) },
      ["", "pending", "delivered", "failed"].map((s) => el("option", { value: s, selected: s === status }, s ? t(`wh_st_${s}`) : t("all"))),
    );
    const body = rows.map((d) =>
      el(
        "tr",
        { testid: `delivery-${d.id}` },
        el("td", { class: "wrap" }, d.event_id),
        el("td", { testid: "delivery-status" }, t(`wh_st_${d.status}`)),
        el("td", {}, String(d.attempts)),
        el("td", {}, d.last_status ? `HTTP ${d.last_status}` : d.last_error ? t("failed") : "–"),
        el("td", {}, when(d.delivered_at || d.created_at)),
        el("td", {}, d.next_attempt_at ? when(d.next_attempt_at) : "–"),
        el("td", {}, el("button", { type: "button", testid: "delivery-replay", onclick: () => this.replay(id, d.id, status) }, t("wh_replay"))),
      ),
    );
    this.root.replaceChildren(
      el("p", {}, el("a", { href: "#/integrations" }, t("back")), " ", filter),
      el(
        "div",
        { class: "table-wrap" },
        el("table", { testid: "deliveries" }, el("thead", {}, el("tr", {}, [t("wh_event"), t("status"), t("wh_attempts"), t("wh_last"), t("wh_time"), t("wh_next"), t("actions")].map((h) => el("th", {}, h)))), el("tbody", {}, body)),
      ),
    );
  }

  async replay(id, deliveryId, status) {
    try {
      await post(`/api/v1/admin/webhooks/${id}/deliveries/${deliveryId}/replay`);
      this.app.toast(t("wh_replayed"));
      await this.deliveries(id, status);
    } catch (error) {
      this.app.toast(errorText(error));
    }
  }
}
