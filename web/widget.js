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
// Xiaoer.identify(null) when the buyer signs out.
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
  const query = new URLSearchParams({ lang: zh ? "zh" : "en", page: location.href, title: document.title });
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
  window.Xiaoer = Object.freeze({
    setCart(items) {
      cart = Array.isArray(items) ? items.slice(0, 200) : [];
      sendCart();
    },
    identify(id) {
      identity = signed(id);
      sendIdentity();
    },
    open: () => toggle(true),
  });

  button.addEventListener("click", () => toggle(!frame.classList.contains("xiaoer-open")));
  window.addEventListener("message", (e) => {
    if (e.origin === origin && e.data && e.data.type === "xiaoer:close") toggle(false);
  });
  document.body.appendChild(frame);
  document.body.appendChild(button);
  if (script.dataset.open === "true") toggle(true);
})();
