#!/usr/bin/env node
// The one place that exits the process (habit 8): run the command, let stdout and stderr drain so
// the last log line and the error line are not lost, then exit with the command's code.
import { main } from '../dist/src/cli/main.js';

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  isTTY: process.stdout.isTTY === true,
});
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
