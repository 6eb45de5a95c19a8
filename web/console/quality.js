// Quality inspection (质检, #/quality). Reviewers (supervisors, admins) create
// a rubric scheme and a sampling plan, run it over a range of days, and score
// the queued conversations item by item beside the transcript; they settle
// appeals. An agent sees their own scored reviews and may appeal each once.
// The server decides what each caller sees; this page only shows it.

import { el, get, post, put } from "./api.js";
import { addStrings, errorText, t } from "./i18n.js";

addStrings(
  {
    quality: "质检", qa_reviews: "质检记录", qa_none: "暂无质检记录", qa_day: "日期", qa_agent: "客服", qa_reason: "抽检原因",
    qa_status: "状态", qa_total: "得分", qa_open: "查看", qa_back: "返回列表", qa_transcript: "会话记录", qa_rubric: "评分项",
    qa_comment: "评语", qa_submit: "提交评分", qa_appeal: "申诉", qa_appeal_reason: "申诉理由", qa_appeal_sent: "已提交申诉",
    qa_settle_upheld: "维持原分", qa_settle_revised: "按当前分数改判", qa_saved: "已保存", qa_new_scheme: "新建质检方案",
    qa_scheme_name: "方案名称", qa_base: "基础分", qa_items: "评分项（每行：名称,加/减,分值）", qa_create: "创建",
    qa_new_plan: "抽样计划", qa_scheme: "质检方案", qa_percent: "随机抽取 %", qa_per_agent: "每位客服 N 条", qa_low_csat: "全部低满意度（≤2 星）",
    qa_escalated: "全部转接会话", qa_complaint: "全部投诉", qa_seed: "随机种子", qa_from: "开始", qa_to: "结束", qa_run: "创建并抽样",
    qa_ran: (n) => `已抽取 ${n.picked} 条，新加入 ${n.queued} 条`, qa_add: "加分", qa_deduct: "扣分", qa_points: "分",
    qa_st_pending: "待质检", qa_st_scored: "已评分", qa_st_appealed: "申诉中", qa_st_settled: "已裁定",
    qa_why_random_percent: "随机抽检", qa_why_per_agent: "每人抽检", qa_why_low_csat: "低满意度", qa_why_escalated: "转接", qa_why_complaint: "投诉",
    qa_sender_buyer: "买家", qa_sender_agent: "客服", qa_sender_bot: "机器人", qa_sender_system: "系统", qa_outcome_upheld: "维持", qa_outcome_revised: "改判",
    error_qa_wrong_state: "该记录当前不能执行此操作（可能已申诉或已裁定）", error_qa_not_found: "没有这条质检记录",
    error_qa_not_yours: "这条质检记录不属于您", error_invalid_scores: "每项分数须在 0 到该项分值之间",
    error_invalid_rubric: "评分项不正确：1–30 项，名称 1–80 字，分值 1–100，基础分 0–100",
    error_invalid_sampling_rule: "抽样规则不正确", error_invalid_text: "请填写内容（不超过 2000 字）",
    qa_draft: "AI 初评", qa_draft_waiting: "AI 初评生成中（模型在没有买家等待时进行）…", qa_draft_failed: "模型未能完成 AI 初评",
    qa_draft_retry: "重新生成", qa_draft_use: "采用 AI 初评", qa_draft_total: (n) => `AI 初评得分 ${n}`, qa_draft_note: "AI 初评仅供参考：请核对证据后提交评分。",
    qa_evidence: "证据", qa_v_met: "成立", qa_v_not_met: "不成立", qa_v_unquoted: "模型认为成立，但没能引用客服原话：不计分",
    qa_v_unreadable: "模型的回答无法识别：不计分", qa_draft_asked: "已请求重新生成 AI 初评", error_qa_no_model: "未加载本地模型，无法生成 AI 初评",
    qa_daily: "每天自动抽检前一天（凌晨 1 点后）", qa_plans: "抽样计划", qa_plan_daily: "每日自动", qa_plan_ran: (d) => `上次自动抽检：${d}`,
    qa_plan_never: "尚未自动抽检", qa_daily_on: "已开启每日自动抽检", qa_daily_off: "已关闭每日自动抽检",
  },
  {
    quality: "Quality", qa_reviews: "Reviews", qa_none: "No reviews yet", qa_day: "Day", qa_agent: "Agent", qa_reason: "Picked by",
    qa_status: "Status", qa_total: "Score", qa_open: "Open", qa_back: "Back to the list", qa_transcript: "Transcript", qa_rubric: "Check items",
    qa_comment: "Comment", qa_submit: "Submit score", qa_appeal: "Appeal", qa_appeal_reason: "Reason for the appeal", qa_appeal_sent: "Appeal sent",
    qa_settle_upheld: "Uphold the score", qa_settle_revised: "Revise to these scores", qa_saved: "Saved", qa_new_scheme: "New rubric",
    qa_scheme_name: "Name", qa_base: "Base score", qa_items: "Items (one a line: label,add/deduct,points)", qa_create: "Create",
    qa_new_plan: "Sampling plan", qa_scheme: "Rubric", qa_percent: "Random %", qa_per_agent: "N per agent", qa_low_csat: "All low CSAT (≤ 2 stars)",
    qa_escalated: "All transferred", qa_complaint: "All complaints", qa_seed: "Seed", qa_from: "From", qa_to: "To", qa_run: "Create and sample",
    qa_ran: (n) => `Picked ${n.picked}, ${n.queued} newly queued`, qa_add: "adds", qa_deduct: "deducts", qa_points: "pts",
    qa_st_pending: "To review", qa_st_scored: "Scored", qa_st_appealed: "Appealed", qa_st_settled: "Settled",
    qa_why_random_percent: "Random", qa_why_per_agent: "Per agent", qa_why_low_csat: "Low CSAT", qa_why_escalated: "Transferred", qa_why_complaint: "Complaint",
    qa_sender_buyer: "Buyer", qa_sender_agent: "Agent", qa_sender_bot: "Bot", qa_sender_system: "System", qa_outcome_upheld: "Upheld", qa_outcome_revised: "Revised",
    error_qa_wrong_state: "This review cannot take that step now (appealed or settled already?)", error_qa_not_found: "No such review",
    error_qa_not_yours: "This review is not yours", error_invalid_scores: "Each score must be between 0 and the item's points",
    error_invalid_rubric: "Check the items: 1–30, labels of 1–80 characters, 1–100 points, base 0–100",
    error_invalid_sampling_rule: "Check the sampling rules", error_invalid_text: "Write something (at most 2000 characters)",
    qa_draft: "Model's draft", qa_draft_waiting: "The model drafts this review when no buyer is waiting…", qa_draft_failed: "The model could not draft this review",
    qa_draft_retry: "Try again", qa_draft_use: "Use the draft", qa_draft_total: (n) => `Draft score ${n}`, qa_draft_note: "The draft is a suggestion: check the evidence, then submit your score.",
    qa_evidence: "Evidence", qa_v_met: "holds", qa_v_not_met: "does not hold", qa_v_unquoted: "The model said it holds but quoted nothing the agent said: not counted",
    qa_v_unreadable: "The model's answer could not be read: not counted", qa_draft_asked: "Asked the model for a new draft", error_qa_no_model: "No local model is loaded to draft scores",
    qa_daily: "Sample the day before by itself every day (after 01:00)", qa_plans: "Sampling plans", qa_plan_daily: "Daily", qa_plan_ran: (d) => `Last sampled by itself: ${d}`,
    qa_plan_never: "Not sampled by itself yet", qa_daily_on: "Daily sampling on", qa_daily_off: "Daily sampling off",
  },
);

// Days are the shop's, in its own time zone, which can be a day ahead of or behind
// the browser's UTC date: the default range runs from yesterday to tomorrow (UTC),
// so it always holds the shop's today.
const utcDay = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

/// "label,add|deduct|加|减,points" lines as rubric items with generated keys.
function parseItems(text) {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line, i) => {
      const [label = "", kind = "", points = ""] = line.split(/[,，]/).map((s) => s.trim());
      return { key: `item_${i + 1}`, label, kind: /^(deduct|减|扣)/i.test(kind) ? "deduct" : "add", points: Number(points) || 0 };
    });
}

export class Quality {
  constructor(app, root, rest = []) {
    this.app = app;
    this.reviewer = ["supervisor", "admin"].includes(app.me?.role);
    this.body = el("div", { class: "qa-body", testid: "qa-body" });
    this.notice = el("p", { class: "hint", testid: "qa-notice", role: "status" });
    root.append(el("div", { class: "quality", testid: "quality" }, el("h2", {}, t("quality")), this.notice, this.body));
    if (rest[0]) this.open(rest[0]);
    else this.list();
  }

  say(text) {
    this.notice.textContent = text;
  }

  fail(error) {
    this.say(errorText(error));
  }

  async list() {
    this.shown = null;
    let reviews = [];
    try {
      reviews = await get("/api/v1/staff/qa/reviews");
    } catch (error) {
      return this.fail(error);
    }
    const rows = reviews.map((r) =>
      el(
        "tr",
        { testid: `qa-row-${r.id}`, "data-status": r.status },
        el("td", { "data-label": t("qa_day") }, r.day),
        el("td", { "data-label": t("qa_agent") }, r.agent_name || r.agent_id),
        el("td", { "data-label": t("qa_reason") }, t(`qa_why_${r.reason}`)),
        el("td", { "data-label": t("qa_status") }, t(`qa_st_${r.status}`)),
        el("td", { "data-label": t("qa_total"), "data-value": r.total ?? "" }, r.total ?? "–"),
        el("td", {}, el("button", { type: "button", testid: "qa-open", onclick: () => this.open(r.id) }, t("qa_open"))),
      ),
    );
    const head = el("tr", {}, [t("qa_day"), t("qa_agent"), t("qa_reason"), t("qa_status"), t("qa_total"), ""].map((h) => el("th", {}, h)));
    this.body.replaceChildren(
      this.reviewer ? await this.setupForms() : null,
      el("h3", {}, t("qa_reviews")),
      rows.length
        ? el("div", { class: "table-wrap" }, el("table", { class: "cards-on-phone", testid: "qa-list" }, el("thead", {}, head), el("tbody", {}, rows)))
        : el("p", { class: "hint", testid: "qa-empty" }, t("qa_none")),
    );
  }

  /// The reviewer's forms: a new rubric, and a plan run over a range of days.
  async setupForms() {
    const schemes = await get("/api/v1/staff/qa/schemes").catch(() => []);
    const name = el("input", { testid: "qa-scheme-name", required: true, maxlength: 60 });
    const base = el("input", { type: "number", min: 0, max: 100, value: 100, testid: "qa-base" });
    const items = el("textarea", { testid: "qa-items", rows: 4, placeholder: "主动问候,加,10\n态度生硬,减,30" });
    const schemeForm = el(
      "form",
      { class: "qa-form", testid: "qa-scheme-form", onsubmit: async (e) => {
        e.preventDefault();
        try {
          await post("/api/v1/staff/qa/schemes", { name: name.value, base: Number(base.value), items: parseItems(items.value) });
          this.say(t("qa_saved"));
          this.list();
        } catch (error) {
          this.fail(error);
        }
      } },
      el("h3", {}, t("qa_new_scheme")),
      el("label", {}, t("qa_scheme_name"), " ", name),
      el("label", {}, t("qa_base"), " ", base),
      el("label", { class: "wide" }, t("qa_items"), items),
      el("button", { type: "submit", testid: "qa-scheme-create" }, t("qa_create")),
    );
    if (!schemes.length) return el("section", { class: "qa-setup" }, schemeForm);
    const scheme = el("select", { testid: "qa-plan-scheme" }, schemes.map((s) => el("option", { value: s.id }, s.name)));
    const percent = el("input", { type: "number", min: 0, max: 100, value: 10, testid: "qa-percent" });
    const perAgent = el("input", { type: "number", min: 0, max: 1000, value: 0, testid: "qa-per-agent" });
    const check = (testid) => el("input", { type: "checkbox", testid });
    const [low, escalated, complaint] = [check("qa-low-csat"), check("qa-escalated"), check("qa-complaint")];
    const seed = el("input", { type: "number", value: 1, testid: "qa-seed" });
    const from = el("input", { type: "date", value: utcDay(-1), testid: "qa-from" });
    const to = el("input", { type: "date", value: utcDay(1), testid: "qa-to" });
    const daily = check("qa-daily");
    const planForm = el(
      "form",
      { class: "qa-form", testid: "qa-plan-form", onsubmit: async (e) => {
        e.preventDefault();
        const rules = [];
        if (Number(percent.value) > 0) rules.push({ kind: "random_percent", percent: Number(percent.value) });
        if (Number(perAgent.value) > 0) rules.push({ kind: "per_agent", count: Number(perAgent.value) });
        if (low.checked) rules.push({ kind: "low_csat", max_stars: 2 });
        if (escalated.checked) rules.push({ kind: "escalated" });
        if (complaint.checked) rules.push({ kind: "complaint" });
        try {
          const plan = await post("/api/v1/staff/qa/plans", {
            name: `${from.value}–${to.value}`, scheme_id: scheme.value, rules, seed: Number(seed.value) || 0, daily: daily.checked,
          });
          const ran = await post(`/api/v1/staff/qa/plans/${plan.id}/run`, { from: from.value, to: to.value });
          await this.list();
          this.say(t("qa_ran", ran));
        } catch (error) {
          this.fail(error);
        }
      } },
      el("h3", {}, t("qa_new_plan")),
      el("label", {}, t("qa_scheme"), " ", scheme),
      el("label", {}, t("qa_percent"), " ", percent),
      el("label", {}, t("qa_per_agent"), " ", perAgent),
      el("label", {}, low, " ", t("qa_low_csat")),
      el("label", {}, escalated, " ", t("qa_escalated")),
      el("label", {}, complaint, " ", t("qa_complaint")),
      el("label", {}, t("qa_seed"), " ", seed),
      el("label", {}, t("qa_from"), " ", from),
      el("label", {}, t("qa_to"), " ", to),
      el("label", {}, daily, " ", t("qa_daily")),
      el("button", { type: "submit", testid: "qa-run" }, t("qa_run")),
    );
    return el("section", { class: "qa-setup" }, schemeForm, planForm, await this.plansCard(schemes));
  }

  /// The plans, each with its daily switch and the last day it sampled by itself.
  async plansCard(schemes) {
    const plans = await get("/api/v1/staff/qa/plans").catch(() => []);
    if (!plans.length) return null;
    const rows = plans.map((p) => {
      const toggle = el("input", { type: "checkbox", checked: p.daily, testid: "qa-plan-daily" });
      toggle.addEventListener("change", async () => {
        try {
          await put(`/api/v1/staff/qa/plans/${encodeURIComponent(p.id)}/daily`, { daily: toggle.checked });
          this.say(t(toggle.checked ? "qa_daily_on" : "qa_daily_off"));
        } catch (error) {
          toggle.checked = !toggle.checked;
          this.fail(error);
        }
      });
      const scheme = schemes.find((s) => s.id === p.scheme_id)?.name || "";
      return el("li", { testid: `qa-plan-${p.id}` }, el("b", {}, p.name), ` · ${scheme} `,
        el("label", {}, toggle, " ", t("qa_plan_daily")), " ",
        el("span", { class: "hint", testid: "qa-plan-ran" }, p.daily_ran_day ? t("qa_plan_ran", p.daily_ran_day) : t("qa_plan_never")));
    });
    return el("div", { class: "qa-form", testid: "qa-plans" }, el("h3", {}, t("qa_plans")), el("ul", {}, rows));
  }

  /// One review: the transcript beside the rubric, and what the caller may do.
  async open(id) {
    this.shown = id;
    let r;
    try {
      r = await get(`/api/v1/staff/qa/reviews/${encodeURIComponent(id)}`);
    } catch (error) {
      return this.fail(error);
    }
    const lines = r.transcript.map((line) =>
      el("li", { class: `qa-line qa-${line.sender}`, testid: "qa-line" }, el("b", {}, `${t(`qa_sender_${line.sender}`)}: `), line.text),
    );
    const inputs = new Map();
    const hints = new Map();
    const items = r.scheme.rubric.items.map((item) => {
      const input = el("input", {
        type: "number", min: 0, max: item.points, value: r.scores?.[item.key] ?? 0, testid: `qa-score-${item.key}`,
        "aria-label": item.label, disabled: !(r.can_score || r.can_settle),
      });
      inputs.set(item.key, input);
      const hint = el("div", { class: "qa-draft-item", testid: `qa-draft-${item.key}` });
      hints.set(item.key, hint);
      return el(
        "li",
        { class: "qa-item" },
        el("div", { class: "qa-item-row" }, el("span", {}, item.label, " ", el("small", {}, `${t(`qa_${item.kind}`)} ≤ ${item.points} ${t("qa_points")}`)), input),
        hint,
      );
    });
    const draftBox = el("div", { class: "qa-draft", testid: "qa-draft", role: "status" });
    const showDraft = (draft) => {
      draftBox.dataset.status = draft?.status ?? "none";
      if (!draft) return draftBox.replaceChildren();
      for (const [key, hint] of hints) {
        const d = draft.items.find((i) => i.key === key);
        hint.replaceChildren();
        if (!d) continue;
        hint.dataset.verdict = d.verdict;
        hint.append(el("small", {}, `${t("qa_draft")}: ${t(`qa_v_${d.verdict}`)}${d.verdict === "met" ? ` · ${d.points} ${t("qa_points")}` : ""}`));
        if (d.evidence) hint.append(el("q", { testid: `qa-evidence-${key}` }, d.evidence));
      }
      if (draft.status === "ready") {
        draftBox.replaceChildren(
          el("b", { testid: "qa-draft-total" }, t("qa_draft_total", draft.total)),
          " ",
          r.can_score
            ? el("button", { type: "button", testid: "qa-draft-use", onclick: () => {
                for (const d of draft.items) if (inputs.has(d.key)) inputs.get(d.key).value = d.points;
              } }, t("qa_draft_use"))
            : null,
          el("small", { class: "hint" }, t("qa_draft_note")),
        );
      } else if (draft.status === "failed") {
        draftBox.replaceChildren(
          el("span", {}, t("qa_draft_failed")),
          " ",
          el("button", { type: "button", testid: "qa-draft-retry", onclick: async () => {
            try {
              await post(`/api/v1/staff/qa/reviews/${encodeURIComponent(id)}/draft`, {});
              this.say(t("qa_draft_asked"));
              showDraft({ status: "waiting", items: [] });
              this.watchDraft(id, showDraft);
            } catch (error) {
              this.fail(error);
            }
          } }, t("qa_draft_retry")),
        );
      } else {
        draftBox.replaceChildren(el("span", { class: "hint" }, t("qa_draft_waiting")));
      }
    };
    const scores = () => Object.fromEntries([...inputs].map(([k, input]) => [k, Number(input.value) || 0]));
    const comment = el("textarea", { testid: "qa-comment", rows: 3, maxlength: 2000, disabled: !r.can_score }, r.comment ?? "");
    const act = (fn) => async () => {
      try {
        await fn();
        this.say(t("qa_saved"));
        await this.open(id);
      } catch (error) {
        this.fail(error);
      }
    };
    const reason = el("textarea", { testid: "qa-appeal-reason", rows: 3, maxlength: 2000, "aria-label": t("qa_appeal_reason") });
    this.body.replaceChildren(
      el("button", { type: "button", class: "link", testid: "qa-back", onclick: () => this.list() }, t("qa_back")),
      el(
        "div",
        { class: "qa-review", testid: "qa-review", "data-status": r.status },
        el("section", {}, el("h3", {}, t("qa_transcript")), el("ol", { class: "qa-transcript", testid: "qa-transcript" }, lines)),
        el(
          "section",
          {},
          el("h3", {}, `${r.scheme.name} · ${t("qa_total")}: `, el("span", { testid: "qa-total" }, r.total ?? "–"), ` · ${t(`qa_st_${r.status}`)}`),
          draftBox,
          el("ul", { class: "qa-items" }, items),
          el("label", { class: "wide" }, t("qa_comment"), comment),
          r.can_score ? el("button", { type: "button", testid: "qa-submit", onclick: act(() => post(`/api/v1/staff/qa/reviews/${id}/score`, { scores: scores(), comment: comment.value || null })) }, t("qa_submit")) : null,
          r.appeal_reason ? el("p", { testid: "qa-appeal-text" }, `${t("qa_appeal_reason")}: ${r.appeal_reason}`) : null,
          r.outcome ? el("p", { testid: "qa-outcome" }, t(`qa_outcome_${r.outcome}`)) : null,
          r.can_appeal ? el("div", { class: "qa-appeal" }, el("label", { class: "wide" }, t("qa_appeal_reason"), reason), el("button", { type: "button", testid: "qa-appeal", onclick: act(() => post(`/api/v1/staff/qa/reviews/${id}/appeal`, { reason: reason.value })) }, t("qa_appeal"))) : null,
          r.can_settle
            ? el(
                "div",
                { class: "qa-settle" },
                el("button", { type: "button", testid: "qa-uphold", onclick: act(() => post(`/api/v1/staff/qa/reviews/${id}/settle`, { outcome: "upheld" })) }, t("qa_settle_upheld")),
                el("button", { type: "button", testid: "qa-revise", onclick: act(() => post(`/api/v1/staff/qa/reviews/${id}/settle`, { outcome: "revised", scores: scores() })) }, t("qa_settle_revised")),
              )
            : null,
        ),
      ),
    );
    showDraft(r.draft);
    if (r.draft?.status === "waiting") this.watchDraft(id, showDraft);
  }

  /// Looks again every few seconds while the draft is being made and this
  /// review is still on screen; only the draft's parts change (never what
  /// the reviewer typed).
  watchDraft(id, showDraft) {
    clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(async () => {
      if (this.shown !== id || !this.body.isConnected) return;
      try {
        const r = await get(`/api/v1/staff/qa/reviews/${encodeURIComponent(id)}`);
        if (this.shown !== id) return;
        showDraft(r.draft);
        if (r.draft?.status === "waiting") this.watchDraft(id, showDraft);
      } catch (error) {
        this.fail(error);
      }
    }, 3000);
  }
}
