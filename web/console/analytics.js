// Analytics (数据报表, #/analytics): the standard report of a day, week or month
// as metric cards, a trend chart and a per-agent chart (uPlot, embedded in the
// binary), hand-off reasons, the per-agent table, and a CSV export of a custom
// report. What the caller sees is scoped by the server (own numbers, groups, all,
// knowledge numbers); definitions are in docs/metrics.md.

import { del, el, get, post, query } from "./api.js";
import { addStrings, currentLang, errorText, t, word } from "./i18n.js";

addStrings(
  {
    analytics: "数据报表", an_period: "周期", an_day: "日", an_week: "周", an_month: "月", an_date: "日期", an_refresh: "刷新",
    an_export: "导出 CSV", an_export_xlsx: "导出 Excel", an_export_conversations: "导出会话明细", an_by: "导出维度", an_trend: "近 14 天趋势", an_per_agent: "各客服接待量", an_agents: "客服明细",
    an_reasons: "转人工原因", an_none: "暂无数据", an_agent: "客服", an_scope_own: "仅显示您本人的数据",
    an_scope_groups: "显示您所在技能组的数据", an_scope_all: "全店数据", an_scope_knowledge: "知识库相关数据",
    by_day: "按天", by_week: "按周", by_month: "按月", by_agent: "按客服", by_channel: "按渠道", by_group: "按技能组", by_source: "按来源", by_hour: "按时段（一天中的小时）", error_report_not_by_hour: "按时段只能看会话数、有效会话、转人工数和转人工率，且不能按来源筛选",
    by_intent: "按意图", by_category: "按知识分类", by_product: "按商品", intent_question: "一般咨询（知识库作答）", intent_human: "直接找人工",
    topic_none_intent: "未识别意图", topic_none_category: "未归类", topic_none_product: "未涉及商品",
    error_report_not_by_topic: "按意图、分类或商品统计的是全店数据：只能再按天、周或月细分，不能看排队时长分位数和客服在线数据，也不能按客服、技能组、渠道、来源或时段细分或筛选",
    cr_source: "来源", cr_source_all: "全部来源", fn_src_none: "非访问进入", error_invalid_report_source: "来源只能是列表中的一项",
    an_then: "再按", then_none: "不再细分", error_unknown_dimension: "这两个维度不能一起用（不能两个都是时间，也不能两个都是意图、分类或商品）",
    m_conversations: "会话数", m_engaged: "有效会话", m_messages: "消息数", m_messages_bot: "机器人消息",
    m_self_service_rate: "机器人独立解决率", m_handoffs: "转人工数", m_handoff_rate: "转人工率",
    m_handoff_direct: "直接转人工", m_handoff_consulted: "咨询后转人工", m_handoff_direct_rate: "直接转人工率",
    m_handoff_consulted_rate: "咨询后转人工率", m_assigned: "人工接待数", m_queue_wait_avg_ms: "平均排队时长",
    m_queue_wait_p50_ms: "排队时长 P50", m_queue_wait_p90_ms: "排队时长 P90", m_abandoned: "排队放弃数",
    m_abandonment_rate: "排队放弃率", m_first_response_avg_ms: "平均首次响应", m_response_avg_ms: "平均响应时长",
    m_handle_avg_ms: "平均处理时长", m_resolved: "已解决", m_resolution_rate: "解决率", m_transferred: "转接会话",
    m_transfer_rate: "转接率", m_reopened: "24 小时内重开", m_reopen_rate: "重开率", m_csat_count: "评价数",
    m_qa_score: "质检均分", m_csat_avg: "平均满意度（星）", m_csat_satisfaction_rate: "满意率（4–5 星）", m_csat_human_avg: "人工满意度",
    m_csat_bot_avg: "机器人满意度", m_answer_helpful_rate: "回答有用率", m_messages_buyer: "买家消息", m_messages_agent: "客服消息",
    error_report_out_of_scope: "您无权查看这些数据", error_invalid_report_range: "日期范围不正确",
    ev_csat_rated: "满意度评价", ev_visit_started: "访问开始", ev_visit_ended: "访问结束", ev_conversation_attributed: "会话归因到访问", ev_conversation_classified: "会话主题识别（意图、分类、商品）",
    m_inquiries: "询单会话", m_converted_24h: "24 小时内下单", m_conversion_rate_24h: "询单转化率（24 小时）",
    m_converted_next_day: "次日内下单", m_conversion_rate_next_day: "询单转化率（至次日）", m_converted_amount_cents: "询单转化金额",
    m_online_time_ms: "在线时长", m_away_time_ms: "离开时长", m_avg_concurrency: "平均同时接待", m_peak_concurrency: "最高同时接待",
    m_load_rate: "接待饱和度",
    cr_title: "自定义报表", cr_metrics: "指标", cr_range: "时间范围", cr_show: "查看", cr_save: "保存为我的报表", cr_name: "报表名称",
    cr_saved: "我的报表", cr_open: "打开", cr_delete: "删除", cr_none_saved: "还没有保存的报表", cr_saved_ok: "已保存",
    cr_pick_metric: "请至少选择一个指标", cr_need_name: "请填写报表名称", cr_rows: (n) => `共 ${n} 行`,
    range_yesterday: "昨天", range_last7_days: "最近 7 天", range_last30_days: "最近 30 天", range_this_month: "本月",
    range_last_month: "上月", range_fixed: "固定为当前日期范围",
    cr_schedule: "定时发送到我的邮箱", sched_none: "不发送", sched_daily: "每天 8 点", sched_weekly: "每周一 8 点", sched_monthly: "每月 1 日 8 点",
    cr_mail_hint: "邮箱在「我的设置 → 通知」中填写",
    error_invalid_report_name: "报表名称需要 1–60 个字", error_too_many_saved_reports: "每人最多保存 50 个报表，请先删除一些",
    error_saved_report_not_found: "这个报表已不存在", error_unknown_metric: "请至少选择一个有效指标",
    fn_title: "访客漏斗", fn_visits: "访问", fn_chats: "咨询", fn_orders: "下单", fn_source: "来源", fn_total: "合计",
    fn_src_search: "搜索", fn_src_ads: "广告", fn_src_recommendation: "推荐", fn_src_referral: "外部链接", fn_src_direct: "直接访问",
    fn_returning: "回访", fn_pages_per_visit: "每次访问浏览页数", fn_seconds_per_page: "每页停留", fn_pages_before_chat: "咨询前浏览页数",
    fn_chat_rate: "咨询率", fn_order_rate: "咨询下单率", fn_visit_to_order: "访问下单率",
    fn_hint: "访问在页面 30 分钟无活动后结束，之后才计入浏览页数和停留时长；下单指咨询后 24 小时内付款。",
    fn_none: "这段时间还没有访问记录", fn_daily: "近 14 天访问、咨询与下单", fn_campaign: "推广活动", fn_campaigns: "按推广活动（链接中的活动标记）",
  },
  {
    analytics: "Analytics", an_period: "Period", an_day: "Day", an_week: "Week", an_month: "Month", an_date: "Date", an_refresh: "Refresh",
    an_export: "Export CSV", an_export_xlsx: "Export Excel", an_export_conversations: "Export conversations", an_by: "Export by", an_trend: "Last 14 days", an_per_agent: "Chats per agent", an_agents: "Agents",
    an_reasons: "Hand-off reasons", an_none: "No data yet", an_agent: "Agent", an_scope_own: "Your own numbers only",
    an_scope_groups: "Your skill groups' numbers", an_scope_all: "The whole shop", an_scope_knowledge: "Knowledge-base numbers",
    by_day: "By day", by_week: "By week", by_month: "By month", by_agent: "By agent", by_channel: "By channel", by_group: "By group", by_source: "By source", by_hour: "By hour of the day", error_report_not_by_hour: "By hour: conversations, engaged chats, hand-offs and hand-off rate only, and no source filter",
    by_intent: "By intent", by_category: "By knowledge category", by_product: "By product", intent_question: "Question (answered from the knowledge base)", intent_human: "Asked for a person first",
    topic_none_intent: "Intent not known", topic_none_category: "No category", topic_none_product: "No product",
    error_report_not_by_topic: "By intent, category or product the numbers are shop-wide: a day, week or month at most beside it; no queue-wait percentiles or agent time, and no agent, group, channel, source or hour as a dimension or filter",
    cr_source: "Source", cr_source_all: "All sources", fn_src_none: "Not from a visit", error_invalid_report_source: "Pick a source from the list",
    an_then: "Then by", then_none: "Nothing more", error_unknown_dimension: "These two cannot go together (not two time dimensions, nor two of intent, category and product)",
    m_conversations: "Conversations", m_engaged: "Engaged", m_messages: "Messages", m_messages_bot: "Bot messages",
    m_self_service_rate: "Bot self-service rate", m_handoffs: "Hand-offs", m_handoff_rate: "Hand-off rate",
    m_handoff_direct: "Direct hand-offs", m_handoff_consulted: "Hand-offs after consultation", m_handoff_direct_rate: "Direct hand-off rate",
    m_handoff_consulted_rate: "Hand-off after consultation rate", m_assigned: "Taken by agents", m_queue_wait_avg_ms: "Avg queue wait",
    m_queue_wait_p50_ms: "Queue wait p50", m_queue_wait_p90_ms: "Queue wait p90", m_abandoned: "Abandoned in queue",
    m_abandonment_rate: "Abandonment rate", m_first_response_avg_ms: "Avg first response", m_response_avg_ms: "Avg response time",
    m_handle_avg_ms: "Avg handle time", m_resolved: "Resolved", m_resolution_rate: "Resolution rate", m_transferred: "Transferred",
    m_transfer_rate: "Transfer rate", m_reopened: "Reopened within 24 h", m_reopen_rate: "Reopen rate", m_csat_count: "Ratings",
    m_qa_score: "QA score (avg)", m_csat_avg: "Avg CSAT (stars)", m_csat_satisfaction_rate: "Satisfied (4–5 stars)", m_csat_human_avg: "CSAT, agents",
    m_csat_bot_avg: "CSAT, bot", m_answer_helpful_rate: "Helpful answers", m_messages_buyer: "Buyer messages", m_messages_agent: "Agent messages",
    error_report_out_of_scope: "You may not see these numbers", error_invalid_report_range: "Check the dates",
    ev_csat_rated: "Satisfaction rating", ev_visit_started: "Visit started", ev_visit_ended: "Visit ended", ev_conversation_attributed: "Chat attributed to its visit", ev_conversation_classified: "Chat topic told (intent, category, product)",
    m_inquiries: "Chats with a question", m_converted_24h: "Ordered within 24 h", m_conversion_rate_24h: "Conversion (24 h)",
    m_converted_next_day: "Ordered by the next day", m_conversion_rate_next_day: "Conversion (by the next day)",
    m_converted_amount_cents: "Sales from chats",
    m_online_time_ms: "Online time", m_away_time_ms: "Away time", m_avg_concurrency: "Avg chats at once", m_peak_concurrency: "Most chats at once",
    m_load_rate: "Load (of chat limit)",
    cr_title: "Custom report", cr_metrics: "Metrics", cr_range: "Range", cr_show: "Show", cr_save: "Save to my reports", cr_name: "Report name",
    cr_saved: "My reports", cr_open: "Open", cr_delete: "Delete", cr_none_saved: "No saved reports yet", cr_saved_ok: "Saved",
    cr_pick_metric: "Choose at least one metric", cr_need_name: "Give the report a name", cr_rows: (n) => `${n} rows`,
    range_yesterday: "Yesterday", range_last7_days: "Last 7 days", range_last30_days: "Last 30 days", range_this_month: "This month",
    range_last_month: "Last month", range_fixed: "Fixed: the dates shown now",
    cr_schedule: "E-mail it to me", sched_none: "Never", sched_daily: "Daily at 8:00", sched_weekly: "Mondays at 8:00", sched_monthly: "The 1st at 8:00",
    cr_mail_hint: "Set your address under My settings → Notifications",
    error_invalid_report_name: "A report name has 1–60 characters", error_too_many_saved_reports: "At most 50 saved reports each: delete some first",
    error_saved_report_not_found: "That report no longer exists", error_unknown_metric: "Choose at least one valid metric",
    fn_title: "Visitor funnel", fn_visits: "Visits", fn_chats: "Chats", fn_orders: "Orders", fn_source: "Source", fn_total: "Total",
    fn_src_search: "Search", fn_src_ads: "Ads", fn_src_recommendation: "Recommendation", fn_src_referral: "Referral", fn_src_direct: "Direct",
    fn_returning: "Returning", fn_pages_per_visit: "Pages per visit", fn_seconds_per_page: "Time per page", fn_pages_before_chat: "Pages before the chat",
    fn_chat_rate: "Chat rate", fn_order_rate: "Order rate (of chats)", fn_visit_to_order: "Visit-to-order rate",
    fn_hint: "A visit ends after 30 minutes without activity; its pages and time count from then. An order is one paid within 24 h of the chat's question.",
    fn_none: "No visits in this range yet", fn_daily: "Visits, chats and orders, last 14 days", fn_campaign: "Campaign", fn_campaigns: "By campaign (the campaign tag of the link)",
  },
);

const CARDS = [
  "conversations", "self_service_rate", "handoff_rate", "handoff_direct", "handoff_consulted", "queue_wait_p50_ms",
  "queue_wait_p90_ms", "abandonment_rate", "first_response_avg_ms", "response_avg_ms", "handle_avg_ms",
  "resolution_rate", "transfer_rate", "reopen_rate", "csat_avg", "csat_satisfaction_rate", "csat_human_avg", "csat_bot_avg",
  "answer_helpful_rate", "conversion_rate_24h", "conversion_rate_next_day", "converted_amount_cents", "online_time_ms",
  "avg_concurrency", "load_rate",
];
const AGENT_COLUMNS = [
  "conversations", "first_response_avg_ms", "response_avg_ms", "handle_avg_ms", "resolution_rate", "transfer_rate", "csat_avg",
  "conversion_rate_24h", "online_time_ms", "avg_concurrency", "peak_concurrency", "load_rate", "qa_score",
];
const TREND = ["conversations", "handoffs"];
const DIMENSIONS = ["day", "week", "month", "hour", "agent", "channel", "group", "source", "intent", "category", "product"];
/// What a chat was about: a report reads one of these at a time.
const TOPICS = ["intent", "category", "product"];
/// Kept per hour of the day, and what is not kept per topic (the server's
/// `MetricDef::by_hour` and `by_topic`): an export by either leaves the rest out.
const BY_HOUR = ["conversations", "engaged", "handoffs", "handoff_rate"];
const NOT_BY_TOPIC = ["queue_wait_p50_ms", "queue_wait_p90_ms", "online_time_ms", "away_time_ms", "avg_concurrency", "peak_concurrency", "load_rate", "qa_score"];

/// The dashboard's metrics an export by these dimensions can have.
function exportable(metrics, dimensions) {
  if (dimensions.includes("hour")) return metrics.filter((m) => BY_HOUR.includes(m));
  if (dimensions.some((d) => TOPICS.includes(d))) return metrics.filter((m) => !NOT_BY_TOPIC.includes(m));
  return metrics;
}
/// How buyers come (the funnel's sources), and "none": a chat not opened from a visit.
const SOURCES = ["search", "ads", "recommendation", "referral", "direct", "none"];

/// A report row's label in the reader's language: sources, the bot's intents
/// and "not known" are named here, the rest (agents, groups, days, channels,
/// categories, product titles) come named by the server; a shop's own intent
/// without a name here keeps the server's.
function rowLabel(dimension, key, label) {
  if (dimension === "source") return t(`fn_src_${key}`);
  if (TOPICS.includes(dimension) && key === "none") return t(`topic_none_${dimension}`);
  if (dimension === "intent") {
    const named = t(`intent_${key}`);
    return named === `intent_${key}` ? label : named;
  }
  return label;
}
const RANGES = ["yesterday", "last7_days", "last30_days", "this_month", "last_month", "fixed"];
/// Ticked when the builder first opens.
const DEFAULT_METRICS = ["conversations", "first_response_avg_ms", "resolution_rate", "csat_avg"];

/// A metric's value for people: percentages, durations, stars, counts.
function show(key, value) {
  if (value === null || value === undefined) return "–";
  if (key.endsWith("_rate") || key.includes("_rate_")) return `${(value * 100).toFixed(1)}%`;
  if (key.endsWith("_cents")) return `¥${(value / 100).toFixed(2)}`;
  if (key.endsWith("_ms")) {
    const s = Math.round(value / 1000);
    const [m, r] = [Math.floor(s / 60), s % 60];
    // Hours of online time read as hours and minutes.
    if (m >= 60) return currentLang() === "zh" ? `${Math.floor(m / 60)}小时${m % 60}分` : `${Math.floor(m / 60)}h ${m % 60}m`;
    return currentLang() === "zh" ? (m ? `${m}分${r}秒` : `${r}秒`) : m ? `${m}m ${r}s` : `${r}s`;
  }
  if (key.startsWith("csat") && key.endsWith("avg")) return value.toFixed(2);
  return String(Math.round(value * 100) / 100);
}

function shiftDay(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/// A chart as wide as its box (less its padding), within reason.
function chartWidth(box) {
  return Math.max(240, Math.min((box?.clientWidth || 600) - 12, 900));
}

/// uPlot and its styles, loaded once when the page first opens.
function loadUplot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  loadUplot.promise ||= new Promise((resolve, reject) => {
    document.head.append(el("link", { rel: "stylesheet", href: "/console/uPlot.min.css" }));
    const script = el("script", { src: "/console/uPlot.iife.min.js" });
    script.onload = () => resolve(window.uPlot);
    script.onerror = reject;
    document.head.append(script);
  });
  return loadUplot.promise;
}

export class Analytics {
  constructor(app, root) {
    this.app = app;
    this.period = el("select", { testid: "an-period", "aria-label": t("an_period") }, ["day", "week", "month"].map((p) => el("option", { value: p }, t(`an_${p}`))));
    // Empty at first: the server answers with the shop's own today.
    this.date = el("input", { type: "date", testid: "an-date", "aria-label": t("an_date") });
    this.by = el("select", { testid: "an-by", "aria-label": t("an_by") }, DIMENSIONS.map((d) => el("option", { value: d }, t(`by_${d}`))));
    // A second dimension (agent × day): a row per pair; the server refuses two time ones.
    this.then = el("select", { testid: "an-then", "aria-label": t("an_then") }, el("option", { value: "" }, t("then_none")), DIMENSIONS.map((d) => el("option", { value: d }, t(`by_${d}`))));
    const controls = el(
      "form",
      { class: "an-controls", onsubmit: (e) => (e.preventDefault(), this.load()) },
      el("label", {}, t("an_period"), " ", this.period),
      el("label", {}, t("an_date"), " ", this.date),
      el("button", { type: "submit", testid: "an-refresh" }, t("an_refresh")),
      el("span", { class: "an-export" }, this.by, this.then, el("button", { type: "button", testid: "an-export", onclick: () => this.exportReport("csv") }, t("an_export")), el("button", { type: "button", testid: "an-export-xlsx", onclick: () => this.exportReport("xlsx") }, t("an_export_xlsx")),
        el("button", { type: "button", testid: "an-export-conversations", onclick: () => this.exportConversations() }, t("an_export_conversations"))),
    );
    this.period.onchange = () => this.load();
    this.date.onchange = () => this.load();
    this.body = el("div", { class: "an-body", testid: "an-body" });
    this.builder = el("section", { class: "an-builder", testid: "an-builder" });
    this.root = el("div", { class: "analytics", testid: "analytics" }, el("h2", {}, t("analytics")), controls, this.body, this.builder);
    root.append(this.root);
    this.charts = [];
    this.onResize = () => this.resize();
    window.addEventListener("resize", this.onResize);
    this.load();
  }

  leave() {
    for (const chart of this.charts) chart.destroy();
    window.removeEventListener("resize", this.onResize);
  }

  /// Charts keep the width of their box when the window (or a phone) turns.
  resize() {
    clearTimeout(this.resizeTimer);
    this.resizeTimer = setTimeout(() => {
      for (const chart of this.charts) chart.setSize({ width: chartWidth(chart.root.parentElement), height: 220 });
    }, 100);
  }

  async load() {
    let summary, trend;
    try {
      summary = await get(`/api/v1/staff/analytics/summary?${query({ period: this.period.value, date: this.date.value })}`);
      if (!this.date.value) this.date.value = summary.period === "day" ? summary.from : summary.to;
      const date = this.date.value;
      trend = await get(`/api/v1/staff/analytics/report?${query({ from: shiftDay(date, -13), to: date, by: "day", metrics: TREND.join(",") })}`).catch(() => null);
    } catch (error) {
      this.body.replaceChildren(el("p", { class: "hint", testid: "an-error" }, errorText(error)));
      return;
    }
    this.summary = summary;
    // What chats were about is counted shop-wide: for those who see the whole
    // shop (or its knowledge numbers) only.
    if (!["all", "knowledge"].includes(summary.scope)) {
      for (const select of [this.by, this.then]) {
        for (const option of [...select.options]) if (TOPICS.includes(option.value)) option.remove();
      }
    }
    this.buildBuilder(Object.keys(summary.totals));
    const cards = CARDS.filter((k) => k in summary.totals).map((k) =>
      el(
        "div",
        { class: "an-card", testid: `metric-${k}`, "data-value": summary.totals[k] ?? "" },
        el("div", { class: "an-label" }, t(`m_${k}`)),
        el("div", { class: "an-value" }, show(k, summary.totals[k])),
      ),
    );
    const reasons = Object.entries(summary.handoff_reasons).map(([r, n]) =>
      el("li", { testid: `reason-${r}`, "data-value": n }, `${word("reason", r)}: ${n}`),
    );
    const trendBox = el("div", { class: "an-chart", testid: "chart-trend" });
    const agentsBox = el("div", { class: "an-chart", testid: "chart-agents" });
    this.body.replaceChildren(
      el("p", { class: "hint", testid: "an-scope" }, t(`an_scope_${summary.scope}`), ` · ${summary.from} – ${summary.to}`),
      el("div", { class: "an-cards" }, cards),
      el("section", { class: "an-charts" }, el("div", {}, el("h3", {}, t("an_trend")), trendBox), summary.agents.length ? el("div", {}, el("h3", {}, t("an_per_agent")), agentsBox) : null),
      reasons.length ? el("section", {}, el("h3", {}, t("an_reasons")), el("ul", { class: "an-reasons", testid: "an-reasons" }, reasons)) : null,
      summary.agents.length ? this.agentTable(summary.agents) : null,
      !summary.agents.length && !summary.totals.conversations ? el("p", { class: "hint" }, t("an_none")) : null,
    );
    await this.drawCharts(trendBox, agentsBox, trend, summary.agents);
    // The shop's traffic and sales: admins only (the server refuses others).
    if (summary.scope === "all") {
      const funnel = await get(`/api/v1/staff/analytics/funnel?${query({ from: summary.from, to: summary.to })}`).catch(() => null);
      const date = this.date.value;
      const daily = await get(`/api/v1/staff/analytics/funnel?${query({ from: shiftDay(date, -13), to: date })}`).catch(() => null);
      if (funnel) {
        const dailyBox = el("div", { class: "an-chart", testid: "chart-funnel" });
        this.body.append(this.funnelSection(funnel, daily ? dailyBox : null));
        if (daily) await this.drawFunnelDays(dailyBox, daily.days);
      }
    }
  }

  /// 访客漏斗: visits → chats → orders as bars as wide as their share of the
  /// visits, then a line per source.
  funnelSection(funnel, dailyBox) {
    const total = funnel.rows[funnel.rows.length - 1];
    const steps = [
      ["visits", total.visits, null],
      ["chats", total.chats, total.chat_rate],
      ["orders", total.orders, total.visit_to_order],
    ];
    const bars = steps.map(([k, n, rate]) => {
      const fill = el("span", { class: "fn-fill" });
      // Through the CSSOM: the console's CSP refuses style attributes.
      fill.style.width = `${total.visits && n ? Math.min(100, Math.max(2, (100 * n) / total.visits)) : 0}%`;
      return el(
        "div",
        { class: "fn-step", testid: `funnel-${k}`, "data-value": n },
        el("span", { class: "fn-label" }, t(`fn_${k}`)),
        el("span", { class: "fn-bar" }, fill),
        el("span", { class: "fn-count" }, `${n}${rate === null || rate === undefined ? "" : ` · ${show("x_rate", rate)}`}`),
      );
    });
    const columns = ["visits", "returning", "pages_per_visit", "seconds_per_page", "chats", "pages_before_chat", "orders", "chat_rate", "order_rate", "visit_to_order"];
    const cell = (k, v) => {
      if (v === null || v === undefined) return "–";
      if (k.endsWith("_rate") || k === "visit_to_order") return show("x_rate", v);
      if (k === "seconds_per_page") return show("x_ms", v * 1000);
      return show(k, v);
    };
    const headers = [t("fn_source"), ...columns.map((k) => t(`fn_${k}`))];
    const rows = funnel.rows.map((r) =>
      el(
        "tr",
        { testid: `funnel-row-${r.source || "total"}` },
        el("td", {}, r.source ? t(`fn_src_${r.source}`) : t("fn_total")),
        columns.map((k) => el("td", { "data-metric": k, "data-value": r[k] ?? "" }, cell(k, r[k]))),
      ),
    );
    for (const row of rows) [...row.children].forEach((td, i) => td.setAttribute("data-label", headers[i]));
    return el(
      "section",
      { class: "an-funnel", testid: "an-funnel" },
      el("h3", {}, t("fn_title")),
      total.visits || total.chats ? el("div", { class: "fn-steps" }, bars) : el("p", { class: "hint", testid: "funnel-none" }, t("fn_none")),
      el("div", { class: "table-wrap" }, el("table", { testid: "funnel-table", class: "cards-on-phone" }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, rows))),
      funnel.campaigns?.length ? this.campaignTable(funnel.campaigns, cell) : null,
      el("p", { class: "hint" }, t("fn_hint")),
      dailyBox ? el("div", {}, el("h3", {}, t("fn_daily")), dailyBox) : null,
    );
  }

  /// 推广活动: a line per utm_campaign (the most visited), whatever the source.
  campaignTable(campaigns, cell) {
    const columns = ["visits", "chats", "orders", "chat_rate", "order_rate", "visit_to_order"];
    const headers = [t("fn_campaign"), ...columns.map((k) => t(`fn_${k}`))];
    const rows = campaigns.map((c) =>
      el(
        "tr",
        { testid: "funnel-campaign", "data-campaign": c.campaign },
        el("td", {}, c.campaign),
        columns.map((k) => el("td", { "data-metric": k, "data-value": c[k] ?? "" }, cell(k, c[k]))),
      ),
    );
    for (const row of rows) [...row.children].forEach((td, i) => td.setAttribute("data-label", headers[i]));
    return el(
      "div",
      {},
      el("h4", {}, t("fn_campaigns")),
      el("div", { class: "table-wrap" }, el("table", { testid: "funnel-campaigns", class: "cards-on-phone" }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, rows))),
    );
  }

  /// Visits, chats and orders of each of the last 14 days (every source).
  async drawFunnelDays(box, days) {
    let uPlot;
    try {
      uPlot = await loadUplot();
    } catch {
      return;
    }
    const sum = (k) => days.reduce((n, d) => n + d[k], 0);
    box.setAttribute("data-visits", sum("visits"));
    box.setAttribute("data-chats", sum("chats"));
    box.setAttribute("data-orders", sum("orders"));
    const xs = days.map((d) => Date.parse(`${d.day}T00:00:00Z`) / 1000);
    const series = [
      ["visits", "#1677ff"],
      ["chats", "#52c41a"],
      ["orders", "#fa8c16"],
    ];
    this.charts.push(
      new uPlot(
        {
          width: chartWidth(box), height: 220,
          scales: { x: { time: true } },
          series: [{}, ...series.map(([k, stroke]) => ({ label: t(`fn_${k}`), stroke, width: 2 }))],
        },
        [xs, ...series.map(([k]) => days.map((d) => d[k]))],
        box,
      ),
    );
  }

  agentTable(agents) {
    const headers = [t("an_agent"), ...AGENT_COLUMNS.map((k) => t(`m_${k}`))];
    const rows = agents.map((a) =>
      el("tr", { testid: `agent-row-${a.key}` }, el("td", {}, a.label), AGENT_COLUMNS.map((k) => el("td", { "data-metric": k, "data-value": a.values[k] ?? "" }, show(k, a.values[k])))),
    );
    for (const row of rows) [...row.children].forEach((td, i) => td.setAttribute("data-label", headers[i]));
    return el(
      "section",
      {},
      el("h3", {}, t("an_agents")),
      el("div", { class: "table-wrap" }, el("table", { testid: "an-agents", class: "cards-on-phone" }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, rows))),
    );
  }

  async drawCharts(trendBox, agentsBox, trend, agents) {
    let uPlot;
    try {
      uPlot = await loadUplot();
    } catch {
      return;
    }
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
    const width = chartWidth;
    if (trend) {
      // Every day of the range, with 0 where nothing happened.
      const byDay = new Map(trend.rows.map((r) => [r.key, r.values]));
      const days = [];
      for (let d = trend.from; d <= trend.to; d = shiftDay(d, 1)) days.push(d);
      const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
      const data = [xs, ...TREND.map((k) => days.map((d) => byDay.get(d)?.[k] ?? 0))];
      this.charts.push(
        new uPlot(
          {
            width: width(trendBox), height: 220,
            scales: { x: { time: true } },
            series: [{}, { label: t("m_conversations"), stroke: "#1677ff", width: 2 }, { label: t("m_handoffs"), stroke: "#fa8c16", width: 2 }],
          },
          data,
          trendBox,
        ),
      );
    }
    if (agents.length) {
      const xs = agents.map((_, i) => i);
      const bars = uPlot.paths.bars({ size: [0.6, 60] });
      this.charts.push(
        new uPlot(
          {
            width: width(agentsBox), height: 220,
            scales: { x: { time: false, range: [-0.5, agents.length - 0.5] } },
            axes: [{ values: (_, ticks) => ticks.map((i) => agents[i]?.label ?? "") }, {}],
            series: [{}, { label: t("m_conversations"), fill: "#91caff", stroke: "#1677ff", paths: bars }],
          },
          [xs, agents.map((a) => a.values.conversations ?? 0)],
          agentsBox,
        ),
      );
    }
  }

  /// The custom report builder (自定义报表): metrics the caller may see, the
  /// dimensions of the export controls, a range; shown as a table, saved to
  /// 我的报表 and opened again from there. Built once per visit of the page.
  buildBuilder(visible) {
    if (this.metricBoxes) return;
    this.metricBoxes = visible.map((k) => el("input", { type: "checkbox", value: k, testid: `cr-metric-${k}`, checked: DEFAULT_METRICS.includes(k) }));
    this.range = el("select", { testid: "cr-range", "aria-label": t("cr_range") }, RANGES.map((r) => el("option", { value: r }, t(`range_${r}`))));
    this.range.value = "last7_days";
    this.source = el("select", { testid: "cr-source", "aria-label": t("cr_source") }, el("option", { value: "" }, t("cr_source_all")), SOURCES.map((s) => el("option", { value: s }, t(`fn_src_${s}`))));
    this.schedule = el("select", { testid: "cr-schedule", "aria-label": t("cr_schedule"), title: t("cr_mail_hint") }, ["", "daily", "weekly", "monthly"].map((v) => el("option", { value: v }, t(`sched_${v || "none"}`))));
    this.reportName = el("input", { testid: "cr-name", placeholder: t("cr_name"), maxlength: 60, "aria-label": t("cr_name") });
    this.result = el("div", { testid: "cr-result" });
    this.savedList = el("ul", { class: "cr-saved", testid: "cr-saved" });
    this.builder.replaceChildren(
      el("h3", {}, t("cr_title")),
      el("fieldset", { class: "cr-metrics" }, el("legend", {}, t("cr_metrics")), this.metricBoxes.map((box) => el("label", {}, box, " ", t(`m_${box.value}`)))),
      el(
        "div",
        { class: "an-controls" },
        el("label", {}, t("cr_range"), " ", this.range),
        el("label", {}, t("cr_source"), " ", this.source),
        el("button", { type: "button", testid: "cr-show", onclick: () => this.showReport(this.currentSpec()) }, t("cr_show")),
        this.reportName,
        el("label", { title: t("cr_mail_hint") }, t("cr_schedule"), " ", this.schedule),
        el("button", { type: "button", testid: "cr-save", onclick: () => this.saveReport() }, t("cr_save")),
      ),
      this.result,
      el("h3", {}, t("cr_saved")),
      this.savedList,
    );
    this.loadSaved();
  }

  /// What the builder asks for now (a fixed range takes the dates shown above).
  currentSpec() {
    const by = this.then.value && this.then.value !== this.by.value ? `${this.by.value},${this.then.value}` : this.by.value;
    const spec = { name: this.reportName.value, metrics: this.metricBoxes.filter((b) => b.checked).map((b) => b.value), by, range: this.range.value };
    if (spec.range === "fixed") Object.assign(spec, { from: this.summary.from, to: this.summary.to });
    if (this.schedule.value) spec.schedule = this.schedule.value;
    if (this.source.value) spec.source = this.source.value;
    return spec;
  }

  /// The days a range covers, counted back from the shop-local day shown.
  days(spec) {
    if (spec.run_from) return [spec.run_from, spec.run_to];
    if (spec.range === "fixed") return [spec.from, spec.to];
    // The date picked above, or the shop's today the server answered with.
    const today = this.date.value || this.summary.to;
    const month = today.slice(0, 8);
    switch (spec.range) {
      case "yesterday": return [shiftDay(today, -1), shiftDay(today, -1)];
      case "last7_days": return [shiftDay(today, -6), today];
      case "last30_days": return [shiftDay(today, -29), today];
      case "this_month": return [`${month}01`, today];
      default: {
        const end = shiftDay(`${month}01`, -1);
        return [`${end.slice(0, 8)}01`, end];
      }
    }
  }

  async showReport(spec) {
    if (!spec.metrics.length) {
      this.result.replaceChildren(el("p", { class: "hint", testid: "cr-error" }, t("cr_pick_metric")));
      return;
    }
    const [from, to] = this.days(spec);
    let report;
    try {
      report = await get(`/api/v1/staff/analytics/report?${query({ from, to, by: spec.by, metrics: spec.metrics.join(","), channel: spec.channel, agent_id: spec.agent_id, group_id: spec.group_id, source: spec.source })}`);
    } catch (error) {
      this.result.replaceChildren(el("p", { class: "hint", testid: "cr-error" }, errorText(error)));
      return;
    }
    const keys = [t(`by_${report.dimension}`), ...(report.then ? [t(`by_${report.then}`)] : [])];
    const headers = [...keys, ...report.metrics.map((k) => t(`m_${k}`))];
    const rows = report.rows.map((r) =>
      el(
        "tr",
        { testid: "cr-row" },
        el("td", { "data-key": r.key }, rowLabel(report.dimension, r.key, r.label)),
        report.then ? el("td", { "data-key": r.then_key }, rowLabel(report.then, r.then_key, r.then_label)) : null,
        report.metrics.map((k) => el("td", { "data-metric": k, "data-value": r.values[k] ?? "" }, show(k, r.values[k]))),
      ),
    );
    for (const row of rows) [...row.children].forEach((td, i) => td.setAttribute("data-label", headers[i]));
    this.result.replaceChildren(
      el("p", { class: "hint", testid: "cr-range-shown" }, `${spec.name ? `${spec.name} · ` : ""}${from} – ${to} · ${t("cr_rows", rows.length)}`),
      el("div", { class: "table-wrap" }, el("table", { testid: "cr-table", class: "cards-on-phone" }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, rows))),
    );
  }

  async saveReport() {
    const spec = this.currentSpec();
    if (!spec.metrics.length) return this.app.toast?.(t("cr_pick_metric"));
    if (!spec.name.trim()) return this.app.toast?.(t("cr_need_name"));
    try {
      await post("/api/v1/staff/analytics/saved", spec);
    } catch (error) {
      this.app.toast?.(errorText(error));
      return;
    }
    this.reportName.value = "";
    this.app.toast?.(t("cr_saved_ok"));
    await this.loadSaved();
  }

  async loadSaved() {
    let list;
    try {
      list = await get("/api/v1/staff/analytics/saved");
    } catch (error) {
      this.savedList.replaceChildren(el("li", { class: "hint" }, errorText(error)));
      return;
    }
    if (!list.length) {
      this.savedList.replaceChildren(el("li", { class: "hint", testid: "cr-none" }, t("cr_none_saved")));
      return;
    }
    this.savedList.replaceChildren(
      ...list.map((r) =>
        el(
          "li",
          { testid: `cr-saved-${r.id}`, "data-name": r.name },
          el("b", {}, r.name),
          " ",
          el("span", { class: "hint" }, `${t(`range_${r.range}`)} · ${r.run_from} – ${r.run_to} · ${r.metrics.map((k) => t(`m_${k}`)).join("、")}`),
          r.schedule ? el("span", { class: "tag", testid: "cr-scheduled" }, `✉ ${t(`sched_${r.schedule}`)}`) : null,
          " ",
          el("button", { type: "button", testid: "cr-open", onclick: () => this.openSaved(r) }, t("cr_open")),
          el("button", { type: "button", class: "danger", testid: "cr-delete", onclick: () => this.deleteSaved(r) }, t("cr_delete")),
        ),
      ),
    );
  }

  /// Fills the builder with a saved report and shows it over today's days.
  openSaved(r) {
    for (const box of this.metricBoxes) box.checked = r.metrics.includes(box.value);
    const [first, second] = r.by.split(",");
    this.by.value = first;
    this.then.value = second || "";
    this.range.value = r.range;
    this.schedule.value = r.schedule || "";
    this.source.value = r.source || "";
    this.showReport(r);
  }

  async deleteSaved(r) {
    try {
      await del(`/api/v1/staff/analytics/saved/${encodeURIComponent(r.id)}`);
    } catch (error) {
      this.app.toast?.(errorText(error));
    }
    await this.loadSaved();
  }

  /// The custom report of the shown range, all visible metrics, as CSV or XLSX.
  async exportReport(format) {
    const by = this.then.value && this.then.value !== this.by.value ? `${this.by.value},${this.then.value}` : this.by.value;
    const metrics = exportable(Object.keys(this.summary?.totals || {}), by.split(",")).join(",");
    const params = query({ from: this.summary.from, to: this.summary.to, by, metrics, format });
    await this.download(`/api/v1/staff/analytics/report?${params}`, `xiaoer-${this.summary.from}-${this.summary.to}.${format}`);
  }

  /// Every conversation of the shown range, one line each with its numbers (CSV).
  async exportConversations() {
    const params = query({ from: this.summary.from, to: this.summary.to });
    await this.download(`/api/v1/staff/analytics/conversations.csv?${params}`, `xiaoer-conversations-${this.summary.from}-${this.summary.to}.csv`);
  }

  /// Fetches a file and saves it; a refusal is a toast in words.
  async download(path, filename) {
    const res = await fetch(path, { credentials: "same-origin" });
    if (!res.ok) {
      const data = await res.json().catch(() => ({}));
      this.app.toast?.(errorText({ code: data.error?.code, message: data.error?.message || res.statusText }));
      return;
    }
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}
