//! The write path of the PostgreSQL backend: a whole batch of submissions in one transaction (to come).
