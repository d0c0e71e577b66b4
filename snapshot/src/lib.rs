//! AuroraDB materialized state (in progress).
