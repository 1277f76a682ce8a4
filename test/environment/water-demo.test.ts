/**
 * The demo city's water stations report the GB 3838-2002 items under Smart Data Models names, and
 * their readings spread over several classes (a clean station is not the only kind the demo shows).
 */
import { describe, expect, it } from 'vitest';
import { planCity } from '../../src/sim/city-plan.js';
import { KIND_MODELS, readingOf } from '../../src/sim/sensor-models.js';
import { createRandom } from '../../src/sim/random.js';
import { waterClass } from '../../src/environment/water-class.js';

describe('the demo water stations', () => {
  const plan = planCity(11, 200);
  const segments = new Map(plan.segments.map((s) => [s.id, s]));
  const station = plan.sensors.find((s) => s.kind === 'water');
  if (!station) throw new Error('no water station');
  const byObjectId = new Map(KIND_MODELS.water.attributes.map((a) => [a.object_id, a]));

  it('map the GB 3838-2002 items to SDM attributes in mg/L', () => {
    for (const [id, name] of [
      ['o2', 'O2'],
      ['nh4', 'NH4'],
      ['codmn', 'permanganateIndex'],
      ['cod', 'cod'],
      ['tp', 'P-TOT'],
      ['tn', 'N-TOT'],
    ])
      expect(byObjectId.get(id)).toMatchObject({ name, metadata: { unitCode: { value: 'M1' } } });
  });

  it.each([
    ['winter', '2026-01-15T06:00:00Z'],
    ['summer', '2026-07-15T06:00:00Z'],
  ])('spread over several classes in %s', (_season, iso) => {
    const classes = new Set<string>();
    for (let ordinal = 0; ordinal < 12; ordinal++) {
      const r = readingOf(
        station,
        {},
        {
          at: new Date(iso),
          elapsedH: 0.01,
          rng: createRandom(ordinal + 1),
          effects: { speedFactor: () => 1, pollutionFactor: () => 1 },
          plan,
          segments,
          ordinal,
        },
      ) as Record<string, number>;
      const result = waterClass(
        {
          pH: r.ph as number,
          dissolvedOxygen: r.o2 as number,
          ammoniaNitrogen: r.nh4 as number,
          permanganateIndex: r.codmn as number,
          cod: r.cod as number,
          totalPhosphorus: r.tp as number,
        },
        { waterBody: 'river' },
      );
      classes.add(result.class);
    }
    expect(classes.size).toBeGreaterThanOrEqual(3);
  });
});
