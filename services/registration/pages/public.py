"""The public attendee pages: the events list, an event, and its registration form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from aiohttp import web

from services.registration import repository, service
from services.registration.domain import Category, EventDraft, registration_closed_reason
from services.registration.handlers import event_out, limit, rt_of, texts_by_sms
from services.registration.pages import forms
from services.registration.pages.render import not_found, render, see_other
from shared.errors import Conflict, NotFound, RateLimited, ValidationFailed
from shared.http import page_language
from shared.runtime import Runtime


@dataclass(frozen=True)
class CategoryView:
    """A category as an attendee needs to see it: what is left and whether they can
    register now (``closed`` is ``registration_not_open``, ``registration_closed`` or
    None)."""

    category: Category
    remaining: int
    waitlist_people: int
    closed: str | None
    opens_at: datetime | None

    @property
    def full(self) -> bool:
        return self.remaining <= 0 and not self.category.review


@dataclass(frozen=True)
class EventView:
    event: EventDraft
    categories: list[CategoryView]


async def event_view(rt: Runtime, event: EventDraft, now: datetime) -> EventView:
    """Places left and the waiting list come from the API's own view (``event_out``), so
    the pages and ``GET /api/registration/events`` always agree."""
    counts = {c["code"]: c for c in (await event_out(rt, event, now))["categories"]}
    views = []
    for c in event.categories:
        opens = c.opens_at or event.registration_opens_at
        closes = c.closes_at or event.registration_closes_at
        views.append(
            CategoryView(
                category=c,
                remaining=counts[c.code]["remaining"],
                waitlist_people=counts[c.code]["waitlist_people"],
                closed=registration_closed_reason(opens, closes, event.starts_at, now),
                opens_at=opens,
            )
        )
    return EventView(event, views)


async def list_page(request: web.Request) -> web.StreamResponse:
    """The public events that have not ended yet, soonest first: a past event is only
    noise on a small screen (the API still lists it)."""
    rt = rt_of(request)
    now = datetime.now(UTC)
    views = []
    for row in await repository.public_events(rt.pool):
        event = await repository.load_event(rt.pool, row["slug"])
        if event is not None and event.ends_at > now:
            views.append(await event_view(rt, event, now))
    return render(
        request, "events.html", lang=page_language(request), here="/events/", events=views
    )


async def to_list(request: web.Request) -> web.StreamResponse:
    """``/events`` (as people type it) → ``/events/``, keeping ``?lang=``."""
    query = f"?{request.query_string}" if request.query_string else ""
    raise web.HTTPPermanentRedirect(f"/events/{query}")


async def event_page(request: web.Request) -> web.StreamResponse:
    rt = rt_of(request)
    lang = page_language(request)
    try:
        event = await service.get_event(rt, request.match_info["slug"])
    except NotFound:
        return not_found(request, lang)
    view = await event_view(rt, event, datetime.now(UTC))
    return render(request, "event.html", lang=lang, here=f"/events/{event.slug}", view=view)


# -- the form ---------------------------------------------------------------------------
async def _form_target(request: web.Request) -> tuple[EventView, CategoryView] | None:
    rt = rt_of(request)
    try:
        event = await service.get_event(rt, request.match_info["slug"])
    except NotFound:
        return None
    view = await event_view(rt, event, datetime.now(UTC))
    code = request.match_info["category"]
    cat = next((c for c in view.categories if c.category.code == code), None)
    return (view, cat) if cat is not None else None


def _form_path(view: EventView, cat: CategoryView) -> str:
    return f"/events/{view.event.slug}/register/{cat.category.code}"


def _form(
    request: web.Request,
    lang: str,
    view: EventView,
    cat: CategoryView,
    *,
    token: str,
    values: dict[str, str] | None = None,
    errors: forms.Errors | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    here = f"{_form_path(view, cat)}?form={token}"
    response = render(
        request,
        "form.html",
        lang=lang,
        here=here,
        status=status,
        # It holds this visitor's idempotency key: never for a shared cache.
        cache_control="private, max-age=0" if status == 200 else "no-store",
        view=view,
        cat=cat,
        action=here,
        token=token,
        values=values or {},
        errors=errors or forms.Errors(),
        fid=forms.field_id,
        labels=forms.LABELS,
        notify_choices=forms.NOTIFY_CHOICES,
    )
    response.headers.update(headers or {})
    return response


async def form_page(request: web.Request) -> web.StreamResponse:
    """The form, named by its idempotency key (``?form=<key>``).

    The key lives in the page's URL, not only in the page: after the form is sent, the
    browser drops its cached copy of that URL (a POST to it invalidates it), so "back"
    fetches the form again, and it must come back with the same key for a second send
    to get the first answer. A visit without a key is sent to a fresh one."""
    lang = page_language(request)
    target = await _form_target(request)
    if target is None:
        return not_found(request, lang)
    token = forms.valid_token(request.query.get("form"))
    if token is None:
        query = {"form": forms.new_token()}
        if "lang" in request.query:
            query["lang"] = request.query["lang"]
        return see_other(request, f"{_form_path(*target)}?{urlencode(query)}")
    return _form(request, lang, *target, token=token)


async def submit_form(request: web.Request) -> web.StreamResponse:
    """One POST → one ``service.register`` call with the form's idempotency key; field
    errors render the form again with what was typed; success goes to the ticket page."""
    lang = page_language(request)
    target = await _form_target(request)
    if target is None:
        return not_found(request, lang)
    view, cat = target
    form = await request.post()
    values = forms.form_values(form)
    token = forms.valid_token(values.get("idempotency_key") or request.query.get("form"))
    errors = forms.Errors()
    headers: dict[str, str] = {}
    try:
        limit(request, "register")
        req = forms.registration_request(form, cat.category, lang)
        if texts_by_sms(req.phone, req.email, req.notify_by):
            limit(request, "sms")
        _, answer = await service.register(
            rt_of(request),
            view.event.slug,
            req,
            idempotency_key=f"form:{token}" if token else None,
        )
    except ValidationFailed as exc:
        if any(e.code == "idempotency_key_reused" for e in exc.errors):
            # The same form sent again with other details (back, edit, send): the first
            # registration stands. Its page is not shown here, as the browser may be a
            # shared one; a fresh form lets this person register on their own.
            errors.general("idempotency_key_reused")
            token = None
        else:
            errors = forms.collect(exc.errors, cat.category)
        status = 422
    except Conflict as exc:
        errors.general(exc.code)
        status = 409
    except RateLimited as exc:
        errors.general("rate_limited")
        headers["Retry-After"] = str(exc.retry_after)
        status = 429
    except NotFound:
        return not_found(request, lang)
    else:
        return see_other(request, f"/events/r/{answer['id']}/{answer['secret']}")
    if status == 409:
        # Registration may have closed meanwhile: show the category as it is now.
        view, cat = await _form_target(request) or target
    return _form(
        request,
        lang,
        view,
        cat,
        token=token or forms.new_token(),
        values=values,
        errors=errors,
        status=status,
        headers=headers,
    )
