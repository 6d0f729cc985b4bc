// The child's half of bench/rpc.ts's IPC channel. It imports nothing, so a forked load
// generator or fake Twilio loads no more than its own work needs.

/** A request as the bench sends it: answered with the same id. */
export interface RpcEnvelope<Request> {
  id: number;
  request: Request;
}

/**
 * Answers every request from the bench with `handle`'s response, or its error as text.
 * Does nothing when the process was not forked with an IPC channel.
 */
export function answerRpc<Request, Response>(
  handle: (request: Request) => Promise<Response>,
): void {
  if (!process.send) return;
  process.on('message', (message: RpcEnvelope<Request>) => {
    handle(message.request).then(
      (response) => process.send?.({ id: message.id, response }),
      (error: unknown) => process.send?.({ id: message.id, error: String(error) }),
    );
  });
}
