//! The synchronization primitives the shipped code is built on: std's (and crossbeam's) normally, loom's under
//! `--cfg loom`, so that the loom models check the very code the notebooks use, not a copy.
