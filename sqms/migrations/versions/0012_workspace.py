"""staff workspace: sign-in attempts (rate limit), action evidence files

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

import sqms.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'signin_attempts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sqms.db.UTCDateTime(), nullable=False),
        sa.Column('address_hash', sa.String(length=64), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_signin_attempts_at', 'signin_attempts', ['at'])
    op.create_index('ix_signin_attempts_address_hash', 'signin_attempts', ['address_hash'])
    op.create_index('ix_signin_attempts_client', 'signin_attempts', ['client'])
    op.create_table(
        'action_evidence',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('action_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('uploaded_by', sa.String(length=254), nullable=False),
        sa.Column('uploaded_at', sqms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['action_id'], ['actions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_action_evidence_action_id', 'action_evidence', ['action_id'])


def downgrade() -> None:
    op.drop_table('action_evidence')
    op.drop_table('signin_attempts')
