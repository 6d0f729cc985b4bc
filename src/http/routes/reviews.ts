import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { UseCaseDeps } from '../../services/deps.js';
import { adminDecide, listReviewsForApi, type ReviewAnswer } from '../../services/reviews.js';
import { ErrorBody, IdSchema, pageOf, pagingQuery } from '../schemas.js';
import { answerImageUrl, type ObjectUrl } from '../storage-urls.js';

export interface ReviewRoutesOptions extends Pick<UseCaseDeps, 'db' | 'clock'> {
  defaultTimezone: string;
  /** The URL of an object key: `image_url` is built from the photo's key when answering. */
  objectUrl: ObjectUrl;
}

const ReviewSchema = Type.Object({
  id: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }),
  feed_id: Type.Integer(),
  task_id: Type.Union([Type.Integer(), Type.Null()]),
  task_description: Type.Union([Type.String(), Type.Null()]),
  due_time: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  user_id: Type.Integer({ description: "The proof's owner." }),
  username: Type.String(),
  group_id: Type.Union([Type.Integer(), Type.Null()]),
  method: Type.Union([Type.Literal('peer'), Type.Literal('model')]),
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('rejected')]),
  timeout_at: Type.String({
    format: 'date-time',
    description: 'Approved at this time when nobody decided (REVIEW_TIMEOUT).',
  }),
  decided_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  decided_by: Type.Union([
    Type.Literal('peer'),
    Type.Literal('model'),
    Type.Literal('timeout'),
    Type.Literal('admin'),
    Type.Null(),
  ]),
  decided_by_user_id: Type.Union([Type.Integer(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'Why it was rejected.' }),
  model_verdict: Type.Unknown({
    description: "The model's { matches, confidence, reason }, or why peers reviewed instead.",
  }),
  image_key: Type.Union([Type.String(), Type.Null()]),
  image_url: Type.Union([Type.String(), Type.Null()], {
    description: 'Where a browser loads the photo (as GET /feed answers it); null without one.',
  }),
  image_url_error: Type.Union([Type.String(), Type.Null()], {
    description: 'Why image_url is null although there is a photo (storage could not sign it).',
  }),
});

const idParams = Type.Object({ id: IdSchema });

/** GET /reviews, POST /reviews/{id}/approve, POST /reviews/{id}/reject: proof reviews. */
export async function reviewRoutes(app: FastifyInstance, options: ReviewRoutesOptions) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const settings = { defaultTimezone: options.defaultTimezone };
  // The dashboard shows the photo under review, so each answer carries its URL.
  const withImageUrl = async (review: ReviewAnswer, log: FastifyBaseLogger) => ({
    ...review,
    ...(await answerImageUrl(
      { image_url: null, image_key: review.image_key },
      options.objectUrl,
      (key, error) => log.warn({ key, err: error }, 'could not make the URL of a review photo'),
    )),
  });
  typed.get(
    '/reviews',
    {
      schema: {
        summary: 'List proof reviews, newest first (pending ones: status=pending)',
        tags: ['reviews'],
        querystring: Type.Object({
          status: Type.Optional(
            Type.Union([
              Type.Literal('pending'),
              Type.Literal('approved'),
              Type.Literal('rejected'),
            ]),
          ),
          group_id: Type.Optional(IdSchema),
          ...pagingQuery(50),
        }),
        response: { 200: pageOf(ReviewSchema), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { status, group_id, limit, offset } = request.query;
      const page = await listReviewsForApi(options.db, {
        status: status ?? null,
        groupId: group_id ?? null,
        limit,
        offset,
      });
      const items = await Promise.all(page.items.map((item) => withImageUrl(item, request.log)));
      return { items, total: page.total, limit, offset };
    },
  );
  typed.post(
    '/reviews/:id/approve',
    {
      schema: {
        summary: 'Approve a pending proof: completes its task and awards its points (once)',
        tags: ['reviews'],
        params: idParams,
        response: {
          200: ReviewSchema,
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request) =>
      withImageUrl(
        await adminDecide(
          options.db,
          request.params.id,
          { approve: true, reason: null },
          settings,
          options.clock(),
        ),
        request.log,
      ),
  );
  typed.post(
    '/reviews/:id/reject',
    {
      schema: {
        summary: 'Reject a pending proof: its task is active again and the owner is told why',
        tags: ['reviews'],
        params: idParams,
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }),
        response: {
          200: ReviewSchema,
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request) =>
      withImageUrl(
        await adminDecide(
          options.db,
          request.params.id,
          { approve: false, reason: request.body.reason },
          settings,
          options.clock(),
        ),
        request.log,
      ),
  );
}
