"""service item (服务项目) of service records and complaints, optional

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('service_records') as batch:
        batch.add_column(sa.Column('service_item', sa.String(length=32), nullable=True))
    with op.batch_alter_table('complaints') as batch:
        batch.add_column(sa.Column('service_item', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('complaints') as batch:
        batch.drop_column('service_item')
    with op.batch_alter_table('service_records') as batch:
        batch.drop_column('service_item')
