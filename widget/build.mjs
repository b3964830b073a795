// Builds dist/widget.js (one file, socket.io-client and the CSS inside) with esbuild.
// The first line records a hash of every source of the build; scripts/build_widget.sh
// rebuilds when it differs, and a test checks the committed bundle is up to date.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const out = process.argv[2] || join(here, "dist", "widget.js");

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)]);
}

// Same recipe as tests/widget/test_bundle.py: sorted relative paths, NUL-separated.
export function sourcesHash() {
  const inputs = [...files(join(here, "src")),
    ...["package.json", "package-lock.json", "build.mjs"].map((f) => join(here, f))]
    .map((f) => relative(here, f).split("\\").join("/"))
    .sort();
  const hash = createHash("sha256");
  for (const name of inputs) {
    hash.update(name + "\0");
    hash.update(readFileSync(join(here, name)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

const result = await esbuild.build({
  entryPoints: [join(here, "src", "widget.js")],
  bundle: true,
  format: "iife",
  target: ["es2020", "chrome86", "safari14", "firefox78"],
  minify: true,
  legalComments: "eof",
  loader: { ".css": "text" },
  write: false,
  logLevel: "warning",
});
const banner = `/* merchant-support widget; sources sha256:${sourcesHash()} */\n`;
mkdirSync(join(out, ".."), { recursive: true });
writeFileSync(out, banner + result.outputFiles[0].text);
console.log(`widget: built ${relative(process.cwd(), out)}`);
