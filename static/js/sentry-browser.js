// Browser errors (and, for people who may be recorded, session replays) to Sentry. Loaded (after the
// vendored SDK) only when SENTRY_BROWSER_DSN is set; the settings come from this script tag's data-
// attributes: the CSP forbids inline script. Every envelope goes to this site's tunnel (data-tunnel),
// which sends it on to Sentry: the browser never talks to another origin.
"use strict";

(() => {
  const script = document.currentScript;
  if (!script || !window.Sentry) {
    return;
  }
  const { dsn, tunnel, environment, release, userId, requestId, replayRate, replayWorker } = script.dataset;
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
  // Replay events name the pages they saw: only the route's shape goes, never a query string.
  const scrubReplayEvent = (event) => {
    if (Array.isArray(event.urls)) {
      event.urls = event.urls.map(shapeOf);
    }
    if (event.request && event.request.url) {
      event.request.url = shapeOf(event.request.url);
    }
    return event;
  };
  // Recording events: breadcrumbs and performance spans carry addresses (shaped as above); a click
  // breadcrumb's text of the element is dropped (masked text keeps its length).
  const scrubRecordingEvent = (event) => {
    const payload = event && event.data && event.data.payload;
    if (payload && typeof payload === "object") {
      if (typeof payload.description === "string" && /^(https?:)?\//.test(payload.description)) {
        payload.description = shapeOf(payload.description);
      }
      if (payload.data && typeof payload.data === "object") {
        for (const key of ["url", "from", "to"]) {
          if (typeof payload.data[key] === "string") {
            payload.data[key] = shapeOf(payload.data[key]);
          }
        }
        if (payload.data.node && typeof payload.data.node === "object") {
          delete payload.data.node.textContent;
        }
      }
    }
    return event;
  };
  const rate = Number.parseFloat(replayRate || "");
  const integrations = [];
  if (rate > 0 && window.SentryReplay) {
    integrations.push(window.SentryReplay.replayIntegration({
      maskAllText: true,
      maskAllInputs: true,
      blockAllMedia: true,
      // The default list, and every other attribute that holds words of the page.
      maskAttributes: ["title", "placeholder", "aria-label", "aria-description", "alt", "value", "label",
                       "data-bs-title", "data-bs-content"],
      block: ["input[type=hidden]"],  // CSRF tokens and the like: not even their shape
      networkDetailAllowUrls: [],
      workerUrl: replayWorker,
      beforeAddRecordingEvent: scrubRecordingEvent,
    }));
  }
  window.Sentry.init({
    dsn,
    tunnel,
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
    integrations,
    replaysSessionSampleRate: rate > 0 ? rate : 0,
    replaysOnErrorSampleRate: 0,
  });
  window.Sentry.addEventProcessor((event) => (event.type === "replay_event" ? scrubReplayEvent(event) : event));
  if (userId) {
    window.Sentry.setUser({ id: userId });
  }
  if (requestId) {
    window.Sentry.setTag("request_id", requestId);
  }
})();
