"""testing subpackage of the FF analytics manager."""
