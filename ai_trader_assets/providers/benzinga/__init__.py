"""The Benzinga provider: news only, from Benzinga's own REST API (``GET /api/v2/news``).

Benzinga serves the same articles Alpaca resells (same ids), so rows use the same id form,
``benzinga:<id>``: an article is one row whichever of the two served it. Bars and corporate actions
raise :class:`NotServedError` (failover moves on to the next provider).

Traps handled:

* The key travels only in the ``Authorization: token <key>`` header (kept a :class:`Secret`), never
  as the ``token=`` query parameter Benzinga also accepts: URLs end up in logs. ``Accept:
  application/json`` is sent, or Benzinga answers XML. A refused key is HTTP 401 with a JSON *array*
  body (``["Access denied for user 0 \\"anonymous\\""]``); the transport classifies it by status
  before reading the body and raises :class:`AuthenticationError` naming ``BENZINGA_API_KEY``.
* ``created`` is an RFC-2822 string with an offset (``Wed, 26 Jun 2024 13:06:30 -0400``). The docs
  say Eastern time, yet show ``-0400`` in January: the offset written is parsed, never assumed.
* ``dateFrom``/``dateTo`` are whole days (read in Eastern time), so the request covers the
  Eastern date of ``start`` to the UTC date of ``end`` and articles are then kept by ``created``
  in [start, end).
* Pagination is by page number: pages are read until one holds fewer than ``pageSize`` items
  (``sort=created:asc``, so articles published while paging land at the end, not between pages).
  Benzinga caps ``pageSize`` at 100: a larger configured size would make every full page look like
  the last one, so the size sent is capped. A page that is not a JSON list is an error; a page
  repeating the previous one (the page number ignored) or more than ``max_pages`` pages raise
  :class:`PaginationError` — never a silent short or endless result. A cut-off (undecodable) page
  is retried by the transport like any transient failure.
* ``tickers`` takes at most 50 symbols: larger requests are chunked, and an article naming symbols
  of several chunks is kept once, with a link per symbol it names.
* ``teaser`` and ``body`` are HTML with entities and often empty: the description is the teaser as
  plain text, or the start of the body when the teaser is empty.
* Items without an id, a parseable ``created`` or a title become rejects with a reason and the raw
  record; nothing is dropped silently.

Modules: :mod:`.client` (the provider), :mod:`.parse` (items to frames).
"""

from ai_trader_assets.providers.benzinga.client import BenzingaProvider

__all__ = ["BenzingaProvider"]
