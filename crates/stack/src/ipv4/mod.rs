//! IPv4 layer (to be written).
