// First-party usage analytics. Loaded only on pages of people who consented (the server
// decides); served from this origin, no library, nothing sent anywhere else.
// A click on an element marked data-analytics="<declared event>" sends that event's name and
// this page's path to /analytics/collect with navigator.sendBeacon. Do Not Track and Global
// Privacy Control in the browser switch it off here too (the server also refuses them).
"use strict";

(() => {
  const script = document.currentScript;
  const endpoint = script ? script.dataset.endpoint : null;
  const refused = navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.globalPrivacyControl === true;
  if (!endpoint || refused || typeof navigator.sendBeacon !== "function") {
    return;
  }
  document.addEventListener("click", (event) => {
    const marked = event.target instanceof Element ? event.target.closest("[data-analytics]") : null;
    if (!marked) {
      return;
    }
    const body = JSON.stringify({ name: marked.dataset.analytics, page: window.location.pathname });
    navigator.sendBeacon(endpoint, new Blob([body], { type: "application/json" }));
  }, { capture: true });
})();
