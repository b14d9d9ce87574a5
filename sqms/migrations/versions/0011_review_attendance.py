"""management reviews record who actually attended the meeting

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('management_reviews') as batch:
        # NULL: attendance not recorded (the invitation list is never taken for it)
        batch.add_column(sa.Column('attendees', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                                                       'postgresql'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('management_reviews') as batch:
        batch.drop_column('attendees')
