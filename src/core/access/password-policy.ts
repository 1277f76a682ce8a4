/**
 * Password rules (GB/T 22239-2019 §8.1.4.1 identity authentication; the usual level-3 evaluator
 * practice: at least 8 characters of 3 of 4 classes, changed within 90 days, locked after at most
 * 5 failures, idle sessions ended within 30 minutes).
 */

export interface PasswordPolicy {
  /** Minimum length; default 10. */
  minLength: number;
  /** Character classes (lower, upper, digit, other) required; default 3 of 4. */
  minClasses: number;
  /** Failed logins before the account locks; default 5. */
  maxFailures: number;
  /** How long a lock lasts, seconds; default 900. */
  lockSeconds: number;
  /** A session unused this long ends, seconds; default 1800. */
  idleSeconds: number;
  /** Lifetime of an access token, seconds; default 28800 (8 h). */
  tokenSeconds: number;
  /** Days after which a password must be changed; default 90 (0: never). */
  maxAgeDays: number;
}

export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = {
  minLength: 10,
  minClasses: 3,
  maxFailures: 5,
  lockSeconds: 900,
  idleSeconds: 1800,
  tokenSeconds: 28_800,
  maxAgeDays: 90,
};

/** The problems of a candidate password under the policy; empty when it is acceptable. */
export function passwordProblems(password: string, username: string, policy: PasswordPolicy): string[] {
  const problems: string[] = [];
  if ([...password].length < policy.minLength)
    problems.push(`at least ${policy.minLength} characters are needed`);
  const classes = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z\d]/].filter((re) => re.test(password)).length;
  if (classes < policy.minClasses)
    problems.push(
      `at least ${policy.minClasses} of lower-case letters, upper-case letters, digits and other characters are needed`,
    );
  if (username.length >= 3 && password.toLowerCase().includes(username.toLowerCase()))
    problems.push('the password must not contain the user name');
  if (password.length > 256) problems.push('at most 256 characters');
  return problems;
}

/** Checks a partial policy from the admin API; returns the merged policy or the problem. */
export function mergePolicy(base: PasswordPolicy, patch: unknown): PasswordPolicy | string {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
    return 'the policy must be an object';
  const out: PasswordPolicy = { ...base };
  const limits: Record<keyof PasswordPolicy, [number, number]> = {
    minLength: [8, 128],
    minClasses: [1, 4],
    maxFailures: [1, 20],
    lockSeconds: [60, 86_400],
    idleSeconds: [60, 86_400],
    tokenSeconds: [300, 86_400],
    maxAgeDays: [0, 3650],
  };
  for (const [k, v] of Object.entries(patch)) {
    // Own members only: `in` also finds Object.prototype's (`__proto__`, `constructor`).
    if (!Object.hasOwn(limits, k)) return `unknown member ${JSON.stringify(k)}`;
    const [lo, hi] = limits[k as keyof PasswordPolicy];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
      return `${k} must be an integer from ${lo} to ${hi}`;
    out[k as keyof PasswordPolicy] = v;
  }
  return out;
}
