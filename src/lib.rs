//! AuroraDB.
