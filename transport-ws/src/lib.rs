//! WebSocket transport for hisock (work in progress).
