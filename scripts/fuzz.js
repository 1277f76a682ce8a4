#!/usr/bin/env node
// `npm run fuzz -- --requests N [--seed S]`: the security fuzz test (test/fuzz) with more
// requests or another seed than CI uses, through vitest with FUZZ_REQUESTS and FUZZ_SEED set.
// The exit code is vitest's: 0 when no oracle broke, 1 on a finding; 2 for a bad command line.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const USAGE = `Usage: npm run fuzz -- --requests N [--seed S]

  --requests N   generated requests to send (a whole number, at least 1)
  --seed S       seed of the generator (a whole number from 0 to 4294967295; default: CI's)
  --help         this text`;

/** A whole number from `min` to `max`, or undefined. */
function wholeNumber(text, min, max) {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

function usageError(message) {
  console.error(`npm run fuzz: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      requests: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  usageError(err.message);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (values.requests === undefined) usageError('--requests is required');
const requests = wholeNumber(values.requests, 1, 10_000_000);
if (requests === undefined)
  usageError(`--requests must be a whole number of at least 1, not "${values.requests}"`);
const seed = values.seed === undefined ? undefined : wholeNumber(values.seed, 0, 0xffffffff);
if (values.seed !== undefined && seed === undefined)
  usageError(`--seed must be a whole number from 0 to 4294967295, not "${values.seed}"`);

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, FUZZ_REQUESTS: String(requests) };
if (seed !== undefined) env.FUZZ_SEED = String(seed);
else delete env.FUZZ_SEED;
const r = spawnSync('npx', ['vitest', 'run', 'test/fuzz', '--project', 'db'], {
  cwd: root,
  env,
  stdio: 'inherit',
});
if (r.error) {
  console.error(`npm run fuzz: could not start vitest: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status ?? 1);
