"""every import attempt is recorded with its outcome: error count and the first errors

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_runs') as batch:
        batch.add_column(sa.Column('error_count', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('errors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                                                     'postgresql'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_column('errors')
        batch.drop_column('error_count')
