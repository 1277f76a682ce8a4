/**
 * The fuzzer's oracles catch what they are for: a fuzz run that finds nothing is only worth
 * something if a 5xx, a bare error, a leaked marker, a missing 401 or a write behind a refusal
 * would have been found.
 */
import { describe, expect, it } from 'vitest';
import { checkAnswer, checkRefusedWrites, checkWriteRights, type Answer, type Asked } from './oracles.js';
import type { RowChange } from './data-watch.js';
import { HIDDEN, MARKERS, PURPOSE } from './fuzz-seed.js';

const PD = (status: number) =>
  JSON.stringify({ type: 'https://uri.etsi.org/ngsi-ld/errors/X', title: 'X', status, detail: 'x' });

const asked = (over: Partial<Asked> = {}): Asked => ({
  method: 'GET',
  text: '/ngsi-ld/v1/entities?type=Person',
  principal: 'transport',
  authenticates: true,
  purpose: undefined,
  access: { who: 'data', action: 'read' },
  reachesRoute: true,
  tenant: '',
  unavailableContext: false,
  ...over,
});
const answer = (status: number, body: string, over: Partial<Answer> = {}): Answer => ({
  status,
  headers: { 'content-type': 'application/json' },
  body,
  ms: 5,
  ...over,
});
const kinds = (a: Asked, r: Answer) => checkAnswer(a, r, 5000).map((f) => f.kind);

describe('the fuzzer oracles', () => {
  it('pass a plain answer', () => {
    expect(kinds(asked(), answer(200, '[]'))).toEqual([]);
    expect(kinds(asked(), answer(404, PD(404)))).toEqual([]);
  });

  it('find 5xx, slow answers and errors that are not ProblemDetails', () => {
    expect(kinds(asked(), answer(500, PD(500)))).toEqual(['server-error']);
    expect(kinds(asked(), answer(200, '[]', { ms: 9000 }))).toEqual(['hang']);
    expect(kinds(asked(), answer(400, ''))).toEqual(['not-problem-details']);
    expect(kinds(asked(), answer(400, '{"statusCode":400,"error":"Bad Request"}'))).toEqual([
      'not-problem-details',
    ]);
    expect(kinds(asked(), answer(400, PD(404)))).toEqual(['not-problem-details']);
    expect(kinds(asked({ method: 'HEAD' }), answer(400, ''))).toEqual([]);
  });

  it('allow 503 LdContextNotAvailable only for an @context the hub may not fetch', () => {
    const pd = JSON.stringify({
      type: 'https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable',
      title: 'LD context not available',
      status: 503,
      detail: 'x',
    });
    expect(kinds(asked({ unavailableContext: true }), answer(503, pd))).toEqual([]);
    expect(kinds(asked(), answer(503, pd))).toEqual(['server-error']);
    expect(kinds(asked({ unavailableContext: true }), answer(503, PD(503)))).toEqual(['server-error']);
  });

  it('find markers the caller may not read, unless the request itself holds them', () => {
    expect(kinds(asked(), answer(200, `[{"diagnosis":"${MARKERS.diagnosis}"}]`))).toEqual(['leak']);
    expect(kinds(asked(), answer(200, `[{"mobile":"${MARKERS.mobile}"}]`))).toEqual(['leak']);
    expect(kinds(asked(), answer(200, `{"orderKey":"${HIDDEN.health}"}`))).toEqual(['leak']);
    expect(kinds(asked(), answer(200, '{"x":"cpenc:v1:abc"}'))).toEqual(['leak']);
    expect(kinds(asked(), answer(200, '[]', { headers: { location: HIDDEN.health } }))).toEqual(['leak']);
    expect(
      kinds(
        asked({ text: `q=note=="${MARKERS.note}"` }),
        answer(400, PD(400).replace('"x"', `"${MARKERS.note}"`)),
      ),
    ).toEqual([]);
    // Health reads the diagnosis for its purpose, and its own hidden entity; never transport's.
    const health = asked({ principal: 'health', purpose: PURPOSE });
    expect(
      kinds(health, answer(200, `[{"diagnosis":"${MARKERS.diagnosis}","id":"${HIDDEN.health}"}]`)),
    ).toEqual([]);
    expect(kinds(health, answer(200, `[{"id":"${HIDDEN.transport}"}]`))).toEqual(['leak']);
    expect(kinds(asked({ principal: 'health' }), answer(200, `"${MARKERS.diagnosis}"`))).toEqual(['leak']);
  });

  it('want 401 for requests without valid credentials on routes that are not public', () => {
    const anon = asked({ principal: 'bad-credentials', authenticates: false });
    expect(kinds(anon, answer(401, PD(401)))).toEqual([]);
    expect(kinds(anon, answer(403, PD(403)))).toEqual(['anonymous-not-401']);
    expect(kinds(anon, answer(200, '[]'))).toEqual(['anonymous-not-401']);
    expect(kinds({ ...anon, reachesRoute: false }, answer(404, PD(404)))).toEqual([]);
    expect(kinds({ ...anon, access: { who: 'anyone' } }, answer(200, '[]'))).toEqual([]);
  });

  it('find successes past a role, a tenant or the TOTP enrolment', () => {
    const role = asked({ access: { who: 'role', roles: ['security-administrator'] } });
    expect(kinds(role, answer(200, '[]'))).toEqual(['role-escape']);
    expect(kinds({ ...role, principal: 'admin' }, answer(200, '[]'))).toEqual([]);
    expect(kinds(asked({ tenant: 'clinic' }), answer(200, '[]'))).toEqual(['tenant-escape']);
    expect(kinds(asked({ tenant: 'traffic' }), answer(200, '[]'))).toEqual([]);
    const enrolment = asked({ principal: 'enrolment-only' });
    expect(kinds(enrolment, answer(200, '[]'))).toEqual(['enrolment-escape']);
    expect(kinds({ ...enrolment, access: { who: 'account', enrolment: true } }, answer(200, '{}'))).toEqual(
      [],
    );
  });

  it('find data written behind a 401 or 403, not sessions', () => {
    const row = (table: string) => ({
      id: 1,
      table,
      op: 'INSERT',
      rowId: 'x',
      tenant: '',
      types: null,
      apikey: null,
      row: '{}',
    });
    expect(checkRefusedWrites(403, [row('entities')]).map((f) => f.kind)).toEqual(['write-on-refusal']);
    expect(checkRefusedWrites(401, [row('access_sessions')])).toEqual([]);
    expect(checkRefusedWrites(400, [row('entities')])).toEqual([]);
  });

  it('find entities written for a department that may not write them', () => {
    const DC = 'https://uri.etsi.org/ngsi-ld/default-context/';
    const write = (tenant: string, types: string[]): RowChange => ({
      id: 1,
      table: 'entities',
      op: 'UPDATE',
      rowId: 'urn:x',
      tenant,
      types,
      apikey: null,
      row: '{}',
    });
    const kindsOf = (actors: Set<string> | undefined, c: RowChange) =>
      checkWriteRights(actors, [c]).map((f) => f.kind);
    expect(kindsOf(new Set(['transport']), write('', [`${DC}TrafficFlowObserved`]))).toEqual([]);
    expect(kindsOf(new Set(['transport']), write('traffic', [`${DC}Person`]))).toEqual([]);
    expect(kindsOf(new Set(['transport']), write('', [`${DC}Person`]))).toEqual(['unauthorized-write']);
    expect(kindsOf(new Set(['transport']), write('', [`${DC}TrafficFlowObserved`, `${DC}Person`]))).toEqual([
      'unauthorized-write',
    ]);
    expect(kindsOf(new Set(['health', 'transport']), write('', [`${DC}Person`]))).toEqual([]);
    expect(kindsOf(new Set(), write('clinic', [`${DC}Device`]))).toEqual(['unauthorized-write']);
    expect(kindsOf(new Set(['city']), write('other', [`${DC}Thing`]))).toEqual([]);
    expect(kindsOf(undefined, write('', [`${DC}Person`]))).toEqual([]);
  });
});
