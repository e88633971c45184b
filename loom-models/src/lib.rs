//! The loom models live in `tests/` (`loom_*.rs`); each is `#![cfg(loom)]`. They check the very code the notebooks
//! use: support's `primitive` module switches its `Mutex`, `Condvar`, atomics and threads to loom's under
//! `--cfg loom`. Run them with `make loom`:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p loom-models --release
//! ```
