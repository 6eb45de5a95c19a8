// The widget's words in Chinese and English.
export const STRINGS = {
  zh: {
    title: "店小二 在线客服", connecting: "连接中…", online: "在线", reconnecting: "连接断开，正在重连…",
    close: "关闭", emoji: "表情", image: "发送图片", placeholder: "请输入您的问题…", send: "发送",
    human: "转人工", human_asked: "已为您转接人工客服", you: "我", agent: "客服", bot: "小二",
    waiting: "已为您转入人工服务", agent_joined: "客服已接入，为您服务", back_to_bot: "已转回智能客服小二",
    resolved: "本次会话已结束，如有问题可继续留言", closed: "会话已关闭", transferred: "已为您转接其他客服",
    queue: (p, m) => `排队中：您前面还有 ${p - 1} 位，预计等待约 ${m} 分钟`, queue_next: "下一位就是您，客服接待后会在这里回复您",
    nobody_online: "当前暂无人工客服在线。您的消息已为您保留，客服上线后会第一时间回复您。",
    helpful: "有帮助", unhelpful: "没帮助", thanks: "感谢您的反馈", rate_failed: "评价未提交成功，请稍后再试", sources: "参考：", failed: "发送失败，点击重试",
    sending: "发送中", image_failed: "图片上传失败", lang: "EN",
    blocked: "抱歉，当前无法在线咨询，如有需要请通过店铺的其他方式联系我们",
    muted: "您发送的消息过多或重复，聊天已暂停一段时间，请稍后再来",
    banned: "这条消息包含本店不允许的内容，请修改后再发送",
    challenge: "为防止恶意刷屏，请稍候，正在自动完成一个小验证（通常只需几秒）", challenge_failed: "验证没有完成，请刷新页面后再试",
    too_fast: "您发送得有点快，请稍等片刻再点击重试", too_fast_image: "图片发送得有点快，请稍等片刻再试",
    too_many_chats: (s) => `当前咨询人数较多，请 ${s} 秒后再试，我们会自动为您重新连接`,
    typing_bot: "小二正在为您查找答案…", typing_agent: "客服正在输入…",
    my_tickets: "我的工单",
  },
  en: {
    title: "Xiaoer support", connecting: "Connecting…", online: "Online", reconnecting: "Connection lost, reconnecting…",
    close: "Close", emoji: "Emoji", image: "Send a picture", placeholder: "Type your question…", send: "Send",
    human: "Talk to a person", human_asked: "Connecting you to a person", you: "Me", agent: "Agent", bot: "Xiaoer",
    waiting: "Passed to our team", agent_joined: "An agent has joined", back_to_bot: "Back with the Xiaoer bot",
    resolved: "This chat is resolved; write again any time", closed: "This chat is closed", transferred: "Transferred to another agent",
    queue: (p, m) => `In the queue: ${p - 1} ahead of you, about ${m} min`, queue_next: "You're next; an agent will reply here",
    nobody_online: "No one from our team is online right now. Your messages are kept and an agent will reply as soon as someone is online.",
    helpful: "Helpful", unhelpful: "Not helpful", thanks: "Thanks for the feedback", rate_failed: "Your rating was not saved, please try again", sources: "Sources: ", failed: "Not sent, tap to retry",
    sending: "Sending", image_failed: "The picture could not be uploaded", lang: "中文",
    blocked: "Sorry, chat is not available to you right now; please reach the shop another way",
    muted: "Too many or repeated messages: the chat is paused for a while; please come back later",
    banned: "This message contains words the shop does not allow; please change it and send again",
    challenge: "One moment: a quick automatic check keeps bots out (it usually takes a few seconds)", challenge_failed: "The check did not finish; please reload the page and try again",
    too_fast: "You're sending a little fast; please wait a moment, then tap to retry", too_fast_image: "Pictures are coming a little fast; please wait a moment and try again",
    too_many_chats: (s) => `We're very busy right now; we'll reconnect you automatically in ${s} s`,
    typing_bot: "Xiaoer is looking up an answer…", typing_agent: "The agent is typing…",
    my_tickets: "My tickets",
  },
};

// Product cards (issue 18).
Object.assign(STRINGS.zh, {
  add_to_cart: "加入购物车", added: "已加入购物车", view_product: "查看商品", sold_out: "缺货",
  in_stock: (n) => `库存 ${n} 件`,
});
Object.assign(STRINGS.en, {
  add_to_cart: "Add to cart", added: "Added to cart", view_product: "View product", sold_out: "Sold out",
  in_stock: (n) => `${n} in stock`,
});

// Order cards (issue 18).
Object.assign(STRINGS.zh, {
  order_no: "订单号", order_total: "合计", order_status_of: (card) => card.status_zh,
  order_placed: (d) => `下单于 ${d}`, order_items: (n) => `共 ${n} 件`,
});
Object.assign(STRINGS.en, {
  order_no: "Order", order_total: "Total", order_status_of: (card) => card.status_en,
  order_placed: (d) => `Placed ${d}`, order_items: (n) => `${n} item${n === 1 ? "" : "s"}`,
});

// Coupon cards (issue 18).
Object.assign(STRINGS.zh, {
  coupon_claim: "领取", coupon_claimed: "已领取", coupon_until: (d) => `有效期至 ${d}`,
  coupon_sold_out: "已被抢光了", coupon_expired: "优惠券已过期", coupon_sign_in: "请先登录店铺账号再领取",
  coupon_failed: "领取失败，请稍后再试",
});
Object.assign(STRINGS.en, {
  coupon_claim: "Claim", coupon_claimed: "Claimed", coupon_until: (d) => `Valid until ${d}`,
  coupon_sold_out: "All gone, sorry", coupon_expired: "This coupon has expired", coupon_sign_in: "Sign in to your shop account to claim it",
  coupon_failed: "Could not claim it; please try again shortly",
});

// Voice messages (issue 18).
Object.assign(STRINGS.zh, {
  voice_record: "录语音", voice_send: "发送", voice_cancel: "取消",
  voice_denied: "没有麦克风权限，无法录音", voice_failed: "语音发送失败，请重试",
});
Object.assign(STRINGS.en, {
  voice_record: "Record a voice message", voice_send: "Send", voice_cancel: "Cancel",
  voice_denied: "No microphone permission: cannot record", voice_failed: "The voice message could not be sent; please try again",
});

export function pickLang(requested) {
  if (requested === "zh" || requested === "en") return requested;
  return (navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en";
}

/// Fills every [data-i18n], [data-i18n-placeholder] and [data-i18n-aria] under root.
export function applyStrings(root, words) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = words[el.dataset.i18n];
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = words[el.dataset.i18nPlaceholder];
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", words[el.dataset.i18nAria]);
}

// Quick-reply buttons of the bot's menu (issue 18).
Object.assign(STRINGS.zh, { quick_menu: "快捷选项" });
Object.assign(STRINGS.en, { quick_menu: "Quick options" });
