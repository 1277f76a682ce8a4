/**
 * The demo city's key energy-using units: its meters grouped a few to an enterprise
 * (METERS_PER_UNIT), all of one sector on one site, each meter linked by refEnergyUnit to a
 * KeyEnergyUnit entity with an annual quota and a floor area.
 */
import { describe, expect, it } from 'vitest';
import { METERS_PER_UNIT, planCity } from '../../src/sim/city-plan.js';
import { energyUnitIdOf, energyUnitsOf, staticAttributesOf } from '../../src/sim/sensor-models.js';

describe('the demo’s key energy-using units', () => {
  const plan = planCity(7, 20_000);
  const meters = plan.sensors.filter((s) => s.kind === 'energy');
  const units = energyUnitsOf(plan);

  it('groups the meters a few to a unit, of one sector each', () => {
    expect(meters).toHaveLength(1600);
    expect(units).toHaveLength(Math.ceil(1600 / METERS_PER_UNIT));
    const first = meters.slice(0, METERS_PER_UNIT);
    expect(new Set(first.map((m) => m.unit))).toEqual(new Set([1]));
    expect(new Set(first.map((m) => m.sector)).size).toBe(1);
    expect(first[0]?.name).toBe('重点用能单位 1 (汽车制造) 电表 1');
    expect(meters[METERS_PER_UNIT]?.name).toBe('重点用能单位 2 (电子信息) 电表 1');
    expect(meters[METERS_PER_UNIT]?.sector).toBe('electronics');
  });

  it('links each meter to its unit and gives the unit a quota and a floor area', () => {
    const m = meters[4];
    expect(staticAttributesOf(m!)).toContainEqual({
      name: 'refEnergyUnit',
      type: 'Relationship',
      value: energyUnitIdOf(2),
    });
    const u = units[1] as Record<string, { value: unknown }>;
    expect(u.id).toBe('urn:ngsi-ld:KeyEnergyUnit:demo-unit-0002');
    expect(u.type).toBe('KeyEnergyUnit');
    expect(u.name?.value).toBe('重点用能单位 2 (电子信息)');
    expect(u.sector?.value).toBe('electronics');
    const peak = meters.slice(3, 6).reduce((s, x) => s + (x.capacity ?? 0), 0);
    // 5 % above a year at half the peak load; 60 W/m² of peak
    expect(u.annualQuota?.value).toBe(Math.round((peak * 0.5 * 8760 * 1.05) / 1000) * 1000);
    expect(u.floorArea?.value).toBe(Math.round((peak * 1000) / 60 / 100) * 100);
  });
});
