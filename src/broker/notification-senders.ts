/**
 * Sends one notification to its endpoint (NGSI-LD §5.8.6, bindings §7.2 HTTP and §7.3 MQTT).
 * HTTP(S): POST with the @context as a Link header (application/json) or in the body
 * (application/ld+json), receiverInfo as headers. MQTT(S): published on the topic of the endpoint
 * URI, as `{metadata, body}`, with the QoS of notifierInfo `MQTT-QoS`; one client per broker.
 */
import http from 'node:http';
import https from 'node:https';
import mqtt from 'mqtt';
import type { NotificationEndpoint } from '../core/subscription/subscription-model.js';
import type { ClaimedNotification } from '../core/subscription/subscription-store.js';
import { EndpointRefusedError } from '../core/addresses/endpoint-rules.js';
import { createOutboundGuard, type OutboundGuard } from './outbound-guard.js';

const JSONLD_CONTEXT_REL = 'http://www.w3.org/ns/json-ld#context';
const CORE_CONTEXT = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld';

export interface NotificationMessage {
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** Builds the Notification (NGSI-LD §5.3.1) and its headers for one attempt. */
export function notificationMessage(
  n: ClaimedNotification,
  target: NotificationEndpoint,
  at: string,
): NotificationMessage {
  const body: Record<string, unknown> = {
    id: n.notificationId,
    type: 'Notification',
    subscriptionId: n.subscriptionId,
    notifiedAt: at,
    data: n.payload.data,
  };
  if (n.payload.trigger !== undefined) body.triggerReason = n.payload.trigger;
  const headers: Record<string, string> = {};
  if (target.accept === 'application/ld+json') {
    headers['Content-Type'] = 'application/ld+json';
    const context = n.payload.context ?? CORE_CONTEXT;
    body['@context'] = context;
    // Each entity is a JSON-LD document of its own too, so that it can be taken out and stored.
    body.data = n.payload.data.map((e) => ({ ...e, '@context': context }));
  } else {
    headers['Content-Type'] = 'application/json';
    const url =
      typeof n.payload.context === 'string' ? n.payload.context : linkableContext(n.payload.context);
    headers.Link = `<${url}>; rel="${JSONLD_CONTEXT_REL}"; type="application/ld+json"`;
  }
  if (n.tenant !== '') headers['NGSILD-Tenant'] = n.tenant;
  for (const kv of target.receiverInfo ?? []) headers[kv.key] = kv.value;
  return { headers, body };
}

/** A context given as a list of URLs links to its last URL that is not the core context. */
function linkableContext(ctx: unknown): string {
  if (Array.isArray(ctx)) {
    const urls = ctx.filter((c): c is string => typeof c === 'string' && c !== CORE_CONTEXT);
    if (urls.length > 0) return urls[urls.length - 1] as string;
  }
  return CORE_CONTEXT;
}

export interface NotificationSender {
  /** Resolves on success; rejects with a message for the subscription's lastFailure otherwise. */
  send(n: ClaimedNotification, target: NotificationEndpoint, at: string, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Options of the senders. */
export interface SenderOptions {
  /** Where connections may go; default: the built-in rules only. */
  guard?: OutboundGuard;
}

/**
 * HTTP(S) POST with Node's http client over keep-alive connections; any 2xx is a success. (Not
 * fetch: per notification it built request, response and abort objects that cost the dispatcher
 * about half its time under a fan-out.) Redirects are not followed. Every new connection goes to
 * an address the guard allows (an IP literal checked before the request, a name's addresses when
 * it is resolved); a refusal is a failed delivery whose message names the rule.
 */
export function createHttpSender(opts: SenderOptions = {}): NotificationSender {
  const guard = opts.guard ?? createOutboundGuard();
  // Idle connections are closed after 4 s, before the receiver's own keep-alive timeout (5 s in
  // Node's server, more elsewhere) could close one under a new request.
  const keep = { keepAlive: true, timeout: 4000 };
  const agents = { 'http:': guard.agent('http:', keep), 'https:': guard.agent('https:', keep) };
  return {
    send(n, target, at, timeoutMs) {
      const msg = notificationMessage(n, target, at);
      const body = Buffer.from(JSON.stringify(msg.body));
      let url: URL;
      try {
        url = new URL(target.uri);
      } catch {
        return Promise.reject(new Error(`${target.uri}: not a URL`));
      }
      const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
      if (!client) return Promise.reject(new Error(`${target.uri}: not an http(s) URL`));
      return new Promise<void>((resolve, reject) => {
        const fail = (err: Error & { code?: string }) =>
          reject(new Error(`${target.uri}: ${failure(err, timeoutMs)}`, { cause: err }));
        try {
          guard.checkHost(url.hostname);
        } catch (err) {
          fail(err as Error);
          return;
        }
        const req = client.request(
          url,
          {
            method: 'POST',
            headers: { ...msg.headers, 'Content-Length': String(body.length) },
            agent: agents[url.protocol as 'http:' | 'https:'],
            signal: AbortSignal.timeout(timeoutMs),
          },
          (res) => {
            // Read the answer to its end, so that the connection can be reused.
            res.resume();
            res.on('error', fail);
            res.on('end', () => {
              const status = res.statusCode ?? 0;
              if (status >= 200 && status <= 299) resolve();
              else reject(new Error(`${target.uri} answered HTTP ${status}`));
            });
          },
        );
        req.on('error', fail);
        req.end(body);
      });
    },
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
      return Promise.resolve();
    },
  };
}

/** Why a request failed, for lastFailure: the rule that refused it, a timeout, or the error code. */
function failure(err: Error & { code?: string }, timeoutMs: number): string {
  if (err instanceof EndpointRefusedError) return err.message;
  if (err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return err.code ?? err.message;
}

/**
 * MQTT(S) publish; one connection per broker, opened on first use. The broker's host is resolved
 * and checked by the guard first, and the client connects to that checked address (keeping the
 * name for TLS: SNI and the certificate check).
 */
export function createMqttSender(opts: SenderOptions = {}): NotificationSender {
  const guard = opts.guard ?? createOutboundGuard();
  const clients = new Map<string, Promise<mqtt.MqttClient>>();

  function keyOf(url: URL, target: NotificationEndpoint): string {
    return `${url.protocol}//${url.username}:${url.password}@${url.host}#${versionOf(target)}`;
  }

  function versionOf(target: NotificationEndpoint): 4 | 5 {
    return info(target, 'MQTT-Version') === 'mqtt5.0' ? 5 : 4;
  }

  function evict(key: string): void {
    const p = clients.get(key);
    clients.delete(key);
    void p?.then((c) => c.endAsync(true)).catch(() => undefined);
  }

  async function clientFor(
    url: URL,
    target: NotificationEndpoint,
    timeoutMs: number,
  ): Promise<mqtt.MqttClient> {
    const key = keyOf(url, target);
    const held = clients.get(key);
    if (held) {
      const c = await held.catch(() => undefined);
      // A client whose broker went away (or refused it) is replaced rather than waited for.
      if (c?.connected) return c;
      evict(key);
    }
    const options: mqtt.IClientOptions = {
      protocolVersion: versionOf(target),
      connectTimeout: timeoutMs,
      reconnectPeriod: 0,
    };
    if (url.username) options.username = decodeURIComponent(url.username);
    if (url.password) options.password = decodeURIComponent(url.password);
    const p = connectChecked(url, options);
    clients.set(key, p);
    p.catch(() => clients.delete(key));
    return p;
  }

  async function connectChecked(url: URL, options: mqtt.IClientOptions): Promise<mqtt.MqttClient> {
    const secure = url.protocol === 'mqtts:';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    let address: string;
    try {
      // The first address, as net would pick with autoSelectFamily off; all of them are allowed.
      address = ((await guard.resolve(host))[0] as { address: string }).address;
    } catch (err) {
      throw new Error(`${url.protocol}//${url.host}: ${(err as Error).message}`, { cause: err });
    }
    return mqtt.connectAsync({
      ...options,
      protocol: secure ? 'mqtts' : 'mqtt',
      host: address,
      ...(url.port ? { port: Number(url.port) } : {}),
      ...(secure && address !== host ? { servername: host } : {}),
    });
  }

  return {
    async send(n, target, at, timeoutMs) {
      const url = new URL(target.uri);
      const topic = decodeURIComponent(url.pathname.replace(/^\//, ''));
      if (topic === '') throw new Error(`${target.uri} names no topic`);
      const qos = Number(info(target, 'MQTT-QoS') ?? 0);
      if (qos !== 0 && qos !== 1 && qos !== 2) throw new Error(`MQTT-QoS must be 0, 1 or 2`);
      const msg = notificationMessage(n, target, at);
      try {
        const client = await withTimeout(clientFor(url, target, timeoutMs), timeoutMs, target.uri);
        await withTimeout(
          client.publishAsync(topic, JSON.stringify({ metadata: msg.headers, body: msg.body }), { qos }),
          timeoutMs,
          target.uri,
        );
      } catch (err) {
        evict(keyOf(url, target));
        throw err;
      }
    },
    async close() {
      const all = [...clients.values()];
      clients.clear();
      // Forced: a client still trying to reach a dead broker must not hold the hub's shutdown.
      await Promise.all(all.map((p) => p.then((c) => c.endAsync(true)).catch(() => undefined)));
    },
  };
}

function info(target: NotificationEndpoint, key: string): string | undefined {
  return target.notifierInfo?.find((kv) => kv.key === key)?.value;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
