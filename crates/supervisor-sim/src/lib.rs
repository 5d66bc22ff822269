//! supervisor-sim (filled by the simulator helpers).
