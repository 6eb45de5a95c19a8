// Knowledge managers' pages: entries (search, filter, edit, publish) and the
// unanswered questions the bot could not handle. Uses the KB API.

import { ApiError, el, get, post, put, query as queryString } from "./api.js";
import { t } from "./i18n.js";

function unavailable(root, error) {
  const text = error instanceof ApiError && error.status === 404 ? t("kb_unavailable") : error.message;
  root.replaceChildren(el("p", { class: "hint", testid: "kb-unavailable" }, text));
}

export class Knowledge {
  constructor(app, root, rest) {
    this.app = app;
    this.root = el("div", { class: "kb", testid: "kb" });
    const tabs = el(
      "nav",
      { class: "tabs" },
      el("a", { href: "#/kb" }, t("entries")),
      el("a", { href: "#/kb/unanswered" }, t("unanswered_q")),
      el("a", { href: "#/kb/edit/new" }, t("new_entry")),
    );
    root.append(tabs, this.root);
    const [page, id] = rest;
    if (page === "unanswered") this.unanswered();
    else if (page === "edit") this.edit(id === "new" ? null : id);
    else this.entries();
  }

  async entries(query = "", status = "") {
    const search = el("input", { type: "search", value: query, placeholder: t("search"), testid: "kb-filter" });
    const select = el("select", {}, ["", "draft", "published", "archived"].map((s) => el("option", { value: s, selected: s === status }, t(s || "all"))));
    const form = el("form", { class: "row", onsubmit: (e) => (e.preventDefault(), this.entries(search.value, select.value)) }, search, select, el("button", { type: "submit" }, t("search")));
    try {
      const { entries, total } = await get(`/api/v1/kb/entries?${queryString({ q: query, status, limit: 100 })}`);
      const rows = entries.map((e) =>
        el("tr", {}, el("td", {}, el("a", { href: `#/kb/edit/${e.id}` }, e.question)), el("td", {}, e.category || "–"), el("td", {}, t(e.status)), el("td", {}, `v${e.version}`)),
      );
      this.root.replaceChildren(
        form,
        el("p", { class: "hint" }, `${total}`),
        el("div", { class: "table-wrap" }, el("table", { testid: "kb-entries" }, el("thead", {}, el("tr", {}, [t("question"), t("category"), t("status"), "#"].map((h) => el("th", {}, h)))), el("tbody", {}, rows))),
      );
    } catch (error) {
      unavailable(this.root, error);
    }
  }

  async edit(id, prefill = {}) {
    let entry = { question: "", similar: [], answer: "", category: "", tags: [], status: "draft", ...prefill };
    if (id) {
      try {
        entry = await get(`/api/v1/kb/entries/${id}`);
      } catch (error) {
        return unavailable(this.root, error);
      }
    }
    const field = (label, node) => el("label", {}, el("span", {}, label), node);
    const question = el("input", { value: entry.question, required: true, testid: "kb-question" });
    const similar = el("textarea", { rows: 3 });
    similar.value = (entry.similar || []).join("\n");
    const answer = el("textarea", { rows: 8, required: true, testid: "kb-answer" });
    answer.value = entry.answer;
    const category = el("input", { value: entry.category || "" });
    const tags = el("input", { value: (entry.tags || []).join(", ") });
    const body = () => ({
      question: question.value.trim(),
      similar: similar.value.split("\n").map((s) => s.trim()).filter(Boolean),
      answer: answer.value.trim(),
      category: category.value.trim() || null,
      tags: tags.value.split(",").map((s) => s.trim()).filter(Boolean),
    });
    const save = async () => {
      const saved = id ? await put(`/api/v1/kb/entries/${id}`, body()) : await post("/api/v1/kb/entries", body());
      this.app.toast(t("saved"));
      if (!id) location.hash = `#/kb/edit/${saved.id}`;
      return saved;
    };
    const publish = async (action) => {
      try {
        await post(`/api/v1/kb/entries/${id}/${action}`);
        this.app.toast(t("saved"));
        this.edit(id);
      } catch (error) {
        this.app.toast(error.message);
      }
    };
    this.root.replaceChildren(
      el(
        "form",
        { class: "editor", testid: "kb-editor", onsubmit: (e) => (e.preventDefault(), save().catch((err) => this.app.toast(err.message))) },
        field(t("question"), question),
        field(t("similar"), similar),
        field(t("answer"), answer),
        field(t("category"), category),
        field(t("tags"), tags),
        el(
          "div",
          { class: "row" },
          el("button", { type: "submit" }, t("save")),
          id && entry.status !== "published" ? el("button", { type: "button", onclick: () => publish("publish") }, t("publish")) : null,
          id && entry.status === "published" ? el("button", { type: "button", onclick: () => publish("unpublish") }, t("unpublish")) : null,
          id ? el("span", { class: "hint" }, `${t(entry.status)} · v${entry.version}`) : null,
        ),
      ),
    );
  }

  async unanswered() {
    try {
      const { groups } = await get("/api/v1/kb/unanswered");
      const rows = groups.map((g) =>
        el(
          "tr",
          {},
          el("td", {}, g.representative, el("div", { class: "hint" }, (g.examples || []).slice(0, 3).join(" · "))),
          el("td", {}, String(g.count)),
          el("td", {}, g.last_seen),
          el("td", {}, el("button", { type: "button", class: "link", onclick: () => this.edit(null, { question: g.representative, similar: g.examples || [] }) }, t("make_entry"))),
        ),
      );
      this.root.replaceChildren(
        el("div", { class: "table-wrap" }, el("table", { testid: "kb-unanswered" }, el("thead", {}, el("tr", {}, [t("question"), t("count"), t("last_seen"), ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows))),
      );
    } catch (error) {
      unavailable(this.root, error);
    }
  }
}
