// "My tickets": the buyer's tickets with the status text staff chose for them
// and the public replies (internal comments and states never reach here).

const WORDS = {
  zh: {
    my_tickets: "我的工单", no_tickets: "暂无工单", replies: "客服回复", you: "我", back_to_chat: "返回聊天",
    reply: "回复", reply_placeholder: "补充说明或回复客服", reply_failed: "发送失败，请稍后再试",
    ticket_closed: "这个工单已关闭，如有新问题请在聊天中联系我们",
    ticket_reply_window_closed: "这个工单已解决较久，无法再回复，如有新问题请在聊天中联系我们",
    add_photo: "添加图片", photo: "图片", photos_chosen: (n) => `已选 ${n} 张图片`, file: "文件",
    unsupported_media_type: "不支持这种文件，请发送图片", content_mismatch: "图片已损坏或格式不对",
    payload_too_large: "图片太大了", empty_attachment: "图片是空的", too_many_attachments: "一次最多 6 张图片",
  },
  en: {
    my_tickets: "My tickets", no_tickets: "No tickets yet", replies: "Replies", you: "Me", back_to_chat: "Back to chat",
    reply: "Reply", reply_placeholder: "Add details or answer our team", reply_failed: "Could not send; please try again",
    ticket_closed: "This ticket is closed; for a new question, write to us in the chat",
    ticket_reply_window_closed: "This ticket was resolved a while ago and takes no more replies; for a new question, write to us in the chat",
    add_photo: "Add photos", photo: "Photo", photos_chosen: (n) => `${n} photo${n === 1 ? "" : "s"} chosen`, file: "File",
    unsupported_media_type: "This kind of file cannot be sent; please send a picture", content_mismatch: "The picture is damaged or not a picture",
    payload_too_large: "The picture is too large", empty_attachment: "The picture is empty", too_many_attachments: "At most 6 photos at a time",
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
      const reply = node("div", r.from_staff ? "ticket-reply staff" : "ticket-reply", `${r.from_staff ? words.replies : words.you}: ${r.body}`, "my-ticket-reply");
      if (r.attachments.length) reply.append(fileList(session, k, r.attachments, words));
      item.append(reply);
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

/// The files of a reply: pictures as thumbnails, others as links (the token
/// rides in the query, as an <img> cannot send a header).
function fileList(session, ticket, files, words) {
  const box = node("div", "ticket-files", undefined, "my-ticket-files");
  for (const f of files) {
    const href = `/api/v1/buyer/tickets/${encodeURIComponent(ticket.id)}/attachments/${f.id}?access_token=${encodeURIComponent(session.token)}`;
    const link = node("a", null, undefined, "my-ticket-file");
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener";
    if (f.content_type.startsWith("image/")) {
      const img = document.createElement("img");
      img.src = href;
      img.alt = words.photo;
      img.loading = "lazy";
      link.append(img);
    } else {
      link.textContent = `📎 ${words.file}`;
    }
    box.append(link);
  }
  return box;
}

/// The buyer's reply on one ticket, with photos: each is uploaded to the
/// ticket, then sent with the words (which may be left out then). A refusal
/// is said in the buyer's words.
function replyForm(session, panel, lang, ticket) {
  const words = WORDS[lang];
  const form = node("form", "ticket-reply-form", undefined, `my-ticket-reply-form-${ticket.number}`);
  const input = node("textarea", null, undefined, "my-ticket-reply-input");
  input.rows = 2;
  input.maxLength = 2000;
  input.placeholder = words.reply_placeholder;
  const photos = node("input", null, undefined, "my-ticket-photo-input");
  photos.type = "file";
  photos.accept = "image/*";
  photos.multiple = true;
  photos.hidden = true;
  const pick = node("button", "link", words.add_photo, "my-ticket-add-photo");
  pick.type = "button";
  pick.onclick = () => photos.click();
  const chosen = node("span", "hint", undefined, "my-ticket-photos-chosen");
  photos.onchange = () => (chosen.textContent = photos.files.length ? words.photos_chosen(photos.files.length) : "");
  const send = node("button", null, words.reply, "my-ticket-reply-send");
  send.type = "submit";
  const error = node("p", "ticket-error", undefined, "my-ticket-reply-error");
  error.setAttribute("role", "alert");
  form.append(input, send, pick, photos, chosen, error);
  form.onsubmit = async (e) => {
    e.preventDefault();
    if (!input.value.trim() && !photos.files.length) return;
    send.disabled = true;
    try {
      const path = `/api/v1/buyer/tickets/${encodeURIComponent(ticket.id)}`;
      const attachments = [];
      for (const file of photos.files) {
        attachments.push((await session.api("POST", `${path}/attachments`, file, file.type || "application/octet-stream")).attachment_id);
      }
      await session.api("POST", `${path}/replies`, { body: input.value, attachments });
      await showTickets(session, panel, lang);
    } catch (err) {
      error.textContent = words[err.code] || words.reply_failed;
      send.disabled = false;
    }
  };
  return form;
}
