import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
// A transitive dependency of @aws-sdk/client-s3, resolvable from the project root. It stands
// in for @aws-sdk/s3-request-presigner (not installed), which wraps this same signer; once
// that package is added, this file can become a call to its getSignedUrl().
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Checksum, Provider, SourceData } from '@smithy/types';

const toBuffer = (data: SourceData): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256 (or its HMAC when given a secret) from node:crypto, in the shape the signer wants. */
class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.create();
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.create();
  }
  private create(): Hash | Hmac {
    return this.secret === undefined
      ? createHash('sha256')
      : createHmac('sha256', toBuffer(this.secret));
  }
}

/** RFC 3986 escaping, which SigV4 canonicalises with (encodeURIComponent leaves !'()* as is). */
const escapeUri = (value: string): string =>
  encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

export interface PresignGetObjectInput {
  /** The object's URL without a query: path-style or virtual-hosted, already escaped. */
  objectUrl: URL;
  region: string;
  credentials: AwsCredentialIdentity | Provider<AwsCredentialIdentity>;
  expiresInSeconds: number;
  signingDate: Date;
}

/**
 * A presigned GetObject URL (SigV4 query authentication), built the way the SDK's own S3
 * presigner does: unescaped path (S3 is the one service that signs the path as sent) and
 * `UNSIGNED-PAYLOAD` as the payload hash, since a GET has no body to hash.
 */
export async function presignGetObject(input: PresignGetObjectInput): Promise<string> {
  const { objectUrl } = input;
  const signer = new SignatureV4({
    service: 's3',
    region: input.region,
    credentials: input.credentials,
    sha256: NodeSha256,
    uriEscapePath: false,
  });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: objectUrl.protocol,
      hostname: objectUrl.hostname,
      ...(objectUrl.port ? { port: Number(objectUrl.port) } : {}),
      path: objectUrl.pathname,
      query: {},
      headers: { host: objectUrl.host, 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
    },
    { expiresIn: input.expiresInSeconds, signingDate: input.signingDate },
  );
  const query = Object.entries(signed.query ?? {})
    .flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).map((item) =>
        item === null ? escapeUri(name) : `${escapeUri(name)}=${escapeUri(item)}`,
      ),
    )
    .sort()
    .join('&');
  return `${objectUrl.origin}${objectUrl.pathname}?${query}`;
}
