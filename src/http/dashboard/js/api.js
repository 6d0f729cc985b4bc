// The JSON API, called with the token the user entered. Errors carry the API's
// `error.message`, which the dashboard shows as is.

const TOKEN_KEY = 'taskwire.apiToken';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

// Session storage: the token is forgotten when the tab is closed.
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

let unauthorizedHandler = () => {};

/** Called with the ApiError of any 401, e.g. to ask for the token again. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

/** Calls the API; resolves to the parsed JSON body (null for an empty one). */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json' };
  const current = token.get();
  if (current) headers.Authorization = `Bearer ${current}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(
      0,
      'network_error',
      'Could not reach Taskwire. Check the connection and try again.',
    );
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(
      response.status,
      data?.error?.code ?? 'http_error',
      data?.error?.message ?? `The server answered ${response.status} ${response.statusText}.`,
    );
    if (response.status === 401) unauthorizedHandler(error);
    throw error;
  }
  return data;
}

/** `?a=1&b=2` from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
