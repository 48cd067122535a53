// Registers the service worker (docs/PWA.md) and tells it this page's language, so that the
// offline page it shows matches the portal's language. Nothing else is sent.
"use strict";

if ("serviceWorker" in navigator && window.isSecureContext) {
  const locale = document.documentElement.lang;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(() => navigator.serviceWorker.ready)
    .then((registration) => {
      if (registration.active) registration.active.postMessage({ type: "locale", locale });
    })
    .catch(() => { /* the portal works without the worker; only offline support is missing */ });
}
