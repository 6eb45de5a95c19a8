// The shop page's presence: a hidden frame (served by Xiaoer, so its calls are
// same-origin) that the embed script (widget.js) tells which page the buyer is
// on, their cart and identity. It sends a heartbeat every few seconds, so
// agents see the visitor on their list, and hands invitations (from an agent
// or a rule) back to the page, which shows them.
// The browser id (returning visitors) is kept in localStorage; the visit key in
// sessionStorage (one visit per tab), where the chat frame finds it to accept.

const BROWSER_KEY = "xiaoer.browser";
export const VISIT_KEY = "xiaoer.visit";

function browserId() {
  let id = localStorage.getItem(BROWSER_KEY);
  if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
    id = `b_${crypto.randomUUID().replaceAll("-", "")}`;
    localStorage.setItem(BROWSER_KEY, id);
  }
  return id;
}

/// Cart lines the server accepts; anything else the shop sends is left out.
function cartLine(c) {
  if (!c || typeof c.sku !== "string" || typeof c.name !== "string") return null;
  const quantity = Number(c.quantity);
  const price = Number(c.unit_price_cents);
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > 9999 || !Number.isInteger(price) || price < 0) return null;
  const sku = c.sku.trim().slice(0, 128);
  const name = c.name.trim().slice(0, 256);
  return sku && name ? { sku, name, quantity, unit_price_cents: price } : null;
}

let page = null; // { url, title, referrer, cart, identity } from the embedding page
let timer = null;
let everyMs = 5000;

let inFlight = false; // one heartbeat at a time: the first one brings the visit key
let again = false;

async function beat() {
  clearTimeout(timer);
  if (!page) return;
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  try {
    await send();
  } finally {
    inFlight = false;
  }
  if (again) {
    again = false;
    beat();
  } else {
    timer = setTimeout(beat, everyMs);
  }
}

async function send() {
  const body = {
    visit_key: sessionStorage.getItem(VISIT_KEY),
    browser_id: browserId(),
    url: page.url,
    title: page.title || null,
    referrer: page.referrer || null,
    cart: page.cart,
    identity: page.identity,
  };
  try {
    const res = await fetch("/api/v1/presence", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.ok) {
      const reply = await res.json();
      if (reply.visit_key) sessionStorage.setItem(VISIT_KEY, reply.visit_key);
      everyMs = Math.max(1000, Number(reply.next_in_ms) || 5000);
      if (reply.invitation) parent.postMessage({ type: "xiaoer:invitation", invitation: reply.invitation }, "*");
    } else if (res.status === 429) {
      // Too many heartbeats: wait as long as the server asks before the next.
      everyMs = Math.max(everyMs, (Number(res.headers.get("Retry-After")) || 5) * 1000);
    } else if (res.status === 400 && body.visit_key) {
      sessionStorage.removeItem(VISIT_KEY);
    }
  } catch {
    /* offline: try again at the next beat */
  }
}

async function decline(id) {
  const key = sessionStorage.getItem(VISIT_KEY);
  if (!key) return;
  await fetch(`/api/v1/presence/invitations/${encodeURIComponent(id)}/decline`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ visit_key: key }),
  }).catch(() => {});
}

window.addEventListener("message", (e) => {
  if (e.source !== parent || !e.data) return;
  if (e.data.type === "xiaoer:page" && typeof e.data.url === "string") {
    const first = page === null;
    page = {
      url: e.data.url.slice(0, 2048),
      title: typeof e.data.title === "string" ? e.data.title.slice(0, 256) : null,
      referrer: typeof e.data.referrer === "string" ? e.data.referrer.slice(0, 2048) : null,
      cart: Array.isArray(e.data.cart) ? e.data.cart.map(cartLine).filter(Boolean).slice(0, 200) : undefined,
      identity: e.data.identity || null,
    };
    if (first || e.data.now) beat();
  } else if (e.data.type === "xiaoer:decline" && typeof e.data.id === "string") {
    decline(e.data.id);
  }
});
parent.postMessage({ type: "xiaoer:presence-ready" }, "*");
