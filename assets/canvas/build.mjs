// Bundles the flow canvas into assets/dist/flow_canvas.js: one ES module that NiceGUI loads as a component.
// `vue` stays external so the canvas runs on NiceGUI's own Vue (its import map resolves it); Vue Flow's CSS is
// inlined as text and injected once, so the bundle needs nothing else.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

await build({
  entryPoints: [here("./flow_canvas.js")],
  outfile: here("../dist/flow_canvas.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  external: ["vue"],
  loader: { ".css": "text" },
  minify: true,
  legalComments: "eof",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});
