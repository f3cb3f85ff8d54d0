//! The salsify transport: wire protocol, estimator, pacer and call security as pure state machines.
