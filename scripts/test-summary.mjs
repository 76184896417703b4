#!/usr/bin/env node
// Reads vitest's JSON report and prints the one line CI parses: "N passed, N failed[, N skipped]".
// A missing or unreadable report counts as a failure, never as "0 failed".
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.backlog/reports/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.log(`test report ${file} unreadable: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
// A file that failed to load (syntax error, failing hook) holds tests that never ran: count it as one failure.
const brokenFiles = (report.testResults ?? []).filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed')).length;
const failed = (report.numFailedTests ?? 0) + brokenFiles;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || report.success === false ? 1 : 0);
