"""The monthly quality report: it spans every domain, so it has a home of its own (data in `report`,
how it is rendered in `rendering`)."""
