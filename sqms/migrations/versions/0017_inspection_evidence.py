"""inspection evidence files (uploaded, kept by checksum), linked to the inspection and its item

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

import sqms.db

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inspection_evidence',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('inspection_id', sa.String(length=64), nullable=False),
        sa.Column('item', sa.String(length=64), nullable=True),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('uploaded_by', sa.String(length=254), nullable=False),
        sa.Column('uploaded_at', sqms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['inspection_id'], ['inspections.inspection_id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_inspection_evidence_inspection_id', 'inspection_evidence', ['inspection_id'])


def downgrade() -> None:
    op.drop_index('ix_inspection_evidence_inspection_id', table_name='inspection_evidence')
    op.drop_table('inspection_evidence')
