// Ticket reminders: the shop's SMTP server (admin settings, 邮件 tab) and each
// person's own preferences (#/me): their address, in-app reminders, and which
// ticket events send them an e-mail.

import { el, get, post, put } from "./api.js";
import { addStrings, errorText, t } from "./i18n.js";
import { automationsForm } from "./ticket_automations.js";
import { routingForm } from "./ticket_routing.js";

addStrings(
  {
    two_step_h: "两步验证", two_step_hint: "开启后，登录时除密码外还要输入验证器 App（如 Google Authenticator、Microsoft Authenticator）中的 6 位验证码。",
    two_step_on: "已开启：登录时需要验证码。", two_step_off: "未开启。", two_step_setup: "开启两步验证", two_step_restart: "重新生成密钥",
    two_step_scan: "在验证器 App 中添加账户：打开下面的链接，或手动输入这串密钥（只显示这一次）。然后输入 App 显示的验证码。",
    two_step_open_app: "在验证器 App 中打开", two_step_enable: "确认开启", two_step_disable: "关闭两步验证",
    error_totp_invalid: "验证码错误、已过期或已用过", error_totp_already_on: "两步验证已开启", error_totp_not_on: "两步验证未开启",
    error_totp_not_set_up: "请先开启两步验证",
    my_settings: "我的设置", mail_h: "邮件服务器", smtp_host: "SMTP 服务器", smtp_port: "端口", smtp_tls: "加密方式",
    tls_none: "不加密", tls_starttls: "STARTTLS（常用 587 端口）", tls_tls: "SSL/TLS（常用 465 端口）",
    smtp_user: "用户名（可不填）", smtp_password: "密码", smtp_password_kept: "已保存密码；留空则不修改",
    smtp_from: "发件人（如 店小二 <kefu@shop.example>）", smtp_enabled: "发送提醒邮件",
    smtp_hint: "工单提醒通过这台邮件服务器发出。密码加密保存，不会再显示。",
    notify_h: "工单提醒", notify_email: "我的邮箱（留空则不发邮件）", notify_in_app: "在工作台内提醒",
    notify_email_on: "以下情况给我发邮件：", on_assigned: "工单分配给我", on_buyer_replied: "买家回复了我的工单",
    on_sla_warning: "工单即将超时", on_sla_breach: "工单已超时", on_sla_escalation: "工单超时升级（主管）", on_digest: "每天早上汇总我已超时的工单",
    error_invalid_smtp_settings: "邮件服务器设置不正确：请检查服务器地址、端口和发件人",
    error_invalid_email: "邮箱地址格式不正确",
    tickets_settings_h: "工单与邮件", reopen_h: "买家回复重开工单", reopen_days: "工单解决后几天内，买家回复会重新打开工单（0–90 天）",
    error_invalid_ticket_settings: "天数须在 0 到 90 之间",
  },
  {
    two_step_h: "Two-step sign-in", two_step_hint: "When on, signing in takes a 6-digit code from an authenticator app (such as Google or Microsoft Authenticator) as well as the password.",
    two_step_on: "On: signing in asks for a code.", two_step_off: "Off.", two_step_setup: "Turn on two-step sign-in", two_step_restart: "Make a new secret",
    two_step_scan: "Add the account in your authenticator app: open the link below or type this secret (shown this once). Then enter the code the app shows.",
    two_step_open_app: "Open in the authenticator app", two_step_enable: "Turn on", two_step_disable: "Turn off two-step sign-in",
    error_totp_invalid: "The code is wrong, expired or used already", error_totp_already_on: "Two-step sign-in is on already", error_totp_not_on: "Two-step sign-in is not on",
    error_totp_not_set_up: "Turn on two-step sign-in first",
    my_settings: "My settings", mail_h: "Mail server", smtp_host: "SMTP server", smtp_port: "Port", smtp_tls: "Encryption",
    tls_none: "None", tls_starttls: "STARTTLS (usually port 587)", tls_tls: "SSL/TLS (usually port 465)",
    smtp_user: "User name (optional)", smtp_password: "Password", smtp_password_kept: "A password is saved; leave empty to keep it",
    smtp_from: "From (e.g. Shop <kefu@shop.example>)", smtp_enabled: "Send reminder e-mails",
    smtp_hint: "Ticket reminders go out through this mail server. The password is stored encrypted and never shown again.",
    notify_h: "Ticket reminders", notify_email: "My e-mail (empty: no e-mail)", notify_in_app: "Remind me in the console",
    notify_email_on: "E-mail me when:", on_assigned: "a ticket is assigned to me", on_buyer_replied: "the buyer replies on my ticket",
    on_sla_warning: "a ticket is close to its deadline", on_sla_breach: "a ticket is past its deadline", on_sla_escalation: "a ticket is escalated (supervisors)", on_digest: "every morning, a list of my overdue tickets",
    error_invalid_smtp_settings: "The mail server settings are not valid: check the server, port and sender",
    error_invalid_email: "That is not a valid e-mail address",
    tickets_settings_h: "Tickets & mail", reopen_h: "Buyer replies reopen tickets", reopen_days: "Days after resolution in which a buyer's reply reopens the ticket (0–90)",
    error_invalid_ticket_settings: "Days must be between 0 and 90",
  },
);

const KINDS = ["assigned", "buyer_replied", "sla_warning", "sla_breach", "sla_escalation", "digest"];
const label = (key, node) => el("label", {}, el("span", {}, t(key)), node);
const check = (key, checked, testid) => el("label", { class: "check" }, el("input", { type: "checkbox", checked, testid }), t(key));

/// Admin settings: the SMTP server reminders go through.
export class SmtpSettings {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.load();
  }

  async load() {
    let view;
    try {
      view = await get("/api/v1/admin/smtp");
    } catch (error) {
      this.root.replaceChildren(el("p", { class: "hint" }, errorText(error)));
      return;
    }
    const s = view.configured ? view : { host: "", port: 587, tls: "starttls", username: "", from_address: "", enabled: true };
    const host = el("input", { value: s.host, required: true, placeholder: "smtp.shop.example", testid: "smtp-host" });
    const port = el("input", { type: "number", min: 1, max: 65535, value: s.port, required: true, testid: "smtp-port" });
    const tls = el("select", { testid: "smtp-tls" }, ["none", "starttls", "tls"].map((m) => el("option", { value: m }, t(`tls_${m}`))));
    tls.value = s.tls;
    const user = el("input", { value: s.username || "", autocomplete: "off", testid: "smtp-user" });
    const password = el("input", { type: "password", autocomplete: "new-password", placeholder: view.password_set ? t("smtp_password_kept") : "", testid: "smtp-password" });
    const from = el("input", { value: s.from_address, required: true, testid: "smtp-from" });
    const enabled = check("smtp_enabled", s.enabled, "smtp-enabled");
    const save = async (e) => {
      e.preventDefault();
      const body = {
        host: host.value, port: Number(port.value), tls: tls.value, username: user.value.trim() || null,
        from_address: from.value, enabled: enabled.querySelector("input").checked,
      };
      if (password.value) body.password = password.value;
      try {
        const saved = await put("/api/v1/admin/smtp", body);
        password.value = "";
        password.placeholder = saved.password_set ? t("smtp_password_kept") : "";
        this.app.toast(t("saved"));
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    this.root.replaceChildren(
      await reopenForm(this.app),
      await routingForm(this.app),
      await automationsForm(this.app),
      el(
        "form",
        { class: "card editor", testid: "smtp-form", onsubmit: save },
        el("h3", {}, t("mail_h")),
        el("p", { class: "hint" }, t("smtp_hint")),
        label("smtp_host", host), label("smtp_port", port), label("smtp_tls", tls), label("smtp_user", user),
        label("smtp_password", password), label("smtp_from", from), enabled,
        el("button", { type: "submit", testid: "smtp-save" }, t("save")),
      ),
    );
  }
}

/// The reopen window is shown beside the mail server (both are ticket settings).
async function reopenForm(app) {
  const current = await get("/api/v1/admin/ticket-settings").catch(() => ({ reopen_days: 7 }));
  const days = el("input", { type: "number", min: 0, max: 90, value: current.reopen_days, required: true, testid: "reopen-days" });
  const save = async (e) => {
    e.preventDefault();
    try {
      await put("/api/v1/admin/ticket-settings", { reopen_days: Number(days.value) });
      app.toast(t("saved"));
    } catch (error) {
      app.toast(errorText(error));
    }
  };
  return el(
    "form",
    { class: "card editor", testid: "reopen-form", onsubmit: save },
    el("h3", {}, t("reopen_h")),
    label("reopen_days", days),
    el("button", { type: "submit", testid: "reopen-save" }, t("save")),
  );
}

/// #/me: my own notification preferences.
export class MySettings {
  constructor(app, root) {
    this.app = app;
    this.root = el("div", { class: "admin", testid: "my-settings" });
    this.twoStep = el("section", { class: "card editor", testid: "two-step" });
    root.append(this.root);
    this.load();
  }

  async load() {
    let prefs;
    try {
      prefs = await get("/api/v1/staff/me/notifications");
    } catch (error) {
      this.root.replaceChildren(el("p", { class: "hint" }, errorText(error)));
      return;
    }
    const email = el("input", { type: "email", value: prefs.email || "", autocomplete: "email", testid: "notify-email" });
    const inApp = check("notify_in_app", prefs.in_app, "notify-in-app");
    const kinds = KINDS.map((k) => check(`on_${k}`, prefs.email_on[k], `notify-on-${k}`));
    const save = async (e) => {
      e.preventDefault();
      const email_on = Object.fromEntries(KINDS.map((k, i) => [k, kinds[i].querySelector("input").checked]));
      try {
        await put("/api/v1/staff/me/notifications", { email: email.value.trim() || null, in_app: inApp.querySelector("input").checked, email_on });
        this.app.toast(t("saved"));
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    this.root.replaceChildren(
      el(
        "form",
        { class: "card editor", testid: "notify-form", onsubmit: save },
        el("h3", {}, t("notify_h")),
        label("notify_email", email), inApp,
        el("p", { class: "hint" }, t("notify_email_on")), kinds,
        el("button", { type: "submit", testid: "notify-save" }, t("save")),
      ),
      this.twoStep,
    );
    this.showTwoStep();
  }

  /// 两步验证: set up (the secret and the app link shown once), turn on with a
  /// first code, turn off with a current one.
  async showTwoStep(setup = null) {
    const card = this.twoStep;
    let status;
    try {
      status = await get("/api/v1/staff/me/totp");
    } catch (error) {
      card.replaceChildren(el("p", { class: "hint" }, errorText(error)));
      return;
    }
    const code = el("input", { inputmode: "numeric", autocomplete: "one-time-code", maxlength: 7, placeholder: "123456", testid: "totp-code" });
    const act = async (request, after) => {
      try {
        await request();
        this.app.toast(t("saved"));
        this.showTwoStep(after);
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    const codeForm = (word, testid, path) => el(
      "form",
      { class: "row", onsubmit: (e) => { e.preventDefault(); act(() => post(path, { code: code.value })); } },
      label("totp_code", code),
      el("button", { type: "submit", testid }, t(word)),
    );
    const parts = [el("h3", {}, t("two_step_h")), el("p", { class: "hint" }, t("two_step_hint"))];
    if (status.enabled) {
      parts.push(el("p", { testid: "totp-state" }, t("two_step_on")), codeForm("two_step_disable", "totp-disable", "/api/v1/staff/me/totp/disable"));
    } else if (setup) {
      parts.push(
        el("p", {}, t("two_step_scan")),
        el("p", {}, el("code", { class: "secret", testid: "totp-secret" }, setup.secret)),
        el("p", {}, el("a", { href: setup.otpauth_url, class: "app-link", testid: "totp-link" }, t("two_step_open_app"))),
        codeForm("two_step_enable", "totp-enable", "/api/v1/staff/me/totp/enable"),
      );
    } else {
      const start = async () => {
        try {
          const fresh = await post("/api/v1/staff/me/totp/setup");
          this.showTwoStep(fresh);
        } catch (error) {
          this.app.toast(errorText(error));
        }
      };
      parts.push(
        el("p", { testid: "totp-state" }, t("two_step_off")),
        el("button", { type: "button", testid: "totp-setup", onclick: start }, t(status.pending ? "two_step_restart" : "two_step_setup")),
      );
    }
    card.replaceChildren(...parts);
  }
}
