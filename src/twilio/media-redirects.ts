/**
 * Where a media redirect may lead. Twilio answers a media URL with a redirect to its CDN;
 * a forged or compromised answer could point the worker at the loopback, the private
 * network or a cloud metadata endpoint and have whatever answers stored and served.
 *
 * - Against the real Twilio (the default TWILIO_API_BASE_URL): only `https` URLs whose host
 *   resolves to public addresses. The address is checked in the connection's own lookup,
 *   and once more on the connected socket, so a name that resolves to a public address for
 *   a check and to a private one for the connection (DNS rebinding) gains nothing.
 * - Against a stand-in (any other TWILIO_API_BASE_URL: tests, `taskwire simulate`): only
 *   its own origin and what MEDIA_REDIRECT_ALLOWLIST names.
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { MediaRefusedError } from './media-errors.js';

/** The default TWILIO_API_BASE_URL's origin: the one where the public-address rule applies. */
export const TWILIO_API_ORIGIN = 'https://api.twilio.com';

/** Resolves a host name to every address it has (dns.lookup with `all`). */
export type ResolveHost = (hostname: string) => Promise<readonly LookupAddress[]>;

const systemResolve: ResolveHost = (hostname) =>
  dns.lookup(hostname, { all: true, verbatim: true });

/** IPv4 or IPv6 text (brackets and zone allowed) as 4 or 16 bytes; null when it is neither. */
export function addressBytes(text: string): number[] | null {
  const address = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(address);
  if (family === 4) return address.split('.').map(Number);
  if (family !== 6) return null;
  // Embedded IPv4 (`::ffff:127.0.0.1`) becomes its two 16-bit groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  let groupsText = address;
  if (dotted) {
    const [a = 0, b = 0, c = 0, d = 0] = (dotted[1] as string).split('.').map(Number);
    groupsText = `${address.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = groupsText.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const groups = [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
  return groups.flatMap((group: number) => [group >> 8, group & 0xff]);
}

/** `bytes` starts with the first `bits` bits of `prefix`. */
const inRange = (bytes: readonly number[], prefix: readonly number[], bits: number): boolean => {
  for (let bit = 0; bit < bits; bit += 8) {
    const mask = bits - bit >= 8 ? 0xff : (0xff << (8 - (bits - bit))) & 0xff;
    if (((bytes[bit / 8] ?? 0) & mask) !== ((prefix[bit / 8] ?? 0) & mask)) return false;
  }
  return true;
};

// Not reachable on the public internet, or not meant to be fetched from (RFC 6890 and
// successors): this network, private, carrier-grade NAT, loopback, link-local (cloud
// metadata at 169.254.169.254), protocol assignments, documentation, benchmarking,
// multicast, reserved and broadcast.
const IPV4_NOT_PUBLIC: readonly [number[], number][] = [
  [[0], 8],
  [[10], 8],
  [[100, 64], 10],
  [[127], 8],
  [[169, 254], 16],
  [[172, 16], 12],
  [[192, 0, 0], 24],
  [[192, 0, 2], 24],
  [[192, 88, 99], 24],
  [[192, 168], 16],
  [[198, 18], 15],
  [[198, 51, 100], 24],
  [[203, 0, 113], 24],
  [[224], 4],
  [[240], 4],
];
// Inside global unicast (2000::/3), what is still not a public host: Teredo, ORCHID,
// documentation. 6to4 (2002::/16) is judged by the IPv4 address it embeds.
const IPV6_NOT_PUBLIC: readonly [number[], number][] = [
  [[0x20, 0x01, 0x00, 0x00], 32],
  [[0x20, 0x01, 0x00, 0x10], 28],
  [[0x20, 0x01, 0x00, 0x20], 28],
  [[0x20, 0x01, 0x0d, 0xb8], 32],
  [[0x3f, 0xff], 20],
];

/**
 * True only for an address on the public internet. Loopback, private (10/8, 172.16/12,
 * 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10), carrier-grade NAT (100.64/10),
 * unspecified (0.0.0.0, ::), multicast and reserved ranges are not; an IPv4-mapped or NAT64
 * IPv6 address is judged by its IPv4 address. Anything that is not an address is not public.
 */
export function isPublicAddress(text: string): boolean {
  const bytes = addressBytes(text);
  if (!bytes) return false;
  if (bytes.length === 4)
    return !IPV4_NOT_PUBLIC.some(([prefix, bits]) => inRange(bytes, prefix, bits));
  const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
  const nat64 = [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];
  if (inRange(bytes, mapped, 96) || inRange(bytes, nat64, 96)) {
    return isPublicAddress(bytes.slice(12).join('.'));
  }
  if (inRange(bytes, [0x20, 0x02], 16)) return isPublicAddress(bytes.slice(2, 6).join('.'));
  // Only global unicast is public: this excludes ::, ::1, fc00::/7, fe80::/10, ff00::/8.
  if (!inRange(bytes, [0x20], 3)) return false;
  return !IPV6_NOT_PUBLIC.some(([prefix, bits]) => inRange(bytes, prefix, bits));
}

const notPublic = (host: string, address: string) =>
  new MediaRefusedError(
    `A media redirect led to ${host}, which is at ${address}: not a public address (loopback, private, link-local or metadata). Media is only fetched from public hosts.`,
  );

/**
 * A `lookup` for net/tls.connect that resolves through `resolve` and fails unless every
 * address the name has is public: the connection then can only go to an address checked
 * here, whatever the name resolves to a moment later.
 */
export function publicOnlyLookup(resolve: ResolveHost = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (all) => {
        const refused = all.find((entry) => !isPublicAddress(entry.address));
        if (refused) return callback(notPublic(hostname, refused.address), '', 0);
        const wanted =
          options.family === 6 || options.family === 'IPv6'
            ? 6
            : options.family === 4 || options.family === 'IPv4'
              ? 4
              : 0;
        const usable = all.filter((entry) => wanted === 0 || entry.family === wanted);
        const first = usable[0];
        if (!first) {
          const error = Object.assign(new Error(`${hostname} has no address`), {
            code: 'ENOTFOUND',
          });
          return callback(error, '', 0);
        }
        // With `all` (autoSelectFamily), net.connect expects the list instead of one address.
        if (options.all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
        } else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

const guardedAgents = new Map<ResolveHost, Dispatcher>();

/**
 * An undici dispatcher whose connections go to public addresses only: names through
 * publicOnlyLookup, literal addresses (which net.connect does not look up) checked first,
 * and the connected socket's remote address checked once more.
 */
export function publicOnlyDispatcher(resolve: ResolveHost = systemResolve): Dispatcher {
  const existing = guardedAgents.get(resolve);
  if (existing) return existing;
  const connectChecked = buildConnector({ lookup: publicOnlyLookup(resolve) });
  const agent = new Agent({
    connect: (options, callback) => {
      const host = options.hostname;
      if (isIP(host.replace(/^\[|\]$/g, '')) !== 0 && !isPublicAddress(host)) {
        return callback(notPublic(host, host), null);
      }
      return connectChecked(options, (error, socket) => {
        if (error || !socket) return callback(error ?? new Error('no socket'), null);
        const remote = socket.remoteAddress;
        if (remote && !isPublicAddress(remote)) {
          socket.destroy();
          return callback(notPublic(host, remote), null);
        }
        return callback(null, socket);
      });
    },
  });
  guardedAgents.set(resolve, agent);
  return agent;
}

export interface RedirectRule {
  /** `public`: the real Twilio's rule; `allowlist`: a stand-in's. */
  kind: 'public' | 'allowlist';
  /** The TWILIO_API_BASE_URL origin: always allowed under `allowlist`. */
  apiOrigin: string;
  /** MEDIA_REDIRECT_ALLOWLIST entries: origins, `host:port` or hosts (any port). */
  allowlist: readonly string[];
}

/** The rule for media fetched from `apiBaseUrl`, unless the caller names one. */
export const redirectRuleFor = (
  apiBaseUrl: string,
  allowlist: readonly string[] = [],
  kind?: RedirectRule['kind'],
): RedirectRule => {
  const apiOrigin = new URL(apiBaseUrl).origin;
  return {
    kind: kind ?? (apiOrigin === TWILIO_API_ORIGIN ? 'public' : 'allowlist'),
    apiOrigin,
    allowlist,
  };
};

const allowlisted = (url: URL, entries: readonly string[]): boolean => {
  const host = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return entries.some((entry) =>
    entry.includes('://') ? entry === url.origin : entry === host || entry === `${host}:${port}`,
  );
};

/**
 * Refuses, before any request, a redirect the rule does not allow. Under `public`, what is
 * left to check (the addresses a name resolves to) is checked when connecting.
 */
export function assertRedirectAllowed(next: URL, rule: RedirectRule, label: string): void {
  if (rule.kind === 'allowlist') {
    if (next.origin === rule.apiOrigin || allowlisted(next, rule.allowlist)) return;
    throw new MediaRefusedError(
      `A redirect for ${label} led to ${next.host}, which is neither the TWILIO_API_BASE_URL origin nor in MEDIA_REDIRECT_ALLOWLIST.`,
    );
  }
  if (next.protocol !== 'https:') {
    throw new MediaRefusedError(
      `A redirect for ${label} led to a ${next.protocol} URL on ${next.host}; only https is followed.`,
    );
  }
  const literal = next.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal) !== 0 && !isPublicAddress(literal)) throw notPublic(next.host, literal);
}

/** The MediaRefusedError behind a failed fetch (undici wraps connect errors in `cause`). */
export function refusalBehind(error: unknown): MediaRefusedError | null {
  for (let current = error, depth = 0; current && depth < 5; depth += 1) {
    if (current instanceof MediaRefusedError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}
