// What the vendored Sentry browser bundle exposes (as the global `Sentry`); bundled by vendor-assets.mjs.
export { addEventProcessor, captureException, init, setTag, setUser } from "@sentry/browser";
