//! ethernet layer (to be written).
