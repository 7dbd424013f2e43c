//! Shared harness for the scenario tests.
