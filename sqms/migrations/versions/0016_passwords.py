"""staff passwords (optional sign-in with a password, argon2id)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

import sqms.db

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'staff_passwords',
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('hash', sa.String(length=255), nullable=False),
        sa.Column('set_at', sqms.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('email'),
    )


def downgrade() -> None:
    op.drop_table('staff_passwords')
