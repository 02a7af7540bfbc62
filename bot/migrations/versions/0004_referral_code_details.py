"""referral codes: worker, site, active dates, channels, retirement and the outreach account

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:50:00.000000
"""

# Written by hand after `hrtp-intake db revision`'s autogenerate: only added columns, so no data changes.

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('referral_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worker', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('site', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('active_from', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('active_to', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('channels', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('outreach_user_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_referral_codes_outreach_user_id'), ['outreach_user_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_referral_codes_outreach_user_id_users'), 'users',
                                    ['outreach_user_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('referral_codes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_referral_codes_outreach_user_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_referral_codes_outreach_user_id'))
        batch_op.drop_column('outreach_user_id')
        batch_op.drop_column('retired_at')
        batch_op.drop_column('channels')
        batch_op.drop_column('active_to')
        batch_op.drop_column('active_from')
        batch_op.drop_column('site')
        batch_op.drop_column('worker')
