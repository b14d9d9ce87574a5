"""report holds: a draft held for the quality manager's analysis (report.hold_hours)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sqms.db

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_holds',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('also', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sqms.db.UTCDateTime(), nullable=False),
    sa.Column('until', sqms.db.UTCDateTime(), nullable=False),
    sa.Column('commentary', sa.Text(), nullable=True),
    sa.Column('commented_by', sa.String(length=100), nullable=True),
    sa.Column('commented_at', sqms.db.UTCDateTime(), nullable=True),
    sa.Column('released_at', sqms.db.UTCDateTime(), nullable=True),
    sa.Column('released_by', sa.String(length=100), nullable=True),
    sa.Column('released_report_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], ),
    sa.ForeignKeyConstraint(['released_report_id'], ['reports.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'period', name='uq_report_holds_kind_period')
    )


def downgrade() -> None:
    op.drop_table('report_holds')
