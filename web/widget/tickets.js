// "My tickets": the buyer's tickets with the status text staff chose for them
// and the public replies (internal comments and states never reach here).

const WORDS = {
  zh: {
    my_tickets: "我的工单", no_tickets: "暂无工单", replies: "客服回复", you: "我", back_to_chat: "返回聊天",
    reply: "回复", reply_placeholder: "补充说明或回复客服", reply_failed: "发送失败，请稍后再试",
    ticket_closed: "这个工单已关闭，如有新问题请在聊天中联系我们",
    ticket_reply_window_closed: "这个工单已解决较久，无法再回复，如有新问题请在聊天中联系我们",
  },
  en: {
    my_tickets: "My tickets", no_tickets: "No tickets yet", replies: "Replies", you: "Me", back_to_chat: "Back to chat",
    reply: "Reply", reply_placeholder: "Add details or answer our team", reply_failed: "Could not send; please try again",
    ticket_closed: "This ticket is closed; for a new question, write to us in the chat",
    ticket_reply_window_closed: "This ticket was resolved a while ago and takes no more replies; for a new question, write to us in the chat",
  },
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
    item.append(replyForm(session, panel, lang, k));
    list.append(item);
  }
  const back = node("button", "link", words.back_to_chat, "tickets-back");
  back.type = "button";
  back.onclick = () => (panel.hidden = true);
  panel.replaceChildren(back, tickets.length ? list : node("p", "hint", words.no_tickets, "my-tickets-empty"));
  panel.hidden = false;
}

/// The buyer's reply on one ticket; a refusal is said in the buyer's words.
function replyForm(session, panel, lang, ticket) {
  const words = WORDS[lang];
  const form = node("form", "ticket-reply-form", undefined, `my-ticket-reply-form-${ticket.number}`);
  const input = node("textarea", null, undefined, "my-ticket-reply-input");
  input.rows = 2;
  input.maxLength = 2000;
  input.placeholder = words.reply_placeholder;
  const send = node("button", null, words.reply, "my-ticket-reply-send");
  send.type = "submit";
  const error = node("p", "ticket-error", undefined, "my-ticket-reply-error");
  error.setAttribute("role", "alert");
  form.append(input, send, error);
  form.onsubmit = async (e) => {
    e.preventDefault();
    if (!input.value.trim()) return;
    send.disabled = true;
    try {
      await session.api("POST", `/api/v1/buyer/tickets/${encodeURIComponent(ticket.id)}/replies`, { body: input.value });
      await showTickets(session, panel, lang);
    } catch (err) {
      error.textContent = words[err.code] || words.reply_failed;
      send.disabled = false;
    }
  };
  return form;
}
