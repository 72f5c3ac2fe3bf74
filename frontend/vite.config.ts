import { defineConfig } from "vitest/config";
import preact from "@preact/preset-vite";

// Django serves dist/ under STATIC_URL + "board/" (pause/settings.py) and reads
// dist/.vite/manifest.json in rooms/templatetags/vite.py, so `base` must be that prefix.
export default defineConfig({
  base: "/static/board/",
  plugins: [preact()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    manifest: true,
    target: "es2020",
    rollupOptions: { input: "src/main.tsx" },
  },
  server: {
    host: "127.0.0.1",
    port: 5173,
    strictPort: true,
    // The page comes from daphne (another origin); the assets from here.
    cors: true,
    origin: "http://127.0.0.1:5173",
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts", "tests/**/*.test.tsx"],
  },
});
