"""service monitoring: staff register, inspections, compliments, service errors, grades, plan; staff_id on records and complaints

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sqms.db

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('inspection_plan',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('department', sa.String(length=16), nullable=False),
    sa.Column('staff_id', sa.String(length=64), nullable=False),
    sa.Column('inspector', sa.String(length=254), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('period', 'staff_id', name='uq_inspection_plan')
    )
    with op.batch_alter_table('inspection_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_plan_period'), ['period'], unique=False)

    op.create_table('staff_grades',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('quarter', sa.String(length=6), nullable=False),
    sa.Column('staff_id', sa.String(length=64), nullable=False),
    sa.Column('department', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('grade', sa.String(length=1), nullable=True),
    sa.Column('components', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('computed_at', sqms.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('quarter', 'staff_id', name='uq_staff_grades')
    )
    with op.batch_alter_table('staff_grades', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_grades_quarter'), ['quarter'], unique=False)

    op.create_table('compliments',
    sa.Column('compliment_id', sa.String(length=64), nullable=False),
    sa.Column('received_at', sqms.db.UTCDateTime(), nullable=False),
    sa.Column('department', sa.String(length=16), nullable=False),
    sa.Column('staff_id', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('updated_at', sqms.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['department'], ['departments.code'], ),
    sa.PrimaryKeyConstraint('compliment_id')
    )
    with op.batch_alter_table('compliments', schema=None) as batch_op:
        batch_op.create_index('ix_compliments_received_dept', ['received_at', 'department'], unique=False)
        batch_op.create_index(batch_op.f('ix_compliments_staff_id'), ['staff_id'], unique=False)

    op.create_table('inspections',
    sa.Column('inspection_id', sa.String(length=64), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('department', sa.String(length=16), nullable=False),
    sa.Column('staff_id', sa.String(length=64), nullable=True),
    sa.Column('inspector', sa.String(length=254), nullable=False),
    sa.Column('inspected_at', sqms.db.UTCDateTime(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('red_line_failed', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('action_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sqms.db.UTCDateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['department'], ['departments.code'], ),
    sa.PrimaryKeyConstraint('inspection_id')
    )
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspections_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index('ix_inspections_when_dept', ['inspected_at', 'department'], unique=False)

    op.create_table('service_errors',
    sa.Column('error_id', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', sqms.db.UTCDateTime(), nullable=False),
    sa.Column('department', sa.String(length=16), nullable=False),
    sa.Column('staff_id', sa.String(length=64), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=True),
    sa.Column('source_ref', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('updated_at', sqms.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['department'], ['departments.code'], ),
    sa.PrimaryKeyConstraint('error_id')
    )
    with op.batch_alter_table('service_errors', schema=None) as batch_op:
        batch_op.create_index('ix_service_errors_occurred_dept', ['occurred_at', 'department'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_errors_staff_id'), ['staff_id'], unique=False)

    op.create_table('staff',
    sa.Column('staff_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('department', sa.String(length=16), nullable=False),
    sa.Column('position', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('front_line', sa.Boolean(), nullable=True),
    sa.Column('active_from', sqms.db.UTCDateTime(), nullable=True),
    sa.Column('active_to', sqms.db.UTCDateTime(), nullable=True),
    sa.Column('updated_at', sqms.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['department'], ['departments.code'], ),
    sa.PrimaryKeyConstraint('staff_id')
    )
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_department'), ['department'], unique=False)

    op.create_table('inspection_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('inspection_id', sa.String(length=64), nullable=False),
    sa.Column('item', sa.String(length=64), nullable=False),
    sa.Column('points', sa.Float(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('evidence', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.inspection_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('inspection_id', 'item', name='uq_inspection_items')
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_complaints_staff_id'), ['staff_id'], unique=False)

    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('staff_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_service_records_staff_id'), ['staff_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('service_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_records_staff_id'))
        batch_op.drop_column('staff_id')

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_staff_id'))
        batch_op.drop_column('staff_id')

    op.drop_table('inspection_items')
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_department'))

    op.drop_table('staff')
    with op.batch_alter_table('service_errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_errors_staff_id'))
        batch_op.drop_index('ix_service_errors_occurred_dept')

    op.drop_table('service_errors')
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_index('ix_inspections_when_dept')
        batch_op.drop_index(batch_op.f('ix_inspections_staff_id'))

    op.drop_table('inspections')
    with op.batch_alter_table('compliments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_compliments_staff_id'))
        batch_op.drop_index('ix_compliments_received_dept')

    op.drop_table('compliments')
    with op.batch_alter_table('staff_grades', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_grades_quarter'))

    op.drop_table('staff_grades')
    with op.batch_alter_table('inspection_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_plan_period'))

    op.drop_table('inspection_plan')

