// People and tasks edited and deleted in place: the row becomes a small form (Save, Keep as
// it was), and deleting a person asks first, in the row, saying what goes with them.
import { api } from './api.js';
import { dateToLocalInput, h, localInputToIso } from './dom.js';
import { notify, withBusy } from './ui.js';

/** Replaces a table row's cells by one cell holding `content` (a form or a question). */
function inRow(row, content) {
  const columns = row.children.length;
  const saved = [...row.children];
  row.replaceChildren(h('td', { colspan: columns, class: 'row-edit' }, content));
  return () => row.replaceChildren(...saved);
}

function field(id, label, input) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

/** The row's buttons under a form or a question: the action, then one that restores the row. */
function inlineActions(action, keepText, restore) {
  return h(
    'div',
    { class: 'inline-edit-actions' },
    action,
    h(
      'button',
      { class: 'button subtle small', type: 'button', onClick: () => restore() },
      keepText,
    ),
  );
}

/**
 * Turns `row` into a form of `fields` (label and input pairs, the first focused) with Save
 * and Keep as it was. Save runs `save()` with its button busy; when it answered, `savedText`
 * of the answer is said and `reload()` redraws the lists (which replaces the form).
 */
function editInRow(row, { label, fields, save, savedText, reload }) {
  let restore = null;
  const form = h(
    'form',
    {
      class: 'inline-edit',
      'aria-label': label,
      onSubmit: async (submit) => {
        submit.preventDefault();
        const saved = await withBusy(form.querySelector('button[type=submit]'), save);
        if (!saved) return;
        notify(savedText(saved));
        await reload();
      },
    },
    ...fields.map(([text, input]) => field(input.id, text, input)),
    inlineActions(
      h('button', { class: 'button primary small', type: 'submit' }, 'Save'),
      'Keep as it was',
      () => restore(),
    ),
  );
  restore = inRow(row, form);
  fields[0][1].focus();
}

/** Edit and Delete buttons for a person's row. `reload()` redraws the lists afterwards. */
export function userActions(user, reload) {
  const edit = (event) => {
    const name = h('input', {
      id: `edit-user-${user.id}-name`,
      name: 'username',
      required: true,
      maxlength: 100,
      value: user.username,
    });
    const phone = h('input', {
      id: `edit-user-${user.id}-phone`,
      name: 'phone_number',
      type: 'tel',
      required: true,
      inputmode: 'tel',
      value: user.phone_number ?? '',
    });
    editInRow(event.currentTarget.closest('tr'), {
      label: `Edit ${user.username}`,
      fields: [
        ['Name', name],
        ['WhatsApp phone number', phone],
      ],
      save: () =>
        api(`/users/${user.id}`, {
          method: 'PATCH',
          body: { username: name.value.trim(), phone_number: phone.value.trim() },
        }),
      savedText: (saved) => `Saved ${saved.username}.`,
      reload,
    });
  };

  const remove = (event) => {
    const row = event.currentTarget.closest('tr');
    let restore = null;
    const yes = h(
      'button',
      {
        class: 'button danger small',
        type: 'button',
        onClick: async () => {
          const done = await withBusy(yes, () => api(`/users/${user.id}`, { method: 'DELETE' }));
          if (!done) return;
          notify(`Deleted ${user.username} and their data.`);
          await reload();
        },
      },
      `Delete ${user.username}`,
    );
    const question = h(
      'div',
      { class: 'inline-edit', role: 'alertdialog', 'aria-label': `Delete ${user.username}?` },
      h(
        'p',
        {},
        h('strong', {}, `Delete ${user.username}?`),
        ' Their messages, tasks, habits, posts and photos are removed for good and they are told; only anonymous totals stay.',
      ),
      inlineActions(yes, 'Keep them', () => restore()),
    );
    restore = inRow(row, question);
    yes.focus();
  };

  return h(
    'span',
    { class: 'row-actions' },
    h(
      'button',
      {
        class: 'button subtle small',
        type: 'button',
        'aria-label': `Edit ${user.username}`,
        onClick: edit,
      },
      'Edit',
    ),
    h(
      'button',
      {
        class: 'button danger small',
        type: 'button',
        'aria-label': `Delete ${user.username}`,
        onClick: remove,
      },
      'Delete',
    ),
  );
}

/** An Edit button for an active task's row: its description and due time in place. */
export function taskEditButton(task, reload) {
  return h(
    'button',
    {
      class: 'button subtle small',
      type: 'button',
      'aria-label': `Edit task “${task.description}”`,
      onClick: (event) => {
        const description = h('input', {
          id: `edit-task-${task.id}-description`,
          required: true,
          maxlength: 2000,
          value: task.description,
        });
        const due = h('input', {
          id: `edit-task-${task.id}-due`,
          type: 'datetime-local',
          required: true,
          value: dateToLocalInput(new Date(task.due_time)),
        });
        editInRow(event.currentTarget.closest('tr'), {
          label: `Edit task “${task.description}”`,
          fields: [
            ['Task', description],
            ['Due', due],
          ],
          save: () =>
            api(`/tasks/${task.id}`, {
              method: 'PATCH',
              body: { description: description.value.trim(), due_time: localInputToIso(due.value) },
            }),
          savedText: (saved) => `Saved “${saved.description}”.`,
          reload,
        });
      },
    },
    'Edit',
  );
}

const cellText = (row, index) => row.children[index]?.textContent?.trim() ?? '';

/** Adds the buttons to rows people.js drew: the person's and the active task's. */
function decorate(section, reload) {
  for (const row of section.querySelectorAll('[data-users] tr[data-user-id]')) {
    if (row.querySelector('.row-actions')) continue;
    const user = {
      id: Number(row.dataset.userId),
      username: cellText(row, 0),
      phone_number: cellText(row, 1),
    };
    row.append(h('td', { class: 'actions', 'data-label': 'Actions' }, userActions(user, reload)));
  }
  const head = section.querySelector('[data-users] thead tr');
  if (head && !head.querySelector('.actions')) {
    head.append(h('th', { scope: 'col', class: 'actions' }, 'Actions'));
  }
  for (const row of section.querySelectorAll(
    '[data-tasks] tr[data-task-id][data-status="active"]',
  )) {
    const actions = row.querySelector('td.actions');
    if (!actions || actions.querySelector('[data-edit-task]')) continue;
    const task = {
      id: Number(row.dataset.taskId),
      description: row.children[0]?.firstChild?.textContent?.trim() ?? '',
      due_time: row.querySelector('time[datetime]')?.getAttribute('datetime'),
    };
    const button = taskEditButton(task, reload);
    button.dataset.editTask = '';
    actions.prepend(button, ' ');
  }
}

/**
 * Keeps the Edit and Delete buttons on the People and tasks lists, however often they
 * are redrawn (a load, a live change, a cancel).
 */
export function enhancePeople(section, reload) {
  if (section.dataset.enhanced) return;
  section.dataset.enhanced = 'true';
  const observer = new MutationObserver(() => decorate(section, reload));
  for (const container of section.querySelectorAll('[data-users], [data-tasks]')) {
    observer.observe(container, { childList: true });
  }
  decorate(section, reload);
}
