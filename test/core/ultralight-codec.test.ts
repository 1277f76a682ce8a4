import { describe, expect, it } from 'vitest';
import {
  UltralightSyntaxError,
  formatUltralightCommand,
  parseUltralightCommandResult,
  parseUltralightMeasures,
} from '../../src/core/iot/ultralight-codec.js';
import { parseCommandTopic, parseDeviceTopic } from '../../src/core/iot/iot-topics.js';

describe('Ultralight 2.0 measures', () => {
  const ok: [string, unknown][] = [
    ['t|25', [{ measures: { t: '25' } }]],
    ['t|25|h|42', [{ measures: { t: '25', h: '42' } }]],
    [' t | 25 | h | 42 ', [{ measures: { t: '25', h: '42' } }]],
    ['t|25#h|42', [{ measures: { t: '25' } }, { measures: { h: '42' } }]],
    ['t|25#', [{ measures: { t: '25' } }]],
    ['t|25\nh|42\n', [{ measures: { t: '25' } }, { measures: { h: '42' } }]],
    ['2026-03-01T10:00:00Z|t|25', [{ timestamp: '2026-03-01T10:00:00.000Z', measures: { t: '25' } }]],
    [
      '2026-03-01T10:00:00+08:00|t|1#t|2',
      [{ timestamp: '2026-03-01T02:00:00.000Z', measures: { t: '1' } }, { measures: { t: '2' } }],
    ],
    ['s|', [{ measures: { s: '' } }]],
    ['loc|34.7,113.6', [{ measures: { loc: '34.7,113.6' } }]],
  ];
  it.each(ok)('%j', (payload, expected) => {
    expect(parseUltralightMeasures(payload)).toEqual(expected);
  });

  const bad: [string, RegExp][] = [
    ['', /no measures/],
    ['#', /no measures/],
    ['t', /without a value/],
    ['t|1|h', /without a value/],
    ['yesterday|t|1', /without a value/],
    ['2026-13-45T99:00:00Z|t|1', /without a value/],
    ['|1', /Invalid measure name/],
    ['a b|1', /Invalid measure name/],
  ];
  it.each(bad)('refuses %j', (payload, message) => {
    expect(() => parseUltralightMeasures(payload)).toThrow(UltralightSyntaxError);
    expect(() => parseUltralightMeasures(payload)).toThrow(message);
  });

  it('refuses payloads over 64 KiB', () => {
    expect(() => parseUltralightMeasures(`t|${'1'.repeat(70_000)}`)).toThrow(/64 KiB/);
  });
});

describe('Ultralight commands', () => {
  it.each([
    ['lamp1', 'switch', 'on', 'lamp1@switch|on'],
    ['lamp1', 'dim', 40, 'lamp1@dim|40'],
    ['lamp1', 'reset', '', 'lamp1@reset'],
    ['lamp1', 'set', { level: 3, mode: 'eco' }, 'lamp1@set|level=3|mode=eco'],
    ['lamp1', 'seq', [1, 'a'], 'lamp1@seq|1|a'],
  ])('formats %s@%s %j', (device, command, value, expected) => {
    expect(formatUltralightCommand(device, command, value)).toBe(expected);
  });

  it.each([
    ['lamp1@switch|switched on', { deviceId: 'lamp1', command: 'switch', result: 'switched on' }],
    ['lamp1@switch', { deviceId: 'lamp1', command: 'switch', result: '' }],
    ['lamp1@set|a|b', { deviceId: 'lamp1', command: 'set', result: 'a|b' }],
  ])('parses the result %j', (payload, expected) => {
    expect(parseUltralightCommandResult(payload)).toEqual(expected);
  });

  it.each(['switch|on', '@switch|on', 'lamp1@|on', 'lamp1@bad name|x'])(
    'refuses the result %j',
    (payload) => {
      expect(() => parseUltralightCommandResult(payload)).toThrow(UltralightSyntaxError);
    },
  );
});

describe('IoT Agent topics', () => {
  it.each([
    ['/json/k1/d1/attrs', { kind: 'attrs', format: 'json', apikey: 'k1', deviceId: 'd1' }],
    ['json/k1/d1/attrs', { kind: 'attrs', format: 'json', apikey: 'k1', deviceId: 'd1' }],
    ['/json/k1/d1/attrs/t', { kind: 'attrs', format: 'json', apikey: 'k1', deviceId: 'd1', objectId: 't' }],
    ['/ul/k1/d1/attrs', { kind: 'attrs', format: 'ul', apikey: 'k1', deviceId: 'd1' }],
    ['/k1/d1/attrs', { kind: 'attrs', format: 'auto', apikey: 'k1', deviceId: 'd1' }],
    ['/k1/d1/attrs/h', { kind: 'attrs', format: 'auto', apikey: 'k1', deviceId: 'd1', objectId: 'h' }],
    ['/json/k1/d1/cmdexe', { kind: 'cmdexe', format: 'json', apikey: 'k1', deviceId: 'd1' }],
    ['/k1/d1/cmdexe', { kind: 'cmdexe', format: 'auto', apikey: 'k1', deviceId: 'd1' }],
  ])('%s', (topic, expected) => {
    expect(parseDeviceTopic(topic)).toEqual(expected);
  });

  it.each([
    '/k1/d1/cmd',
    '/json/k1/d1/cmd',
    '/k1/attrs',
    '/json/k1/d1/attrs/t/x',
    '/k1/d1/attrs/',
    'sensors/x',
  ])('ignores %s', (topic) => {
    expect(parseDeviceTopic(topic)).toBeUndefined();
  });
});

describe('command topics', () => {
  it.each([
    ['/k1/d1/cmd', { apikey: 'k1', deviceId: 'd1' }],
    ['/json/k1/d1/cmd', { apikey: 'k1', deviceId: 'd1' }],
    ['ul/k1/+/cmd', { apikey: 'k1', deviceId: '+' }],
  ])('%s', (topic, expected) => {
    expect(parseCommandTopic(topic)).toEqual(expected);
  });

  it.each(['/k1/d1/attrs', '/k1/d1/cmd/x', '/k1/cmd', '#'])('ignores %s', (topic) => {
    expect(parseCommandTopic(topic)).toBeUndefined();
  });
});
