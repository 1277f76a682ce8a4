/**
 * Which IP addresses the hub may connect to when it acts for an API caller (notifications,
 * @context fetches): a defence against server-side request forgery. Pure: it judges addresses;
 * resolving names and refusing connections is the broker's job (broker/outbound-guard.ts).
 *
 * Order of the rules: an `allow` range wins over everything; then the built-in ranges and the
 * city's `deny` ranges refuse; anything else is allowed. Loopback and private networks are allowed
 * by default, because a city's own systems live there.
 */
import { cidrSet, formatCidr, parseCidr, type Cidr } from './cidr.js';

/** The operator's rules (`--deny-endpoints`, `--allow-endpoints`): IP addresses or CIDR ranges. */
export interface EndpointRules {
  deny?: readonly string[];
  allow?: readonly string[];
}

/** Ranges refused unless an allow rule opens them, with what lives there. */
export const BUILT_IN_DENIED: readonly { range: string; what: string }[] = [
  { range: '0.0.0.0/8', what: '"this network": 0.0.0.0 reaches the hub\'s own host' },
  {
    range: '169.254.0.0/16',
    what: 'IPv4 link-local: cloud metadata services, 169.254.169.254 and 169.254.170.2',
  },
  { range: '100.100.100.200/32', what: 'Alibaba Cloud metadata service' },
  { range: '224.0.0.0/4', what: 'IPv4 multicast' },
  { range: '240.0.0.0/4', what: 'reserved, and the broadcast address 255.255.255.255' },
  { range: '::/128', what: "the unspecified IPv6 address: it reaches the hub's own host" },
  { range: 'fe80::/10', what: 'IPv6 link-local' },
  { range: 'ff00::/8', what: 'IPv6 multicast' },
  { range: 'fd00:ec2::254/128', what: 'AWS IPv6 metadata service' },
];

const ALLOW_FLAG = '--allow-endpoints (CITYPIVOT_ALLOW_ENDPOINTS)';
const DENY_FLAG = '--deny-endpoints (CITYPIVOT_DENY_ENDPOINTS)';

/** What the rules say about one address. */
export type EndpointVerdict =
  | {
      allowed: true;
      address: string;
      /** The allow range covering the address, when one does (it would be allowed whatever else said). */
      allowedBy?: string;
    }
  | {
      allowed: false;
      address: string;
      /** The range that refused it ('' for text that is not an IP address). */
      range: string;
      by: 'built-in' | 'deny' | 'not-an-address';
      /** Completes "<address> is …": the range, the rule and the flag that opens it. */
      reason: string;
    };

/** Compiled rules; see {@link createEndpointPolicy}. */
export interface EndpointPolicy {
  /** Judges an IPv4 or IPv6 address (zone index allowed); text that is not one is refused. */
  check(address: string): EndpointVerdict;
}

interface Range {
  text: string;
  what?: string;
  set: { has(address: string): boolean };
}

/**
 * Compiles the rules. The built-in ranges ({@link BUILT_IN_DENIED}) are always there; `deny` adds to
 * them, `allow` opens any address it covers, built-in or denied (so `--allow-endpoints
 * 169.254.10.0/24` reaches a device on a link-local network while the metadata service stays
 * refused). An IPv6 address that carries an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, SIIT
 * `::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is
 * judged both as itself and as that IPv4 address.
 *
 * @throws Error naming the flag and the range when a rule is not an address or CIDR range.
 */
export function createEndpointPolicy(rules: EndpointRules = {}): EndpointPolicy {
  const ranges = (list: readonly string[] | undefined, flag: string): Range[] =>
    (list ?? []).map((text) => {
      let c: Cidr;
      try {
        c = parseCidr(text);
      } catch (err) {
        throw new Error(`${flag}: ${(err as Error).message}`, { cause: err });
      }
      return { text: formatCidr(c), set: cidrSet([c]) };
    });
  const builtIn: Range[] = BUILT_IN_DENIED.map((b) => ({
    text: b.range,
    what: b.what,
    set: cidrSet([parseCidr(b.range)]),
  }));
  const deny = ranges(rules.deny, '--deny-endpoints');
  const allow = ranges(rules.allow, '--allow-endpoints');
  const find = (list: Range[], forms: string[]) => {
    for (const r of list) if (forms.some((f) => r.set.has(f))) return r;
    return undefined;
  };

  return {
    check(address) {
      const ip = parseIp(address);
      if (!ip)
        return { allowed: false, address, range: '', by: 'not-an-address', reason: 'not an IP address' };
      const forms = ip.embedded === undefined ? [ip.canonical] : [ip.canonical, ip.embedded.address];
      const opened = find(allow, forms);
      if (opened) return { allowed: true, address, allowedBy: opened.text };
      const via = ip.embedded === undefined ? '' : `the ${ip.embedded.form} form of ${ip.embedded.address}, `;
      const b = find(builtIn, forms);
      if (b)
        return {
          allowed: false,
          address,
          range: b.text,
          by: 'built-in',
          reason: `${via}in ${b.text} (${b.what}), refused by a built-in rule; ${ALLOW_FLAG} opens it`,
        };
      const d = find(deny, forms);
      if (d)
        return {
          allowed: false,
          address,
          range: d.text,
          by: 'deny',
          reason: `${via}in ${d.text}, refused by ${DENY_FLAG}; ${ALLOW_FLAG} opens it`,
        };
      return { allowed: true, address };
    },
  };
}

/** "<address> is <reason>": a refusal as one sentence. */
export function refusalMessage(v: EndpointVerdict & { allowed: false }): string {
  return `${v.address} is ${v.reason}`;
}

/**
 * Why the hub may not connect to a URL host, when the host is an IP address the policy refuses
 * ("the hub does not connect to 169.254.169.254, which is in …"); undefined for an allowed address
 * and for a name, which is judged on its addresses when resolved.
 */
export function hostRefusal(policy: EndpointPolicy, host: string): string | undefined {
  const ip = literalIp(host);
  if (ip === undefined) return undefined;
  const v = policy.check(ip);
  return v.allowed ? undefined : `the hub does not connect to ${ip}, which is ${v.reason}`;
}

/** A connection refused by the outbound rules; the message names the rule and the flag opening it. */
export class EndpointRefusedError extends Error {
  readonly verdict: EndpointVerdict & { allowed: false };
  /** @param host the name that resolved to the address, when it was not the address itself. */
  constructor(verdict: EndpointVerdict & { allowed: false }, host?: string) {
    super(
      host === undefined || host === verdict.address
        ? refusalMessage(verdict)
        : `${host} resolves to ${verdict.address}, which is ${verdict.reason}`,
    );
    this.name = 'EndpointRefusedError';
    this.verdict = verdict;
  }
}

/**
 * The IP address a URL's host is, or undefined for a name: `[::1]` → `::1`, `10.0.0.1` → itself.
 * (WHATWG URL parsing has already turned `0x7f.1` and the like into dotted decimal.)
 */
export function literalIp(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return parseIp(bare) ? bare : undefined;
}

interface ParsedIp {
  /** Dotted decimal, or eight lower-case hex groups: a form Node's BlockList always reads. */
  canonical: string;
  embedded?: { address: string; form: string };
}

/** Parses strict dotted-decimal IPv4 (no leading zeros) or IPv6 (with `::`, a trailing IPv4, a zone). */
export function parseIp(text: string): ParsedIp | undefined {
  const v4 = parseIpv4(text);
  if (v4) return { canonical: v4.join('.') };
  const words = parseIpv6(text);
  if (!words) return undefined;
  const canonical = words.map((w) => w.toString(16)).join(':');
  const embedded = embeddedIpv4(words);
  return embedded ? { canonical, embedded } : { canonical };
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^(0|[1-9]\d{0,2})$/.test(p) ? Number(p) : NaN));
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

function parseIpv6(text: string): number[] | undefined {
  const zone = text.indexOf('%');
  const addr = (zone === -1 ? text : text.slice(0, zone)).toLowerCase();
  if (zone === 0 || addr.length === 0 || (zone !== -1 && zone === text.length - 1)) return undefined;
  const halves = addr.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const items = s.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as string;
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (!v4) return undefined;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      } else if (/^[0-9a-f]{1,4}$/.test(item)) out.push(parseInt(item, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0] as string);
  if (!head) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const tail = groups(halves[1] as string);
  if (!tail || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** The IPv4 address an IPv6 address stands for, in the forms that carry one. */
function embeddedIpv4(w: readonly number[]): { address: string; form: string } | undefined {
  const at = (i: number) => w[i] ?? 0;
  const zero = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  const ipv4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const low = ipv4(at(6), at(7));
  if (zero(0, 5) && at(5) === 0xffff) return { address: low, form: 'IPv4-mapped' };
  if (zero(0, 4) && at(4) === 0xffff && at(5) === 0) return { address: low, form: 'IPv4-translated' };
  if (at(0) === 0x64 && at(1) === 0xff9b && zero(2, 6)) return { address: low, form: 'NAT64' };
  if (at(0) === 0x2002) return { address: ipv4(at(1), at(2)), form: '6to4' };
  // ::a.b.c.d (deprecated IPv4-compatible), but not :: and ::1, which are IPv6's own.
  if (zero(0, 6) && (at(6) !== 0 || at(7) > 1)) return { address: low, form: 'IPv4-compatible' };
  return undefined;
}
