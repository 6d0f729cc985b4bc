import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { SCHEDULE_EXAMPLES } from '../../domain/habit.js';
import { DESCRIPTION_MAX_LENGTH, MAX_POINTS_PER_TASK } from '../../domain/task.js';
import {
  createHabitForApi,
  getHabit,
  type HabitDeps,
  listHabitsWithStreaks,
  updateHabitForApi,
} from '../../services/habits.js';
import { ErrorBody, IdSchema, pageOf, pagingQuery } from '../schemas.js';

/** The habit rules' collaborators: the database, the clock, TZ and the task settings. */
export type HabitsRoutesOptions = HabitDeps;

const Timestamp = Type.Unsafe<Date>({ type: 'string', format: 'date-time' });

export const HabitSchema = Type.Object({
  id: Type.Integer(),
  created_at: Timestamp,
  user_id: Type.Integer(),
  description: Type.String(),
  schedule_text: Type.String({ description: 'The schedule as it was written.' }),
  schedule_summary: Type.String({
    description: 'The schedule in words, e.g. `every week on Monday, Wednesday, Friday at 07:00`.',
  }),
  rrule: Type.String({
    description:
      'The RRULE over local dates, without time of day (`local_time`) or start, e.g. `FREQ=WEEKLY;BYDAY=MO,WE,FR`.',
  }),
  local_time: Type.String({ description: 'When each occurrence is due, `HH:MM` in time_zone.' }),
  time_zone: Type.String({ description: 'The IANA zone its days and times are counted in.' }),
  weekly_quota: Type.Union([Type.Integer(), Type.Null()], {
    description:
      '`3 times a week`: occurrences per local week (Monday to Sunday), all due at its end; null otherwise.',
  }),
  points: Type.Integer({ description: 'Points each completed occurrence earns.' }),
  status: Type.Union([Type.Literal('active'), Type.Literal('cancelled')]),
  cancelled_at: Type.Union([Timestamp, Type.Null()]),
  next_due_at: Type.Union([Timestamp, Type.Null()], {
    description:
      'Due time of the next occurrence not created yet (it is created when its local day, or week, starts).',
  }),
  current_streak: Type.Integer({
    description:
      'Occurrences (weeks, for a quota) completed in a row up to now: an expired one breaks the run, ' +
      'one taken out by a pause is skipped.',
  }),
  best_streak: Type.Integer({ description: 'The longest such run so far.' }),
  group_id: Type.Union([Type.Integer(), Type.Null()], {
    description:
      "The group whose rules (review, sharing) apply to its occurrences' proofs (GET /groups/{id}); " +
      'null only when that group was deleted.',
  }),
});

const Description = Type.String({
  minLength: 1,
  maxLength: DESCRIPTION_MAX_LENGTH,
  description: `What the person does each time, 1 to ${DESCRIPTION_MAX_LENGTH} characters (trimmed).`,
});
const Schedule = Type.String({
  minLength: 1,
  maxLength: 200,
  description:
    `A phrase as WhatsApp's \`habit\` takes it (${SCHEDULE_EXAMPLES}) or an RRULE ` +
    '(`FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=7`). Anything else is a 400 saying how to write it.',
});
const Points = (defaultPoints: number) =>
  Type.Integer({
    minimum: 0,
    maximum: MAX_POINTS_PER_TASK,
    description: `Points per completed occurrence, 0 to ${MAX_POINTS_PER_TASK} (default ${defaultPoints}).`,
  });
const GroupId = (description: string) =>
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description });
const HabitIdParams = Type.Object({ id: IdSchema });
const CancelStatus = Type.Unsafe<'cancelled'>({
  type: 'string',
  pattern: '^cancelled$',
  description: 'Only `cancelled`: cancels the habit and its open occurrences.',
});

/** Habits: GET/POST /habits, GET/PATCH /habits/{id}. */
export async function habitsRoutes(app: FastifyInstance, options: HabitsRoutesOptions) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.get(
    '/habits',
    {
      schema: {
        summary: 'List habits with their current and best streaks',
        tags: ['habits'],
        querystring: Type.Object({
          user_id: Type.Optional(IdSchema),
          ...pagingQuery(50),
        }),
        response: { 200: pageOf(HabitSchema), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { limit, offset, user_id } = request.query;
      const page = await listHabitsWithStreaks(options, {
        userId: user_id ?? null,
        limit,
        offset,
      });
      return { ...page, limit, offset };
    },
  );

  typed.post(
    '/habits',
    {
      schema: {
        summary: 'Give a person a habit (a recurring task)',
        tags: ['habits'],
        body: Type.Object({
          user_id: IdSchema,
          description: Description,
          schedule: Schedule,
          time_zone: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 64,
              description: "IANA zone, e.g. `Europe/Paris` (default: the person's zone).",
            }),
          ),
          points: Type.Optional(Points(options.pointsPerTask)),
          group_id: Type.Optional(
            GroupId(
              "One of the person's groups (422 when they are not in it); default: their only " +
                'group. A person in several groups must be given one (422 listing them), as ' +
                "WhatsApp's `habit` asks which.",
            ),
          ),
        }),
        response: { 201: HabitSchema, 400: ErrorBody, 401: ErrorBody, 422: ErrorBody },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await createHabitForApi(options, request.body)),
  );

  typed.get(
    '/habits/:id',
    {
      schema: {
        summary: 'One habit',
        tags: ['habits'],
        params: HabitIdParams,
        response: { 200: HabitSchema, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => getHabit(options, request.params.id),
  );

  typed.patch(
    '/habits/:id',
    {
      schema: {
        summary: 'Change or cancel an active habit (occurrences already created keep their times)',
        tags: ['habits'],
        params: HabitIdParams,
        body: Type.Object({
          description: Type.Optional(Description),
          schedule: Type.Optional(Schedule),
          points: Type.Optional(Points(options.pointsPerTask)),
          group_id: Type.Optional(
            GroupId(
              "Move it to another of the person's groups (422 when they are not in it): the " +
                'habit and its open occurrences; proofs already sent stay in the group that saw them.',
            ),
          ),
          status: Type.Optional(CancelStatus),
        }),
        response: {
          200: HabitSchema,
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
          422: ErrorBody,
        },
      },
    },
    async (request) => updateHabitForApi(options, request.params.id, request.body),
  );
}
