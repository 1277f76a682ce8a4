/**
 * PUT /api/v1/password-policy with `{"__proto__": …}` or `{"constructor": …}` answered 500: the
 * member check used `in`, which finds Object.prototype's members, and the limits it then read
 * were not a pair. Found by the security fuzzer (test/fuzz).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PASSWORD_POLICY, mergePolicy } from '../../src/core/access/password-policy.js';

describe('mergePolicy', () => {
  it.each([
    ['{"__proto__": {"admin": true}}', 'unknown member "__proto__"'],
    ['{"constructor": {"prototype": {"x": 1}}}', 'unknown member "constructor"'],
    ['{"toString": 1}', 'unknown member "toString"'],
    ['{"hasOwnProperty": 12}', 'unknown member "hasOwnProperty"'],
    ['{"minLength": 12, "__proto__": 1}', 'unknown member "__proto__"'],
  ])('refuses the inherited member name in %s', (text, problem) => {
    expect(mergePolicy(DEFAULT_PASSWORD_POLICY, JSON.parse(text))).toBe(problem);
  });

  it('still merges the policy members, and leaves the prototype of the result alone', () => {
    const merged = mergePolicy(DEFAULT_PASSWORD_POLICY, { minLength: 12, idleSeconds: 600 });
    expect(merged).toEqual({ ...DEFAULT_PASSWORD_POLICY, minLength: 12, idleSeconds: 600 });
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
  });
});
