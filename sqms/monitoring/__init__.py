"""Service monitoring (issue 15): staff register, inspections and mystery shopping, compliments,
service errors, their KPIs, and staff grading (seed 003 第二章第五–六条)."""
