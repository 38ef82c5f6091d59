// Runs every e2e/*.spec.mjs (each starts its own parleyd) and prints "N passed, N failed".
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.spec.mjs'))
  .filter((f) => !only.length || only.some((o) => f.includes(o)))
  .sort();
let passed = 0;
let failed = 0;
const t0 = Date.now();
for (const f of files) {
  console.log(`${f}`);
  try {
    const mod = await import(pathToFileURL(join(dir, f)).href);
    const [p, fl] = await mod.default();
    passed += p;
    failed += fl;
  } catch (e) {
    failed++;
    console.log(`  ✗ ${f} could not run: ${e?.stack ?? e}`);
  }
}
console.log(`e2e finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
