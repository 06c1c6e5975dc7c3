//! Whole-model tests.
