"""process locks are renewed by their holder

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa
import sqms.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # locks live only while a run holds them (upgrades run with the workers stopped): start afresh
    op.execute(sa.text("DELETE FROM process_locks"))
    with op.batch_alter_table('process_locks') as batch:
        batch.add_column(sa.Column('renewed_at', sqms.db.UTCDateTime(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('process_locks') as batch:
        batch.drop_column('renewed_at')
