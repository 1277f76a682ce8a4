/**
 * Connections the hub opens for API callers (notifications, @context fetches) go only to addresses
 * the endpoint rules allow (core/addresses/endpoint-rules.ts). The check is made on the address actually
 * connected to, after name resolution: a name that resolves to a metadata address, or that
 * resolves differently the second time (DNS rebinding), is caught at the connection itself.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import {
  EndpointRefusedError,
  createEndpointPolicy,
  literalIp,
  type EndpointPolicy,
  type EndpointRules,
} from '../core/addresses/endpoint-rules.js';

/** Resolves a name to all its addresses (default: `dns.lookup` with `all`, as Node's net does). */
export type HostResolver = (hostname: string, options: dns.LookupOptions) => Promise<dns.LookupAddress[]>;

/** The outbound rules, as connections use them; see {@link createOutboundGuard}. */
export interface OutboundGuard {
  readonly policy: EndpointPolicy;
  /**
   * The addresses of a host (a name, an IP literal, `[v6]`), every one of them allowed.
   * @throws EndpointRefusedError when any address is refused.
   */
  resolve(host: string, options?: dns.LookupOptions): Promise<dns.LookupAddress[]>;
  /** A `lookup` for net, tls and http: {@link OutboundGuard.resolve} in callback form. */
  readonly lookup: LookupFunction;
  /**
   * An http(s) agent whose connections to names go through the guarded `lookup`. Node does not call
   * `lookup` for an IP literal (net.js lookupAndConnect, Node 20): check the host first with
   * {@link OutboundGuard.checkHost}.
   */
  agent(protocol: 'http:' | 'https:', options?: http.AgentOptions): http.Agent;
  /**
   * Refuses a URL host that is an IP literal the rules refuse (`[v6]` included); a name passes, to
   * be checked on its addresses when connecting.
   * @throws EndpointRefusedError
   */
  checkHost(host: string): void;
}

const systemResolver: HostResolver = (hostname, options) =>
  dns.promises.lookup(hostname, { ...options, all: true });

/**
 * Creates the guard. A name with several addresses is refused when any one of them is refused,
 * rather than connected through the others: such a name is a misconfiguration or an attack
 * (rebinding), and the city should see it in the subscription's lastFailure, not have it
 * work on some attempts and fail on others.
 */
export function createOutboundGuard(
  opts: { rules?: EndpointRules; resolver?: HostResolver } = {},
): OutboundGuard {
  const policy = createEndpointPolicy(opts.rules);
  const resolver = opts.resolver ?? systemResolver;

  function checkLiteral(ip: string, host?: string): dns.LookupAddress {
    const v = policy.check(ip);
    if (!v.allowed) throw new EndpointRefusedError(v, host);
    return { address: ip, family: ip.includes(':') ? 6 : 4 };
  }

  async function resolve(host: string, options: dns.LookupOptions = {}): Promise<dns.LookupAddress[]> {
    const ip = literalIp(host);
    if (ip !== undefined) return [checkLiteral(ip)];
    const found = await resolver(host, { ...options, all: true });
    if (found.length === 0) throw Object.assign(new Error(`${host}: no address`), { code: 'ENOTFOUND' });
    return found.map((a) => checkLiteral(a.address, host));
  }

  const lookup: LookupFunction = (hostname, options, callback) => {
    resolve(hostname, options).then(
      (all) => {
        if (options.all) callback(null, all);
        else callback(null, (all[0] as dns.LookupAddress).address, (all[0] as dns.LookupAddress).family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };

  return {
    policy,
    resolve,
    lookup,
    agent(protocol, options = {}) {
      // Agent options go into every connection's options, over the request's own.
      return protocol === 'https:'
        ? new https.Agent({ ...options, lookup })
        : new http.Agent({ ...options, lookup });
    },
    checkHost(host) {
      const ip = literalIp(host);
      if (ip !== undefined) checkLiteral(ip);
    },
  };
}
