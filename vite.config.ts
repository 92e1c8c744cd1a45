import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The GUI is served by the service's admin listener from dist/renderer, so asset
// URLs are relative and the build never depends on a dev server.
export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [react()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8440',
      '/healthz': 'http://127.0.0.1:8440',
    },
  },
});
