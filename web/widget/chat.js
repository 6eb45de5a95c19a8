// The buyer's chat window: renders committed events once each (by sequence
// number), streaming bot answers, queue position, and the compose box.

import { STRINGS, applyStrings, pickLang } from "./i18n.js";
import { Session } from "./session.js";
import { showTickets } from "./tickets.js";
import { offerCsat } from "./csat.js";
import { solveChallenge } from "./challenge.js";

const params = new URLSearchParams(location.search);
let lang = pickLang(params.get("lang"));
let words = STRINGS[lang];
document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
const page = params.get("page") || document.referrer || "";
/// The shop page the chat opens on, without its query (the welcome message
/// may be chosen by its path); none when it is not a web page.
function entryPage(url) {
  try {
    const parsed = new URL(url);
    return /^https?:$/.test(parsed.protocol) ? `${parsed.origin}${parsed.pathname}`.slice(0, 2048) : null;
  } catch {
    return null;
  }
}
/// The campaign the buyer arrived from: the embed's `data-campaign`, else the
/// shop page's `utm_campaign` (a campaign welcome rule matches it); only a code
/// such a rule can name, so a stray parameter never stops the chat.
function campaignOf(url) {
  let code = params.get("campaign");
  if (!code) {
    try {
      code = new URL(url).searchParams.get("utm_campaign");
    } catch {
      code = null;
    }
  }
  return code && /^[A-Za-z0-9_-]{1,64}$/.test(code) ? code : null;
}
const $ = (sel) => document.querySelector(sel);
const log = $("[data-testid=log]");
const input = $("[data-testid=input]");
const EMOJI = "😀😂😊😍🤔😅😢😭😡👍👎🙏👌🎉❤️🌹🔥💯📦🚚💰🧾❓✅".match(/\p{Extended_Pictographic}\uFE0F?/gu);

const shown = new Set(); // sequence numbers already on screen
const streams = new Map(); // stream_id -> bubble being streamed
let state = "bot";

const session = new Session({
  frame: onFrame,
  status: (s) => {
    $("[data-testid=connection]").textContent = words[s];
    $("[data-testid=connection]").dataset.state = s;
  },
  reset: () => {
    shown.clear();
    log.replaceChildren();
  },
  challenge: () => solveChallenge(log, words, lang),
}, entryPage(page), campaignOf(page));

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function scrollDown() {
  log.scrollTop = log.scrollHeight;
}

function who(sender) {
  return { buyer: "you", agent: "agent", bot: "bot" }[sender.kind] || "system";
}

function bubble(kind, clientMsgId) {
  const item = el("li", `msg ${kind}`);
  if (kind !== "system") item.appendChild(el("span", "who", words[kind === "you" ? "you" : kind]));
  if (clientMsgId) item.dataset.clientMsgId = clientMsgId;
  item.dataset.testid = `msg-${kind}`;
  return item;
}

function imageUrl(attachmentId) {
  return `${session.conversationPath(`/attachments/${attachmentId}`)}?access_token=${encodeURIComponent(session.token)}`;
}

function bodyNode(body, seq) {
  const box = el("div", "body");
  switch (body.type) {
    case "text":
    case "system":
      box.textContent = body.text;
      break;
    case "image": {
      const img = el("img");
      img.src = imageUrl(body.attachment_id);
      img.alt = body.caption || "image";
      img.loading = "lazy";
      box.appendChild(img);
      break;
    }
    case "file": {
      const a = el("a", null, `📎 ${body.name}`);
      a.href = imageUrl(body.attachment_id);
      box.appendChild(a);
      break;
    }
    case "bot_answer": {
      box.textContent = body.text;
      const cited = body.citations || [];
      box.appendChild(citations(cited));
      // Only an answer from the knowledge base can be rated: greetings and the
      // bot's own questions have nothing for a knowledge manager to mend.
      if (cited.length && seq !== undefined) box.appendChild(rating(seq));
      if (body.buttons?.length) box.appendChild(quickButtons(body.buttons));
      break;
    }
    case "product_card":
      box.appendChild(productCard(body.card));
      break;
    case "order_card":
      box.appendChild(orderCard(body.card));
      break;
    case "voice":
      box.appendChild(voicePlayer(body));
      break;
    case "coupon_card":
      box.appendChild(couponCard(body.card, seq));
      break;
    default:
      box.textContent = body.text || "";
  }
  return box;
}

/// A product card: picture, title, price, stock, a link to its page, and
/// "加入购物车", which the shop page receives through widget.js (Xiaoer.onAddToCart).
function productCard(card) {
  const box = el("div", "card");
  box.dataset.testid = "product-card";
  box.dataset.sku = card.sku;
  const img = el("img");
  img.src = card.image_url;
  img.alt = card.title;
  img.loading = "lazy";
  const info = el("div", "card-info");
  info.appendChild(el("strong", "card-title", card.title));
  const price = el("span", "card-price", `¥${(card.price_cents / 100).toFixed(2)}`);
  price.dataset.testid = "product-card-price";
  info.appendChild(price);
  info.appendChild(el("span", "card-stock", card.stock > 0 ? words.in_stock(card.stock) : words.sold_out));
  const link = el("a", "card-link", words.view_product);
  link.href = card.link;
  link.target = "_top";
  const add = el("button", "card-add", words.add_to_cart);
  add.type = "button";
  add.dataset.testid = "product-card-add";
  add.disabled = card.stock <= 0;
  add.onclick = () => {
    parent.postMessage({ type: "xiaoer:add-to-cart", item: { sku: card.sku, title: card.title, price_cents: card.price_cents } }, "*");
    add.textContent = words.added;
  };
  const actions = el("div", "card-actions");
  actions.append(link, add);
  info.appendChild(actions);
  box.append(img, info);
  return box;
}

/// A voice message: the browser's own player and how long it lasts.
function voicePlayer(body) {
  const box = el("div", "voice");
  box.dataset.testid = "voice-message";
  const audio = el("audio");
  audio.controls = true;
  audio.preload = "metadata";
  audio.src = imageUrl(body.attachment_id);
  box.append(audio, el("span", "voice-length", `${Math.ceil(body.duration_ms / 1000)}″`));
  return box;
}

/// An order card: number, status, items, total and the newest tracking step,
/// as the shop's data had it when the card was sent.
function orderCard(card) {
  const money = (cents) => `¥${(cents / 100).toFixed(2)}`;
  const box = el("div", "order");
  box.dataset.testid = "order-card";
  box.dataset.orderNo = card.order_no;
  const head = el("div", "order-head");
  head.append(el("strong", "order-no", `${words.order_no} ${card.order_no}`));
  const status = el("span", "order-status", words.order_status_of(card));
  status.dataset.testid = "order-card-status";
  head.appendChild(status);
  const lines = el("ul", "order-lines");
  for (const line of card.lines) {
    const li = el("li", null, `${line.name} × ${line.quantity}`);
    li.appendChild(el("span", null, money(line.unit_price_cents * line.quantity)));
    lines.appendChild(li);
  }
  const count = card.lines.reduce((n, l) => n + l.quantity, 0);
  const foot = el("div", "order-foot");
  foot.append(
    el("span", "card-stock", words.order_placed(new Date(card.placed_at).toLocaleDateString())),
    el("strong", null, `${words.order_items(count)} ${words.order_total} ${money(card.total_cents)}`),
  );
  box.append(head, lines, foot);
  if (card.latest_tracking) {
    const step = card.latest_tracking;
    const tracking = el("p", "order-tracking", `${card.carrier} ${card.tracking_no}：${step.description}（${step.location}）`);
    tracking.dataset.testid = "order-card-tracking";
    box.appendChild(tracking);
  }
  return box;
}

/// A coupon the agent offered: amount, rule, validity and 领取 (claim). The
/// shop decides the claim; the answer is shown on the card in words.
function couponCard(card, seq) {
  const box = el("div", "coupon");
  box.dataset.testid = "coupon-card";
  box.dataset.couponId = card.coupon_id;
  const amount = el("strong", "coupon-amount", `¥${card.discount_cents % 100 ? (card.discount_cents / 100).toFixed(2) : card.discount_cents / 100}`);
  const info = el("div", "coupon-info");
  info.append(
    el("strong", "coupon-title", card.title),
    el("span", "coupon-rule", lang === "zh" ? card.rule_zh : card.rule_en),
    el("span", "coupon-until", words.coupon_until(new Date(card.valid_until).toLocaleDateString())),
  );
  const claim = el("button", "coupon-claim", words.coupon_claim);
  claim.type = "button";
  claim.dataset.testid = "coupon-claim";
  const note = el("span", "coupon-note");
  note.dataset.testid = "coupon-note";
  note.setAttribute("role", "status");
  claim.disabled = seq === undefined;
  claim.onclick = async () => {
    claim.disabled = true;
    try {
      await session.api("POST", session.conversationPath("/coupon-claims"), { seq, lang });
      claim.textContent = words.coupon_claimed;
      note.textContent = "";
    } catch (e) {
      const known = { coupon_sold_out: words.coupon_sold_out, coupon_expired: words.coupon_expired, buyer_not_signed_in: words.coupon_sign_in };
      note.textContent = known[e.code] || words.coupon_failed;
      claim.disabled = e.code === "coupon_sold_out" || e.code === "coupon_expired";
    }
  };
  const side = el("div", "coupon-side");
  side.append(claim, note);
  box.append(amount, info, side);
  if (seq !== undefined) markHeldCoupons();
  return box;
}

/// Shows the cards of coupons the buyer already holds as claimed (a reload
/// brings the cards back from the history): one request for all the cards
/// rendered in one go. If it fails the buttons stay, and a claim answers
/// "already claimed".
let heldCheck = null;
function markHeldCoupons() {
  if (heldCheck) return;
  heldCheck = Promise.resolve().then(async () => {
    try {
      const held = await session.api("GET", session.conversationPath("/coupon-claims"));
      for (const box of document.querySelectorAll("[data-testid=coupon-card]")) {
        if (!held.coupon_ids.includes(box.dataset.couponId)) continue;
        const button = box.querySelector("[data-testid=coupon-claim]");
        button.textContent = words.coupon_claimed;
        button.disabled = true;
      }
    } catch (_) {
      // The cards keep their buttons.
    } finally {
      heldCheck = null;
    }
  });
}

/// The bot menu's quick-reply buttons: a tap sends the button's text as the
/// buyer's own message (the bot then answers it like typed text).
function quickButtons(buttons) {
  const box = el("div", "quick");
  box.dataset.testid = "quick-buttons";
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", words.quick_menu);
  for (const text of buttons) {
    const b = el("button", "quick-button", text);
    b.type = "button";
    b.dataset.testid = "quick-button";
    b.onclick = () => sendBody({ type: "text", text });
    box.appendChild(b);
  }
  return box;
}

function citations(list) {
  const box = el("div", "cites");
  if (!list.length) return box;
  box.appendChild(el("span", null, words.sources));
  for (const c of list) box.appendChild(el("span", "cite", c.title));
  return box;
}

function ratingPath() {
  return `/api/v1/buyer/conversations/${encodeURIComponent(session.conversationId)}/ratings`;
}

function rating(seq) {
  const box = el("div", "rate");
  for (const [helpful, label, icon] of [[true, words.helpful, "👍"], [false, words.unhelpful, "👎"]]) {
    const b = el("button", null, icon);
    b.type = "button";
    b.title = label;
    b.setAttribute("aria-label", label);
    b.dataset.testid = helpful ? "rate-up" : "rate-down";
    b.onclick = async () => {
      for (const other of box.querySelectorAll("button")) other.disabled = true;
      box.querySelector(".rate-error")?.remove();
      try {
        await session.api("POST", ratingPath(), { seq, helpful });
        const thanks = el("span", "thanks", words.thanks);
        thanks.dataset.testid = "rate-thanks";
        box.replaceChildren(thanks);
      } catch {
        for (const other of box.querySelectorAll("button")) other.disabled = false;
        const error = el("span", "rate-error", words.rate_failed);
        error.dataset.testid = "rate-error";
        error.setAttribute("role", "alert");
        box.appendChild(error);
      }
    };
    box.appendChild(b);
  }
  return box;
}

function stateLine(event) {
  const key = { waiting: "waiting", bot: "back_to_bot", resolved: "resolved", closed: "closed" }[event.to];
  if (event.to === "with_agent") return event.from === "with_agent" ? words.transferred : words.agent_joined;
  return words[key] || event.to;
}

function renderEvent(event) {
  if (shown.has(event.seq)) return;
  shown.add(event.seq);
  let item;
  if (event.kind === "state_changed") {
    state = event.to;
    item = bubble("system");
    item.appendChild(el("div", "body", stateLine(event)));
    updateControls();
    if (event.to === "resolved") offerCsat(session, log, lang);
  } else if (event.kind === "message") {
    if (event.body.stream_id && streams.has(event.body.stream_id)) {
      streams.get(event.body.stream_id).remove();
      streams.delete(event.body.stream_id);
    }
    const pending = event.client_msg_id && log.querySelector(`[data-client-msg-id="${event.client_msg_id}"]`);
    item = bubble(who(event.sender));
    item.appendChild(bodyNode(event.body, event.seq));
    if (pending) pending.replaceWith(item);
  } else {
    return;
  }
  item.dataset.seq = event.seq;
  if (!item.isConnected) log.appendChild(item);
  scrollDown();
}

// "The bot is looking / the agent is typing" while frames keep coming; gone
// when that party's message or streamed words arrive, or after 4 s of silence.
let typingTimer = null;
function showTyping(from) {
  const box = $("[data-testid=typing]");
  clearTimeout(typingTimer);
  if (!from) {
    box.hidden = true;
    return;
  }
  box.textContent = from === "bot" ? words.typing_bot : words.typing_agent;
  box.dataset.from = from;
  box.hidden = false;
  typingTimer = setTimeout(() => (box.hidden = true), 4000);
}

function onFrame(frame) {
  switch (frame.type) {
    case "event":
      if (frame.event.kind === "message" && frame.event.sender && frame.event.sender.kind !== "buyer") showTyping(null);
      renderEvent(frame.event);
      break;
    case "typing":
      if (frame.from === "bot" || frame.from === "agent") showTyping(frame.from);
      break;
    case "stream": {
      showTyping(null);
      let item = streams.get(frame.stream_id);
      if (!item) {
        item = bubble("bot");
        item.classList.add("streaming");
        item.appendChild(el("div", "body", ""));
        streams.set(frame.stream_id, item);
        log.appendChild(item);
      }
      item.querySelector(".body").textContent += frame.delta;
      scrollDown();
      break;
    }
    case "queue":
      showQueue(frame.queue);
      break;
    case "error":
      if (frame.code === "visitor_blocked") notice(words.blocked);
      else if (frame.code === "visitor_muted") notice(words.muted);
      else if (frame.client_msg_id) markFailed(frame.client_msg_id, failedWords(frame.code) || words.failed);
      break;
    case "ready":
      if (state === "waiting") refreshQueue();
      break;
  }
}

function showQueue(queue) {
  const box = $("[data-testid=queue]");
  box.hidden = !queue || state !== "waiting";
  if (!queue) return;
  box.dataset.online = String(queue.agents_online);
  if (!queue.agents_online || queue.expected_wait_ms === null) {
    // Nobody to wait for: no place or wait to promise, just what happens next.
    box.textContent = words.nobody_online;
    delete box.dataset.position;
    return;
  }
  const minutes = Math.max(1, Math.round(queue.expected_wait_ms / 60000));
  box.textContent = queue.position <= 1 ? words.queue_next : words.queue(queue.position, minutes);
  box.dataset.position = queue.position;
}

async function refreshQueue() {
  try {
    showQueue((await session.api("GET", session.conversationPath("/queue"))).queue);
  } catch {
    /* the banner is a nicety */
  }
}

function updateControls() {
  $("[data-testid=handoff]").hidden = state !== "bot";
  if (state !== "waiting") $("[data-testid=queue]").hidden = true;
}

function markFailed(clientMsgId, why) {
  const item = log.querySelector(`[data-client-msg-id="${clientMsgId}"]`);
  if (!item) return;
  item.classList.add("failed");
  item.title = why;
  item.querySelector(".state").textContent = why;
}

function notice(text) {
  log.appendChild(Object.assign(bubble("system"), { textContent: text }));
  scrollDown();
}

function showPending(clientMsgId, body) {
  const item = bubble("you", clientMsgId);
  item.classList.add("pending");
  if (body.type === "text") item.appendChild(el("div", "body", body.text));
  else item.appendChild(bodyNode(body));
  const status = el("span", "state", words.sending);
  item.appendChild(status);
  item.onclick = () => item.classList.contains("failed") && session.retry(clientMsgId);
  log.appendChild(item);
  scrollDown();
}

function sendBody(body) {
  showPending(session.send(body), body);
}

$("[data-testid=compose]").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  sendBody({ type: "text", text });
});

input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("[data-testid=compose]").requestSubmit();
  } else {
    session.typing();
  }
});

$("[data-testid=handoff]").addEventListener("click", async () => {
  $("[data-testid=handoff]").disabled = true;
  try {
    await session.api("POST", session.conversationPath("/handoff"), { entry_page: page || null });
    refreshQueue();
  } finally {
    $("[data-testid=handoff]").disabled = false;
  }
});

$("[data-testid=image-input]").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (!file) return;
  try {
    const stored = await session.api("POST", session.conversationPath("/attachments"), file, file.type);
    sendBody({ type: "image", attachment_id: stored.attachment_id, caption: null });
  } catch (error) {
    notice(error.status === 429 ? words.too_fast_image : words.image_failed);
  }
});

// Voice messages: 🎤 records from the microphone (the browser asks the buyer
// first), 发送 uploads the recording and sends it with its length, 取消 drops it.
// At most a minute; where the browser cannot record, the button stays hidden.
const MAX_VOICE_MS = 60000;
const recorderType = () =>
  ["audio/webm;codecs=opus", "audio/webm", "audio/mp4", "audio/ogg;codecs=opus"].find((t) => window.MediaRecorder?.isTypeSupported(t));
const voice = { recorder: null, started: 0, timer: null, send: false };
$("[data-testid=voice]").hidden = !(navigator.mediaDevices?.getUserMedia && recorderType());

async function startRecording() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch {
    notice(words.voice_denied);
    return;
  }
  const chunks = [];
  const recorder = new MediaRecorder(stream, { mimeType: recorderType() });
  recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    clearInterval(voice.timer);
    $("[data-testid=recording]").hidden = true;
    const duration = Math.min(MAX_VOICE_MS, Math.max(1, Math.round(performance.now() - voice.started)));
    voice.recorder = null;
    if (!voice.send || !chunks.length) return;
    const blob = new Blob(chunks, { type: recorder.mimeType.split(";")[0] });
    try {
      const stored = await session.api("POST", session.conversationPath("/attachments"), blob, blob.type);
      sendBody({ type: "voice", attachment_id: stored.attachment_id, duration_ms: duration });
    } catch (error) {
      notice(error.status === 429 ? words.too_fast_image : words.voice_failed);
    }
  };
  voice.recorder = recorder;
  voice.started = performance.now();
  voice.send = false;
  recorder.start();
  $("[data-testid=recording]").hidden = false;
  $("[data-testid=recording-time]").textContent = "0″";
  voice.timer = setInterval(() => {
    const ms = performance.now() - voice.started;
    $("[data-testid=recording-time]").textContent = `${Math.floor(ms / 1000)}″`;
    if (ms >= MAX_VOICE_MS) stopRecording(true);
  }, 250);
}

function stopRecording(send) {
  if (!voice.recorder || voice.recorder.state === "inactive") return;
  voice.send = send;
  voice.recorder.stop();
}

$("[data-testid=voice]").onclick = () => (voice.recorder ? stopRecording(true) : startRecording());
$("[data-testid=voice-send]").onclick = () => stopRecording(true);
$("[data-testid=voice-cancel]").onclick = () => stopRecording(false);

const panel = $("[data-testid=emoji-panel]");
for (const emoji of EMOJI) {
  const b = el("button", null, emoji);
  b.type = "button";
  b.onclick = () => {
    input.setRangeText(emoji, input.selectionStart, input.selectionEnd, "end");
    input.focus();
  };
  panel.appendChild(b);
}
$("[data-testid=emoji]").onclick = () => (panel.hidden = !panel.hidden);
$("[data-testid=close]").onclick = () => parent.postMessage({ type: "xiaoer:close" }, "*");
$("[data-testid=my-tickets-toggle]").onclick = () => {
  const panel = $("[data-testid=tickets-panel]");
  if (!panel.hidden) panel.hidden = true;
  else showTickets(session, panel, lang);
};
$("[data-testid=lang-toggle]").onclick = () => {
  lang = lang === "zh" ? "en" : "zh";
  render();
};

function render() {
  words = STRINGS[lang];
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  applyStrings(document, words);
  $("[data-testid=lang-toggle]").textContent = words.lang;
}

let reported = false; // the first report (after the session opened) was sent
let cart = []; // what the shop page says is in the buyer's cart (Xiaoer.setCart)

// Items the server accepts; anything else the shop sends is left out.
function cartItem(c) {
  if (!c || typeof c.sku !== "string" || typeof c.name !== "string") return null;
  const quantity = Number(c.quantity);
  const price = Number(c.unit_price_cents);
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > 9999) return null;
  if (!Number.isInteger(price) || price < 0) return null;
  const sku = c.sku.trim().slice(0, 128);
  const name = c.name.trim().slice(0, 256);
  return sku && name ? { sku, name, quantity, unit_price_cents: price } : null;
}

window.addEventListener("message", (e) => {
  if (e.source !== parent || !e.data || e.data.type !== "xiaoer:cart" || !Array.isArray(e.data.items)) return;
  cart = e.data.items.map(cartItem).filter(Boolean).slice(0, 200);
  if (reported) reportContext();
});

async function reportContext() {
  let pages = session.saved.pages || [];
  if (page && !reported) {
    const entry = { url: page.slice(0, 2048), title: (params.get("title") || "").slice(0, 256) || null, at: Date.now() };
    // The last pages this buyer opened the chat from, so the agent sees the path.
    pages = [...pages, entry].slice(-20);
    session.saved.pages = pages;
    session.save();
  }
  reported = true;
  const current = pages.length ? pages[pages.length - 1].url : null;
  await session
    .api("PUT", "/api/v1/visitor/context", { current_page: current, pages_viewed: pages, cart })
    .catch(() => {});
}

/// A blocked visitor or network: said kindly, never as a raw code.
const BLOCK_CODES = ["visitor_blocked", "ip_blocked"];
/// Why one message was not sent, in the buyer's words.
const failedWords = (code) => ({ rate_limited: words.too_fast, banned_words: words.banned })[code];

async function boot() {
  render();
  let conversation;
  try {
    conversation = await session.open();
  } catch (error) {
    if (error.status === 403 && BLOCK_CODES.includes(error.code)) return notice(words.blocked);
    if (error.status !== 429) throw error;
    notice(words.too_many_chats(error.retryAfter));
    setTimeout(boot, error.retryAfter * 1000);
    return;
  }
  state = conversation.state;
  updateControls();
  for (const [id, body] of session.outbox) showPending(id, body);
  reportContext();
  session.connect();
}

boot();
