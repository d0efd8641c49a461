"""Admin actions that run one service per selected object, behind a permission check.

An :class:`ObjectAction` says what to call for one object (``run``), who may (``permitted``),
how to record a refusal (``refused``) and how to word a service's error (``explain``). Turned
into a Django admin action with :func:`admin_action`, it goes through the selection one object
at a time:

* an object the user may not act on is **refused**: an error message naming it, a warning in
  the ``pubkyproject.admin`` log, the ``refused`` hook (the security audit trail) and nothing
  changed;
* an object whose service fails gets the failure **in plain words** as an error message (the
  ``explain`` hook, then Django's validation and permission errors); a failure nobody
  foresaw is logged with its traceback and reported as such, never shown as one;
* every other object proceeds, and gets the service's own summary as a success message.

Nothing here knows an app: the apps bind the access policy, the audit trail and their error
wording (``families.admin_actions``) and the services. Destructive actions ask first
(:class:`Confirmation`): a page lists the selection, says which objects will be refused and
may ask for a reason, in the pattern of Django's "delete selected".

Actions for a model defined by an app above the model's own (a domains action on families,
a guardians action on migrations) are added with :func:`admin_actions_register`; a
``ModelAdmin`` with :class:`RegisteredActionsMixin` offers them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.text import capfirst

from pubkyproject.api.limits import CONTROL_CHARACTERS_MESSAGE, has_forbidden_characters

logger = logging.getLogger("pubkyproject.admin")

#: At most this many objects per run (network actions are slow; a page of the list is 100).
MAX_OBJECTS = 100

CONFIRM_TEMPLATE = "admin/object_action_confirmation.html"


class ActionFailed(Exception):
    """Raised by a ``run`` to stop on one object, with the reason in plain words."""


def _refuse_control_characters(value: str) -> None:
    # The same characters the API refuses in any text: the reason ends up in the database.
    if has_forbidden_characters(value):
        raise ValidationError(CONTROL_CHARACTERS_MESSAGE, code="control_characters")


class AdminActionFunction(Protocol):
    """What Django calls for an admin action (with the attributes ``@admin.action`` sets)."""

    __name__: str
    short_description: str

    def __call__(
        self, modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None: ...


@dataclass(frozen=True)
class Confirmation:
    """Ask before running: the question, and optionally a short text (a reason, a comment)."""

    question: str
    button: str
    input_label: str = ""
    input_help: str = ""
    input_max_length: int = 500
    input_required: bool = False

    def form(self, data: Any = None) -> forms.Form | None:
        if not self.input_label:
            return None
        form = forms.Form(data)
        form.fields["reason"] = forms.CharField(
            label=self.input_label,
            help_text=self.input_help,
            max_length=self.input_max_length,
            required=self.input_required,
            validators=[_refuse_control_characters],
            widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        )
        return form


def _no_explanation(exc: Exception) -> str | None:
    return None


def _no_context(request: HttpRequest) -> AbstractContextManager[None]:
    return nullcontext()


@dataclass(frozen=True)
class ObjectAction:
    """One operation on one object, run for each object of an admin selection.

    * ``run(request, obj, reason)`` calls the service and returns a short sentence of what it
      did ("published on 2 relays"); it raises the service's errors.
    * ``permitted(request, obj)`` is the access check; ``refused(request, obj, action)``
      records a refusal (the log line is written here).
    * ``explain(exc)`` words a service error for the admin user (``None``: not one it knows).
    * ``context(request)`` is entered around every ``run`` (e.g. "acting as this user").
    * ``label(obj)`` names the object in messages ("Pubky domain smith.example").
    """

    name: str
    description: str
    verb: str
    run: Callable[[HttpRequest, Any, str], str]
    permitted: Callable[[HttpRequest, Any], bool]
    refused: Callable[[HttpRequest, Any, ObjectAction], None] = lambda request, obj, action: None
    explain: Callable[[Exception], str | None] = _no_explanation
    context: Callable[[HttpRequest], AbstractContextManager[Any]] = _no_context
    confirm: Confirmation | None = None
    refusal: str = "you do not have the right to do this"
    label: Callable[[Any], str] = lambda obj: object_label(obj)


@dataclass
class RunReport:
    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def object_label(obj: Model) -> str:
    """``Pubky domain “smith.example”``: how messages name an object by default."""
    return f"{capfirst(obj._meta.verbose_name)} “{obj}”"


def error_text(exc: Exception, explain: Callable[[Exception], str | None]) -> str | None:
    """A service error in plain words, or ``None`` when it is not one anybody foresaw."""
    if isinstance(exc, ActionFailed):
        return str(exc)
    explained = explain(exc)
    if explained:
        return explained
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            parts = [
                f"{'' if name == '__all__' else name + ': '}{' '.join(texts)}"
                for name, texts in exc.message_dict.items()
            ]
            return "; ".join(parts)
        return " ".join(exc.messages)
    if isinstance(exc, PermissionDenied):
        return f"refused: {exc}" if str(exc) else "refused"
    if isinstance(exc, IntegrityError):
        return "someone changed it at the same moment; nothing was changed, try again"
    return None


def run_object_action(
    action: ObjectAction, request: HttpRequest, objects: Sequence[Model], reason: str = ""
) -> RunReport:
    """Run ``action`` on each object, one at a time; report through the messages framework."""
    report = RunReport()
    user = getattr(request, "user", None)
    username = user.get_username() if user is not None else ""
    for obj in objects:
        label = action.label(obj)
        if not action.permitted(request, obj):
            logger.warning(
                "admin action %s refused: user %s may not act on %s %s",
                action.name,
                username,
                obj._meta.label,
                obj.pk,
            )
            action.refused(request, obj, action)
            messages.error(request, f"{label}: not {action.verb}, {action.refusal}.")
            report.refused.append(label)
            continue
        try:
            with action.context(request):
                summary = action.run(request, obj, reason)
        except Exception as exc:
            text = error_text(exc, action.explain)
            if text is None:
                if isinstance(exc, DatabaseError):
                    text = "the database did not accept the change; nothing was changed"
                else:
                    text = "an unexpected error stopped it; the details are in the server log"
                logger.exception(
                    "admin action %s failed on %s %s", action.name, obj._meta.label, obj.pk
                )
            else:
                logger.info(
                    "admin action %s failed on %s %s: %s",
                    action.name,
                    obj._meta.label,
                    obj.pk,
                    exc,
                )
            messages.error(request, f"{label}: not {action.verb}. {_sentence(text)}")
            report.failed.append(label)
            continue
        logger.info(
            "admin action %s by %s on %s %s", action.name, username, obj._meta.label, obj.pk
        )
        messages.success(request, f"{label}: {summary}")
        report.done.append(label)
    if len(objects) > 1:
        counts = [f"{len(report.done)} done"]
        if report.refused:
            counts.append(f"{len(report.refused)} refused")
        if report.failed:
            counts.append(f"{len(report.failed)} failed")
        level = messages.INFO if not (report.refused or report.failed) else messages.WARNING
        messages.add_message(request, level, f"{action.description}: {', '.join(counts)}.")
    return report


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _confirmation_page(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    action: ObjectAction,
    objects: Sequence[Model],
    form: forms.Form | None,
) -> TemplateResponse:
    assert action.confirm is not None
    opts = modeladmin.model._meta
    rows = [(obj.pk, action.label(obj), action.permitted(request, obj)) for obj in objects]
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": action.description,
        "subtitle": None,
        "opts": opts,
        "app_label": opts.app_label,
        "action_name": action.name,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "question": action.confirm.question,
        "button": action.confirm.button,
        "rows": rows,
        "refused_count": sum(1 for _, _, ok in rows if not ok),
        "form": form,
        "media": modeladmin.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


def admin_action(action: ObjectAction) -> AdminActionFunction:
    """``action`` as a Django admin action (put it in ``ModelAdmin.actions``)."""

    def perform(
        modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
    ) -> TemplateResponse | None:
        objects = list(queryset.order_by("pk")[: MAX_OBJECTS + 1])
        if len(objects) > MAX_OBJECTS:
            messages.warning(
                request,
                f"{action.description}: select at most {MAX_OBJECTS} at a time; nothing was done.",
            )
            return None
        reason = ""
        if action.confirm is not None:
            confirmed = request.POST.get("confirmed") == "yes"
            form = action.confirm.form(request.POST if confirmed else None)
            if not confirmed or (form is not None and not form.is_valid()):
                return _confirmation_page(modeladmin, request, action, objects, form)
            if form is not None:
                reason = str(form.cleaned_data.get("reason") or "")
        run_object_action(action, request, objects, reason)
        return None

    perform.__name__ = action.name
    perform.__qualname__ = action.name
    function: Any = perform
    function.short_description = action.description
    function.object_action = action
    return function


# --- actions contributed by other apps ----------------------------------------------------------

_REGISTERED: dict[str, list[AdminActionFunction]] = {}


def admin_actions_register(model: type[Model], *actions: AdminActionFunction) -> None:
    """Offer ``actions`` on ``model``'s admin (one that uses :class:`RegisteredActionsMixin`).

    For an app that may import the model's app but not the other way round: the admin of
    families offers "recalculate scores" without the families app knowing about scores.
    """
    registered = _REGISTERED.setdefault(model._meta.label, [])
    names = {f.__name__ for f in registered}
    for function in actions:
        if function.__name__ in names:
            raise ValueError(f"{model._meta.label} already has an admin action {function.__name__}")
        registered.append(function)
        names.add(function.__name__)


def registered_admin_actions(model: type[Model]) -> list[AdminActionFunction]:
    return list(_REGISTERED.get(model._meta.label, ()))


class RegisteredActionsMixin:
    """Adds the actions other apps registered for this admin's model (after its own)."""

    model: type[Model]
    actions: Sequence[Any] | None

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)  # type: ignore[misc]
        if self.actions is None or IS_POPUP_VAR in request.GET:
            return actions
        for function in registered_admin_actions(self.model):
            actions.setdefault(
                function.__name__, (function, function.__name__, function.short_description)
            )
        return actions
