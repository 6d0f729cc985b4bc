import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  DESCRIPTION_MAX_LENGTH,
  MAX_POINTS_PER_TASK,
  taskStatuses,
  type TaskStatus,
} from '../../domain/task.js';
import { createTask, getTask, listTasks, type TaskDeps, updateTask } from '../../services/tasks.js';
import { ErrorBody, IdSchema, pageOf, pagingQuery, TaskSchema } from '../schemas.js';

/** The task rules' collaborators and settings (POINTS_PER_TASK, REMINDER_OFFSETS, the clock). */
export type TasksRoutesOptions = TaskDeps;

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
          group_id: Type.Optional(
            Type.Integer({
              minimum: 1,
              description:
                "One of the user's groups (422 when they are not in it); default: their only group, " +
                'and for a user in several a 422 listing them (as POST /habits).',
            }),
          ),
          notify: Type.Optional(
            Type.Boolean({
              default: true,
              description:
                'Tell the person what and when (default true), by the rules of reminders: free-form ' +
                'WhatsApp inside the 24-hour window, else TASK_NOTICE_CONTENT_SID or SMS, else skipped ' +
                'with the reason (the `assignment` entry of `reminders`). `false`: no notice.',
            }),
          ),
        }),
        response: { 201: TaskSchema, 400: ErrorBody, 401: ErrorBody, 422: ErrorBody },
      },
    },
    async (request, reply) => reply.status(201).send(await createTask(options, request.body)),
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
      const page = await listTasks(options, { limit, offset, userId: user_id, status });
      return { ...page, limit, offset };
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
    async (request) => getTask(options, request.params.id),
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
    async (request) => updateTask(options, request.params.id, request.body),
  );
}
