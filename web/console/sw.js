// The console's service worker: the app shell (pages, scripts, styles) works
// from the cache when the network is down, and assignment notifications open
// the chat. API calls and sockets always go to the network: nothing a buyer
// wrote is ever kept in the cache.

const SHELL = "xiaoer-console-v4";
const FILES = [
  "/console/",
  "/console/main.js", "/console/api.js", "/console/i18n.js", "/console/inbox.js", "/console/chat.js",
  "/console/side.js", "/console/board.js", "/console/kb.js", "/console/integrations.js", "/console/admin.js",
  "/console/settings.js", "/console/audit.js", "/console/blocks.js", "/console/tickets.js", "/console/notifications.js", "/console/bell.js", "/console/ticket_routing.js", "/console/ticket_automations.js", "/console/history.js", "/console/visitors.js", "/console/cards.js", "/console/portrait.js", "/console/privacy.js", "/console/style.css", "/console/icon.svg",
  "/console/manifest.webmanifest",
  "/console/analytics.js", "/console/uPlot.iife.min.js", "/console/uPlot.min.css",
  "/console/quality.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

// Network first, so a new release shows at once; the cached shell when offline.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || !url.pathname.startsWith("/console/")) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(SHELL).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request).then((hit) => hit || caches.match("/console/"))),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = event.notification.data?.url || "/console/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).pathname.startsWith("/console/"));
      if (open) return open.navigate(target).then((w) => (w || open).focus());
      return self.clients.openWindow(target);
    }),
  );
});
