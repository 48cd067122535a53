// Copy pinned front-end files from node_modules into static/vendor/ (run: npm ci && npm run vendor).
// The Sentry browser SDK ships as modules only: esbuild (pinned too) bundles the part the portal
// uses into one minified file that defines the global `Sentry`.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { buildSync } from "esbuild";

const root = join(dirname(new URL(import.meta.url).pathname), "..", "..");
const files = {
  bootstrap: [
    "dist/css/bootstrap.min.css",
    "dist/css/bootstrap.min.css.map",
    "dist/js/bootstrap.bundle.min.js",
    "dist/js/bootstrap.bundle.min.js.map",
    "LICENSE",
  ],
};
const manifest = {};
for (const [pkg, paths] of Object.entries(files)) {
  const version = JSON.parse(readFileSync(join(root, "node_modules", pkg, "package.json"))).version;
  manifest[pkg] = { version, files: [] };
  for (const path of paths) {
    const target = join(root, "static", "vendor", pkg, path.replace(/^dist\//, ""));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(root, "node_modules", pkg, path), target);
    manifest[pkg].files.push(target.slice(root.length + 1));
  }
}
const sentryVersion = JSON.parse(readFileSync(join(root, "node_modules", "@sentry", "browser", "package.json"))).version;
const sentryDir = join(root, "static", "vendor", "sentry");
mkdirSync(sentryDir, { recursive: true });
const sentryBanner = `/*! @sentry/browser ${sentryVersion} (MIT, see LICENSE) bundled by scripts/dev/vendor-assets.mjs */`;
const bundle = (entry, globalName, outfile) => buildSync({
  entryPoints: [join(root, "scripts", "dev", entry)],
  bundle: true,
  minify: true,
  format: "iife",
  globalName,
  target: ["es2020"],
  legalComments: "none",
  // The replay's compression worker is served as its own file (replay-worker.min.js, below) and named by the
  // integration's workerUrl: without this the SDK would start it from a blob: URL, which the CSP refuses.
  define: { __SENTRY_EXCLUDE_REPLAY_WORKER__: "true" },
  outfile: join(sentryDir, outfile),
  banner: { js: sentryBanner },
});
bundle("sentry-browser-entry.mjs", "Sentry", "sentry.min.js");
bundle("sentry-replay-entry.mjs", "SentryReplay", "sentry-replay.min.js");
const replayWorker = readFileSync(join(root, "node_modules", "@sentry", "replay", "build", "npm", "esm",
                                       "worker-bundler.js"), "utf8");
writeFileSync(join(sentryDir, "replay-worker.min.js"),
              `/*! @sentry/replay ${sentryVersion} compression worker (MIT, see LICENSE) */\n${replayWorker}`);
copyFileSync(join(root, "node_modules", "@sentry", "browser", "LICENSE"), join(sentryDir, "LICENSE"));
manifest["@sentry/browser"] = {
  version: sentryVersion,
  files: ["static/vendor/sentry/sentry.min.js", "static/vendor/sentry/sentry-replay.min.js",
          "static/vendor/sentry/replay-worker.min.js", "static/vendor/sentry/LICENSE"],
};
// The bundler itself: no file of it is served, its version is recorded with what it built.
manifest.esbuild = { version: JSON.parse(readFileSync(join(root, "node_modules", "esbuild", "package.json"))).version,
                     files: [] };
writeFileSync(join(root, "static", "vendor", "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log("vendored:", Object.entries(manifest).map(([p, m]) => `${p}@${m.version}`).join(", "));
