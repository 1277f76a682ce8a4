// Builds the dashboard into web/dist, which the hub serves at `/` (src/server/dashboard-routes.ts).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // MapLibre and ECharts are large; the dashboard is served from the hub itself, not a CDN.
    chunkSizeWarningLimit: 2500,
  },
  server: {
    // `npx vite web` during development: the API of a hub running on :1026.
    proxy: {
      '/ngsi-ld': 'http://127.0.0.1:1026',
      '/api': 'http://127.0.0.1:1026',
      '/iot': 'http://127.0.0.1:1026',
    },
  },
});
