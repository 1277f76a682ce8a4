import { describe, expect, it } from 'vitest';
import { UsageError, isLoopback, parseServeArgs } from '../../src/cli/config.js';

describe('serve flags and environment', () => {
  it('has defaults', () => {
    const c = parseServeArgs([], {});
    expect(c).toMatchObject({
      port: 1026,
      host: '127.0.0.1',
      db: './data',
      auth: 'on',
      mqtt: { mode: 'embedded', port: 1883 },
      mqttAnonymous: false,
      fetchContexts: true,
    });
  });

  it('reads flags, then CITYPIVOT_ variables', () => {
    const env = { CITYPIVOT_PORT: '2000', CITYPIVOT_DB: 'postgres://u@h:5/db', CITYPIVOT_AUTH: 'none' };
    expect(parseServeArgs([], env)).toMatchObject({ port: 2000, db: 'postgres://u@h:5/db', auth: 'none' });
    expect(parseServeArgs(['--port', '3000', '--db', 'memory://'], env)).toMatchObject({
      port: 3000,
      db: 'memory://',
    });
    expect(parseServeArgs(['--no-mqtt'], {}).mqtt).toEqual({ mode: 'off' });
    expect(parseServeArgs([], { CITYPIVOT_NO_MQTT: 'true' }).mqtt).toEqual({ mode: 'off' });
    expect(parseServeArgs(['--mqtt', 'mqtt://broker:1883'], {}).mqtt).toEqual({
      mode: 'external',
      url: 'mqtt://broker:1883',
    });
    expect(parseServeArgs(['--mqtt-anonymous'], {}).mqttAnonymous).toBe(true);
    expect(parseServeArgs([], { CITYPIVOT_MQTT_ANONYMOUS: 'yes' }).mqttAnonymous).toBe(true);
    expect(parseServeArgs([], {}).entityCache).toBeUndefined();
    expect(parseServeArgs(['--entity-cache', '0'], {}).entityCache).toBe(0);
    expect(parseServeArgs([], { CITYPIVOT_ENTITY_CACHE: '50000' }).entityCache).toBe(50000);
    expect(parseServeArgs([], {}).dbPool).toBeUndefined();
    expect(parseServeArgs(['--db-pool', '40'], { CITYPIVOT_DB_POOL: '8' }).dbPool).toBe(40);
    expect(parseServeArgs([], {}).feedRetentionMs).toBeUndefined();
    expect(parseServeArgs(['--feed-retention', 'PT2H'], {}).feedRetentionMs).toBe(7_200_000);
    expect(parseServeArgs([], { CITYPIVOT_FEED_RETENTION: 'P7D' }).feedRetentionMs).toBe(604_800_000);
    expect(parseServeArgs([], {}).aqiStandard).toBeUndefined();
    expect(parseServeArgs(['--aqi-standard', 'HJ 633-2012'], {}).aqiStandard).toBe('HJ 633-2012');
    expect(parseServeArgs([], { CITYPIVOT_AQI_STANDARD: 'HJ 633-2026' }).aqiStandard).toBe('HJ 633-2026');
    expect(parseServeArgs([], {}).indicators).toBe(true);
    expect(parseServeArgs(['--no-indicators'], {}).indicators).toBe(false);
    expect(parseServeArgs([], { CITYPIVOT_NO_INDICATORS: '1' }).indicators).toBe(false);
    expect(parseServeArgs(['--aqi-standard', 'by-date'], {}).aqiStandard).toBe('by-date');
  });

  it.each([
    [['--port', 'abc']],
    [['--port', '70000']],
    [['--auth', 'maybe']],
    [['--mqtt', 'http://x']],
    [['--unknown']],
    [['extra']],
    [['--log-level', 'loud']],
    [['--entity-cache', '-1']],
    [['--entity-cache', 'lots']],
    [['--db-pool', '1']],
    [['--db-pool', 'many']],
    [['--trust-proxy', '10.0.0.0/33']],
    [['--trust-proxy', 'proxy.example']],
    [['--deny-endpoints', '1.2.3']],
    [['--allow-endpoints', 'fe80::/129']],
    [['--feed-retention', 'P1M']],
    [['--feed-retention', 'soon']],
    [['--feed-retention', '3600']],
    [['--aqi-standard', 'HJ 633']],
    [['--aqi-standard', 'US EPA']],
  ])('refuses %j with a usage error', (argv) => {
    expect(() => parseServeArgs(argv, {})).toThrow(UsageError);
  });

  it('reads proxy and outbound address ranges', () => {
    const c = parseServeArgs([], {});
    expect(c.trustProxy).toEqual([]);
    expect(c.denyEndpoints).toEqual([]);
    expect(c.allowEndpoints).toEqual([]);
    expect(parseServeArgs(['--trust-proxy', '10.0.0.5, 192.168.0.0/16'], {}).trustProxy).toEqual([
      '10.0.0.5/32',
      '192.168.0.0/16',
    ]);
    expect(parseServeArgs([], { CITYPIVOT_TRUST_PROXY: '::1' }).trustProxy).toEqual(['::1/128']);
    expect(parseServeArgs(['--trust-proxy', 'none'], {}).trustProxy).toEqual([]);
    const out = parseServeArgs(
      ['--deny-endpoints', '10.0.0.0/8', '--allow-endpoints', '169.254.10.0/24'],
      {},
    );
    expect(out.denyEndpoints).toEqual(['10.0.0.0/8']);
    expect(out.allowEndpoints).toEqual(['169.254.10.0/24']);
    expect(() => parseServeArgs(['--trust-proxy', 'x/8'], {})).toThrow(/--trust-proxy: "x\/8"/);
  });

  it('knows loopback hosts', () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('localhost')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('0.0.0.0')).toBe(false);
    expect(isLoopback('192.168.1.2')).toBe(false);
  });
});
