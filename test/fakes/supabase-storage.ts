import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake of the Supabase Storage REST API (`/storage/v1`), for the routes storage-js calls,
 * with the answers the open-source server gives (supabase/storage v1.11.2, file backend,
 * behind a `/storage/v1` gateway as Supabase runs it; src/http/routes/**, src/internal/errors):
 *
 * - Storage reports most failures as HTTP 400 with the real status as a *string* in the
 *   body: `{ "statusCode": "404", "error": "not_found", "message": "Object not found" }`;
 *   validation errors are `{ "statusCode": "400", "code": "InvalidRequest", "error": "Error" }`.
 * - An unknown route is the framework's HTTP 404 with a *numeric* `statusCode`.
 * - Only the API gateway checks `apikey` (401 without a known one; `gateway: false` leaves it
 *   out, and the server ignores the header). Storage itself refuses a missing
 *   `Authorization` header (400, InvalidRequest) and a bad or expired token (HTTP 400,
 *   `{ "statusCode": "403", "code": "AccessDenied", "error": "Unauthorized" }`).
 * - Keys are JWTs of the project with a `role`: the service role sees and may do anything;
 *   `anon` cannot see a private bucket (404) and row-level security refuses its writes.
 * - Public object URLs and signed URLs need no headers: browsers load them directly. Signed
 *   URLs carry `?token=<HS256 JWT of { url: "<bucket>/<path>", iat, exp }>`; an expired one
 *   is `"exp" claim timestamp check failed` (InvalidJWT), and a signed download sends an
 *   `Expires` header (the token's expiry) instead of the object's Cache-Control.
 * - `fail()` makes it misbehave like a server in trouble: 502 or 503 from the gateway, or a
 *   stall (the request is taken and never answered), until `recover()` or for N requests.
 *
 * Objects are kept in memory. An upload is stored only once its request body has fully
 * arrived, as Supabase does: a client that breaks off mid-body leaves nothing behind.
 */
export interface FakeSupabaseStorage {
  /** SUPABASE_URL: the project URL; the API lives under `${url}/storage/v1`. */
  url: string;
  /** The service-role key (a JWT of this project), as `apikey` and `Authorization: Bearer`. */
  serviceKey: string;
  /** The anon key: valid, but row-level security keeps it from private buckets and writes. */
  anonKey: string;
  /** A key of this project with any claims: an expired service key, another role. */
  signKey(claims: { role: string; exp?: number }): string;
  buckets: Map<string, FakeBucket>;
  /** Moves the fake's clock (which signs and checks URL tokens) by this many seconds. */
  clockOffsetSeconds: number;
  /** Every request received, for assertions on what a client sent. */
  requests: FakeRequest[];
  /**
   * From now on, answer requests (those `match` accepts; all by default) with `mode`: the
   * gateway's 502 or 503, or `stall`: take the request and never answer it. For the next
   * `times` matching requests, or until `recover()`.
   */
  fail(
    mode: FakeFailureMode,
    options?: { times?: number; match?: (request: FakeRequest) => boolean },
  ): void;
  /** Answers normally again. */
  recover(): void;
  /** The requests held by `stall`, in order. */
  stalled: FakeRequest[];
  close(): Promise<void>;
}

export type FakeFailureMode = 'stall' | 502 | 503;

export interface FakeRequest {
  method: string;
  /** Without the query string. */
  path: string;
  headers: IncomingMessage['headers'];
  /** Set once the client went away without an answer (a stalled request it gave up on). */
  abandoned?: boolean;
}

export interface FakeBucket {
  id: string;
  public: boolean;
  createdAt: string;
  objects: Map<string, FakeObject>;
}

export interface FakeObject {
  id: string;
  bytes: Buffer;
  contentType: string;
  cacheControl: string;
  updatedAt: string;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string | number> };

class StorageFailure extends Error {
  constructor(
    readonly httpStatus: number,
    readonly body: Record<string, string>,
  ) {
    super(body.message);
  }
}

// The errors Supabase Storage renders (HTTP status, then the body it sends).
const errors = {
  noApiKey: () => new StorageFailure(401, { message: 'No API key found in request' }),
  badApiKey: () => new StorageFailure(401, { message: 'Invalid API key' }),
  noAuthorization: () =>
    new StorageFailure(400, {
      statusCode: '400',
      code: 'InvalidRequest',
      error: 'Error',
      message: "headers must have required property 'authorization'",
    }),
  // The bearer token: Storage's auth hook renders its refusal as AccessDenied.
  accessDenied: (message: string) =>
    new StorageFailure(400, {
      statusCode: '403',
      code: 'AccessDenied',
      error: 'Unauthorized',
      message,
    }),
  rowLevelSecurity: (table: string) =>
    new StorageFailure(400, {
      statusCode: '403',
      code: 'AccessDenied',
      error: 'Unauthorized',
      message: `new row violates row-level security policy for table "${table}"`,
    }),
  // A signed URL's token, checked by the jose library.
  invalidJwt: (message: string) =>
    new StorageFailure(400, {
      statusCode: '400',
      code: 'InvalidJWT',
      error: 'InvalidJWT',
      message,
    }),
  noSuchBucket: () =>
    new StorageFailure(400, {
      statusCode: '404',
      code: 'NoSuchBucket',
      error: 'Bucket not found',
      message: 'Bucket not found',
    }),
  noSuchKey: () =>
    new StorageFailure(400, {
      statusCode: '404',
      code: 'NoSuchKey',
      error: 'not_found',
      message: 'Object not found',
    }),
  duplicate: (code: string) =>
    new StorageFailure(400, {
      statusCode: '409',
      code,
      error: 'Duplicate',
      message: 'The resource already exists',
    }),
  invalid: (message: string) =>
    new StorageFailure(400, { statusCode: '400', code: 'InvalidRequest', error: 'Error', message }),
  invalidSignature: () =>
    new StorageFailure(400, {
      statusCode: '400',
      code: 'InvalidSignature',
      error: 'InvalidSignature',
      message: 'The url do not match the signature',
    }),
};

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function signJwt(secret: string, payload: Record<string, unknown>): string {
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify(payload));
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

type JwtProblem = 'malformed' | 'signature' | 'expired';

/** The token's claims, or what is wrong with it. */
function verifyJwt(
  secret: string,
  token: string,
  nowSeconds: number,
): Record<string, unknown> | JwtProblem {
  const [head, body, signature] = token.split('.');
  if (!head || !body || !signature) return 'malformed';
  const expected = Buffer.from(
    createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url'),
  );
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'signature';
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return 'malformed';
  }
  if (typeof payload.exp === 'number' && payload.exp <= nowSeconds) return 'expired';
  return payload;
}

// How the two checkers word a refusal: Storage's auth hook (jsonwebtoken) for the bearer
// token, jose for a signed URL's token.
const bearerMessages: Record<JwtProblem, string> = {
  malformed: 'jwt malformed',
  signature: 'invalid signature',
  expired: 'jwt expired',
};
const signedUrlMessages: Record<JwtProblem, string> = {
  malformed: 'Invalid Compact JWS',
  signature: 'signature verification failed',
  expired: '"exp" claim timestamp check failed',
};

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // Iterating throws when the client aborts, so a broken upload never reaches the store.
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = (await readBody(request)).toString('utf8');
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // fall through
  }
  throw errors.invalid('body must be a JSON object');
}

const decodePath = (raw: string): string =>
  raw
    .split('/')
    .map((part) => decodeURIComponent(part))
    .join('/');

/** Starts the fake on 127.0.0.1 and a free port. */
export async function startFakeSupabaseStorage(
  options: {
    /** false: the Storage server alone, without the gateway that checks `apikey`. */
    gateway?: boolean;
  } = {},
): Promise<FakeSupabaseStorage> {
  const gateway = options.gateway ?? true;
  const jwtSecret = randomBytes(32).toString('hex');
  const signKey = (claims: { role: string; exp?: number }) =>
    signJwt(jwtSecret, { iss: 'supabase-fake', iat: Math.floor(Date.now() / 1000), ...claims });
  const serviceKey = signKey({ role: 'service_role' });
  const anonKey = signKey({ role: 'anon' });
  const buckets = new Map<string, FakeBucket>();
  const requests: FakeRequest[] = [];
  const stalled: FakeRequest[] = [];
  let failure: {
    mode: FakeFailureMode;
    times: number;
    match: (request: FakeRequest) => boolean;
  } | null = null;

  const fake: FakeSupabaseStorage = {
    url: '',
    serviceKey,
    anonKey,
    signKey,
    buckets,
    clockOffsetSeconds: 0,
    requests,
    fail(mode, failOptions = {}) {
      failure = {
        mode,
        times: failOptions.times ?? Number.POSITIVE_INFINITY,
        match: failOptions.match ?? (() => true),
      };
    },
    recover() {
      failure = null;
    },
    stalled,
    close: async () => {},
  };
  const nowSeconds = () => Math.floor(Date.now() / 1000) + fake.clockOffsetSeconds;

  /** The caller's role, from the bearer token (and, at the gateway, its apikey). */
  const authenticate = (request: IncomingMessage): string => {
    if (gateway) {
      const apikey = request.headers.apikey;
      if (typeof apikey !== 'string') throw errors.noApiKey();
      if (apikey !== serviceKey && apikey !== anonKey) throw errors.badApiKey();
    }
    const authorization = request.headers.authorization;
    if (typeof authorization !== 'string') throw errors.noAuthorization();
    const token = /^Bearer (.+)$/i.exec(authorization)?.[1] ?? '';
    const claims = verifyJwt(jwtSecret, token, nowSeconds());
    if (typeof claims === 'string') throw errors.accessDenied(bearerMessages[claims]);
    return typeof claims.role === 'string' ? claims.role : 'anon';
  };

  /** A bucket the caller may see: row-level security hides private ones from anon. */
  const bucketOrFail = (id: string, role = 'service_role'): FakeBucket => {
    const bucket = buckets.get(id);
    if (!bucket || (role !== 'service_role' && !bucket.public)) throw errors.noSuchBucket();
    return bucket;
  };

  const mayWrite = (role: string, table: 'buckets' | 'objects') => {
    if (role !== 'service_role') throw errors.rowLevelSecurity(table);
  };

  const objectOrFail = (bucket: FakeBucket, name: string): FakeObject => {
    const object = bucket.objects.get(name);
    if (!object) throw errors.noSuchKey();
    return object;
  };

  const bucketJson = (bucket: FakeBucket) => ({
    id: bucket.id,
    name: bucket.id,
    owner: '',
    public: bucket.public,
    file_size_limit: null,
    allowed_mime_types: null,
    type: 'STANDARD',
    created_at: bucket.createdAt,
    updated_at: bucket.createdAt,
  });

  const objectReply = (
    object: FakeObject,
    method: string,
    caching: Record<string, string> = { 'cache-control': object.cacheControl },
  ): Reply => ({
    status: 200,
    body: method === 'HEAD' ? undefined : object.bytes,
    headers: {
      'content-type': object.contentType,
      'content-length': object.bytes.length,
      ...caching,
      etag: `"${object.id}"`,
      'last-modified': new Date(object.updatedAt).toUTCString(),
    },
  });

  /** `[bucket, name]` from `<bucket>/<name...>`; both required. */
  const splitBucketPath = (rest: string): [string, string] => {
    const slash = rest.indexOf('/');
    if (slash <= 0 || slash === rest.length - 1) {
      throw errors.invalid("params must have required property '*'");
    }
    return [rest.slice(0, slash), rest.slice(slash + 1)];
  };

  const unknownRoute = (method: string, path: string): Reply => ({
    status: 404,
    body: { message: `Route ${method}:${path} not found`, error: 'Not Found', statusCode: 404 },
  });

  async function route(request: IncomingMessage, url: URL): Promise<Reply> {
    const method = request.method ?? 'GET';
    const prefix = '/storage/v1/';
    if (!url.pathname.startsWith(prefix)) {
      // Outside the API: the gateway has no route for it, or (no gateway) neither does Storage.
      return gateway
        ? { status: 404, body: { message: 'no Route matched with those values' } }
        : unknownRoute(method, url.pathname);
    }
    const path = decodePath(url.pathname.slice(prefix.length));
    const get = method === 'GET' || method === 'HEAD';

    // Open routes: what browsers load without any header.
    if (get && path.startsWith('object/public/')) {
      const [bucketId, name] = splitBucketPath(path.slice('object/public/'.length));
      const bucket = buckets.get(bucketId);
      if (!bucket || !bucket.public) throw errors.noSuchBucket();
      return objectReply(objectOrFail(bucket, name), method);
    }
    if (get && path.startsWith('object/sign/')) {
      const [bucketId, name] = splitBucketPath(path.slice('object/sign/'.length));
      const token = url.searchParams.get('token');
      if (!token) throw errors.invalid("querystring must have required property 'token'");
      const payload = verifyJwt(jwtSecret, token, nowSeconds());
      if (typeof payload === 'string') throw errors.invalidJwt(signedUrlMessages[payload]);
      if (payload.url !== `${bucketId}/${name}`) throw errors.invalidSignature();
      const expires = new Date(Number(payload.exp) * 1000).toUTCString();
      return objectReply(objectOrFail(bucketOrFail(bucketId), name), method, { expires });
    }

    const role = authenticate(request);

    if (path === 'bucket' && method === 'GET') {
      const visible = [...buckets.values()].filter((b) => role === 'service_role' || b.public);
      return { status: 200, body: visible.map(bucketJson) };
    }
    if (path === 'bucket' && method === 'POST') {
      const body = await readJson(request);
      mayWrite(role, 'buckets');
      const id = typeof body.id === 'string' ? body.id : body.name;
      if (typeof id !== 'string' || !/^[\w!.*'() &$@=;:+,?-]{1,100}$/.test(id)) {
        throw new StorageFailure(400, {
          statusCode: '400',
          code: 'InvalidBucketName',
          error: 'Invalid Input',
          message: 'Bucket name invalid',
        });
      }
      if (buckets.has(id)) throw errors.duplicate('BucketAlreadyExists');
      buckets.set(id, {
        id,
        public: body.public === true,
        createdAt: new Date().toISOString(),
        objects: new Map(),
      });
      return { status: 200, body: { name: id } };
    }
    if (path.startsWith('bucket/') && method === 'GET') {
      return { status: 200, body: bucketJson(bucketOrFail(path.slice('bucket/'.length), role)) };
    }

    if (path.startsWith('object/sign/') && method === 'POST') {
      const [bucketId, name] = splitBucketPath(path.slice('object/sign/'.length));
      const body = await readJson(request);
      const expiresIn = body.expiresIn;
      if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn < 1) {
        throw errors.invalid('body/expiresIn must be >= 1');
      }
      objectOrFail(bucketOrFail(bucketId, role), name);
      const iat = nowSeconds();
      const token = signJwt(jwtSecret, { url: `${bucketId}/${name}`, iat, exp: iat + expiresIn });
      return {
        status: 200,
        body: { signedURL: `/object/sign/${bucketId}/${name}?token=${token}` },
      };
    }

    if (path.startsWith('object/') && (method === 'POST' || method === 'PUT')) {
      const [bucketId, name] = splitBucketPath(path.slice('object/'.length));
      const contentType = request.headers['content-type'] ?? 'text/plain;charset=UTF-8';
      if (contentType.startsWith('multipart/form-data')) {
        throw errors.invalid('this fake accepts raw upload bodies only, not multipart forms');
      }
      const bytes = await readBody(request);
      const bucket = bucketOrFail(bucketId, role);
      mayWrite(role, 'objects');
      const existing = bucket.objects.get(name);
      const upsert = method === 'PUT' || request.headers['x-upsert'] === 'true';
      if (method === 'PUT' && !existing) throw errors.noSuchKey();
      if (existing && !upsert) throw errors.duplicate('KeyAlreadyExists');
      const id = randomUUID();
      bucket.objects.set(name, {
        id,
        bytes,
        contentType,
        cacheControl: request.headers['cache-control'] ?? 'max-age=3600',
        updatedAt: new Date().toISOString(),
      });
      return { status: 200, body: { Id: id, Key: `${bucketId}/${name}` } };
    }

    if (get && path.startsWith('object/')) {
      const rest = path.slice('object/'.length);
      const [bucketId, name] = splitBucketPath(
        rest.startsWith('authenticated/') ? rest.slice('authenticated/'.length) : rest,
      );
      return objectReply(objectOrFail(bucketOrFail(bucketId, role), name), method);
    }

    if (path.startsWith('object/') && method === 'DELETE') {
      const rest = path.slice('object/'.length);
      mayWrite(role, 'objects');
      if (!rest.includes('/')) {
        const bucket = bucketOrFail(rest, role);
        const body = await readJson(request);
        if (!Array.isArray(body.prefixes) || body.prefixes.length === 0) {
          throw errors.invalid('body/prefixes must NOT have fewer than 1 items');
        }
        const removed = [];
        for (const prefix of body.prefixes) {
          const object = typeof prefix === 'string' ? bucket.objects.get(prefix) : undefined;
          if (typeof prefix !== 'string' || !object) continue;
          bucket.objects.delete(prefix);
          removed.push({
            name: prefix,
            bucket_id: bucket.id,
            id: object.id,
            updated_at: object.updatedAt,
            created_at: object.updatedAt,
            metadata: { size: object.bytes.length, mimetype: object.contentType },
          });
        }
        return { status: 200, body: removed };
      }
      const [bucketId, name] = splitBucketPath(rest);
      const bucket = bucketOrFail(bucketId, role);
      objectOrFail(bucket, name);
      bucket.objects.delete(name);
      return { status: 200, body: { message: 'Successfully deleted' } };
    }

    return unknownRoute(method, url.pathname);
  }

  /** The failure `fail()` asked for, if this request is one it applies to. */
  const failureFor = (request: FakeRequest): FakeFailureMode | null => {
    if (!failure || failure.times <= 0 || !failure.match(request)) return null;
    failure.times -= 1;
    return failure.mode;
  };

  // What Supabase's gateway (Kong) answers when Storage behind it is in trouble.
  const gatewayFailures: Record<502 | 503, string> = {
    502: 'An invalid response was received from the upstream server',
    503: 'failure to get a peer from the ring-balancer',
  };

  const send = (response: ServerResponse, reply: Reply) => {
    const isBytes = Buffer.isBuffer(reply.body);
    const payload =
      reply.body === undefined ? undefined : isBytes ? reply.body : JSON.stringify(reply.body);
    response.writeHead(reply.status, {
      ...(isBytes || payload === undefined ? {} : { 'content-type': 'application/json' }),
      ...reply.headers,
    });
    response.end(payload);
  };

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://fake');
    const received: FakeRequest = {
      method: request.method ?? 'GET',
      path: url.pathname,
      headers: request.headers,
    };
    requests.push(received);
    const failing = failureFor(received);
    if (failing === 'stall') {
      // Taken and never answered, nor its body read: only the client can end it.
      stalled.push(received);
      response.once('close', () => {
        received.abandoned = true;
      });
      return;
    }
    if (failing !== null) {
      request.resume();
      send(response, { status: failing, body: { message: gatewayFailures[failing] } });
      return;
    }
    route(request, url).then(
      (reply) => send(response, reply),
      (error: unknown) => {
        if (error instanceof StorageFailure) {
          // Drain what the client still sends, so it reads our answer instead of a reset.
          request.resume();
          send(response, { status: error.httpStatus, body: error.body });
        } else if (!request.complete) {
          // The client broke off mid-body: nobody is left to answer.
          response.destroy();
        } else {
          send(response, {
            status: 500,
            body: { statusCode: '500', error: 'Internal', message: String(error) },
          });
        }
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  fake.url = `http://127.0.0.1:${port}`;
  fake.close = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((error) => (error ? reject(error) : resolve()));
    });
  return fake;
}
