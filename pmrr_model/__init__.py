"""PMRR: pyramid-based mesh refinement regression (PyMAF-style) and its body model."""
