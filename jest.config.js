export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // A test fails on a wrong result, not on a slow machine: jest's 5 s default failed CI at stop 63 (hashing the kept
  // packages, 3.6 s here, ran past it on the 2-core CI machine), and ~20 more tests take 2-5 s here. 60 s still ends
  // a hang; the browser and GPU tests that need longer say so themselves.
  testTimeout: 60_000,
};
