// Builds the web UI into dist/: index.html, assets/app.js and assets/app.css.
// The binary embeds dist/ when it is compiled (crates/moat-server/src/ui.rs).
//
//   node build.mjs            minified build
//   node build.mjs --dev      readable build with source maps
import { build } from "esbuild";
import { copyFile, mkdir, readFile, rm } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
const dev = process.argv.includes("--dev");

await rm(dist, { recursive: true, force: true });
await mkdir(join(dist, "assets"), { recursive: true });

await build({
  entryPoints: { app: join(root, "src/main.js") },
  outdir: join(dist, "assets"),
  bundle: true,
  format: "iife",
  target: ["es2020"],
  minify: !dev,
  sourcemap: dev,
  legalComments: "none",
  logLevel: "warning",
  // app.js imports style.css, which comes out as app.css beside it.
  loader: { ".css": "css" },
});
await copyFile(join(root, "src/index.html"), join(dist, "index.html"));

for (const name of ["assets/app.js", "assets/app.css"]) {
  const bytes = await readFile(join(dist, name));
  const kb = (n) => (n / 1024).toFixed(1);
  console.log(`${name}: ${kb(bytes.length)} KiB, ${kb(gzipSync(bytes).length)} KiB gzipped`);
}
