//! Cross-crate integration tests for hisock (work in progress).
