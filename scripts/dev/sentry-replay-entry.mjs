// The session replay integration, bundled apart (as the global `SentryReplay`) so that only pages
// of people who may be recorded load it. It shares the client of sentry.min.js: both are the same
// pinned @sentry/browser version, whose global carrier holds the one client.
export { replayIntegration } from "@sentry/browser";
