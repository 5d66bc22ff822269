//! cty JSON values from Builder.Prepare (CONTRACT: filled by the wire helper).
