// Product cards in the agent's chat: how a card looks in the history, and the
// picker that shows the products recommended for the chat's buyer and searches
// the shop's catalogue, sending a card in one click.

import { el, get, post } from "./api.js";
import { addStrings, currentLang, errorText, t } from "./i18n.js";

addStrings(
  {
    product_card: "商品卡片", product_search: "搜索商品（名称、类目或编号）", product_send: "发送",
    product_sent: "商品卡片已发送", product_stock: (n) => `库存 ${n}`, product_sold_out: "缺货", product_none: "没有找到商品",
    error_product_not_found: "店铺里没有这件商品", close_picker: "关闭",
    product_recommended: "为该买家推荐", product_search_results: "搜索结果",
    quick_menu: "买家看到的快捷选项",
    order_send: "发送订单卡片", order_sent: "订单卡片已发送",
    error_order_not_found: "买家账号下没有这个订单", error_buyer_not_signed_in: "买家未用店铺账号登录，不能发送订单",
    error_invalid_order_no: "订单号格式不对",
    coupon_card: "优惠券", coupon_send: "发送", coupon_sent: "优惠券已发送", coupon_left: (n) => `剩 ${n} 张`,
    coupon_until: (d) => `有效期至 ${d}`, coupon_not_offerable: "已抢光或已过期", coupon_none: "店铺还没有优惠券",
    error_coupon_not_found: "店铺没有这张优惠券", error_coupon_unavailable: "这张优惠券已抢光或已过期，不能发送",
    error_invalid_coupon_id: "优惠券编号不对",
  },
  {
    product_card: "Product card", product_search: "Search products (title, category or sku)", product_send: "Send",
    product_sent: "Product card sent", product_stock: (n) => `${n} in stock`, product_sold_out: "Sold out", product_none: "No products found",
    error_product_not_found: "The shop has no such product", close_picker: "Close",
    product_recommended: "Recommended for this buyer", product_search_results: "Search results",
    quick_menu: "Quick options the buyer sees",
    order_send: "Send as a card", order_sent: "Order card sent",
    error_order_not_found: "The buyer's account has no such order", error_buyer_not_signed_in: "The buyer is not signed in with a shop account: no order can be sent",
    error_invalid_order_no: "That is not an order number",
    coupon_card: "Coupon", coupon_send: "Send", coupon_sent: "Coupon sent", coupon_left: (n) => `${n} left`,
    coupon_until: (d) => `Valid until ${d}`, coupon_not_offerable: "All claimed or expired", coupon_none: "The shop has no coupons yet",
    error_coupon_not_found: "The shop has no such coupon", error_coupon_unavailable: "This coupon is all claimed or expired and cannot be sent",
    error_invalid_coupon_id: "That is not a coupon id",
  },
);

const price = (cents) => `¥${(cents / 100).toFixed(2)}`;

/// A card as the chat history shows it.
export function productCardNode(card) {
  return el(
    "div",
    { class: "product-card", testid: "product-card", "data-sku": card.sku },
    el("img", { src: card.image_url, alt: "", loading: "lazy" }),
    el(
      "div",
      {},
      el("strong", {}, card.title),
      el("div", { class: "price" }, price(card.price_cents)),
      el("div", { class: "hint" }, card.stock > 0 ? t("product_stock", card.stock) : t("product_sold_out")),
    ),
  );
}

/// An order as a card: number, status in the console's language, items, total
/// and the newest tracking step; `extra` (buttons) goes at the bottom. The side
/// panel shows the buyer's orders like this, and the chat an order card sent.
export function orderCardNode(o, ...extra) {
  const zh = currentLang() === "zh";
  return el(
    "article",
    { class: "order-card", testid: `order-${o.order_no}` },
    el("header", {}, el("b", { class: "order-no" }, o.order_no), el("span", { class: `pill order-${o.status}`, testid: "order-status" }, zh ? o.status_zh : o.status_en)),
    el("ul", { class: "order-lines" }, o.lines.map((l) => el("li", {}, `${l.name} × ${l.quantity}`, el("span", {}, price(l.unit_price_cents * l.quantity))))),
    el("div", { class: "order-foot" }, el("span", { class: "hint" }, new Date(o.placed_at).toLocaleDateString()), el("b", {}, `${t("order_total")} ${price(o.total_cents)}`)),
    o.latest_tracking
      ? el("p", { class: "tracking", testid: "order-tracking" }, `${o.carrier} ${o.tracking_no}：${o.latest_tracking.description}（${o.latest_tracking.location}，${new Date(o.latest_tracking.at).toLocaleString()}）`)
      : null,
    ...extra,
  );
}

/// Sends the buyer's order `orderNo` into `chat` (a ChatView) as a card.
export async function sendOrderCard(chat, orderNo, button) {
  button.disabled = true;
  try {
    await post(`${chat.base}/order-cards`, { order_no: orderNo, client_msg_id: `order-${crypto.randomUUID()}` });
    chat.app.toast(t("order_sent"));
  } catch (error) {
    chat.app.toast(errorText(error));
  } finally {
    button.disabled = false;
  }
}

/// Opens (or closes) the picker above the reply box of `chat` (a ChatView).
export function toggleProductPicker(chat, anchor) {
  const open = anchor.parentNode.querySelector("[data-testid=product-picker]");
  if (open) return open.remove();
  const search = el("input", { type: "search", placeholder: t("product_search"), testid: "product-search" });
  const results = el("ul", { class: "product-results", testid: "product-results" });
  const recommended = el("ul", { class: "product-results", testid: "product-recommended" });
  const recommendedBlock = el("section", { hidden: true }, el("h4", {}, t("product_recommended")), recommended);
  const picker = el(
    "div",
    { class: "product-picker", testid: "product-picker" },
    el("div", { class: "row" }, search, el("button", { type: "button", class: "link", onclick: () => picker.remove() }, t("close_picker"))),
    recommendedBlock,
    el("h4", {}, t("product_search_results")),
    results,
  );
  const send = async (sku, button) => {
    button.disabled = true;
    try {
      await post(`${chat.base}/product-cards`, { sku, client_msg_id: `card-${crypto.randomUUID()}` });
      chat.app.toast(t("product_sent"));
      picker.remove();
    } catch (error) {
      chat.app.toast(errorText(error));
      button.disabled = false;
    }
  };
  const row = (p, testid, sendId) => {
    const button = el("button", { type: "button", testid: sendId }, t("product_send"));
    button.onclick = () => send(p.sku, button);
    return el("li", { testid }, productCardNode(p), button);
  };
  const find = async () => {
    const found = await get(`/api/v1/staff/products?q=${encodeURIComponent(search.value.trim())}&limit=20`).catch(() => []);
    results.replaceChildren(
      ...(found.length
        ? found.map((p) => row(p, "product-result", `product-send-${p.sku}`))
        : [el("li", { class: "hint" }, t("product_none"))]),
    );
  };
  const recommend = async () => {
    const found = await get(`${chat.base}/recommendations`).catch(() => []);
    recommended.replaceChildren(...found.map((p) => row(p, "product-recommendation", `product-recommend-${p.sku}`)));
    recommendedBlock.hidden = found.length === 0;
  };
  let timer;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(find, 250);
  });
  anchor.before(picker);
  recommend();
  find();
  search.focus();
}

/// A coupon card as the chat history shows it.
export function couponCardNode(card) {
  const zh = currentLang() === "zh";
  return el(
    "div",
    { class: "coupon-card", testid: "coupon-card", "data-coupon-id": card.coupon_id },
    el("b", { class: "coupon-amount" }, price(card.discount_cents)),
    el(
      "div",
      {},
      el("strong", {}, card.title),
      el("div", { class: "hint" }, zh ? card.rule_zh : card.rule_en),
      el("div", { class: "hint" }, t("coupon_until", new Date(card.valid_until).toLocaleDateString())),
    ),
  );
}

/// Opens (or closes) the coupon picker above the reply box of `chat`: the
/// shop's coupons, each sent as a card in one click (none left or expired:
/// shown, not sendable).
export async function toggleCouponPicker(chat, anchor) {
  const open = anchor.parentNode.querySelector("[data-testid=coupon-picker]");
  if (open) return open.remove();
  const list = el("ul", { class: "product-results", testid: "coupon-list" });
  const picker = el(
    "div",
    { class: "product-picker", testid: "coupon-picker" },
    el("div", { class: "row" }, el("h4", {}, t("coupon_card")), el("button", { type: "button", class: "link", onclick: () => picker.remove() }, t("close_picker"))),
    list,
  );
  anchor.before(picker);
  let coupons;
  try {
    coupons = await get("/api/v1/staff/coupons");
  } catch (error) {
    list.replaceChildren(el("li", { class: "hint" }, errorText(error)));
    return;
  }
  const zh = currentLang() === "zh";
  const row = (c) => {
    const button = el("button", { type: "button", testid: `coupon-send-${c.id}`, disabled: !c.offerable }, t("coupon_send"));
    button.onclick = async () => {
      button.disabled = true;
      try {
        await post(`${chat.base}/coupon-cards`, { coupon_id: c.id, client_msg_id: `coupon-${crypto.randomUUID()}` });
        chat.app.toast(t("coupon_sent"));
        picker.remove();
      } catch (error) {
        chat.app.toast(errorText(error));
        button.disabled = false;
      }
    };
    return el(
      "li",
      { testid: "coupon-option" },
      el(
        "div",
        {},
        el("strong", {}, `${c.title} · ${zh ? c.rule_zh : c.rule_en}`),
        el("div", { class: "hint" }, c.offerable ? `${t("coupon_left", c.remaining)} · ${t("coupon_until", new Date(c.valid_until).toLocaleDateString())}` : t("coupon_not_offerable")),
      ),
      button,
    );
  };
  list.replaceChildren(...(coupons.length ? coupons.map(row) : [el("li", { class: "hint" }, t("coupon_none"))]));
}
