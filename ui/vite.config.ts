import { defineConfig } from "vite";

// The built UI is embedded by `retort serve` (crates/retort-serve) and by the desktop app
// (tauri.conf.json: build.frontendDist = "ui/dist").
export default defineConfig({
  clearScreen: false,
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: false },
  server: { port: 5173, strictPort: true },
});
