//! Lanes
