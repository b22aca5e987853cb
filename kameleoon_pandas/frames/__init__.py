"""Pure, vectorised shaping between wire JSON / lines and DataFrames. No I/O lives here."""
