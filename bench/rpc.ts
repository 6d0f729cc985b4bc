// The request/response IPC channel between a bench and the processes it forks (bench:loop's
// load generator and fake Twilio), the bench's half; the child's is rpc-child.ts. Each
// request carries an id and its answer (or error) the same id, so calls may overlap and each
// has its own timeout.
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { forkTsx } from './ingest-processes.js';
import type { RpcEnvelope } from './rpc-child.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Rpc<Request, Response> {
  call(request: Request, timeoutMs?: number): Promise<Response>;
  child: ChildProcess;
}

/**
 * Forks `file` (relative to the repository) through tsx, killed by the cleanup; `call()`
 * sends one request and resolves with its answer, or rejects with the child's error, its
 * exit, or no answer within `timeoutMs`.
 */
export function forkRpc<Request, Response>(name: string, file: string): Rpc<Request, Response> {
  const { child } = forkTsx(name, path.join(repoRoot, file), repoRoot);
  let nextId = 0;
  const waiting = new Map<number, { resolve: (r: Response) => void; reject: (e: Error) => void }>();
  child.on('message', (message: { id: number; response?: Response; error?: string }) => {
    const entry = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error !== undefined) entry?.reject(new Error(`${name}: ${message.error}`));
    else entry?.resolve(message.response as Response);
  });
  child.once('exit', (code) => {
    for (const entry of waiting.values()) entry.reject(new Error(`${name} exited (${code})`));
    waiting.clear();
  });
  return {
    child,
    call(request, timeoutMs = 120_000) {
      const id = nextId++;
      return new Promise<Response>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${name} did not answer ${JSON.stringify(request).slice(0, 40)}`));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (response) => {
            clearTimeout(timer);
            resolve(response);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        child.send({ id, request } satisfies RpcEnvelope<Request>);
      });
    },
  };
}
