// REST calls with the session cookie, errors as exceptions carrying the API's code.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body, contentType) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (contentType) {
    // A file as it is (uploads): the server checks the type against the bytes.
    init.headers["Content-Type"] = contentType;
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(res.status, error.code || "http_" + res.status, error.message || res.statusText);
  }
  return data;
}

/// A query string without the empty fields: the API reads `status=` as a
/// request for a status named "", so an unset filter is left out altogether.
export function query(params) {
  const kept = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && String(v).trim() !== "");
  return new URLSearchParams(kept.map(([k, v]) => [k, String(v)])).toString();
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);
export const upload = (path, file) => api("POST", path, file, file.type || "application/octet-stream");

export function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

/// A WebSocket that reconnects with backoff; `url()` is asked again each time
/// (so a conversation socket resumes after the last sequence number seen).
export function liveSocket(url, onFrame, onStatus = () => {}) {
  let socket = null;
  let retries = 0;
  let stopped = false;
  function open() {
    socket = new WebSocket(socketUrl(url()));
    socket.onmessage = (m) => {
      const frame = JSON.parse(m.data);
      if (frame.type === "ready") {
        retries = 0;
        onStatus("online");
      }
      onFrame(frame);
    };
    socket.onclose = () => {
      if (stopped) return;
      onStatus("reconnecting");
      setTimeout(open, Math.min(15000, 500 * 2 ** retries++));
    };
  }
  open();
  return {
    close() {
      stopped = true;
      if (socket) socket.close();
    },
  };
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (k === "testid") node.dataset.testid = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function ago(ms) {
  if (ms === null || ms === undefined) return "–";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
