//! VM Operator resource types shared by the builder and the simulator (filled by the simulator/builder helpers).
