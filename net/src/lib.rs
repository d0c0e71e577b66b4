//! AuroraDB sync (in progress).
