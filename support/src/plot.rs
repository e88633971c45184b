//! Charts (in progress).
