/** Jest: ts-jest over every package's and example's tests; workspace imports resolve to sources. */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>"],
  modulePathIgnorePatterns: ["<rootDir>/packages/[^/]+/dist/"],
  testMatch: ["**/test/**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/dist/"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.json" }],
  },
  moduleNameMapper: {
    "^@sessionoffload/([a-z-]+)$": "<rootDir>/packages/$1/src/index.ts",
    "^@sessionoffload/([a-z-]+)/([a-z-]+)$": "<rootDir>/packages/$1/src/$2/index.ts",
  },
  testTimeout: 30000,
  // The closing counts for .ci/run (see the reporter for why not `--json`).
  reporters: ["default", ["<rootDir>/scripts/jest-summary-reporter.cjs", { outputFile: ".jest-results.json" }]],
};
