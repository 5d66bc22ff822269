//! SSH communicator (filled by the ssh helper).
