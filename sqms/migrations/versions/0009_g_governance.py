"""governance: the monthly quality-analysis meeting

Revision ID: 0009g
Revises: 0009c
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
import sqms.db
from sqlalchemy.dialects import postgresql

revision = '0009g'
# 0009c is already on this branch; the integrator re-chains at merge
down_revision = '0009c'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('quality_meetings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('meeting_on', sa.Date(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('participants', JSON, nullable=False),
    sa.Column('attendees', JSON, nullable=True),
    sa.Column('agenda', JSON, nullable=False),
    sa.Column('notes', JSON, nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('minutes_report_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqms.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('minuted_at', sqms.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('period')
    )
    op.create_index(op.f('ix_quality_meetings_status'), 'quality_meetings', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_quality_meetings_status'), table_name='quality_meetings')
    op.drop_table('quality_meetings')
