/** Jest runs the TypeScript sources through SWC (fast, no type check); `npm run typecheck` is the type gate. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/middleware/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  testPathIgnorePatterns: ['/node_modules/'],
  setupFiles: ['<rootDir>/middleware/test/support/loopback-only.ts'],
  testTimeout: 60000,
  // Test files start servers and databases; two workers keep CI on a 2-core machine honest.
  maxWorkers: process.env.CI ? 2 : '50%',
};
