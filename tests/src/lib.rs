//! Helpers for the cluster tests in tests/.
