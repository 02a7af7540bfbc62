"""The schema as the models stood when migrations began (0.1.0): every table, key and index.

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-01 09:54:54.380325
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# In creation order (keys point backwards); `db upgrade` adopts a database made before migrations when it has them all.
TABLES = (
    "area_tiers", "contacts", "facet_sync", "login_attempts", "privacy_key", "programs", "referral_codes",
    "suppressions", "users", "audit_log", "intakes", "opt_outs", "answers", "assignments", "intake_cases",
    "intake_events", "intake_facets", "messages", "notes", "referrals", "status_changes",
)


def upgrade() -> None:
    op.create_table("area_tiers",
        sa.Column("zip", sa.String(length=5), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("sample", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("zip", name=op.f("pk_area_tiers"))
    )
    op.create_table("contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_delete", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("active_intake_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("channel", "address", name="uq_contacts_channel_address")
    )
    op.create_table("facet_sync",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facet_sync"))
    )
    op.create_table("login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts"))
    )
    op.create_index("ix_login_attempts_ip_created", "login_attempts", ["ip", "created_at"])
    op.create_index("ix_login_attempts_username_created", "login_attempts", ["username", "created_at"])
    op.create_table("privacy_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_key"))
    )
    op.create_table("programs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs"))
    )
    op.create_index(op.f("ix_programs_sector"), "programs", ["sector"])
    op.create_table("referral_codes",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("organisation", sa.String(length=120), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_referral_codes"))
    )
    op.create_table("suppressions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_suppressions"))
    )
    op.create_table("users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("program_ids", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_token", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username"))
    )
    op.create_table("audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("target_type", sa.String(length=24), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log"))
    )
    op.create_index("ix_audit_log_target", "audit_log", ["target_type", "target_id"])
    op.create_index("ix_audit_log_user_id", "audit_log", ["user_id", "id"])
    op.create_table("intakes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("review_status", sa.String(length=24), nullable=False),
        sa.Column("referral_code", sa.String(length=32), nullable=True),
        sa.Column("referral_known", sa.Boolean(), nullable=True),
        sa.Column("first_name", sa.String(length=80), nullable=True),
        sa.Column("eligibility", sa.String(length=16), nullable=True),
        sa.Column("is_priority", sa.Boolean(), nullable=True),
        sa.Column("program_choice", sa.String(length=64), nullable=True),
        sa.Column("needs_contact", sa.Boolean(), nullable=False),
        sa.Column("current_step", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("screening", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_intakes_contact_id_contacts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intakes"))
    )
    op.create_index("ix_intakes_first_name_lower", "intakes", [sa.text("lower(first_name)")])
    # contacts and intakes point at each other: this key can only come once both tables exist.
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.create_foreign_key(op.f("fk_contacts_active_intake_id_intakes"), "intakes", ["active_intake_id"], ["id"],
                                    ondelete="SET NULL")
    op.create_index("ix_intakes_channel_id", "intakes", ["channel", "id"])
    op.create_index(op.f("ix_intakes_contact_id"), "intakes", ["contact_id"])
    op.create_index("ix_intakes_eligibility_id", "intakes", ["eligibility", "id"])
    op.create_index("ix_intakes_language_id", "intakes", ["language", "id"])
    op.create_index("ix_intakes_list", "intakes", ["review_status", "eligibility", "language", "channel", "is_priority", "needs_contact", "status", "referral_code", "program_choice", "started_at", "contact_id", "completed_at"])
    op.create_index("ix_intakes_metrics", "intakes", ["started_at", "referral_code", "eligibility", "is_priority", "completed_at"])
    op.create_index("ix_intakes_program_choice_id", "intakes", ["program_choice", "id"])
    op.create_index(op.f("ix_intakes_referral_code"), "intakes", ["referral_code"])
    op.create_index("ix_intakes_review_status_id", "intakes", ["review_status", "id"])
    op.create_index("ix_intakes_started_at", "intakes", ["started_at"])
    op.create_index("ix_intakes_status", "intakes", ["status"])
    op.create_index("ix_intakes_status_step", "intakes", ["status", "current_step", "started_at"])
    op.create_table("opt_outs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("keyword", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_opt_outs_contact_id_contacts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_outs"))
    )
    op.create_index(op.f("ix_opt_outs_contact_id"), "opt_outs", ["contact_id"])
    op.create_table("answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("step", sa.String(length=64), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["intake_id"], ["intakes.id"], name=op.f("fk_answers_intake_id_intakes"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint("intake_id", "field", name="uq_answers_intake_field")
    )
    op.create_index("ix_answers_field_value", "answers", ["field", sa.text("CAST(value AS TEXT)"), "intake_id"])
    skipped = "value IS NULL OR CAST(value AS TEXT) = 'null'"  # SQL NULL or JSON null
    op.create_index("ix_answers_skipped", "answers", ["step", "intake_id"], sqlite_where=sa.text(skipped),
                    postgresql_where=sa.text(skipped))
    op.create_index("ix_answers_step_intake", "answers", ["step", "intake_id"])
    op.create_table("assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name=op.f("fk_assignments_assignee_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["intake_id"], ["intakes.id"], name=op.f("fk_assignments_intake_id_intakes"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_assignments_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments"))
    )
    op.create_index(op.f("ix_assignments_intake_id"), "assignments", ["intake_id"])
    op.create_table("intake_cases",
        sa.Column("intake_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("referred_program", sa.String(length=64), nullable=True),
        sa.Column("referred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hourly_wage_cents", sa.Integer(), nullable=True),
        sa.Column("apprenticeship", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name=op.f("fk_intake_cases_assignee_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["intake_id"], ["intakes.id"], name=op.f("fk_intake_cases_intake_id_intakes"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("intake_id", name=op.f("pk_intake_cases"))
    )
    op.create_index("ix_intake_cases_assignee_id", "intake_cases", ["assignee_id", "intake_id"])
    op.create_index("ix_intake_cases_referred_program", "intake_cases", ["referred_program", "intake_id"])
    op.create_table("intake_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_intake_events_contact_id_contacts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["intake_id"], ["intakes.id"], name=op.f("fk_intake_events_intake_id_intakes"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_events"))
    )
    op.create_index(op.f("ix_intake_events_contact_id"), "intake_events", ["contact_id"])
    op.create_index(op.f("ix_intake_events_intake_id"), "intake_events", ["intake_id"])
    op.create_table("intake_facets",
        sa.Column("intake_id", sa.Integer(), nullable=False),
        sa.Column("facet", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["intake_id"], ["intakes.id"], name=op.f("fk_intake_facets_intake_id_intakes"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("intake_id", "facet", "value", name=op.f("pk_intake_facets"))
    )
    op.create_index("ix_intake_facets_facet_value", "intake_facets", ["facet", "value", "intake_id"])
    op.create_table("messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=True),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("in_reply_to_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=True),
        sa.Column("encoding", sa.String(length=8), nullable=True),
        sa.Column("media_count", sa.Integer(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("error_code", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_messages_contact_id_contacts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["in_reply_to_id"], ["messages.id"], name=op.f("fk_messages_in_reply_to_id_messages"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["intake_id"], ["intakes.id"], name=op.f("fk_messages_intake_id_intakes"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("channel", "provider_id", name="uq_messages_channel_provider_id")
    )
    op.create_index(op.f("ix_messages_contact_id"), "messages", ["contact_id"])
    op.create_index(op.f("ix_messages_in_reply_to_id"), "messages", ["in_reply_to_id"])
    op.create_index("ix_messages_intake_id_id", "messages", ["intake_id", "id"])
    op.create_table("notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["intake_id"], ["intakes.id"], name=op.f("fk_notes_intake_id_intakes"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notes_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes"))
    )
    op.create_index(op.f("ix_notes_intake_id"), "notes", ["intake_id"])
    op.create_table("referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=False),
        sa.Column("program", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["intake_id"], ["intakes.id"], name=op.f("fk_referrals_intake_id_intakes"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_referrals_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals"))
    )
    op.create_index(op.f("ix_referrals_intake_id"), "referrals", ["intake_id"])
    op.create_table("status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=False),
        sa.Column("to_status", sa.String(length=24), nullable=False),
        sa.Column("hourly_wage_cents", sa.Integer(), nullable=True),
        sa.Column("apprenticeship", sa.Boolean(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["intake_id"], ["intakes.id"], name=op.f("fk_status_changes_intake_id_intakes"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_status_changes_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_changes"))
    )
    op.create_index(op.f("ix_status_changes_intake_id"), "status_changes", ["intake_id"])


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.drop_constraint(op.f("fk_contacts_active_intake_id_intakes"), type_="foreignkey")
    for table in reversed(TABLES):
        op.drop_table(table)
