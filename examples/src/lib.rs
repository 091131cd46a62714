//! Runnable hisock examples (work in progress).
