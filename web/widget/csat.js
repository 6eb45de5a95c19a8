// After a resolve the widget asks once per conversation how it went: 1–5
// stars, optional tags and a comment. The server keeps one rating per
// conversation (409 csat_not_open after that), so a reload never asks again.

const WORDS = {
  zh: {
    ask: "本次服务您满意吗？", stars: (n) => `${n} 星`, comment: "还有什么想说的（可选）", submit: "提交评价",
    thanks: "感谢您的评价！", failed: "提交失败，请重试", tags: ["回复及时", "解决了问题", "态度好", "回复太慢", "没解决"],
  },
  en: {
    ask: "How did we do?", stars: (n) => `${n} star${n > 1 ? "s" : ""}`, comment: "Anything else? (optional)", submit: "Send rating",
    thanks: "Thank you for your rating!", failed: "Could not send; please try again", tags: ["Quick replies", "Problem solved", "Friendly", "Too slow", "Not solved"],
  },
};

let offered = false;

function node(tag, className, text, testid) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text !== undefined) n.textContent = text;
  if (testid) n.dataset.testid = testid;
  return n;
}

/// Appends the rating card to `log` when this conversation may still be rated.
export async function offerCsat(session, log, lang) {
  if (offered) return;
  offered = true;
  const state = await session.api("GET", session.conversationPath("/csat")).catch(() => null);
  if (!state || !state.can_rate) return;
  const words = WORDS[lang] || WORDS.zh;
  const card = node("li", "csat", undefined, "csat");
  let stars = 0;
  const chosen = new Set();
  const row = node("div", "csat-stars");
  const starButtons = [1, 2, 3, 4, 5].map((n) => {
    const b = node("button", "csat-star", "★", `csat-star-${n}`);
    b.type = "button";
    b.setAttribute("aria-label", words.stars(n));
    b.onclick = () => {
      stars = n;
      starButtons.forEach((s, i) => s.classList.toggle("on", i < n));
      send.disabled = false;
    };
    return b;
  });
  row.append(...starButtons);
  const tags = node("div", "csat-tags");
  for (const tag of words.tags) {
    const t = node("button", "csat-tag", tag, "csat-tag");
    t.type = "button";
    t.onclick = () => t.classList.toggle("on", chosen.has(tag) ? !chosen.delete(tag) : !!chosen.add(tag));
    tags.append(t);
  }
  const comment = node("textarea", "csat-comment", undefined, "csat-comment");
  comment.rows = 2;
  comment.maxLength = 500;
  comment.placeholder = words.comment;
  const send = node("button", "csat-send", words.submit, "csat-send");
  send.type = "button";
  send.disabled = true;
  send.onclick = async () => {
    send.disabled = true;
    try {
      await session.api("POST", session.conversationPath("/csat"), { stars, tags: [...chosen], comment: comment.value || null });
      card.replaceChildren(node("div", "csat-thanks", words.thanks, "csat-thanks"));
    } catch {
      send.disabled = false;
      card.append(node("div", "csat-error", words.failed, "csat-error"));
    }
  };
  card.append(node("div", "csat-ask", words.ask), row, tags, comment, send);
  log.appendChild(card);
  card.scrollIntoView({ block: "end" });
}
