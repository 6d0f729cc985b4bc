// Small DOM helpers. Everything from the API (message bodies, names) is set as text,
// never as HTML: a WhatsApp message cannot inject markup into the dashboard.

/**
 * Creates an element: `h('a', { href, class: 'x', onClick }, 'text', child)`.
 * Props starting with `on` are listeners; `true` sets an empty attribute; null, undefined
 * and false are left out.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      element.className = value;
    } else if (key === 'dataset') {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces the children of `parent`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
}

/** Only http(s) URLs are used as links and image sources. */
export function safeUrl(url) {
  if (typeof url !== 'string') return null;
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "12 Mar 2025, 18:30", in the browser's time zone. */
export function formatDateTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : dateTime.format(date);
}

/** "5 minutes ago", "in 2 hours", "yesterday". */
export function formatRelative(iso, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const units = [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(0, 'second') === 'now' ? 'now' : 'just now';
}

/** A <time> element showing the relative time, with the exact one as its title. */
export function timeElement(iso, { relativeTime = true } = {}) {
  return h(
    'time',
    { datetime: iso, title: formatDateTime(iso) },
    relativeTime ? formatRelative(iso) : formatDateTime(iso),
  );
}

const pad = (value) => String(value).padStart(2, '0');

/**
 * The value of an <input type="datetime-local"> (local wall time, no zone) as ISO 8601 with
 * the browser's offset for that moment, e.g. "2025-05-01T18:00:00+02:00"; null if invalid.
 */
export function localInputToIso(value) {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(value)) return null;
  // A date-time without an offset is read as local time by the Date constructor.
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  const offsetMinutes = -date.getTimezoneOffset();
  const sign = offsetMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/** A Date as the value of an <input type="datetime-local">, in local time. */
export function dateToLocalInput(date) {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** A coloured label for a status word (`failed`, `completed`, `delivered`, ...). */
export function statusBadge(status, label = status) {
  return h('span', { class: `badge status-${String(status).replace(/[^a-z_-]/gi, '')}` }, label);
}

/**
 * Previous/next buttons for an `{ total, limit, offset }` page. `go(offset)` loads a page.
 */
export function renderPager(container, page, go, noun) {
  if (!container) return;
  const { total, limit, offset } = page;
  if (total <= limit && offset === 0) {
    replace(container);
    return;
  }
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(offset + limit, total);
  replace(
    container,
    h(
      'button',
      {
        class: 'button subtle',
        type: 'button',
        disabled: offset === 0,
        onClick: () => go(Math.max(0, offset - limit)),
      },
      'Newer',
    ),
    h('span', { class: 'pager-text' }, `${first}–${last} of ${total} ${noun}`),
    h(
      'button',
      {
        class: 'button subtle',
        type: 'button',
        disabled: offset + limit >= total,
        onClick: () => go(offset + limit),
      },
      'Older',
    ),
  );
}

/** A friendly line for an empty list. */
export const emptyState = (text) => h('p', { class: 'empty' }, text);
