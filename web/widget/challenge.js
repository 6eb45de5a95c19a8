// The proof-of-work check the server asks for when many chats start from one
// network, or for everyone during an attack: the ALTCHA widget (npm `altcha`,
// its CSP-friendly build and PBKDF2 worker, served from this server) solves it
// in the background and hands back the payload the next request carries.

let loaded = null;

function loadAltcha() {
  loaded ??= (async () => {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = "/widget/altcha.css";
    document.head.append(css);
    await import("/widget/altcha.js");
    await import("/widget/altcha-zh-cn.js");
    globalThis.$altcha.algorithms.set("PBKDF2/SHA-256", () => new Worker("/widget/altcha-pbkdf2.js"));
  })();
  return loaded;
}

/// Shows a kind note and the ALTCHA widget in `log`; resolves with the solved
/// payload, then removes both.
export async function solveChallenge(log, words, lang) {
  await loadAltcha();
  const item = document.createElement("li");
  item.className = "msg system challenge";
  item.dataset.testid = "challenge";
  const note = document.createElement("p");
  note.textContent = words.challenge;
  const widget = document.createElement("altcha-widget");
  widget.setAttribute("challenge", "/api/v1/challenge");
  widget.setAttribute("auto", "onload");
  widget.setAttribute("language", lang === "zh" ? "zh-cn" : "en");
  item.append(note, widget);
  log.append(item);
  log.scrollTop = log.scrollHeight;
  return new Promise((resolve) => {
    widget.addEventListener("statechange", (ev) => {
      if (ev.detail.state === "verified" && ev.detail.payload) {
        item.remove();
        resolve(ev.detail.payload);
      } else if (ev.detail.state === "error") {
        note.textContent = words.challenge_failed;
      }
    });
  });
}
