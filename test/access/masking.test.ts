import { describe, expect, it } from 'vitest';
import {
  coarsenGeometry,
  isValidIdNumber,
  maskIdNumber,
  maskMobile,
  maskName,
  maskValue,
} from '../../src/core/access/masking.js';
import { GENESIS_HASH, auditHash, verifyChain, type AuditRecord } from '../../src/core/access/audit-chain.js';
import { passwordProblems, DEFAULT_PASSWORD_POLICY } from '../../src/core/access/password-policy.js';

describe('masking (DOMAIN.md §5.3 test vectors)', () => {
  it.each([
    ['13812345678', '138****5678'],
    ['+86 138 1234 5678', '+86138****5678'],
    ['12345', '1****'],
  ])('mobile %s → %s', (v, out) => expect(maskMobile(v)).toBe(out));

  it.each([
    ['110101199003071233', '110101********1233'],
    ['11010119900307123X', '110101********123X'],
    ['abc', 'a**'],
  ])('identity number %s → %s', (v, out) => expect(maskIdNumber(v)).toBe(out));

  it.each([
    ['张三丰', '张**'],
    ['李四', '李*'],
    ['Ada Lovelace', 'A** L*******'],
  ])('name %s → %s', (v, out) => expect(maskName(v)).toBe(out));

  it.each([
    ['13812345678', 'auto', '138****5678'],
    ['110101199003071233', 'auto', '110101********1233'],
    ['张三丰', 'auto', '张**'],
    ['influenza', 'redact', 'i********'],
    [42, 'auto', null],
    ['x', 'none', 'x'],
    [
      { type: 'Point', coordinates: [113.625368, 34.746599] },
      'location',
      { type: 'Point', coordinates: [113.63, 34.75] },
    ],
  ])('maskValue(%j, %s)', (v, kind, out) => expect(maskValue(v, kind as never)).toEqual(out));

  it('coarsens every coordinate of a polygon and refuses non-geometries', () => {
    expect(
      coarsenGeometry({
        type: 'LineString',
        coordinates: [
          [1.234, 5.678],
          [2.345, 6.789],
        ],
      }),
    ).toEqual({
      type: 'LineString',
      coordinates: [
        [1.23, 5.68],
        [2.35, 6.79],
      ],
    });
    expect(coarsenGeometry('nope')).toBeNull();
  });

  it('checks the GB 11643 check digit', () => {
    expect(isValidIdNumber('110101199003071233')).toBe(true);
    expect(isValidIdNumber('110101199003071234')).toBe(false);
  });
});

describe('audit chain and password rules (pure)', () => {
  const chain = (n: number): AuditRecord[] => {
    const out: AuditRecord[] = [];
    let prev = GENESIS_HASH;
    for (let i = 1; i <= n; i++) {
      const base = {
        seq: i,
        at: new Date(1_700_000_000_000 + i).toISOString(),
        actor: 'a',
        action: 'x',
        outcome: 'success' as const,
        prevHash: prev,
      };
      const rec = { ...base, hash: auditHash(base) };
      out.push(rec);
      prev = rec.hash;
    }
    return out;
  };
  it('verifies an intact chain and finds an edit, a gap and a re-link', () => {
    expect(verifyChain(chain(5))).toMatchObject({ ok: true, checked: 5 });
    const edited = chain(5);
    edited[2] = { ...edited[2]!, actor: 'b' };
    expect(verifyChain(edited).firstBad).toEqual({ seq: 3, problem: 'edited' });
    const gap = chain(5).filter((r) => r.seq !== 2);
    expect(verifyChain(gap).firstBad).toEqual({ seq: 3, problem: 'missing-before' });
    const relinked = chain(5).filter((r) => r.seq !== 5);
    relinked[3] = { ...relinked[3]!, prevHash: GENESIS_HASH };
    expect(verifyChain(relinked).firstBad).toEqual({ seq: 4, problem: 'relinked' });
  });
  it.each([
    ['short1A', 1],
    ['alllowercaseletters', 1],
    ['Good-Passw0rd', 0],
    ['Alice-Passw0rd', 1],
  ])('password %s has %i problem(s) for user alice', (pw, n) =>
    expect(passwordProblems(pw, 'alice', DEFAULT_PASSWORD_POLICY)).toHaveLength(n),
  );
});
