import { defineConfig } from 'vite';

// The dev server proxies the API and the WebSocket to a parleyd (PARLEY_URL, default :8080).
const target = process.env.PARLEY_URL ?? 'http://127.0.0.1:8080';
const proxy = {
  '/v1/ws': { target: target.replace(/^http/, 'ws'), ws: true },
  '/v1': target,
};
// The Content-Security-Policy parleyd sends with every HTML page (src/services/web), so that
// `vite preview` shows the same behaviour as production.
export const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; img-src 'self' blob: data:; " +
  "media-src 'self' blob:; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: { proxy },
  preview: { proxy, headers: { 'Content-Security-Policy': CSP } },
});
