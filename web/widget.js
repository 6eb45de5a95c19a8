// Xiaoer (店小二) chat widget loader. Embed on any shop page with one tag:
//   <script src="https://YOUR-XIAOER-HOST/widget.js" data-lang="zh" async></script>
// It adds a chat button; the chat itself runs in an iframe served by Xiaoer, so
// the shop's styles and scripts never touch it (and it never touches them).
// The shop may tell the chat what is in the buyer's cart, so the agent sees it:
//   Xiaoer.setCart([{ sku: "TS-001-M", name: "纯棉T恤 M", quantity: 1, unit_price_cents: 7900 }])
// A signed-in buyer is vouched for by the shop's server with a signed identity
// (see the README, "Signed buyer identity"); without one the buyer is anonymous:
//   Xiaoer.identify({ account_id: "tb_123", expires_at: 1767225600, signature: "9f86d0…" })
// or the same as data-account-id, data-expires-at and data-signature on this tag.
// Xiaoer.identify(null) when the buyer signs out. data-campaign="double11" names
// the campaign the page belongs to (else the page's utm_campaign): its welcome
// message greets the buyer.
// While the buyer browses, a hidden frame tells Xiaoer which page they are on
// (agents see who is on the shop now) and brings invitations to chat, shown
// here. A product card's "加入购物车" in the chat reaches the shop through
//   Xiaoer.onAddToCart(({ sku, title, price_cents }) => { ...add it to the cart... })
(() => {
  const script = document.currentScript;
  if (!script || window.__xiaoerWidget) return;
  window.__xiaoerWidget = true;
  const origin = new URL(script.src, location.href).origin;
  const lang = script.dataset.lang || (navigator.language || "zh").slice(0, 2);
  const zh = lang === "zh";

  // A stylesheet rather than an inline <style>: a shop's CSP then needs only
  // this host in style-src, never 'unsafe-inline'.
  const style = document.createElement("link");
  style.rel = "stylesheet";
  style.href = `${origin}/widget/launcher.css`;
  document.head.appendChild(style);

  const frame = document.createElement("iframe");
  frame.className = "xiaoer-frame";
  frame.title = zh ? "在线客服" : "Customer service chat";
  frame.dataset.testid = "xiaoer-frame";
  // The chat may ask for the microphone (voice messages); the browser still asks the buyer.
  frame.allow = "microphone";
  const query = new URLSearchParams({ lang: zh ? "zh" : "en", page: location.href, title: document.title });
  // A campaign named on the embed (data-campaign="double11") chooses its welcome
  // message; without it the page's utm_campaign does.
  if (script.dataset.campaign) query.set("campaign", script.dataset.campaign);
  let loaded = false;

  const button = document.createElement("button");
  button.type = "button";
  button.className = "xiaoer-launcher";
  button.dataset.testid = "xiaoer-launcher";
  button.textContent = zh ? "💬 联系客服" : "💬 Chat with us";
  button.setAttribute("aria-expanded", "false");

  function toggle(open) {
    if (open && !loaded) {
      frame.src = `${origin}/widget/?${query}`;
      loaded = true;
    }
    frame.classList.toggle("xiaoer-open", open);
    button.setAttribute("aria-expanded", String(open));
  }
  // Who the shop says the buyer is; handed to the chat when it is (re)loaded.
  function signed(id) {
    if (!id || !id.account_id || !id.signature) return null;
    return { account_id: String(id.account_id), expires_at: Number(id.expires_at), signature: String(id.signature) };
  }
  let identity = signed({
    account_id: script.dataset.accountId,
    expires_at: script.dataset.expiresAt,
    signature: script.dataset.signature,
  });
  function sendIdentity() {
    if (loaded && frame.contentWindow) {
      frame.contentWindow.postMessage({ type: "xiaoer:identity", identity }, origin);
    }
  }
  frame.addEventListener("load", sendIdentity);
  // The latest cart the shop reported; handed to the chat when it is (re)loaded.
  let cart = null;
  function sendCart() {
    if (loaded && cart && frame.contentWindow) {
      frame.contentWindow.postMessage({ type: "xiaoer:cart", items: cart }, origin);
    }
  }
  frame.addEventListener("load", sendCart);
  // Presence: the page, cart and identity go to the hidden presence frame.
  const presence = document.createElement("iframe");
  presence.className = "xiaoer-presence";
  presence.title = "presence";
  presence.setAttribute("aria-hidden", "true");
  presence.tabIndex = -1;
  presence.src = `${origin}/widget/presence.html`;
  function sendPage(now) {
    if (!presence.contentWindow) return;
    const page = { type: "xiaoer:page", url: location.href, title: document.title, referrer: document.referrer, cart, identity, now };
    presence.contentWindow.postMessage(page, origin);
  }
  let addToCart = null; // the shop's handler (Xiaoer.onAddToCart)

  // An invitation (from an agent or a rule): a bubble above the button.
  const words = zh
    ? { agent: (name) => `客服${name || ""}邀请您咨询`, bot: "小二邀请您咨询", accept: "立即咨询", later: "稍后再说" }
    : { agent: (name) => `${name || "An agent"} invites you to chat`, bot: "Xiaoer invites you to chat", accept: "Chat now", later: "Not now" };
  const invite = document.createElement("div");
  invite.className = "xiaoer-invite";
  invite.dataset.testid = "xiaoer-invitation";
  invite.setAttribute("role", "dialog");
  invite.hidden = true;
  function showInvitation(inv) {
    const head = document.createElement("strong");
    head.textContent = inv.from === "agent" ? words.agent(inv.agent_name) : words.bot;
    const text = document.createElement("p");
    text.textContent = inv.greeting;
    text.dataset.testid = "xiaoer-invitation-text";
    const yes = document.createElement("button");
    yes.type = "button";
    yes.textContent = words.accept;
    yes.dataset.testid = "xiaoer-invitation-accept";
    yes.onclick = () => {
      invite.hidden = true;
      frame.src = `${origin}/widget/?${query}&invite=${encodeURIComponent(inv.id)}`;
      loaded = true;
      toggle(true);
    };
    const no = document.createElement("button");
    no.type = "button";
    no.className = "later";
    no.textContent = words.later;
    no.dataset.testid = "xiaoer-invitation-later";
    no.onclick = () => {
      invite.hidden = true;
      presence.contentWindow?.postMessage({ type: "xiaoer:decline", id: inv.id }, origin);
    };
    const actions = document.createElement("div");
    actions.append(yes, no);
    invite.replaceChildren(head, text, actions);
    invite.hidden = false;
  }

  window.Xiaoer = Object.freeze({
    setCart(items) {
      cart = Array.isArray(items) ? items.slice(0, 200) : [];
      sendCart();
      sendPage(true);
    },
    identify(id) {
      identity = signed(id);
      sendIdentity();
      sendPage(true);
    },
    /// The shop adds a product to its cart when the buyer taps a card's "加入购物车".
    onAddToCart(handler) {
      addToCart = typeof handler === "function" ? handler : null;
    },
    open: () => toggle(true),
  });

  button.addEventListener("click", () => toggle(!frame.classList.contains("xiaoer-open")));
  window.addEventListener("message", (e) => {
    if (e.origin !== origin || !e.data) return;
    if (e.data.type === "xiaoer:close") toggle(false);
    else if (e.data.type === "xiaoer:presence-ready") sendPage(true);
    else if (e.data.type === "xiaoer:invitation" && e.source === presence.contentWindow) showInvitation(e.data.invitation);
    else if (e.data.type === "xiaoer:add-to-cart" && e.source === frame.contentWindow && e.data.item) {
      const { sku, title, price_cents } = e.data.item;
      if (typeof sku !== "string" || typeof title !== "string" || !Number.isInteger(price_cents)) return;
      if (addToCart) addToCart({ sku, title, price_cents });
      window.dispatchEvent(new CustomEvent("xiaoer:add-to-cart", { detail: { sku, title, price_cents } }));
    }
  });
  document.body.appendChild(presence);
  document.body.appendChild(invite);
  document.body.appendChild(frame);
  document.body.appendChild(button);
  if (script.dataset.open === "true") toggle(true);
})();
