//! icmp layer (to be written).
