import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  BUILT_IN_DENIED,
  EndpointRefusedError,
  createEndpointPolicy,
  hostRefusal,
  literalIp,
  parseIp,
  type EndpointVerdict,
} from '../../src/core/addresses/endpoint-rules.js';

const builtIn = createEndpointPolicy();
const rangeOf = (v: EndpointVerdict) => (v.allowed ? 'allowed' : `${v.by} ${v.range}`);

describe('built-in rules', () => {
  // prettier-ignore
  it.each<[string, string]>([
    ['169.254.169.254', 'built-in 169.254.0.0/16'], // AWS, GCP, Azure, OpenStack metadata
    ['169.254.170.2', 'built-in 169.254.0.0/16'], // ECS task metadata
    ['169.254.0.0', 'built-in 169.254.0.0/16'],
    ['169.254.255.255', 'built-in 169.254.0.0/16'],
    ['100.100.100.200', 'built-in 100.100.100.200/32'], // Alibaba Cloud metadata
    ['0.0.0.0', 'built-in 0.0.0.0/8'],
    ['0.1.2.3', 'built-in 0.0.0.0/8'],
    ['224.0.0.1', 'built-in 224.0.0.0/4'],
    ['239.255.255.250', 'built-in 224.0.0.0/4'],
    ['240.0.0.1', 'built-in 240.0.0.0/4'],
    ['255.255.255.255', 'built-in 240.0.0.0/4'],
    ['::', 'built-in ::/128'],
    ['0:0:0:0:0:0:0:0', 'built-in ::/128'],
    ['fe80::1', 'built-in fe80::/10'],
    ['FEBF:FFFF::1', 'built-in fe80::/10'],
    ['fe80::1%eth0', 'built-in fe80::/10'],
    ['ff02::1', 'built-in ff00::/8'],
    ['fd00:ec2::254', 'built-in fd00:ec2::254/128'],
    ['fd00:0ec2:0000::0254', 'built-in fd00:ec2::254/128'],
  ])('refuses %s (%s)', (address, expected) => {
    expect(rangeOf(builtIn.check(address))).toBe(expected);
  });

  // prettier-ignore
  it.each([
    '127.0.0.1', '127.255.255.254', '::1', // loopback: the city's own services on the hub's host
    '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.10', // private networks
    'fc00::1', 'fd00:ec2::253', 'fd12:3456::1', // unique local, except the AWS metadata address
    '100.64.0.1', '100.100.100.199', '100.100.100.201', '100.127.255.255', // shared address space
    '169.253.255.255', '169.255.0.0', '223.255.255.255', '1.0.0.0', // just outside refused ranges
    '8.8.8.8', '2001:db8::1', 'fe7f::1', 'fec0::1', 'fe00::1',
  ])('allows %s', (address) => {
    expect(builtIn.check(address)).toEqual({ allowed: true, address });
  });

  it('lists each built-in range once, and every one parses', () => {
    const ranges = BUILT_IN_DENIED.map((b) => b.range);
    expect(new Set(ranges).size).toBe(ranges.length);
    for (const r of ranges) expect(builtIn.check(r.split('/')[0] as string).allowed).toBe(false);
  });
});

describe('IPv6 forms carrying an IPv4 address', () => {
  // prettier-ignore
  it.each<[string, string]>([
    ['::ffff:169.254.169.254', 'IPv4-mapped'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'IPv4-mapped'],
    ['::FFFF:169.254.170.2', 'IPv4-mapped'],
    ['::ffff:0:169.254.169.254', 'IPv4-translated'],
    ['64:ff9b::169.254.169.254', 'NAT64'],
    ['64:ff9b::a9fe:a9fe', 'NAT64'],
    ['2002:a9fe:a9fe::1', '6to4'],
    ['::169.254.169.254', 'IPv4-compatible'],
  ])('refuses %s as the %s form of a link-local address', (address, form) => {
    const v = builtIn.check(address);
    expect(v).toMatchObject({ allowed: false, by: 'built-in', range: '169.254.0.0/16' });
    expect(v.allowed === false && v.reason).toContain(`the ${form} form of 169.254.`);
  });

  it('refuses the mapped forms of the other IPv4 ranges, and allows mapped loopback and private', () => {
    expect(rangeOf(builtIn.check('::ffff:100.100.100.200'))).toBe('built-in 100.100.100.200/32');
    expect(rangeOf(builtIn.check('::ffff:0.0.0.0'))).toBe('built-in 0.0.0.0/8');
    expect(rangeOf(builtIn.check('::ffff:224.0.0.1'))).toBe('built-in 224.0.0.0/4');
    expect(rangeOf(builtIn.check('::ffff:255.255.255.255'))).toBe('built-in 240.0.0.0/4');
    for (const a of ['::ffff:127.0.0.1', '::ffff:10.1.2.3', '64:ff9b::8.8.8.8', '::ffff:192.168.0.1'])
      expect(builtIn.check(a).allowed, a).toBe(true);
  });

  it('keeps :: and ::1 as IPv6 addresses, not IPv4-compatible 0.0.0.0 and 0.0.0.1', () => {
    expect(parseIp('::')).toEqual({ canonical: '0:0:0:0:0:0:0:0' });
    expect(parseIp('::1')).toEqual({ canonical: '0:0:0:0:0:0:0:1' });
    expect(builtIn.check('::1').allowed).toBe(true);
  });

  it("matches what Node's BlockList does itself: mapped yes, NAT64 and compatible no", () => {
    // Why the embedded address is extracted here rather than left to BlockList.
    const list = new BlockList();
    list.addSubnet('169.254.0.0', 16, 'ipv4');
    expect(list.check('::ffff:169.254.169.254', 'ipv6')).toBe(true);
    expect(list.check('::ffff:a9fe:a9fe', 'ipv6')).toBe(true);
    expect(list.check('64:ff9b::a9fe:a9fe', 'ipv6')).toBe(false);
    expect(list.check('::169.254.169.254', 'ipv6')).toBe(false);
  });
});

describe('deny and allow rules', () => {
  it('denies what a city adds, naming the flag that opens it', () => {
    const p = createEndpointPolicy({ deny: ['127.0.0.0/8', '10.0.0.0/8', 'fd12::/16'] });
    const v = p.check('127.0.0.1');
    expect(v).toMatchObject({ allowed: false, by: 'deny', range: '127.0.0.0/8' });
    expect(v.allowed === false && v.reason).toBe(
      'in 127.0.0.0/8, refused by --deny-endpoints (CITYPIVOT_DENY_ENDPOINTS); ' +
        '--allow-endpoints (CITYPIVOT_ALLOW_ENDPOINTS) opens it',
    );
    expect(rangeOf(p.check('::ffff:127.0.0.1'))).toBe('deny 127.0.0.0/8');
    expect(rangeOf(p.check('10.200.3.4'))).toBe('deny 10.0.0.0/8');
    expect(rangeOf(p.check('fd12:1::1'))).toBe('deny fd12::/16');
    expect(p.check('::1').allowed).toBe(true);
    expect(p.check('192.168.1.1').allowed).toBe(true);
  });

  it('lets allow win over built-in and deny, for the addresses it covers only', () => {
    const p = createEndpointPolicy({
      deny: ['10.0.0.0/8'],
      allow: ['169.254.10.0/24', '10.1.2.0/24', 'fe80::/64'],
    });
    expect(p.check('169.254.10.7')).toEqual({
      allowed: true,
      address: '169.254.10.7',
      allowedBy: '169.254.10.0/24',
    });
    expect(p.check('::ffff:169.254.10.7')).toMatchObject({ allowed: true, allowedBy: '169.254.10.0/24' });
    expect(rangeOf(p.check('169.254.169.254'))).toBe('built-in 169.254.0.0/16');
    expect(p.check('10.1.2.3')).toMatchObject({ allowed: true, allowedBy: '10.1.2.0/24' });
    expect(rangeOf(p.check('10.1.3.3'))).toBe('deny 10.0.0.0/8');
    expect(p.check('fe80::1')).toMatchObject({ allowed: true, allowedBy: 'fe80::/64' });
    expect(rangeOf(p.check('fe80:0:0:1::1'))).toBe('built-in fe80::/10');
  });

  it('opens everything with allow 0.0.0.0/0 and ::/0 (the operator asked for it)', () => {
    const p = createEndpointPolicy({ allow: ['0.0.0.0/0', '::/0'] });
    for (const a of ['169.254.169.254', 'fd00:ec2::254', '::', '::ffff:169.254.169.254'])
      expect(p.check(a).allowed, a).toBe(true);
  });

  it('reads an IPv6 rule over the IPv4-mapped block as covering IPv4 too (as BlockList does)', () => {
    const p = createEndpointPolicy({ deny: ['::ffff:0:0/96'] });
    expect(rangeOf(p.check('8.8.8.8'))).toBe('deny ::ffff:0:0/96');
    expect(createEndpointPolicy({ allow: ['::/0'] }).check('169.254.169.254').allowed).toBe(true);
  });

  it('accepts single addresses as rules', () => {
    const p = createEndpointPolicy({ deny: ['192.168.1.7'], allow: ['169.254.169.254'] });
    expect(rangeOf(p.check('192.168.1.7'))).toBe('deny 192.168.1.7/32');
    expect(p.check('192.168.1.8').allowed).toBe(true);
    expect(p.check('169.254.169.254').allowed).toBe(true);
    expect(rangeOf(p.check('169.254.169.253'))).toBe('built-in 169.254.0.0/16');
  });
});

describe('bad input', () => {
  it.each([
    [{ deny: ['1.2.3'] }, /--deny-endpoints: "1.2.3" is not an IP address/],
    [{ allow: ['10.0.0.0/33'] }, /--allow-endpoints: "10.0.0.0\/33": the prefix length must be 0-32/],
    [{ deny: ['example.org'] }, /--deny-endpoints/],
    [{ allow: ['::/129'] }, /prefix length must be 0-128/],
  ])('refuses the rules %j', (rules, message) => {
    expect(() => createEndpointPolicy(rules)).toThrow(message);
  });

  // prettier-ignore
  it.each([
    '', 'localhost', 'example.org', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.04',
    '0x7f.0.0.1', '::1::', ':::', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '[::1]', '%eth0', 'fe80::%',
    '::ffff:1.2.3', ' 127.0.0.1',
  ])('refuses %j as not an IP address', (text) => {
    expect(builtIn.check(text)).toEqual({
      allowed: false,
      address: text,
      range: '',
      by: 'not-an-address',
      reason: 'not an IP address',
    });
  });
});

describe('hosts and messages', () => {
  it.each([
    ['[::1]', '::1'],
    ['[::ffff:a9fe:a9fe]', '::ffff:a9fe:a9fe'],
    ['127.0.0.1', '127.0.0.1'],
    ['localhost', undefined],
    ['metadata.google.internal', undefined],
    ['[not-an-ip]', undefined],
  ])('literalIp(%j) is %j', (host, ip) => {
    expect(literalIp(host)).toBe(ip);
  });

  it('says why a URL host is refused, and passes names and allowed addresses', () => {
    expect(hostRefusal(builtIn, '169.254.169.254')).toBe(
      'the hub does not connect to 169.254.169.254, which is in 169.254.0.0/16 (IPv4 link-local: ' +
        'cloud metadata services, 169.254.169.254 and 169.254.170.2), refused by a built-in rule; ' +
        '--allow-endpoints (CITYPIVOT_ALLOW_ENDPOINTS) opens it',
    );
    expect(hostRefusal(builtIn, '[fd00:ec2::254]')).toContain('AWS IPv6 metadata service');
    expect(hostRefusal(builtIn, 'metadata.google.internal')).toBeUndefined();
    expect(hostRefusal(builtIn, '127.0.0.1')).toBeUndefined();
  });

  it('names the host that resolved to a refused address', () => {
    const v = builtIn.check('169.254.169.254');
    if (v.allowed) throw new Error('expected a refusal');
    expect(new EndpointRefusedError(v).message).toMatch(/^169\.254\.169\.254 is in 169\.254\.0\.0\/16/);
    expect(new EndpointRefusedError(v, 'evil.example').message).toMatch(
      /^evil\.example resolves to 169\.254\.169\.254, which is in 169\.254\.0\.0\/16 .*--allow-endpoints/,
    );
  });
});
