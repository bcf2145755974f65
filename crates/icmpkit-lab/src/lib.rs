//! Test-only network lab for icmpkit: networks of Linux network namespaces.
