/**
 * Ultralight 2.0, the FIWARE IoT Agent text protocol for small devices: measures as
 * `key|value|key|value`, several groups separated by `#`, a group with an odd number of fields
 * starting with its timestamp; commands as `device@command|params` and their results as
 * `device@command|result`.
 */

/** One group of measures, with the timestamp the device put in front of it, if any. */
export interface UltralightGroup {
  timestamp?: string;
  measures: Record<string, string>;
}

/** The reason an Ultralight payload was refused, for the device's rejected counter. */
export class UltralightSyntaxError extends Error {
  override name = 'UltralightSyntaxError';
}

const MAX_PAYLOAD = 64 * 1024;
const KEY_RE = /^[A-Za-z0-9_.:-]{1,256}$/;
// ISO 8601 date-time, the only timestamp form devices use in front of a group.
const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses a measure payload. Empty groups (a trailing `#` or `\n`) are skipped; line breaks
 * separate groups too, as some devices send one group per line. Throws
 * {@link UltralightSyntaxError} for an empty payload, a missing value, an empty or odd key, or an
 * odd field count whose first field is not a timestamp.
 */
export function parseUltralightMeasures(payload: string): UltralightGroup[] {
  if (payload.length > MAX_PAYLOAD) throw new UltralightSyntaxError('The payload is larger than 64 KiB');
  const groups: UltralightGroup[] = [];
  for (const raw of payload.split(/[#\n]/)) {
    const text = raw.trim();
    if (text === '') continue;
    const fields = text.split('|').map((f) => f.trim());
    let start = 0;
    const group: UltralightGroup = { measures: {} };
    if (fields.length % 2 === 1) {
      const first = fields[0] ?? '';
      if (!TIMESTAMP_RE.test(first) || Number.isNaN(Date.parse(first))) {
        throw new UltralightSyntaxError(
          `The group ${JSON.stringify(text)} has a key without a value (and does not start with a timestamp)`,
        );
      }
      group.timestamp = new Date(first).toISOString();
      start = 1;
    }
    for (let i = start; i < fields.length; i += 2) {
      const key = fields[i] ?? '';
      const value = fields[i + 1] ?? '';
      if (!KEY_RE.test(key)) throw new UltralightSyntaxError(`Invalid measure name ${JSON.stringify(key)}`);
      group.measures[key] = value;
    }
    if (Object.keys(group.measures).length > 0) groups.push(group);
  }
  if (groups.length === 0) throw new UltralightSyntaxError('The payload holds no measures');
  return groups;
}

/** A command result a device sent back: `device@command|result`. */
export interface UltralightCommandResult {
  deviceId: string;
  command: string;
  result: string;
}

/** Parses a command result (`…/cmdexe` payload). Throws {@link UltralightSyntaxError}. */
export function parseUltralightCommandResult(payload: string): UltralightCommandResult {
  const text = payload.trim();
  const at = text.indexOf('@');
  if (at <= 0) throw new UltralightSyntaxError('A command result must look like device@command|result');
  const deviceId = text.slice(0, at);
  const rest = text.slice(at + 1);
  const bar = rest.indexOf('|');
  const command = bar < 0 ? rest : rest.slice(0, bar);
  const result = bar < 0 ? '' : rest.slice(bar + 1);
  if (!KEY_RE.test(command))
    throw new UltralightSyntaxError(`Invalid command name ${JSON.stringify(command)}`);
  return { deviceId, command, result };
}

/**
 * Formats a command for a device: `device@command|value`. An object value becomes `k=v` pairs
 * (`device@command|k1=v1|k2=v2`), an array its items, anything else its text.
 */
export function formatUltralightCommand(deviceId: string, command: string, value: unknown): string {
  let params: string[];
  if (value === undefined || value === null || value === '') params = [];
  else if (Array.isArray(value)) params = value.map(text);
  else if (typeof value === 'object')
    params = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k}=${text(v)}`);
  else params = [text(value)];
  return [`${deviceId}@${command}`, ...params].join('|');
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
