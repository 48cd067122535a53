// Browser errors to Sentry. Loaded (after the vendored SDK) only when SENTRY_BROWSER_DSN is set;
// the settings come from this script tag's data- attributes: the CSP forbids inline script.
"use strict";

(() => {
  const script = document.currentScript;
  if (!script || !window.Sentry) {
    return;
  }
  const { dsn, environment, release, userId, requestId } = script.dataset;
  // Reset and invitation links carry their token in the path: keep only the route's shape.
  const shapeOf = (address) => {
    try {
      const url = new URL(address, window.location.origin);
      return url.origin + url.pathname.replace(/\/[A-Za-z0-9_-]{20,}(?=\/|$)/g, "/<token>");
    } catch {
      return "";
    }
  };
  const scrubBreadcrumb = (crumb) => {
    const data = { ...(crumb.data || {}) };
    for (const key of ["url", "from", "to"]) {
      if (typeof data[key] === "string") {
        data[key] = shapeOf(data[key]);
      }
    }
    return { ...crumb, data };
  };
  window.Sentry.init({
    dsn,
    environment,
    release: release || undefined,
    sendDefaultPii: false,
    beforeSend(event) {
      if (event.request) {
        event.request.url = shapeOf(event.request.url || window.location.href);
        delete event.request.query_string;
        delete event.request.cookies;
        if (event.request.headers) {
          delete event.request.headers.Referer;
        }
      }
      if (event.breadcrumbs) {
        event.breadcrumbs = event.breadcrumbs.map(scrubBreadcrumb);
      }
      return event;
    },
    beforeBreadcrumb: scrubBreadcrumb,
  });
  if (userId) {
    window.Sentry.setUser({ id: userId });
  }
  if (requestId) {
    window.Sentry.setTag("request_id", requestId);
  }
})();
