import { remindersOfTasks } from '../db/reminders.js';
import * as tasksTable from '../db/tasks.js';
import { conflict, notFound, unprocessable, validationFailed } from '../domain/errors.js';
import type { ReminderRow } from '../domain/reminder.js';
import { parseDescription, parseDueTime, type TaskRow, type TaskStatus } from '../domain/task.js';
import type { Page, UseCaseDeps } from './deps.js';
import { chooseOwnerGroup } from './groups.js';

/** What the task rules run against: the database, the clock, and two settings. */
export interface TaskDeps extends Pick<UseCaseDeps, 'db' | 'clock'> {
  /** POINTS_PER_TASK: points of a task created without `points`. */
  pointsPerTask: number;
  /** REMINDER_OFFSETS: the reminder stages each task gets. */
  reminderOffsets: readonly number[];
}

/** A task as the API shows it: with its reminder stages and notices, in send order. */
export type TaskWithReminders = TaskRow & { reminders: ReminderRow[] };

/** A task to create, as typed; description and due_time are parsed here. */
export interface NewTaskInput {
  user_id: number;
  description: string;
  /** ISO 8601 with an offset. */
  due_time: string;
  points?: number;
  /**
   * Tell the person what and when (default true): an assignment notice through the
   * 24-hour-window rules of reminders, or recorded as skipped with the reason.
   */
  notify?: boolean;
  /**
   * One of the user's groups; absent: their only group, and for a user in several an
   * `unprocessable` listing them (as POST /habits): its proof follows that group's rules.
   */
  group_id?: number;
}

/** Changes to an active task, as typed; `status` may only cancel it. */
export interface TaskChangesInput {
  description?: string;
  due_time?: string;
  status?: 'cancelled';
}

export interface ListTasksQuery {
  limit: number;
  offset: number;
  userId?: number | null;
  status?: TaskStatus | null;
}

const schedule = (deps: TaskDeps): tasksTable.StageSchedule => ({
  offsets: deps.reminderOffsets,
  now: deps.clock(),
});

async function withReminders(
  deps: Pick<TaskDeps, 'db'>,
  tasks: TaskRow[],
): Promise<TaskWithReminders[]> {
  const reminders = await remindersOfTasks(
    deps.db,
    tasks.map((task) => task.id),
  );
  return tasks.map((task) => ({ ...task, reminders: reminders.get(task.id) ?? [] }));
}

const withRemindersOne = async (deps: Pick<TaskDeps, 'db'>, task: TaskRow) =>
  (await withReminders(deps, [task]))[0] as TaskWithReminders;

/**
 * Gives a user a task, with its reminder stages; an unknown user or a due time already
 * passed is `unprocessable` (the request is well formed, but cannot be carried out).
 */
export async function createTask(deps: TaskDeps, input: NewTaskInput): Promise<TaskWithReminders> {
  const stages = schedule(deps);
  const description = parseDescription(input.description);
  const dueTime = parseDueTime(input.due_time);
  // A task already due would only expire at the scheduler's next run, and the person be
  // told they missed something they never heard of.
  if (dueTime.getTime() <= stages.now.getTime()) {
    throw unprocessable(
      `due_time ${input.due_time} has already passed (it is ${stages.now.toISOString()}); ` +
        'give a due time in the future.',
    );
  }
  // A group the user is not in is `unprocessable`, like an unknown user; so is none named
  // for a user in several: the default group would be a guess, and the proof would follow
  // the wrong group's review and sharing.
  const groupId = await chooseOwnerGroup(deps.db, input.user_id, input.group_id, 'task');
  const task = await tasksTable.createTask(
    deps.db,
    {
      group_id: groupId,
      user_id: input.user_id,
      description,
      due_time: dueTime,
      points: input.points ?? deps.pointsPerTask,
      notify: input.notify !== false,
    },
    stages,
  );
  if (!task) {
    throw unprocessable(
      `No user with id ${input.user_id}; create the user first with POST /users.`,
    );
  }
  return withRemindersOne(deps, task);
}

/** Tasks by due time, optionally of one user and in one status. */
export async function listTasks(
  deps: Pick<TaskDeps, 'db'>,
  query: ListTasksQuery,
): Promise<Page<TaskWithReminders>> {
  const page = await tasksTable.listTasks(deps.db, {
    limit: query.limit,
    offset: query.offset,
    userId: query.userId ?? null,
    status: query.status ?? null,
  });
  return { ...page, items: await withReminders(deps, page.items) };
}

/** One task; `not_found` when there is none with that id. */
export async function getTask(deps: Pick<TaskDeps, 'db'>, id: number): Promise<TaskWithReminders> {
  const task = await tasksTable.findTaskById(deps.db, id);
  if (!task) throw notFound(`No task with id ${id}.`);
  return withRemindersOne(deps, task);
}

/**
 * Changes or cancels a task. Only an active task may change (`conflict` otherwise): a
 * completed, expired or cancelled one is history. A new due time reschedules the stages
 * not sent yet; cancelling cancels them.
 */
export async function updateTask(
  deps: TaskDeps,
  id: number,
  input: TaskChangesInput,
): Promise<TaskWithReminders> {
  const changes: tasksTable.TaskChanges = {};
  if (input.description !== undefined) changes.description = parseDescription(input.description);
  if (input.due_time !== undefined) changes.due_time = parseDueTime(input.due_time);
  if (input.status !== undefined) changes.status = input.status;
  if (Object.keys(changes).length === 0) {
    throw validationFailed(
      'Nothing to change: send at least one of description, due_time, status ("cancelled").',
    );
  }
  const result = await tasksTable.updateActiveTask(deps.db, id, changes, schedule(deps));
  if (result.outcome === 'not_found') throw notFound(`No task with id ${id}.`);
  if (result.outcome === 'not_active') {
    throw conflict(
      `Task ${id} is ${result.status}; only active tasks can be changed or cancelled.`,
    );
  }
  return withRemindersOne(deps, result.task);
}
