"""no usable single-use link left in the outbox: pending mails with links sealed, sent ones emptied

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa

from sqms.sealing import PREFIX, seal


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# the mails that carried a feedback or survey link before links were sealed
LINK_MAILS = ("(process = 'complaints' AND object LIKE :feedback) OR (process = 'surveys' AND "
              "(object LIKE :invitation OR object LIKE :reminder))")
PATTERNS = {"feedback": "feedback:%", "invitation": "%:survey_invitation", "reminder": "%:survey_reminder"}


def upgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text(f"UPDATE outbox SET body_text = '', body_html = '' WHERE status = 'sent' AND ({LINK_MAILS})"),
                 PATTERNS)
    rows = conn.execute(sa.text(f"SELECT id, body_text, body_html FROM outbox WHERE status <> 'sent' AND ({LINK_MAILS})"
                                " AND body_text NOT LIKE :sealed"), {**PATTERNS, "sealed": PREFIX + "%"}).all()
    for row in rows:
        conn.execute(sa.text("UPDATE outbox SET body_text = :t, body_html = :h WHERE id = :id"),
                     {"t": seal(row.body_text), "h": seal(row.body_html), "id": row.id})


def downgrade() -> None:
    pass  # sealed bodies stay sealed: the code of 0008 cannot send them, nor should a link be unsealed at rest
