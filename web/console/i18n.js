// The console's words in Chinese and English; the choice is remembered.

const STRINGS = {
  zh: {
    app: "店小二 · 客服工作台", username: "用户名", password: "密码", sign_in: "登录", sign_out: "退出",
    bad_login: "用户名或密码错误", totp_code: "验证码（验证器 App）", totp_enter: "请输入验证器 App 中的 6 位验证码",
    totp_wrong: "验证码错误、已过期或已用过", two_step_is_on: "已开启两步验证", two_step_reset: "关闭其两步验证（手机丢失时）",
    two_step_reset_done: "已关闭，对方可用密码登录后重新开启", inbox: "会话", board: "监控", knowledge: "知识库",
    online: "在线", busy: "忙碌", away: "离开", offline: "离线", lang: "EN",
    mine: "我的会话", queue: "排队中", groups: "我的技能组", empty: "暂无", waiting_n: (n) => `${n} 位排队`,
    pick_chat: "从左侧选择一个会话", back: "返回", info: "资料",
    claim: "接入", resolve: "解决", handback: "转回机器人", transfer: "转接", takeover: "接管", whisper: "内部备注",
    send: "发送", reply_placeholder: "输入回复，/ 调出快捷回复", note_placeholder: "仅客服可见的备注",
    quick_replies: "快捷回复", suggested: "建议回复", use: "使用", kb_search: "知识库搜索", search: "搜索",
    insert: "插入", packet: "转人工摘要", no_packet: "无转人工摘要（买家直接转人工）", reason: "原因", intent: "意图",
    summary: "摘要", slots: "已收集信息", retrieved: "检索到的条目", bot_answers: "机器人回答",
    visitor: "买家信息", pages: "浏览页面", cart: "购物车", orders: "订单", orders_anonymous: "买家未用店铺账号登录，看不到其订单", orders_none: "这位买家近期没有订单", order_total: "合计", order_insert: "把订单号填入回复", loading: "加载中…",
    to_agent: "转给客服", to_group: "转给技能组", note: "备注", cancel: "取消", confirm: "确定",
    buyer: "买家", agent: "客服", bot: "机器人", system: "系统", internal: "内部备注",
    new_chat: "新会话", assigned_toast: "您有新的会话", kb_unavailable: "知识库接口尚未启用",
    state_waiting: "等待人工", state_with_agent: "人工服务中", state_bot: "机器人", state_resolved: "已解决", state_closed: "已关闭",
    groups_h: "技能组", agents_h: "客服", chats_h: "进行中的会话", name: "名称", strategy: "策略", waiting: "排队",
    status: "状态", load: "接待量", conversation: "会话", owner: "负责人", queued: "排队时长",
    unanswered: "未回复时长", reply_speed: "上次响应", actions: "操作", open: "打开",
    longest_wait: "最长等待", queue_alert: "排队提醒", reply_15m: "近 15 分钟回复", replies_n: (n) => `${n} 次`,
    alert_reason_waiting: "排队会话过多", alert_reason_wait: "等待过久", alert_ok: "正常",
    queue_alert_toast: (group, reason, n) => `排队提醒：${group}（${reason}，${n} 位排队）`,
    queue_alert_cleared: (group) => `${group} 的排队已恢复正常`,
    alert_settings: "排队提醒", alert_waiting_label: "排队数达到（位）", alert_wait_label: "等待时长达到（秒）", alert_hint: "留空表示不提醒；主管和管理员会在控制台收到提醒。",
    entries: "条目", unanswered_q: "未解答问题", new_entry: "新建条目", question: "问题", similar: "相似问法（每行一个）",
    answer: "答案", category: "分类", tags: "标签（逗号分隔）", save: "保存", publish: "发布", unpublish: "下线",
    all: "全部", draft: "草稿", published: "已发布", archived: "已归档", count: "次数", last_seen: "最近",
    make_entry: "创建条目", saved: "已保存", failed: "操作失败", typing: "对方正在输入…", typing_bot: "机器人正在处理…",
    reason_buyer_request: "买家要求转人工", reason_sensitive: "敏感情况（投诉、情绪激动等）", reason_unhelpful_turns: "多次回答未解决",
    reason_low_confidence: "机器人把握不足", reason_intake_gave_up: "信息收集未完成", reason_intake_complete: "信息已收集完毕",
    reason_bot_unavailable: "机器人暂不可用",
    intent_refund: "退款", intent_defect: "质量问题", intent_where_is_my_parcel: "查物流", intent_order_status: "订单状态", intent_return_check: "退货咨询",
    slot_order_no: "订单号", slot_reason: "原因", slot_product: "商品", slot_symptom: "问题描述", slot_photo: "照片",
    strategy_saturation: "按饱和度（最空闲优先）", strategy_round_robin: "轮流分配", strategy_priority: "按优先级", strategy_weighted: "按权重",
    took_over: "主管已接管会话", transferred: "会话已转接", no_quick_reply: (s) => `没有快捷回复 ${s}，未发送`,
    fill_in: (names) => `请先填写：${names}`, var_buyer_name: "买家称呼", var_order_no: "订单号", var_agent_name: "客服名字",
    admin: "管理", users: "账号", shop: "店铺设置", welcome: "欢迎语", display_name: "显示名", role: "角色",
    max_chats: "最多同时接待", active: "已启用", inactive: "已停用", deactivate: "停用", reactivate: "启用",
    reset_password: "重置密码", new_user: "新建账号", create: "创建", members: "成员", add_member: "添加成员",
    remove: "移除", level: "级别", weight: "权重", new_group: "新建技能组", role_agent: "客服", role_supervisor: "主管",
    role_knowledge_manager: "知识库管理员", role_admin: "管理员", temp_password: "临时密码（至少 12 个字符，不能是常见密码）",
    password_reset_done: "密码已重置，对方下次登录时需设置新密码", must_change: "请设置新密码后继续",
    current_password: "当前密码", new_password: "新密码（至少 12 个字符，不能是常见密码）", change_password: "修改密码",
    shop_name: "店铺名称", service_hours: "人工服务时间（如 09:00-22:00，留空为全天）", time_zone: "时区",
    holidays: "休息日（每行一个日期，如 2026-10-01）", open_now: "现在有人工服务", closed_now: "现在无人工服务",
    scenario_new_visitor: "新访客", scenario_returning_visitor: "老访客", scenario_out_of_hours: "非工作时间",
    lang_zh: "中文", lang_en: "英文", welcome_default: "未设置时使用内置欢迎语", delete: "删除",
    visitor_label: (id) => `访客 ${id}`, unread_n: (n) => `${n} 条未读`, waited: (d) => `已等 ${d}`,
    channel: "渠道", channel_web: "网页", channel_app: "App", channel_api: "接口", preview_image: "[图片]", preview_file: "[文件]", preview_product_card: "[商品]", preview_order_card: "[订单]", preview_coupon_card: "[优惠券]", preview_voice: "[语音]",
    you: "我",
    sc_title: "键盘快捷键", sc_next: "下一个 / 上一个会话", sc_resolve: "结束当前会话（标记已解决）", sc_quick: "在回复框中调出快捷回复", sc_help: "显示这份快捷键列表", sc_close: "关闭", shortcuts: "快捷键",
    attach: "发送图片或文件", error_unsupported_media_type: "不支持这种文件：可发送图片（PNG/JPEG/GIF/WebP）、PDF、文本或 MP4 视频",
    error_content_mismatch: "文件内容与类型不符", error_empty_attachment: "文件是空的", error_payload_too_large: "文件太大（最大 10 MB）",
    error_last_admin: "至少要保留一个启用的管理员", error_self_deactivation: "不能停用自己的账号",
    error_username_taken: "用户名已被占用", error_invalid_staff_data: "输入不符合要求（用户名 3–64 位字母数字，密码至少 12 位）",
    error_wrong_password: "当前密码不正确", error_same_password: "新密码不能与当前密码相同",
    error_invalid_shop_settings: "设置格式不正确（时间如 09:00-22:00，日期如 2026-10-01）",
    error_invalid_routing: "技能组设置不符合要求（名称 1–64 字；排队提醒 1–1000 位，等待 10 秒到 24 小时）",
    whisper_to: (id) => `给会话 ${id} 的内部备注`,
    error_password_too_short: "密码至少 12 个字符", error_password_too_common: "这个密码太常见，请换一个",
    login_locked: "登录失败次数过多，请稍后再试", audit: "审计日志", audit_when: "时间", audit_who: "操作人", audit_action: "操作",
    audit_target: "对象", audit_nobody: "未登录用户", load_more: "加载更多", verify_chain: "校验日志完整性",
    chain_intact: (n) => `日志完整，共 ${n} 条记录`, chain_broken: "日志已被篡改：有记录被修改或删除，请立即排查",
    audit_sign_in: "登录", audit_sign_in_failed: "登录失败", audit_sign_out: "退出登录", audit_permission_denied: "越权访问被拒绝",
    audit_account_created: "创建账号", audit_account_changed: "修改账号", audit_settings_changed: "修改设置",
    audit_kb_published: "发布知识条目", audit_kb_unpublished: "下线知识条目", audit_kb_imported: "导入知识库", audit_exported: "导出数据",
    audit_pii_revealed: "查看买家个人信息", reveal_pii: "显示完整信息", pii_masked_hint: "电话和地址已隐藏，仅本会话的客服可查看（会记录在审计日志）",
    block: "拉黑", block_reason: "原因（必填）", block_1d: "1 天", block_7d: "7 天", block_30d: "30 天", block_forever: "直到解除",
    blocked_done: "已拉黑该买家，对方无法再发送消息", audit_blocked: "拉黑", audit_unblocked: "解除拉黑",
    error_invalid_block_reason: "请填写 1–200 字的原因", error_invalid_network: "请输入 IP 地址或网段，如 203.0.113.0/24",
    blocks_h: "黑名单", block_network: "拉黑 IP / 网段", network: "IP 或网段", reason_h: "原因", expires: "到期", lift: "解除",
    kind_visitor: "买家", kind_network: "IP / 网段",
    address: "地址", error_reveal_not_your_chat: "只有正在服务此会话的客服可以查看买家个人信息",
  },
  en: {
    app: "Xiaoer · Agent console", username: "Username", password: "Password", sign_in: "Sign in", sign_out: "Sign out",
    bad_login: "Wrong username or password", totp_code: "Code (authenticator app)", totp_enter: "Enter the 6-digit code from your authenticator app",
    totp_wrong: "The code is wrong, expired or used already", two_step_is_on: "Two-step sign-in on",
    two_step_reset: "Turn off their two-step sign-in (lost phone)", two_step_reset_done: "Turned off; they sign in with the password and may turn it on again", inbox: "Chats", board: "Supervise", knowledge: "Knowledge",
    online: "Online", busy: "Busy", away: "Away", offline: "Offline", lang: "中文",
    mine: "My chats", queue: "Waiting", groups: "My groups", empty: "Nothing here", waiting_n: (n) => `${n} waiting`,
    pick_chat: "Pick a chat on the left", back: "Back", info: "Info",
    claim: "Take", resolve: "Resolve", handback: "Back to bot", transfer: "Transfer", takeover: "Take over", whisper: "Internal note",
    send: "Send", reply_placeholder: "Reply… type / for quick replies", note_placeholder: "Only staff see this note",
    quick_replies: "Quick replies", suggested: "Suggested reply", use: "Use", kb_search: "Knowledge search", search: "Search",
    insert: "Insert", packet: "Hand-off packet", no_packet: "No hand-off packet (the buyer asked for a person)", reason: "Reason",
    intent: "Intent", summary: "Summary", slots: "Collected", retrieved: "Retrieved entries", bot_answers: "Bot answers",
    visitor: "Buyer", pages: "Pages viewed", cart: "Cart", orders: "Orders", orders_anonymous: "The buyer is not signed in with a shop account: no orders to show", orders_none: "No recent orders", order_total: "Total", order_insert: "Put the order number in the reply", loading: "Loading…",
    to_agent: "To an agent", to_group: "To a group", note: "Note", cancel: "Cancel", confirm: "OK",
    buyer: "Buyer", agent: "Agent", bot: "Bot", system: "System", internal: "Internal note",
    new_chat: "New chat", assigned_toast: "You have a new chat", kb_unavailable: "The knowledge base API is not enabled",
    state_waiting: "Waiting", state_with_agent: "With agent", state_bot: "Bot", state_resolved: "Resolved", state_closed: "Closed",
    groups_h: "Skill groups", agents_h: "Agents", chats_h: "Live chats", name: "Name", strategy: "Strategy", waiting: "Waiting",
    status: "Status", load: "Load", conversation: "Chat", owner: "Owner", queued: "Queued",
    unanswered: "Unanswered", reply_speed: "Last reply", actions: "Actions", open: "Open",
    longest_wait: "Longest wait", queue_alert: "Queue alert", reply_15m: "Replies, last 15 min", replies_n: (n) => `${n} replies`,
    alert_reason_waiting: "too many waiting", alert_reason_wait: "waiting too long", alert_ok: "OK",
    queue_alert_toast: (group, reason, n) => `Queue alert: ${group} (${reason}, ${n} waiting)`,
    queue_alert_cleared: (group) => `${group}: the queue is back to normal`,
    alert_settings: "Queue alerts", alert_waiting_label: "Chats waiting at least", alert_wait_label: "A wait of at least (seconds)", alert_hint: "Leave empty for no alert; supervisors and admins are alerted in the console.",
    entries: "Entries", unanswered_q: "Unanswered questions", new_entry: "New entry", question: "Question",
    similar: "Similar questions (one a line)", answer: "Answer", category: "Category", tags: "Tags (comma separated)",
    save: "Save", publish: "Publish", unpublish: "Unpublish", all: "All", draft: "Draft", published: "Published",
    archived: "Archived", count: "Count", last_seen: "Last seen", make_entry: "Make an entry", saved: "Saved",
    failed: "That did not work", typing: "Typing…", typing_bot: "The bot is working on a reply…",
    reason_buyer_request: "Buyer asked for a person", reason_sensitive: "Sensitive (complaint, upset buyer…)", reason_unhelpful_turns: "Answers did not help",
    reason_low_confidence: "Bot not confident", reason_intake_gave_up: "Details not collected", reason_intake_complete: "Details collected",
    reason_bot_unavailable: "Bot unavailable",
    intent_refund: "Refund", intent_defect: "Defect", intent_where_is_my_parcel: "Where is my parcel", intent_order_status: "Order status", intent_return_check: "Return question",
    slot_order_no: "Order number", slot_reason: "Reason", slot_product: "Product", slot_symptom: "Symptom", slot_photo: "Photo",
    strategy_saturation: "Least loaded first", strategy_round_robin: "Round robin", strategy_priority: "Priority", strategy_weighted: "Weighted",
    took_over: "A supervisor took over", transferred: "Chat transferred", no_quick_reply: (s) => `No quick reply ${s}; nothing was sent`,
    fill_in: (names) => `Fill in first: ${names}`, var_buyer_name: "buyer's name", var_order_no: "order number", var_agent_name: "agent name",
    admin: "Admin", users: "Accounts", shop: "Shop settings", welcome: "Welcome messages", display_name: "Display name", role: "Role",
    max_chats: "Chats at once", active: "Active", inactive: "Deactivated", deactivate: "Deactivate", reactivate: "Reactivate",
    reset_password: "Reset password", new_user: "New account", create: "Create", members: "Members", add_member: "Add member",
    remove: "Remove", level: "Level", weight: "Weight", new_group: "New skill group", role_agent: "Agent", role_supervisor: "Supervisor",
    role_knowledge_manager: "Knowledge manager", role_admin: "Admin", temp_password: "Temporary password (12+ characters, not a common one)",
    password_reset_done: "Password reset; a new one must be chosen at next sign-in", must_change: "Choose a new password to continue",
    current_password: "Current password", new_password: "New password (12+ characters, not a common one)", change_password: "Change password",
    shop_name: "Shop name", service_hours: "Service hours (e.g. 09:00-22:00; empty: any hour)", time_zone: "Time zone",
    holidays: "Holidays (one date a line, e.g. 2026-10-01)", open_now: "People answer now", closed_now: "Nobody answers now",
    scenario_new_visitor: "New visitor", scenario_returning_visitor: "Returning visitor", scenario_out_of_hours: "Out of hours",
    lang_zh: "Chinese", lang_en: "English", welcome_default: "The built-in greeting applies when empty", delete: "Delete",
    visitor_label: (id) => `Visitor ${id}`, unread_n: (n) => `${n} unread`, waited: (d) => `waited ${d}`,
    channel: "Channel", channel_web: "Web", channel_app: "App", channel_api: "API", preview_image: "[picture]", preview_file: "[file]", preview_product_card: "[product]", preview_order_card: "[order]", preview_coupon_card: "[coupon]", preview_voice: "[voice]",
    you: "Me",
    sc_title: "Keyboard shortcuts", sc_next: "Next / previous chat", sc_resolve: "Resolve the open chat", sc_quick: "Quick replies in the reply box", sc_help: "Show this list", sc_close: "Close", shortcuts: "Shortcuts",
    attach: "Send a picture or file", error_unsupported_media_type: "This kind of file cannot be sent: pictures (PNG/JPEG/GIF/WebP), PDF, text or MP4 video",
    error_content_mismatch: "The file's content does not match its type", error_empty_attachment: "The file is empty", error_payload_too_large: "The file is too large (10 MB at most)",
    error_last_admin: "Keep at least one active admin", error_self_deactivation: "You cannot deactivate yourself",
    error_username_taken: "That username is taken", error_invalid_staff_data: "Check the input (username 3–64 letters or digits, password 12+ characters)",
    error_wrong_password: "The current password is wrong", error_same_password: "The new password must differ",
    error_invalid_shop_settings: "Check the format (hours like 09:00-22:00, dates like 2026-10-01)",
    error_invalid_routing: "Check the group (name 1–64 characters; alerts at 1–1000 waiting, waits of 10 s to 24 h)",
    whisper_to: (id) => `Internal note on chat ${id}`,
    error_password_too_short: "The password needs 12 characters or more", error_password_too_common: "That password is too common; choose another",
    login_locked: "Too many failed sign-ins; please wait a little and try again", audit: "Audit log", audit_when: "When", audit_who: "Who",
    audit_action: "Action", audit_target: "What", audit_nobody: "Not signed in", load_more: "Load more", verify_chain: "Check the log's integrity",
    chain_intact: (n) => `The log is intact: ${n} records`, chain_broken: "The log was tampered with: a record was changed or deleted; investigate now",
    audit_sign_in: "Signed in", audit_sign_in_failed: "Failed sign-in", audit_sign_out: "Signed out", audit_permission_denied: "Access denied",
    audit_account_created: "Account created", audit_account_changed: "Account changed", audit_settings_changed: "Settings changed",
    audit_kb_published: "Entry published", audit_kb_unpublished: "Entry unpublished", audit_kb_imported: "Knowledge imported", audit_exported: "Data exported",
    audit_pii_revealed: "Buyer's personal data viewed", reveal_pii: "Show in full", pii_masked_hint: "Phone and address are hidden; only the agent serving this chat may see them (recorded in the audit log)",
    block: "Block", block_reason: "Reason (required)", block_1d: "1 day", block_7d: "7 days", block_30d: "30 days", block_forever: "Until lifted",
    blocked_done: "The buyer is blocked and can no longer send messages", audit_blocked: "Blocked", audit_unblocked: "Block lifted",
    error_invalid_block_reason: "Give a reason of 1 to 200 characters", error_invalid_network: "Enter an IP address or network, such as 203.0.113.0/24",
    blocks_h: "Blocklist", block_network: "Block an IP / network", network: "IP or network", reason_h: "Reason", expires: "Expires", lift: "Lift",
    kind_visitor: "Buyer", kind_network: "IP / network",
    address: "Address", error_reveal_not_your_chat: "Only the agent serving this chat may see the buyer's personal data",
  },
};

let lang = localStorage.getItem("xiaoer.console.lang") || ((navigator.language || "zh").startsWith("zh") ? "zh" : "en");

/// A code from the API (reason, intent, strategy…) in words; an unknown code
/// shows as itself rather than as nothing.
export function word(prefix, code) {
  if (code === null || code === undefined || code === "") return "–";
  const value = STRINGS[lang][`${prefix}_${code}`];
  return value === undefined ? code : value;
}

export function t(key, ...args) {
  const value = STRINGS[lang][key];
  if (typeof value === "function") return value(...args);
  return value === undefined ? key : value;
}

export function toggleLang() {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("xiaoer.console.lang", lang);
}

export function applyStrings(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-action=lang]")) node.textContent = t("lang");
}

/// Pages that bring their own words add them here (both languages at once).
export function addStrings(zh, en) {
  Object.assign(STRINGS.zh, zh);
  Object.assign(STRINGS.en, en);
}
/// An API error in the reader's words when the catalogue has them, else the server's message.
export function errorText(error) {
  const value = STRINGS[lang][`error_${error.code}`];
  return value === undefined ? error.message : value;
}

export const currentLang = () => lang;
