import react from "@vitejs/plugin-react";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The dashboard: sources in web/, production build in web/dist/.
// The Convex URL is read at runtime from /config.json (written by whoever
// serves web/dist — `npm start` does), or baked in with VITE_CONVEX_URL.
const repoRoot = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: path.join(repoRoot, "web"),
  plugins: [react()],
  // The app imports convex/_generated/api and convex/model/{permissions,scopes}.
  server: { fs: { allow: [repoRoot] }, host: "127.0.0.1", port: 5173 },
  preview: { host: "127.0.0.1", port: 5173 },
  build: {
    outDir: path.join(repoRoot, "web", "dist"),
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
  },
});
