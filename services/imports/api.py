"""The upload of an import file (multipart, field ``file``): headquarters only, on the
service that owns the kind, under that kind's own path prefix (``POST /dealers/import``,
``POST /accounts/opening-invoices/import``), so that ingress routing and scope checks stay
the service's. ``?dry_run=true`` checks only. The answer is the import's report: 200 when
every row is good (and, unless a dry run, written); 422 ``import_rows_invalid`` with every
bad row when any is bad (each with its ``line``, ``column``, and ``path`` and ``message`` as
every 422 names a field; nothing written); 409 ``import_rows_refused`` when rows of a clean
file were refused while writing (the others are written: import the file again after
correcting the cause). ``GET`` on the same path names the kind's columns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from runtime.http.auth import Principal
from runtime.http.deps import CurrentPrincipal
from runtime.http.problems import Problem
from runtime.settings import Role
from services.imports.application import run_import
from services.imports.kinds import KINDS, Kind

PATHS = {
    "regions": "/organisation/regions/import",
    "branches": "/organisation/branches/import",
    "dealers": "/dealers/import",
    "products": "/products/import",
    "price-lists": "/price-lists/import",
    "warehouses": "/warehouses/import",
    "opening-stock": "/warehouses/opening-stock/import",
    "opening-invoices": "/accounts/opening-invoices/import",
    "opening-cash": "/accounts/opening-cash/import",
    "opening-rebate-pools": "/accounts/opening-rebate-pools/import",
}

ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "every row good; written unless a dry run (the import's report)"},
    409: {"description": "rows refused while writing (`failed`); the others are written"},
    422: {"description": "bad rows (`errors`, each with its line and reason); nothing written"},
}


def _columns(kind: Kind):
    def columns(principal: CurrentPrincipal) -> dict[str, Any]:
        return {
            "kind": kind.name,
            "columns": list(kind.columns),
            "required": list(kind.required),
            "description": kind.description,
        }

    columns.__doc__ = f"The columns an import of {kind.name} reads (line 1 of the file)."
    columns.__name__ = f"import_{kind.name.replace('-', '_')}_columns"
    return columns


async def _headquarters(principal: CurrentPrincipal) -> Principal:
    """Headquarters' admin alone imports: checked before the file is even read, so a
    caller outside that scope learns nothing from the answer about the file (403, not 422)."""
    principal.require(Role.HQ_ADMIN)
    return principal


Headquarters = Annotated[Principal, Depends(_headquarters)]


def _upload(kind: Kind):
    def upload(
        request: Request,
        principal: Headquarters,
        file: Annotated[UploadFile, File(description="a .csv (UTF-8) or .xlsx file")],
        dry_run: Annotated[bool, Query(description="check every row, write nothing")] = False,
    ) -> JSONResponse:
        return _import(kind, request.app.state.application, principal, file, dry_run)

    upload.__doc__ = f"Bulk import of {kind.description}."
    upload.__name__ = f"import_{kind.name.replace('-', '_')}"
    return upload


def _import(
    kind: Kind, app: Any, principal: Principal, file: UploadFile, dry_run: bool
) -> JSONResponse:
    report = run_import(
        kind, file.filename or "upload", file.file.read(), app, principal, dry=dry_run
    )
    body = report.as_dict()
    if report.errors:
        raise Problem(
            422,
            "import_rows_invalid",
            f"{len(report.errors)} bad row(s) of {report.rows}; nothing written",
            **body,
        )
    if report.failed:
        raise Problem(
            409,
            "import_rows_refused",
            f"{len(report.failed)} row(s) refused while writing; {report.written} written",
            **body,
        )
    return JSONResponse(body)


def import_routes(service: str) -> APIRouter:
    """The upload routes of the kinds ``service`` owns."""
    router = APIRouter(tags=["bulk import"])
    for kind in KINDS.values():
        if kind.service == service:
            router.add_api_route(PATHS[kind.name], _columns(kind), methods=["GET"])
            router.add_api_route(
                PATHS[kind.name], _upload(kind), methods=["POST"], responses=ANSWERS
            )
    return router
