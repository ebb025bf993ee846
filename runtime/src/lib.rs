//! nonoc runtime
