import assert from 'node:assert/strict';

/** The body every error answer has. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** Asserts an error answer: its status, its `error.code` and what its message says. */
export function expectError(
  response: { statusCode: number; json(): unknown },
  status: number,
  code: string,
  message: RegExp,
): void {
  assert.equal(response.statusCode, status, JSON.stringify(response.json()));
  const body = response.json() as ErrorBody;
  assert.equal(body.error.code, code);
  assert.match(body.error.message, message);
}
