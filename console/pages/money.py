"""Money in and out of dealers' accounts: receipts (回款) and credit notes, their lists and
the forms to record a receipt (branch clerks and managers, HQ admin) and to issue a credit
note (HQ admin, credit control). After a command the list is read at its position, so it
shows what was just done; a receipt links to the dealer's statement at the same position."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.web import ApiRefused, Console, field_errors, form_text, just_done

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
# Each document: its list in the query API, its form's fields, the command, its rules.
DOCUMENTS = {
    "receipts": {
        "list": "receipts",
        "fields": ("dealer_code", "amount", "received_on"),
        "optional": ("received_on",),
        "command": "receipts",
        "id": "receipt_id",
        "rules": RECEIPT_RULES,
    },
    "credit-notes": {
        "list": "credit-notes",
        "fields": ("invoice_id", "amount", "reason", "issued_on"),
        "optional": ("issued_on",),
        "command": "credit-notes",
        "id": "credit_note_id",
        "rules": CREDIT_NOTE_RULES,
    },
}


def routes(console: Console) -> APIRouter:
    router = APIRouter()
    urls = console.urls

    def listing_page(request: Request, kind: str, **params: str) -> Response:
        session, who = console.signed_in(request)
        done = params.pop("done", "")
        listing = console.call(
            session,
            "GET",
            f"{urls.query}{who.lists_prefix}/{DOCUMENTS[kind]['list']}",
            params=params,
        )
        return console.page(
            request,
            f"{kind.replace('-', '_')}.html",
            session=session,
            listing=listing,
            done=done,
            min_position=params.get("min_position", ""),
            recorders=RECORDERS,
            issuers=ISSUERS,
        )

    def form_page(request, session, kind: str, form: dict, *, status=200, problem=None):
        errors = field_errors(problem, rules=DOCUMENTS[kind]["rules"]) if problem else {}
        template = f"{kind.replace('-', '_').rstrip('s')}_form.html"
        return console.page(request, template, status, session, form=form, errors=errors)

    async def command(request: Request, kind: str) -> Response:
        session, _ = console.signed_in(request)
        posted = await console.form(request, session)
        spec = DOCUMENTS[kind]
        form = {name: form_text(posted, name) for name in spec["fields"]}
        body = {k: v for k, v in form.items() if v or k not in spec["optional"]}
        try:
            done = console.call(
                session, "POST", f"{urls.finance}/{spec['command']}", json=body, idempotent=True
            )
        except ApiRefused as refused:
            if refused.status == 403:
                raise
            return form_page(
                request, session, kind, form, status=refused.status, problem=refused.problem
            )
        query = just_done(done.get("position"), done=done[spec["id"]])
        return RedirectResponse(f"/{kind}?{query}", status_code=303)

    @router.get("/receipts", response_class=HTMLResponse)
    def receipts(request: Request, cursor: str = "", min_position: str = "", done: str = ""):
        return listing_page(
            request, "receipts", cursor=cursor, min_position=min_position, done=done
        )

    @router.get("/receipts/new", response_class=HTMLResponse)
    def receipt_form(request: Request, dealer: str = "") -> Response:
        session, who = console.signed_in(request)
        return form_page(request, session, "receipts", {"dealer_code": dealer or who.dealer})

    @router.post("/receipts")
    async def record_receipt(request: Request) -> Response:
        return await command(request, "receipts")

    @router.get("/credit-notes", response_class=HTMLResponse)
    def credit_notes(request: Request, cursor: str = "", min_position: str = "", done: str = ""):
        return listing_page(
            request, "credit-notes", cursor=cursor, min_position=min_position, done=done
        )

    @router.get("/credit-notes/new", response_class=HTMLResponse)
    def credit_note_form(request: Request, invoice_id: str = "") -> Response:
        session, _ = console.signed_in(request)
        return form_page(request, session, "credit-notes", {"invoice_id": invoice_id})

    @router.post("/credit-notes")
    async def issue_credit_note(request: Request) -> Response:
        return await command(request, "credit-notes")

    return router
