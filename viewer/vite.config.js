// Built by scripts/build-viewer.sh into dist/, which httpd serves with
// `Alias /viewer .../viewer/dist` (conf/h5s3-viewer.conf).
import { defineConfig } from 'vite';

export default defineConfig({
  // Relative asset URLs: the page works under any Alias, not only /viewer/.
  base: './',
  // React's automatic JSX runtime through esbuild: no Babel plugin needed.
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // H5Web (three.js, d3, visx) is one big chunk by nature; do not warn.
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      onwarn(warning, warn) {
        // Dependencies marked "use client" for React Server Components,
        // which a plain client bundle rightly ignores.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});
