"""governance: the monthly quality-analysis meeting, the standards and SOP register, trainings, suggestions

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
import sqms.db
from sqlalchemy.dialects import postgresql

revision = '0013'
down_revision = '0012'
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
    op.create_table('standard_documents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('department', sa.String(length=16), nullable=False),
    sa.Column('departments', JSON, nullable=False),
    sa.Column('roles', JSON, nullable=False),
    sa.Column('owner', sa.String(length=254), nullable=False),
    sa.Column('next_review_on', sa.Date(), nullable=True),
    sa.Column('created_at', sqms.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['department'], ['departments.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('standard_versions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('change_summary', sa.Text(), nullable=False),
    sa.Column('file_path', sa.String(length=500), nullable=True),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.Column('effective_on', sa.Date(), nullable=True),
    sa.Column('approvals', JSON, nullable=False),
    sa.Column('published_at', sqms.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqms.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['standard_documents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'version', name='uq_standard_versions')
    )
    op.create_index(op.f('ix_standard_versions_document_id'), 'standard_versions', ['document_id'], unique=False)
    op.create_index(op.f('ix_standard_versions_status'), 'standard_versions', ['status'], unique=False)
    op.create_table('standard_reviews',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reviewed_by', sa.String(length=254), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('previous_review_on', sa.Date(), nullable=True),
    sa.Column('next_review_on', sa.Date(), nullable=True),
    sa.Column('reviewed_at', sqms.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['standard_documents.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_standard_reviews_document_id'), 'standard_reviews', ['document_id'], unique=False)
    op.create_table('training_requirements',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('person', sa.String(length=254), nullable=False),
    sa.Column('department', sa.String(length=16), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('completed_at', sqms.db.UTCDateTime(), nullable=True),
    sa.Column('result', sa.String(length=100), nullable=True),
    sa.Column('trainer', sa.String(length=254), nullable=True),
    sa.Column('created_at', sqms.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['standard_versions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version_id', 'person', name='uq_training_requirements')
    )
    op.create_index(op.f('ix_training_requirements_version_id'), 'training_requirements', ['version_id'], unique=False)
    op.create_index(op.f('ix_training_requirements_person'), 'training_requirements', ['person'], unique=False)
    op.create_table('suggestions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('received_at', sqms.db.UTCDateTime(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('department', sa.String(length=16), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('evaluation_due_on', sa.Date(), nullable=False),
    sa.Column('evaluated_at', sqms.db.UTCDateTime(), nullable=True),
    sa.Column('evaluated_by', sa.String(length=254), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('action_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id')
    )
    op.create_index(op.f('ix_suggestions_status'), 'suggestions', ['status'], unique=False)
    with op.batch_alter_table('audit_findings') as batch:
        batch.add_column(sa.Column('standard_code', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_findings') as batch:
        batch.drop_column('standard_code')
    op.drop_index(op.f('ix_suggestions_status'), table_name='suggestions')
    op.drop_table('suggestions')
    op.drop_table('training_requirements')
    op.drop_table('standard_reviews')
    op.drop_table('standard_versions')
    op.drop_table('standard_documents')
    op.drop_index(op.f('ix_quality_meetings_status'), table_name='quality_meetings')
    op.drop_table('quality_meetings')
