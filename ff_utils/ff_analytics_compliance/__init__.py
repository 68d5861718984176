"""compliance subpackage of the FF analytics manager."""
