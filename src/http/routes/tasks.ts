import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queryable } from '../../db/executor.js';
import {
  createTask,
  findTaskById,
  listTasks,
  updateActiveTask,
  type TaskChanges,
} from '../../db/tasks.js';
import { conflict, notFound, unprocessable, validationFailed } from '../../domain/errors.js';
import {
  DESCRIPTION_MAX_LENGTH,
  MAX_POINTS_PER_TASK,
  parseDescription,
  parseDueTime,
  taskStatuses,
  type TaskRow,
  type TaskStatus,
} from '../../domain/task.js';
import { remindersOfTasks } from '../../db/reminders.js';
import { ErrorBody, IdSchema, pageOf, pagingQuery, TaskSchema } from '../schemas.js';

export interface TasksRoutesOptions {
  db: Queryable;
  /** Points of a task created without `points`. */
  pointsPerTask: number;
  /** REMINDER_OFFSETS: the reminder stages each task gets. */
  reminderOffsets: readonly number[];
  /** The current time (tests inject one). */
  clock: () => Date;
}

/** Tasks as the API shows them: each with its reminder stages. */
async function withReminders(db: Queryable, tasks: TaskRow[]) {
  const reminders = await remindersOfTasks(
    db,
    tasks.map((task) => task.id),
  );
  return tasks.map((task) => ({ ...task, reminders: reminders.get(task.id) ?? [] }));
}

async function withRemindersOne(db: Queryable, task: TaskRow) {
  const reminders = await remindersOfTasks(db, [task.id]);
  return { ...task, reminders: reminders.get(task.id) ?? [] };
}

const Description = Type.String({
  minLength: 1,
  maxLength: DESCRIPTION_MAX_LENGTH,
  description: 'What the user promised to do, 1 to 2000 characters (trimmed).',
});
const DueTime = Type.String({
  format: 'date-time',
  description: 'ISO 8601 date-time with an offset, e.g. `2025-05-01T18:00:00+02:00`.',
});
const TaskIdParams = Type.Object({ id: IdSchema });
// A pattern rather than an enum: the validation error then says which values are allowed
// ("must match pattern ..."), where an enum's only says "one of the allowed values".
const StatusFilter = Type.Unsafe<TaskStatus>({
  type: 'string',
  pattern: `^(${taskStatuses.join('|')})$`,
  description: `One of ${taskStatuses.map((status) => `\`${status}\``).join(', ')}.`,
});
const CancelStatus = Type.Unsafe<'cancelled'>({
  type: 'string',
  pattern: '^cancelled$',
  description: 'Only `cancelled`: cancels the task.',
});

/** Tasks: POST/GET /tasks, GET/PATCH /tasks/{id}. */
export async function tasksRoutes(app: FastifyInstance, options: TasksRoutesOptions) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.post(
    '/tasks',
    {
      schema: {
        summary: 'Give a user a task',
        tags: ['tasks'],
        body: Type.Object({
          user_id: IdSchema,
          description: Description,
          due_time: DueTime,
          points: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: MAX_POINTS_PER_TASK,
              description: `Points for completing it, 0 to ${MAX_POINTS_PER_TASK} (default ${options.pointsPerTask}).`,
            }),
          ),
        }),
        response: { 201: TaskSchema, 400: ErrorBody, 401: ErrorBody, 422: ErrorBody },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const task = await createTask(
        options.db,
        {
          user_id: body.user_id,
          description: parseDescription(body.description),
          due_time: parseDueTime(body.due_time),
          points: body.points ?? options.pointsPerTask,
        },
        { offsets: options.reminderOffsets, now: options.clock() },
      );
      if (!task) {
        throw unprocessable(
          `No user with id ${body.user_id}; create the user first with POST /users.`,
        );
      }
      return reply.status(201).send(await withRemindersOne(options.db, task));
    },
  );

  typed.get(
    '/tasks',
    {
      schema: {
        summary: 'List tasks by due time',
        tags: ['tasks'],
        querystring: Type.Object({
          user_id: Type.Optional(IdSchema),
          status: Type.Optional(StatusFilter),
          ...pagingQuery(50),
        }),
        response: { 200: pageOf(TaskSchema), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { limit, offset, user_id, status } = request.query;
      const page = await listTasks(options.db, {
        limit,
        offset,
        userId: user_id ?? null,
        status: status ?? null,
      });
      return { ...page, items: await withReminders(options.db, page.items), limit, offset };
    },
  );

  typed.get(
    '/tasks/:id',
    {
      schema: {
        summary: 'One task',
        tags: ['tasks'],
        params: TaskIdParams,
        response: { 200: TaskSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const task = await findTaskById(options.db, request.params.id);
      if (!task) throw notFound(`No task with id ${request.params.id}.`);
      return withRemindersOne(options.db, task);
    },
  );

  typed.patch(
    '/tasks/:id',
    {
      schema: {
        summary: 'Change or cancel an active task',
        tags: ['tasks'],
        params: TaskIdParams,
        body: Type.Object({
          description: Type.Optional(Description),
          due_time: Type.Optional(DueTime),
          status: Type.Optional(CancelStatus),
        }),
        response: {
          200: TaskSchema,
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const body = request.body;
      const changes: TaskChanges = {};
      if (body.description !== undefined) changes.description = parseDescription(body.description);
      if (body.due_time !== undefined) changes.due_time = parseDueTime(body.due_time);
      if (body.status !== undefined) changes.status = body.status;
      if (Object.keys(changes).length === 0) {
        throw validationFailed(
          'Nothing to change: send at least one of description, due_time, status ("cancelled").',
        );
      }
      const result = await updateActiveTask(options.db, id, changes, {
        offsets: options.reminderOffsets,
        now: options.clock(),
      });
      if (result.outcome === 'not_found') throw notFound(`No task with id ${id}.`);
      if (result.outcome === 'not_active') {
        throw conflict(
          `Task ${id} is ${result.status}; only active tasks can be changed or cancelled.`,
        );
      }
      return withRemindersOne(options.db, result.task);
    },
  );
}
