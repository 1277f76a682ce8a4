/**
 * MQTT topics in the FIWARE IoT Agent conventions:
 * `/json/{apikey}/{device_id}/attrs[/{object_id}]`, `/ul/{apikey}/{device_id}/attrs[/{object_id}]`,
 * `/{apikey}/{device_id}/attrs[/{object_id}]` (JSON or Ultralight, told apart by the payload),
 * `…/cmdexe` for command results, and `/{apikey}/{device_id}/cmd` (`/json/…/cmd`) for commands.
 * The leading slash is optional, as in the IoT Agents.
 */

export const TOPIC_FORMATS = ['json', 'ul', 'auto'] as const;
export type TopicFormat = (typeof TOPIC_FORMATS)[number];

export type DeviceTopic =
  | { kind: 'attrs'; format: TopicFormat; apikey: string; deviceId: string; objectId?: string }
  | { kind: 'cmdexe'; format: TopicFormat; apikey: string; deviceId: string };

/** The topic filters the gateway subscribes to on an external broker. */
export const SOUTHBOUND_TOPIC_FILTERS = [
  '/json/+/+/attrs',
  '/json/+/+/attrs/+',
  '/json/+/+/cmdexe',
  '/ul/+/+/attrs',
  '/ul/+/+/attrs/+',
  '/ul/+/+/cmdexe',
  '/+/+/attrs',
  '/+/+/attrs/+',
  '/+/+/cmdexe',
  'json/+/+/attrs',
  'json/+/+/attrs/+',
  'json/+/+/cmdexe',
  'ul/+/+/attrs',
  'ul/+/+/attrs/+',
  'ul/+/+/cmdexe',
] as const;

/** A topic's levels after the optional leading slash and `json`/`ul` prefix, and its format. */
function levels(topic: string): { format: TopicFormat; parts: string[] } {
  const parts = (topic.startsWith('/') ? topic.slice(1) : topic).split('/');
  if (parts[0] === 'json' || parts[0] === 'ul') return { format: parts[0], parts: parts.slice(1) };
  return { format: 'auto', parts };
}

/** Parses a device topic; `undefined` for topics that are not device traffic (commands included). */
export function parseDeviceTopic(topic: string): DeviceTopic | undefined {
  const { format, parts } = levels(topic);
  const [apikey, deviceId, kind, objectId, ...extra] = parts;
  if (!apikey || !deviceId || extra.length > 0) return undefined;
  if (kind === 'attrs') {
    if (objectId === '') return undefined;
    return objectId === undefined
      ? { kind, format, apikey, deviceId }
      : { kind, format, apikey, deviceId, objectId };
  }
  if (kind === 'cmdexe' && objectId === undefined) return { kind, format, apikey, deviceId };
  return undefined;
}

/**
 * A command topic or topic filter, `[/json|/ul]/{apikey}/{device_id}/cmd` (levels may be
 * wildcards; the caller decides which it accepts); `undefined` for anything else.
 */
export function parseCommandTopic(topic: string): { apikey: string; deviceId: string } | undefined {
  const [apikey, deviceId, kind, ...extra] = levels(topic).parts;
  if (!apikey || !deviceId || kind !== 'cmd' || extra.length > 0) return undefined;
  return { apikey, deviceId };
}

/** The topic a command is published on: `/{apikey}/{device_id}/cmd`, `/json/…/cmd` for JSON devices. */
export function commandTopic(apikey: string, deviceId: string, json: boolean): string {
  return `${json ? '/json' : ''}/${apikey}/${deviceId}/cmd`;
}
