//! The middle tier: the builder's steps and `run_build` against an in-process supervisor-sim,
//! with testkit's recording Ui and a scriptable provisioning Hook. No Packer and no plugin
//! process; each test takes milliseconds to a few seconds. One module per concern, one setup.
mod setup;

mod checks;
mod failures;
mod golden;
mod interrupted;
mod leftovers;
