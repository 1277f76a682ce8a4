/**
 * Address ranges as a city's operators write them: a list of IPv4/IPv6 addresses or CIDR ranges
 * (`10.0.0.0/8, 192.168.1.7, fd00::/8`). Parsed once, checked with Node's own BlockList (which
 * also matches IPv4-mapped IPv6 addresses against IPv4 ranges).
 */
import { BlockList, isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, `x::y` or `x::y/n`; throws an Error naming the text otherwise. */
export function parseCidr(text: string): Cidr {
  const [addr = '', bits, ...extra] = text.trim().split('/');
  const v = isIP(addr);
  if (v === 0 || extra.length > 0)
    throw new Error(`${JSON.stringify(text)} is not an IP address or CIDR range (such as 10.0.0.0/8)`);
  const max = v === 4 ? 32 : 128;
  let prefix = max;
  if (bits !== undefined) {
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max)
      throw new Error(`${JSON.stringify(text)}: the prefix length must be 0-${max}`);
    prefix = Number(bits);
  }
  return { address: addr, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** A comma- or space-separated list of ranges; empty text is an empty list. */
export function parseCidrList(text: string): Cidr[] {
  return text
    .split(/[\s,]+/)
    .filter((s) => s !== '')
    .map(parseCidr);
}

/** `10.0.0.0/8` and the like, as written by parseCidr's caller. */
export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefix}`;
}

/** A set of ranges to check addresses against. */
export function cidrSet(ranges: readonly Cidr[]): { has(address: string): boolean; size: number } {
  const list = new BlockList();
  for (const r of ranges) list.addSubnet(r.address, r.prefix, r.family);
  return {
    size: ranges.length,
    has(address: string): boolean {
      const v = isIP(address);
      if (v === 0) return false;
      return list.check(address, v === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
