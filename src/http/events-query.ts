import { t } from 'elysia'

/** The most events one `GET …/events` answers. */
export const MAX_PAGE = 1000

/** `?after=&limit=` of `GET …/events`, for owners and viewers alike. */
export const EventsQuery = t.Object({
  after: t.Optional(t.Integer({ minimum: 0, error: '"after" must be a whole number of events, 0 or more.' })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: MAX_PAGE, error: `"limit" must be a whole number from 1 to ${MAX_PAGE}.` })),
})
