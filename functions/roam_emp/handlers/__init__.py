"""One module per Lambda entry point. Each only wires a request to domain code."""
