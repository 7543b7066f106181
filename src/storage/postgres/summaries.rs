//! The web UI's lead lists in PostgreSQL (to come).
