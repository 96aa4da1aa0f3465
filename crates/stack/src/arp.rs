//! arp layer (to be written).
