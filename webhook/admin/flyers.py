"""A referral code's printable flyer, for staff to hand to outreach workers."""

from __future__ import annotations

from flask import Response, abort, current_app, request

from bot.audit import audit
from webhook.admin import bp, client_ip, me, roles, service, tx
from webhook.flyer import FlyerError, flyer_links, flyer_pdf


@bp.get("/referral-codes/<code>/flyer.pdf")
@roles("admin", "staff")
def referral_flyer(code: str) -> Response:
    languages = [lang.strip() for lang in request.args.getlist("lang") if lang.strip()]
    try:
        # Without PUBLIC_BASE_URL the web QR code points where staff reached this admin: the same app serves /apply.
        links = flyer_links(service(), current_app.config, code, request.url_root.rstrip("/")
                            if not current_app.config.get("PUBLIC_BASE_URL") else "")
    except FlyerError as exc:
        abort(404, description=str(exc))
    try:
        pdf = flyer_pdf(service(), links, languages[:20])
    except FlyerError as exc:
        abort(400, description=str(exc))
    with tx() as s:
        audit(s, me(), "flyer", "referral_code", links.code, {"languages": languages or None}, client_ip())
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="flyer-{links.code}.pdf"'})
