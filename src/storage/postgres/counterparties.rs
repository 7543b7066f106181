//! Counterparties in PostgreSQL (to come).
