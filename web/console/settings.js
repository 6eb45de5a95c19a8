// Admin settings: per-language welcome messages (per scenario, and rules by
// campaign, entry page and member level), and the shop's name, service
// hours, holidays and time zone (in effect at once, no restart). Also the
// password change a reset forces at next sign-in.

import { del, el, get, put } from "./api.js";
import { addStrings, errorText, t, word } from "./i18n.js";

addStrings(
  {
    menu_h: "快捷菜单", menu_hint: "欢迎语下方的按钮，买家点一下就发出这句话。每行一个，1–6 个，每个不超过 20 字。",
    menu_builtin: "当前使用内置菜单", menu_custom: "当前使用本店菜单", menu_reset: "恢复内置菜单", error_invalid_input: "输入不符合要求",
    wrules_h: "按规则的欢迎语", wrules_none: "还没有规则",
    wrules_hint: "新会话选用第一条适用、且有买家所用语言文字的欢迎语：非工作时间 → 活动 → 入口页面（路径前缀最长的优先）→ 会员等级 → 老访客 / 新访客。最多 50 条规则。",
    wrule_kind: "规则类型", wrule_kind_entry_page: "入口页面", wrule_kind_member_level: "会员等级", wrule_kind_campaign: "活动",
    wrule_value_entry_page: "页面路径前缀（以 / 开头，如 /products/）", wrule_value_campaign: "活动代码（链接中的 campaign，如 double11）",
    wrule_value_member_level: "会员等级", wrule_add: "添加规则", wrule_delete: "删除规则", wrule_deleted: "规则已删除",
    wrule_need_text: "请至少填写一种语言的欢迎语", wrule_need_value: "请填写规则条件",
    error_invalid_entry_page_prefix: "页面路径前缀须以 / 开头，不超过 200 个字符，且不能有空格",
    error_invalid_member_level: "会员等级只能是不超过 32 个字符的字母、数字、- 或 _", error_unknown_member_level: "店铺没有这个会员等级",
    error_too_many_welcome_rules: "规则已达 50 条上限，请先删除一条",
  },
  {
    menu_h: "Quick-reply menu", menu_hint: "The buttons under the greeting; a tap sends that line. One per line, 1–6 of them, up to 20 characters each.",
    menu_builtin: "Using the built-in menu", menu_custom: "Using the shop's own menu", menu_reset: "Back to the built-in menu", error_invalid_input: "Please check the input",
    wrules_h: "Welcome rules", wrules_none: "No rules yet",
    wrules_hint: "A new chat gets the first greeting that applies and has a text in the buyer's language: out of hours → campaign → entry page (longest path prefix first) → member level → returning / new visitor. At most 50 rules.",
    wrule_kind: "Kind of rule", wrule_kind_entry_page: "Entry page", wrule_kind_member_level: "Member level", wrule_kind_campaign: "Campaign",
    wrule_value_entry_page: "Page path prefix (starts with /, e.g. /products/)", wrule_value_campaign: "Campaign code (the link's campaign, e.g. double11)",
    wrule_value_member_level: "Member level", wrule_add: "Add rule", wrule_delete: "Delete rule", wrule_deleted: "Rule deleted",
    wrule_need_text: "Write the greeting in at least one language", wrule_need_value: "Fill in the rule's condition",
    error_invalid_entry_page_prefix: "A path prefix starts with /, has at most 200 characters and no spaces",
    error_invalid_member_level: "A member level is up to 32 letters, digits, - or _", error_unknown_member_level: "The shop has no such member level",
    error_too_many_welcome_rules: "There are already 50 rules: delete one first",
  },
);

const SCENARIOS = ["new_visitor", "returning_visitor", "out_of_hours"];
const LANGS = ["zh", "en"];
/// The rules an admin adds, in the order they apply.
const RULE_KINDS = ["campaign", "entry_page", "member_level"];
const welcomePath = (scenario) => `/api/v1/admin/welcome-messages/${encodeURIComponent(scenario)}`;

/// A rule's scenario key ("entry_page:/products/") as its kind and value.
function ruleOf(scenario) {
  const at = scenario.indexOf(":");
  const kind = scenario.slice(0, at);
  return at > 0 && RULE_KINDS.includes(kind) ? { kind, value: scenario.slice(at + 1) } : null;
}

function ruleLabel({ kind, value }) {
  return `${t(`wrule_kind_${kind}`)}：${kind === "member_level" ? word("level", value) : value}`;
}

function offsetLabel(minutes) {
  const sign = minutes < 0 ? "−" : "+";
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

export class WelcomeMessages {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.load();
  }

  async load() {
    const list = await get("/api/v1/admin/welcome-messages").catch(() => ({ messages: [] }));
    const text = (scenario, lang) => list.messages.find((m) => m.scenario === scenario && m.lang === lang)?.text || "";
    const cards = SCENARIOS.map((scenario) =>
      el(
        "article",
        { class: "card", testid: `welcome-${scenario}` },
        el("h3", {}, word("scenario", scenario)),
        LANGS.map((lang) => this.editor(scenario, lang, text(scenario, lang))),
      ),
    );
    const menus = el(
      "article",
      { class: "card", testid: "bot-menu" },
      el("h3", {}, t("menu_h")),
      el("p", { class: "hint" }, t("menu_hint")),
      (list.menus || []).map((m) => this.menuEditor(m)),
    );
    this.root.replaceChildren(
      el("p", { class: "hint" }, t("welcome_default")),
      el("section", { class: "cards" }, cards, menus),
      this.rules(list, text),
    );
  }

  /// The rules (campaign, entry page, member level): each with its texts and
  /// a delete button, and a form that adds one.
  rules(list, text) {
    const scenarios = [...new Set(list.messages.map((m) => m.scenario))].filter(ruleOf);
    scenarios.sort((a, b) => RULE_KINDS.indexOf(ruleOf(a).kind) - RULE_KINDS.indexOf(ruleOf(b).kind) || a.localeCompare(b));
    const rows = scenarios.map((scenario) =>
      el(
        "article",
        { class: "card", testid: `welcome-rule-${scenario}` },
        el("h3", {}, ruleLabel(ruleOf(scenario))),
        LANGS.map((lang) => this.editor(scenario, lang, text(scenario, lang))),
        el("button", { type: "button", class: "secondary", testid: `welcome-rule-delete-${scenario}`, onclick: () => this.deleteRule(scenario, list) }, t("wrule_delete")),
      ),
    );
    return el(
      "section",
      { testid: "welcome-rules" },
      el("h3", {}, t("wrules_h")),
      el("p", { class: "hint" }, t("wrules_hint")),
      el("section", { class: "cards" }, rows.length ? rows : el("p", { class: "hint", testid: "welcome-rules-none" }, t("wrules_none"))),
      this.ruleForm(list.member_levels || []),
    );
  }

  async deleteRule(scenario, list) {
    try {
      for (const m of list.messages.filter((m) => m.scenario === scenario)) await del(`${welcomePath(scenario)}?lang=${m.lang}`);
      this.app.toast(t("wrule_deleted"));
    } catch (error) {
      this.app.toast(errorText(error));
    }
    this.load();
  }

  /// A new rule: its kind, its condition (a path prefix, a campaign code, or
  /// one of the shop's member levels) and its texts.
  ruleForm(levels) {
    const kind = el("select", { testid: "welcome-rule-kind" }, RULE_KINDS.map((k) => el("option", { value: k }, t(`wrule_kind_${k}`))));
    kind.value = "entry_page";
    const value = el("input", { maxlength: 200, testid: "welcome-rule-value" });
    const level = levels.length
      ? el("select", { testid: "welcome-rule-level" }, levels.map((l) => el("option", { value: l }, word("level", l))))
      : el("input", { maxlength: 32, testid: "welcome-rule-level" });
    const valueLabel = el("span");
    const valueField = el("label", {}, valueLabel, value);
    const levelField = el("label", {}, el("span", {}, t("wrule_value_member_level")), level);
    const texts = Object.fromEntries(LANGS.map((lang) => [lang, el("textarea", { rows: 2, maxlength: 1000, testid: `welcome-rule-text-${lang}` })]));
    const shown = () => {
      const byLevel = kind.value === "member_level";
      valueField.hidden = byLevel;
      levelField.hidden = !byLevel;
      valueLabel.textContent = t(`wrule_value_${kind.value}`);
      value.placeholder = kind.value === "entry_page" ? "/products/" : "double11";
    };
    kind.addEventListener("change", shown);
    shown();
    const add = async (e) => {
      e.preventDefault();
      const condition = (kind.value === "member_level" ? level.value : value.value).trim();
      if (!condition) return this.app.toast(t("wrule_need_value"));
      const filled = LANGS.filter((lang) => texts[lang].value.trim());
      if (!filled.length) return this.app.toast(t("wrule_need_text"));
      try {
        for (const lang of filled) await put(welcomePath(`${kind.value}:${condition}`), { text: texts[lang].value, lang });
        this.app.toast(t("saved"));
        this.load();
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    return el(
      "form",
      { class: "card editor", testid: "welcome-rule-new", onsubmit: add },
      el("h3", {}, t("wrule_add")),
      el("label", {}, el("span", {}, t("wrule_kind")), kind),
      valueField,
      levelField,
      LANGS.map((lang) => el("label", {}, el("span", {}, t(`lang_${lang}`)), texts[lang])),
      el("button", { type: "submit", testid: "welcome-rule-add" }, t("wrule_add")),
    );
  }

  /// One language's menu: one button per line; back to the built-in one.
  menuEditor(menu) {
    const box = el("textarea", { rows: 4, testid: `menu-${menu.lang}`, "aria-label": `${t("menu_h")} ${t(`lang_${menu.lang}`)}` });
    box.value = menu.buttons.join("\n");
    const act = async (request) => {
      try {
        await request();
        this.app.toast(t("saved"));
        this.load();
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    const save = (e) => {
      e.preventDefault();
      act(() => put("/api/v1/admin/bot-menu", { lang: menu.lang, buttons: box.value.split("\n") }));
    };
    return el(
      "form",
      { class: "welcome-edit", onsubmit: save },
      el("label", {}, el("span", {}, `${t(`lang_${menu.lang}`)} · ${t(menu.custom ? "menu_custom" : "menu_builtin")}`), box),
      el("button", { type: "submit", testid: `menu-save-${menu.lang}` }, t("save")),
      menu.custom
        ? el("button", { type: "button", class: "secondary", testid: `menu-reset-${menu.lang}`, onclick: () => act(() => del(`/api/v1/admin/bot-menu?lang=${menu.lang}`)) }, t("menu_reset"))
        : "",
    );
  }

  editor(scenario, lang, value) {
    const box = el("textarea", { rows: 3, maxlength: 1000, testid: `welcome-${scenario}-${lang}` });
    box.value = value;
    const path = welcomePath(scenario);
    const save = async (e) => {
      e.preventDefault();
      try {
        if (box.value.trim()) await put(path, { text: box.value, lang });
        else if (value) await del(`${path}?lang=${lang}`);
        this.app.toast(t("saved"));
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    return el("form", { class: "welcome-edit", onsubmit: save }, el("label", {}, el("span", {}, t(`lang_${lang}`)), box), el("button", { type: "submit", testid: `welcome-save-${scenario}-${lang}` }, t("save")));
  }
}

export class ShopSettings {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.load();
  }

  async load() {
    let s;
    try {
      s = await get("/api/v1/admin/shop-settings");
    } catch (error) {
      this.root.replaceChildren(el("p", { class: "hint" }, errorText(error)));
      return;
    }
    const name = el("input", { value: s.shop_name, required: true, maxlength: 64, testid: "shop-name" });
    const hours = el("input", { value: s.service_hours || "", placeholder: "09:00-22:00", testid: "shop-hours" });
    const offsets = [];
    for (let m = -720; m <= 840; m += 30) offsets.push(m);
    if (!offsets.includes(s.utc_offset_minutes)) offsets.push(s.utc_offset_minutes);
    const zone = el("select", { testid: "shop-zone" }, offsets.map((m) => el("option", { value: m }, offsetLabel(m))));
    zone.value = String(s.utc_offset_minutes);
    const holidays = el("textarea", { rows: 4, testid: "shop-holidays" });
    holidays.value = s.holidays.join("\n");
    const status = el("p", { class: "hint", testid: "shop-open" }, s.open_now ? t("open_now") : t("closed_now"));
    const label = (key, node) => el("label", {}, el("span", {}, t(key)), node);
    const form = el(
      "form",
      {
        class: "card editor", testid: "shop-form",
        onsubmit: async (e) => {
          e.preventDefault();
          const body = {
            shop_name: name.value,
            service_hours: hours.value.trim() || null,
            utc_offset_minutes: Number(zone.value),
            holidays: holidays.value.split(/\s+/).filter(Boolean),
          };
          try {
            const saved = await put("/api/v1/admin/shop-settings", body);
            status.textContent = saved.open_now ? t("open_now") : t("closed_now");
            this.app.toast(t("saved"));
          } catch (error) {
            this.app.toast(errorText(error));
          }
        },
      },
      el("h3", {}, t("shop")),
      status,
      label("shop_name", name), label("service_hours", hours), label("time_zone", zone), label("holidays", holidays),
      el("button", { type: "submit", testid: "shop-save" }, t("save")),
    );
    this.root.replaceChildren(form);
  }
}

/// The form a reset password leads to: nothing else works until it is done.
export function passwordChangeForm(onDone) {
  const current = el("input", { type: "password", required: true, autocomplete: "current-password", testid: "current-password" });
  const next = el("input", { type: "password", required: true, minlength: 10, autocomplete: "new-password", testid: "new-password" });
  const error = el("p", { class: "error", role: "alert", testid: "password-error" });
  return el(
    "form",
    {
      class: "card editor", testid: "password-form",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          onDone(await put("/api/v1/staff/me/password", { current_password: current.value, new_password: next.value }));
        } catch (err) {
          error.textContent = errorText(err);
        }
      },
    },
    el("h3", {}, t("must_change")),
    el("label", {}, el("span", {}, t("current_password")), current),
    el("label", {}, el("span", {}, t("new_password")), next),
    error,
    el("button", { type: "submit", testid: "password-submit" }, t("change_password")),
  );
}
