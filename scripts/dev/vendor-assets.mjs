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
buildSync({
  entryPoints: [join(root, "scripts", "dev", "sentry-browser-entry.mjs")],
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "Sentry",
  target: ["es2020"],
  legalComments: "none",
  outfile: join(sentryDir, "sentry.min.js"),
  banner: { js: `/*! @sentry/browser ${sentryVersion} (MIT, see LICENSE) bundled by scripts/dev/vendor-assets.mjs */` },
});
copyFileSync(join(root, "node_modules", "@sentry", "browser", "LICENSE"), join(sentryDir, "LICENSE"));
manifest["@sentry/browser"] = {
  version: sentryVersion,
  files: ["static/vendor/sentry/sentry.min.js", "static/vendor/sentry/LICENSE"],
};
// The bundler itself: no file of it is served, its version is recorded with what it built.
manifest.esbuild = { version: JSON.parse(readFileSync(join(root, "node_modules", "esbuild", "package.json"))).version,
                     files: [] };
writeFileSync(join(root, "static", "vendor", "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log("vendored:", Object.entries(manifest).map(([p, m]) => `${p}@${m.version}`).join(", "));
