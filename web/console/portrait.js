// The buyer profile (买家画像) in the panel beside a chat: the rule tags, the
// shop's member level, orders and spend, interests, and our own history with
// the buyer (chats, tickets, ratings). The rules are in src/domain/portrait.rs.

import { el, get } from "./api.js";
import { addStrings, errorText, t } from "./i18n.js";

addStrings(
  {
    portrait: "买家画像", portrait_anonymous: "买家未用店铺账号登录：只有本店的服务记录",
    tag_vip: "VIP", tag_high_value: "高价值", tag_returns_often: "常退货", tag_complained_recently: "近期差评",
    tag_new_buyer: "新客", tag_repeat_buyer: "回头客",
    pt_member: "会员等级", pt_orders: (n) => `订单 ${n} 笔`, pt_spend: (v) => `消费 ${v}`, pt_refunds: (n) => `退款 ${n} 笔`,
    pt_interests: "关注类目", pt_chats: (n) => `咨询 ${n} 次`, pt_tickets: (n, open) => `工单 ${n} 个（未完成 ${open}）`,
    pt_rating: (avg, n) => `评价 ${avg} 星（${n} 次）`, pt_no_rating: "还没有评价", pt_last_order: (d) => `最近下单 ${d}`,
    level_gold: "金卡", level_regular: "普通会员", level_platinum: "白金卡", level_diamond: "钻石卡", level_silver: "银卡",
  },
  {
    portrait: "Buyer profile", portrait_anonymous: "Not signed in with a shop account: only our own service history",
    tag_vip: "VIP", tag_high_value: "High value", tag_returns_often: "Returns often", tag_complained_recently: "Unhappy lately",
    tag_new_buyer: "New buyer", tag_repeat_buyer: "Repeat buyer",
    pt_member: "Member level", pt_orders: (n) => `${n} order${n === 1 ? "" : "s"}`, pt_spend: (v) => `spent ${v}`, pt_refunds: (n) => `${n} refunded`,
    pt_interests: "Interested in", pt_chats: (n) => `${n} chat${n === 1 ? "" : "s"}`, pt_tickets: (n, open) => `${n} ticket${n === 1 ? "" : "s"} (${open} open)`,
    pt_rating: (avg, n) => `rated ${avg} stars (${n}×)`, pt_no_rating: "no ratings yet", pt_last_order: (d) => `last order ${d}`,
    level_gold: "Gold", level_regular: "Regular", level_platinum: "Platinum", level_diamond: "Diamond", level_silver: "Silver",
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
  box.replaceChildren(
    el("div", { class: "portrait-tags", testid: "portrait-tags" }, p.tags.map((tag) => el("span", { class: `pill tag-${tag}`, testid: `portrait-tag-${tag}` }, t(`tag_${tag}`)))),
    ...facts.map((line) => el("p", { class: "portrait-line" }, line.filter(Boolean).join(" · "))),
    p.interests.length ? el("p", { class: "portrait-line", testid: "portrait-interests" }, `${t("pt_interests")}：${p.interests.join("、")}`) : null,
  );
}
