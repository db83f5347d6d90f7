"""Money in and out of dealers' accounts: receipts (回款) and credit notes, their lists and
the forms to record a receipt (branch clerks and managers, HQ admin) and to issue a credit
note (HQ admin, credit control). After a command the list is read at its position, so it
shows what was just done; a receipt links to the dealer's statement at the same position."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.web import ApiRefused, Console, ListParams, field_errors, form_text, just_done

RECORDERS = ("branch_clerk", "branch_manager", "hq_admin")
ISSUERS = ("hq_admin", "credit_controller")
RECEIPT_RULES = {
    "unknown_dealer": "dealer_code",
    "unknown_account": "dealer_code",
    "outside_scope": "dealer_code",
    "invalid_amount": "amount",
    "over_allocation": "amount",
    "invalid_business_date": "received_on",
}
CREDIT_NOTE_RULES = {
    "unknown_invoice": "invoice_id",
    "invalid_amount": "amount",
    "credit_note_exceeds_open_balance": "amount",
    "invalid_business_date": "issued_on",
}
# Each document: its path (the console's, the query API's list and the finance command's),
# its templates, its form's fields (the optional ones left out when blank), its id, its rules,
# and the query parameter that fills in the form (from a statement's link).
DOCUMENTS = {
    "receipts": {
        "templates": ("receipts.html", "receipt_form.html"),
        "fields": ("dealer_code", "amount", "received_on"),
        "optional": ("received_on",),
        "id": "receipt_id",
        "rules": RECEIPT_RULES,
        "prefill": ("dealer", "dealer_code"),
    },
    "credit-notes": {
        "templates": ("credit_notes.html", "credit_note_form.html"),
        "fields": ("invoice_id", "amount", "reason", "issued_on"),
        "optional": ("issued_on",),
        "id": "credit_note_id",
        "rules": CREDIT_NOTE_RULES,
        "prefill": ("invoice_id", "invoice_id"),
    },
}


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    for kind in DOCUMENTS:
        _document_routes(console, router, kind)
    return router


def _document_routes(console: Console, router: APIRouter, kind: str) -> None:
    spec = DOCUMENTS[kind]
    list_template, form_template = spec["templates"]

    def form_page(request, session, form: dict, *, status=200, problem=None) -> Response:
        errors = field_errors(problem, rules=spec["rules"]) if problem else {}
        return console.page(request, form_template, status, session, form=form, errors=errors)

    @router.get(f"/{kind}", response_class=HTMLResponse, name=f"{kind}_list")
    def listing(request: Request, params: Annotated[ListParams, Depends()]) -> Response:
        return console.list_page(
            request,
            list_template,
            kind,
            params=params,
            recorders=RECORDERS,
            issuers=ISSUERS,
        )

    @router.get(f"/{kind}/new", response_class=HTMLResponse, name=f"{kind}_form")
    def new(request: Request) -> Response:
        session, _ = console.signed_in(request)
        parameter, field = spec["prefill"]
        return form_page(request, session, {field: request.query_params.get(parameter, "")})

    @router.post(f"/{kind}", name=f"{kind}_command")
    async def command(request: Request) -> Response:
        session, _ = console.signed_in(request)
        posted = await console.form(request, session)
        form = {name: form_text(posted, name) for name in spec["fields"]}
        body = {k: v for k, v in form.items() if v or k not in spec["optional"]}
        try:
            done = console.call(
                session, "POST", f"{console.urls.finance}/{kind}", json=body, idempotent=True
            )
        except ApiRefused as refused:
            if refused.status == 403:
                raise
            return form_page(request, session, form, status=refused.status, problem=refused.problem)
        query = just_done(done.get("position"), done=done[spec["id"]])
        return RedirectResponse(f"/{kind}?{query}", status_code=303)
