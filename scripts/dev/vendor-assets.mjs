// Copy pinned front-end files from node_modules into static/vendor/ (run: npm ci && npm run vendor).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

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
writeFileSync(join(root, "static", "vendor", "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log("vendored:", Object.entries(manifest).map(([p, m]) => `${p}@${m.version}`).join(", "));
