import react from "@vitejs/plugin-react";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The dashboard: sources in web/, production build in web/dist/.
// The Convex URL is read at runtime from /config.json (written by whoever
// serves web/dist — `npm start` does), or baked in with VITE_CONVEX_URL.
const repoRoot = path.dirname(fileURLToPath(import.meta.url));

// The dev server (`npm start -- --dev-web`) serves web/ and what it imports,
// nothing else: not the repo root, never the data dir (local/dashboard.ts).
const dataDir = path.resolve(repoRoot, process.env.KEYHOLE_DATA_DIR || ".keyhole");
const allow = [
  path.join(repoRoot, "web"),
  path.join(repoRoot, "node_modules"),
  path.join(repoRoot, "convex", "_generated"),
  path.join(repoRoot, "shared"),
  path.join(repoRoot, "convex", "model", "permissions.ts"),
  path.join(repoRoot, "convex", "model", "scopes.ts"),
];
const deny = [".env", ".env.*", "*.{crt,pem,key}", "**/.git/**", "**/.keyhole/**", "**/env.json", "**/journal.log", "**/snapshot.jsonl", `${dataDir}/**`];
// Host names besides localhost and IP literals (local/hosts.ts): `*.domain` → Vite's `.domain`.
const hosts = (process.env.KEYHOLE_ALLOWED_HOSTS ?? "").split(",").map((h) => h.trim()).filter(Boolean);
const allowedHosts = hosts.includes("*") ? true : hosts.map((h) => (h.startsWith("*.") ? h.slice(1) : h));

export default defineConfig({
  root: path.join(repoRoot, "web"),
  plugins: [react()],
  server: { fs: { strict: true, allow, deny }, host: "127.0.0.1", port: 5173, allowedHosts },
  preview: { host: "127.0.0.1", port: 5173, allowedHosts },
  build: {
    outDir: path.join(repoRoot, "web", "dist"),
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
  },
});
