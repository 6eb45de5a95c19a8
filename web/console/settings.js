// Admin settings: per-language welcome messages, and the shop's name, service
// hours, holidays and time zone (in effect at once, no restart). Also the
// password change a reset forces at next sign-in.

import { del, el, get, put } from "./api.js";
import { addStrings, errorText, t, word } from "./i18n.js";

addStrings(
  {
    menu_h: "快捷菜单", menu_hint: "欢迎语下方的按钮，买家点一下就发出这句话。每行一个，1–6 个，每个不超过 20 字。",
    menu_builtin: "当前使用内置菜单", menu_custom: "当前使用本店菜单", menu_reset: "恢复内置菜单", error_invalid_input: "输入不符合要求",
  },
  {
    menu_h: "Quick-reply menu", menu_hint: "The buttons under the greeting; a tap sends that line. One per line, 1–6 of them, up to 20 characters each.",
    menu_builtin: "Using the built-in menu", menu_custom: "Using the shop's own menu", menu_reset: "Back to the built-in menu", error_invalid_input: "Please check the input",
  },
);

const SCENARIOS = ["new_visitor", "returning_visitor", "out_of_hours"];
const LANGS = ["zh", "en"];

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
    this.root.replaceChildren(el("p", { class: "hint" }, t("welcome_default")), el("section", { class: "cards" }, cards, menus));
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
    const path = `/api/v1/admin/welcome-messages/${scenario}`;
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
