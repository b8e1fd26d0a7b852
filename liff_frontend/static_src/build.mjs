// Builds the LIFF member-portal bundles into liff_frontend/static/liff_frontend/dist/ (git-ignored).
//
//   dist/liff.js       the LIFF SDK from npm as an IIFE (window.liff); production, no mock code
//   dist/liff-mock.js  the same plus @line/liff-mock (window.LiffMockPlugin); LIFF_MOCK pages only
//   dist/portal.js     portal/index.js first, then every other portal/*.js in name order
//   dist/cashier.js    cashier/index.js with the html5-qrcode camera scanner (cashier page only)
//   dist/dashboard.js  dashboard/main.js with Chart.js (the staff dashboard in the admin only)
//
// Usage: npm run build            (what `make assets` runs after `npm ci`)
//        node build.mjs --outdir DIR   (build elsewhere; tests/test_assets.py uses it to check that
//                                       the build is reproducible and dist/ is current)
//
// Deterministic: pinned esbuild and lockfile, sorted inputs, no source maps, no timestamps or
// absolute paths in the output. The same sources give byte-identical files.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const options = { outdir: path.resolve(here, '../static/liff_frontend/dist'), quiet: false };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--outdir') options.outdir = path.resolve(argv[(i += 1)]);
    else if (argv[i] === '--quiet') options.quiet = true;
    else throw new Error(`build.mjs: unknown argument ${argv[i]}`);
  }
  return options;
}

function portalEntry() {
  const dir = path.join(here, 'portal');
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.js'))
    .sort((a, b) => (a === 'index.js' ? -1 : b === 'index.js' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  if (files[0] !== 'index.js') throw new Error('build.mjs: portal/index.js is missing');
  return files.map((name) => `import './portal/${name}';`).join('\n') + '\n';
}

const common = {
  bundle: true,
  write: false,
  format: 'iife',
  platform: 'browser',
  target: ['es2019'],
  minify: true,
  charset: 'utf8',
  legalComments: 'eof', // keep the Apache-2.0/MIT notices of the bundled packages
  sourcemap: false,
  absWorkingDir: here,
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
};

const bundles = [
  { name: 'liff.js', options: { entryPoints: ['entry-liff.js'] } },
  { name: 'liff-mock.js', options: { entryPoints: ['entry-liff-mock.js'] } },
  {
    name: 'portal.js',
    options: { stdin: { contents: portalEntry(), resolveDir: here, sourcefile: 'portal-entry.js' } },
  },
  { name: 'cashier.js', options: { entryPoints: ['cashier/index.js'] } },
  { name: 'dashboard.js', options: { entryPoints: ['dashboard/main.js'] } },
];

async function main() {
  const { outdir, quiet } = parseArgs(process.argv.slice(2));
  const outputs = await Promise.all(
    bundles.map(async ({ name, options }) => {
      const result = await esbuild.build({ ...common, ...options, outfile: path.join(outdir, name) });
      return { name, contents: result.outputFiles[0].contents };
    }),
  );
  // Only after every bundle built: replace dist/ as a whole so no stale file survives.
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  for (const { name, contents } of outputs) writeFileSync(path.join(outdir, name), contents);
  if (!quiet) {
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    const sizes = outputs.map(
      ({ name, contents }) => `${name} ${kb(contents.length)} (gzip ${kb(gzipSync(contents, { level: 9 }).length)})`,
    );
    console.log(`LIFF bundles -> ${path.relative(process.cwd(), outdir) || '.'}: ${sizes.join(', ')}`);
  }
}

main().catch((error) => {
  console.error(error.message || error);
  process.exit(1);
});
