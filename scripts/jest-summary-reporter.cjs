// A Jest reporter that writes the run's counts (and the failed tests' names) to
// `.jest-results.json` for `.ci/run`'s closing line. Jest's own `--json` output
// cannot be relied on for that: it throws when a failure carries a circular
// error object (seen with a timed-out child process), and then writes nothing.
const { writeFileSync } = require("node:fs");
const { resolve } = require("node:path");

class JestSummaryReporter {
  constructor(globalConfig, options = {}) {
    this.outputFile = resolve(globalConfig.rootDir, options.outputFile ?? ".jest-results.json");
  }

  onRunComplete(_contexts, results) {
    const failed = [];
    for (const suite of results.testResults) {
      if (suite.testExecError) failed.push(`${suite.testFilePath}: ${suite.testExecError.message ?? "suite failed"}`);
      for (const test of suite.testResults) if (test.status === "failed") failed.push(test.fullName);
    }
    const summary = {
      numPassedTests: results.numPassedTests,
      numFailedTests: results.numFailedTests,
      numPendingTests: results.numPendingTests,
      numRuntimeErrorTestSuites: results.numRuntimeErrorTestSuites,
      failed,
    };
    writeFileSync(this.outputFile, `${JSON.stringify(summary, null, 2)}\n`);
  }
}

module.exports = JestSummaryReporter;
