"""Staff's switch for one intake's reminders: off stops every nudge still to come (bot.reminders), audited."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, request

from bot.models import utcnow
from bot.reminders import set_reminders_off
from webhook.admin import bp, client_ip, me, roles, tx
from webhook.admin.intakes import _back, _intake_or_404


@bp.post("/intakes/<int:intake_id>/reminders")
@roles("admin", "staff")
def set_reminders(intake_id: int) -> Any:
    choice = request.form.get("reminders", "")
    if choice not in ("on", "off"):
        abort(400)
    now = utcnow()
    with tx() as s:
        intake = _intake_or_404(s, intake_id)
        changed = set_reminders_off(s, intake, choice == "off", me(), client_ip(), now)
    if choice == "off":
        flash("Reminders are off for this intake: the person gets no more nudges." if changed else "Reminders were already off.")
    else:
        flash("Reminders are on again for this intake." if changed else "Reminders were already on.")
    return _back(intake_id, "reminders")
