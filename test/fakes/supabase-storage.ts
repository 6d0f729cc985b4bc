import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake of the Supabase Storage REST API (`/storage/v1`), for the routes storage-js calls,
 * with the answers Supabase gives (supabase/storage: src/http/routes/**, src/internal/errors):
 *
 * - Storage reports most failures as HTTP 400 with the real status as a string in the body:
 *   `{ "statusCode": "404", "error": "not_found", "message": "Object not found" }`.
 * - The API gateway refuses a request without a known `apikey` header with 401; Storage
 *   itself refuses a missing `Authorization` header (400) and a bad token (400, InvalidJWT).
 * - Public object URLs and signed URLs need no headers: browsers load them directly.
 * - Signed URLs carry `?token=<HS256 JWT of { url: "<bucket>/<path>", iat, exp }>`.
 *
 * Objects are kept in memory. An upload is stored only once its request body has fully
 * arrived, as Supabase does: a client that breaks off mid-body leaves nothing behind.
 */
export interface FakeSupabaseStorage {
  /** SUPABASE_URL: the project URL; the API lives under `${url}/storage/v1`. */
  url: string;
  /** The service key the fake accepts as `apikey` and as `Authorization: Bearer`. */
  serviceKey: string;
  buckets: Map<string, FakeBucket>;
  /** Moves the fake's clock (which signs and checks URL tokens) by this many seconds. */
  clockOffsetSeconds: number;
  /** Every request received, for assertions on what a client sent. */
  requests: FakeRequest[];
  close(): Promise<void>;
}

export interface FakeRequest {
  method: string;
  /** Without the query string. */
  path: string;
  headers: IncomingMessage['headers'];
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
      error: 'Bad Request',
      message: "headers must have required property 'authorization'",
    }),
  invalidJwt: (message: string) =>
    new StorageFailure(400, { statusCode: '400', error: 'InvalidJWT', message }),
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
    new StorageFailure(400, { statusCode: '400', error: 'Bad Request', message }),
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

function verifyJwt(secret: string, token: string, nowSeconds: number): Record<string, unknown> {
  const [head, body, signature] = token.split('.');
  if (!head || !body || !signature) throw errors.invalidJwt('jwt malformed');
  const expected = Buffer.from(
    createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url'),
  );
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw errors.invalidJwt('invalid signature');
  }
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  if (typeof payload.exp === 'number' && payload.exp <= nowSeconds) {
    throw errors.invalidJwt('jwt expired');
  }
  return payload;
}

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
  options: { serviceKey?: string } = {},
): Promise<FakeSupabaseStorage> {
  const serviceKey = options.serviceKey ?? `fake-service-key-${randomBytes(8).toString('hex')}`;
  const jwtSecret = randomBytes(32).toString('hex');
  const buckets = new Map<string, FakeBucket>();
  const requests: FakeRequest[] = [];

  const fake: FakeSupabaseStorage = {
    url: '',
    serviceKey,
    buckets,
    clockOffsetSeconds: 0,
    requests,
    close: async () => {},
  };
  const nowSeconds = () => Math.floor(Date.now() / 1000) + fake.clockOffsetSeconds;

  const requireKeys = (request: IncomingMessage) => {
    const apikey = request.headers.apikey;
    if (typeof apikey !== 'string') throw errors.noApiKey();
    if (apikey !== serviceKey) throw errors.badApiKey();
    const authorization = request.headers.authorization;
    if (typeof authorization !== 'string') throw errors.noAuthorization();
    if (authorization !== `Bearer ${serviceKey}`) throw errors.invalidJwt('invalid signature');
  };

  const bucketOrFail = (id: string): FakeBucket => {
    const bucket = buckets.get(id);
    if (!bucket) throw errors.noSuchBucket();
    return bucket;
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

  const objectReply = (object: FakeObject, method: string): Reply => ({
    status: 200,
    body: method === 'HEAD' ? undefined : object.bytes,
    headers: {
      'content-type': object.contentType,
      'content-length': object.bytes.length,
      'cache-control': object.cacheControl,
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

  async function route(request: IncomingMessage): Promise<Reply> {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://fake');
    requests.push({ method, path: url.pathname, headers: request.headers });
    const prefix = '/storage/v1/';
    if (!url.pathname.startsWith(prefix)) {
      return { status: 404, body: { message: 'no Route matched with those values' } };
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
      if (payload.url !== `${bucketId}/${name}`) throw errors.invalidSignature();
      return objectReply(objectOrFail(bucketOrFail(bucketId), name), method);
    }

    requireKeys(request);

    if (path === 'bucket' && method === 'GET') {
      return { status: 200, body: [...buckets.values()].map(bucketJson) };
    }
    if (path === 'bucket' && method === 'POST') {
      const body = await readJson(request);
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
      return { status: 200, body: bucketJson(bucketOrFail(path.slice('bucket/'.length))) };
    }

    if (path.startsWith('object/sign/') && method === 'POST') {
      const [bucketId, name] = splitBucketPath(path.slice('object/sign/'.length));
      const body = await readJson(request);
      const expiresIn = body.expiresIn;
      if (typeof expiresIn !== 'number' || !Number.isInteger(expiresIn) || expiresIn < 1) {
        throw errors.invalid('body/expiresIn must be >= 1');
      }
      objectOrFail(bucketOrFail(bucketId), name);
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
      const bucket = bucketOrFail(bucketId);
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
      return objectReply(objectOrFail(bucketOrFail(bucketId), name), method);
    }

    if (path.startsWith('object/') && method === 'DELETE') {
      const rest = path.slice('object/'.length);
      if (!rest.includes('/')) {
        const bucket = bucketOrFail(rest);
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
      const bucket = bucketOrFail(bucketId);
      objectOrFail(bucket, name);
      bucket.objects.delete(name);
      return { status: 200, body: { message: 'Successfully deleted' } };
    }

    return {
      status: 404,
      body: {
        statusCode: '404',
        error: 'Not Found',
        message: `Route ${method}:${url.pathname} not found`,
      },
    };
  }

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
    route(request).then(
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
