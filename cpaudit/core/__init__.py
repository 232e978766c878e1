"""Pure math: tensors/arrays in, tensors/arrays out. No files, no printing, no global RNG."""
