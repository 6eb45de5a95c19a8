// "My tickets": the buyer's tickets with the status text staff chose for them
// and the public replies (internal comments and states never reach here).

const WORDS = {
  zh: { my_tickets: "我的工单", no_tickets: "暂无工单", replies: "客服回复", you: "我", back_to_chat: "返回聊天" },
  en: { my_tickets: "My tickets", no_tickets: "No tickets yet", replies: "Replies", you: "Me", back_to_chat: "Back to chat" },
};

export function ticketWords(lang) {
  return WORDS[lang];
}

function node(tag, className, text, testid) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text !== undefined) n.textContent = text;
  if (testid) n.dataset.testid = testid;
  return n;
}

/// Fills `panel` with the buyer's tickets, in `lang`.
export async function showTickets(session, panel, lang) {
  const words = WORDS[lang];
  const tickets = await session.api("GET", `/api/v1/buyer/tickets?lang=${lang}`).catch(() => []);
  const list = node("ul", "tickets", undefined, "my-tickets");
  for (const k of tickets) {
    const item = node("li", k.done ? "ticket done" : "ticket", undefined, `my-ticket-${k.number}`);
    const head = node("div", "ticket-head");
    head.append(node("strong", null, k.number, "my-ticket-number"), " ", node("span", "ticket-status", k.status_text, "my-ticket-status"));
    item.append(head, node("div", "ticket-title", k.title));
    for (const r of k.replies) {
      item.append(node("div", r.from_staff ? "ticket-reply staff" : "ticket-reply", `${r.from_staff ? words.replies : words.you}: ${r.body}`, "my-ticket-reply"));
    }
    list.append(item);
  }
  const back = node("button", "link", words.back_to_chat, "tickets-back");
  back.type = "button";
  back.onclick = () => (panel.hidden = true);
  panel.replaceChildren(back, tickets.length ? list : node("p", "hint", words.no_tickets, "my-tickets-empty"));
  panel.hidden = false;
}
