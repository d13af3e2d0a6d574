"""Kubernetes `Status` error bodies and the exception that carries them to the HTTP layer."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


class ApiError(Exception):
    """An API failure answered with a `Status` body, as kube-apiserver does."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> Obj:
        """The `Status` object to send as the response body."""
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(resource: str, name: str, group: str) -> Obj:
    details: Obj = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return details


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    """404 for a missing object, e.g. `pods "web-1" not found`."""
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        404, "NotFound", f'{qualified} "{name}" not found', _details(resource, name, group)
    )


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    """409 when creating a name that is taken."""
    qualified = f"{resource}.{group}" if group else resource
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified} "{name}" already exists',
        _details(resource, name, group),
    )


def conflict(resource: str, name: str, group: str = "", why: str = "") -> ApiError:
    """409 for a failed optimistic-concurrency precondition (stale resourceVersion)."""
    qualified = f"{resource}.{group}" if group else resource
    why = why or (
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
        _details(resource, name, group),
    )


# A cause's reason follows from how its message starts, as in apimachinery's field.ErrorType.
_CAUSE_REASONS = (
    ("Required value", "FieldValueRequired"),
    ("Invalid value", "FieldValueInvalid"),
    ("Duplicate value", "FieldValueDuplicate"),
    ("Unsupported value", "FieldValueNotSupported"),
    ("Forbidden", "FieldValueForbidden"),
    ("Too long", "FieldValueTooLong"),
    ("Too many", "FieldValueTooMany"),
    ("Not found", "FieldValueNotFound"),
    ("Internal error", "InternalError"),
)


def cause_reason(message: str) -> str:
    """`FieldValueRequired` for `Required value`, and so on."""
    return next(
        (reason for prefix, reason in _CAUSE_REASONS if message.startswith(prefix)),
        "FieldValueInvalid",
    )


def invalid(kind: str, name: str, causes: list[tuple[str, str]], group: str = "") -> ApiError:
    """422 listing (field, message) causes, e.g. a taken nodePort; each message starts with
    its error type (`Required value`, `Invalid value: 8080: ...`, `Duplicate value: ...`)."""
    parts = [f"{field}: {message}" for field, message in causes]
    joined = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = _details(kind, name, group)
    details["causes"] = [
        {"reason": cause_reason(message), "message": message, "field": field}
        for field, message in causes
    ]
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {joined}', details)


def undecodable(kind: str, version: str, why: str) -> ApiError:
    """400 for a body the server cannot decode into the kind (a wrong type, a bad time)."""
    return bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {why}')


def unsupported_media_type(accepted: tuple[str, ...]) -> ApiError:
    """415 for a body in a format the server does not speak (clients then fall back to JSON)."""
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def bad_request(message: str) -> ApiError:
    """400 for unparseable bodies, selectors or parameters."""
    return ApiError(400, "BadRequest", message)


def path_not_found() -> ApiError:
    """404 for a URL that names no known resource."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed() -> ApiError:
    """405 for a verb the resource does not support."""
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )
