"""staff workspace: sign-in attempts (rate limit)

Revision ID: 0009e
Revises: 0008
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

import sqms.db

revision = '0009e'
down_revision = '0008'
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


def downgrade() -> None:
    op.drop_table('signin_attempts')
