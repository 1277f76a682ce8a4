import { describe, expect, it } from 'vitest';
import { UsageError, parseDemoArgs } from '../../src/cli/config.js';

describe('citypivot demo arguments', () => {
  it('has defaults: 500 sensors, real time, a fixed seed, authentication on', () => {
    const c = parseDemoArgs([], {});
    expect(c).toMatchObject({
      sensors: 500,
      speed: 1,
      seed: 20261202,
      incidentEveryS: 90,
      auth: 'on',
      port: 1026,
    });
  });

  it('takes its own flags, serve flags and environment variables', () => {
    const c = parseDemoArgs(['--sensors', '2000', '--speed=60', '--port', '0', '--db', 'memory://'], {
      CITYPIVOT_SEED: '42',
    });
    expect(c).toMatchObject({ sensors: 2000, speed: 60, seed: 42, port: 0, db: 'memory://' });
  });

  it('refuses bad values with a usage error', () => {
    for (const argv of [
      ['--sensors', '100001'],
      ['--sensors', 'many'],
      ['--sensors', '-1'],
      ['--speed', '0'],
      ['--seed', '1.5'],
      ['--incident-every', '-3'],
      ['--no-mqtt'],
      ['--bogus'],
    ])
      expect(() => parseDemoArgs(argv, {}), argv.join(' ')).toThrow(UsageError);
  });
});
