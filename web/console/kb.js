// Knowledge managers' pages: entries (search, filter, usage), the editor with
// category picker, preview as the buyer sees it, versions with diff and
// rollback, archive; "test a question" (what the bot would do with a
// wording); and the unanswered questions the bot could not handle.

import { ApiError, del, el, get, post, put, query as queryString } from "./api.js";
import { addStrings, t } from "./i18n.js";

addStrings(
  {
    kb_unanswered_none: "目前没有待解答的问题", kb_answered_since: (n) => `已由知识库解答（${n} 组）`, times_n: (n) => `${n} 次`,
    kb_test: "测试问法", kb_test_hint: "输入买家可能的问法，看看机器人会怎么处理", kb_test_q: "买家问法",
    kb_try: "测试", kb_would_curated: "直接发送这条标准答案", kb_would_grounded: "由模型依据下列条目组织回答",
    kb_would_hand_off: "没有足够把握：转人工或请买家换个说法", kb_confidence: "把握", kb_rank: "排名",
    kb_no_hits: "没有相关条目", kb_usage: "使用情况", kb_retrieved: "被检索", kb_answered: "用于回答",
    kb_helpful: "有帮助", kb_unhelpful: "没帮助", kb_preview: "买家看到的样子", kb_versions: "历史版本",
    kb_version: "版本", kb_author: "修改人", kb_time: "时间", kb_diff: "与当前版本对比", kb_rollback: "恢复到此版本",
    kb_rolled_back: "已恢复为新版本", kb_confirm_rollback: "用这个版本的内容生成一个新版本？",
    kb_archive: "归档", kb_confirm_archive: "归档后机器人不再使用这条条目（历史保留）。确定归档？",
    kb_archived_done: "已归档", kb_current: "当前", kb_no_changes: "两个版本内容相同", kb_new_category: "新建分类",
    kb_category_created: "分类已创建", kb_category_hint: "用 / 分隔层级，例如 售后/退货", kb_updated: "更新时间",
    kb_field_question: "问题", kb_field_similar: "相似问法", kb_field_answer: "答案", kb_field_category: "分类",
    kb_field_tags: "标签", kb_field_products: "商品", kb_field_kind: "类型", kb_field_locale: "语言",
    kb_field_valid_from: "生效日期", kb_field_valid_to: "失效日期", kb_before: "原来", kb_after: "现在",
    kb_field_member_answers: "会员等级专属答案", kb_member_answers: "会员等级专属答案",
    kb_member_hint: "已登录且是该会员等级的买家看到这里的答案，其他买家看到上面的答案。",
    kb_member_level: "会员等级（如 gold）", kb_member_answer: "该等级买家看到的答案", kb_add_member_answer: "添加会员等级答案",
    kb_remove_member_answer: "删除", err_invalid_member_answer: "会员等级答案有误：每个等级只能写一次、最多 10 个，等级和答案都不能为空",
    kb_note_created: "创建", kb_note_edited: "修改", kb_note_status: "状态变更",
    kb_note_rolled_back: "恢复自", kb_note_imported: "导入",
    err_version_conflict: "条目已被别人修改，请刷新后再改", err_unknown_category: "分类不存在，请先新建分类",
    err_invalid_entry: "条目内容不完整（问题和答案必填）", err_invalid_category: "分类名称无效",
    kb_calibration: "机器人的把握是怎样定的",
    kb_calibration_kb: (a, u) => `按本知识库自己的问法校准：轮流留出 ${a} 个知识库能答的问法和 ${u} 个它答不了的问法（所属条目被整条留出），看机器人会怎么处理。`,
    kb_calibration_shipped: "条目或相似问法太少，无法按本知识库校准，正在使用内置校准。条目在 8 条以上、平均每条有 10 个以上问法时，会自动按本知识库校准。",
    kb_calibration_answered: (x, r, c) => `能答的问法：机器人回答 ${x}，其中答对 ${r}；直接发送标准答案的 ${c}`,
    kb_calibration_handed_off: (x) => `答不了的问法：转人工或请买家换个说法 ${x}`,
    kb_calibration_fitting: "条目有改动，正在后台重新校准（大的知识库要几分钟）；在此之前机器人沿用上一次的校准。",
    kb_wordings: "建议问法", kb_wordings_hint: "问法少于 3 个的已发布条目，买家换个说法就可能匹配不上。本地模型在空闲时为它们写出买家可能的其他问法；采纳后成为条目的相似问法（生成新版本，机器人随即学会），不采纳的不会再提出。",
    kb_wordings_off: "本服务器没有开启建议问法（没有本地模型，或设置为关闭）。",
    kb_wordings_none: "目前没有待处理的建议问法", kb_wordings_refresh: "立即查找需要建议的条目", kb_wordings_refreshing: "已开始：模型空闲时会逐条写出建议，稍后刷新本页查看",
    kb_wording_entry: "条目", kb_wording_text: "建议的问法", kb_wording_count: "现有问法数", kb_wording_decided: "处理人",
    kb_wording_accept: "采纳", kb_wording_reject: "不采纳", kb_wording_accepted: "已采纳为相似问法", kb_wording_rejected: "已不采纳",
    kb_wording_status_pending: "待处理", kb_wording_status_accepted: "已采纳", kb_wording_status_rejected: "未采纳", kb_note_wording_accepted: "采纳建议问法",
    err_suggestion_decided: "这条建议已被别人处理，请刷新", err_suggestion_not_found: "这条建议已不存在，请刷新",
    err_wording_suggestions_off: "本服务器没有开启建议问法（没有本地模型，或设置为关闭）",
  },
  {
    kb_unanswered_none: "No unanswered questions right now", kb_answered_since: (n) => `Answered by the knowledge base since (${n} groups)`, times_n: (n) => `${n} time${n === 1 ? "" : "s"}`,
    kb_test: "Test a question", kb_test_hint: "Type a wording a buyer might use and see what the bot would do", kb_test_q: "Buyer's wording",
    kb_try: "Test", kb_would_curated: "Sends this entry's answer as it is", kb_would_grounded: "The model answers from the entries below",
    kb_would_hand_off: "Not sure enough: hands over to a person or asks the buyer to rephrase", kb_confidence: "Confidence", kb_rank: "Rank",
    kb_no_hits: "No related entries", kb_usage: "Usage", kb_retrieved: "Retrieved", kb_answered: "Used in answers",
    kb_helpful: "Helpful", kb_unhelpful: "Not helpful", kb_preview: "As the buyer sees it", kb_versions: "Versions",
    kb_version: "Version", kb_author: "By", kb_time: "Time", kb_diff: "Compare with current", kb_rollback: "Restore this version",
    kb_rolled_back: "Restored as a new version", kb_confirm_rollback: "Make a new version from this one?",
    kb_archive: "Archive", kb_confirm_archive: "Once archived the bot no longer uses this entry (its history is kept). Archive it?",
    kb_archived_done: "Archived", kb_current: "current", kb_no_changes: "The two versions are the same", kb_new_category: "New category",
    kb_category_created: "Category created", kb_category_hint: "Levels separated by /, e.g. After-sales/Returns", kb_updated: "Updated",
    kb_field_question: "Question", kb_field_similar: "Similar questions", kb_field_answer: "Answer", kb_field_category: "Category",
    kb_field_tags: "Tags", kb_field_products: "Products", kb_field_kind: "Kind", kb_field_locale: "Language",
    kb_field_valid_from: "Valid from", kb_field_valid_to: "Valid to", kb_before: "Before", kb_after: "After",
    kb_field_member_answers: "Answers by member level", kb_member_answers: "Answers by member level",
    kb_member_hint: "Signed-in buyers of that member level see this answer; everyone else sees the answer above.",
    kb_member_level: "Member level (e.g. gold)", kb_member_answer: "The answer buyers of this level see", kb_add_member_answer: "Add an answer for a member level",
    kb_remove_member_answer: "Remove", err_invalid_member_answer: "Check the member-level answers: each level once, at most 10, neither level nor answer empty",
    kb_note_created: "Created", kb_note_edited: "Edited", kb_note_status: "Status changed",
    kb_note_rolled_back: "Restored from", kb_note_imported: "Imported",
    err_version_conflict: "Someone else changed this entry: reload before editing", err_unknown_category: "No such category: create it first",
    err_invalid_entry: "The entry is incomplete (question and answer are required)", err_invalid_category: "Not a valid category name",
    kb_calibration: "How sure the bot is, and why",
    kb_calibration_kb: (a, u) => `Calibrated on this knowledge base's own wordings: ${a} wordings it answers and ${u} it does not (their entries left out whole) were held out in turn to see what the bot would do.`,
    kb_calibration_shipped: "Too few entries or similar questions to calibrate on this knowledge base: the built-in calibration is in use. With 8 or more entries and 10 or more wordings each on average, it calibrates on its own.",
    kb_calibration_answered: (x, r, c) => `Wordings it answers: the bot answers ${x}, right ${r}; with the curated answer as it is ${c}`,
    kb_calibration_handed_off: (x) => `Wordings it does not answer: handed to a person or asked to rephrase ${x}`,
    kb_calibration_fitting: "The entries changed: recalibrating in the background (a few minutes on a large knowledge base). Until then the bot keeps the last calibration.",
    kb_wordings: "Suggested wordings", kb_wordings_hint: "A published entry with fewer than 3 wordings is easily missed when a buyer asks another way. While it is idle, the local model writes other ways buyers might ask; an accepted one becomes a similar question of the entry (a new version the bot learns at once), and a rejected one is never proposed again.",
    kb_wordings_off: "This server does not suggest wordings (no local model, or the setting is off).",
    kb_wordings_none: "No suggested wordings waiting", kb_wordings_refresh: "Look for entries to suggest wordings for now", kb_wordings_refreshing: "Started: the model writes suggestions one entry at a time while it is idle; reload this page in a while",
    kb_wording_entry: "Entry", kb_wording_text: "Suggested wording", kb_wording_count: "Wordings now", kb_wording_decided: "Decided by",
    kb_wording_accept: "Accept", kb_wording_reject: "Reject", kb_wording_accepted: "Accepted as a similar question", kb_wording_rejected: "Rejected",
    kb_wording_status_pending: "Waiting", kb_wording_status_accepted: "Accepted", kb_wording_status_rejected: "Rejected", kb_note_wording_accepted: "Accepted a suggested wording",
    err_suggestion_decided: "Someone else already decided this suggestion: reload", err_suggestion_not_found: "This suggestion is gone: reload",
    err_wording_suggestions_off: "This server does not suggest wordings (no local model, or the setting is off)",
  },
);

function unavailable(root, error) {
  const text = error instanceof ApiError && error.status === 404 ? t("kb_unavailable") : error.message;
  root.replaceChildren(el("p", { class: "hint", testid: "kb-unavailable" }, text));
}

/// A translated message for an API error, or the generic "failed".
function errorText(error) {
  if (error.code === "invalid_entry" && /member_answers/.test(error.message || "")) return t("err_invalid_member_answer");
  const key = `err_${error.code}`;
  const text = t(key);
  return text === key ? t("failed") : text;
}

const when = (ms) => (ms ? new Date(ms).toLocaleString(document.documentElement.lang) : "–");

/// A change note in words: the service writes "created", "edited",
/// "imported", "rolled back to N", or nothing for a status change.
function noteText(note) {
  const rolled = /^rolled back to (\d+)/.exec(note || "");
  if (rolled) return `${t("kb_note_rolled_back")} v${rolled[1]}`;
  const key = note ? `kb_note_${note}` : "kb_note_status";
  const text = t(key);
  return text === key ? t("kb_note_edited") : text;
}

function fieldText(field) {
  const key = `kb_field_${field}`;
  const text = t(key);
  return text === key ? field : text;
}

/// Safe links only: the page never renders javascript: or data: URLs.
const safeUrl = (url) => /^(https?:\/\/|\/)/i.test(url);

/// The answer as the widget shows it: lines, links and pictures from the
/// Markdown subset the KB stores; everything else is plain text.
export function renderAnswer(markdown) {
  const out = [];
  const pattern = /(!?)\[([^\]]*)\]\(([^)\s]+)\)/g;
  (markdown || "").split("\n").forEach((line, i) => {
    if (i) out.push(el("br"));
    let last = 0;
    for (const m of line.matchAll(pattern)) {
      out.push(line.slice(last, m.index));
      const [, bang, text, url] = m;
      if (!safeUrl(url)) out.push(text);
      else if (bang) out.push(el("img", { src: url, alt: text }));
      else out.push(el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, text || url));
      last = m.index + m[0].length;
    }
    out.push(line.slice(last));
  });
  return out;
}

export class Knowledge {
  constructor(app, root, rest) {
    this.app = app;
    this.root = el("div", { class: "kb", testid: "kb" });
    const tabs = el(
      "nav",
      { class: "tabs" },
      el("a", { href: "#/kb" }, t("entries")),
      el("a", { href: "#/kb/test", testid: "kb-tab-test" }, t("kb_test")),
      el("a", { href: "#/kb/unanswered" }, t("unanswered_q")),
      el("a", { href: "#/kb/wordings", testid: "kb-tab-wordings" }, t("kb_wordings")),
      el("a", { href: "#/kb/edit/new", testid: "kb-tab-new" }, t("new_entry")),
    );
    root.append(tabs, this.root);
    const [page, id] = rest;
    if (page === "unanswered") this.unanswered();
    else if (page === "wordings") this.wordings();
    else if (page === "test") this.test();
    else if (page === "edit") this.edit(id === "new" ? null : id);
    else this.entries();
  }

  async entries(query = "", status = "") {
    const search = el("input", { type: "search", value: query, placeholder: t("search"), testid: "kb-filter" });
    const select = el("select", { testid: "kb-status" }, ["", "draft", "published", "archived"].map((s) => el("option", { value: s, selected: s === status }, t(s || "all"))));
    const form = el("form", { class: "row", onsubmit: (e) => (e.preventDefault(), this.entries(search.value, select.value)) }, search, select, el("button", { type: "submit" }, t("search")));
    try {
      const { entries, total } = await get(`/api/v1/kb/entries?${queryString({ q: query, status, limit: 100 })}`);
      const rows = entries.map((e) =>
        el(
          "tr",
          { testid: `kb-row-${e.id}` },
          el("td", {}, el("a", { href: `#/kb/edit/${e.id}` }, e.question)),
          el("td", {}, e.category || "–"),
          el("td", {}, t(e.status)),
          el("td", {}, `v${e.version}`),
          el("td", { class: "usage", title: `${t("kb_retrieved")} / ${t("kb_answered")} / ${t("kb_helpful")} / ${t("kb_unhelpful")}` }, `${e.usage.retrieved} / ${e.usage.answered} · 👍${e.usage.helpful} 👎${e.usage.unhelpful}`),
          el("td", {}, when(e.updated_at)),
        ),
      );
      const heads = [t("question"), t("category"), t("status"), t("kb_version"), t("kb_usage"), t("kb_updated")];
      this.root.replaceChildren(
        form,
        el("p", { class: "hint" }, `${total}`),
        el("div", { class: "table-wrap" }, el("table", { testid: "kb-entries" }, el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h)))), el("tbody", {}, rows))),
      );
    } catch (error) {
      unavailable(this.root, error);
    }
  }

  async edit(id, prefill = {}) {
    let entry = { question: "", similar: [], answer: "", category: "", tags: [], status: "draft", ...prefill };
    let categories = [];
    try {
      if (id) entry = await get(`/api/v1/kb/entries/${id}`);
      categories = (await get("/api/v1/kb/categories")).categories || [];
    } catch (error) {
      return unavailable(this.root, error);
    }
    const field = (label, node) => el("label", {}, el("span", {}, label), node);
    const question = el("input", { value: entry.question, required: true, testid: "kb-question" });
    const similar = el("textarea", { rows: 3, testid: "kb-similar" });
    similar.value = (entry.similar || []).join("\n");
    const answer = el("textarea", { rows: 8, required: true, testid: "kb-answer" });
    answer.value = entry.answer;
    const category = el(
      "select",
      { testid: "kb-category" },
      el("option", { value: "" }, "–"),
      categories.map((c) => el("option", { value: c, selected: c === entry.category }, c)),
    );
    const newCategory = el("input", { placeholder: t("kb_category_hint"), testid: "kb-new-category" });
    const addCategory = async () => {
      const path = newCategory.value.trim();
      if (!path) return;
      try {
        const { categories: all } = await post("/api/v1/kb/categories", { path });
        category.replaceChildren(el("option", { value: "" }, "–"), ...all.map((c) => el("option", { value: c, selected: c === path }, c)));
        newCategory.value = "";
        this.app.toast(t("kb_category_created"));
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    const tags = el("input", { value: (entry.tags || []).join(", ") });
    // Answers by member level: a row per level, added and removed in place.
    const memberRows = el("div", { class: "member-answers", testid: "kb-member-answers" });
    const addMemberRow = (m = { level: "", answer: "" }) => {
      const level = el("input", { value: m.level, placeholder: t("kb_member_level"), testid: "kb-member-level" });
      const text = el("textarea", { rows: 3, placeholder: t("kb_member_answer"), testid: "kb-member-answer" });
      text.value = m.answer;
      const row = el(
        "div",
        { class: "member-answer" },
        level,
        text,
        el("button", { type: "button", class: "link", testid: "kb-member-remove", onclick: () => row.remove() }, t("kb_remove_member_answer")),
      );
      memberRows.append(row);
    };
    (entry.member_answers || []).forEach(addMemberRow);
    const memberAnswers = () =>
      [...memberRows.querySelectorAll(".member-answer")]
        .map((row) => ({ level: row.querySelector("input").value.trim(), answer: row.querySelector("textarea").value.trim() }))
        .filter((m) => m.level || m.answer);
    const preview = el("div", { class: "preview-bubble", testid: "kb-preview" });
    const showPreview = () => preview.replaceChildren(...renderAnswer(answer.value));
    answer.addEventListener("input", showPreview);
    showPreview();
    const body = () => ({
      question: question.value.trim(),
      similar: similar.value.split("\n").map((s) => s.trim()).filter(Boolean),
      answer: answer.value.trim(),
      category: category.value || null,
      tags: tags.value.split(",").map((s) => s.trim()).filter(Boolean),
      products: entry.products || [],
      locale: entry.locale || undefined,
      valid_from: entry.valid_from || null,
      valid_to: entry.valid_to || null,
      member_answers: memberAnswers(),
    });
    const save = async () => {
      try {
        const saved = id ? await put(`/api/v1/kb/entries/${id}?expected_version=${entry.version}`, body()) : await post("/api/v1/kb/entries", body());
        this.app.toast(t("saved"));
        // Redraw from the stored entry: the version label and history follow.
        if (!id) location.hash = `#/kb/edit/${saved.id}`;
        else this.edit(id);
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    const act = async (call, done) => {
      try {
        await call();
        this.app.toast(t(done));
        this.edit(id);
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    const archive = () => {
      if (confirm(t("kb_confirm_archive"))) act(() => del(`/api/v1/kb/entries/${id}`), "kb_archived_done");
    };
    const editor = el(
      "form",
      { class: "editor", testid: "kb-editor", onsubmit: (e) => (e.preventDefault(), save()) },
      field(t("question"), question),
      field(t("similar"), similar),
      field(t("answer"), answer),
      field(t("category"), category),
      el("div", { class: "row" }, newCategory, el("button", { type: "button", testid: "kb-add-category", onclick: addCategory }, t("kb_new_category"))),
      field(t("tags"), tags),
      el(
        "fieldset",
        { class: "member-answers-field" },
        el("legend", {}, t("kb_member_answers")),
        el("p", { class: "hint" }, t("kb_member_hint")),
        memberRows,
        el("button", { type: "button", testid: "kb-add-member-answer", onclick: () => addMemberRow() }, t("kb_add_member_answer")),
      ),
      el(
        "div",
        { class: "row" },
        el("button", { type: "submit", testid: "kb-save" }, t("save")),
        id && entry.status !== "published" ? el("button", { type: "button", testid: "kb-publish", onclick: () => act(() => post(`/api/v1/kb/entries/${id}/publish`), "saved") }, t("publish")) : null,
        id && entry.status === "published" ? el("button", { type: "button", testid: "kb-unpublish", onclick: () => act(() => post(`/api/v1/kb/entries/${id}/unpublish`), "saved") }, t("unpublish")) : null,
        id && entry.status !== "archived" ? el("button", { type: "button", class: "danger", testid: "kb-archive", onclick: archive }, t("kb_archive")) : null,
        id ? el("span", { class: "hint", testid: "kb-version" }, `${t(entry.status)} · v${entry.version}`) : null,
      ),
    );
    const side = [el("section", { class: "card" }, el("h3", {}, t("kb_preview")), preview)];
    if (id) {
      const u = entry.usage;
      side.push(
        el(
          "section",
          { class: "card", testid: "kb-usage" },
          el("h3", {}, t("kb_usage")),
          el(
            "div",
            { class: "kv" },
            el("span", { class: "k" }, t("kb_retrieved")), el("span", {}, String(u.retrieved)),
            el("span", { class: "k" }, t("kb_answered")), el("span", {}, String(u.answered)),
            el("span", { class: "k" }, t("kb_helpful")), el("span", {}, String(u.helpful)),
            el("span", { class: "k" }, t("kb_unhelpful")), el("span", {}, String(u.unhelpful)),
          ),
        ),
      );
      side.push(await this.history(id, entry));
    }
    this.root.replaceChildren(el("div", { class: "kb-edit" }, editor, el("div", { class: "kb-side" }, side)));
  }

  /// The version list; each older version can be compared with the current
  /// one and restored (as a new version: history is never rewritten).
  async history(id, entry) {
    const box = el("section", { class: "card", testid: "kb-versions" }, el("h3", {}, t("kb_versions")));
    const diffBox = el("div", { class: "diff", testid: "kb-diff" });
    let versions = [];
    try {
      versions = (await get(`/api/v1/kb/entries/${id}/versions`)).versions || [];
    } catch (error) {
      box.append(el("p", { class: "hint" }, errorText(error)));
      return box;
    }
    const showDiff = async (from) => {
      try {
        const { changes } = await get(`/api/v1/kb/entries/${id}/diff?from=${from}&to=${entry.version}`);
        if (!changes.length) return diffBox.replaceChildren(el("p", { class: "hint" }, t("kb_no_changes")));
        diffBox.replaceChildren(
          el("p", { class: "hint" }, `v${from} → v${entry.version}`),
          ...changes.map((c) => {
            const lines = c.lines && c.lines.length
              ? c.lines.map((l) => el("div", { class: l.op === "+" ? "add" : l.op === "-" ? "del" : "same" }, `${l.op} ${l.text}`))
              : [
                  el("div", { class: "del" }, `- ${t("kb_before")}: ${show(c.before)}`),
                  el("div", { class: "add" }, `+ ${t("kb_after")}: ${show(c.after)}`),
                ];
            return el("div", { class: "change" }, el("strong", {}, fieldText(c.field)), ...lines);
          }),
        );
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    const rollback = async (version) => {
      if (!confirm(t("kb_confirm_rollback"))) return;
      try {
        await post(`/api/v1/kb/entries/${id}/rollback`, { version });
        this.app.toast(t("kb_rolled_back"));
        this.edit(id);
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    const rows = versions.map((v) =>
      el(
        "li",
        { testid: `kb-v-${v.version}` },
        el("div", {}, `v${v.version}`, v.version === entry.version ? ` (${t("kb_current")})` : "", " · ", noteText(v.note), " · ", v.author),
        el("div", { class: "hint" }, when(v.created_at)),
        v.version === entry.version
          ? null
          : el(
              "div",
              { class: "row" },
              el("button", { type: "button", testid: `kb-diff-${v.version}`, onclick: () => showDiff(v.version) }, t("kb_diff")),
              el("button", { type: "button", testid: `kb-rollback-${v.version}`, onclick: () => rollback(v.version) }, t("kb_rollback")),
            ),
      ),
    );
    box.append(el("ul", { class: "versions" }, rows), diffBox);
    return box;
  }

  /// What the bot would do with a wording: the decision in words, its
  /// confidence, and the ranked entries it would draw on.
  test(initial = "") {
    const input = el("input", { type: "search", value: initial, placeholder: t("kb_test_q"), testid: "kb-test-q" });
    const out = el("div", { testid: "kb-test-result" });
    const run = async () => {
      const q = input.value.trim();
      if (!q) return;
      try {
        const { decision, hits } = await get(`/api/v1/kb/search?${queryString({ q, limit: 5 })}`);
        const verdict = t(`kb_would_${decision.kind}`);
        out.replaceChildren(
          el("p", { class: `verdict verdict-${decision.kind}`, testid: "kb-test-verdict" }, verdict),
          el("p", { class: "hint" }, `${t("kb_confidence")}: ${Math.round(decision.confidence * 100)}%`),
          hits.length
            ? el(
                "ol",
                { class: "hits" },
                hits.map((h) =>
                  el(
                    "li",
                    { class: "hit" },
                    el("a", { href: `#/kb/edit/${h.entry_id}` }, h.title),
                    h.category ? el("span", { class: "hint" }, ` · ${h.category}`) : null,
                    el("div", { class: "preview-bubble" }, ...renderAnswer(h.answer)),
                  ),
                ),
              )
            : el("p", { class: "hint" }, t("kb_no_hits")),
        );
      } catch (error) {
        out.replaceChildren(el("p", { class: "hint" }, errorText(error)));
      }
    };
    const calibration = el("section", { class: "calibration", testid: "kb-calibration" });
    this.root.replaceChildren(
      el("p", { class: "hint" }, t("kb_test_hint")),
      el("form", { class: "row", onsubmit: (e) => (e.preventDefault(), run()) }, input, el("button", { type: "submit", testid: "kb-test-run" }, t("kb_try"))),
      out,
      calibration,
    );
    if (initial) run();
    this.calibration(calibration);
  }

  async calibration(section) {
    const pct = (x) => `${Math.round(x * 100)}%`;
    try {
      const c = await get("/api/v1/kb/calibration");
      const lines =
        c.source === "kb"
          ? [
              el("p", { class: "hint" }, t("kb_calibration_kb", c.answerable, c.unanswerable)),
              el("p", { testid: "kb-calibration-answered" }, t("kb_calibration_answered", pct(c.answered), pct(c.answered_right), pct(c.answered_curated))),
              el("p", { testid: "kb-calibration-handed-off" }, t("kb_calibration_handed_off", pct(c.unanswerable_handed_off))),
            ]
          : [el("p", { class: "hint", testid: "kb-calibration-shipped" }, t("kb_calibration_shipped"))];
      if (c.fitting) {
        lines.unshift(el("p", { class: "hint", testid: "kb-calibration-fitting" }, t("kb_calibration_fitting")));
        // Show the new figures once the refit is in, while the panel is on screen.
        setTimeout(() => section.isConnected && this.calibration(section), 3000);
      }
      section.replaceChildren(el("h3", {}, t("kb_calibration")), ...lines);
    } catch (error) {
      section.replaceChildren(el("p", { class: "hint" }, errorText(error)));
    }
  }

  /// The model's suggested wordings: accept (a similar question of the
  /// entry) or reject each; the others wait.
  async wordings(status = "pending") {
    let list;
    try {
      list = await get(`/api/v1/kb/wording-suggestions?${queryString({ status })}`);
    } catch (error) {
      return unavailable(this.root, error);
    }
    const select = el(
      "select",
      { testid: "kb-wordings-status", onchange: () => this.wordings(select.value) },
      ["pending", "accepted", "rejected", "all"].map((s) => el("option", { value: s, selected: s === status }, t(s === "all" ? "all" : `kb_wording_status_${s}`))),
    );
    const refresh = el("button", {
      type: "button",
      testid: "kb-wordings-refresh",
      disabled: !list.enabled,
      onclick: async () => {
        try {
          await post("/api/v1/kb/wording-suggestions/refresh");
          this.app.toast(t("kb_wordings_refreshing"));
        } catch (error) {
          this.app.toast(errorText(error));
        }
      },
    }, t("kb_wordings_refresh"));
    const decide = async (row, s, verdict) => {
      try {
        await post(`/api/v1/kb/wording-suggestions/${s.id}/${verdict}`);
        row.replaceChildren(
          el("td", {}, s.entry_question),
          el("td", {}, s.text),
          el("td", { colspan: 2, testid: `kb-wording-done-${s.id}` }, t(verdict === "accept" ? "kb_wording_accepted" : "kb_wording_rejected")),
        );
      } catch (error) {
        this.app.toast(errorText(error));
      }
    };
    const rows = list.suggestions.map((s) => {
      const row = el("tr", { testid: `kb-wording-${s.id}` });
      const actions =
        s.status === "pending"
          ? el(
              "td",
              {},
              el("button", { type: "button", testid: `kb-wording-accept-${s.id}`, onclick: () => decide(row, s, "accept") }, t("kb_wording_accept")),
              el("button", { type: "button", class: "link", testid: `kb-wording-reject-${s.id}`, onclick: () => decide(row, s, "reject") }, t("kb_wording_reject")),
            )
          : el("td", {}, `${t(`kb_wording_status_${s.status}`)} · ${s.decided_by || "–"} · ${when(s.decided_at)}`);
      row.append(
        el("td", {}, el("a", { href: `#/kb/edit/${s.entry_id}` }, s.entry_question)),
        el("td", { class: "wording" }, s.text),
        el("td", {}, String(s.entry_wordings)),
        actions,
      );
      return row;
    });
    const heads = [t("kb_wording_entry"), t("kb_wording_text"), t("kb_wording_count"), ""];
    this.root.replaceChildren(
      el("p", { class: "hint" }, t("kb_wordings_hint")),
      list.enabled ? null : el("p", { class: "hint", testid: "kb-wordings-off" }, t("kb_wordings_off")),
      el("div", { class: "row" }, select, refresh),
      rows.length
        ? el("div", { class: "table-wrap" }, el("table", { testid: "kb-wordings" }, el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h)))), el("tbody", {}, rows)))
        : el("p", { class: "hint", testid: "kb-wordings-none" }, t("kb_wordings_none")),
    );
  }

  async unanswered() {
    try {
      const { groups, answered } = await get("/api/v1/kb/unanswered");
      const rows = groups.map((g) =>
        el(
          "tr",
          {},
          el("td", {}, g.representative, el("div", { class: "hint" }, (g.examples || []).slice(0, 3).join(" · "))),
          el("td", {}, String(g.count)),
          el("td", {}, g.last_seen ? new Date(g.last_seen).toLocaleString(document.documentElement.lang) : "–"),
          el(
            "td",
            {},
            el("button", { type: "button", class: "link", onclick: () => this.edit(null, { question: g.representative, similar: g.examples || [] }) }, t("make_entry")),
            el("button", { type: "button", class: "link", onclick: () => this.test(g.representative) }, t("kb_test")),
          ),
        ),
      );
      // Questions an entry answers now (written or published since) leave the to-do list.
      const done = answered.map((g) =>
        el(
          "li",
          { testid: "kb-answered-since" },
          el("span", {}, g.representative), " → ",
          el("a", { href: `#/kb/${g.answered_by.entry_id}` }, g.answered_by.title),
          el("span", { class: "hint" }, ` · ${t("times_n", g.count)}`),
        ),
      );
      this.root.replaceChildren(
        rows.length
          ? el("div", { class: "table-wrap" }, el("table", { testid: "kb-unanswered" }, el("thead", {}, el("tr", {}, [t("question"), t("count"), t("last_seen"), ""].map((h) => el("th", {}, h)))), el("tbody", {}, rows)))
          : el("p", { class: "hint", testid: "kb-unanswered-none" }, t("kb_unanswered_none")),
        done.length ? el("details", { class: "card", testid: "kb-answered" }, el("summary", {}, t("kb_answered_since", done.length)), el("ul", {}, done)) : null,
      );
    } catch (error) {
      unavailable(this.root, error);
    }
  }
}

function show(value) {
  if (value === null || value === undefined || value === "") return "–";
  if (Array.isArray(value)) return value.join("、") || "–";
  return String(value);
}
