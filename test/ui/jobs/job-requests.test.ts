import { seedForVariation } from '../../../ui/jobs/job-requests.js';

test('variation seeds step over the parent’s seed and wrap at 2^32', () => {
  expect(seedForVariation(100, 0, 101)).toBe(100);
  expect(seedForVariation(100, 1, 101)).toBe(102);
  expect(seedForVariation(101, 0, 101)).toBe(102);
  expect(seedForVariation(0xffffffff, 1)).toBe(0);
  expect(seedForVariation(0xfffffffe, 1, 0xffffffff)).toBe(0);
});
