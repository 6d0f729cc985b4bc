import { api, query } from './api.js';
import {
  dateToLocalInput,
  emptyState,
  formatDateTime,
  h,
  localInputToIso,
  renderPager,
  replace,
  statusBadge,
} from './dom.js';
import { listGroups } from './group-filter.js';
import { habitOfTask, loadHabits, pauseCell, zoneCell } from './habits.js';
import { loading, notify, showError, withBusy } from './ui.js';

const TASK_PAGE_SIZE = 20;
let users = [];
let taskOffset = 0;
let wired = false;

const usernameOf = (id) => users.find((user) => user.id === id)?.username ?? `user ${id}`;

/** A table whose rows turn into labelled blocks on a narrow screen (see styles.css). */
function table(caption, columns, rows) {
  return h(
    'table',
    { class: 'table stacked' },
    h('caption', { class: 'visually-hidden' }, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map((column) => h('th', { scope: 'col', class: column.class }, column.label)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) =>
        h(
          'tr',
          row.props ?? {},
          row.cells.map((cell, index) =>
            h('td', { 'data-label': columns[index].label, class: columns[index].class }, cell),
          ),
        ),
      ),
    ),
  );
}

/**
 * The task form's "Group" select: a task belongs to one of its owner's groups, and someone in
 * several must be told which (POST /tasks answers 422 otherwise). Hidden while the deployment
 * has one group, where the automatic choice is always right.
 */
async function fillTaskGroups(section) {
  const select = section.querySelector('#task-group');
  const groups = await listGroups({ fresh: true });
  const chosen = select.value;
  replace(
    select,
    h('option', { value: '' }, 'Their group (when they are in one)'),
    groups.map((group) => h('option', { value: group.id }, group.name)),
  );
  if (groups.some((group) => String(group.id) === chosen)) select.value = chosen;
  select.closest('.field').hidden = groups.length < 2;
}

/**
 * A row turned into a form or a "Delete …?" question, which a background redraw (a live
 * change) must not wipe under the admin's hand; redraws after Save or Delete replace it.
 */
const rowAwaitsAnswer = (list) => list.querySelector('[role=alertdialog], form') !== null;

async function loadUsers(section, { background = false } = {}) {
  const page = await api('/users?limit=100');
  users = page.items;
  const select = section.querySelector('#task-user');
  const selected = select.value;
  replace(
    select,
    users.length === 0
      ? h('option', { value: '' }, 'Add a person first')
      : users.map((user) => h('option', { value: user.id }, user.username)),
  );
  if (users.some((user) => String(user.id) === selected)) select.value = selected;
  // Checked after the request: a question opened while it ran counts too.
  if (background && rowAwaitsAnswer(section.querySelector('[data-users]'))) {
    await fillTaskGroups(section);
    return;
  }
  replace(
    section.querySelector('[data-users]'),
    users.length === 0
      ? emptyState('Nobody yet. Add the first person above.')
      : table(
          'People',
          [
            { label: 'Name' },
            { label: 'Phone number' },
            { label: 'Messages' },
            { label: 'Zone' },
            { label: 'Pause' },
            { label: 'Points', class: 'number' },
            { label: 'App' },
          ],
          users.map((user) => ({
            props: { dataset: { userId: user.id, optedOut: String(user.opted_out_at != null) } },
            cells: [
              user.username,
              user.phone_number ?? '—',
              // Opted out (STOP, or Twilio error 21610): no reminders or notices until START.
              user.opted_out_at
                ? `Opted out ${formatDateTime(user.opted_out_at)}${user.opt_out_source === 'twilio_21610' ? ' (Twilio 21610)' : ' (STOP)'}`
                : 'On',
              zoneCell(user),
              pauseCell(user),
              String(user.points),
              signInLinkButton(user),
            ],
          })),
        ),
  );
  // After the table, so the rows are drawn as soon as the people are read (a question
  // opened in a row meanwhile is not wiped by a table drawn a request later).
  await fillTaskGroups(section);
}

/**
 * "Send sign-in link": the person gets a single-use link to the participant app (/app) on
 * WhatsApp; the answer never contains it, so the admin cannot sign in as them.
 */
function signInLinkButton(user) {
  if (!user.phone_number || user.opted_out_at) return '—';
  const button = h(
    'button',
    {
      class: 'button small',
      type: 'button',
      onClick: async () => {
        const sent = await withBusy(button, () =>
          api(`/users/${user.id}/sign-in-link`, { method: 'POST' }),
        );
        if (sent) {
          notify(
            `Sign-in link sent to ${user.username}, valid until ${formatDateTime(sent.expires_at)}.`,
          );
        }
      },
    },
    'Send sign-in link',
  );
  return button;
}

const CHANNELS = { whatsapp: 'WhatsApp', template: 'WhatsApp template', sms: 'SMS' };

/** `1 h`, `15 min`, `1 h 30 min`. */
function duration(minutes) {
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return [hours ? `${hours} h` : '', rest || !hours ? `${rest} min` : ''].filter(Boolean).join(' ');
}

/**
 * Stages cancelled for one reason (the task was completed, cancelled, expired) are one
 * line: "1 h, 15 min before" rather than a line each saying the same.
 */
function groupCancelled(stages) {
  const lines = [];
  for (const stage of stages) {
    const previous = lines.at(-1);
    if (
      stage.status === 'cancelled' &&
      previous?.status === 'cancelled' &&
      previous.kind === 'reminder' &&
      stage.kind === 'reminder' &&
      previous.reason === stage.reason
    ) {
      previous.offsets.push(stage.offset_minutes);
    } else {
      lines.push({ ...stage, offsets: [stage.offset_minutes] });
    }
  }
  return lines;
}

/**
 * A task's reminder stages and expiry notice, in send order: what was sent and how, what
 * is still to come and when, and why a stage was skipped or cancelled.
 */
function reminderStages(task) {
  const stages = task.reminders ?? [];
  if (stages.length === 0) return h('span', { class: 'muted' }, '—');
  return h(
    'ul',
    { class: 'reminder-stages' },
    groupCancelled(stages).map((line) => {
      const what =
        line.kind === 'expiry'
          ? 'Expiry notice'
          : line.kind === 'assignment'
            ? 'Assignment notice'
            : `${line.offsets.map(duration).join(', ')} before`;
      const detail =
        line.status === 'sent'
          ? (CHANNELS[line.channel] ?? line.channel ?? '')
          : line.status === 'pending'
            ? h('time', { datetime: line.send_at }, formatDateTime(line.send_at))
            : (line.reason ?? '');
      return h(
        'li',
        { dataset: { kind: line.kind, offsets: line.offsets.join(','), status: line.status } },
        h('span', { class: 'stage-name' }, what),
        ' ',
        statusBadge(line.status),
        detail ? h('span', { class: 'stage-detail' }, ' ', detail) : null,
      );
    }),
  );
}

async function cancelTask(section, task, button) {
  const updated = await withBusy(button, () =>
    api(`/tasks/${task.id}`, { method: 'PATCH', body: { status: 'cancelled' } }),
  );
  if (updated) {
    notify(`Cancelled “${task.description}”.`);
    await loadTasks(section);
  }
}

async function loadTasks(section, { background = false } = {}) {
  const container = section.querySelector('[data-tasks]');
  const status = section.querySelector('#task-filter').value;
  const page = await api(`/tasks${query({ status, limit: TASK_PAGE_SIZE, offset: taskOffset })}`);
  if (background && rowAwaitsAnswer(container)) return;
  replace(
    container,
    page.items.length === 0
      ? emptyState(status ? `No ${status} tasks.` : 'No tasks yet. Assign one above.')
      : table(
          'Tasks',
          [
            { label: 'Task' },
            { label: 'Person' },
            { label: 'Due' },
            { label: 'Status' },
            { label: 'Points', class: 'number' },
            { label: 'Reminders', class: 'reminders' },
            { label: 'Actions', class: 'actions' },
          ],
          page.items.map((task) => ({
            props: { dataset: { taskId: task.id, status: task.status } },
            cells: [
              // An occurrence of a habit says which, with the habit's streak.
              task.habit_id === null || task.habit_id === undefined
                ? task.description
                : h('span', {}, task.description, h('br'), habitOfTask(task)),
              usernameOf(task.user_id),
              h('time', { datetime: task.due_time }, formatDateTime(task.due_time)),
              statusBadge(task.status),
              String(task.points),
              reminderStages(task),
              task.status === 'active'
                ? h(
                    'button',
                    {
                      class: 'button danger small',
                      type: 'button',
                      'aria-label': `Cancel task “${task.description}”`,
                      onClick: (event) => cancelTask(section, task, event.currentTarget),
                    },
                    'Cancel',
                  )
                : '',
            ],
          })),
        ),
  );
  renderPager(
    section.querySelector('[data-tasks-pager]'),
    page,
    (next) => {
      taskOffset = next;
      void loadTasks(section).catch(showError);
    },
    'tasks',
  );
}

function defaultDue() {
  // Two hours from now, on the hour: a sensible first value to adjust.
  const due = new Date(Date.now() + 2 * 3600_000);
  due.setMinutes(0, 0, 0);
  return dateToLocalInput(due);
}

function wireForms(section) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  section.querySelector('[data-timezone]').textContent = `Your time (${zone}).`;
  section.querySelector('#task-due').value = defaultDue();

  const userForm = section.querySelector('#user-form');
  userForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(userForm);
    const created = await withBusy(userForm.querySelector('button[type=submit]'), () =>
      api('/users', {
        method: 'POST',
        body: {
          username: String(data.get('username')).trim(),
          phone_number: String(data.get('phone_number')).trim(),
        },
      }),
    );
    if (!created) return;
    userForm.reset();
    notify(`Added ${created.username}.`);
    await loadUsers(section).catch(showError);
    section.querySelector('#task-user').value = String(created.id);
  });

  const taskForm = section.querySelector('#task-form');
  taskForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(taskForm);
    const dueTime = localInputToIso(String(data.get('due_time')));
    const points = String(data.get('points') ?? '').trim();
    const created = await withBusy(taskForm.querySelector('button[type=submit]'), async () => {
      if (!data.get('user_id')) throw new Error('Add a person first, then assign them a task.');
      if (!dueTime) throw new Error('Choose when the task is due.');
      return api('/tasks', {
        method: 'POST',
        body: {
          user_id: Number(data.get('user_id')),
          description: String(data.get('description')).trim(),
          due_time: dueTime,
          ...(points === '' ? {} : { points: Number(points) }),
          ...(data.get('group_id') ? { group_id: Number(data.get('group_id')) } : {}),
          notify: data.get('notify') === 'on',
        },
      });
    });
    if (!created) return;
    taskForm.querySelector('#task-description').value = '';
    taskForm.querySelector('#task-points').value = '';
    // Back to the default for the next task: people are told of what concerns them.
    taskForm.querySelector('#task-notify').checked = true;
    notify(`Assigned “${created.description}” to ${usernameOf(created.user_id)}.`);
    await loadTasks(section).catch(showError);
  });

  section.querySelector('#task-filter').addEventListener('change', () => {
    taskOffset = 0;
    void loadTasks(section).catch(showError);
  });
}

export async function loadPeople(section, { background = false } = {}) {
  if (!wired) {
    wired = true;
    wireForms(section);
  }
  await loading(section, async () => {
    try {
      await loadUsers(section, { background });
      await loadHabits(section, usernameOf);
      await loadTasks(section, { background });
    } catch (error) {
      showError(error);
    }
  });
}
