/**
 * `citypivot demo` (what `npm start` runs): the hub, with its dashboard, plus the synthetic demo
 * city publishing over MQTT. The terminal says what runs, where, how to log in, and then keeps a
 * line of live counts. Authentication stays on (unless --auth none on loopback): the demo creates
 * a department "city operations" that may read the whole default tenant, and an `operator`
 * account in it whose password is CITYPIVOT_DEMO_PASSWORD or generated and printed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import cliProgress from 'cli-progress';
import type { HubAccess } from '../access/access-setup.js';
import { newApiKey } from '../access/token-service.js';
import type { IotService } from '../iot/iot-service.js';
import { KIND_MODELS } from '../sim/sensor-models.js';
import { loadAirReplay } from '../sim/air-replay.js';
import { startDemoCity, type DemoCity, type DemoStats } from '../sim/demo-city.js';
import { parseDemoArgs } from './config.js';
import { startHubFromConfig, untilSignal } from './hub-runner.js';
import { commandHelp } from './help.js';

export const DEMO_USER = 'operator';
const DEMO_DEPARTMENT = 'city-operations';
/** The demo's sensors publish as a gateway of this department, which may write their types only. */
const DEVICES_DEPARTMENT = 'demo-sensors';
const GATEWAY_KEY_NAME = 'demo-sensor-gateway';

export async function demoCommand(argv: string[]): Promise<number> {
  const cfg = parseDemoArgs(argv, process.env);
  if (cfg.help) {
    console.log(commandHelp('demo')?.text);
    return 0;
  }
  const log = (line: string) => console.log(line);
  const tty = process.stdout.isTTY === true;
  const hub = await startHubFromConfig(cfg, log);
  let city: DemoCity | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const stop = async () => {
    if (ticker) clearInterval(ticker);
    await city?.stop();
    await hub.stop();
  };
  try {
    const password = hub.access
      ? await ensureOperator(hub.access, process.env.CITYPIVOT_DEMO_PASSWORD || undefined) // empty: unset
      : undefined;
    const iot = hub.iot as IotService;
    const mqttLogin =
      hub.access && cfg.mqtt.mode === 'embedded' ? await demoGatewayKey(hub.access, iot) : undefined;
    log(`Building the demo city: ${cfg.sensors} sensors, seed ${cfg.seed}, speed ${cfg.speed}x`);
    const bars = tty
      ? new cliProgress.MultiBar(
          { clearOnComplete: false, hideCursor: true, format: ' {step} [{bar}] {value}/{total}' },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    const shown = new Map<string, cliProgress.SingleBar | number>();
    city = await startDemoCity(
      {
        entities: hub.entities,
        iot,
        resolveContext: (v) => hub.resolveContext(v),
        mqttUrl: hub.mqttUrl as string,
        ...(mqttLogin ? { mqttLogin } : {}),
        ...(hub.access
          ? {
              asSensorOwner: <T>(fn: () => Promise<T>) =>
                (hub.access as HubAccess).actAsDepartment(DEVICES_DEPARTMENT, 'demo', fn),
            }
          : {}),
      },
      {
        sensors: cfg.sensors,
        seed: cfg.seed,
        speed: cfg.speed,
        incidentEveryS: cfg.incidentEveryS,
        air: await loadAirReplay(process.env.CITYPIVOT_AIR_DATA || undefined),
        log: (line) => log(`${new Date().toISOString().slice(11, 19)} ${line}`),
        progress: (step, done, total) => {
          if (bars) {
            let bar = shown.get(step) as cliProgress.SingleBar | undefined;
            if (!bar) {
              bar = bars.create(total, 0, { step: step.padEnd(9) });
              shown.set(step, bar);
            }
            bar.update(done, { step: step.padEnd(9) });
            return;
          }
          // Without a terminal: a line at the start, every quarter, and the end.
          const quarter = total === 0 ? 4 : Math.floor((4 * done) / total);
          if (shown.get(step) !== quarter) {
            shown.set(step, quarter);
            log(`  ${step}: ${done}/${total}`);
          }
        },
      },
    );
    bars?.stop();
    const c = city;
    log('');
    log(`CityPivot demo city is live: ${describeKinds(c.stats())}`);
    log(`  Dashboard   ${hub.url}/`);
    if (!password) log('  Login       none (--auth none)');
    else if (password === 'from-env')
      log(`  Login       ${DEMO_USER} / the password in CITYPIVOT_DEMO_PASSWORD`);
    else if (password === 'kept')
      log(
        `  Login       ${DEMO_USER} / the password printed at the first start (to set one: CITYPIVOT_DEMO_PASSWORD=… npm start, or citypivot users passwd ${DEMO_USER})`,
      );
    else log(`  Login       ${DEMO_USER} / ${password.generated}`);
    // The full IRI of the type: the link answers without a Link header (README, First API calls).
    const air = encodeURIComponent('https://smartdatamodels.org/dataModel.Environment/AirQualityObserved');
    log(
      `  NGSI-LD     ${hub.url}/ngsi-ld/v1/entities?type=${air}&options=keyValues${password ? ' (with a token: README, First API calls)' : ''}`,
    );
    log(`  MQTT        ${hub.mqttUrl} (devices publish on /json/{apikey}/{device_id}/attrs)`);
    log('  Stop        Ctrl+C');
    log('');
    const line = () => statusLine(c.stats());
    ticker = setInterval(
      () => {
        if (tty) process.stdout.write(`\r${line()}\u001b[K`);
        else log(line());
      },
      tty ? 1000 : 30_000,
    );
    ticker.unref();
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  await untilSignal({ stop }, (l) => log(tty ? `\n${l}` : l));
  log('stopped');
  return 0;
}

function describeKinds(s: DemoStats): string {
  return Object.entries(s.kinds)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
}

function statusLine(s: DemoStats): string {
  const sim = new Date(s.simTime.getTime() + 8 * 3600_000).toISOString().slice(0, 16).replace('T', ' ');
  const lag = s.lagS >= 5 ? `, behind by ${Math.round(s.lagS)} s` : '';
  const inc =
    s.activeIncidents.length > 0 ? `, incidents: ${s.activeIncidents.map((i) => i.kind).join(' ')}` : '';
  return `city time ${sim} (UTC+8) | readings sent ${s.published}, stored ${s.stored}, failed ${s.failed}${lag}${inc}`;
}

/**
 * The demo's department, its read policy over the default tenant, and the operator account. Its
 * password is CITYPIVOT_DEMO_PASSWORD when given (set on every start, so that the variable is the
 * truth), else generated on the first start and printed; later starts keep it (a changed
 * password stays changed). Returns the generated password, 'kept' or 'from-env'.
 */
export async function ensureOperator(
  access: HubAccess,
  wanted: string | undefined,
): Promise<{ generated: string } | 'kept' | 'from-env'> {
  const { store } = access;
  await ensureDepartment(access, DEMO_DEPARTMENT, '城市运行管理中心 City operations', ['*'], 'read');
  const held = await store.getUserByName(DEMO_USER);
  if (held && wanted === undefined) return 'kept';
  const password = wanted ?? `${randomBytes(9).toString('base64url')}-Cp7`;
  const hash = await access.identity.hashPassword(DEMO_USER, password);
  if (held) {
    await store.setPassword(held.id, hash);
    await store.unlock(held.id);
  } else
    await store.createUser({
      id: randomUUID(),
      username: DEMO_USER,
      displayName: '演示值班员 Demo operator',
      department: DEMO_DEPARTMENT,
      roles: ['department-user'],
      passwordHash: hash,
    });
  await access.audit({ actor: 'system', action: 'demo.operator', target: DEMO_USER, outcome: 'success' });
  return wanted === undefined ? { generated: password } : 'from-env';
}

/** A top-level demo department, and its one policy on the default tenant when it has none yet. */
async function ensureDepartment(
  access: HubAccess,
  id: string,
  name: string,
  entityTypes: string[],
  action: 'read' | 'write',
): Promise<void> {
  const { store } = access;
  if (!(await store.listDepartments()).some((d) => d.id === id))
    await store.createDepartment({ id, name, parent: null });
  if ((await store.listPolicies([id])).length === 0)
    await store.createPolicy({
      id: randomUUID(),
      department: id,
      tenant: '',
      entityTypes,
      actions: [action],
    });
}

/**
 * The demo sensors' MQTT login: an API key of the "demo sensors" department, whose one policy lets
 * it write the demo's entity types in the default tenant and nothing else. A new key on every
 * start (the previous ones are revoked): it lives in this process only.
 */
async function demoGatewayKey(
  access: HubAccess,
  iot: IotService,
): Promise<{ username: string; password: string }> {
  const { store } = access;
  const types = await Promise.all(
    [...new Set(Object.values(KIND_MODELS).map((m) => m.entityType))].map((t) => iot.ingestion.typeIri(t)),
  );
  await ensureDepartment(access, DEVICES_DEPARTMENT, '演示城市感知设备 Demo city sensors', types, 'write');
  for (const k of await store.listApiKeys())
    if (k.name === GATEWAY_KEY_NAME && !k.revokedAt) await store.revokeApiKey(k.id);
  const k = newApiKey();
  await store.createApiKey({
    id: k.id,
    name: GATEWAY_KEY_NAME,
    secretHash: k.secretHash,
    department: DEVICES_DEPARTMENT,
    roles: ['department-user'],
    createdBy: 'system',
    expiresAt: null,
  });
  await access.audit({ actor: 'system', action: 'api-key.create', target: k.id, outcome: 'success' });
  return { username: GATEWAY_KEY_NAME, password: k.key };
}
