import { describe, expect, it } from 'vitest';
import { ExpressionError, compileExpression, evaluateExpression } from '../../src/core/iot/iot-expression.js';
import { ReadingError, mapReading, toAttribute } from '../../src/core/iot/reading-mapping.js';
import { effectiveMapping, parseDevice } from '../../src/core/iot/device-model.js';

const scope = {
  value: 6,
  ts: 1637245214901,
  name: 'DevId629',
  obj: { name: 'John' },
  arr: [1, 3],
  s: '  hello world ',
  level: 85.3,
  loc: '40.4165, -3.70256',
};
const ev = (src: string, sc: Record<string, unknown> = scope) =>
  evaluateExpression(compileExpression(src), sc);

describe('expressions: values', () => {
  it.each<[string, unknown]>([
    ['5 * value', 30],
    ['(6 + value) * 3', 36],
    ['value / 12 + 1', 1.5],
    ['value * 5.5', 33],
    ['"a " + "b"', 'a b'],
    ['name + " value is " + value', 'DevId629 value is 6'],
    ['{coordinates: [value, value], type: "Point"}', { coordinates: [6, 6], type: 'Point' }],
    ['ts | toisodate', '2021-11-18T14:20:14.901Z'],
    ['s | trim', 'hello world'],
    ['s | trim | replacestr("hello", "hi")', 'hi world'],
    ['name | length', 8],
    ['name | substr(0, 3)', 'Dev'],
    ['loc | split(", ")[1] | parsefloat', -3.70256],
    ['level / 100', 0.853],
    ['round(level * 0.897, 1)', 76.5],
    ['value > 5 ? "high" : "low"', 'high'],
    ['value == "6"', true],
    ['value === "6"', false],
    ['!(value < 3) && arr[1] == 3', true],
    ['obj.name', 'John'],
    ['arr | addreduce', 4],
    ['value | thmapper([5, 10, 20], ["low", "mid", "high"])', 'mid'],
    ['point(113.6, 34.7)', { type: 'Point', coordinates: [113.6, 34.7] }],
    ['missing * 2', NaN],
    ['obj.missing', undefined],
    ['obj["__proto__"]', undefined],
    ['-value + 1', -5],
  ])('%s', (src, expected) => {
    const v = ev(src);
    if (typeof expected === 'number' && Number.isNaN(expected)) expect(v).toBeNaN();
    else expect(v).toEqual(expected);
  });
});

describe('expressions: refused at compile time', () => {
  it.each([
    ['', /empty/],
    ['value +', /Cannot parse/],
    ['eval("1")', /Unknown function eval/],
    ['value | Function', /Unknown function Function/],
    ['obj.constructor', /not allowed/],
    ['obj.__proto__', /not allowed/],
    ['this', /not allowed/],
    ['value & 1', /operator & is not allowed/],
    ['value << 1', /not allowed/],
    ['~value', /not allowed/],
    ['obj.f(1)', /Only named functions/],
    ['a = 1', /Cannot parse|not allowed/],
    ['x'.repeat(1001), /longer than 1000/],
    ['value | 3', /must be a function/],
  ])('%s', (src, message) => {
    expect(() => compileExpression(src)).toThrow(ExpressionError);
    expect(() => compileExpression(src)).toThrow(message);
  });

  it('lists the variables an expression reads', () => {
    expect(compileExpression('level / 100 + round(x) | tostring').variables.sort()).toEqual(['level', 'x']);
  });
});

describe('reading mapping', () => {
  const device = parseDevice(
    {
      device_id: 'd1',
      entity_type: 'Bin',
      attributes: [
        { object_id: 'l', name: 'level', type: 'Number' },
        { name: 'fillingLevel', type: 'Number', expression: 'level / 100' },
        { name: 'location', type: 'geo:json', expression: '{coordinates: [lon, lat], type: "Point"}' },
        { object_id: 'on', name: 'active', type: 'Boolean' },
        { object_id: 'r', name: 'refRoad', type: 'Relationship' },
      ],
      explicitAttrs: false,
    },
    'city',
    '/',
  );
  const mapping = effectiveMapping(device);
  const ctx = {
    deviceId: 'd1',
    entityId: 'urn:ngsi-ld:Bin:d1',
    service: 'city',
    subservice: '/',
    receivedAt: '2026-01-01T00:00:00.000Z',
  };

  it('maps, converts, runs expressions in order and keeps unmapped measures', () => {
    const m = mapReading({ l: '85', lat: 34.7, lon: 113.6, on: 'true', extra: 'x' }, mapping, ctx);
    expect(m.attrs.level).toEqual({ type: 'Property', value: 85, observedAt: ctx.receivedAt });
    expect(m.attrs.fillingLevel?.value).toBe(0.85);
    expect(m.attrs.location).toMatchObject({
      type: 'GeoProperty',
      value: { type: 'Point', coordinates: [113.6, 34.7] },
    });
    expect(m.attrs.active?.value).toBe(true);
    expect(m.attrs.extra?.value).toBe('x');
    expect(m.attrs.lat?.value).toBe(34.7);
    expect(m.observedAt).toBe(ctx.receivedAt);
  });

  it('takes observedAt from TimeInstant or timestamp, and skips expressions without inputs', () => {
    const m = mapReading({ l: 1, timestamp: '2026-02-01T00:00:00+01:00' }, mapping, ctx);
    expect(m.observedAt).toBe('2026-01-31T23:00:00.000Z');
    expect(m.attrs.timestamp).toBeUndefined();
    expect(m.attrs.location).toBeUndefined();
  });

  it.each<[Record<string, unknown>, RegExp]>([
    [{ l: 'full' }, /not a number/],
    [{ on: 'maybe' }, /not a boolean/],
    [{ r: 'not a uri' }, /needs a URI/],
    [{ TimeInstant: 'now' }, /ISO 8601/],
  ])('refuses %j', (measures, message) => {
    expect(() => mapReading(measures, mapping, ctx)).toThrow(ReadingError);
    expect(() => mapReading(measures, mapping, ctx)).toThrow(message);
  });

  it('drops unmapped measures with explicitAttrs', () => {
    const m = mapReading({ l: 1, extra: 2 }, { ...mapping, explicitAttrs: true }, ctx);
    expect(Object.keys(m.attrs)).toEqual(['level', 'fillingLevel']);
  });

  it('reads geo:point text as lat, lon and puts metadata on the attribute', () => {
    expect(toAttribute('loc', 'geo:point', '34.7, 113.6')).toEqual({
      type: 'GeoProperty',
      value: { type: 'Point', coordinates: [113.6, 34.7] },
    });
    expect(
      toAttribute('t', 'Number', '21', {
        unitCode: { type: 'Text', value: 'CEL' },
        accuracy: { type: 'Number', value: 0.5 },
      }),
    ).toEqual({
      type: 'Property',
      value: 21,
      unitCode: 'CEL',
      accuracy: { type: 'Property', value: 0.5 },
    });
  });
});
