import { defineConfig } from "vite";

// Static files into dist/ (froctal up serves them at /); assets are hashed, so the manager can cache them for good.
export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, assetsDir: "assets" },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
});
