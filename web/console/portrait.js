// The buyer profile (买家画像) in the panel beside a chat: the rule tags and the
// tags staff set by hand (added and removed here, for a signed-in buyer), the
// shop's member level, orders and spend, interests, and our own history with
// the buyer (chats, tickets, ratings). The rules are in src/domain/portrait.rs.

import { del, el, get, post } from "./api.js";
import { addStrings, errorText, t, word } from "./i18n.js";

addStrings(
  {
    portrait: "买家画像", portrait_anonymous: "买家未用店铺账号登录：只有本店的服务记录",
    tag_vip: "VIP", tag_high_value: "高价值", tag_returns_often: "常退货", tag_complained_recently: "近期差评",
    tag_new_buyer: "新客", tag_repeat_buyer: "回头客",
    pt_member: "会员等级", pt_orders: (n) => `订单 ${n} 笔`, pt_spend: (v) => `消费 ${v}`, pt_refunds: (n) => `退款 ${n} 笔`,
    pt_interests: "关注类目", pt_chats: (n) => `咨询 ${n} 次`, pt_tickets: (n, open) => `工单 ${n} 个（未完成 ${open}）`,
    pt_rating: (avg, n) => `评价 ${avg} 星（${n} 次）`, pt_no_rating: "还没有评价", pt_last_order: (d) => `最近下单 ${d}`,
    level_gold: "金卡", level_regular: "普通会员", level_platinum: "白金卡", level_diamond: "钻石卡", level_silver: "银卡",
    pt_hand_tag: "手动标签", pt_tag_add: "加标签", pt_tag_new: "新标签（不超过 16 字）", pt_tag_remove: (tag) => `移除标签 ${tag}`,
    error_invalid_buyer_tag: "标签为 1–16 个字", error_too_many_buyer_tags: "每位买家最多 20 个手动标签，请先移除一个",
    error_buyer_not_signed_in: "买家未用店铺账号登录，无法加标签", error_buyer_tag_not_found: "标签已被移除",
    pt_past_chats: "以往咨询", pt_past_tickets: "工单", pt_stars: (n) => `${n} 星`,
    pt_tk_new: "新建", pt_tk_open: "处理中", pt_tk_pending: "等待回复", pt_tk_on_hold: "挂起", pt_tk_resolved: "已解决", pt_tk_closed: "已关闭",
  },
  {
    portrait: "Buyer profile", portrait_anonymous: "Not signed in with a shop account: only our own service history",
    tag_vip: "VIP", tag_high_value: "High value", tag_returns_often: "Returns often", tag_complained_recently: "Unhappy lately",
    tag_new_buyer: "New buyer", tag_repeat_buyer: "Repeat buyer",
    pt_member: "Member level", pt_orders: (n) => `${n} order${n === 1 ? "" : "s"}`, pt_spend: (v) => `spent ${v}`, pt_refunds: (n) => `${n} refunded`,
    pt_interests: "Interested in", pt_chats: (n) => `${n} chat${n === 1 ? "" : "s"}`, pt_tickets: (n, open) => `${n} ticket${n === 1 ? "" : "s"} (${open} open)`,
    pt_rating: (avg, n) => `rated ${avg} stars (${n}×)`, pt_no_rating: "no ratings yet", pt_last_order: (d) => `last order ${d}`,
    level_gold: "Gold", level_regular: "Regular", level_platinum: "Platinum", level_diamond: "Diamond", level_silver: "Silver",
    pt_hand_tag: "Set by hand", pt_tag_add: "Add tag", pt_tag_new: "New tag (up to 16 characters)", pt_tag_remove: (tag) => `Remove tag ${tag}`,
    error_invalid_buyer_tag: "A tag is 1 to 16 characters", error_too_many_buyer_tags: "At most 20 hand tags per buyer: remove one first",
    error_buyer_not_signed_in: "The buyer is not signed in with a shop account: no tags", error_buyer_tag_not_found: "That tag was already removed",
    pt_past_chats: "Earlier chats", pt_past_tickets: "Tickets", pt_stars: (n) => `${n} star${n === 1 ? "" : "s"}`,
    pt_tk_new: "New", pt_tk_open: "Open", pt_tk_pending: "Pending", pt_tk_on_hold: "On hold", pt_tk_resolved: "Resolved", pt_tk_closed: "Closed",
  },
);

const money = (cents) => `¥${(cents / 100).toFixed(2)}`;

/// The profile of the chat `base` (/api/v1/staff/conversations/{id}) into `box`.
export async function showPortrait(base, box) {
  let p;
  try {
    p = await get(`${base}/portrait`);
  } catch (error) {
    box.replaceChildren(el("p", { class: "hint", testid: "portrait-error" }, errorText(error)));
    return;
  }
  // A level the console has no word for is shown as the shop names it.
  const named = p.member_level ? t(`level_${p.member_level}`) : null;
  const level = named && named.startsWith("level_") ? p.member_level : named;
  const h = p.history;
  const facts = [
    p.account_verified
      ? [
          level ? `${t("pt_member")} ${level}` : null,
          t("pt_orders", p.orders.orders),
          t("pt_spend", money(p.orders.spend_cents)),
          p.orders.refunds ? t("pt_refunds", p.orders.refunds) : null,
          p.orders.last_order_at ? t("pt_last_order", new Date(p.orders.last_order_at).toLocaleDateString()) : null,
        ]
      : [t("portrait_anonymous")],
    [
      t("pt_chats", h.conversations),
      t("pt_tickets", h.tickets, h.open_tickets),
      h.ratings ? t("pt_rating", h.rating_avg.toFixed(1), h.ratings) : t("pt_no_rating"),
    ],
  ];
  const refresh = () => showPortrait(base, box);
  const handTags = (p.hand_tags || []).map(({ tag }) =>
    el(
      "span",
      { class: "pill hand-tag", title: t("pt_hand_tag"), testid: `portrait-hand-tag-${tag}` },
      `✎ ${tag}`,
      el("button", { type: "button", class: "link", "aria-label": t("pt_tag_remove", tag), testid: `portrait-hand-tag-remove-${tag}`, onclick: () => changeTags(() => del(`${base}/portrait/tags/${encodeURIComponent(tag)}`), refresh, box) }, "×"),
    ),
  );
  // replaceChildren writes a null out as the text "null": leave the absent out.
  box.replaceChildren(
    ...[
    el("div", { class: "portrait-tags", testid: "portrait-tags" }, p.tags.map((tag) => el("span", { class: `pill tag-${tag}`, testid: `portrait-tag-${tag}` }, t(`tag_${tag}`))), handTags),
    p.account_verified ? tagForm(base, refresh, box) : null,
    ...facts.map((line) => el("p", { class: "portrait-line" }, line.filter(Boolean).join(" · "))),
    p.interests.length ? el("p", { class: "portrait-line", testid: "portrait-interests" }, `${t("pt_interests")}：${p.interests.join("、")}`) : null,
    pastList("portrait-past-chats", t("pt_past_chats"), h.recent_chats || [], (c) =>
      el("a", { href: `#/inbox/${c.id}`, testid: `portrait-chat-${c.id}` }, [day(c.started_at), word("state", c.state), c.stars ? t("pt_stars", c.stars) : null].filter(Boolean).join(" · ")),
    ),
    pastList("portrait-past-tickets", t("pt_past_tickets"), h.recent_tickets || [], (k) =>
      el("a", { href: `#/tickets/${k.id}`, testid: `portrait-ticket-${k.id}` }, [k.number, word("pt_tk", k.state), day(k.created_at)].join(" · ")),
    ),
    ].filter(Boolean),
  );
}

const day = (ms) => new Date(ms).toLocaleDateString(document.documentElement.lang);

/// The buyer's other chats or tickets as links (nothing when there are none).
function pastList(testid, title, items, link) {
  if (!items.length) return null;
  return el("div", { class: "portrait-line", testid }, el("span", {}, `${title}：`), el("ul", { class: "portrait-past" }, items.map((item) => el("li", {}, link(item)))));
}

/// A change to the hand tags, then the profile again; a refusal in words.
async function changeTags(request, refresh, box) {
  try {
    await request();
    await refresh();
  } catch (error) {
    box.querySelector("[data-testid=portrait-tag-error]")?.remove();
    box.append(el("p", { class: "error", role: "alert", testid: "portrait-tag-error" }, errorText(error)));
  }
}

/// A short tag of the staff member's own for a signed-in buyer.
function tagForm(base, refresh, box) {
  const input = el("input", { maxlength: 16, placeholder: t("pt_tag_new"), "aria-label": t("pt_tag_new"), testid: "portrait-tag-input" });
  const add = (e) => {
    e.preventDefault();
    if (input.value.trim()) changeTags(() => post(`${base}/portrait/tags`, { tag: input.value }), refresh, box);
  };
  return el("form", { class: "portrait-tag-form", testid: "portrait-tag-form", onsubmit: add }, input, el("button", { type: "submit", class: "secondary", testid: "portrait-tag-add" }, t("pt_tag_add")));
}
