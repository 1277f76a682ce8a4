#!/usr/bin/env node
// The `citypivot` command: runs the compiled CLI (npm install builds it through `prepare`).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(`citypivot: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
