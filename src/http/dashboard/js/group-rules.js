// A group's rules (name, time zone, review, sharing) as form fields and back: the form that
// creates a group and the open group's settings share them.
import { h } from './dom.js';

/** The choices of a group's rules; the hints under the fields say what each does. */
export const REVIEW_NAMES = { none: 'None', peer: 'Peer', model: 'Model' };
export const SHARE_NAMES = { instant: 'Instant', digest: 'Daily digest', off: 'Off' };

const TIMEZONE_LIST = 'group-timezones';

/** One datalist of the browser's IANA zones, shared by every time-zone field. */
export function timezoneList() {
  const zones =
    typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return h(
    'datalist',
    { id: TIMEZONE_LIST },
    zones.map((zone) => h('option', { value: zone })),
  );
}

/**
 * The four fields of a group's rules, ids prefixed by `prefix` (the create form and the open
 * group's settings both use them).
 */
export function ruleFields(prefix, group = {}) {
  const select = (name, names, value) =>
    h(
      'select',
      { id: `${prefix}-${name}`, name, 'aria-describedby': `${prefix}-${name}-hint` },
      Object.entries(names).map(([option, label]) =>
        h('option', { value: option, selected: option === value }, label),
      ),
    );
  const hint = (name, text) => h('p', { id: `${prefix}-${name}-hint`, class: 'hint' }, text);
  return [
    h(
      'div',
      { class: 'field' },
      h('label', { for: `${prefix}-name` }, 'Name'),
      h('input', {
        id: `${prefix}-name`,
        name: 'name',
        required: true,
        maxlength: 100,
        value: group.name ?? '',
      }),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: `${prefix}-timezone` }, 'Time zone'),
      h('input', {
        id: `${prefix}-timezone`,
        name: 'timezone',
        list: TIMEZONE_LIST,
        maxlength: 64,
        autocomplete: 'off',
        spellcheck: 'false',
        placeholder: 'Europe/Paris',
        value: group.timezone ?? '',
        'aria-describedby': `${prefix}-timezone-hint`,
      }),
      hint('timezone', 'Its weeks, months and evening digest. Empty: the deployment’s TZ.'),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: `${prefix}-review` }, 'Review of proofs'),
      select('review', REVIEW_NAMES, group.review ?? 'none'),
      hint(
        'review',
        'None: a photo completes the task. Peer: another member approves it first. Model: a vision model decides, peers when it is unsure.',
      ),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: `${prefix}-share` }, 'Sharing with the group'),
      select('share', SHARE_NAMES, group.share ?? 'instant'),
      hint('share', 'Instant: members are told of each proof. Daily digest: once, in the evening.'),
    ),
  ];
}

/** The rules as the API takes them; an empty time zone is the deployment's (null). */
export function readRules(form) {
  const data = new FormData(form);
  return {
    name: String(data.get('name') ?? '').trim(),
    timezone: String(data.get('timezone') ?? '').trim() || null,
    review: String(data.get('review')),
    share: String(data.get('share')),
  };
}
