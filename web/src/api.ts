/**
 * The dashboard's only way to the hub: its public HTTP API. NGSI-LD calls go without an @context
 * Link, so names of Smart Data Models types and attributes come back as full IRIs; `shortName`
 * turns them into labels and the IRIs stay the keys (temporal queries ask by IRI).
 */

const TOKEN_KEY = 'citypivot.token';

export type AuthState = 'open' | 'login' | 'ready';

export function token(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = token();
  return { Accept: 'application/json', ...(t ? { Authorization: `Bearer ${t}` } : {}), ...extra };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}, extra: Record<string, string> = {}): Promise<T> {
  const res = await fetch(path, {
    ...init,
    headers: { ...headers(extra), ...(init.headers as Record<string, string>) },
  });
  if (res.status === 401 && token()) {
    sessionStorage.removeItem(TOKEN_KEY);
    window.dispatchEvent(new Event('citypivot:logout'));
  }
  if (!res.ok) {
    let detail = res.statusText;
    try {
      const body = (await res.json()) as { title?: string; detail?: string };
      detail = body.detail ?? body.title ?? detail;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, detail);
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Whether the hub wants a login (authentication on), has one, or runs open (--auth none). */
export async function authState(): Promise<AuthState> {
  const res = await fetch('/api/v1/auth/me', { headers: headers() });
  if (res.status === 404) return 'open';
  return res.ok ? 'ready' : 'login';
}

export async function login(username: string, password: string): Promise<void> {
  const r = await call<{ access_token: string }>('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  sessionStorage.setItem(TOKEN_KEY, r.access_token);
}

export async function logout(): Promise<void> {
  await call('/api/v1/auth/logout', { method: 'POST' }).catch(() => undefined);
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The last path segment or fragment of an IRI: `…/dataModel.Environment/AirQualityObserved` → `AirQualityObserved`. */
export function shortName(iri: string): string {
  const m = /[/#]([^/#]+)$/.exec(iri);
  return m ? m[1] : iri;
}

/** Any attribute value as text: objects as JSON, cut at `max` characters. */
export function display(v: unknown, max = 80): string {
  const s =
    v === undefined || v === null
      ? ''
      : typeof v === 'string'
        ? v
        : typeof v === 'number' || typeof v === 'boolean'
          ? `${v}`
          : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

export type KeyValues = { id: string; type: string | string[] } & Record<string, unknown>;

export async function entityTypes(): Promise<string[]> {
  const r = await call<{ typeList: string[] }>('/ngsi-ld/v1/types');
  return r.typeList;
}

/** Entities of a type (its IRI), keyValues, up to `max`. */
export async function entitiesOfType(type: string, max = 5000): Promise<KeyValues[]> {
  const out: KeyValues[] = [];
  for (let offset = 0; offset < max; offset += 1000) {
    const page = await call<KeyValues[]>(
      `/ngsi-ld/v1/entities?type=${encodeURIComponent(type)}&limit=${Math.min(1000, max - offset)}&offset=${offset}&options=keyValues`,
    );
    out.push(...page);
    if (page.length < 1000) break;
  }
  return out;
}

export function searchEntities(type: string, idPart: string): Promise<KeyValues[]> {
  const q = idPart.trim()
    ? `&idPattern=${encodeURIComponent(`.*${idPart.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*`)}`
    : '';
  return call<KeyValues[]>(
    `/ngsi-ld/v1/entities?type=${encodeURIComponent(type)}${q}&limit=50&options=keyValues`,
  );
}

export function entity(id: string): Promise<Record<string, unknown>> {
  return call<Record<string, unknown>>(`/ngsi-ld/v1/entities/${encodeURIComponent(id)}`);
}

/** [value, observedAt] pairs of one attribute since `since`. */
export async function history(id: string, attr: string, since: Date): Promise<[number, string][]> {
  const r = await call<Record<string, unknown>>(
    `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(id)}?attrs=${encodeURIComponent(attr)}&timerel=after&timeAt=${since.toISOString()}&options=temporalValues`,
  );
  const a = r[attr] as { values?: [unknown, string][] } | { values?: [unknown, string][] }[] | undefined;
  const first = Array.isArray(a) ? a[0] : a;
  return (first?.values ?? [])
    .filter((v): v is [number, string] => typeof v[0] === 'number')
    .sort((x, y) => x[1].localeCompare(y[1]));
}

export interface DeviceRow {
  device_id: string;
  entity_name: string;
  entity_type: string;
  service_path: string;
  health?: string;
  lastSeen?: string;
  readings?: {
    received: number;
    accepted: number;
    rejected: number;
    quarantined?: number;
    lastError?: string;
  };
}

export async function devices(): Promise<{ count: number; devices: DeviceRow[] }> {
  return call('/iot/devices?limit=1000&status=true', {}, { 'fiware-servicepath': '/*' });
}

export async function iotStats(): Promise<{
  devices: number;
  received: number;
  accepted: number;
  rejected: number;
  health?: { online: number; offline: number };
}> {
  return call('/api/v1/iot/stats');
}

export interface ChangeEvent {
  id: string;
  kind: 'created' | 'updated' | 'deleted';
  type: string[];
  entity?: KeyValues;
}

/**
 * The live stream (GET /api/v1/stream, Server-Sent Events) read with fetch, so that the token goes
 * in a header, not in the URL. Reconnects after a pause until `signal` aborts.
 */
export async function follow(
  onEvent: (e: ChangeEvent) => void,
  signal: AbortSignal,
  onState?: (live: boolean) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await fetch('/api/v1/stream?options=keyValues', {
        headers: headers({ Accept: 'text/event-stream' }),
        signal,
      });
      if (!res.ok || !res.body) throw new ApiError(res.status, res.statusText);
      onState?.(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (data) onEvent(JSON.parse(data) as ChangeEvent);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    onState?.(false);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
