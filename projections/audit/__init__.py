"""The accountability audits, one a module; `projections.audits` gathers them by name."""
